//! The handlers of the HTTP contract (DESIGN §6), one module per resource, and the
//! wire types they share. Handlers translate between JSON and the engine's typed
//! outcomes; they hold no inventory logic of their own.

pub mod ops;
pub mod reservations;
pub mod skus;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::reservation::ReservationState;

/// A SKU id or reservation id in a path: what [`crate::validate_sku_id`] accepts.
pub const ID_PATTERN: &str = "^[A-Za-z0-9._:-]{1,128}$";

/// A reservation's state on the wire (mirrors [`ReservationState`], which carries no
/// OpenAPI schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateName {
    Held,
    Confirmed,
    Released,
    Expired,
}

impl StateName {
    pub fn as_str(self) -> &'static str {
        ReservationState::from(self).as_str()
    }
}

impl From<ReservationState> for StateName {
    fn from(state: ReservationState) -> StateName {
        match state {
            ReservationState::Held => StateName::Held,
            ReservationState::Confirmed => StateName::Confirmed,
            ReservationState::Released => StateName::Released,
            ReservationState::Expired => StateName::Expired,
        }
    }
}

impl From<StateName> for ReservationState {
    fn from(state: StateName) -> ReservationState {
        match state {
            StateName::Held => ReservationState::Held,
            StateName::Confirmed => ReservationState::Confirmed,
            StateName::Released => ReservationState::Released,
            StateName::Expired => ReservationState::Expired,
        }
    }
}
