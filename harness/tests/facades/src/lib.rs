//! Two small inventory services with API shapes of their own, each in front of the
//! reference engine (`stockproof serve`), so that stockproof's adapters (docs/adapters.md)
//! can be proven on services that do not speak its contract (issue 13, item 6):
//!
//! - [`Shape::OrderNo`] (`order_no`): order-number keyed, answers in a
//!   `{code, message, data}` envelope with HTTP 200 for business refusals;
//! - [`Shape::ProductRest`] (`product_rest`): product / order REST with numeric
//!   business codes and HTTP statuses of its own, `total = available + reserved`, no
//!   `sold`.
//!
//! Each may keep its own copy of the stock in Postgres (`store`), and each can carry a
//! planted bug ([`Plant`]) that stockproof must catch. They are test fixtures: they
//! translate honestly (unless a plant says otherwise) and add no stock logic of their
//! own beyond what their API shape needs.
//!
//! Not here: the command line (`main.rs`), the adapters (top-level `adapters/`).

pub mod engine;
pub mod order_no;
pub mod orders;
pub mod product_rest;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;

use crate::engine::{EngineClient, EngineError};
use crate::orders::OrderBook;
use crate::store::{InventoryCopy, StoreError};

/// Request bodies: a one-line reserve is under 200 bytes; 64 KiB is generous and
/// still bounds what a client can make us buffer.
pub const BODY_BYTES_MAX: usize = 64 * 1024;
/// The hold the order-no shape asks the engine for, and the product-rest shape's
/// default when a reserve names no `expire_seconds`: 15 minutes, a checkout's usual
/// hold. The order-no API has no TTL field, so its adapter declares `lacks = ["ttl"]`.
pub const HOLD_TTL_MS_DEFAULT: i64 = 15 * 60 * 1_000;
/// The engine's bounds on a hold (DESIGN §6).
pub const HOLD_TTL_MS_MIN: i64 = 1;
pub const HOLD_TTL_MS_MAX: i64 = 86_400_000;

/// Which API the facade serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    OrderNo,
    ProductRest,
}

/// A deliberately planted bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Plant {
    /// order-no: a replayed orderNo reserves again under a fresh engine key (a double
    /// hold), answered as a normal success.
    IgnoreOrderNo,
    /// Both shapes, with `--database-url`: every write of the Postgres copy is one unit
    /// high in `reserved_qty` (and so in `total_qty`): the copy drifts from the engine.
    Drift,
    /// product-rest: a release marks the order cancelled but never releases the hold,
    /// so its units stay off the shelf until the engine's TTL expires them.
    ReleaseLeaks,
}

impl Plant {
    fn fits(self, shape: Shape) -> bool {
        match self {
            Plant::IgnoreOrderNo => shape == Shape::OrderNo,
            Plant::Drift => true,
            Plant::ReleaseLeaks => shape == Shape::ProductRest,
        }
    }
}

/// What to serve.
#[derive(Debug, Clone)]
pub struct FacadeConfig {
    pub shape: Shape,
    /// The engine's base URL, e.g. `http://127.0.0.1:8080`.
    pub engine_url: String,
    pub listen: SocketAddr,
    /// The facade's own Postgres copy of the stock; none when absent.
    pub database_url: Option<String>,
    pub plants: Vec<Plant>,
    pub hold_ttl_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum FacadeError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("plant `{plant:?}` does not apply to shape `{shape:?}`")]
    PlantShape { plant: Plant, shape: Shape },
    #[error("plant `drift` needs the Postgres copy: pass --database-url")]
    DriftWithoutDatabase,
    #[error("hold ttl {hold_ttl_ms} ms is outside {HOLD_TTL_MS_MIN}..={HOLD_TTL_MS_MAX} ms")]
    HoldTtl { hold_ttl_ms: i64 },
    #[error("listening on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What every route of either shape shares.
#[derive(Debug)]
pub struct Facade {
    pub engine: EngineClient,
    pub orders: OrderBook,
    copy: Option<Arc<InventoryCopy>>,
    plants: Vec<Plant>,
    pub hold_ttl_ms: i64,
    /// Numbers the fresh engine keys of the `ignore-order-no` plant.
    fresh_keys: AtomicU64,
}

impl Facade {
    pub fn planted(&self, plant: Plant) -> bool {
        self.plants.contains(&plant)
    }

    /// A key never used before, for the `ignore-order-no` plant.
    pub fn fresh_key(&self, order_no: &str) -> String {
        let number = self.fresh_keys.fetch_add(1, Ordering::Relaxed);
        format!("{order_no}:{number}")
    }

    /// Copies the SKU's stock into the Postgres copy, when there is one.
    pub async fn copy_stock(&self, sku: &str) {
        if let Some(copy) = &self.copy {
            copy.sync(sku).await;
        }
    }
}

/// A bound socket and the server to run on it.
#[derive(Debug)]
pub struct Bound {
    pub listener: TcpListener,
    pub router: Router,
}

/// Checks the configuration, connects the Postgres copy, binds the socket.
pub async fn bind(config: FacadeConfig) -> Result<Bound, FacadeError> {
    if let Some(plant) = config.plants.iter().find(|plant| !plant.fits(config.shape)) {
        return Err(FacadeError::PlantShape {
            plant: *plant,
            shape: config.shape,
        });
    }
    if config.plants.contains(&Plant::Drift) && config.database_url.is_none() {
        return Err(FacadeError::DriftWithoutDatabase);
    }
    if !(HOLD_TTL_MS_MIN..=HOLD_TTL_MS_MAX).contains(&config.hold_ttl_ms) {
        return Err(FacadeError::HoldTtl {
            hold_ttl_ms: config.hold_ttl_ms,
        });
    }
    let engine = EngineClient::new(&config.engine_url)?;
    let drift = config.plants.contains(&Plant::Drift);
    let copy = match &config.database_url {
        Some(url) => Some(InventoryCopy::start(url, drift, engine.clone()).await?),
        None => None,
    };
    let facade = Arc::new(Facade {
        engine,
        orders: OrderBook::default(),
        copy,
        plants: config.plants,
        hold_ttl_ms: config.hold_ttl_ms,
        fresh_keys: AtomicU64::new(0),
    });
    let routes = match config.shape {
        Shape::OrderNo => order_no::router(facade),
        Shape::ProductRest => product_rest::router(facade),
    };
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| FacadeError::Listen {
                address: config.listen,
                source,
            })?;
    let router = routes
        .route("/health", axum::routing::get(health))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX));
    Ok(Bound { listener, router })
}

/// `GET /health`: the process is up (the engine is not asked; a load tool waits on it
/// before seeding).
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "UP" }))
}
