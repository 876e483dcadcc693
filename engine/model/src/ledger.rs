//! The ledger's events (the numbered changes every store agrees on) and the pure rules
//! that turn a sequence of them into stock and reservations.

mod event;
mod fold;

pub use event::{EventKind, LedgerEvent, replay};
pub use fold::{FoldedReservation, LedgerFold};
