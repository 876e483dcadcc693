//! `sold-out-flag`: a process-local "sold out" flag per SKU, set when the engine sees
//! the SKU at 0 available — a reserve the script refused with 0 left, a read or an
//! adjust reply showing 0 — and cleared only by a restock of that SKU. While it is
//! set, every reserve naming the SKU is refused as insufficient stock (0 available)
//! without asking Redis, although releases and expiries have brought units back:
//! buyers are turned away from stock on the shelf (underselling), and the sale can end
//! with units available after thousands of refusals. The books stay right (C1, C2, C6
//! pass); only a check that judges refusals sees it.
//!
//! Models the in-memory sold-out marker of flash-sale ("seckill") designs: once Redis
//! says a SKU is gone, a map in each application server short-circuits further orders
//! so the hot key stops taking traffic, and only the replenishment path resets it;
//! cancelled and timed-out orders return their units to Redis but never clear the
//! marker. The reference asks Redis on every reserve. Writes and reads go to Redis
//! through the reference scripts; only the refusal is local.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;

use super::wrapper::Wrapper;
use crate::engine::InventoryEngine;
use crate::error::EngineError;
use crate::outcome::{AdjustOutcome, ReserveOutcome};
use crate::redis_lua::RedisLuaEngine;
use crate::reservation::ReserveRequest;
use stockproof_model::SkuStock;

#[derive(Debug)]
pub(crate) struct SoldOutFlagEngine {
    inner: RedisLuaEngine,
    /// SKUs flagged sold out (at most one entry per stocked SKU).
    sold_out: Mutex<HashSet<String>>,
}

impl SoldOutFlagEngine {
    pub(crate) fn new(inner: RedisLuaEngine) -> SoldOutFlagEngine {
        SoldOutFlagEngine {
            inner,
            sold_out: Mutex::new(HashSet::new()),
        }
    }

    fn flags(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.sold_out.lock().expect("flag lock is never poisoned")
    }

    /// Flags `sku` when `available` shows it gone.
    fn saw(&self, sku: &str, available: i64) {
        if available <= 0 {
            self.flags().insert(sku.to_owned());
        }
    }
}

#[async_trait]
impl Wrapper for SoldOutFlagEngine {
    fn inner(&self) -> &RedisLuaEngine {
        &self.inner
    }

    async fn restock(&self, sku: &str, qty: i64) -> Result<SkuStock, EngineError> {
        let stock = self.inner.restock(sku, qty).await?;
        self.flags().remove(sku);
        Ok(stock)
    }

    async fn adjust(&self, sku: &str, delta: i64) -> Result<AdjustOutcome, EngineError> {
        let outcome = self.inner.adjust(sku, delta).await?;
        if let AdjustOutcome::Adjusted(stock) = &outcome {
            self.saw(sku, stock.available);
        }
        Ok(outcome)
    }

    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome, EngineError> {
        let items = request.validate()?;
        let flagged = {
            let flags = self.flags();
            items.iter().find(|line| flags.contains(&line.sku)).cloned()
        };
        if let Some(line) = flagged {
            return Ok(ReserveOutcome::Insufficient {
                sku: line.sku,
                requested: line.qty,
                available: 0,
            });
        }
        let outcome = self.inner.reserve(request).await?;
        if let ReserveOutcome::Insufficient { sku, available, .. } = &outcome {
            self.saw(sku, *available);
        }
        Ok(outcome)
    }

    async fn sku(&self, sku: &str) -> Result<Option<SkuStock>, EngineError> {
        let stock = self.inner.sku(sku).await?;
        if let Some(stock) = &stock {
            self.saw(sku, stock.available);
        }
        Ok(stock)
    }
}
