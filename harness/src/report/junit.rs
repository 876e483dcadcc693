//! `junit.xml`: one testcase per check, per SLO and per coverage goal, so CI systems
//! show a run's verdicts natively. Fail → `<failure>`; unknown → `<error>` (an
//! inconclusive result must not look green). Hand-built XML with every text and
//! attribute escaped.

use std::fmt::Write;

use crate::checks::{RunVerdict, Verdict};

struct Case {
    class: &'static str,
    name: String,
    verdict: Verdict,
    message: String,
    detail: String,
}

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all become a visible replacement.
            character if (character as u32) < 0x20 && !matches!(character, '\n' | '\r' | '\t') => {
                escaped.push('\u{fffd}')
            }
            character => escaped.push(character),
        }
    }
    escaped
}

fn cases(verdict: &RunVerdict) -> Vec<Case> {
    let mut cases = Vec::new();
    for check in &verdict.checks {
        let detail: Vec<String> = check
            .groups
            .iter()
            .map(|group| format!("{} × {}: {}", group.count, group.kind, group.worst.reason))
            .collect();
        let message = match check.verdict {
            Verdict::Fail => format!("{} violations", check.violation_count()),
            _ => check.note.clone().unwrap_or_default(),
        };
        cases.push(Case {
            class: "checks",
            name: format!("{} {}", check.id.as_str(), check.title),
            verdict: check.verdict,
            message,
            detail: detail.join("\n"),
        });
    }
    for slo in &verdict.slos {
        let observed = slo.observed.map_or_else(
            || "nothing measured".to_owned(),
            |value| format!("observed {}", super::units::slo_value(value, &slo.unit)),
        );
        cases.push(Case {
            class: "slo",
            name: slo.slo.clone(),
            verdict: slo.verdict,
            message: observed,
            detail: String::new(),
        });
    }
    for goal in &verdict.coverage {
        let message = format!(
            "observed {} of at least {}: {}",
            goal.observed, goal.min, goal.description
        );
        cases.push(Case {
            class: "coverage",
            name: goal.goal.clone(),
            verdict: goal.verdict,
            message,
            detail: String::new(),
        });
    }
    cases
}

/// Renders the JUnit XML for one scenario run.
pub fn render(scenario: &str, timestamp: &str, verdict: &RunVerdict) -> String {
    let cases = cases(verdict);
    let failures = cases
        .iter()
        .filter(|case| case.verdict == Verdict::Fail)
        .count();
    let errors = cases
        .iter()
        .filter(|case| case.verdict == Verdict::Unknown)
        .count();
    let skipped = cases
        .iter()
        .filter(|case| case.verdict == Verdict::NotApplicable)
        .count();
    let suite = escape(&format!("stockproof.{scenario}"));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"stockproof\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\">",
        cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" timestamp=\"{}\">",
        cases.len(),
        escape(timestamp)
    );
    for case in &cases {
        let _ = write!(
            out,
            "    <testcase classname=\"{suite}.{}\" name=\"{}\" time=\"0\"",
            case.class,
            escape(&case.name)
        );
        let element = match case.verdict {
            Verdict::Pass => None,
            Verdict::Fail => Some("failure"),
            Verdict::Unknown => Some("error"),
            Verdict::NotApplicable => Some("skipped"),
        };
        match element {
            None => out.push_str("/>\n"),
            Some(element) => {
                let _ = writeln!(
                    out,
                    ">\n      <{element} message=\"{}\" type=\"{}\">{}</{element}>\n    </testcase>",
                    escape(&case.message),
                    case.verdict.as_str(),
                    escape(&case.detail)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
