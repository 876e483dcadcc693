//! stockproof's domain types (DESIGN §1, §4): one SKU's stock and its invariant,
//! reservations and their states, ledger events, the replay rule and the fold of a
//! ledger into the state it implies. Plain data and pure functions, no I/O: the engine
//! stores these, the checks (`stockproof-checks`) read them back from a history and a
//! snapshot, and neither depends on the other.

pub mod ledger;
mod reservation;
mod stock;

pub use reservation::{CartLine, Reservation, ReservationId, ReservationState};
pub use stock::{SkuStock, StockViolation};
