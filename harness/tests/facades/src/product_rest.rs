//! Shape `product-rest`: a product / order REST API with numeric business codes in a
//! `{"code", "msg", "data"}` envelope, each with an HTTP status of its own. The client's
//! `order_id` names the reservation (the engine's Idempotency-Key); `product_id` is
//! the engine SKU id as is.
//!
//! | route | does |
//! |---|---|
//! | `POST /inventory/reserve {order_id, product_id, quantity, expire_seconds?}` | holds units (default hold 15 min); the same order again is idempotent |
//! | `POST /inventory/deduct {order_id}` | payment succeeded: sells the held units |
//! | `POST /inventory/release {order_id}` | cancels the order, returning its units |
//! | `POST /inventory/restock {product_id, quantity}` | adds units |
//! | `GET /inventory/check/{product_id}` | `{product_id, available, reserved, total}`, `total = available + reserved`, no `sold` |
//! | `GET /inventory/orders/{order_id}` | `{order_id, product_id, quantity, status}` |
//!
//! Statuses: `active`, `confirmed`, `cancelled`, `expired`. Codes and their HTTP
//! statuses:
//!
//! | HTTP | code | meaning |
//! |---|---|---|
//! | 200 | 0 | done |
//! | 200 | 20001 | reserve repeated for an order already reserved with these items: nothing changed, `data` is the order |
//! | 400 | 40001 | invalid parameter (`msg` says which) |
//! | 404 | 40401 | product not found |
//! | 404 | 40402 | order not found |
//! | 409 | 40901 | insufficient stock (`data.available`) |
//! | 409 | 40902 | order id already used with another product or quantity |
//! | 409 | 40903 | order not active (`data.status` is the status that won) |
//! | 500 | 50001 | the order book is full, after the backend held the units: outcome unknown |
//! | 502 | 50201 | inventory backend unreachable or answered oddly: outcome unknown |
//! | 503 | 50301 | inventory backend unavailable: nothing changed |
//! | 504 | 50401 | inventory backend did not answer in time: outcome unknown |
//!
//! `GET /health` answers 200 while the process runs.
//!
//! Not here: the engine client (`engine`), the Postgres copy (`store`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::{EngineError, Refusal, Reply, Reservation, SkuStock, Transition};
use crate::orders::Order;
use crate::{Facade, HOLD_TTL_MS_MAX, Plant};

/// Order ids and product ids: 1 to 128 characters of A-Z a-z 0-9 . _ : - (the engine's
/// SKU ids; stockproof's keys, e.g. `flash-sale-1-u12-c3`, fit as order ids).
pub const ID_CHARS_MAX: usize = 128;
/// `expire_seconds` at most the engine's longest hold (a day).
pub const EXPIRE_SECONDS_MAX: i64 = HOLD_TTL_MS_MAX / 1_000;

pub fn router(facade: Arc<Facade>) -> Router {
    Router::new()
        .route("/inventory/reserve", post(reserve))
        .route("/inventory/deduct", post(deduct))
        .route("/inventory/release", post(release))
        .route("/inventory/restock", post(restock))
        .route("/inventory/check/{product_id}", get(check))
        .route("/inventory/orders/{order_id}", get(get_order))
        .with_state(facade)
}

/// One answer: HTTP status, business code, message, data.
#[derive(Debug)]
struct Envelope {
    status: StatusCode,
    code: u32,
    msg: String,
    data: Value,
}

impl IntoResponse for Envelope {
    fn into_response(self) -> Response {
        let body = json!({ "code": self.code, "msg": self.msg, "data": self.data });
        (self.status, axum::Json(body)).into_response()
    }
}

type Answer = Result<Envelope, Envelope>;

fn envelope(status: StatusCode, code: u32, msg: impl Into<String>, data: Value) -> Envelope {
    Envelope {
        status,
        code,
        msg: msg.into(),
        data,
    }
}

fn ok(data: Value) -> Envelope {
    envelope(StatusCode::OK, 0, "ok", data)
}

fn invalid(msg: impl Into<String>) -> Envelope {
    envelope(StatusCode::BAD_REQUEST, 40001, msg, Value::Null)
}

fn order_not_found(order_id: &str) -> Envelope {
    envelope(
        StatusCode::NOT_FOUND,
        40402,
        format!("order {order_id} not found"),
        Value::Null,
    )
}

fn not_active(order_id: &str, status: &str) -> Envelope {
    envelope(
        StatusCode::CONFLICT,
        40903,
        format!("order {order_id} is {status}"),
        json!({ "order_id": order_id, "status": status }),
    )
}

fn engine_failed(error: EngineError) -> Envelope {
    tracing::warn!(%error, "engine call failed");
    let (status, code) = match &error {
        EngineError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, 50301),
        EngineError::Timeout { .. } | EngineError::ServerError { .. } => {
            (StatusCode::GATEWAY_TIMEOUT, 50401)
        }
        EngineError::Unreachable { .. } | EngineError::BadReply { .. } | EngineError::Client(_) => {
            (StatusCode::BAD_GATEWAY, 50201)
        }
    };
    envelope(status, code, "inventory backend error", Value::Null)
}

/// The service's name of an engine state.
fn status_name(state: &str) -> &'static str {
    match state {
        "held" => "active",
        "confirmed" => "confirmed",
        "released" => "cancelled",
        "expired" => "expired",
        _ => "unknown",
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Envelope> {
    serde_json::from_slice(body).map_err(|error| invalid(format!("bad request body: {error}")))
}

fn checked_id<'a>(name: &str, id: &'a str) -> Result<&'a str, Envelope> {
    let valid = (1..=ID_CHARS_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._:-".contains(&byte));
    match valid {
        true => Ok(id),
        false => Err(invalid(format!(
            "{name} `{}` is not 1 to {ID_CHARS_MAX} characters of A-Z a-z 0-9 . _ : -",
            id.escape_debug()
        ))),
    }
}

fn checked_order_id(order_id: &str) -> Result<&str, Envelope> {
    checked_id("order_id", order_id)
}

fn checked_product_id(product_id: &str) -> Result<&str, Envelope> {
    checked_id("product_id", product_id)
}

fn checked_quantity(quantity: i64) -> Result<i64, Envelope> {
    match quantity >= 1 {
        true => Ok(quantity),
        false => Err(invalid(format!(
            "quantity must be positive, got {quantity}"
        ))),
    }
}

#[derive(Debug, Deserialize)]
struct ReserveBody {
    order_id: String,
    product_id: String,
    quantity: i64,
    expire_seconds: Option<i64>,
}

fn hold_ttl_ms(facade: &Facade, expire_seconds: Option<i64>) -> Result<i64, Envelope> {
    match expire_seconds {
        None => Ok(facade.hold_ttl_ms),
        Some(seconds) if (1..=EXPIRE_SECONDS_MAX).contains(&seconds) => Ok(seconds * 1_000),
        Some(seconds) => Err(invalid(format!(
            "expire_seconds must be 1 to {EXPIRE_SECONDS_MAX}, got {seconds}"
        ))),
    }
}

async fn reserve(State(facade): State<Arc<Facade>>, body: Bytes) -> Answer {
    let body: ReserveBody = parse_body(&body)?;
    let order_id = checked_order_id(&body.order_id)?;
    let product_id = checked_product_id(&body.product_id)?;
    let quantity = checked_quantity(body.quantity)?;
    let ttl_ms = hold_ttl_ms(&facade, body.expire_seconds)?;
    let reply = facade
        .engine
        .reserve(order_id, product_id, quantity, ttl_ms)
        .await
        .map_err(engine_failed)?;
    let reserved = match reply {
        Reply::Done(reserved) => reserved,
        Reply::Refused(refusal) => return Err(reserve_refused(refusal, product_id)),
    };
    let reservation = &reserved.reservation;
    // A replay keeps what this service already knows of the order (a local cancel).
    let known = facade
        .orders
        .get(order_id)
        .filter(|order| order.reservation == reservation.id);
    let order = known.unwrap_or(Order {
        reservation: reservation.id.clone(),
        sku: product_id.to_owned(),
        qty: quantity,
        cancelled_locally: false,
    });
    let status = order_status(&order, &reservation.state);
    if let Err(full) = facade.orders.insert(order_id, order) {
        // The engine holds the units already: not a 503, which promises nothing changed.
        return Err(envelope(
            StatusCode::INTERNAL_SERVER_ERROR,
            50001,
            full.to_string(),
            Value::Null,
        ));
    }
    let data = json!({
        "order_id": order_id,
        "product_id": product_id,
        "quantity": quantity,
        "status": status,
        "expires_at": reservation.deadline_ms,
    });
    if reserved.replayed {
        return Ok(envelope(
            StatusCode::OK,
            20001,
            "order already reserved",
            data,
        ));
    }
    facade.copy_stock(product_id).await;
    Ok(ok(data))
}

fn reserve_refused(refusal: Refusal, product_id: &str) -> Envelope {
    match refusal.error.as_str() {
        "insufficient_stock" => envelope(
            StatusCode::CONFLICT,
            40901,
            "insufficient stock",
            json!({ "product_id": product_id, "available": refusal.available }),
        ),
        "idempotency_key_reused" => envelope(
            StatusCode::CONFLICT,
            40902,
            "order id already used with another product or quantity",
            Value::Null,
        ),
        "unknown_sku" => envelope(
            StatusCode::NOT_FOUND,
            40401,
            format!("product {product_id} not found"),
            Value::Null,
        ),
        _ => invalid(refusal.message),
    }
}

/// The order's status: the engine's, unless this service cancelled it on its own.
fn order_status(order: &Order, engine_state: &str) -> &'static str {
    match order.cancelled_locally {
        true => "cancelled",
        false => status_name(engine_state),
    }
}

#[derive(Debug, Deserialize)]
struct OrderBody {
    order_id: String,
}

/// The order a body names, or the envelope saying why there is none.
fn known_order(facade: &Facade, body: &[u8]) -> Result<(String, Order), Envelope> {
    let body: OrderBody = parse_body(body)?;
    let order_id = checked_order_id(&body.order_id)?;
    match facade.orders.get(order_id) {
        Some(order) => Ok((order_id.to_owned(), order)),
        None => Err(order_not_found(order_id)),
    }
}

async fn deduct(State(facade): State<Arc<Facade>>, body: Bytes) -> Answer {
    let (order_id, order) = known_order(&facade, &body)?;
    if order.cancelled_locally {
        return Err(not_active(&order_id, "cancelled"));
    }
    let reply = facade
        .engine
        .confirm(&order.reservation)
        .await
        .map_err(engine_failed)?;
    transitioned(&facade, reply, &order_id, &order).await
}

async fn release(State(facade): State<Arc<Facade>>, body: Bytes) -> Answer {
    let (order_id, order) = known_order(&facade, &body)?;
    if order.cancelled_locally {
        return Ok(ok(json!({ "order_id": order_id, "status": "cancelled" })));
    }
    if facade.planted(Plant::ReleaseLeaks) {
        return release_leaking(&facade, &order_id, &order).await;
    }
    let reply = facade
        .engine
        .release(&order.reservation)
        .await
        .map_err(engine_failed)?;
    transitioned(&facade, reply, &order_id, &order).await
}

/// The `release-leaks` plant: the order is marked cancelled here, and the engine's
/// hold is left to expire on its own.
async fn release_leaking(facade: &Facade, order_id: &str, order: &Order) -> Answer {
    let reply = facade
        .engine
        .get_reservation(&order.reservation)
        .await
        .map_err(engine_failed)?;
    let reservation = match reply {
        Reply::Done(reservation) => reservation,
        Reply::Refused(_) => return Err(order_not_found(order_id)),
    };
    if reservation.state != "held" {
        return Err(not_active(order_id, status_name(&reservation.state)));
    }
    facade.orders.cancel_locally(order_id);
    Ok(ok(json!({ "order_id": order_id, "status": "cancelled" })))
}

/// The answer to deduct and release; a success updates the Postgres copy.
async fn transitioned(
    facade: &Facade,
    reply: Reply<Transition>,
    order_id: &str,
    order: &Order,
) -> Answer {
    match reply {
        Reply::Done(transition) => {
            facade.copy_stock(&order.sku).await;
            let status = status_name(&transition.state);
            Ok(ok(json!({ "order_id": order_id, "status": status })))
        }
        Reply::Refused(refusal) if refusal.error == "not_held" => Err(not_active(
            order_id,
            status_name(refusal.state.as_deref().unwrap_or_default()),
        )),
        Reply::Refused(refusal) if refusal.status == 404 => Err(order_not_found(order_id)),
        Reply::Refused(refusal) => Err(invalid(refusal.message)),
    }
}

#[derive(Debug, Deserialize)]
struct RestockBody {
    product_id: String,
    quantity: i64,
}

fn stock_view(product_id: &str, stock: SkuStock) -> Value {
    json!({
        "product_id": product_id,
        "available": stock.available,
        "reserved": stock.reserved,
        "total": stock.available + stock.reserved,
    })
}

async fn restock(State(facade): State<Arc<Facade>>, body: Bytes) -> Answer {
    let body: RestockBody = parse_body(&body)?;
    let product_id = checked_product_id(&body.product_id)?;
    let quantity = checked_quantity(body.quantity)?;
    match facade
        .engine
        .restock(product_id, quantity)
        .await
        .map_err(engine_failed)?
    {
        Reply::Done(stock) => {
            facade.copy_stock(product_id).await;
            Ok(ok(stock_view(product_id, stock)))
        }
        Reply::Refused(refusal) => Err(invalid(refusal.message)),
    }
}

async fn check(State(facade): State<Arc<Facade>>, Path(product_id): Path<String>) -> Answer {
    let product_id = checked_product_id(&product_id)?;
    match facade
        .engine
        .get_sku(product_id)
        .await
        .map_err(engine_failed)?
    {
        Reply::Done(stock) => Ok(ok(stock_view(product_id, stock))),
        Reply::Refused(_) => Err(envelope(
            StatusCode::NOT_FOUND,
            40401,
            format!("product {product_id} not found"),
            Value::Null,
        )),
    }
}

async fn get_order(State(facade): State<Arc<Facade>>, Path(order_id): Path<String>) -> Answer {
    let order_id = checked_order_id(&order_id)?;
    let order = facade
        .orders
        .get(order_id)
        .ok_or_else(|| order_not_found(order_id))?;
    let reply = facade
        .engine
        .get_reservation(&order.reservation)
        .await
        .map_err(engine_failed)?;
    let reservation: Reservation = match reply {
        Reply::Done(reservation) => reservation,
        Reply::Refused(_) => return Err(order_not_found(order_id)),
    };
    Ok(ok(json!({
        "order_id": order_id,
        "product_id": order.sku,
        "quantity": order.qty,
        "status": order_status(&order, &reservation.state),
    })))
}
