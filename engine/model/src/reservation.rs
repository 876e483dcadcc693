//! Reservations (DESIGN §1): a cart of SKU lines held for a time, then Confirmed,
//! Released or Expired exactly once. Plain data, shared by the engine (which stores
//! them) and the checks (which read them back from a history).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The id the engine gives a reservation (opaque to callers).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReservationId(pub String);

impl fmt::Display for ReservationId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Held → Confirmed | Released | Expired, exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    Held,
    Confirmed,
    Released,
    Expired,
}

impl ReservationState {
    pub const fn as_str(self) -> &'static str {
        match self {
            ReservationState::Held => "held",
            ReservationState::Confirmed => "confirmed",
            ReservationState::Released => "released",
            ReservationState::Expired => "expired",
        }
    }

    pub const fn is_terminal(self) -> bool {
        !matches!(self, ReservationState::Held)
    }
}

impl fmt::Display for ReservationState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for ReservationState {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "held" => Ok(ReservationState::Held),
            "confirmed" => Ok(ReservationState::Confirmed),
            "released" => Ok(ReservationState::Released),
            "expired" => Ok(ReservationState::Expired),
            other => Err(format!("unknown reservation state `{other}`")),
        }
    }
}

/// One line of a cart: `qty` units of `sku`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: String,
    pub qty: i64,
}

/// A reservation as the engine stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub id: ReservationId,
    pub idempotency_key: String,
    pub state: ReservationState,
    /// Merged lines, one per SKU, sorted by SKU.
    pub items: Vec<CartLine>,
    /// Redis server time (ms since the epoch) after which the sweeper may expire it.
    pub deadline_ms: i64,
}
