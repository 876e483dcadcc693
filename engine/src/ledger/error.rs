//! [`LedgerError`]: why the ledger writer, the reconciler or recovery could not do their
//! work. Each variant names the operation and the input that failed. Not here: drift
//! between the stores, which is a finding ([`crate::reconciler::Drift`]), not an error.

use super::stream::StreamId;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("redis {operation}: {source}")]
    Redis {
        operation: &'static str,
        #[source]
        source: redis::RedisError,
    },
    #[error("postgres {operation}: {source}")]
    Postgres {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("running the migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{operation}: no answer within {waited_ms} ms")]
    Timeout {
        operation: &'static str,
        waited_ms: u64,
    },
    /// Redis answered something this code does not understand.
    #[error("unexpected reply from redis: {0}")]
    Protocol(String),
    /// A stream entry is not a ledger event; it stays pending until someone looks.
    #[error("stream entry {id}: {reason}")]
    BadEntry { id: StreamId, reason: String },
    /// A batch breaks the ledger's order: seqs must strictly increase and continue the
    /// ledger without a gap. The entries stay pending; the writer retries them later
    /// (an earlier entry may still be pending at a dead writer).
    #[error("ledger order: {reason}")]
    Order { reason: String },
    /// The ledger already holds this seq with other content: Redis restarted without
    /// recovery and reused seqs. Never written over; recovery must run first.
    #[error("seq {seq} diverged: ledger has {stored}, stream has {streamed}")]
    Diverged {
        seq: i64,
        stored: String,
        streamed: String,
    },
    /// An event cannot be applied to the projection (a terminal event for an unknown
    /// reservation): the ledger and the projection disagree.
    #[error("projection: {reason}")]
    Projection { reason: String },
    /// The writer stopped on purpose, after a commit and before its XACK
    /// ([`super::WriterFault::CrashAfterCommit`]).
    #[error("injected crash after committing batch {batch} (not acked)")]
    InjectedCrash { batch: u64 },
    /// A deliberate failure ([`super::WriterFault::CrashBeforeCommit`]).
    #[error("injected crash before committing batch {batch}")]
    InjectedCrashBeforeCommit { batch: u64 },
    /// A caller-side bound was exceeded while waiting for a condition.
    #[error("gave up after {waited_ms} ms waiting for {what}")]
    GaveUp { what: String, waited_ms: u64 },
    /// A drain that no retry can finish (Postgres refuses the batch by a constraint,
    /// or a gap no live writer can fill): it stops at once; nothing is acked, so every
    /// unwritten entry stays in the stream for recovery and the reconciler.
    #[error(
        "draining `{stream}` cannot finish: {reason}; its unwritten entries stay pending in the stream"
    )]
    Undrainable { stream: String, reason: String },
}

impl LedgerError {
    pub(crate) fn redis(operation: &'static str, source: redis::RedisError) -> LedgerError {
        LedgerError::Redis { operation, source }
    }

    pub(crate) fn postgres(operation: &'static str, source: sqlx::Error) -> LedgerError {
        LedgerError::Postgres { operation, source }
    }

    pub(crate) fn protocol(reason: impl Into<String>) -> LedgerError {
        LedgerError::Protocol(reason.into())
    }

    pub(crate) fn bad_entry(id: StreamId, reason: impl Into<String>) -> LedgerError {
        LedgerError::BadEntry {
            id,
            reason: reason.into(),
        }
    }

    /// Whether Redis itself failed (connection lost, restart): reconnect and retry.
    pub fn is_redis_connection(&self) -> bool {
        match self {
            LedgerError::Redis { source, .. } => {
                source.is_io_error()
                    || source.is_connection_dropped()
                    || source.is_connection_refusal()
                    || source.is_timeout()
            }
            _ => false,
        }
    }

    /// Whether retrying the same batch must fail the same way: Postgres refused it by
    /// an integrity constraint (a CHECK such as `available >= 0`, SQLSTATE class 23),
    /// the ledger diverged, or the projection cannot take it. Order errors are not
    /// among them: a dead writer's pending entries may still fill the gap.
    pub fn is_permanent(&self) -> bool {
        match self {
            LedgerError::Postgres { source, .. } => source
                .as_database_error()
                .and_then(|error| error.code())
                .is_some_and(|code| code.starts_with("23")),
            LedgerError::Diverged { .. }
            | LedgerError::Projection { .. }
            | LedgerError::BadEntry { .. } => true,
            _ => false,
        }
    }

    /// Whether the consumer group or stream vanished (FLUSHALL, recovery): recreate it.
    pub fn is_no_group(&self) -> bool {
        matches!(self, LedgerError::Redis { source, .. } if source.code() == Some("NOGROUP"))
    }
}

/// Runs `future` under a timeout, mapping the elapsed case to [`LedgerError::Timeout`].
pub(crate) async fn timed<T>(
    operation: &'static str,
    waited_ms: u64,
    future: impl Future<Output = Result<T, LedgerError>>,
) -> Result<T, LedgerError> {
    tokio::time::timeout(std::time::Duration::from_millis(waited_ms), future)
        .await
        .unwrap_or(Err(LedgerError::Timeout {
            operation,
            waited_ms,
        }))
}
