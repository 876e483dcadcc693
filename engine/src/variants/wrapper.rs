//! [`WrappedEngine`]: the reference engine with another reserve path (the variants
//! whose flaw is in the Rust side's call sequence, not only in a script). Every other
//! operation is the (possibly patched) reference engine's own.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{check_then_act, stale_cart_lines};
use crate::engine::InventoryEngine;
use crate::error::EngineError;
use crate::outcome::{AdjustOutcome, ExpireReport, ReserveOutcome, Transition, TransitionOutcome};
use crate::redis_lua::RedisLuaEngine;
use crate::reservation::{Reservation, ReservationId, ReserveRequest};
use stockproof_model::SkuStock;

/// Which broken reserve path a [`WrappedEngine`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReservePath {
    CheckThenAct,
    StaleCartLines,
}

#[derive(Debug)]
pub(crate) struct WrappedEngine {
    inner: RedisLuaEngine,
    reserve_path: ReservePath,
}

impl WrappedEngine {
    pub(crate) fn new(inner: RedisLuaEngine, reserve_path: ReservePath) -> WrappedEngine {
        WrappedEngine {
            inner,
            reserve_path,
        }
    }
}

#[async_trait]
impl InventoryEngine for WrappedEngine {
    async fn restock(&self, sku: &str, qty: i64) -> Result<SkuStock, EngineError> {
        self.inner.restock(sku, qty).await
    }

    async fn adjust(&self, sku: &str, delta: i64) -> Result<AdjustOutcome, EngineError> {
        self.inner.adjust(sku, delta).await
    }

    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome, EngineError> {
        match self.reserve_path {
            ReservePath::CheckThenAct => check_then_act::reserve(&self.inner, request).await,
            ReservePath::StaleCartLines => stale_cart_lines::reserve(&self.inner, request).await,
        }
    }

    async fn transition(
        &self,
        id: &ReservationId,
        transition: Transition,
    ) -> Result<TransitionOutcome, EngineError> {
        self.inner.transition(id, transition).await
    }

    async fn expire_due(&self, limit: usize) -> Result<ExpireReport, EngineError> {
        self.inner.expire_due(limit).await
    }

    async fn sku(&self, sku: &str) -> Result<Option<SkuStock>, EngineError> {
        self.inner.sku(sku).await
    }

    async fn reservation(&self, id: &ReservationId) -> Result<Option<Reservation>, EngineError> {
        self.inner.reservation(id).await
    }

    async fn snapshot(&self) -> Result<BTreeMap<String, SkuStock>, EngineError> {
        self.inner.snapshot().await
    }

    async fn ping(&self) -> Result<(), EngineError> {
        self.inner.ping().await
    }
}
