//! Shape `order-no`: an order-number keyed inventory API answering in a
//! `{"code", "message", "data"}` envelope. The order number is the reservation's
//! identity (there is no server id): it is the engine's Idempotency-Key, and the order
//! book (`orders`, in memory) maps it to the engine reservation. One warehouse,
//! [`WAREHOUSE_ID`]; `skuId` is the engine SKU id written in decimal (1001 → `"1001"`).
//!
//! | route | does |
//! |---|---|
//! | `POST /inventory/reserve {orderNo, skuId, warehouseId, qty}` | holds `qty` units for the order; the same order again is idempotent |
//! | `POST /inventory/reservations/confirm?orderNo=` | sells the held units |
//! | `POST /inventory/reservations/release?orderNo=&reason=` | returns them |
//! | `GET /inventory/{skuId}?warehouseId=` | `{skuId, availableQty, reservedQty, totalQty}` |
//! | `GET /inventory/reservations?orderNo=` | `[{skuId, qty, status}]` |
//! | `POST /inventory/restock {skuId, warehouseId, qty}` | adds units |
//!
//! `totalQty` is the units on hand, `availableQty + reservedQty` (as in the issue's
//! example, 100 + 10 = 110), not the engine's units ever supplied; there is no sold
//! field. Statuses: `RESERVED`, `CONFIRMED`, `RELEASED`, `EXPIRED`.
//!
//! Every answer to a well-formed request is HTTP 200; `code` tells the outcome: `"0"`
//! (message `success`, or `already reserved` for an idempotent repeat of a reserve),
//! `STOCK_NOT_ENOUGH`, `ORDER_ITEMS_MISMATCH` (the order number was used with another
//! SKU or qty), `SKU_NOT_FOUND`, `ORDER_NOT_FOUND`, `ORDER_NOT_RESERVED` (with the
//! status that won in `data.status`), `PARAM_INVALID`. When the engine cannot say what
//! happened the answer is a 5xx with code `SYSTEM_ERROR`: 503 (the engine said nothing
//! changed), 504 (no answer in time: the effect is unknown), 502 (unreachable or an
//! unexpected reply), 500 (the engine held the units but the order book is full).
//! `GET /health` answers 200 while the process runs.
//!
//! Not here: the engine client (`engine`), the Postgres copy (`store`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::{EngineError, Refusal, Reply, Reservation};
use crate::orders::Order;
use crate::{Facade, Plant};

/// The one warehouse this service stocks.
pub const WAREHOUSE_ID: i64 = 1;
/// Order numbers: 1 to 128 characters of A-Z a-z 0-9 . _ : - (stockproof's keys, e.g.
/// `flash-sale-1-u12-c3`, fit; also a valid engine Idempotency-Key, with room for the
/// `ignore-order-no` plant's suffix).
pub const ORDER_NO_CHARS_MAX: usize = 128;
/// A release reason is kept for the log only.
pub const REASON_CHARS_MAX: usize = 256;

pub fn router(facade: Arc<Facade>) -> Router {
    Router::new()
        .route("/inventory/reserve", post(reserve))
        .route("/inventory/reservations/confirm", post(confirm))
        .route("/inventory/reservations/release", post(release))
        .route("/inventory/reservations", get(get_reservations))
        .route("/inventory/restock", post(restock))
        .route("/inventory/{sku_id}", get(get_sku))
        .with_state(facade)
}

/// One answer in the service's envelope.
#[derive(Debug)]
struct Envelope {
    status: StatusCode,
    code: &'static str,
    message: String,
    data: Value,
}

impl IntoResponse for Envelope {
    fn into_response(self) -> Response {
        let body = json!({ "code": self.code, "message": self.message, "data": self.data });
        (self.status, axum::Json(body)).into_response()
    }
}

type Answer = Result<Envelope, Envelope>;

fn success(message: &str, data: Value) -> Envelope {
    Envelope {
        status: StatusCode::OK,
        code: "0",
        message: message.to_owned(),
        data,
    }
}

fn refused(code: &'static str, message: impl Into<String>, data: Value) -> Envelope {
    Envelope {
        status: StatusCode::OK,
        code,
        message: message.into(),
        data,
    }
}

fn order_not_found(order_no: &str) -> Envelope {
    refused(
        "ORDER_NOT_FOUND",
        format!("order {order_no} not found"),
        Value::Null,
    )
}

fn param_invalid(message: impl Into<String>) -> Envelope {
    refused("PARAM_INVALID", message, Value::Null)
}

fn system_error(status: StatusCode, message: String) -> Envelope {
    Envelope {
        status,
        code: "SYSTEM_ERROR",
        message,
        data: Value::Null,
    }
}

fn engine_failed(error: EngineError) -> Envelope {
    tracing::warn!(%error, "engine call failed");
    let status = match &error {
        EngineError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        EngineError::Timeout { .. } | EngineError::ServerError { .. } => {
            StatusCode::GATEWAY_TIMEOUT
        }
        EngineError::Unreachable { .. } | EngineError::BadReply { .. } | EngineError::Client(_) => {
            StatusCode::BAD_GATEWAY
        }
    };
    system_error(status, "inventory backend unavailable".to_owned())
}

/// The service's name of an engine state.
fn status_name(state: &str) -> &'static str {
    match state {
        "held" => "RESERVED",
        "confirmed" => "CONFIRMED",
        "released" => "RELEASED",
        "expired" => "EXPIRED",
        _ => "UNKNOWN",
    }
}

/// The engine SKU id back as the service's number (the facade only makes numeric ones).
fn sku_number(sku: &str) -> Value {
    sku.parse::<i64>()
        .map_or_else(|_| Value::from(sku), Value::from)
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Envelope> {
    serde_json::from_slice(body)
        .map_err(|error| param_invalid(format!("bad request body: {error}")))
}

fn checked_order_no(order_no: Option<&String>) -> Result<&str, Envelope> {
    let order_no = order_no.ok_or_else(|| param_invalid("orderNo is required"))?;
    let valid = (1..=ORDER_NO_CHARS_MAX).contains(&order_no.len())
        && order_no
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._:-".contains(&byte));
    match valid {
        true => Ok(order_no),
        false => Err(param_invalid(format!(
            "orderNo `{}` is not 1 to {ORDER_NO_CHARS_MAX} characters of A-Z a-z 0-9 . _ : -",
            order_no.escape_debug()
        ))),
    }
}

fn checked_sku(sku_id: i64, warehouse_id: i64) -> Result<String, Envelope> {
    if warehouse_id != WAREHOUSE_ID {
        return Err(param_invalid(format!(
            "unknown warehouseId {warehouse_id} (this service stocks warehouse {WAREHOUSE_ID})"
        )));
    }
    match sku_id >= 1 {
        true => Ok(sku_id.to_string()),
        false => Err(param_invalid(format!(
            "skuId must be positive, got {sku_id}"
        ))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReserveBody {
    order_no: String,
    sku_id: i64,
    warehouse_id: i64,
    qty: i64,
}

async fn reserve(State(facade): State<Arc<Facade>>, body: Bytes) -> Answer {
    let body: ReserveBody = parse_body(&body)?;
    let order_no = checked_order_no(Some(&body.order_no))?;
    let sku = checked_sku(body.sku_id, body.warehouse_id)?;
    if body.qty < 1 {
        return Err(param_invalid(format!(
            "qty must be positive, got {}",
            body.qty
        )));
    }
    let key = match facade.planted(Plant::IgnoreOrderNo) {
        true => facade.fresh_key(order_no),
        false => order_no.to_owned(),
    };
    let reply = facade
        .engine
        .reserve(&key, &sku, body.qty, facade.hold_ttl_ms)
        .await
        .map_err(engine_failed)?;
    let reserved = match reply {
        Reply::Done(reserved) => reserved,
        Reply::Refused(refusal) => return Err(reserve_refused(refusal, body.sku_id)),
    };
    let order = Order {
        reservation: reserved.reservation.id.clone(),
        sku: sku.clone(),
        qty: body.qty,
        cancelled_locally: false,
    };
    if let Err(full) = facade.orders.insert(order_no, order) {
        // The engine holds the units already: not a 503, which promises nothing changed.
        return Err(system_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            full.to_string(),
        ));
    }
    if !reserved.replayed {
        facade.copy_stock(&sku).await;
    }
    let message = match reserved.replayed {
        true => "already reserved",
        false => "success",
    };
    let data = json!({
        "orderNo": order_no,
        "skuId": body.sku_id,
        "qty": body.qty,
        "status": status_name(&reserved.reservation.state),
    });
    Ok(success(message, data))
}

fn reserve_refused(refusal: Refusal, sku_id: i64) -> Envelope {
    match refusal.error.as_str() {
        "insufficient_stock" => refused(
            "STOCK_NOT_ENOUGH",
            format!("sku {sku_id} does not have enough stock"),
            json!({ "skuId": sku_id, "availableQty": refusal.available }),
        ),
        "idempotency_key_reused" => refused(
            "ORDER_ITEMS_MISMATCH",
            "this orderNo was reserved with another sku or qty",
            Value::Null,
        ),
        "unknown_sku" => refused(
            "SKU_NOT_FOUND",
            format!("sku {sku_id} not found"),
            Value::Null,
        ),
        _ => param_invalid(refusal.message),
    }
}

/// The order of `?orderNo=`, or the envelope saying why there is none.
fn known_order(
    facade: &Facade,
    params: &HashMap<String, String>,
) -> Result<(String, Order), Envelope> {
    let order_no = checked_order_no(params.get("orderNo"))?;
    match facade.orders.get(order_no) {
        Some(order) => Ok((order_no.to_owned(), order)),
        None => Err(order_not_found(order_no)),
    }
}

async fn confirm(
    State(facade): State<Arc<Facade>>,
    Query(params): Query<HashMap<String, String>>,
) -> Answer {
    let (order_no, order) = known_order(&facade, &params)?;
    let reply = facade
        .engine
        .confirm(&order.reservation)
        .await
        .map_err(engine_failed)?;
    transitioned(&facade, reply, &order_no, &order).await
}

async fn release(
    State(facade): State<Arc<Facade>>,
    Query(params): Query<HashMap<String, String>>,
) -> Answer {
    let (order_no, order) = known_order(&facade, &params)?;
    let reason = params.get("reason").map_or("", String::as_str);
    if reason.chars().count() > REASON_CHARS_MAX {
        return Err(param_invalid(format!(
            "reason is longer than {REASON_CHARS_MAX} characters"
        )));
    }
    tracing::info!(order_no, reason, "releasing");
    let reply = facade
        .engine
        .release(&order.reservation)
        .await
        .map_err(engine_failed)?;
    transitioned(&facade, reply, &order_no, &order).await
}

/// The answer to confirm and release; a success updates the Postgres copy.
async fn transitioned(
    facade: &Facade,
    reply: Reply<crate::engine::Transition>,
    order_no: &str,
    order: &Order,
) -> Answer {
    match reply {
        Reply::Done(transition) => {
            facade.copy_stock(&order.sku).await;
            let data = json!({ "orderNo": order_no, "status": status_name(&transition.state) });
            Ok(success("success", data))
        }
        Reply::Refused(refusal) if refusal.error == "not_held" => {
            let status = status_name(refusal.state.as_deref().unwrap_or_default());
            Err(refused(
                "ORDER_NOT_RESERVED",
                format!("order {order_no} is {status}, not reserved"),
                json!({ "orderNo": order_no, "status": status }),
            ))
        }
        Reply::Refused(refusal) if refusal.status == 404 => Err(order_not_found(order_no)),
        Reply::Refused(refusal) => Err(param_invalid(refusal.message)),
    }
}

async fn get_reservations(
    State(facade): State<Arc<Facade>>,
    Query(params): Query<HashMap<String, String>>,
) -> Answer {
    let (order_no, order) = known_order(&facade, &params)?;
    let reply = facade
        .engine
        .get_reservation(&order.reservation)
        .await
        .map_err(engine_failed)?;
    match reply {
        Reply::Done(reservation) => Ok(success("success", reservation_lines(&reservation))),
        Reply::Refused(_) => Err(order_not_found(&order_no)),
    }
}

fn reservation_lines(reservation: &Reservation) -> Value {
    let status = status_name(&reservation.state);
    let lines = reservation
        .items
        .iter()
        .map(|line| json!({ "skuId": sku_number(&line.sku), "qty": line.qty, "status": status }));
    Value::Array(lines.collect())
}

fn sku_view(sku_id: i64, stock: crate::engine::SkuStock) -> Value {
    json!({
        "skuId": sku_id,
        "availableQty": stock.available,
        "reservedQty": stock.reserved,
        "totalQty": stock.available + stock.reserved,
    })
}

async fn get_sku(
    State(facade): State<Arc<Facade>>,
    Path(sku_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Answer {
    let sku_id: i64 = sku_id
        .parse()
        .map_err(|_| param_invalid(format!("skuId `{}` is not a number", sku_id.escape_debug())))?;
    let warehouse_id = params
        .get("warehouseId")
        .ok_or_else(|| param_invalid("warehouseId is required"))?
        .parse::<i64>()
        .map_err(|_| param_invalid("warehouseId is not a number"))?;
    let sku = checked_sku(sku_id, warehouse_id)?;
    match facade.engine.get_sku(&sku).await.map_err(engine_failed)? {
        Reply::Done(stock) => Ok(success("success", sku_view(sku_id, stock))),
        Reply::Refused(_) => Err(refused(
            "SKU_NOT_FOUND",
            format!("sku {sku_id} not found"),
            Value::Null,
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestockBody {
    sku_id: i64,
    warehouse_id: i64,
    qty: i64,
}

async fn restock(State(facade): State<Arc<Facade>>, body: Bytes) -> Answer {
    let body: RestockBody = parse_body(&body)?;
    let sku = checked_sku(body.sku_id, body.warehouse_id)?;
    match facade
        .engine
        .restock(&sku, body.qty)
        .await
        .map_err(engine_failed)?
    {
        Reply::Done(stock) => {
            facade.copy_stock(&sku).await;
            Ok(success("success", sku_view(body.sku_id, stock)))
        }
        Reply::Refused(refusal) => Err(param_invalid(refusal.message)),
    }
}
