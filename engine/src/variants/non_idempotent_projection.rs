//! `non-idempotent-projection`: the ledger writer applies every row of a batch to the
//! `skus` and `reservations` projections, not only the rows its insert actually added.
//! A batch redelivered after a crash between commit and XACK is a no-op in the ledger
//! table but applied a second time to the projections, which then disagree with Redis
//! and with a replay of the ledger. The engine itself is the reference.
//!
//! Models outbox relays and event consumers that dedupe the event log but update the
//! read model unconditionally (at-least-once delivery without an idempotent
//! consumer), the gap the "idempotent consumer" pattern closes. The reference applies
//! only the rows inserted by the same transaction.

use crate::ledger::WriterFlaw;

pub(super) const FLAW: WriterFlaw = WriterFlaw::ApplyRedelivered;
