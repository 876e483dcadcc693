//! The ledger: the gap-free, numbered sequence of events every change appends to the
//! Redis stream (the outbox), and that the writer copies into Postgres.

mod event;

pub use event::{EventKind, LedgerEvent, replay};
