//! What one shopper does in one cart: the plan's decision for one goose iteration, as
//! data. The seeded plan (`crate::plan`) produces [`CartPlan`]s through [`CartSource`];
//! the shopper (`super::shopper`) executes them over HTTP. Nothing here does I/O.

use std::time::Duration;

use stockproof_engine::CartLine;

/// How one request (reserve, confirm or release) is sent. At most one mode per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
    Once,
    /// A duplicate is sent while the first is in flight.
    Concurrent,
    /// Re-sent once the first reply arrived.
    AfterReply,
    /// First sent with the scenario's forced (tiny) timeout so that the client gives up
    /// and the outcome is unknown, then re-sent with the normal timeout.
    AfterTimeout,
}

/// How a cart ends once its reserve succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartEnd {
    Confirm,
    Release,
    /// Left Held for the sweeper to expire.
    Abandon,
}

/// One cart.
#[derive(Debug, Clone, PartialEq)]
pub struct CartPlan {
    /// Idempotency key, unique per cart within a run.
    pub key: String,
    /// As sent: a SKU may appear on two lines.
    pub items: Vec<CartLine>,
    pub ttl_ms: i64,
    pub reserve_send: SendMode,
    /// Re-send the reserve once more after the engine's idempotency retention passed.
    pub retry_after_retention: bool,
    /// Wait between the reserve reply and the confirm or release.
    pub hold: Duration,
    pub end: CartEnd,
    pub end_send: SendMode,
    /// `GET` this SKU after the cart.
    pub read_sku: Option<String>,
}

/// The plan, as the shopper asks it: cart `iteration` (from 0) of user `user` (from 1).
/// Deterministic for a given seed, so a run's load can be reproduced.
pub trait CartSource: Send + Sync + std::fmt::Debug + 'static {
    fn cart(&self, user: u32, iteration: u64) -> CartPlan;
}
