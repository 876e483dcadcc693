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
//! APIs call total), not the engine's units ever supplied. Each SKU's writes run one at
//! a time, each reading the engine after every operation it covers finished, so the
//! last write of a SKU carries a read taken after every operation that finished before
//! it: once the load stops, the copy equals the engine, unless the `drift` plant is on (every write one unit high in `reserved_qty`
//! and `total_qty`, as a double-counted hold would be). A failed copy is logged and the
//! client still gets the engine's answer, as in the services it imitates.
//!
//! Concurrent operations on one SKU share writes (a group commit, see
//! [`InventoryCopy::sync`]): with one lock held across each read and upsert instead, a
//! flash sale queued its confirms behind ~100 writes and they took 2 s (p50 358 ms,
//! against 4.5 ms on the engine alone).
//!
//! Holds the engine expires on its own reach the copy through a refresher that copies
//! every SKU with held units again every [`REFRESH_INTERVAL_MS`].
//!
//! Not here: the order book (`orders`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::watch;

use crate::engine::{EngineClient, Reply};

/// Connections to Postgres: one upsert per operation, each well under a millisecond;
/// 8 keep up with the engine on 2 cores.
const POOL_CONNECTIONS_MAX: u32 = 8;
/// How often SKUs with held units are copied again, so that holds the engine expires
/// on its own reach the copy (a real service's expiry job): well under a scenario's
/// expiry grace, and one engine read and one upsert per such SKU each time.
pub const REFRESH_INTERVAL_MS: u64 = 250;
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

/// The Postgres copy and its per-SKU write slots (one per SKU ever written: bounded by
/// the engine's catalogue).
#[derive(Debug)]
pub struct InventoryCopy {
    engine: EngineClient,
    pool: PgPool,
    slots: Mutex<HashMap<String, Arc<SkuSlot>>>,
    drift: bool,
}

impl InventoryCopy {
    /// Connects, creates the table when it is missing, and starts the refresher (which
    /// runs as long as the process).
    pub async fn start(
        database_url: &str,
        drift: bool,
        engine: EngineClient,
    ) -> Result<Arc<InventoryCopy>, StoreError> {
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
        let copy = Arc::new(InventoryCopy {
            engine,
            pool,
            slots: Mutex::new(HashMap::new()),
            drift,
        });
        tokio::spawn(refresh(Arc::clone(&copy)));
        Ok(copy)
    }

    /// Copies the engine's current stock of `sku` into the table, and returns once a
    /// write whose read began after this call has finished (failures are logged).
    /// Concurrent callers share writes (a group commit): a caller that finds a write
    /// running waits for it, then for at most one more that covers it.
    pub async fn sync(&self, sku: &str) {
        let slot = self.slot_of(sku);
        let ticket = slot.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut done = slot.done.subscribe();
        loop {
            if *done.borrow_and_update() >= ticket {
                return;
            }
            if let Ok(_writer) = slot.writer.try_lock() {
                // Every ticket up to here was taken after its operation finished, so
                // the read below sees every one of those operations.
                let covered = slot.requested.load(Ordering::SeqCst);
                self.write(sku).await;
                slot.done.send_modify(|done| *done = (*done).max(covered));
                continue;
            }
            // The running write ends with a send (the sender lives in `slot`).
            let _ = done.changed().await;
        }
    }

    /// One read of the engine and one upsert.
    async fn write(&self, sku: &str) {
        let stock = match self.engine.get_sku(sku).await {
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
        self.slot_of(sku)
            .held
            .store(stock.reserved > 0, Ordering::SeqCst);
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

    fn slot_of(&self, sku: &str) -> Arc<SkuSlot> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(slots.entry(sku.to_owned()).or_default())
    }
}

/// One SKU's writes: tickets handed out, tickets covered by a finished write, and the
/// lock that lets one write run at a time (so writes land in the order of their reads).
#[derive(Debug)]
struct SkuSlot {
    /// The engine held units of it at the last read: the refresher copies it again.
    held: AtomicBool,
    requested: AtomicU64,
    done: watch::Sender<u64>,
    writer: tokio::sync::Mutex<()>,
}

impl Default for SkuSlot {
    fn default() -> SkuSlot {
        SkuSlot {
            held: AtomicBool::new(false),
            requested: AtomicU64::new(0),
            done: watch::Sender::new(0),
            writer: tokio::sync::Mutex::new(()),
        }
    }
}

/// Copies every SKU with held units again, every [`REFRESH_INTERVAL_MS`].
async fn refresh(copy: Arc<InventoryCopy>) {
    let mut interval = tokio::time::interval(Duration::from_millis(REFRESH_INTERVAL_MS));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let held: Vec<String> = {
            let slots = copy
                .slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            slots
                .iter()
                .filter(|(_, slot)| slot.held.load(Ordering::SeqCst))
                .map(|(sku, _)| sku.clone())
                .collect()
        };
        for sku in held {
            copy.sync(&sku).await;
        }
    }
}
