//! The one judge (DESIGN §8): a recorded run — its history, the white-box snapshot when
//! there is one, and what the run folder records about the run (`record::RunInfo`: which
//! checks apply to its target, the loss window of its faults, whether its load was cut
//! short) — in, its [`RunVerdict`] out. `stockproof run`, `check`, `selftest` and
//! `replay` all call [`judge`] and print with [`render::verdict_text`], so one folder
//! always gets one verdict and one exit code, whichever command asks.
//!
//! Pure, like the checks: no I/O. Reading a run folder is the harness's
//! `run::folder::read`.

pub mod record;
pub mod render;

use crate::coverage::CoverageGoal;
use crate::history::History;
use crate::latency::Latencies;
use crate::resources::Resources;
use crate::slo::{self, Slo};
use crate::stores::StoresSnapshot;
use crate::{CheckConfig, CheckId, CheckReport, RunVerdict, WhiteBoxSnapshot};
use record::RunInfo;

/// What a run is judged against besides the invariants, as its scenario states it: the
/// checks' settings, the SLOs and the coverage goals.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Criteria {
    pub config: CheckConfig,
    pub slos: Vec<Slo>,
    pub coverage: Vec<CoverageGoal>,
}

/// Everything a run is judged on, borrowed from wherever it lives (the pipeline's
/// memory, or a run folder read back).
#[derive(Debug, Clone, Copy)]
pub struct RecordedRun<'a> {
    /// What the scenario asks of the run.
    pub criteria: &'a Criteria,
    pub info: &'a RunInfo,
    pub history: &'a History,
    pub snapshot: Option<&'a WhiteBoxSnapshot>,
    /// What the service's own stores held (`stores.json`), when its adapter declares
    /// them: then C2 judges those stores.
    pub stores: Option<&'a StoresSnapshot>,
    /// The history's latencies (`Latencies::from_history`), computed once by the caller
    /// that also writes them into reports.
    pub latencies: &'a Latencies,
    /// The target's resources sampled during the load (`resources.jsonl`), which the
    /// resource SLOs judge; `None` when the run sampled none.
    pub resources: Option<&'a Resources>,
}

/// Judges a recorded run: every check (those that cannot apply to its target marked not
/// applicable), the loss window's rule, the SLOs, the coverage goals, and the rule that
/// a run cut short cannot pass.
pub fn judge(run: &RecordedRun<'_>) -> RunVerdict {
    let findings = crate::examine(
        run.history,
        run.snapshot,
        run.stores,
        &run.criteria.config,
        &run.criteria.coverage,
    );
    let checks = mark_not_applicable(findings.checks, run.info);
    let checks = match &run.info.loss_window {
        Some(loss_window) => loss_window.judge(checks),
        None => checks,
    };
    RunVerdict {
        checks,
        slos: slo::evaluate_with(&run.criteria.slos, run.latencies, run.resources),
        coverage: findings.coverage,
        cut_short: cut_short(run.info),
    }
}

/// Replaces the report of every check the run recorded as not applicable to its target
/// (the white-box checks against an external service: stockproof cannot read its
/// stores) by a not-applicable report, whatever the checker found without its data.
fn mark_not_applicable(checks: Vec<CheckReport>, info: &RunInfo) -> Vec<CheckReport> {
    checks
        .into_iter()
        .map(|report| {
            let recorded_not_applicable = info
                .checks_not_applicable
                .iter()
                .any(|name| name == report.id.as_str());
            if recorded_not_applicable {
                let reason = info
                    .not_applicable_reasons
                    .get(report.id.as_str())
                    .map_or_else(|| not_applicable_reason(report.id).to_owned(), Clone::clone);
                CheckReport::not_applicable(report.id, reason)
            } else {
                report
            }
        })
        .collect()
}

fn not_applicable_reason(id: CheckId) -> &'static str {
    if id.white_box() {
        "white-box: it reads the engine's stores, which an external target does not expose"
    } else {
        "the run recorded it as not applicable to its target"
    }
}

/// Why the run did not run its scenario to the end, if it did not: then what it saw may
/// still show a violation, but it cannot pass.
fn cut_short(info: &RunInfo) -> Option<String> {
    if let Some(reason) = &info.history_cut_short {
        Some(reason.clone())
    } else if info.interrupted {
        Some("the load was interrupted (Ctrl-C) before the scenario ended".to_owned())
    } else {
        info.target_silent.clone()
    }
}

#[cfg(test)]
mod tests;
