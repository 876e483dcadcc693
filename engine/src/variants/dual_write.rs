//! `dual-write`: every change is made in Redis (the reference scripts), then mirrored
//! into the Postgres `skus` projection by the request path in a second, separate step,
//! with no outbox: nothing records that the Postgres write is still owed. A process
//! that dies between the two writes leaves Redis and Postgres apart for good. The
//! crash is a documented hook, [`CrashBetweenWrites`]: a mirrored write it drops is one
//! a process killed right after the Redis write never made. `stockproof serve` drops
//! every [`DUAL_WRITE_CRASH_EVERY_DEFAULT`]-th one; `stockproof run` drops the write of
//! the next confirm after each `crash-between-writes` fault instead, so the crash is on
//! the timeline and its drift cannot heal (see [`CrashBetweenWrites::arm`]).
//! (The ledger writer still copies the stream into the `ledger` table, but leaves
//! `skus` to the request path: `WriterFlaw::SkusWrittenByEngine`.)
//!
//! Models "update the cache, then the database" (or the reverse) dual writes, the
//! design the transactional-outbox pattern (microservices.io, Debezium's outbox event
//! router) exists to replace. The reference appends its ledger events in the same
//! atomic script and a writer copies them to Postgres exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;

use super::wrapper::Wrapper;
use crate::engine::InventoryEngine;
use crate::error::EngineError;
use crate::ledger::WriterFlaw;
use crate::outcome::{AdjustOutcome, ExpireReport, ReserveOutcome, Transition, TransitionOutcome};
use crate::redis_lua::RedisLuaEngine;
use crate::reservation::{CartLine, ReservationId, ReserveRequest};
use stockproof_model::SkuStock;

/// Mirrored writes between two built-in crashes (`stockproof serve`): often enough
/// that a short session drops several, rare enough that most writes reach Postgres.
pub const DUAL_WRITE_CRASH_EVERY_DEFAULT: u64 = 50;
/// The ledger writer beside this engine records the ledger and leaves `skus` to it.
pub(super) const WRITER_FLAW: WriterFlaw = WriterFlaw::SkusWrittenByEngine;
/// Bound on one mirrored Postgres statement (loopback: well under a millisecond).
const MIRROR_TIMEOUT_MS: u64 = 5_000;

/// When the `dual-write` engine "crashes" between its Redis and its Postgres write:
/// every `every`-th mirrored write (0: never), plus the next confirm's write after each
/// [`CrashBetweenWrites::arm`]. Shared between the engine and whoever injects faults.
#[derive(Debug, Default)]
pub struct CrashBetweenWrites {
    every: u64,
    /// Crashes asked for by [`CrashBetweenWrites::arm`] and not yet taken.
    armed: AtomicU64,
    mirrored: AtomicU64,
    crashes: AtomicU64,
}

impl CrashBetweenWrites {
    /// Crashes every `every`-th mirrored write (0: only when armed).
    pub fn every(every: u64) -> CrashBetweenWrites {
        CrashBetweenWrites {
            every,
            ..CrashBetweenWrites::default()
        }
    }

    /// The next confirm's mirrored write is dropped, as if the process died right
    /// before it. A confirm, because its drift can never heal: Postgres is left with
    /// one more reserved and one fewer sold, and no later delta lowers `sold`, so no
    /// later mirrored write fails a CHECK because of it. A dropped reserve can heal:
    /// Postgres holds one fewer reserved, the reservation's release can then fail
    /// `reserved >= 0` there, and both writes are missing, which adds up to no drift;
    /// an injected fault that the checks then miss by luck would prove nothing.
    pub fn arm(&self) {
        self.armed.fetch_add(1, Ordering::AcqRel);
    }

    /// Mirrored writes dropped so far.
    pub fn crashes(&self) -> u64 {
        self.crashes.load(Ordering::Acquire)
    }

    /// Whether this mirrored write dies (counts it); `confirms`: it is a confirm's.
    pub(crate) fn take(&self, confirms: bool) -> bool {
        let count = self.mirrored.fetch_add(1, Ordering::Relaxed) + 1;
        let periodic = self.every > 0 && count.is_multiple_of(self.every);
        let armed = confirms
            && self
                .armed
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |armed| {
                    armed.checked_sub(1)
                })
                .is_ok();
        let crash = periodic || armed;
        if crash {
            self.crashes.fetch_add(1, Ordering::AcqRel);
        }
        crash
    }
}

/// A change to one SKU's four counts.
type Delta = (String, [i64; 4]);

#[derive(Debug)]
pub(crate) struct DualWriteEngine {
    inner: RedisLuaEngine,
    pool: PgPool,
    crash: Arc<CrashBetweenWrites>,
}

impl DualWriteEngine {
    pub(crate) fn new(
        inner: RedisLuaEngine,
        pool: PgPool,
        crash: Arc<CrashBetweenWrites>,
    ) -> DualWriteEngine {
        DualWriteEngine { inner, pool, crash }
    }

    /// The second write: the deltas into Postgres, unless the crash hook fires.
    async fn mirror(&self, deltas: Vec<Delta>) -> Result<(), EngineError> {
        let confirms = deltas.iter().any(|(_, [_, _, sold, _])| *sold > 0);
        if self.crash.take(confirms) {
            tracing::warn!(
                crashes = self.crash.crashes(),
                "dual-write: simulated crash between the Redis and Postgres writes"
            );
            return Ok(());
        }
        for (sku, [available, reserved, sold, total]) in deltas {
            let statement = sqlx::query(
                // UPDATE first: Postgres checks an INSERT's proposed row against the
                // CHECK constraints even when ON CONFLICT turns it into an update, so a
                // reserve's delta (available -1) as an INSERT row would always fail.
                "WITH updated AS (
                   UPDATE skus SET available = skus.available + $2,
                                   reserved = skus.reserved + $3,
                                   sold = skus.sold + $4,
                                   total = skus.total + $5
                   WHERE sku = $1 RETURNING sku)
                 INSERT INTO skus (sku, available, reserved, sold, total, last_seq)
                 SELECT $1, $2, $3, $4, $5, 0 WHERE NOT EXISTS (SELECT 1 FROM updated)",
            )
            .bind(&sku)
            .bind(available)
            .bind(reserved)
            .bind(sold)
            .bind(total)
            .execute(&self.pool);
            let unavailable = |reason: String| EngineError::Unavailable {
                store: "postgres",
                reason,
            };
            tokio::time::timeout(Duration::from_millis(MIRROR_TIMEOUT_MS), statement)
                .await
                .map_err(|_| unavailable(format!("no reply within {MIRROR_TIMEOUT_MS} ms")))?
                .map_err(|error| unavailable(error.to_string()))?;
        }
        Ok(())
    }
}

/// The deltas of a reservation's lines moving by `per_unit` each.
fn lines_delta(items: &[CartLine], per_unit: [i64; 4]) -> Vec<Delta> {
    items
        .iter()
        .map(|line| (line.sku.clone(), per_unit.map(|unit| unit * line.qty)))
        .collect()
}

#[async_trait]
impl Wrapper for DualWriteEngine {
    fn inner(&self) -> &RedisLuaEngine {
        &self.inner
    }

    async fn restock(&self, sku: &str, qty: i64) -> Result<SkuStock, EngineError> {
        let stock = self.inner.restock(sku, qty).await?;
        self.mirror(vec![(sku.to_owned(), [qty, 0, 0, qty])])
            .await?;
        Ok(stock)
    }

    async fn adjust(&self, sku: &str, delta: i64) -> Result<AdjustOutcome, EngineError> {
        let outcome = self.inner.adjust(sku, delta).await?;
        if matches!(outcome, AdjustOutcome::Adjusted(_)) {
            self.mirror(vec![(sku.to_owned(), [delta, 0, 0, delta])])
                .await?;
        }
        Ok(outcome)
    }

    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome, EngineError> {
        let outcome = self.inner.reserve(request).await?;
        if let ReserveOutcome::Reserved(reservation) = &outcome {
            self.mirror(lines_delta(&reservation.items, [-1, 1, 0, 0]))
                .await?;
        }
        Ok(outcome)
    }

    async fn transition(
        &self,
        id: &ReservationId,
        transition: Transition,
    ) -> Result<TransitionOutcome, EngineError> {
        let outcome = self.inner.transition(id, transition).await?;
        if let TransitionOutcome::Applied(reservation) = &outcome {
            let per_unit = match transition {
                Transition::Confirm => [0, -1, 1, 0],
                Transition::Release => [1, -1, 0, 0],
            };
            self.mirror(lines_delta(&reservation.items, per_unit))
                .await?;
        }
        Ok(outcome)
    }

    async fn expire_due(&self, limit: usize) -> Result<ExpireReport, EngineError> {
        let report = self.inner.expire_due(limit).await?;
        for id in &report.expired {
            if let Some(reservation) = self.inner.reservation(id).await? {
                self.mirror(lines_delta(&reservation.items, [1, -1, 0, 0]))
                    .await?;
            }
        }
        Ok(report)
    }
}
