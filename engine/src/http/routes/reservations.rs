//! `/v1/reservations`: reserve a cart (idempotent on the `Idempotency-Key` header, as
//! in the IETF httpapi idempotency-key draft), confirm, release, and read one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, IdempotencyKey, Object, integer};
use crate::http::routes::StateName;
use crate::limits::{CART_LINES_MAX, LINE_QTY_MAX, TTL_MS_MAX, TTL_MS_MIN};
use crate::outcome::{ReserveOutcome, Transition, TransitionOutcome};
use crate::reservation::{CartLine, Reservation, ReservationId, ReserveRequest, validate_sku_id};

/// One cart line: `qty` units of `sku`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,128}$", example = "sku-1")]
    pub sku: String,
    #[schema(minimum = 1, maximum = 1_000_000, example = 1)]
    #[serde(deserialize_with = "integer")]
    pub qty: i64,
}

/// `POST /v1/reservations`: hold every line of the cart, or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveBody {
    /// 1 to 100 lines; lines naming one SKU are merged (their sum at most 1,000,000).
    #[schema(min_items = 1, max_items = 100, value_type = Vec<LineBody>)]
    pub items: Vec<Object<LineBody>>,
    /// How long the units are held before the sweeper may expire them (Redis clock).
    #[schema(minimum = 1, maximum = 86_400_000, example = 60_000)]
    #[serde(deserialize_with = "integer")]
    pub ttl_ms: i64,
}

/// A reservation: its merged lines, state and deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReservationBody {
    pub id: String,
    pub state: StateName,
    /// Merged lines, one per SKU, sorted by SKU.
    pub items: Vec<LineBody>,
    /// Redis server time (ms since the epoch) after which it may expire.
    pub deadline_ms: i64,
}

impl From<Reservation> for ReservationBody {
    fn from(reservation: Reservation) -> ReservationBody {
        ReservationBody {
            id: reservation.id.0,
            state: reservation.state.into(),
            items: reservation
                .items
                .into_iter()
                .map(|line| LineBody {
                    sku: line.sku,
                    qty: line.qty,
                })
                .collect(),
            deadline_ms: reservation.deadline_ms,
        }
    }
}

/// The answer to confirm and release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransitionBody {
    pub id: String,
    pub state: StateName,
}

/// Checks the cart line by line, naming the line that breaks a bound (`items[3].qty`,
/// 400: the request breaks the published schema); [`ReserveRequest::validate`] then
/// checks the merged cart (422: schema-valid, refused as a whole).
fn checked_request(key: String, body: ReserveBody) -> Result<ReserveRequest, ApiError> {
    if body.items.is_empty() || body.items.len() > CART_LINES_MAX {
        return Err(ApiError::invalid(
            "items",
            format!(
                "a cart has 1 to {CART_LINES_MAX} lines, got {}",
                body.items.len()
            ),
        ));
    }
    for (index, Object(line)) in body.items.iter().enumerate() {
        if let Err(crate::EngineError::InvalidInput { reason, .. }) = validate_sku_id(&line.sku) {
            return Err(ApiError::invalid(format!("items[{index}].sku"), reason));
        }
        ApiError::check_range(
            format!("items[{index}].qty"),
            line.qty,
            (1, LINE_QTY_MAX),
            "",
        )?;
    }
    ApiError::check_range("ttl_ms", body.ttl_ms, (TTL_MS_MIN, TTL_MS_MAX), " ms")?;
    let request = ReserveRequest {
        idempotency_key: key,
        items: body
            .items
            .into_iter()
            .map(|Object(line)| CartLine {
                sku: line.sku,
                qty: line.qty,
            })
            .collect(),
        ttl_ms: body.ttl_ms,
    };
    // Every line is valid on its own here; what is left is the merged cart (lines
    // naming one SKU summed), which the schema cannot express: 422, not 400.
    if let Err(error) = request.validate() {
        return Err(match error {
            crate::EngineError::InvalidInput { field, reason } => ApiError::Unprocessable {
                field: field.to_owned(),
                message: reason,
            },
            other => ApiError::from(other),
        });
    }
    Ok(request)
}

/// Holds every line of the cart or none. The first call with a key answers 201; a
/// repeat with the same key and items answers 200 with the reservation as it is now.
#[utoipa::path(
    post,
    path = "/v1/reservations",
    tag = "reservations",
    params((
        "Idempotency-Key" = String,
        Header,
        description = "Names this reserve; a retry with the same key and items replays it",
        pattern = "^[!-~]{1,255}$",
        example = "order-1"
    )),
    request_body = ReserveBody,
    responses(
        (status = 201, description = "Reserved", body = ReservationBody),
        (status = 200, description = "A replay: the reservation this key made", body = ReservationBody),
        (status = 400, description = "Bad input or missing Idempotency-Key; `field` names it", body = ErrorBody),
        (status = 404, description = "A SKU of the cart was never stocked (`unknown_sku`)", body = ErrorBody),
        (status = 409, description = "Not enough units (`insufficient_stock`, with `sku` and `available`); nothing recorded", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body not JSON", body = ErrorBody),
        (status = 422, description = "The key was used with other items (`idempotency_key_reused`), or lines naming one SKU add up past 1,000,000 (`unprocessable_cart`)", body = ErrorBody),
        (status = 503, description = "Store unreachable or server overloaded; nothing changed", body = ErrorBody),
        (status = 504, description = "No reply in time; the effect is unknown: retry with the same key", body = ErrorBody),
    )
)]
pub async fn reserve(
    State(state): State<AppState>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<ReserveBody>,
) -> Result<(StatusCode, Json<ReservationBody>), ApiError> {
    let request = checked_request(key, body)?;
    state.check_writable()?;
    match state.engine.reserve(&request).await? {
        ReserveOutcome::Reserved(reservation) => {
            Ok((StatusCode::CREATED, Json(reservation.into())))
        }
        ReserveOutcome::Replayed(reservation) => Ok((StatusCode::OK, Json(reservation.into()))),
        ReserveOutcome::KeyReused { existing } => Err(ApiError::IdempotencyKeyReused {
            existing: existing.0,
        }),
        ReserveOutcome::Insufficient { sku, available, .. } => {
            Err(ApiError::InsufficientStock { sku, available })
        }
        ReserveOutcome::UnknownSku { sku } => Err(ApiError::UnknownSku { sku }),
    }
}

fn checked_id(id: String) -> Result<ReservationId, ApiError> {
    match validate_sku_id(&id) {
        Ok(()) => Ok(ReservationId(id)),
        Err(_) => Err(ApiError::invalid(
            "id",
            format!(
                "`{}` is not a reservation id (1 to 128 characters of A-Z a-z 0-9 . _ : -)",
                id.escape_debug()
            ),
        )),
    }
}

async fn transition(
    state: &AppState,
    id: String,
    transition: Transition,
) -> Result<Json<TransitionBody>, ApiError> {
    let id = checked_id(id)?;
    state.check_writable()?;
    match state.engine.transition(&id, transition).await? {
        TransitionOutcome::Applied(reservation)
        | TransitionOutcome::AlreadyApplied(reservation) => Ok(Json(TransitionBody {
            id: reservation.id.0,
            state: reservation.state.into(),
        })),
        TransitionOutcome::NotHeld { state } => Err(ApiError::NotHeld {
            id: id.0,
            state: state.into(),
        }),
        TransitionOutcome::UnknownReservation => Err(ApiError::UnknownReservation { id: id.0 }),
    }
}

/// Held → Confirmed (the units are sold). A repeat after success answers 200 again.
#[utoipa::path(
    post,
    path = "/v1/reservations/{id}/confirm",
    tag = "reservations",
    params(("id" = String, Path, description = "Reservation id", pattern = "^[A-Za-z0-9._:-]{1,128}$")),
    responses(
        (status = 200, description = "Confirmed (now or by an earlier call)", body = TransitionBody),
        (status = 400, description = "Bad reservation id", body = ErrorBody),
        (status = 404, description = "No such reservation", body = ErrorBody),
        (status = 409, description = "Another terminal state won (`not_held`, with `state`)", body = ErrorBody),
        (status = 503, description = "Store unreachable or server overloaded; nothing changed", body = ErrorBody),
        (status = 504, description = "No reply in time; the effect is unknown: retry", body = ErrorBody),
    )
)]
pub async fn confirm(
    State(state): State<AppState>,
    ApiPath(id): ApiPath,
) -> Result<Json<TransitionBody>, ApiError> {
    transition(&state, id, Transition::Confirm).await
}

/// Held → Released (the units are available again). A repeat after success answers 200.
#[utoipa::path(
    post,
    path = "/v1/reservations/{id}/release",
    tag = "reservations",
    params(("id" = String, Path, description = "Reservation id", pattern = "^[A-Za-z0-9._:-]{1,128}$")),
    responses(
        (status = 200, description = "Released (now or by an earlier call)", body = TransitionBody),
        (status = 400, description = "Bad reservation id", body = ErrorBody),
        (status = 404, description = "No such reservation", body = ErrorBody),
        (status = 409, description = "Another terminal state won (`not_held`, with `state`)", body = ErrorBody),
        (status = 503, description = "Store unreachable or server overloaded; nothing changed", body = ErrorBody),
        (status = 504, description = "No reply in time; the effect is unknown: retry", body = ErrorBody),
    )
)]
pub async fn release(
    State(state): State<AppState>,
    ApiPath(id): ApiPath,
) -> Result<Json<TransitionBody>, ApiError> {
    transition(&state, id, Transition::Release).await
}

/// The reservation now.
#[utoipa::path(
    get,
    path = "/v1/reservations/{id}",
    tag = "reservations",
    params(("id" = String, Path, description = "Reservation id", pattern = "^[A-Za-z0-9._:-]{1,128}$")),
    responses(
        (status = 200, description = "The reservation", body = ReservationBody),
        (status = 400, description = "Bad reservation id", body = ErrorBody),
        (status = 404, description = "No such reservation", body = ErrorBody),
        (status = 503, description = "Store unreachable or server overloaded", body = ErrorBody),
        (status = 504, description = "No reply in time", body = ErrorBody),
    )
)]
pub async fn get_reservation(
    State(state): State<AppState>,
    ApiPath(id): ApiPath,
) -> Result<Json<ReservationBody>, ApiError> {
    let id = checked_id(id)?;
    match state.engine.reservation(&id).await? {
        Some(reservation) => Ok(Json(reservation.into())),
        None => Err(ApiError::UnknownReservation { id: id.0 }),
    }
}
