//! `stale-cart-lines`: a cart naming one SKU on two lines has each line checked on its
//! own against the count read before any line is applied. With 1 unit left, a cart of
//! two single-unit lines of that SKU passes both checks and takes 2 (oversell).
//!
//! Models checkout code that loads a stock snapshot once per cart and validates line
//! by line (`for line in cart: if stock[line.sku] < line.qty: refuse`), the way many
//! shop platforms validate a quote's items, then books the whole cart. The reference
//! engine merges lines naming one SKU before any check (Rust side and script both).

use async_trait::async_trait;

use super::wrapper::Wrapper;
use crate::error::EngineError;
use crate::lua::{ScriptName, ScriptPatch};
use crate::outcome::ReserveOutcome;
use crate::redis_lua::RedisLuaEngine;
use crate::reservation::ReserveRequest;

/// The reference's check of the merged cart, replaced by a line-by-line check.
const REFERENCE_CHECK: &str = "for _, sku in ipairs(skus) do
  local available = redis.call('HGET', PREFIX .. 'sku:' .. sku, 'available')
  if not available then
    return {'unknown_sku', sku}
  end
  available = tonumber(available)
  if available < merged[sku] then
    return {'insufficient', sku, merged[sku], available}
  end
end
";

pub(super) const PATCHES: &[ScriptPatch] = &[ScriptPatch {
    scripts: &[ScriptName::Reserve],
    find: REFERENCE_CHECK,
    replace: include_str!("../../../lua/variants/stale-cart-lines.lua"),
}];

/// The patched engine, sending a cart's lines unmerged.
#[derive(Debug)]
pub(super) struct StaleCartLinesEngine {
    pub(super) inner: RedisLuaEngine,
}

#[async_trait]
impl Wrapper for StaleCartLinesEngine {
    fn inner(&self) -> &RedisLuaEngine {
        &self.inner
    }

    /// Sends the cart's lines as given (the reference sends them merged); the script
    /// still books the merged quantities, after checking the lines one by one.
    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome, EngineError> {
        let items = request.validate()?;
        self.inner
            .reserve_lines(request, &items, &request.items)
            .await
    }
}
