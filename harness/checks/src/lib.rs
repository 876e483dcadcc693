//! stockproof's judge of a recorded run (DESIGN §8), in a crate of its own so that
//! "checks do no I/O" is enforced by Cargo: serde and hdrhistogram, no tokio, Redis,
//! Postgres or HTTP. A history written in the documented format (`history`) by any
//! load tool can be judged here.
//!
//! - [`history`]: the history format (one JSON object per line), its reader and writer.
//! - The checks C1–C8, the coverage goals ([`coverage`]) and the SLOs ([`slo`]): pure
//!   functions from a [`History`] (and, for the white-box checks, a
//!   [`WhiteBoxSnapshot`]) to reports with a three-valued verdict (Jepsen's pass / fail /
//!   unknown: never pass by default). A checker that panics reports `Unknown`. Every
//!   checker is linear in the history (hash maps, one sort per SKU at most), also when
//!   many outcomes are unknown; C7 and C8 share `stock_bounds`, O(n log n) (sorted
//!   steps, prefix sums, a binary search per read or refusal).
//! - [`judge`]: a recorded run (history, snapshot, what the run folder records) in, its
//!   [`RunVerdict`] out, and the one renderer of it.
//! - [`latency`], [`units`], [`duration`]: the histograms SLOs are judged on and the
//!   human units reports print.
//! - [`synthetic`]: a seeded synthetic history for `bench-checks` and tests.
//!
//! Not here: driving a load, collecting the history or the snapshot, reading scenario
//! files, writing reports (the `stockproof` binary, `stockproof-harness`).

mod c1_oversell;
mod c2_conservation;
mod c3_idempotency;
mod c4_expiry;
mod c5_effects;
mod c6_final_stock;
mod c7_reads;
mod c8_undersell;
pub mod coverage;
pub mod duration;
pub mod history;
mod index;
pub mod judge;
pub mod latency;
mod outages;
mod report;
pub mod slo;
mod snapshot;
mod stock_bounds;
pub mod stores;
pub mod synthetic;
pub mod units;
pub mod window;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use report::{
    Bound, CheckId, CheckReport, VIOLATIONS_KEPT_MAX, Verdict, Violation, ViolationGroup,
    Violations,
};
pub use snapshot::{SNAPSHOT_FORMAT_VERSION, SnapshotError, WhiteBoxSnapshot};

use coverage::{CoverageGoal, CoverageResult};
use history::History;
use index::Index;
use slo::SloResult;
use stock_bounds::StockModel;
use stores::StoresSnapshot;

/// Exit codes of a run (DESIGN §7, plus 5).
pub const EXIT_PASS: u8 = 0;
pub const EXIT_VIOLATION: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_SLO_MISSED: u8 = 3;
pub const EXIT_INFRA: u8 = 4;
pub const EXIT_INCONCLUSIVE: u8 = 5;

/// Settings the checks take from the scenario (the history header carries the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckConfig {
    /// How long past its deadline a reservation may stay Held (the sweeper's period
    /// plus a busy machine).
    pub expiry_grace_ms: i64,
    /// Distance between the harness's clock and Redis's `TIME` the checks tolerate
    /// when they place a deadline on the history's time axis.
    pub clock_skew_ms: i64,
}

/// The harness and a local Redis read one clock; 50 ms covers the jitter between the
/// harness stamping the run's start and its first request.
pub const CLOCK_SKEW_MS_DEFAULT: i64 = 50;

/// Default grace past a reservation's deadline before C4 calls a Held one stuck: the
/// sweeper runs every ~100 ms; a second covers a busy machine.
pub const EXPIRY_GRACE_DEFAULT: std::time::Duration = std::time::Duration::from_secs(1);

impl Default for CheckConfig {
    fn default() -> CheckConfig {
        CheckConfig {
            expiry_grace_ms: EXPIRY_GRACE_DEFAULT.as_millis() as i64,
            clock_skew_ms: CLOCK_SKEW_MS_DEFAULT,
        }
    }
}

/// Runs C1–C8 over `history`; the white-box checks (C2, C5) report `Unknown` without a
/// snapshot, and so does any checker that panics.
pub fn run_checks(
    history: &History,
    snapshot: Option<&WhiteBoxSnapshot>,
    config: &CheckConfig,
) -> Vec<CheckReport> {
    examine(history, snapshot, None, config, &[]).checks
}

/// A checker: the shared index (which holds the snapshot, if any) in, a report out.
type Checker = fn(&Index<'_>, &CheckConfig) -> CheckReport;

/// Every checker over the index, in report order.
const CHECKERS: [(CheckId, Checker); 6] = [
    (CheckId::C1, c1_oversell::check),
    (CheckId::C2, c2_conservation::check),
    (CheckId::C3, c3_idempotency::check),
    (CheckId::C4, c4_expiry::check),
    (CheckId::C5, c5_effects::check),
    (CheckId::C6, c6_final_stock::check),
];

/// A checker over the stock model C7 and C8 share.
type ModelChecker = fn(&Index<'_>, &StockModel<'_>) -> CheckReport;

const MODEL_CHECKERS: [(CheckId, ModelChecker); 2] = [
    (CheckId::C7, c7_reads::check),
    (CheckId::C8, c8_undersell::check),
];

/// How long building the index, the stock model, each checker and the coverage goals
/// took (`stockproof bench-checks`).
#[derive(Debug, Clone, Default)]
pub struct CheckTimings {
    pub index: Duration,
    pub stock_model: Duration,
    pub checks: Vec<(CheckId, Duration)>,
    pub coverage: Duration,
}

/// What the checks and the coverage goals found in one history.
#[derive(Debug, Clone)]
pub struct Findings {
    pub checks: Vec<CheckReport>,
    pub coverage: Vec<CoverageResult>,
    pub timings: CheckTimings,
}

/// Runs C1–C8 over `history` and counts the coverage `goals`, building the index and
/// the stock model once for both (the goals about reads and refusals count exactly what
/// C7 and C8 judged); times each part.
pub fn examine(
    history: &History,
    snapshot: Option<&WhiteBoxSnapshot>,
    stores: Option<&StoresSnapshot>,
    config: &CheckConfig,
    goals: &[CoverageGoal],
) -> Findings {
    let started = Instant::now();
    let index = match catch_unwind(AssertUnwindSafe(|| Index::build(history, snapshot))) {
        Ok(index) => index,
        Err(panic) => {
            let reason = format!("indexing the history panicked: {}", panic_message(&*panic));
            return Findings {
                checks: CheckId::ALL
                    .into_iter()
                    .map(|id| CheckReport::unknown(id, reason.clone()))
                    .collect(),
                coverage: coverage::evaluate(goals, history, None),
                timings: CheckTimings::default(),
            };
        }
    };
    let mut timings = CheckTimings {
        index: started.elapsed(),
        stock_model: Duration::ZERO,
        checks: Vec::with_capacity(CHECKERS.len() + MODEL_CHECKERS.len()),
        coverage: Duration::ZERO,
    };
    let mut reports: Vec<CheckReport> = CHECKERS
        .into_iter()
        .map(|(id, checker)| {
            let started = Instant::now();
            let report = run_guarded(id, || checker(&index, config));
            timings.checks.push((id, started.elapsed()));
            report
        })
        .collect();
    if let Some(stores) = stores {
        // A service's own stores are what C2 judges when its adapter declares them.
        let started = Instant::now();
        let report = run_guarded(CheckId::C2, || stores::check(&index, config, stores));
        reports.retain(|report| report.id != CheckId::C2);
        reports.insert(1, report);
        timings.checks.push((CheckId::C2, started.elapsed()));
    }
    let started = Instant::now();
    let model =
        catch_unwind(AssertUnwindSafe(|| StockModel::build(history, config))).map_err(|panic| {
            format!(
                "building the stock bounds panicked: {}",
                panic_message(&*panic)
            )
        });
    timings.stock_model = started.elapsed();
    for (id, checker) in MODEL_CHECKERS {
        let started = Instant::now();
        reports.push(guarded_with(&model, id, |model| checker(&index, model)));
        timings.checks.push((id, started.elapsed()));
    }
    let started = Instant::now();
    let coverage = coverage::evaluate(goals, history, model.as_ref().ok());
    timings.coverage = started.elapsed();
    Findings {
        checks: reports,
        coverage,
        timings,
    }
}

/// Runs a checker over the stock model C7 and C8 share; a model that could not be
/// built makes both unknown.
fn guarded_with<'h>(
    model: &Result<StockModel<'h>, String>,
    id: CheckId,
    checker: impl FnOnce(&StockModel<'h>) -> CheckReport,
) -> CheckReport {
    match model {
        Ok(model) => run_guarded(id, || checker(model)),
        Err(reason) => CheckReport::unknown(id, reason.clone()),
    }
}

/// Sums a cart's lines per SKU, sorted by SKU: the canonical cart the engine binds an
/// idempotency key to.
pub fn merge_cart(items: &[stockproof_model::CartLine]) -> Vec<stockproof_model::CartLine> {
    index::merge_items(items)
        .into_iter()
        .map(|(sku, qty)| stockproof_model::CartLine {
            sku: sku.to_owned(),
            qty,
        })
        .collect()
}

/// Runs one checker; a panic becomes an `Unknown` report naming the panic.
pub fn run_guarded(id: CheckId, checker: impl FnOnce() -> CheckReport) -> CheckReport {
    match catch_unwind(AssertUnwindSafe(checker)) {
        Ok(report) => report,
        Err(panic) => CheckReport::unknown(
            id,
            format!("the checker panicked: {}", panic_message(&*panic)),
        ),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".to_owned())
}

/// Everything a run is judged on, and the exit code it maps to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunVerdict {
    pub checks: Vec<CheckReport>,
    pub slos: Vec<SloResult>,
    pub coverage: Vec<CoverageResult>,
    /// Why the load did not run the scenario to its end (Ctrl-C, a silent target):
    /// such a run may still show a violation, but it cannot pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_short: Option<String>,
}

/// The run's overall verdict, worst first: a violation beats a missed SLO, which beats
/// an inconclusive run (a check, SLO or goal unknown, or the load cut short).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    Pass,
    Violation,
    SloMissed,
    Inconclusive,
}

impl Overall {
    pub const fn exit_code(self) -> u8 {
        match self {
            Overall::Pass => EXIT_PASS,
            Overall::Violation => EXIT_VIOLATION,
            Overall::SloMissed => EXIT_SLO_MISSED,
            Overall::Inconclusive => EXIT_INCONCLUSIVE,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Overall::Pass => "pass",
            Overall::Violation => "violation",
            Overall::SloMissed => "slo missed",
            Overall::Inconclusive => "inconclusive",
        }
    }
}

impl RunVerdict {
    pub fn overall(&self) -> Overall {
        if self
            .checks
            .iter()
            .any(|report| report.verdict == Verdict::Fail)
        {
            Overall::Violation
        } else if self.slos.iter().any(|slo| slo.verdict == Verdict::Fail) {
            Overall::SloMissed
        } else if self
            .checks
            .iter()
            .map(|report| report.verdict)
            .chain(self.slos.iter().map(|slo| slo.verdict))
            .chain(self.coverage.iter().map(|goal| goal.verdict))
            .any(|verdict| verdict == Verdict::Unknown)
            || self.cut_short.is_some()
        {
            Overall::Inconclusive
        } else {
            Overall::Pass
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.overall().exit_code()
    }
}

#[cfg(test)]
mod tests;
