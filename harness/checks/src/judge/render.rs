//! The verdict as terminal text, the one renderer that `stockproof run`, `check` and
//! `replay` print: the `checks:` line (each check's verdict), a line per check (with its counts, and its note when it
//! did not pass), the first violations with the window of history that explains them
//! (`checks::window`), a line per SLO and per coverage goal, why the load was cut short,
//! and the closing `verdict:` line with the exit code. Values are in human units.
//!
//! Not here: the run's own figures (load, latencies, faults), which only `run` has.

use std::fmt::Write as _;

use crate::history::History;
use crate::units;
use crate::window::violations_text;
use crate::{CheckReport, RunVerdict, Verdict};
use crate::{coverage::CoverageResult, slo::SloResult};

/// The verdict block: every line ends in `\n`, the last is `verdict: … (exit N)`.
/// `window_ops` is the context shown around each violation's ops.
pub fn verdict_text(verdict: &RunVerdict, history: &History, window_ops: usize) -> String {
    let mut out = String::new();
    let summary: Vec<String> = verdict
        .checks
        .iter()
        .map(|check| format!("{} {}", check.id.as_str(), check.verdict.as_str()))
        .collect();
    let _ = writeln!(out, "checks: {}", summary.join(", "));
    for check in &verdict.checks {
        let _ = writeln!(out, "{}", check_line(check));
    }
    let violations = violations_text(&verdict.checks, history, window_ops);
    for line in violations.lines() {
        let _ = writeln!(out, "  {line}");
    }
    for slo in &verdict.slos {
        let _ = writeln!(out, "{}", slo_line(slo));
    }
    for goal in &verdict.coverage {
        let _ = writeln!(out, "{}", coverage_line(goal));
    }
    if let Some(reason) = &verdict.cut_short {
        let _ = writeln!(out, "cut short: {reason}; the run cannot pass");
    }
    let overall = verdict.overall();
    let _ = writeln!(
        out,
        "verdict: {} (exit {})",
        overall.as_str(),
        overall.exit_code()
    );
    out
}

/// `C1 no oversell: pass (reservations 12, skus 1)`, `…: fail (…), 3 violations`,
/// `C2 conservation: not applicable: white-box: …`.
fn check_line(check: &CheckReport) -> String {
    let head = format!(
        "{} {}: {}",
        check.id.as_str(),
        check.title,
        check.verdict.as_str()
    );
    if check.verdict == Verdict::NotApplicable {
        return format!("{head}: {}", check.note.as_deref().unwrap_or(""));
    }
    let counts: Vec<String> = check
        .counts
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
    let mut line = format!("{head} ({})", counts.join(", "));
    match (&check.note, check.verdict) {
        (_, Verdict::Fail) => {
            let _ = write!(line, ", {} violations", check.violation_count());
        }
        (Some(note), _) => {
            let _ = write!(line, ": {note}");
        }
        (None, _) => {}
    }
    line
}

/// ``slo `reserve.p99 <= 25ms`: pass (observed 12.3 ms)``, ``slo `redis.used_memory
/// growth <= 5%`: fail (observed 12 %; second half from 10 MB to 11.2 MB)``, ``…: unknown
/// (not judged: series absent: …)``.
fn slo_line(slo: &SloResult) -> String {
    let observed = match (slo.observed, &slo.note) {
        (Some(value), Some(note)) => {
            format!("observed {}; {note}", units::slo_value(value, &slo.unit))
        }
        (Some(value), None) => format!("observed {}", units::slo_value(value, &slo.unit)),
        (None, Some(note)) => note.clone(),
        (None, None) => "observed nothing measured".to_owned(),
    };
    format!("slo `{}`: {} ({observed})", slo.slo, slo.verdict.as_str())
}

/// `coverage stock_reached_zero >= 1: pass (observed 3)`.
fn coverage_line(goal: &CoverageResult) -> String {
    format!(
        "coverage {} >= {}: {} (observed {})",
        goal.goal,
        goal.min,
        goal.verdict.as_str(),
        goal.observed
    )
}
