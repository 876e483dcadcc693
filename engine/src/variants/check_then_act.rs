//! `check-then-act`: reserve reads each SKU's `available` in one call and decrements
//! in another. Every caller that read the same count before any decrement landed is
//! given the units, so concurrent reserves oversell (and `available` goes negative).
//!
//! Models the read-then-write pattern that the Redis transactions documentation uses
//! to motivate `WATCH` (a `GET`, a decision in the client, then a write), and the
//! `SELECT stock … ; if enough: UPDATE stock = stock - n` checkout code it stands for.
//! The reference engine checks and decrements in one script.

use async_trait::async_trait;

use super::wrapper::Wrapper;
use crate::engine::InventoryEngine;
use crate::error::EngineError;
use crate::lua::{ScriptName, ScriptPatch};
use crate::outcome::ReserveOutcome;
use crate::redis_lua::RedisLuaEngine;
use crate::reservation::ReserveRequest;

/// The reserve script without its stock check: the caller decided already.
pub(super) const PATCHES: &[ScriptPatch] = &[ScriptPatch {
    scripts: &[ScriptName::Reserve],
    find: "  if available < merged[sku] then\n",
    replace: include_str!("../../../lua/variants/check-then-act.lua"),
}];

/// The patched engine with the two-call reserve path.
#[derive(Debug)]
pub(super) struct CheckThenActEngine {
    pub(super) inner: RedisLuaEngine,
}

#[async_trait]
impl Wrapper for CheckThenActEngine {
    fn inner(&self) -> &RedisLuaEngine {
        &self.inner
    }

    /// Check (one `HMGET` per SKU), then act (the unchecked script): two calls.
    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome, EngineError> {
        let items = request.validate()?;
        for line in &items {
            let Some(stock) = self.inner.sku(&line.sku).await? else {
                return Ok(ReserveOutcome::UnknownSku {
                    sku: line.sku.clone(),
                });
            };
            if stock.available < line.qty {
                return Ok(ReserveOutcome::Insufficient {
                    sku: line.sku.clone(),
                    requested: line.qty,
                    available: stock.available,
                });
            }
        }
        self.inner.reserve_lines(request, &items, &items).await
    }
}
