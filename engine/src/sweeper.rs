//! The expiry sweeper: a tokio task that, every interval, expires due reservations in
//! bounded batches through [`InventoryEngine::expire_due`]. Which reservations are due
//! is decided inside the engine (the Redis clock, in the expire script), never by the
//! sweeper's clock, and each batch is one atomic script, so any number of sweepers may
//! run at once: a reservation expires exactly once whoever gets there first.
//!
//! Not here: the expiry itself (see `lua/expire.lua`); confirms and releases of an
//! overdue reservation expire it on the spot, so sweeper lag never lets a late confirm win.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::InventoryEngine;
use crate::error::EngineError;
use crate::limits::EXPIRE_BATCH_MAX;

/// Pause between sweeps: a reservation outlives its deadline by at most about this
/// (plus the sweep itself), which is far below any checkout's patience.
pub const SWEEP_INTERVAL_MS_DEFAULT: u64 = 100;
/// Batches one sweep runs back to back while more are due, so that one sweep after a
/// long pause catches up quickly but still yields between sweeps.
pub const SWEEP_BATCHES_MAX: usize = 64;

/// How a sweeper runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweeperConfig {
    pub interval_ms: u64,
    /// Reservations per `expire_due` call, 1..=[`EXPIRE_BATCH_MAX`].
    pub batch: usize,
}

impl Default for SweeperConfig {
    fn default() -> SweeperConfig {
        SweeperConfig {
            interval_ms: SWEEP_INTERVAL_MS_DEFAULT,
            batch: EXPIRE_BATCH_MAX,
        }
    }
}

/// What a sweeper did so far (shared with its task; read for metrics).
#[derive(Debug, Default)]
pub struct SweeperCounters {
    expired: AtomicU64,
    sweeps: AtomicU64,
    errors: AtomicU64,
}

impl SweeperCounters {
    /// Reservations this sweeper moved Held → Expired.
    pub fn expired(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    /// Sweeps finished (each one or more `expire_due` calls).
    pub fn sweeps(&self) -> u64 {
        self.sweeps.load(Ordering::Relaxed)
    }

    /// `expire_due` calls that failed (logged; the next sweep tries again).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// A running sweeper; stop it with [`Sweeper::shutdown`] (dropping it cancels too).
#[derive(Debug)]
pub struct Sweeper {
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
    counters: Arc<SweeperCounters>,
}

impl Sweeper {
    pub fn spawn(
        engine: Arc<dyn InventoryEngine>,
        config: SweeperConfig,
    ) -> Result<Sweeper, EngineError> {
        if !(1..=EXPIRE_BATCH_MAX).contains(&config.batch) {
            return Err(EngineError::invalid(
                "batch",
                format!(
                    "must be between 1 and {EXPIRE_BATCH_MAX}, got {}",
                    config.batch
                ),
            ));
        }
        if config.interval_ms == 0 {
            return Err(EngineError::invalid("interval_ms", "must be above 0"));
        }
        let cancel = CancellationToken::new();
        let counters = Arc::new(SweeperCounters::default());
        let task = tokio::spawn(run(engine, config, cancel.clone(), Arc::clone(&counters)));
        Ok(Sweeper {
            cancel,
            task: Some(task),
            counters,
        })
    }

    pub fn counters(&self) -> Arc<SweeperCounters> {
        Arc::clone(&self.counters)
    }

    /// Reservations this sweeper expired so far.
    pub fn expired(&self) -> u64 {
        self.counters.expired()
    }

    /// Stops after the call in flight (bounded by the engine's response timeout) and
    /// waits for the task to end.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            tracing::error!(%error, "sweeper task ended abnormally");
        }
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn run(
    engine: Arc<dyn InventoryEngine>,
    config: SweeperConfig,
    cancel: CancellationToken,
    counters: Arc<SweeperCounters>,
) {
    let interval = Duration::from_millis(config.interval_ms);
    while !cancel.is_cancelled() {
        sweep(engine.as_ref(), config.batch, &cancel, &counters).await;
        counters.sweeps.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// One sweep: batches while more are due, up to [`SWEEP_BATCHES_MAX`].
async fn sweep(
    engine: &dyn InventoryEngine,
    batch: usize,
    cancel: &CancellationToken,
    counters: &SweeperCounters,
) {
    for _ in 0..SWEEP_BATCHES_MAX {
        if cancel.is_cancelled() {
            return;
        }
        match engine.expire_due(batch).await {
            Ok(report) => {
                counters
                    .expired
                    .fetch_add(report.expired.len() as u64, Ordering::Relaxed);
                if report.still_due == 0 {
                    return;
                }
            }
            Err(error) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "expiry sweep failed; retrying next interval");
                return;
            }
        }
    }
}
