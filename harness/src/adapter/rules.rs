//! Reply rules: `{ status, when = { POINTER = VALUE }, outcome }`, tried in order, the
//! first that matches classifying the reply. Matching is pure (a status and a parsed
//! body in, a yes or no out); so is the test that a rule can never match because an
//! earlier one always matches first.

use std::borrow::Cow;

use serde_json::Value;

use super::pruned::find;
use crate::history::Outcome;

/// The HTTP statuses a rule accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusSpec {
    Any,
    Codes(Vec<u16>),
    /// `2xx`: the hundred.
    Class(u16),
}

impl StatusSpec {
    pub fn matches(&self, status: u16) -> bool {
        match self {
            StatusSpec::Any => true,
            StatusSpec::Codes(codes) => codes.contains(&status),
            StatusSpec::Class(hundred) => status / 100 == *hundred,
        }
    }

    /// Whether every status `other` accepts, this one accepts too.
    fn covers(&self, other: &StatusSpec) -> bool {
        match (self, other) {
            (StatusSpec::Any, _) => true,
            (_, StatusSpec::Any) => false,
            (StatusSpec::Class(mine), StatusSpec::Class(theirs)) => mine == theirs,
            (StatusSpec::Class(_), StatusSpec::Codes(codes)) => {
                codes.iter().all(|code| self.matches(*code))
            }
            (StatusSpec::Codes(mine), StatusSpec::Codes(theirs)) => {
                theirs.iter().all(|code| mine.contains(code))
            }
            (StatusSpec::Codes(mine), StatusSpec::Class(hundred)) => {
                (hundred * 100..hundred * 100 + 100).all(|code| mine.contains(&code))
            }
        }
    }
}

/// What a JSON pointer must find.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expect {
    /// Equal to this value; a string also equals a number or boolean written the same
    /// way (`"0"` matches `0`: business codes are spelled both ways).
    Equals(Value),
    Exists(bool),
}

impl Expect {
    fn holds(&self, found: Option<&Value>) -> bool {
        match (self, found) {
            (Expect::Exists(wanted), found) => found.is_some_and(|v| !v.is_null()) == *wanted,
            (Expect::Equals(_), None) => false,
            (Expect::Equals(expected), Some(found)) => {
                expected == found || text_of(expected) == text_of(found)
            }
        }
    }
}

fn text_of(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(text) => Some(Cow::Borrowed(text)),
        Value::Number(number) => Some(Cow::Owned(number.to_string())),
        Value::Bool(flag) => Some(Cow::Borrowed(if *flag { "true" } else { "false" })),
        _ => None,
    }
}

/// What a matched reply means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOutcome {
    Ok,
    Replayed,
    InsufficientStock,
    KeyReused,
    NotHeld,
    NotFound,
    BadInput,
    /// The service says it did nothing because it could not (a 503 that promises no
    /// change): a refusal, not an unknown.
    Unavailable,
    Unknown,
    /// Go on with the next step (not in an op's last step).
    Continue,
}

impl RuleOutcome {
    pub const ALL: [RuleOutcome; 10] = [
        RuleOutcome::Ok,
        RuleOutcome::Replayed,
        RuleOutcome::InsufficientStock,
        RuleOutcome::KeyReused,
        RuleOutcome::NotHeld,
        RuleOutcome::NotFound,
        RuleOutcome::BadInput,
        RuleOutcome::Unavailable,
        RuleOutcome::Unknown,
        RuleOutcome::Continue,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            RuleOutcome::Ok => "ok",
            RuleOutcome::Replayed => "replayed",
            RuleOutcome::InsufficientStock => "insufficient_stock",
            RuleOutcome::KeyReused => "key_reused",
            RuleOutcome::NotHeld => "not_held",
            RuleOutcome::NotFound => "not_found",
            RuleOutcome::BadInput => "bad_input",
            RuleOutcome::Unavailable => "unavailable",
            RuleOutcome::Unknown => "unknown",
            RuleOutcome::Continue => "continue",
        }
    }

    pub fn parse(text: &str) -> Option<RuleOutcome> {
        RuleOutcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
    }

    /// The history's outcome and, for a refusal, the contract's error code.
    pub const fn recorded(self) -> (Outcome, Option<&'static str>) {
        match self {
            RuleOutcome::Ok | RuleOutcome::Replayed | RuleOutcome::Continue => (Outcome::Ok, None),
            RuleOutcome::InsufficientStock => (Outcome::Fail, Some("insufficient_stock")),
            RuleOutcome::KeyReused => (Outcome::Fail, Some("idempotency_key_reused")),
            RuleOutcome::NotHeld => (Outcome::Fail, Some("not_held")),
            RuleOutcome::NotFound => (Outcome::Fail, Some("not_found")),
            RuleOutcome::BadInput => (Outcome::Fail, Some("invalid_input")),
            RuleOutcome::Unavailable => (Outcome::Fail, Some("unavailable")),
            RuleOutcome::Unknown => (Outcome::Unknown, None),
        }
    }
}

/// One rule of a step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    /// `ops.reserve.replies[2]`: how counters and `probe` name it.
    pub(crate) name: String,
    pub(crate) status: StatusSpec,
    pub(crate) when: Vec<(String, Expect)>,
    pub(crate) outcome: RuleOutcome,
}

impl Rule {
    pub(crate) fn matches(&self, status: u16, body: Option<&Value>) -> bool {
        self.status.matches(status)
            && self
                .when
                .iter()
                .all(|(pointer, expect)| expect.holds(body.and_then(|body| find(body, pointer))))
    }

    /// Whether every reply this rule matches, `earlier` matches first: `earlier`
    /// accepts at least its statuses and asks nothing it does not ask.
    pub(crate) fn shadowed_by(&self, earlier: &Rule) -> bool {
        earlier.status.covers(&self.status)
            && earlier
                .when
                .iter()
                .all(|condition| self.when.contains(condition))
    }
}

/// The first rule matching, if any.
pub(crate) fn classify<'r>(
    rules: &'r [Rule],
    status: u16,
    body: Option<&Value>,
) -> Option<&'r Rule> {
    rules.iter().find(|rule| rule.matches(status, body))
}
