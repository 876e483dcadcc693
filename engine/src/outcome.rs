//! The typed outcomes of engine calls (DESIGN §5). A refusal is a value: the caller
//! learns exactly what happened (no stock of which SKU, which state won a race).

use serde::{Deserialize, Serialize};

use crate::reservation::{Reservation, ReservationId, ReservationState};
use stockproof_model::SkuStock;

/// What `reserve` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// A new reservation holds the units.
    Reserved(Reservation),
    /// The key was used before with the same items: the first reservation, as it is
    /// now (it may have been confirmed or expired since). Nothing changed.
    Replayed(Reservation),
    /// The key was used before with other items; nothing changed.
    KeyReused { existing: ReservationId },
    /// A SKU has fewer units available than asked; nothing changed, nothing recorded,
    /// so a later retry with the same key may succeed.
    Insufficient {
        sku: String,
        requested: i64,
        available: i64,
    },
    /// A SKU of the cart was never stocked; nothing changed.
    UnknownSku { sku: String },
}

/// Which of confirm / release a call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Confirm,
    Release,
}

impl Transition {
    pub const fn target_state(self) -> ReservationState {
        match self {
            Transition::Confirm => ReservationState::Confirmed,
            Transition::Release => ReservationState::Released,
        }
    }
}

/// What `confirm` or `release` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionOutcome {
    /// Held → the target state, now.
    Applied(Reservation),
    /// The reservation was already in the target state (a client retry): success,
    /// nothing changed.
    AlreadyApplied(Reservation),
    /// Another terminal state won (confirm after expiry, release after confirm).
    NotHeld {
        state: ReservationState,
    },
    UnknownReservation,
}

/// What `adjust` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdjustOutcome {
    Adjusted(SkuStock),
    /// `available + delta` would be negative (or `total` past its bound); nothing changed.
    Refused {
        available: i64,
    },
    UnknownSku,
}

/// What one `expire_due` call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpireReport {
    /// Reservations moved Held → Expired by this call.
    pub expired: Vec<ReservationId>,
    /// Due reservations still Held after this call (the batch bound was reached).
    pub still_due: u64,
}
