//! [`PgRowLockEngine`], the `pg-row-lock` strategy: Postgres only, one transaction per
//! operation, and the database's row locks keep concurrent carts apart — the design
//! of most monolith shops (a Rails, Django or Spring service on one Postgres):
//!
//! ```sql
//! UPDATE skus SET available = available - $q, reserved = reserved + $q
//!  WHERE sku = $s AND available >= $q
//! ```
//!
//! One such guarded UPDATE per cart line, in SKU order (so two carts never wait on
//! each other in a cycle: no deadlocks), each taking its row's lock until the commit;
//! a line that updates no row refuses the whole cart (rollback: all or nothing). The
//! reservation, its items, its ledger rows and the idempotency key are written in the
//! same transaction. Confirm and release lock the reservation row (`FOR UPDATE`) and
//! then the SKU rows in SKU order; the expiry sweep takes due reservations with `FOR
//! UPDATE SKIP LOCKED` in short transactions, several at once, so it never waits
//! behind (or expires under) a confirm in flight. Lock orders: a reserve takes its SKU
//! rows sorted, then its key row; a transition its reservation row, then its SKU rows
//! sorted; an expiry its reservation rows, then their SKU rows sorted (one `SELECT …
//! ORDER BY sku FOR UPDATE`). SKU rows always come last and sorted, and no one waits
//! for a reservation or key row while holding a SKU row another needs first: no cycle.
//!
//! Not here: the sweeper task (`crate::sweeper`), the SQL both Postgres strategies
//! share (`super::rows`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::PgConnection;

use super::rows::{self, Movement};
use super::{
    PG_EXPIRE_TRANSACTION_MAX, PG_EXPIRE_WORKERS_MAX, PgConfig, PgCore, check_expire_limit, commit,
};
use crate::engine::InventoryEngine;
use crate::error::EngineError;
use crate::outcome::{AdjustOutcome, ExpireReport, ReserveOutcome, Transition, TransitionOutcome};
use crate::reservation::{CartLine, Reservation, ReservationId, ReservationState, ReserveRequest};
use stockproof_model::SkuStock;

/// How a reserve takes a cart line's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// The guarded UPDATE: the check and the change are one statement under the lock.
    Guarded,
    /// Reads `available`, then UPDATEs without the guard: the `pg-no-guard` variant's
    /// flaw (two transactions can both read enough and both take).
    ReadThenWrite,
}

/// The `pg-row-lock` strategy over one pool.
#[derive(Debug)]
pub struct PgRowLockEngine {
    core: PgCore,
    take: Take,
}

impl PgRowLockEngine {
    /// Connects a pool to a migrated database.
    pub async fn connect(database_url: &str, config: PgConfig) -> Result<Self, EngineError> {
        Self::connect_with(database_url, config, Take::Guarded).await
    }

    pub(crate) async fn connect_with(
        database_url: &str,
        config: PgConfig,
        take: Take,
    ) -> Result<Self, EngineError> {
        let core = PgCore::connect(database_url, config).await?;
        Ok(PgRowLockEngine { core, take })
    }

    pub(crate) fn core(&self) -> &PgCore {
        &self.core
    }

    /// Takes `line`'s units; false when there are not enough (or no such SKU).
    async fn take(
        &self,
        connection: &mut PgConnection,
        line: &CartLine,
    ) -> Result<bool, EngineError> {
        if self.take == Take::ReadThenWrite {
            match rows::available_and_version(connection, &line.sku).await? {
                Some((available, _)) if available >= line.qty => {}
                _ => return Ok(false),
            }
            return rows::move_stock(connection, &line.sku, line.qty, Movement::Take).await;
        }
        let updated = sqlx::query(rows::GUARDED_TAKE)
            .bind(&line.sku)
            .bind(line.qty)
            .execute(connection)
            .await
            .map_err(|error| super::unavailable(&error))?;
        Ok(updated.rows_affected() == 1)
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
            if !self.take(&mut open.transaction, line).await? {
                return rows::refusal(&mut open.transaction, line).await;
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
        let mut transaction = self.core.begin().await?;
        let Some(reservation) = rows::load_reservation_with(&mut transaction, id, true).await?
        else {
            return Ok(TransitionOutcome::UnknownReservation);
        };
        if reservation.state == target {
            return Ok(TransitionOutcome::AlreadyApplied(reservation));
        }
        if reservation.state != ReservationState::Held {
            return Ok(TransitionOutcome::NotHeld {
                state: reservation.state,
            });
        }
        let now_ms = rows::now_ms(&mut transaction).await?;
        // The deadline wins over a late confirm or release: it expires here.
        let ending = if reservation.deadline_ms <= now_ms {
            ReservationState::Expired
        } else {
            target
        };
        for line in &reservation.items {
            let moved = rows::move_stock(
                &mut transaction,
                &line.sku,
                line.qty,
                Movement::ending_in(ending),
            )
            .await?;
            expect_row(moved, &line.sku)?;
        }
        let won =
            rows::terminate(&mut transaction, std::slice::from_ref(id), ending, now_ms).await?;
        expect_row(won.len() == 1, &id.0)?;
        commit(transaction, transition_name(transition)).await?;
        Ok(match ending {
            ReservationState::Expired => TransitionOutcome::NotHeld { state: ending },
            _ => TransitionOutcome::Applied(Reservation {
                state: ending,
                ..reservation
            }),
        })
    }

    /// Up to `limit` due reservations in [`PG_EXPIRE_WORKERS_MAX`] concurrent
    /// transactions of at most [`PG_EXPIRE_TRANSACTION_MAX`] each: `FOR UPDATE SKIP
    /// LOCKED` gives each transaction rows no other holds.
    async fn expire_batch(&self, limit: usize) -> Result<ExpireReport, EngineError> {
        let per_transaction = limit.min(PG_EXPIRE_TRANSACTION_MAX);
        let workers = limit.div_ceil(per_transaction).min(PG_EXPIRE_WORKERS_MAX);
        let sweeps = (0..workers).map(|_| self.expire_in_transaction(per_transaction));
        let mut expired = Vec::new();
        let mut now_ms = 0;
        for sweep in futures_util::future::join_all(sweeps).await {
            let (at_ms, ids) = sweep?;
            now_ms = now_ms.max(at_ms);
            expired.extend(ids);
        }
        let mut connection = self.core.sweep_connection().await?;
        let still_due = rows::due_count(&mut connection, now_ms).await?;
        Ok(ExpireReport { expired, still_due })
    }

    /// One expiry transaction: the server's clock and the reservations it expired.
    async fn expire_in_transaction(
        &self,
        limit: usize,
    ) -> Result<(i64, Vec<ReservationId>), EngineError> {
        let mut transaction = self.core.begin_sweep().await?;
        let now_ms = rows::now_ms(&mut transaction).await?;
        let due = rows::due(&mut transaction, now_ms, limit, true).await?;
        if due.is_empty() {
            return Ok((now_ms, due));
        }
        let lines = rows::items_by_sku(&mut transaction, &due).await?;
        let moved = rows::return_sorted(&mut transaction, &lines).await?;
        expect_row(moved == lines.len() as u64, "expired batch's skus")?;
        let expired =
            rows::terminate(&mut transaction, &due, ReservationState::Expired, now_ms).await?;
        expect_row(expired.len() == due.len(), "expired batch")?;
        commit(transaction, "expire").await?;
        Ok((now_ms, due))
    }
}

/// A row this transaction holds the lock of must have been there.
pub(crate) fn expect_row(found: bool, what: &str) -> Result<(), EngineError> {
    if found {
        Ok(())
    } else {
        Err(EngineError::Protocol {
            store: "postgres",
            reason: format!("{what}: a locked row changed under its lock"),
        })
    }
}

pub(crate) const fn transition_name(transition: Transition) -> &'static str {
    match transition {
        Transition::Confirm => "confirm",
        Transition::Release => "release",
    }
}

#[async_trait]
impl InventoryEngine for PgRowLockEngine {
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
                transition_name(transition),
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
