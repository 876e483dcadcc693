//! Owns the service's running ledger writer so that it can be crashed and restarted
//! while the service serves: the fault scenarios' "writer crash mid-batch" (DESIGN §3:
//! a crash between commit and XACK redelivers, and a new writer claims the dead one's
//! pending entries with XAUTOCLAIM). [`WriterSupervisor::shutdown`] drains it as the
//! service's orderly stop does.
//!
//! Not here: the writer itself (`writer.rs`); deciding when to crash it (the harness's
//! fault injector).

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Mutex;

use super::error::LedgerError;
use super::writer::{LedgerWriter, WriterConfig, WriterFault, WriterStats};
use crate::keys::ShopKeys;

/// `application_name` of the writer's Postgres connections, so that
/// `pg_terminate_backend` can aim at exactly them.
pub const WRITER_APPLICATION_NAME: &str = "stockproof-ledger-writer";
/// Longest a crash waits for the doomed writer to commit a batch (it needs events to
/// arrive); past it the writer is killed where it stands instead.
pub const CRASH_WAIT_MS_MAX: u64 = 10_000;
/// Claim idle time of a writer started after a crash: the dead writer's entries are
/// known dead, so waiting the default 10 s would only stall the ledger.
pub const RESTARTED_CLAIM_IDLE_MS: u64 = 500;

/// Where a crashed writer dies in its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After its transaction commits and before its XACK: the batch is redelivered
    /// (the unique seq makes that a no-op for the reference writer).
    AfterCommit,
    /// Right before its transaction: the reference writer has acked nothing, so the
    /// batch is redelivered; a writer that acks first (`lossy-ledger`) has lost it.
    BeforeCommit,
}

impl CrashPoint {
    /// `after commit` / `before commit`, for logs and fault descriptions.
    pub const fn as_str(self) -> &'static str {
        match self {
            CrashPoint::AfterCommit => "after commit",
            CrashPoint::BeforeCommit => "before commit",
        }
    }

    /// The writer fault that dies here on the first batch.
    const fn first_batch_fault(self) -> WriterFault {
        match self {
            CrashPoint::AfterCommit => WriterFault::CrashAfterCommit { batch: 1 },
            CrashPoint::BeforeCommit => WriterFault::CrashBeforeCommit { batch: 1 },
        }
    }
}

/// The service's writer, replaceable while the service runs.
#[derive(Debug)]
pub struct WriterSupervisor {
    redis_url: String,
    pool: PgPool,
    keys: ShopKeys,
    config: WriterConfig,
    writer: Mutex<Option<LedgerWriter>>,
    /// Writers started so far: each gets its own consumer name.
    generation: Mutex<u64>,
}

impl WriterSupervisor {
    /// Starts the first writer with `config`.
    pub fn spawn(
        redis_url: &str,
        pool: PgPool,
        keys: ShopKeys,
        config: WriterConfig,
    ) -> Result<WriterSupervisor, LedgerError> {
        let writer = LedgerWriter::spawn(redis_url, pool.clone(), keys.clone(), config.clone())?;
        Ok(WriterSupervisor {
            redis_url: redis_url.to_owned(),
            pool,
            keys,
            config,
            writer: Mutex::new(Some(writer)),
            generation: Mutex::new(0),
        })
    }

    /// Kills the running writer, then runs one under the same consumer name that dies
    /// at `point` in its first batch (its own pending entries first), and waits for
    /// that death (at most [`CRASH_WAIT_MS_MAX`]). Returns the batch it died in, or
    /// `None` when no batch came in time and it was killed mid-read instead. No writer
    /// runs afterwards until [`WriterSupervisor::restart`].
    pub async fn crash_mid_batch(&self, point: CrashPoint) -> Result<Option<u64>, LedgerError> {
        let mut slot = self.writer.lock().await;
        if let Some(writer) = slot.take() {
            writer.kill();
        }
        let mut doomed_config = self.config.clone();
        doomed_config.fault = point.first_batch_fault();
        let doomed = LedgerWriter::spawn(
            &self.redis_url,
            self.pool.clone(),
            self.keys.clone(),
            doomed_config,
        )?;
        let wait = Duration::from_millis(CRASH_WAIT_MS_MAX);
        let mut doomed = Some(doomed);
        let crashed = tokio::time::timeout(wait, async {
            while let Some(writer) = doomed.as_ref() {
                if writer.is_finished() {
                    return doomed.take().map(LedgerWriter::join);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            None
        })
        .await;
        match crashed {
            Ok(Some(join)) => match join.await {
                Err(
                    LedgerError::InjectedCrash { batch }
                    | LedgerError::InjectedCrashBeforeCommit { batch },
                ) => Ok(Some(batch)),
                Err(error) => Err(error),
                Ok(_) => Ok(None),
            },
            Ok(None) | Err(_) => {
                if let Some(writer) = doomed.take() {
                    writer.kill();
                }
                Ok(None)
            }
        }
    }

    /// Starts a writer under a new consumer name if none runs; it claims the dead
    /// writers' pending entries after [`RESTARTED_CLAIM_IDLE_MS`].
    pub async fn restart(&self) -> Result<(), LedgerError> {
        let mut slot = self.writer.lock().await;
        if slot.as_ref().is_some_and(|writer| !writer.is_finished()) {
            return Ok(());
        }
        let mut generation = self.generation.lock().await;
        *generation += 1;
        let mut config = self.config.clone();
        config.consumer = format!("{}-restart-{generation}", self.config.consumer);
        config.claim_idle_ms = RESTARTED_CLAIM_IDLE_MS;
        let writer = LedgerWriter::spawn(
            &self.redis_url,
            self.pool.clone(),
            self.keys.clone(),
            config,
        )?;
        *slot = Some(writer);
        Ok(())
    }

    /// The running writer's counters (zero when none runs).
    pub async fn stats(&self) -> WriterStats {
        let slot = self.writer.lock().await;
        slot.as_ref().map(LedgerWriter::stats).unwrap_or_default()
    }

    /// Drains and stops the running writer, if any.
    pub async fn shutdown(&self) -> Result<WriterStats, LedgerError> {
        let writer = self.writer.lock().await.take();
        match writer {
            Some(writer) => writer.shutdown().await,
            None => Ok(WriterStats::default()),
        }
    }
}
