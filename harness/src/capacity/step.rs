//! One step of the search: the scenario at a fixed arrival rate, run end to end by the
//! run pipeline (`crate::run::run_prepared`: fresh target, seed, load, quiesce, the one
//! judge), then read for the bench: the figures of the measured window (after the
//! users' ramp and the warm-up) and the step's verdict.
//!
//! Not here: which rate to offer (`super::search`), the run itself (`crate::run`).

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::search::Phase;
use super::stock::StockMode;
use crate::checks::slo::evaluate;
use crate::checks::{CheckReport, RunVerdict, Verdict};
use crate::history::{History, HistoryEntry, OpKind, Outcome};
use crate::latency::Latencies;
use crate::run::RunOutcome;
use crate::scenario::{Scenario, Slo, SloMetric, Stop};

/// A step whose carts started at least this share below the offered rate did not get
/// the load it asked for (the users, the load generator or the target held it back).
pub const ACHIEVED_RATE_TOLERANCE: f64 = 0.05;
/// A step whose reserves were refused for insufficient stock more often than this
/// measured mostly refusals, not sales, and says so in its notes.
pub const MOSTLY_REFUSED_SHARE: f64 = 0.5;
/// The refusal a sold-out SKU answers (DESIGN §6).
const INSUFFICIENT_STOCK: &str = "insufficient_stock";

/// How a step's measurement is laid out in time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    /// Excluded from the figures, after the users' ramp.
    pub warmup: Duration,
    /// The measured window.
    pub hold: Duration,
}

/// A step's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepVerdict {
    Pass,
    /// Missed the SLO, the achieved rate, or dropped starts; or could not be judged.
    Fail,
    /// A check failed: the strategy has no knee.
    Violation,
    /// Ctrl-C: the step's figures are what was measured before it.
    Interrupted,
    /// The step could not run (infrastructure, an unserved strategy).
    Error,
}

impl StepVerdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            StepVerdict::Pass => "pass",
            StepVerdict::Fail => "fail",
            StepVerdict::Violation => "violation",
            StepVerdict::Interrupted => "interrupted",
            StepVerdict::Error => "error",
        }
    }
}

/// A check that failed in a step, with its first violation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepViolation {
    pub check: String,
    pub title: String,
    pub count: u64,
    pub first: String,
}

/// One step as bench.json records it (docs/bench.md has the schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub index: u32,
    pub phase: Phase,
    pub offered_carts_per_s: f64,
    pub achieved_carts_per_s: f64,
    pub ops_per_s: f64,
    pub reserves_per_s: f64,
    pub warmup_s: f64,
    pub measured_s: f64,
    /// The op kind whose corrected latencies follow (the SLO's, else `reserve`).
    pub latency_op: String,
    pub samples: u64,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub p999_us: Option<u64>,
    pub max_us: Option<u64>,
    /// The SLO's observed value in its unit (µs, ratio, ops/s), on the window.
    pub slo_observed: Option<f64>,
    pub slo_verdict: Verdict,
    pub refused: u64,
    pub unknown: u64,
    /// Reserves in the window refused for insufficient stock.
    #[serde(default)]
    pub refused_reserves: u64,
    /// `refused_reserves` over the window's reserves: what share measured a refusal.
    #[serde(default)]
    pub refused_share: f64,
    /// Shopper ops in the window with no usable reply, over the window's shopper ops.
    #[serde(default)]
    pub unknown_share: f64,
    /// The largest SKU stock the step seeded (`super::stock`).
    #[serde(default)]
    pub stock_units_max: Option<i64>,
    /// What a reader should know of what the step measured (not reasons to fail).
    #[serde(default)]
    pub notes: Vec<String>,
    pub late_starts: u64,
    pub dropped_starts: u64,
    pub violations: Vec<StepViolation>,
    pub verdict: StepVerdict,
    /// Why the step did not pass (empty when it did).
    pub reasons: Vec<String>,
    /// The step's run folder, kept when it shows a violation (or with `--keep-runs`).
    pub run_folder: Option<String>,
    pub wall_s: f64,
}

impl StepRecord {
    /// A step that could not run: nothing measured, the error as its reason.
    pub fn error(
        (index, phase, rate_per_s): (u32, Phase, f64),
        timing: StepTiming,
        reason: String,
    ) -> StepRecord {
        StepRecord {
            index,
            phase,
            offered_carts_per_s: rate_per_s,
            achieved_carts_per_s: 0.0,
            ops_per_s: 0.0,
            reserves_per_s: 0.0,
            warmup_s: timing.warmup.as_secs_f64(),
            measured_s: 0.0,
            latency_op: String::new(),
            samples: 0,
            p50_us: None,
            p99_us: None,
            p999_us: None,
            max_us: None,
            slo_observed: None,
            slo_verdict: Verdict::Unknown,
            refused: 0,
            unknown: 0,
            refused_reserves: 0,
            refused_share: 0.0,
            unknown_share: 0.0,
            stock_units_max: None,
            notes: Vec::new(),
            late_starts: 0,
            dropped_starts: 0,
            violations: Vec::new(),
            verdict: StepVerdict::Error,
            reasons: vec![reason],
            run_folder: None,
            wall_s: 0.0,
        }
    }
}

/// `scenario` as one step runs it: `rate_per_s` carts/s for the warm-up plus the hold,
/// its own SLOs and coverage goals off (the bench judges its one SLO on the window),
/// its stock as `stock` says for the whole load (ramp included). Returns the largest
/// SKU stock seeded beside it.
pub fn step_scenario(
    scenario: &Scenario,
    rate_per_s: f64,
    timing: StepTiming,
    stock: StockMode,
) -> (Scenario, i64) {
    let mut step = scenario.clone();
    let duration = timing.warmup + timing.hold;
    step.load.arrival_rate_per_s = Some(rate_per_s);
    step.load.stop = Stop::Duration(duration);
    step.restocks.retain(|restock| restock.at < duration);
    step.slos.clear();
    step.coverage.clear();
    let load_time = ramp(&step.load) + duration;
    let stocked = super::stock::apply(&mut step, stock, rate_per_s, load_time);
    (step, stocked)
}

/// The users' ramp: users / hatch rate.
pub fn ramp(load: &crate::scenario::Load) -> Duration {
    Duration::from_secs_f64(f64::from(load.users) / load.hatch_rate_per_s)
}

/// The op kind a step's latency columns show.
pub fn latency_op(slo: &Slo) -> OpKind {
    match slo.metric {
        SloMetric::Latency { op, .. } => op,
        SloMetric::ErrorRate | SloMetric::Throughput | SloMetric::Resource { .. } => {
            OpKind::Reserve
        }
    }
}

/// What a step measured, before its verdict.
pub(super) struct Window {
    pub(super) latencies: Latencies,
    pub(super) carts: u64,
    pub(super) ops: u64,
    pub(super) reserves: u64,
    pub(super) refused: u64,
    /// Reserves refused for insufficient stock.
    pub(super) refused_reserves: u64,
    pub(super) unknown: u64,
    pub(super) measured_s: f64,
}

/// The shopper ops whose intended start falls in the measured window: from the first
/// shopper op plus the ramp and the warm-up, for the hold (or to the last reply of a
/// load cut short).
pub(super) fn window(history: &History, ramp: Duration, timing: StepTiming) -> Window {
    let shoppers: Vec<Cow<'_, HistoryEntry>> = history
        .ops()
        .filter(|entry| entry.user.is_some() && entry.op.kind() != OpKind::Fault)
        .collect();
    let intended = |entry: &HistoryEntry| entry.intended_us.unwrap_or(entry.invoke_us);
    let first = shoppers
        .iter()
        .map(|entry| intended(entry))
        .min()
        .unwrap_or(0);
    let start = first + (ramp + timing.warmup).as_micros() as u64;
    let last = shoppers
        .iter()
        .map(|entry| entry.complete_us)
        .max()
        .unwrap_or(start);
    let end = (start + timing.hold.as_micros() as u64).min(last.max(start));
    let mut measured = Window {
        latencies: Latencies::default(),
        carts: 0,
        ops: 0,
        reserves: 0,
        refused: 0,
        refused_reserves: 0,
        unknown: 0,
        measured_s: Duration::from_micros(end - start).as_secs_f64(),
    };
    for entry in &shoppers {
        let entry = &**entry;
        if !(start..end).contains(&intended(entry)) {
            continue;
        }
        measured.latencies.record(entry);
        measured.ops += 1;
        if entry.op.kind() == OpKind::Reserve {
            measured.reserves += 1;
            measured.carts += u64::from(entry.retry_of.is_none());
            measured.refused_reserves += u64::from(insufficient_stock(entry));
        }
        match entry.outcome {
            Outcome::Ok => {}
            Outcome::Fail => measured.refused += 1,
            Outcome::Unknown => measured.unknown += 1,
        }
    }
    measured
}

/// A reserve the target refused because a SKU had too few units.
fn insufficient_stock(entry: &HistoryEntry) -> bool {
    entry.outcome == Outcome::Fail
        && entry
            .response
            .as_ref()
            .and_then(|response| response.error.as_deref())
            == Some(INSUFFICIENT_STOCK)
}

/// `part` over `whole`, 0 for an empty whole.
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Reads a finished step's run: the window's figures and the verdict.
pub fn read_step(
    outcome: &RunOutcome,
    (index, phase, rate_per_s): (u32, Phase, f64),
    slo: &Slo,
    timing: StepTiming,
) -> StepRecord {
    let measured = window(&outcome.history, ramp(&outcome.scenario.load), timing);
    let per_s = |count: u64| count as f64 / measured.measured_s.max(1e-6);
    let op = latency_op(slo);
    let histogram = measured
        .latencies
        .ops
        .get(&op)
        .map(|op| &op.corrected)
        .filter(|histogram| !histogram.is_empty());
    let quantile = |q: f64| histogram.map(|histogram| histogram.value_at_quantile(q));
    let slo_result = evaluate(std::slice::from_ref(slo), &measured.latencies).remove(0);
    let mut step = StepRecord {
        index,
        phase,
        offered_carts_per_s: rate_per_s,
        achieved_carts_per_s: per_s(measured.carts),
        ops_per_s: per_s(measured.latencies.completed),
        reserves_per_s: per_s(measured.reserves),
        warmup_s: timing.warmup.as_secs_f64(),
        measured_s: measured.measured_s,
        latency_op: op.as_str().to_owned(),
        samples: histogram.map_or(0, |histogram| histogram.len()),
        p50_us: quantile(0.5),
        p99_us: quantile(0.99),
        p999_us: quantile(0.999),
        max_us: histogram.map(|histogram| histogram.max()),
        slo_observed: slo_result.observed,
        slo_verdict: slo_result.verdict,
        refused: measured.refused,
        unknown: measured.unknown,
        refused_reserves: measured.refused_reserves,
        refused_share: share(measured.refused_reserves, measured.reserves),
        unknown_share: share(measured.unknown, measured.ops),
        stock_units_max: None,
        notes: Vec::new(),
        late_starts: outcome.info.load.late_starts,
        dropped_starts: outcome.info.load.dropped_starts,
        violations: violations(&outcome.verdict.checks),
        verdict: StepVerdict::Pass,
        reasons: Vec::new(),
        run_folder: Some(outcome.folder.display().to_string()),
        wall_s: 0.0,
    };
    judge_step(&mut step, outcome, slo, &slo_result.unit);
    note_refusals(&mut step);
    step
}

/// Says so when most of the window's reserves were refusals: such a step's latencies
/// are those of a cheap refusal, not of a sale.
fn note_refusals(step: &mut StepRecord) {
    if step.refused_share > MOSTLY_REFUSED_SHARE {
        step.notes.push(format!(
            "{:.0} % of reserves refused for insufficient stock: this step measured refusals, not sales",
            step.refused_share * 100.0
        ));
    }
}

fn violations(checks: &[CheckReport]) -> Vec<StepViolation> {
    checks
        .iter()
        .filter(|check| check.verdict == Verdict::Fail)
        .map(|check| StepViolation {
            check: check.id.as_str().to_owned(),
            title: check.title.clone(),
            count: check.groups.iter().map(|group| group.count).sum(),
            first: check
                .violations
                .first()
                .map_or_else(String::new, |violation| violation.reason.clone()),
        })
        .collect()
}

/// Every reason the step does not pass, most serious first; the verdict follows.
fn judge_step(step: &mut StepRecord, outcome: &RunOutcome, slo: &Slo, unit: &str) {
    let verdict: &RunVerdict = &outcome.verdict;
    for violation in &step.violations {
        step.reasons.push(format!(
            "{} {} ({} violation(s)): {}",
            violation.check, violation.title, violation.count, violation.first
        ));
    }
    if outcome.info.interrupted {
        // What follows (unknown checks, a short window) is the interruption's doing.
        step.reasons.push("interrupted (Ctrl-C)".to_owned());
        step.verdict = if step.violations.is_empty() {
            StepVerdict::Interrupted
        } else {
            StepVerdict::Violation
        };
        return;
    }
    for check in verdict
        .checks
        .iter()
        .filter(|check| check.verdict == Verdict::Unknown)
    {
        let note = check.note.as_deref().unwrap_or("no verdict");
        step.reasons
            .push(format!("{} could not be judged: {note}", check.id.as_str()));
    }
    if let Some(silent) = &outcome.info.target_silent {
        step.reasons.push(silent.clone());
    }
    if step.dropped_starts > 0 {
        step.reasons.push(format!(
            "{} dropped starts (slots no user could start)",
            step.dropped_starts
        ));
    }
    let floor = step.offered_carts_per_s * (1.0 - ACHIEVED_RATE_TOLERANCE);
    if step.achieved_carts_per_s < floor {
        step.reasons.push(format!(
            "achieved {:.1} carts/s, below the offered {:.1} less {} %",
            step.achieved_carts_per_s,
            step.offered_carts_per_s,
            ACHIEVED_RATE_TOLERANCE * 100.0
        ));
    }
    match step.slo_verdict {
        Verdict::Pass => {}
        Verdict::Fail => step.reasons.push(format!(
            "SLO `{slo}` missed: observed {}",
            step.slo_observed.map_or_else(
                || "nothing".to_owned(),
                |observed| crate::report::units::slo_value(observed, unit)
            )
        )),
        _ => step.reasons.push(format!(
            "SLO `{slo}` unknown: no {} in the window",
            step.latency_op
        )),
    }
    step.verdict = if !step.violations.is_empty() {
        StepVerdict::Violation
    } else if step.reasons.is_empty() {
        StepVerdict::Pass
    } else {
        StepVerdict::Fail
    };
}

/// Deletes a step's run folder unless it is evidence (a violation) or asked for.
pub fn prune_folder(step: &mut StepRecord, keep_all: bool) {
    if keep_all || step.verdict == StepVerdict::Violation {
        return;
    }
    if let Some(folder) = step.run_folder.take()
        && let Err(error) = std::fs::remove_dir_all(Path::new(&folder))
    {
        tracing::warn!(%error, folder, "removing a step's run folder");
    }
}
