//! `stockproof run --calibrate SCENARIO`: in one sitting, the load generator's own
//! ceiling (the scenario's goose set-up against the no-op target served in process, so
//! the only work is goose, reqwest, stockproof's recording and the loopback) beside the
//! same scenario against the reference engine (a full run, checks and all). If the
//! engine path reaches at least half the ceiling, the harness is not what limits the
//! figures a user reads.
//!
//! `bench` measures the generator's ceiling as an open model, step by step, with
//! [`load_generator_ceiling`], which records each step's history to a temporary
//! `.jsonl.zst` (the recorder keeps no entries) and reads it back for its window.
//!
//! Not here: the no-op target itself (`crate::load::noop`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{RunError, RunOptions, RunOutcome, prepare, run_scenario};
use crate::adapter::Bound;
use crate::history::{History, HistoryHeader, HistoryWriter, read_history};
use crate::load::noop::{NoopError, NoopTarget};
use crate::load::progress::ProgressMode;
use crate::load::{LoadRecord, LoadSpec, run_load};
use crate::plan::Plan;
use crate::scenario::{Scenario, Stop};

/// Hatch rate of the bench's ceiling per user: every user within 10 ms.
const CEILING_HATCH_PER_USER: f64 = 100.0;
/// The ratio engine / ceiling the harness aims for.
pub const CALIBRATION_RATIO_TARGET: f64 = 0.5;

/// Both rates.
#[derive(Debug)]
pub struct Calibration {
    /// Requests/s against the no-op target.
    pub ceiling_ops_per_s: f64,
    pub ceiling_ops: u64,
    /// Requests/s against the engine.
    pub engine_ops_per_s: f64,
    /// The engine run, with its verdict and folder.
    pub engine_run: RunOutcome,
}

impl Calibration {
    pub fn ratio(&self) -> f64 {
        self.engine_ops_per_s / self.ceiling_ops_per_s.max(f64::MIN_POSITIVE)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error(transparent)]
    Noop(#[from] NoopError),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Measures the ceiling, then runs the scenario against the engine.
pub async fn calibrate(path: &Path, options: &RunOptions) -> Result<Calibration, CalibrationError> {
    let scenario = prepare(path, &options.overrides).map_err(RunError::from)?;
    let seed = options.seed.or(scenario.seed).unwrap_or(1);
    let ceiling = run_against_noop(&scenario, seed, options.progress, None).await?;
    let engine_run = run_scenario(path, options).await?;
    Ok(Calibration {
        ceiling_ops_per_s: ceiling.ops_per_s(),
        ceiling_ops: ceiling.counts.ops,
        engine_ops_per_s: engine_run.info.load.ops_per_s,
        engine_run,
    })
}

/// One step of the load generator's ceiling for `bench` (`crate::capacity::generator`):
/// the scenario's load as an open model, `arrival_rate_per_s` carts/s for `time` once
/// every user has hatched, against the no-op target; with the step's history, recorded
/// to a temporary file (removed after it is read back).
pub async fn load_generator_ceiling(
    scenario: &Scenario,
    seed: u64,
    arrival_rate_per_s: f64,
    time: Duration,
    progress: ProgressMode,
) -> Result<(LoadRecord, History), CalibrationError> {
    let mut open = scenario.clone();
    open.load.arrival_rate_per_s = Some(arrival_rate_per_s);
    // Every user at once: the ceiling is the generator's pace, not the scenario's ramp.
    open.load.hatch_rate_per_s = ceiling_hatch_rate_per_s(open.load.users);
    open.load.stop = Stop::Duration(time);
    open.restocks.retain(|restock| restock.at < time);
    let path = step_history_path();
    let recorded = record_against_noop(&open, seed, progress, &path).await;
    // The file is only for this step's window; a failure to remove it leaves a temp file.
    let _ = std::fs::remove_file(&path);
    recorded
}

/// A temporary history file of this process's next generator step.
fn step_history_path() -> PathBuf {
    static STEPS: AtomicU64 = AtomicU64::new(0);
    let step = STEPS.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "stockproof-generator-{}-{step}.jsonl.zst",
        std::process::id()
    ))
}

/// [`run_against_noop`] with every op appended to a history at `path`, read back.
async fn record_against_noop(
    scenario: &Scenario,
    seed: u64,
    progress: ProgressMode,
    path: &Path,
) -> Result<(LoadRecord, History), CalibrationError> {
    let header = HistoryHeader::new(
        &scenario.name,
        seed,
        super::quiesce::unix_ms(),
        i64::try_from(scenario.engine.idempotency_retention.as_millis()).unwrap_or(i64::MAX),
    );
    let writer = HistoryWriter::create(path, &header).map_err(super::history_failed)?;
    let mut load = run_against_noop(scenario, seed, progress, Some(writer)).await?;
    std::mem::replace(&mut load.history, Ok(None))
        .map_err(super::history_failed)?
        .expect("the recorder hands back the writer it was given")
        .finish()
        .map_err(super::history_failed)?;
    let history = read_history(path).map_err(super::history_failed)?;
    Ok((load, history))
}

/// The hatch rate of [`load_generator_ceiling`]: every user within 10 ms.
pub fn ceiling_hatch_rate_per_s(users: u32) -> f64 {
    f64::from(users) * CEILING_HATCH_PER_USER
}

/// `scenario`'s load against the no-op target served in process, appended to `history`
/// when given.
async fn run_against_noop(
    scenario: &Scenario,
    seed: u64,
    progress: ProgressMode,
    history: Option<HistoryWriter>,
) -> Result<LoadRecord, CalibrationError> {
    let noop = NoopTarget::start(Duration::ZERO).await?;
    let adapter = Bound::contract(&noop.url(), &scenario.sku_stock())
        .await
        .map_err(RunError::from)?;
    let mut spec = LoadSpec::new(scenario, Arc::new(adapter), Instant::now());
    spec.progress = progress;
    let ceiling = run_load(&spec, &Plan::new(scenario, seed), history)
        .await
        .map_err(RunError::from);
    noop.stop().await;
    Ok(ceiling?)
}
