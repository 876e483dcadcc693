//! stockproof's reference inventory engine (DESIGN §1–§5): the per-SKU stock
//! vocabulary, and — as the engine issue lands — the Redis Lua scripts, the
//! `InventoryEngine` trait, the Postgres ledger writer, the expiry sweeper and the
//! reconciler. Depends on no part of the harness.

mod stock;

pub use stock::{SkuStock, StockViolation};
