//! What the scripts' replies and Redis' errors mean. A script replies with an array:
//! a status code, then fields (see the header of each file in `lua/`). Parsing borrows
//! from the reply; only what the outcome keeps is copied.
//!
//! Not here: sending (see `connection` and `lua`).

use redis::{ErrorKind, RedisError, ServerErrorKind, Value};

use crate::error::EngineError;
use crate::reservation::{CartLine, ReservationState};

const STORE: &str = "redis";

/// A script's array reply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply<'a> {
    script: &'static str,
    fields: &'a [Value],
}

impl<'a> Reply<'a> {
    pub(crate) fn new(script: &'static str, value: &'a Value) -> Result<Reply<'a>, EngineError> {
        match value {
            Value::Array(fields) if !fields.is_empty() => Ok(Reply { script, fields }),
            other => Err(protocol(
                script,
                format!("expected an array, got {other:?}"),
            )),
        }
    }

    /// An empty reply is fine for scripts with no status code (snapshot).
    pub(crate) fn new_list(
        script: &'static str,
        value: &'a Value,
    ) -> Result<Reply<'a>, EngineError> {
        match value {
            Value::Array(fields) => Ok(Reply { script, fields }),
            other => Err(protocol(
                script,
                format!("expected an array, got {other:?}"),
            )),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }

    pub(crate) fn code(&self) -> Result<&'a str, EngineError> {
        self.text(0)
    }

    pub(crate) fn text(&self, index: usize) -> Result<&'a str, EngineError> {
        match self.fields.get(index) {
            Some(Value::BulkString(bytes)) => std::str::from_utf8(bytes)
                .map_err(|_| self.error(format!("field {index} is not UTF-8"))),
            Some(Value::SimpleString(text)) => Ok(text),
            other => Err(self.error(format!("field {index}: expected text, got {other:?}"))),
        }
    }

    pub(crate) fn int(&self, index: usize) -> Result<i64, EngineError> {
        match self.fields.get(index) {
            Some(Value::Int(value)) => Ok(*value),
            Some(Value::BulkString(bytes)) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| self.error(format!("field {index} is not an integer"))),
            other => Err(self.error(format!("field {index}: expected an integer, got {other:?}"))),
        }
    }

    pub(crate) fn state(&self, index: usize) -> Result<ReservationState, EngineError> {
        self.text(index)?
            .parse()
            .map_err(|reason: String| self.error(reason))
    }

    /// `sku qty sku qty …` → lines.
    pub(crate) fn items(&self, index: usize) -> Result<Vec<CartLine>, EngineError> {
        let text = self.text(index)?;
        let mut words = text.split(' ');
        let mut lines = Vec::new();
        while let Some(sku) = words.next() {
            let qty = words
                .next()
                .and_then(|qty| qty.parse().ok())
                .ok_or_else(|| self.error(format!("items `{text}` are not `sku qty …` pairs")))?;
            lines.push(CartLine {
                sku: sku.to_owned(),
                qty,
            });
        }
        Ok(lines)
    }

    /// `{'invalid', field, reason}`: the script refused an argument. The Rust side
    /// checks the same bounds first, so this is reached only by a caller that skipped
    /// them (or by a bug that makes the two disagree).
    pub(crate) fn invalid(&self) -> EngineError {
        let field = match self.text(1) {
            Ok(field) => field,
            Err(error) => return error,
        };
        let reason = self.text(2).unwrap_or("unknown");
        let field: &'static str = match field {
            "idempotency_key" => "idempotency_key",
            "ttl_ms" => "ttl_ms",
            "items" => "items",
            "items.qty" => "items.qty",
            "sku" => "sku",
            "qty" => "qty",
            "delta" => "delta",
            "limit" => "limit",
            other => return self.error(format!("invalid reply names unknown field `{other}`")),
        };
        let reason = match reason {
            "range" => "outside the bounds of engine::limits (checked by the script)",
            "format" => "not in the accepted format (checked by the script)",
            "count" => "wrong number of lines (checked by the script)",
            "total_max" => "would raise the sku's total past SKU_TOTAL_MAX",
            _ => "refused by the script",
        };
        EngineError::invalid(field, reason)
    }

    /// A reply this engine does not understand.
    pub(crate) fn unexpected(&self) -> EngineError {
        self.error(format!("unexpected reply {:?}", self.fields))
    }

    fn error(&self, reason: String) -> EngineError {
        protocol(self.script, reason)
    }
}

fn protocol(script: &str, reason: String) -> EngineError {
    EngineError::Protocol {
        store: STORE,
        reason: format!("script {script}: {reason}"),
    }
}

/// What a failed call means for the caller. A timeout or a connection lost after the
/// call was handed to the socket is unknown (the script may have run); a refused
/// connection or a server that says it cannot serve yet (loading, read-only, out of
/// memory: a script is refused before it runs) is unavailable; anything else is a
/// reply this engine does not understand.
pub(crate) fn call_error(
    operation: &'static str,
    waited_ms: u64,
    error: &RedisError,
) -> EngineError {
    if error.is_connection_refusal() {
        return EngineError::Unavailable {
            store: STORE,
            reason: error.to_string(),
        };
    }
    if error.is_timeout() || error.is_io_error() || error.is_connection_dropped() {
        return EngineError::OutcomeUnknown {
            operation,
            waited_ms,
        };
    }
    let not_serving = matches!(
        error.kind(),
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
                | ServerErrorKind::TryAgain
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ReadOnly
                | ServerErrorKind::ClusterDown
        )
    ) || matches!(error.code(), Some("OOM" | "BUSY" | "MISCONF"));
    if not_serving {
        return EngineError::Unavailable {
            store: STORE,
            reason: error.to_string(),
        };
    }
    EngineError::Protocol {
        store: STORE,
        reason: format!("{operation}: {error}"),
    }
}

/// Whether the connection must be replaced before the next call.
pub(crate) fn breaks_connection(error: &RedisError) -> bool {
    !error.is_timeout() && (error.is_io_error() || error.is_connection_dropped())
}
