//! [`PgOptimisticEngine`], the `pg-optimistic` strategy: Postgres only, optimistic
//! concurrency on a `version` column — the design of the widely copied Go inventory
//! domains (a `Stock` aggregate with a version; the repository reads it, checks the
//! quantity in code, and writes it back only if nobody wrote in between):
//!
//! ```sql
//! SELECT available, version FROM skus WHERE sku = $s;             -- no lock
//! UPDATE skus SET available = available - $q, reserved = reserved + $q,
//!                 version = version + 1
//!  WHERE sku = $s AND version = $v;                               -- 0 rows: conflict
//! ```
//!
//! A cart's lines are written in SKU order in one transaction; a line whose UPDATE
//! finds another version is a conflict: the line is read and written again, at most
//! [`OPTIMISTIC_ATTEMPTS_MAX`] times per line (the lines already written stay
//! written: retrying the whole transaction would give up their places and starve
//! multi-line carts and the cleanup job behind single-unit buyers). Conflicts and
//! exhausted budgets are counted ([`OptimisticCounters`], in the service's metrics and
//! its shutdown log); an exhausted budget is [`EngineError::Unavailable`] — nothing
//! changed, HTTP 503 `unavailable`, the client may retry — never a silent failure.
//!
//! Reservations: the row in `reservation_items` is unique per (reservation, SKU),
//! and a reservation is bound to its idempotency key (the order) by the primary key
//! of `idempotency_keys`, so a key holds each SKU at most once however its retries
//! race. A transition is a compare-and-set on the reservation's state (`UPDATE …
//! WHERE state = 'held'`); the winner then returns or sells the reservation's own
//! units with a plain increment (no decision depends on a value read, so no version
//! check; the version is still bumped, so a buyer who read before retries).
//! The cleanup job for expired holds is the service's sweeper calling
//! [`InventoryEngine::expire_due`]: due reservations, read without locks, are expired
//! in chunks by the same compare-and-set (so a confirm and the cleanup never both
//! win), each chunk's units returned in one statement, a few chunks at a time.
//! Conflicts are therefore a buyer's (reserve) cost only; an earlier version that
//! also versioned the cleanup's writes let expiries fall seconds behind a hot SKU.
//!
//! The `version` column lives on `skus` (migration `…_postgres_strategies.sql`, default
//! 0): the reference never reads it, and its writer names the columns it writes, so
//! the reference is unchanged by it.
//!
//! Not here: the SQL both Postgres strategies share (`super::rows`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures_util::StreamExt;
use sqlx::PgConnection;

use super::rows::{self, Movement};
use super::{
    PG_EXPIRE_TRANSACTION_MAX, PG_EXPIRE_WORKERS_MAX, PgConfig, PgCore, check_expire_limit, commit,
    unavailable,
};
use crate::engine::InventoryEngine;
use crate::error::EngineError;
use crate::outcome::{AdjustOutcome, ExpireReport, ReserveOutcome, Transition, TransitionOutcome};
use crate::reservation::{CartLine, Reservation, ReservationId, ReservationState, ReserveRequest};
use stockproof_model::SkuStock;

/// Versioned writes of one line before the operation gives up with a retryable
/// refusal. A conflict means another transaction committed a change of the row in
/// between, so every round someone wins; 32 rounds let a line through a few dozen
/// concurrent writers of its SKU, and bound the work one request can cost.
pub const OPTIMISTIC_ATTEMPTS_MAX: u32 = 32;

/// What the optimistic strategy lost to concurrency so far.
#[derive(Debug, Default)]
pub struct OptimisticCounters {
    conflicts: AtomicU64,
    exhausted: AtomicU64,
}

/// [`OptimisticCounters`] read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptimisticCountersSnapshot {
    /// Attempts rolled back because a row's version had moved.
    pub conflicts: u64,
    /// Reserves refused (503) after [`OPTIMISTIC_ATTEMPTS_MAX`] conflicts on a line.
    pub exhausted: u64,
}

impl OptimisticCounters {
    pub fn read(&self) -> OptimisticCountersSnapshot {
        OptimisticCountersSnapshot {
            conflicts: self.conflicts.load(Ordering::Relaxed),
            exhausted: self.exhausted.load(Ordering::Relaxed),
        }
    }
}

/// What a versioned write of one line came to.
enum Versioned {
    Moved,
    /// A take found fewer units than asked (`None`: no such SKU).
    Short(Option<i64>),
}

/// The `pg-optimistic` strategy over one pool.
#[derive(Debug)]
pub struct PgOptimisticEngine {
    core: PgCore,
    counters: Arc<OptimisticCounters>,
}

impl PgOptimisticEngine {
    /// Connects a pool to a migrated database.
    pub async fn connect(database_url: &str, config: PgConfig) -> Result<Self, EngineError> {
        Ok(PgOptimisticEngine {
            core: PgCore::connect(database_url, config).await?,
            counters: Arc::default(),
        })
    }

    /// Conflicts and exhausted budgets, shared with the service's metrics.
    pub fn counters(&self) -> Arc<OptimisticCounters> {
        Arc::clone(&self.counters)
    }

    /// Reads `line`'s SKU with its version and writes `movement` only if the version
    /// is unchanged; on a conflict reads again, at most [`OPTIMISTIC_ATTEMPTS_MAX`]
    /// times. Past the budget: [`EngineError::Unavailable`] (the caller's transaction
    /// rolls back, nothing changed, the client may retry).
    async fn versioned(
        &self,
        connection: &mut PgConnection,
        operation: &'static str,
        line: &CartLine,
        movement: Movement,
    ) -> Result<Versioned, EngineError> {
        for _ in 0..OPTIMISTIC_ATTEMPTS_MAX {
            let version = match rows::available_and_version(connection, &line.sku).await? {
                None => return Ok(Versioned::Short(None)),
                Some((available, _)) if movement == Movement::Take && available < line.qty => {
                    return Ok(Versioned::Short(Some(available)));
                }
                Some((_, version)) => version,
            };
            let updated = sqlx::query(movement.versioned())
                .bind(&line.sku)
                .bind(line.qty)
                .bind(version)
                .execute(&mut *connection)
                .await
                .map_err(|error| unavailable(&error))?;
            if updated.rows_affected() == 1 {
                return Ok(Versioned::Moved);
            }
            self.counters.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        self.counters.exhausted.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            operation,
            sku = %line.sku,
            attempts = OPTIMISTIC_ATTEMPTS_MAX,
            "optimistic retry budget exhausted; refused with 503"
        );
        Err(EngineError::Unavailable {
            store: "postgres",
            reason: format!(
                "{operation}: {OPTIMISTIC_ATTEMPTS_MAX} writes of sku `{}` lost to concurrent writes; nothing changed, retry",
                line.sku
            ),
        })
    }

    async fn reserve_in_transaction(
        &self,
        request: &ReserveRequest,
        items: &[CartLine],
    ) -> Result<ReserveOutcome, EngineError> {
        let mut open = match self
            .core
            .open_reserve(&request.idempotency_key, items)
            .await?
        {
            Ok(open) => open,
            Err(decided) => return Ok(decided),
        };
        for line in items {
            match self
                .versioned(&mut open.transaction, "reserve", line, Movement::Take)
                .await?
            {
                Versioned::Moved => {}
                Versioned::Short(None) => {
                    return Ok(ReserveOutcome::UnknownSku {
                        sku: line.sku.clone(),
                    });
                }
                Versioned::Short(Some(available)) => {
                    return Ok(ReserveOutcome::Insufficient {
                        sku: line.sku.clone(),
                        requested: line.qty,
                        available,
                    });
                }
            }
        }
        self.core.close_reserve(open, request, items).await
    }

    async fn transition_in_transaction(
        &self,
        id: &ReservationId,
        transition: Transition,
    ) -> Result<TransitionOutcome, EngineError> {
        let target = transition.target_state();
        let name = super::row_lock::transition_name(transition);
        let mut transaction = self.core.begin().await?;
        let Some(reservation) = rows::load_reservation(&mut transaction, id).await? else {
            return Ok(TransitionOutcome::UnknownReservation);
        };
        let now_ms = rows::now_ms(&mut transaction).await?;
        let ending = if reservation.deadline_ms <= now_ms {
            ReservationState::Expired
        } else {
            target
        };
        if reservation.state != ReservationState::Held
            || !self
                .end_held(&mut transaction, &reservation, ending, now_ms)
                .await?
        {
            // Another transition won (before our read, or by the compare-and-set).
            return self.settled(&mut transaction, id, target).await;
        }
        commit(transaction, name).await?;
        Ok(match ending {
            ReservationState::Expired => TransitionOutcome::NotHeld { state: ending },
            _ => TransitionOutcome::Applied(Reservation {
                state: ending,
                ..reservation
            }),
        })
    }

    /// The answer to a transition that found the reservation no longer Held: a
    /// repeat of the winning call is a success, a losing one is not held.
    async fn settled(
        &self,
        connection: &mut PgConnection,
        id: &ReservationId,
        target: ReservationState,
    ) -> Result<TransitionOutcome, EngineError> {
        Ok(match rows::load_reservation(connection, id).await? {
            None => TransitionOutcome::UnknownReservation,
            Some(now) if now.state == target => TransitionOutcome::AlreadyApplied(now),
            Some(now) => TransitionOutcome::NotHeld { state: now.state },
        })
    }

    /// Held → `ending` as a compare-and-set on the state (false: another transition
    /// won, nothing written), then each SKU's units returned or sold.
    async fn end_held(
        &self,
        connection: &mut PgConnection,
        reservation: &Reservation,
        ending: ReservationState,
        now_ms: i64,
    ) -> Result<bool, EngineError> {
        let ids = std::slice::from_ref(&reservation.id);
        if rows::terminate(connection, ids, ending, now_ms)
            .await?
            .len()
            != 1
        {
            return Ok(false);
        }
        // The compare-and-set decided who ends the reservation; its units are its
        // own, so they go back (or are sold) without a version check: a plain
        // increment that still bumps the version, so buyers' reads go stale.
        for line in &reservation.items {
            let movement = Movement::ending_in(ending);
            let moved = rows::move_stock(connection, &line.sku, line.qty, movement).await?;
            super::row_lock::expect_row(moved, &line.sku)?;
        }
        Ok(true)
    }

    /// The cleanup job's batch: the due reservations read without locks, split into
    /// transactions of at most [`PG_EXPIRE_TRANSACTION_MAX`], [`PG_EXPIRE_WORKERS_MAX`]
    /// at a time.
    async fn expire_batch(&self, limit: usize) -> Result<ExpireReport, EngineError> {
        let mut connection = self.core.sweep_connection().await?;
        let now_ms = rows::now_ms(&mut connection).await?;
        let due = rows::due(&mut connection, now_ms, limit, false).await?;
        drop(connection);
        let mut expired = Vec::with_capacity(due.len());
        // Owned chunks: a future borrowing a slice of `due` is not `Send` for every
        // lifetime the trait's boxed future needs.
        let owned: Vec<Vec<ReservationId>> = due
            .chunks(PG_EXPIRE_TRANSACTION_MAX)
            .map(<[ReservationId]>::to_vec)
            .collect();
        let mut chunks = futures_util::stream::iter(owned)
            .map(|chunk| async move { self.expire_chunk(&chunk).await })
            .buffer_unordered(PG_EXPIRE_WORKERS_MAX);
        while let Some(outcome) = chunks.next().await {
            match outcome {
                Ok(ids) => expired.extend(ids),
                // Rolled back (nothing changed): left for the next sweep.
                Err(EngineError::Unavailable { reason, .. }) => {
                    tracing::warn!(%reason, "expiry chunk rolled back; left for the next sweep");
                }
                Err(error) => return Err(error),
            }
        }
        let mut connection = self.core.sweep_connection().await?;
        let still_due = rows::due_count(&mut connection, now_ms).await?;
        Ok(ExpireReport { expired, still_due })
    }

    /// One cleanup transaction: a compare-and-set of `ids` Held → Expired (those a
    /// confirm or release ended meanwhile are left alone), then their SKUs' units
    /// returned in one statement (rows locked in SKU order first).
    async fn expire_chunk(&self, ids: &[ReservationId]) -> Result<Vec<ReservationId>, EngineError> {
        let mut transaction = self.core.begin_sweep().await?;
        let now_ms = rows::now_ms(&mut transaction).await?;
        let won = rows::terminate(&mut transaction, ids, ReservationState::Expired, now_ms).await?;
        if won.is_empty() {
            return Ok(won);
        }
        let lines = rows::items_by_sku(&mut transaction, &won).await?;
        let moved = rows::return_sorted(&mut transaction, &lines).await?;
        super::row_lock::expect_row(moved == lines.len() as u64, "expired chunk's skus")?;
        commit(transaction, "expire").await?;
        Ok(won)
    }
}

#[async_trait]
impl InventoryEngine for PgOptimisticEngine {
    async fn restock(&self, sku: &str, qty: i64) -> Result<SkuStock, EngineError> {
        self.core.restock(sku, qty).await
    }

    async fn adjust(&self, sku: &str, delta: i64) -> Result<AdjustOutcome, EngineError> {
        self.core.adjust(sku, delta).await
    }

    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome, EngineError> {
        let items = request.validate()?;
        self.core
            .write("reserve", self.reserve_in_transaction(request, &items))
            .await
    }

    async fn transition(
        &self,
        id: &ReservationId,
        transition: Transition,
    ) -> Result<TransitionOutcome, EngineError> {
        self.core
            .write(
                super::row_lock::transition_name(transition),
                self.transition_in_transaction(id, transition),
            )
            .await
    }

    async fn expire_due(&self, limit: usize) -> Result<ExpireReport, EngineError> {
        check_expire_limit(limit)?;
        self.core.write("expire", self.expire_batch(limit)).await
    }

    async fn sku(&self, sku: &str) -> Result<Option<SkuStock>, EngineError> {
        self.core.sku(sku).await
    }

    async fn reservation(&self, id: &ReservationId) -> Result<Option<Reservation>, EngineError> {
        self.core.reservation(id).await
    }

    async fn snapshot(&self) -> Result<BTreeMap<String, SkuStock>, EngineError> {
        self.core.snapshot().await
    }

    async fn ping(&self) -> Result<(), EngineError> {
        self.core.ping().await
    }
}
