//! `lossy-ledger`: the ledger writer acknowledges a batch (XACK) before its Postgres
//! transaction commits. A writer that dies in between has told Redis the batch is
//! done; nothing redelivers it, so those events never reach Postgres (and the ledger
//! there stops at a gap). The engine itself is the reference.
//!
//! Models consumers that commit their offset / ack a message on receipt and process it
//! afterwards — Kafka's auto-commit or an "ack, then handle" queue consumer, which
//! their documentation calls at-most-once delivery. The reference writer commits,
//! then acks (at-least-once), and the unique seq makes it exactly-once.

use crate::ledger::WriterFlaw;

pub(super) const FLAW: WriterFlaw = WriterFlaw::AckBeforeCommit;
