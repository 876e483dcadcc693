//! The ledger: the gap-free, numbered sequence of events every change appends to the
//! Redis stream (the outbox), and that the writer copies into Postgres.

mod error;
mod postgres;
mod stream;
mod supervisor;
mod writer;

pub use error::LedgerError;
pub use postgres::{
    ApplyRows, BatchWrite, LEDGER_LOCK_KEY, ledger_page, max_seq, write_batch, write_batch_applying,
};
pub use stockproof_model::ledger::{EventKind, FoldedReservation, LedgerEvent, LedgerFold, replay};
pub use stream::{CONSUMER_GROUP, StreamEntry, StreamId, WriterLag};
pub use supervisor::{
    CRASH_WAIT_MS_MAX, CrashPoint, RESTARTED_CLAIM_IDLE_MS, WRITER_APPLICATION_NAME,
    WriterSupervisor,
};
pub use writer::{
    BATCH_WRITE_TIMEOUT_MS, CLAIM_IDLE_MS_DEFAULT, CLAIM_POLL_MS_MAX, DRAIN_WAIT_MS_MAX,
    LEDGER_BATCH_EVENTS_MAX, LEDGER_BATCH_WAIT_MS_MAX, LedgerWriter, RETRY_BACKOFF_MS,
    WriterConfig, WriterFault, WriterFlaw, WriterStats, lag, wait_drained,
};

/// Creates or updates the Postgres tables (`migrations/` at the repository root).
pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), LedgerError> {
    sqlx::migrate!("../migrations").run(pool).await?;
    Ok(())
}

/// Stream helpers the reconciler and recovery share with the writer.
pub(crate) mod stream_ops {
    pub(crate) use super::stream::{parse_entries, server_time_ms};
}

/// Projection updates (and the locked transaction) repair reuses to rebuild from the
/// ledger with the writer's code.
pub(crate) mod projection {
    pub(crate) use super::postgres::{apply_reservations, apply_skus, begin_locked};
}
