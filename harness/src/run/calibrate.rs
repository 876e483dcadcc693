//! `stockproof run --calibrate SCENARIO`: in one sitting, the load generator's own
//! ceiling (the scenario's goose set-up against the no-op target served in process, so
//! the only work is goose, reqwest, stockproof's recording and the loopback) beside the
//! same scenario against the reference engine (a full run, checks and all). If the
//! engine path reaches at least half the ceiling, the harness is not what limits the
//! figures a user reads.
//!
//! `bench` measures the same ceiling with [`load_generator_ceiling`].
//!
//! Not here: the no-op target itself (`crate::load::noop`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{RunError, RunOptions, RunOutcome, prepare, run_scenario};
use crate::adapter::Bound;
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
    let ceiling = run_against_noop(&scenario, seed, options.progress).await?;
    let engine_run = run_scenario(path, options).await?;
    Ok(Calibration {
        ceiling_ops_per_s: ceiling.ops_per_s(),
        ceiling_ops: ceiling.counts.ops,
        engine_ops_per_s: engine_run.info.load.ops_per_s,
        engine_run,
    })
}

/// The load generator's ceiling for `bench`: the scenario's load as a closed model
/// (every user starts its next cart as soon as the last is done) for `time` against
/// the no-op target.
pub async fn load_generator_ceiling(
    scenario: &Scenario,
    seed: u64,
    time: Duration,
    progress: ProgressMode,
) -> Result<LoadRecord, CalibrationError> {
    let mut closed = scenario.clone();
    closed.load.arrival_rate_per_s = None;
    // Every user at once: the ceiling is the generator's pace, not the scenario's ramp.
    closed.load.hatch_rate_per_s = f64::from(closed.load.users) * CEILING_HATCH_PER_USER;
    closed.load.stop = Stop::Duration(time);
    closed.restocks.retain(|restock| restock.at < time);
    run_against_noop(&closed, seed, progress).await
}

/// `scenario`'s load against the no-op target served in process.
async fn run_against_noop(
    scenario: &Scenario,
    seed: u64,
    progress: ProgressMode,
) -> Result<LoadRecord, CalibrationError> {
    let noop = NoopTarget::start(Duration::ZERO).await?;
    let adapter = Bound::contract(&noop.url(), &scenario.sku_stock())
        .await
        .map_err(RunError::from)?;
    let mut spec = LoadSpec::new(scenario, Arc::new(adapter), Instant::now());
    spec.progress = progress;
    let ceiling = run_load(&spec, &Plan::new(scenario, seed), None)
        .await
        .map_err(RunError::from);
    noop.stop().await;
    Ok(ceiling?)
}
