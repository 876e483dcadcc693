//! The facade's own copy of the stock in Postgres (`--database-url`): the "Redis in
//! front of a database" design of the inventory services we studied. After every
//! state-changing operation that succeeded, the facade reads the SKU back from the
//! engine and upserts it into
//!
//! ```sql
//! inventory(sku_id text primary key, available_qty bigint, reserved_qty bigint,
//!           total_qty bigint, updated_at timestamptz)
//! ```
//!
//! `total_qty` is the units on hand, `available_qty + reserved_qty` (what the facades'
//! APIs call total), not the engine's units ever supplied. Each SKU's read-and-write
//! runs under a per-SKU lock, so the last write of a SKU carries a read taken after
//! every operation that finished before it: once the load stops, the copy equals the
//! engine, unless the `drift` plant is on (every write one unit high in `reserved_qty`
//! and `total_qty`, as a double-counted hold would be). A failed copy is logged and the
//! client still gets the engine's answer, as in the services it imitates.
//!
//! Not here: expirations the engine's sweeper makes on its own (the copy learns of them
//! at the SKU's next operation), the order book (`orders`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::engine::{EngineClient, Reply};

/// Connections to Postgres: one upsert per operation, each well under a millisecond;
/// 8 keep up with the engine on 2 cores.
const POOL_CONNECTIONS_MAX: u32 = 8;
/// Bound on waiting for a connection and on one statement.
const STATEMENT_TIMEOUT_MS: u64 = 2_000;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS inventory (
    sku_id text PRIMARY KEY,
    available_qty bigint NOT NULL,
    reserved_qty bigint NOT NULL,
    total_qty bigint NOT NULL,
    updated_at timestamptz NOT NULL)";

const UPSERT: &str =
    "INSERT INTO inventory (sku_id, available_qty, reserved_qty, total_qty, updated_at)
    VALUES ($1, $2, $3, $4, now())
    ON CONFLICT (sku_id) DO UPDATE SET available_qty = EXCLUDED.available_qty,
        reserved_qty = EXCLUDED.reserved_qty, total_qty = EXCLUDED.total_qty,
        updated_at = EXCLUDED.updated_at";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("inventory copy: connecting to postgres: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("inventory copy: creating table `inventory`: {0}")]
    CreateTable(#[source] sqlx::Error),
}

/// The Postgres copy and its per-SKU locks (one entry per SKU ever written: bounded by
/// the engine's catalogue).
#[derive(Debug)]
pub struct InventoryCopy {
    pool: PgPool,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    drift: bool,
}

impl InventoryCopy {
    /// Connects and creates the table when it is missing.
    pub async fn connect(database_url: &str, drift: bool) -> Result<InventoryCopy, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS_MAX)
            .acquire_timeout(Duration::from_millis(STATEMENT_TIMEOUT_MS))
            .connect(database_url)
            .await
            .map_err(StoreError::Connect)?;
        sqlx::query(CREATE_TABLE)
            .execute(&pool)
            .await
            .map_err(StoreError::CreateTable)?;
        Ok(InventoryCopy {
            pool,
            locks: Mutex::new(HashMap::new()),
            drift,
        })
    }

    /// Copies the engine's current stock of `sku` into the table; failures are logged.
    pub async fn sync(&self, engine: &EngineClient, sku: &str) {
        let lock = self.lock_of(sku);
        let _held = lock.lock().await;
        let stock = match engine.get_sku(sku).await {
            Ok(Reply::Done(stock)) => stock,
            Ok(Reply::Refused(refusal)) => {
                tracing::error!(sku, error = %refusal.error, "inventory copy: reading the sku back was refused");
                return;
            }
            Err(error) => {
                tracing::error!(sku, %error, "inventory copy: reading the sku back failed");
                return;
            }
        };
        let reserved = stock.reserved + i64::from(self.drift);
        let upsert = sqlx::query(UPSERT)
            .bind(sku)
            .bind(stock.available)
            .bind(reserved)
            .bind(stock.available + reserved)
            .execute(&self.pool);
        match tokio::time::timeout(Duration::from_millis(STATEMENT_TIMEOUT_MS), upsert).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(sku, %error, "inventory copy: upsert failed"),
            Err(_) => tracing::error!(
                sku,
                "inventory copy: upsert took over {STATEMENT_TIMEOUT_MS} ms"
            ),
        }
    }

    fn lock_of(&self, sku: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(locks.entry(sku.to_owned()).or_default())
    }
}
