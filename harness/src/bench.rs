//! `stockproof bench checks`: how fast the checkers judge a large history. Generates a
//! synthetic, seeded history of a correct in-memory engine (with unknown outcomes,
//! retries, confirms, releases and expiries) and its white-box snapshot, then times
//! `run_checks` over it and reports ops/s. The test suite runs a small size so the
//! bench cannot rot; nothing here asserts on time.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::checks::{CheckConfig, CheckId, CheckReport, WhiteBoxSnapshot, examine};
use crate::history::{History, HistoryError, HistoryWriter, read_history};
use crate::latency::Latencies;
use crate::scenario::CoverageGoal;

pub use stockproof_checks::synthetic::{BENCH_SKUS, Reads, synthetic, synthetic_over};

/// What a bench run measured.
#[derive(Debug)]
pub struct BenchReport {
    pub ops: usize,
    pub ledger_events: usize,
    pub generate: Duration,
    /// Building the shared index, and C7 and C8's stock model.
    pub index: Duration,
    pub stock_model: Duration,
    /// Each checker, in report order.
    pub checks: Vec<(CheckId, Duration)>,
    /// The index, the stock model and every checker.
    pub check: Duration,
    /// `Latencies::from_history` and every coverage goal: the rest of what `check` pays.
    pub latencies: Duration,
    pub coverage: Duration,
    pub reports: Vec<CheckReport>,
}

impl BenchReport {
    pub fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.check.as_secs_f64().max(1e-9)
    }
}

/// Writing the synthetic history to `history.jsonl.zst` and reading it back, as
/// `stockproof check` does.
#[derive(Debug)]
pub struct ReadBack {
    pub bytes: u64,
    pub write: Duration,
    pub read: Duration,
}

/// Generates `ops` ops with `seed` and checks them.
pub fn run(ops: usize, seed: u64) -> BenchReport {
    let started = Instant::now();
    let (history, snapshot) = synthetic(ops, seed);
    let generate = started.elapsed();
    judge(&history, &snapshot, generate)
}

/// Times the checks, the latencies and the coverage goals over a synthetic history.
pub fn judge(history: &History, snapshot: &WhiteBoxSnapshot, generate: Duration) -> BenchReport {
    let config = CheckConfig {
        expiry_grace_ms: 1_000,
        clock_skew_ms: 0,
    };
    let started = Instant::now();
    let findings = examine(
        history,
        Some(snapshot),
        None,
        &config,
        &every_coverage_goal(),
    );
    let timings = findings.timings;
    let check = started.elapsed() - timings.coverage;
    std::hint::black_box(findings.coverage);
    let started = Instant::now();
    let latencies = Latencies::from_history(history);
    let latencies_elapsed = started.elapsed();
    std::hint::black_box(latencies);
    BenchReport {
        ops: history.len(),
        ledger_events: snapshot.ledger.len(),
        generate,
        index: timings.index,
        stock_model: timings.stock_model,
        checks: timings.checks,
        check,
        latencies: latencies_elapsed,
        coverage: timings.coverage,
        reports: findings.checks,
    }
}

/// One goal of each kind, so the bench pays for all of them.
fn every_coverage_goal() -> Vec<CoverageGoal> {
    vec![
        CoverageGoal::StockReachedZero { min: 1 },
        CoverageGoal::DuplicateOverlapped { min: 1 },
        CoverageGoal::ConfirmNearDeadline {
            within: Duration::from_millis(50),
            min: 1,
        },
        CoverageGoal::RetryAfterUnknown { min: 1 },
        CoverageGoal::RetryAfterRetention { min: 1 },
        CoverageGoal::RepeatedSkuLine { min: 1 },
        CoverageGoal::ReadsWhileContended { min: 1 },
        CoverageGoal::RefusalsAfterReturn { min: 1 },
    ]
}

/// Writes `history` to `path` and reads it back with [`read_history`]; the history
/// read must equal the one written.
pub fn read_back(history: &History, path: &Path) -> Result<ReadBack, HistoryError> {
    let started = Instant::now();
    let mut writer = HistoryWriter::create(path, &history.header)?;
    for entry in history.ops() {
        writer.append(&entry)?;
    }
    writer.finish()?;
    let write = started.elapsed();
    let bytes = std::fs::metadata(path).map_or(0, |metadata| metadata.len());
    let started = Instant::now();
    let read_back = read_history(path)?;
    let read = started.elapsed();
    assert!(
        read_back == *history,
        "the history read back from {} differs from the one written",
        path.display()
    );
    Ok(ReadBack { bytes, write, read })
}

#[cfg(test)]
mod tests;
