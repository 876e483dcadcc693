//! [`Wrapper`]: the reference engine with Rust code in front of some of its operations
//! (the variants whose flaw is in the Rust side: a reserve path that splits what the
//! script does atomically, a read cache, a sold-out flag, a second write to Postgres).
//! A variant implements [`Wrapper`], names its reference engine and overrides only the
//! operations it changes; every other one is the (possibly patched) reference engine's
//! own, forwarded here once. Every wrapper is an [`InventoryEngine`] through the one
//! blanket impl below.
//!
//! Not here: the variants whose flaw is only in a script patch (they serve the patched
//! `RedisLuaEngine` itself), nor any variant's flaw.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::engine::InventoryEngine;
use crate::error::EngineError;
use crate::outcome::{AdjustOutcome, ExpireReport, ReserveOutcome, Transition, TransitionOutcome};
use crate::redis_lua::RedisLuaEngine;
use crate::reservation::{Reservation, ReservationId, ReserveRequest};
use stockproof_model::SkuStock;

/// A variant in front of the reference engine: each operation it does not override
/// is the inner engine's, unchanged. The operations mean what [`InventoryEngine`]'s do.
#[async_trait]
pub(crate) trait Wrapper: Send + Sync + std::fmt::Debug {
    /// The (possibly patched) reference engine the variant wraps.
    fn inner(&self) -> &RedisLuaEngine;

    async fn restock(&self, sku: &str, qty: i64) -> Result<SkuStock, EngineError> {
        self.inner().restock(sku, qty).await
    }

    async fn adjust(&self, sku: &str, delta: i64) -> Result<AdjustOutcome, EngineError> {
        self.inner().adjust(sku, delta).await
    }

    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome, EngineError> {
        self.inner().reserve(request).await
    }

    async fn transition(
        &self,
        id: &ReservationId,
        transition: Transition,
    ) -> Result<TransitionOutcome, EngineError> {
        self.inner().transition(id, transition).await
    }

    async fn expire_due(&self, limit: usize) -> Result<ExpireReport, EngineError> {
        self.inner().expire_due(limit).await
    }

    async fn sku(&self, sku: &str) -> Result<Option<SkuStock>, EngineError> {
        self.inner().sku(sku).await
    }

    async fn reservation(&self, id: &ReservationId) -> Result<Option<Reservation>, EngineError> {
        self.inner().reservation(id).await
    }

    async fn snapshot(&self) -> Result<BTreeMap<String, SkuStock>, EngineError> {
        self.inner().snapshot().await
    }

    async fn ping(&self) -> Result<(), EngineError> {
        self.inner().ping().await
    }
}

/// Every wrapper serves the contract with its own operations (`Wrapper::…`, overridden
/// or forwarded), so the server and the harness hold it as any other engine.
#[async_trait]
impl<W: Wrapper> InventoryEngine for W {
    async fn restock(&self, sku: &str, qty: i64) -> Result<SkuStock, EngineError> {
        Wrapper::restock(self, sku, qty).await
    }

    async fn adjust(&self, sku: &str, delta: i64) -> Result<AdjustOutcome, EngineError> {
        Wrapper::adjust(self, sku, delta).await
    }

    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome, EngineError> {
        Wrapper::reserve(self, request).await
    }

    async fn transition(
        &self,
        id: &ReservationId,
        transition: Transition,
    ) -> Result<TransitionOutcome, EngineError> {
        Wrapper::transition(self, id, transition).await
    }

    async fn expire_due(&self, limit: usize) -> Result<ExpireReport, EngineError> {
        Wrapper::expire_due(self, limit).await
    }

    async fn sku(&self, sku: &str) -> Result<Option<SkuStock>, EngineError> {
        Wrapper::sku(self, sku).await
    }

    async fn reservation(&self, id: &ReservationId) -> Result<Option<Reservation>, EngineError> {
        Wrapper::reservation(self, id).await
    }

    async fn snapshot(&self) -> Result<BTreeMap<String, SkuStock>, EngineError> {
        Wrapper::snapshot(self).await
    }

    async fn ping(&self) -> Result<(), EngineError> {
        Wrapper::ping(self).await
    }
}
