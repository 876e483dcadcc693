//! The Postgres-only strategies (`pg-row-lock`, `pg-optimistic`): what they share.
//! Both keep stock in the `skus` table and write the reservation, its items and its
//! ledger rows in the same transaction as the stock change, so the ledger can never
//! lag or lose an event (there is no stream, no writer, no recovery). Time is the
//! Postgres server's clock (`clock_timestamp()`), read when the transaction decides
//! (a reserve's hold is dated once its lines are taken), never the caller's.
//!
//! Shared here: the pools (requests', and the expiry sweep's own), the clock, the idempotency key claim (the primary key of
//! `idempotency_keys` decides a race, never a check-then-insert), writing a new
//! reservation and a terminal transition's rows, and the operations that take no
//! contended lock (restock, adjust, reads, snapshot, ping). How a reserve keeps
//! concurrent carts from overselling — the whole difference between the strategies —
//! lives in `row_lock` and `optimistic`.
//!
//! Not here: the Redis reference (`redis_lua`), the sweeper task (`sweeper`, which
//! calls `expire_due` on these engines as on the reference).

mod optimistic;
mod row_lock;
mod rows;

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool, Postgres, Transaction};

use crate::error::EngineError;
use crate::limits::{EXPIRE_BATCH_MAX, RESTOCK_QTY_MAX, RETENTION_MS_DEFAULT, SKU_TOTAL_MAX};
use crate::outcome::{AdjustOutcome, ReserveOutcome};
use crate::reservation::{CartLine, Reservation, ReservationId, ReserveRequest, validate_sku_id};
use crate::stores::{POSTGRES_ACQUIRE_TIMEOUT_MS, POSTGRES_STATEMENT_TIMEOUT_MS};
use stockproof_model::SkuStock;

pub use optimistic::{
    OPTIMISTIC_ATTEMPTS_MAX, OptimisticCounters, OptimisticCountersSnapshot, PgOptimisticEngine,
};
pub use row_lock::PgRowLockEngine;
pub(crate) use row_lock::Take;

/// `application_name` of a Postgres strategy's pool connections: they write the
/// strategy's ledger (in each request's transaction), so `postgres-terminate-writer`
/// aims at them as it aims at the reference's ledger writer.
pub const PG_ENGINE_APPLICATION_NAME: &str = "stockproof-engine";
/// Connections of a Postgres strategy's pool. A request holds one for its whole
/// transaction, waiting on row locks included; on 2 cores, 16 backends keep the CPU
/// busy while a hot SKU's waiters queue in the pool instead of in Postgres.
pub const PG_ENGINE_POOL_CONNECTIONS_MAX: u32 = 16;
/// How long one operation may take, acquiring its connection included, before its
/// outcome is unknown: as the reference's Redis reply timeout.
pub const PG_OPERATION_TIMEOUT_MS: u64 = 5_000;

/// Expiry transactions a sweep runs at once, each on a connection of its own: an
/// expiry waits behind the row locks of in-flight requests on its SKUs, and parallel
/// ones keep a hold on a quiet SKU from waiting behind one on a hot SKU.
pub const PG_EXPIRE_WORKERS_MAX: usize = 4;
/// Connections of the sweep's own pool: its workers plus one for the due list and
/// count. The sweep never borrows from the requests' pool: under load every one of
/// those connections is queued for, and an expiry waiting its turn behind hundreds of
/// shoppers left holds Held past their deadline + grace (`mixed-cart`, issue 14).
pub const PG_SWEEP_POOL_CONNECTIONS: u32 = PG_EXPIRE_WORKERS_MAX as u32 + 1;
/// Reservations one `pg-row-lock` expiry transaction takes (`FOR UPDATE SKIP
/// LOCKED`): a short transaction commits, and releases its SKU locks, sooner.
pub const PG_EXPIRE_TRANSACTION_MAX: usize = 32;

/// How to run a Postgres strategy; every field is explicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgConfig {
    /// How long an idempotency key stays bound after its reservation's deadline.
    pub retention_ms: i64,
    pub operation_timeout_ms: u64,
    pub pool_connections_max: u32,
}

impl Default for PgConfig {
    fn default() -> PgConfig {
        PgConfig {
            retention_ms: RETENTION_MS_DEFAULT,
            operation_timeout_ms: PG_OPERATION_TIMEOUT_MS,
            pool_connections_max: PG_ENGINE_POOL_CONNECTIONS_MAX,
        }
    }
}

/// The pools and settings both strategies run on.
#[derive(Debug, Clone)]
pub(crate) struct PgCore {
    /// Requests' transactions.
    pool: PgPool,
    /// The expiry sweep's transactions, so a sweep never queues behind requests.
    sweep_pool: PgPool,
    config: PgConfig,
}

impl PgCore {
    /// A pool of `config.pool_connections_max` connections for requests and one of
    /// [`PG_SWEEP_POOL_CONNECTIONS`] for the sweep, with the stores' statement
    /// timeout; the caller has run the migrations.
    pub(crate) async fn connect(
        database_url: &str,
        config: PgConfig,
    ) -> Result<PgCore, EngineError> {
        let pool = open_pool(database_url, config.pool_connections_max).await?;
        let sweep_pool = open_pool(database_url, PG_SWEEP_POOL_CONNECTIONS).await?;
        Ok(PgCore {
            pool,
            sweep_pool,
            config,
        })
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>, EngineError> {
        self.pool.begin().await.map_err(|error| unavailable(&error))
    }

    /// A transaction on the sweep's own pool.
    pub(crate) async fn begin_sweep(&self) -> Result<Transaction<'static, Postgres>, EngineError> {
        self.sweep_pool
            .begin()
            .await
            .map_err(|error| unavailable(&error))
    }

    /// A connection of the sweep's own pool.
    pub(crate) async fn sweep_connection(&self) -> Result<PoolConnection<Postgres>, EngineError> {
        self.sweep_pool
            .acquire()
            .await
            .map_err(|error| unavailable(&error))
    }

    /// Runs a write under the operation timeout: past it, the outcome is unknown (the
    /// commit may have been in flight).
    pub(crate) async fn write<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        self.bounded(call, |waited_ms| EngineError::OutcomeUnknown {
            operation,
            waited_ms,
        })
        .await
    }

    /// Runs a read under the operation timeout: past it, Postgres is unavailable.
    pub(crate) async fn read<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        self.bounded(call, |waited_ms| EngineError::Unavailable {
            store: "postgres",
            reason: format!("{operation}: no answer within {waited_ms} ms"),
        })
        .await
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, EngineError>>,
        elapsed: impl FnOnce(u64) -> EngineError,
    ) -> Result<T, EngineError> {
        let waited_ms = self.config.operation_timeout_ms;
        match tokio::time::timeout(Duration::from_millis(waited_ms), call).await {
            Ok(result) => result,
            Err(_) => Err(elapsed(waited_ms)),
        }
    }

    /// Opens a reserve's transaction and reads the key's binding if it has a live
    /// one (then the outcome is decided: a replay or a key reused).
    pub(crate) async fn open_reserve(
        &self,
        key: &str,
        items: &[CartLine],
    ) -> Result<Result<OpenReserve, ReserveOutcome>, EngineError> {
        let text = rows::items_text(items);
        let mut transaction = self.begin().await?;
        if let Some(binding) = rows::live_binding(&mut transaction, key).await? {
            return Ok(Err(
                rows::bound_outcome(&mut transaction, binding, &text).await?
            ));
        }
        Ok(Ok(OpenReserve { transaction, text }))
    }

    /// Closes a reserve whose lines were all taken in `open`'s transaction: claims
    /// the key, writes the reservation, its items and ledger rows, and commits. A
    /// concurrent reserve that claimed the key first wins: ours rolls back.
    pub(crate) async fn close_reserve(
        &self,
        open: OpenReserve,
        request: &ReserveRequest,
        items: &[CartLine],
    ) -> Result<ReserveOutcome, EngineError> {
        let OpenReserve {
            mut transaction,
            text,
        } = open;
        // The hold is dated from now, when its lines are all taken, not from the
        // transaction's start: a reserve that queued for a hot SKU's row lock still
        // gets its whole ttl (dated from the start, 27 of 389 `mixed-cart` reserves
        // under load replied after their own deadline).
        let now_ms = rows::now_ms(&mut transaction).await?;
        let key = &request.idempotency_key;
        let deadline_ms = now_ms + request.ttl_ms;
        let expires_ms = deadline_ms.saturating_add(self.config.retention_ms);
        let claim = rows::claim_key(&mut transaction, key, &text, expires_ms, now_ms).await?;
        let id = match claim {
            Ok(id) => id,
            Err(binding) => return rows::bound_outcome(&mut transaction, binding, &text).await,
        };
        let reservation =
            rows::write_reservation(&mut transaction, &id, key, items, deadline_ms, now_ms).await?;
        commit(transaction, "reserve").await?;
        Ok(ReserveOutcome::Reserved(reservation))
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) async fn connection(&self) -> Result<PoolConnection<Postgres>, EngineError> {
        self.pool
            .acquire()
            .await
            .map_err(|error| unavailable(&error))
    }

    /// One statement, so no lock is held past it: the same for both strategies.
    pub(crate) async fn restock(&self, sku: &str, qty: i64) -> Result<SkuStock, EngineError> {
        validate_sku_id(sku)?;
        check_stock_qty("qty", qty)?;
        let restocked = self
            .write("restock", async {
                rows::restock(&mut *self.connection().await?, sku, qty).await
            })
            .await?;
        restocked.ok_or_else(|| {
            EngineError::invalid(
                "qty",
                format!("sku `{sku}` would hold more than {SKU_TOTAL_MAX} units"),
            )
        })
    }

    pub(crate) async fn adjust(&self, sku: &str, delta: i64) -> Result<AdjustOutcome, EngineError> {
        validate_sku_id(sku)?;
        check_stock_qty("delta", delta.saturating_abs())?;
        self.write("adjust", async {
            rows::adjust(&mut *self.connection().await?, sku, delta).await
        })
        .await
    }

    pub(crate) async fn sku(&self, sku: &str) -> Result<Option<SkuStock>, EngineError> {
        validate_sku_id(sku)?;
        self.read("sku", async {
            rows::sku(&mut *self.connection().await?, sku).await
        })
        .await
    }

    pub(crate) async fn reservation(
        &self,
        id: &ReservationId,
    ) -> Result<Option<Reservation>, EngineError> {
        self.read("reservation", async {
            rows::load_reservation(&mut *self.connection().await?, id).await
        })
        .await
    }

    pub(crate) async fn snapshot(&self) -> Result<BTreeMap<String, SkuStock>, EngineError> {
        self.read("snapshot", async {
            rows::snapshot(&mut *self.connection().await?).await
        })
        .await
    }

    pub(crate) async fn ping(&self) -> Result<(), EngineError> {
        self.read("ping", async {
            rows::now_ms(&mut *self.connection().await?).await.map(drop)
        })
        .await
    }
}

/// Restock and adjust amounts, bounded as the reference bounds them.
pub(crate) fn check_stock_qty(field: &'static str, qty: i64) -> Result<(), EngineError> {
    if (1..=RESTOCK_QTY_MAX).contains(&qty) {
        return Ok(());
    }
    Err(EngineError::invalid(
        field,
        format!("must be between 1 and {RESTOCK_QTY_MAX}, got {qty}"),
    ))
}

/// The sweeper's batch, bounded as the reference bounds it.
pub(crate) fn check_expire_limit(limit: usize) -> Result<(), EngineError> {
    if (1..=EXPIRE_BATCH_MAX).contains(&limit) {
        return Ok(());
    }
    Err(EngineError::invalid(
        "limit",
        format!("must be between 1 and {EXPIRE_BATCH_MAX}, got {limit}"),
    ))
}

/// A reserve's open transaction, its key free, before its lines are taken.
pub(crate) struct OpenReserve {
    pub(crate) transaction: Transaction<'static, Postgres>,
    text: String,
}

/// A pool of `connections` to a strategy's database, named
/// [`PG_ENGINE_APPLICATION_NAME`], with the stores' statement timeout.
async fn open_pool(database_url: &str, connections: u32) -> Result<PgPool, EngineError> {
    let options = database_url
        .parse::<PgConnectOptions>()
        .map_err(|error| EngineError::invalid("database_url", error.to_string()))?
        .application_name(PG_ENGINE_APPLICATION_NAME)
        .options([(
            "statement_timeout",
            POSTGRES_STATEMENT_TIMEOUT_MS.to_string(),
        )])
        .disable_statement_logging();
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_millis(POSTGRES_ACQUIRE_TIMEOUT_MS))
        .connect_with(options)
        .await
        .map_err(|error| unavailable(&error))
}

/// Commits; an error here leaves the outcome unknown (the commit may have landed).
pub(crate) async fn commit(
    transaction: Transaction<'static, Postgres>,
    operation: &'static str,
) -> Result<(), EngineError> {
    transaction.commit().await.map_err(|error| {
        tracing::warn!(%error, operation, "commit failed; the outcome is unknown");
        EngineError::OutcomeUnknown {
            operation,
            waited_ms: 0,
        }
    })
}

/// A statement that commits itself (run outside a transaction: restock, adjust)
/// failed. Only an error Postgres answered for the statement itself says it failed
/// and nothing committed; a lost connection or a terminated backend (SQLSTATE
/// classes 08 and 57) may have come after the commit, so the outcome is unknown —
/// never a 503 that promises nothing changed.
pub(crate) fn autocommit_failed(operation: &'static str, error: &sqlx::Error) -> EngineError {
    let answered = match error {
        sqlx::Error::Database(database) => !database
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
        _ => false,
    };
    if answered {
        return unavailable(error);
    }
    tracing::warn!(%error, operation, "statement failed after it was sent; the outcome is unknown");
    EngineError::OutcomeUnknown {
        operation,
        waited_ms: 0,
    }
}

/// A statement failed before the commit: the transaction is rolled back (or its
/// connection is gone, which rolls it back), so nothing changed.
pub(crate) fn unavailable(error: &sqlx::Error) -> EngineError {
    EngineError::Unavailable {
        store: "postgres",
        reason: error.to_string(),
    }
}
