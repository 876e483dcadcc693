//! stockproof's reference inventory engine (DESIGN §1–§5): the domain types (from
//! `stockproof-model`, re-exported), the [`InventoryEngine`] trait every strategy
//! implements, the Redis key layout and the ledger stream; the Redis Lua engine, the Postgres ledger writer, the expiry
//! sweeper and the reconciler build on these. Depends on no part of the harness.

mod engine;
mod error;
pub mod http;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod lua;
mod outcome;
pub mod pg;
pub mod reconciler;
pub mod recovery;
mod redis_lua;
mod reservation;
pub mod service;
pub mod stores;
pub mod strategy;
pub mod sweeper;
pub mod variants;

pub use engine::InventoryEngine;
pub use error::EngineError;
pub use keys::ShopKeys;
pub use outcome::{AdjustOutcome, ExpireReport, ReserveOutcome, Transition, TransitionOutcome};
pub use redis_lua::{
    CONNECT_TIMEOUT_MS_DEFAULT, RESPONSE_TIMEOUT_MS_DEFAULT, RETENTION_MS_MAX, RETENTION_MS_MIN,
    RedisLuaConfig, RedisLuaEngine, SHOP_BYTES_MAX,
};
pub use reservation::{
    CartLine, Reservation, ReservationId, ReservationState, ReserveRequest,
    validate_idempotency_key, validate_sku_id,
};
pub use stockproof_model::{SkuStock, StockViolation};
pub use strategy::{Strategy, UnknownStrategy};
pub use sweeper::{Sweeper, SweeperConfig, SweeperCounters};
