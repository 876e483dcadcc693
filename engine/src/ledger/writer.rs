//! The ledger writer (DESIGN §3): a task in the `ledger-writer` consumer group that
//! copies the Redis stream into Postgres, exactly once. Each batch (up to
//! [`LEDGER_BATCH_EVENTS_MAX`] events or [`LEDGER_BATCH_WAIT_MS_MAX`] ms) is checked
//! (parsed, seqs strictly increasing), written in one transaction (`postgres.rs`:
//! ledger rows `ON CONFLICT DO NOTHING`, only the new rows applied to the projections,
//! redelivered rows read back and compared before commit), committed, then XACKed,
//! then the stream is trimmed below the smallest entry still pending or undelivered.
//!
//! A crash between commit and XACK redelivers the batch; the unique seq makes the
//! second write a no-op. A dead writer's pending entries are claimed (XAUTOCLAIM) once
//! idle for [`WriterConfig::claim_idle_ms`]. It applies facts and never re-decides
//! them: no clock or stock check happens here. Not here: the SQL (`postgres.rs`), the
//! stream commands (`stream.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::error::{LedgerError, timed};
use super::postgres;
use super::stream::{self, ReadFrom, StreamEntry, StreamId, WriterLag};
use crate::keys::ShopKeys;
use crate::stores;
use stockproof_model::ledger::LedgerEvent;

/// Events per Postgres transaction, at most. A batch holds what is in the stream (up to
/// this), so it is small at low rates; under a backlog it grows, which spreads the
/// per-batch cost (round trips, lock, commit) over many events. Side by side on a
/// 2-core VM at 64 callers (`engine-bench --writer-batch-events`), 500 wrote 57–66% of
/// the events made, 5,000 wrote 90–98%, 20,000 no more than 5,000 within the noise.
pub const LEDGER_BATCH_EVENTS_MAX: usize = 5000;
/// Longest a batch waits to fill after its first event: bounds the writer's added
/// latency at low rates while still grouping events at moderate ones.
pub const LEDGER_BATCH_WAIT_MS_MAX: u64 = 50;
/// A pending entry idle this long belongs to a dead writer and is claimed. A live
/// writer acks within one batch transaction (milliseconds), so 10 s is far from any
/// live writer, and short next to the outage it ends.
pub const CLAIM_IDLE_MS_DEFAULT: u64 = 10_000;
/// How often a writer looks for a dead writer's pending entries.
pub const CLAIM_POLL_MS_MAX: u64 = 1_000;
/// Pause after a failed step before retrying (Redis or Postgres down, an earlier event
/// still pending elsewhere); long enough not to spin, short next to a restart.
pub const RETRY_BACKOFF_MS: u64 = 200;
/// Longest one batch transaction may take before the writer gives up on it (it is
/// rolled back and retried): far above the milliseconds a batch takes.
pub const BATCH_WRITE_TIMEOUT_MS: u64 = 30_000;
/// Longest a clean shutdown keeps draining before it reports what is left.
pub const DRAIN_WAIT_MS_MAX: u64 = 30_000;
/// Poll interval of [`wait_drained`].
const DRAIN_POLL_MS: u64 = 20;

/// Deliberate failures, for crash-safety tests and the fault-injection scenarios
/// (`lossy-ledger`): a documented hook in the production code path, off by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriterFault {
    #[default]
    None,
    /// Stop like a killed process right after committing the `batch`-th batch (1-based)
    /// and before its XACK: the batch stays pending, in Postgres and in the stream.
    /// The writer's task ends with [`LedgerError::InjectedCrash`].
    CrashAfterCommit { batch: u64 },
    /// Stop like a killed process right before the `batch`-th batch's transaction
    /// (1-based, counting attempts): the reference writer has acked nothing yet, so
    /// the batch is redelivered; the `lossy-ledger` flaw has already acked it.
    CrashBeforeCommit { batch: u64 },
}

/// A deliberately broken writer, for the engine variants (`crate::variants`) that
/// prove the checks catch a writer breaking its exactly-once contract. `None`, the
/// default, is the reference writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriterFlaw {
    #[default]
    None,
    /// `lossy-ledger`: XACK before the batch commits. A crash in between loses the
    /// batch: it is no longer pending, so nothing redelivers it.
    AckBeforeCommit,
    /// `non-idempotent-projection`: every row of a batch is applied to the projections,
    /// redelivered ones too, so a crash between commit and XACK applies them twice.
    ApplyRedelivered,
    /// `dual-write`: the engine writes the `skus` projection itself, beside its Redis
    /// write; the writer records the ledger (and reservations) and leaves `skus` alone,
    /// else every change would reach the projection twice.
    SkusWrittenByEngine,
}

/// The writer's settings; every bound explicit.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Consumer name in the group. A restarted writer that keeps its name re-reads its
    /// own pending entries at once; another name claims them after `claim_idle_ms`.
    pub consumer: String,
    pub batch_events_max: usize,
    pub batch_wait_ms_max: u64,
    pub claim_idle_ms: u64,
    pub fault: WriterFault,
    pub flaw: WriterFlaw,
}

impl WriterConfig {
    /// The defaults above with the given consumer name.
    pub fn new(consumer: impl Into<String>) -> WriterConfig {
        WriterConfig {
            consumer: consumer.into(),
            batch_events_max: LEDGER_BATCH_EVENTS_MAX,
            batch_wait_ms_max: LEDGER_BATCH_WAIT_MS_MAX,
            claim_idle_ms: CLAIM_IDLE_MS_DEFAULT,
            fault: WriterFault::None,
            flaw: WriterFlaw::None,
        }
    }
}

/// Counters of one writer since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct WriterStats {
    /// Events inserted into the ledger (and applied to the projections).
    pub events_written: u64,
    /// Redelivered events the ledger already held, skipped.
    pub duplicates_skipped: u64,
    pub batches_committed: u64,
    /// Entries claimed from other (dead) consumers.
    pub entries_claimed: u64,
    pub entries_trimmed: u64,
    /// Steps that failed and were retried.
    pub errors: u64,
}

#[derive(Debug, Default)]
struct SharedStats {
    events_written: AtomicU64,
    duplicates_skipped: AtomicU64,
    batches_committed: AtomicU64,
    entries_claimed: AtomicU64,
    entries_trimmed: AtomicU64,
    errors: AtomicU64,
}

impl SharedStats {
    fn snapshot(&self) -> WriterStats {
        WriterStats {
            events_written: self.events_written.load(Ordering::Relaxed),
            duplicates_skipped: self.duplicates_skipped.load(Ordering::Relaxed),
            batches_committed: self.batches_committed.load(Ordering::Relaxed),
            entries_claimed: self.entries_claimed.load(Ordering::Relaxed),
            entries_trimmed: self.entries_trimmed.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

/// A running writer task.
#[derive(Debug)]
pub struct LedgerWriter {
    task: JoinHandle<Result<WriterStats, LedgerError>>,
    shutdown: CancellationToken,
    stats: Arc<SharedStats>,
}

impl LedgerWriter {
    /// Starts the writer task for `keys`' stream. Redis is reached through
    /// `redis_url` (the writer reconnects after a restart); Postgres through `pool`,
    /// which must be migrated ([`super::migrate`]).
    pub fn spawn(
        redis_url: &str,
        pool: PgPool,
        keys: ShopKeys,
        config: WriterConfig,
    ) -> Result<LedgerWriter, LedgerError> {
        let client =
            redis::Client::open(redis_url).map_err(|error| LedgerError::redis("open", error))?;
        let shutdown = CancellationToken::new();
        let stats = Arc::new(SharedStats::default());
        let worker = Worker {
            client,
            redis: None,
            pool,
            stream: keys.ledger(),
            config,
            shutdown: shutdown.clone(),
            stats: Arc::clone(&stats),
            claim_cursor: StreamId { ms: 0, n: 0 },
            batches_attempted: 0,
            last_batch_events: 0,
            claimed_at: None,
        };
        Ok(LedgerWriter {
            task: tokio::spawn(worker.run()),
            shutdown,
            stats,
        })
    }

    pub fn stats(&self) -> WriterStats {
        self.stats.snapshot()
    }

    /// Whether the task ended (an injected crash, or after shutdown).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Clean shutdown: writes everything already in the stream (bounded by
    /// [`DRAIN_WAIT_MS_MAX`]), then stops. Returns the final counters.
    pub async fn shutdown(self) -> Result<WriterStats, LedgerError> {
        self.shutdown.cancel();
        self.join().await
    }

    /// Waits for the task to end by itself (e.g. an injected crash).
    pub async fn join(self) -> Result<WriterStats, LedgerError> {
        match self.task.await {
            Ok(outcome) => outcome,
            Err(join_error) => std::panic::resume_unwind(join_error.into_panic()),
        }
    }

    /// Stops the task where it is, like `kill -9`: nothing is drained or acked.
    pub fn kill(self) {
        self.task.abort();
    }
}

/// How far the writer of `keys`' stream is behind.
pub async fn lag(
    redis: &mut MultiplexedConnection,
    keys: &ShopKeys,
) -> Result<WriterLag, LedgerError> {
    stream::lag(redis, &keys.ledger()).await
}

/// Waits until every stream entry is written and acked, polling the lag; fails after
/// `wait_ms_max`, saying how many events were still unwritten.
pub async fn wait_drained(
    redis: &mut MultiplexedConnection,
    keys: &ShopKeys,
    wait_ms_max: u64,
) -> Result<(), LedgerError> {
    let started = Instant::now();
    loop {
        let lag = lag(redis, keys).await?;
        if lag.unwritten_events() == 0 {
            return Ok(());
        }
        if started.elapsed() >= Duration::from_millis(wait_ms_max) {
            return Err(LedgerError::GaveUp {
                what: format!(
                    "the ledger writer to drain `{}` ({} events still unwritten)",
                    keys.ledger(),
                    lag.unwritten_events()
                ),
                waited_ms: wait_ms_max,
            });
        }
        tokio::time::sleep(Duration::from_millis(DRAIN_POLL_MS)).await;
    }
}

/// What one step of the loop did.
enum Step {
    Wrote,
    Idle,
}

struct Worker {
    client: redis::Client,
    redis: Option<MultiplexedConnection>,
    pool: PgPool,
    stream: String,
    config: WriterConfig,
    shutdown: CancellationToken,
    stats: Arc<SharedStats>,
    claim_cursor: StreamId,
    claimed_at: Option<Instant>,
    /// Batches this worker tried to write (for [`WriterFault::CrashBeforeCommit`]).
    batches_attempted: u64,
    /// Entries of the last batch this worker tried to write (pending under its name).
    last_batch_events: u64,
}

impl Worker {
    async fn run(mut self) -> Result<WriterStats, LedgerError> {
        let mut drain_started: Option<Instant> = None;
        loop {
            let draining = self.shutdown.is_cancelled();
            if draining && drain_started.is_none() {
                drain_started = Some(Instant::now());
            }
            match self.step(draining).await {
                Ok(Step::Wrote) => {}
                Ok(Step::Idle) if draining => return Ok(self.stats.snapshot()),
                Ok(Step::Idle) => {}
                Err(
                    error @ (LedgerError::InjectedCrash { .. }
                    | LedgerError::InjectedCrashBeforeCommit { .. }),
                ) => return Err(error),
                Err(error) => {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    if draining && let Some(reason) = self.undrainable(&error).await {
                        // Waiting out DRAIN_WAIT_MS_MAX would end the same way, later.
                        return Err(LedgerError::Undrainable {
                            stream: self.stream.clone(),
                            reason,
                        });
                    }
                    tracing::warn!(stream = %self.stream, consumer = %self.config.consumer,
                        "ledger writer step failed, retrying: {error}");
                    if error.is_redis_connection() || error.is_no_group() {
                        self.redis = None;
                    }
                    if let Some(started) = drain_started
                        && started.elapsed() >= Duration::from_millis(DRAIN_WAIT_MS_MAX)
                    {
                        return Err(LedgerError::GaveUp {
                            what: format!("draining `{}`; last error: {error}", self.stream),
                            waited_ms: DRAIN_WAIT_MS_MAX,
                        });
                    }
                    let backoff = tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS));
                    tokio::select! {
                        () = backoff => {}
                        () = self.shutdown.cancelled(), if !draining => {}
                    }
                }
            }
        }
    }

    /// Why a drain that hit `error` can never finish, if it cannot: the batch is refused
    /// for good ([`LedgerError::is_permanent`]), or it continues the ledger past a gap
    /// while every entry still pending is this writer's own (no dead writer holds the
    /// missing events: they were acked unwritten, or deleted).
    async fn undrainable(&mut self, error: &LedgerError) -> Option<String> {
        if error.is_permanent() {
            return Some(error.to_string());
        }
        if !matches!(error, LedgerError::Order { .. }) {
            return None;
        }
        let mut redis = self.connection().await.ok()?;
        let lag = stream::lag(&mut redis, &self.stream).await.ok()?;
        (lag.pending_events <= self.last_batch_events).then(|| {
            format!("{error}, and no other writer holds a pending entry that could fill it")
        })
    }

    /// Claims a dead writer's entries when due, then writes one batch: our own pending
    /// entries first (oldest, and claimed ones land there), else new ones.
    async fn step(&mut self, draining: bool) -> Result<Step, LedgerError> {
        let mut redis = self.connection().await?;
        self.claim_if_due(&mut redis).await?;
        let count = self.config.batch_events_max;
        let consumer = self.config.consumer.clone();
        let mut entries = stream::read_group(
            &mut redis,
            &self.stream,
            &consumer,
            count,
            ReadFrom::OwnPending,
        )
        .await?;
        if entries.is_empty() {
            entries = self.read_new_batch(&mut redis, draining).await?;
        }
        if entries.is_empty() {
            return Ok(Step::Idle);
        }
        self.write(&mut redis, &entries).await?;
        Ok(Step::Wrote)
    }

    async fn connection(&mut self) -> Result<MultiplexedConnection, LedgerError> {
        if let Some(redis) = &self.redis {
            return Ok(redis.clone());
        }
        let mut redis = self
            .client
            .get_multiplexed_async_connection_with_config(&stores::redis_config())
            .await
            .map_err(|error| LedgerError::redis("connect", error))?;
        stream::ensure_group(&mut redis, &self.stream).await?;
        self.redis = Some(redis.clone());
        Ok(redis)
    }

    async fn claim_if_due(&mut self, redis: &mut MultiplexedConnection) -> Result<(), LedgerError> {
        let poll = Duration::from_millis(CLAIM_POLL_MS_MAX.min(self.config.claim_idle_ms));
        if self.claimed_at.is_some_and(|at| at.elapsed() < poll) {
            return Ok(());
        }
        let claim = stream::autoclaim(
            redis,
            &self.stream,
            &self.config.consumer,
            self.config.claim_idle_ms,
            self.claim_cursor,
            self.config.batch_events_max,
        )
        .await?;
        self.claimed_at = Some(Instant::now());
        self.claim_cursor = claim.next;
        self.stats
            .entries_claimed
            .fetch_add(claim.claimed as u64, Ordering::Relaxed);
        if !claim.deleted.is_empty() {
            // These events were deleted from the stream before anyone wrote them: the
            // ledger will show the gap and the reconciler will report it.
            tracing::error!(stream = %self.stream, ids = ?claim.deleted,
                "pending ledger entries were deleted before being written");
        }
        Ok(())
    }

    /// Up to `batch_events_max` new entries, waiting up to `batch_wait_ms_max` after the
    /// first one for the batch to fill (not at all while draining).
    async fn read_new_batch(
        &self,
        redis: &mut MultiplexedConnection,
        draining: bool,
    ) -> Result<Vec<StreamEntry>, LedgerError> {
        let count = self.config.batch_events_max;
        let wait_ms = if draining {
            1
        } else {
            self.config.batch_wait_ms_max
        };
        let consumer = &self.config.consumer;
        let first = ReadFrom::New { block_ms: wait_ms };
        let mut entries = stream::read_group(redis, &self.stream, consumer, count, first).await?;
        let filled_by = Instant::now() + Duration::from_millis(wait_ms);
        while !entries.is_empty() && entries.len() < count && !draining {
            let left_ms = filled_by
                .saturating_duration_since(Instant::now())
                .as_millis() as u64;
            if left_ms == 0 {
                break;
            }
            let more_from = ReadFrom::New { block_ms: left_ms };
            let more_count = count - entries.len();
            let more =
                stream::read_group(redis, &self.stream, consumer, more_count, more_from).await?;
            if more.is_empty() {
                break;
            }
            entries.extend(more);
        }
        Ok(entries)
    }

    /// Checks, writes, (maybe crashes,) acks and trims one batch.
    async fn write(
        &mut self,
        redis: &mut MultiplexedConnection,
        entries: &[StreamEntry],
    ) -> Result<(), LedgerError> {
        let events = check_batch(entries)?;
        let ids: Vec<StreamId> = entries.iter().map(|entry| entry.id).collect();
        self.batches_attempted += 1;
        self.last_batch_events = entries.len() as u64;
        if self.config.flaw == WriterFlaw::AckBeforeCommit {
            stream::ack(redis, &self.stream, &ids).await?;
        }
        if self.config.fault
            == (WriterFault::CrashBeforeCommit {
                batch: self.batches_attempted,
            })
        {
            return Err(LedgerError::InjectedCrashBeforeCommit {
                batch: self.batches_attempted,
            });
        }
        let apply = match self.config.flaw {
            WriterFlaw::ApplyRedelivered => postgres::ApplyRows::All,
            WriterFlaw::SkusWrittenByEngine => postgres::ApplyRows::InsertedSkipSkus,
            WriterFlaw::None | WriterFlaw::AckBeforeCommit => postgres::ApplyRows::Inserted,
        };
        let written = timed(
            "ledger batch transaction",
            BATCH_WRITE_TIMEOUT_MS,
            postgres::write_batch_applying(&self.pool, &events, apply),
        )
        .await?;
        let batch = self.stats.batches_committed.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats
            .events_written
            .fetch_add(written.inserted.len() as u64, Ordering::Relaxed);
        self.stats
            .duplicates_skipped
            .fetch_add(written.duplicates as u64, Ordering::Relaxed);
        if self.config.fault == (WriterFault::CrashAfterCommit { batch }) {
            return Err(LedgerError::InjectedCrash { batch });
        }
        if self.config.flaw != WriterFlaw::AckBeforeCommit {
            stream::ack(redis, &self.stream, &ids).await?;
        }
        let trimmed = stream::trim_acked(redis, &self.stream).await?;
        self.stats
            .entries_trimmed
            .fetch_add(trimmed, Ordering::Relaxed);
        Ok(())
    }
}

/// The first of the paired checks, before any write: every entry parsed, seqs strictly
/// increasing in stream order (the scripts number and append in one atomic step).
pub(crate) fn check_batch(entries: &[StreamEntry]) -> Result<Vec<LedgerEvent>, LedgerError> {
    let mut events: Vec<LedgerEvent> = Vec::with_capacity(entries.len());
    for entry in entries {
        let Some(event) = &entry.event else {
            return Err(LedgerError::bad_entry(
                entry.id,
                "deleted from the stream while pending: its event is lost",
            ));
        };
        if let Some(previous) = events.last()
            && event.seq <= previous.seq
        {
            return Err(LedgerError::Order {
                reason: format!(
                    "entry {} has seq {} after seq {}: seqs must strictly increase",
                    entry.id, event.seq, previous.seq
                ),
            });
        }
        events.push(event.clone());
    }
    Ok(events)
}
