//! `pg-no-guard`: `pg-row-lock` without its `available >= q` guard. A reserve reads
//! each SKU's `available` (no lock), decides in code, then runs `UPDATE skus SET
//! available = available - q …` unguarded: every transaction that read enough before
//! another's decrement committed takes the units too, so concurrent reserves oversell.
//!
//! Models the ORM checkout (`stock = Stock.find(sku); if stock.available >= q:
//! stock.available -= q; save`) on a schema without a `CHECK (available >= 0)`, as
//! most ORMs' migrations create it. Our schema has that CHECK as a last line of
//! defence (it would turn the oversell into errors), so this variant drops it from
//! the run's fresh database when it connects: the flaw is the missing guard, and the
//! database that lets it through.

use std::sync::Arc;

use crate::engine::InventoryEngine;
use crate::error::EngineError;
use crate::pg::{PgConfig, PgRowLockEngine, Take};

/// Drops the stock CHECK, then connects the row-lock engine with the unguarded take.
pub(super) async fn connect(
    database_url: &str,
    config: PgConfig,
) -> Result<Arc<dyn InventoryEngine>, EngineError> {
    let engine = PgRowLockEngine::connect_with(database_url, config, Take::ReadThenWrite).await?;
    sqlx::query("ALTER TABLE skus DROP CONSTRAINT IF EXISTS skus_available_check")
        .execute(engine.core().pool())
        .await
        .map_err(|error| crate::pg::unavailable(&error))?;
    Ok(Arc::new(engine))
}
