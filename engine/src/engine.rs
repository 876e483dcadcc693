//! The [`InventoryEngine`] trait (DESIGN §5): what every inventory strategy offers,
//! the reference Redis+Lua engine and the deliberately broken variants alike. The HTTP
//! server and the harness speak only this trait.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::error::EngineError;
use crate::outcome::{AdjustOutcome, ExpireReport, ReserveOutcome, Transition, TransitionOutcome};
use crate::reservation::{Reservation, ReservationId, ReserveRequest};
use stockproof_model::SkuStock;

/// Atomic inventory operations. Every method either returns the outcome that happened,
/// or an [`EngineError`] saying why it could not find out; `OutcomeUnknown` means the
/// effect may have happened.
#[async_trait]
pub trait InventoryEngine: Send + Sync + std::fmt::Debug {
    /// available += qty, total += qty; creates the SKU if new.
    async fn restock(&self, sku: &str, qty: i64) -> Result<SkuStock, EngineError>;
    /// available += delta, total += delta; refused if available would go below 0.
    async fn adjust(&self, sku: &str, delta: i64) -> Result<AdjustOutcome, EngineError>;
    /// Holds every line of the cart or none; idempotent on the request's key.
    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome, EngineError>;
    /// Held → Confirmed or Released; a repeat of the winning call is a success.
    async fn transition(
        &self,
        id: &ReservationId,
        transition: Transition,
    ) -> Result<TransitionOutcome, EngineError>;
    /// Expires up to `limit` Held reservations whose deadline passed (server clock).
    async fn expire_due(&self, limit: usize) -> Result<ExpireReport, EngineError>;
    async fn sku(&self, sku: &str) -> Result<Option<SkuStock>, EngineError>;
    async fn reservation(&self, id: &ReservationId) -> Result<Option<Reservation>, EngineError>;
    /// Every SKU's stock, for checks and the reconciler.
    async fn snapshot(&self) -> Result<BTreeMap<String, SkuStock>, EngineError>;
    /// Whether the stores answer (for `/readyz`).
    async fn ping(&self) -> Result<(), EngineError>;
}
