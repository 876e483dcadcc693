//! Integration tests of the engine against real Redis and Postgres (local provider).

mod ledger;
mod ledger_support;
mod reconciler;
mod recovery;
