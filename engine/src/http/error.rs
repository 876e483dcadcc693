//! [`ApiError`]: every refusal and failure the HTTP contract (DESIGN §6) can answer,
//! rendered as one JSON body `{error, message, field?, …}` with its status. Refusals
//! that carry data (no stock, not held) add their fields beside `error`.
//!
//! Internals (engine protocol errors, panics) are logged here and answered with a
//! generic message: a client never sees a Redis reply or a stack trace.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::EngineError;
use crate::http::routes::StateName;

/// Seconds a client should wait before retrying a 503: Redis restarts and Postgres
/// failovers take a few seconds; one second keeps retries cheap without hammering.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// The one error body of the API. `error` is a stable machine-readable code; `message`
/// a sentence for humans; the other fields appear only where the code has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code, e.g. `invalid_input`, `insufficient_stock`, `not_held`.
    pub error: String,
    pub message: String,
    /// The input that was refused: a JSON path (`items[2].qty`), a path parameter
    /// (`sku`) or a header (`Idempotency-Key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `insufficient_stock`, `unknown_sku`: the SKU concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// `insufficient_stock`: units available when the request was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<i64>,
    /// `not_held`: the state that won.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<StateName>,
    /// `idempotency_key_reused`: the reservation the key already names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Why a request was refused or failed. Each variant has one status and one code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: an input breaks a bound or has the wrong type.
    InvalidInput { field: String, message: String },
    /// 400: the body is not JSON at all.
    MalformedJson { message: String },
    /// 400: the `Idempotency-Key` header is absent.
    IdempotencyKeyMissing,
    /// 404: no route.
    RouteNotFound { path: String },
    /// 404: a SKU never stocked.
    UnknownSku { sku: String },
    /// 404: no such reservation (or purged after retention).
    UnknownReservation { id: String },
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 409: not enough units of `sku`.
    InsufficientStock { sku: String, available: i64 },
    /// 409: the reservation already reached another terminal state.
    NotHeld { id: String, state: StateName },
    /// 413: the body is larger than the server accepts.
    PayloadTooLarge { limit_bytes: usize },
    /// 415: the body is not declared as JSON.
    UnsupportedMediaType,
    /// 422: the idempotency key names a reservation with other items.
    IdempotencyKeyReused { existing: String },
    /// 422: every field is valid on its own (the OpenAPI schema holds) but together
    /// they are not, e.g. lines naming one SKU add up past the per-SKU bound.
    Unprocessable { field: String, message: String },
    /// 500: a bug or a store reply the engine does not understand (logged, not sent).
    Internal,
    /// 503: Redis or Postgres cannot be reached; nothing changed.
    Unavailable { store: String },
    /// 503: too many requests in flight; nothing was started.
    Overloaded,
    /// 503 from `/readyz`: what is missing.
    NotReady { reason: String },
    /// 504: no reply in time; a write may or may not have happened.
    OutcomeUnknown,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// `Ok` when `value` lies in `[min, max]`, else a 400 naming `field` and the bounds
    /// (`unit` follows the numbers: `" ms"`, or `""`).
    pub fn check_range(
        field: impl Into<String>,
        value: i64,
        (min, max): (i64, i64),
        unit: &str,
    ) -> Result<(), ApiError> {
        if (min..=max).contains(&value) {
            return Ok(());
        }
        Err(ApiError::invalid(
            field,
            format!("must be between {min} and {max}{unit}, got {value}"),
        ))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidInput { .. }
            | ApiError::MalformedJson { .. }
            | ApiError::IdempotencyKeyMissing => StatusCode::BAD_REQUEST,
            ApiError::RouteNotFound { .. }
            | ApiError::UnknownSku { .. }
            | ApiError::UnknownReservation { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::InsufficientStock { .. } | ApiError::NotHeld { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::IdempotencyKeyReused { .. } | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable { .. } | ApiError::Overloaded | ApiError::NotReady { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::OutcomeUnknown => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let mut body = ErrorBody {
            error: self.code().to_owned(),
            message: self.message(),
            field: None,
            sku: None,
            available: None,
            state: None,
            id: None,
        };
        match self {
            ApiError::InvalidInput { field, .. } | ApiError::Unprocessable { field, .. } => {
                body.field = Some(field.clone())
            }
            ApiError::IdempotencyKeyMissing => body.field = Some("Idempotency-Key".to_owned()),
            ApiError::UnknownSku { sku } => body.sku = Some(sku.clone()),
            ApiError::InsufficientStock { sku, available } => {
                body.sku = Some(sku.clone());
                body.available = Some(*available);
            }
            ApiError::NotHeld { id, state } => {
                body.id = Some(id.clone());
                body.state = Some(*state);
            }
            ApiError::UnknownReservation { id } => body.id = Some(id.clone()),
            ApiError::IdempotencyKeyReused { existing } => {
                body.field = Some("Idempotency-Key".to_owned());
                body.id = Some(existing.clone());
            }
            _ => {}
        }
        body
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidInput { .. } => "invalid_input",
            ApiError::MalformedJson { .. } => "malformed_json",
            ApiError::IdempotencyKeyMissing => "idempotency_key_missing",
            ApiError::RouteNotFound { .. } => "not_found",
            ApiError::UnknownSku { .. } => "unknown_sku",
            ApiError::UnknownReservation { .. } => "unknown_reservation",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::InsufficientStock { .. } => "insufficient_stock",
            ApiError::NotHeld { .. } => "not_held",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            ApiError::Unprocessable { .. } => "unprocessable_cart",
            ApiError::Internal => "internal",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Overloaded => "overloaded",
            ApiError::NotReady { .. } => "not_ready",
            ApiError::OutcomeUnknown => "outcome_unknown",
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::InvalidInput { field, message }
            | ApiError::Unprocessable { field, message } => format!("`{field}`: {message}"),
            ApiError::MalformedJson { message } => format!("the body is not valid JSON: {message}"),
            ApiError::IdempotencyKeyMissing => {
                "header `Idempotency-Key` is required (1 to 255 visible ASCII characters, e.g. a UUID)"
                    .to_owned()
            }
            ApiError::RouteNotFound { path } => {
                format!("no route `{path}` (see GET /openapi.json)")
            }
            ApiError::UnknownSku { sku } => format!("sku `{sku}` was never stocked"),
            ApiError::UnknownReservation { id } => {
                format!("no reservation `{id}` (unknown, or purged after its retention)")
            }
            ApiError::MethodNotAllowed => {
                "method not allowed on this route (see the Allow header)".to_owned()
            }
            ApiError::InsufficientStock { sku, available } => {
                format!("sku `{sku}` has {available} units available, fewer than asked")
            }
            ApiError::NotHeld { id, state } => {
                format!("reservation `{id}` is {}, not held", state.as_str())
            }
            ApiError::PayloadTooLarge { limit_bytes } => {
                format!("the body is larger than {limit_bytes} bytes")
            }
            ApiError::UnsupportedMediaType => {
                "the body must be JSON with `Content-Type: application/json`".to_owned()
            }
            ApiError::IdempotencyKeyReused { existing } => format!(
                "this Idempotency-Key was used for reservation `{existing}` with other items; \
                 use a new key for a new cart"
            ),
            ApiError::Internal => "internal error (logged on the server)".to_owned(),
            ApiError::Unavailable { store } => {
                format!("{store} cannot be reached; nothing changed, retry later")
            }
            ApiError::Overloaded => {
                "too many requests in flight; nothing was started, retry later".to_owned()
            }
            ApiError::NotReady { reason } => format!("not ready: {reason}"),
            ApiError::OutcomeUnknown => "no reply from the store in time: the effect of this \
                 request is unknown; retry it (with the same Idempotency-Key for a reserve)"
                .to_owned(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        match error {
            EngineError::InvalidInput { field, reason } => ApiError::invalid(field, reason),
            EngineError::Unavailable { store, reason } => {
                tracing::warn!(store, %reason, "store unavailable");
                ApiError::Unavailable {
                    store: store.to_owned(),
                }
            }
            EngineError::OutcomeUnknown {
                operation,
                waited_ms,
            } => {
                tracing::warn!(operation, waited_ms, "outcome unknown");
                ApiError::OutcomeUnknown
            }
            error @ (EngineError::Protocol { .. } | EngineError::UnsafeConfig(_)) => {
                tracing::error!(%error, "engine failure");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        response
    }
}
