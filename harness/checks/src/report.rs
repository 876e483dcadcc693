//! What a check returns: a [`CheckReport`] with a three-valued [`Verdict`], counts,
//! `[lower, observed, upper]` bounds and violations grouped by kind (count, first,
//! worst). [`Violations`] collects them with a bound on how many are kept in full, so a
//! badly broken engine cannot make the report as large as the history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::OpId;

/// Violations kept in full per check; the rest are counted in their group. A hundred
/// is more than anyone reads, and enough to see a pattern.
pub const VIOLATIONS_KEPT_MAX: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CheckId {
    C1,
    C2,
    C3,
    C4,
    C5,
    C6,
    C7,
    C8,
}

impl CheckId {
    pub const ALL: [CheckId; 8] = [
        CheckId::C1,
        CheckId::C2,
        CheckId::C3,
        CheckId::C4,
        CheckId::C5,
        CheckId::C6,
        CheckId::C7,
        CheckId::C8,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CheckId::C1 => "C1",
            CheckId::C2 => "C2",
            CheckId::C3 => "C3",
            CheckId::C4 => "C4",
            CheckId::C5 => "C5",
            CheckId::C6 => "C6",
            CheckId::C7 => "C7",
            CheckId::C8 => "C8",
        }
    }

    pub const fn title(self) -> &'static str {
        match self {
            CheckId::C1 => "no oversell",
            CheckId::C2 => "conservation",
            CheckId::C3 => "idempotency",
            CheckId::C4 => "expiry",
            CheckId::C5 => "no lost or phantom effects",
            CheckId::C6 => "final stock, no leak",
            CheckId::C7 => "reads within bounds",
            CheckId::C8 => "no undersell",
        }
    }

    /// Whether the check needs the white-box snapshot (Redis, Postgres, ledger).
    pub const fn white_box(self) -> bool {
        matches!(self, CheckId::C2 | CheckId::C5)
    }
}

/// Jepsen's three values, and a fourth for a check that cannot apply to the run's
/// target (a white-box check against an external service): shown as such, never as
/// `unknown`, and neither passing nor failing the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Nothing to judge, missing data, or a checker error.
    Unknown,
    NotApplicable,
}

impl Verdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unknown => "unknown",
            Verdict::NotApplicable => "not applicable",
        }
    }
}

/// One broken rule, with its witnesses and a one-sentence reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Short machine name of the rule (`oversell`, `two_reservations_for_key`, …).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
    /// The ops involved, most telling first.
    pub ops: Vec<OpId>,
    pub reason: String,
    /// How bad (units over, ms late…): picks the group's worst.
    pub severity: i64,
}

/// Violations of one kind: how many, the first and the worst.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationGroup {
    pub kind: String,
    pub count: u64,
    pub first: Violation,
    pub worst: Violation,
}

/// `[lower, observed, upper]` for one quantity (`a-01 sold`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bound {
    pub subject: String,
    pub lower: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<i64>,
    pub upper: i64,
}

/// A check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub id: CheckId,
    pub title: String,
    pub verdict: Verdict,
    /// Why the verdict is unknown, or what the check could not see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What was judged (`reservations`, `skus`, `unknown_outcomes`, …).
    pub counts: BTreeMap<String, u64>,
    pub bounds: Vec<Bound>,
    /// Every violation, grouped by kind.
    pub groups: Vec<ViolationGroup>,
    /// The first [`VIOLATIONS_KEPT_MAX`] violations in full.
    pub violations: Vec<Violation>,
}

impl CheckReport {
    pub fn unknown(id: CheckId, note: impl Into<String>) -> CheckReport {
        CheckReport {
            id,
            title: id.title().to_owned(),
            verdict: Verdict::Unknown,
            note: Some(note.into()),
            counts: BTreeMap::new(),
            bounds: Vec::new(),
            groups: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// A check that does not apply to the run's target, and why.
    pub fn not_applicable(id: CheckId, reason: impl Into<String>) -> CheckReport {
        CheckReport {
            verdict: Verdict::NotApplicable,
            ..CheckReport::unknown(id, reason)
        }
    }

    /// A finished report: `Fail` with violations, else `Pass` when something was judged
    /// (`judged > 0`), else `Unknown` with `nothing_to_judge` as the note.
    pub fn finish(
        id: CheckId,
        judged: u64,
        nothing_to_judge: &str,
        counts: BTreeMap<String, u64>,
        bounds: Vec<Bound>,
        violations: Violations,
    ) -> CheckReport {
        let (groups, kept) = violations.into_parts();
        let (verdict, note) = if !groups.is_empty() {
            (Verdict::Fail, None)
        } else if judged > 0 {
            (Verdict::Pass, None)
        } else {
            (Verdict::Unknown, Some(nothing_to_judge.to_owned()))
        };
        CheckReport {
            id,
            title: id.title().to_owned(),
            verdict,
            note,
            counts,
            bounds,
            groups,
            violations: kept,
        }
    }

    pub fn violation_count(&self) -> u64 {
        self.groups.iter().map(|group| group.count).sum()
    }
}

/// Collects violations: all are counted by kind, the earliest few kept in full.
/// "Earliest" is by the first op a violation names (then its reason), not by the order
/// a checker found it, so reports are the same whatever order hash maps iterate in.
#[derive(Debug, Default)]
pub struct Violations {
    groups: BTreeMap<String, ViolationGroup>,
    kept: BTreeMap<(OpId, String, u64), Violation>,
    pushed: u64,
}

/// Where a violation sorts: its first op (white-box ones, naming no op, last), then
/// its reason.
fn order_key(violation: &Violation) -> (OpId, &str) {
    (
        violation.ops.first().copied().unwrap_or(OpId::MAX),
        violation.reason.as_str(),
    )
}

impl Violations {
    pub fn push(&mut self, violation: Violation) {
        match self.groups.get_mut(&violation.kind) {
            Some(group) => {
                group.count += 1;
                let worse = (violation.severity, std::cmp::Reverse(order_key(&violation)))
                    > (
                        group.worst.severity,
                        std::cmp::Reverse(order_key(&group.worst)),
                    );
                if worse {
                    group.worst = violation.clone();
                }
                if order_key(&violation) < order_key(&group.first) {
                    group.first = violation.clone();
                }
            }
            None => {
                self.groups.insert(
                    violation.kind.clone(),
                    ViolationGroup {
                        kind: violation.kind.clone(),
                        count: 1,
                        first: violation.clone(),
                        worst: violation.clone(),
                    },
                );
            }
        }
        self.pushed += 1;
        let (op, reason) = order_key(&violation);
        self.kept
            .insert((op, reason.to_owned(), self.pushed), violation);
        if self.kept.len() > VIOLATIONS_KEPT_MAX {
            self.kept.pop_last();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    fn into_parts(self) -> (Vec<ViolationGroup>, Vec<Violation>) {
        (
            self.groups.into_values().collect(),
            self.kept.into_values().collect(),
        )
    }
}

/// Builds a violation.
pub(crate) fn violation(
    kind: &str,
    sku: Option<&str>,
    reservation: Option<&str>,
    ops: Vec<OpId>,
    severity: i64,
    reason: String,
) -> Violation {
    Violation {
        kind: kind.to_owned(),
        sku: sku.map(str::to_owned),
        reservation: reservation.map(str::to_owned),
        ops,
        reason,
        severity,
    }
}
