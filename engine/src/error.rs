//! [`EngineError`]: "we could not find out". Refusals (no stock, not held, key reused)
//! are values in [`crate::outcome`], never errors.

/// Why an engine call has no outcome.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input breaks a bound; nothing was changed. HTTP maps it to 400.
    #[error("invalid `{field}`: {reason}")]
    InvalidInput { field: &'static str, reason: String },
    /// The call was sent but no reply came in time: the script may or may not have run.
    /// Callers must treat the effect as unknown, never as refused.
    #[error("{operation}: no reply within {waited_ms} ms; the effect is unknown")]
    OutcomeUnknown {
        operation: &'static str,
        waited_ms: u64,
    },
    /// Redis (or Postgres) could not be reached; nothing was sent, nothing changed.
    #[error("{store} unavailable: {reason}")]
    Unavailable { store: &'static str, reason: String },
    /// The store answered something the engine does not understand (a bug or a
    /// foreign key layout).
    #[error("unexpected reply from {store}: {reason}")]
    Protocol { store: &'static str, reason: String },
    /// The Redis server is configured so that the engine would be unsafe on it.
    #[error("unsafe Redis configuration: {0}")]
    UnsafeConfig(String),
}

impl EngineError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> EngineError {
        EngineError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}
