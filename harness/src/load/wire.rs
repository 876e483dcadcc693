//! The HTTP contract (DESIGN §6) as the load driver speaks it: an [`Op`] becomes one
//! request, and a reply (or its absence) becomes an [`Outcome`] with the parsed
//! [`Response`]. A 2xx is `ok`; a 4xx or 503 is `fail` (the contract says nothing
//! changed); no reply, a timeout, a reset or any other 5xx is `unknown`, never `fail`,
//! since the effect may have happened.
//!
//! Not here: what to send when (`super::shopper`), timing, recording.

use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde::{Deserialize, Serialize};
use stockproof_engine::{CartLine, ReservationId, ReservationState, SkuStock};

use crate::history::{Op, Outcome, Response};

/// Largest reply body parsed: a full cart's reservation is ~16 KiB; anything much
/// larger is not a contract reply and is kept out of the history.
pub const REPLY_BODY_BYTES_MAX: usize = 64 * 1024;

/// The header that carries a reserve's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// What the target answered to one op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub response: Option<Response>,
    /// Why no usable reply came (`timeout`, `connect`, `reset`…), for logs and progress.
    pub transport_error: Option<&'static str>,
}

/// Sends `op` to `base_url` (no trailing slash) and waits at most `timeout`.
/// `op` must be an HTTP op (not [`Op::Fault`]).
pub async fn send(client: &Client, base_url: &str, op: &Op, timeout: Duration) -> Reply {
    let Some(request) = HttpRequest::for_op(op) else {
        return Reply {
            outcome: Outcome::Fail,
            status: None,
            response: None,
            transport_error: Some("not an http op"),
        };
    };
    let mut builder = client
        .request(request.method, format!("{base_url}{}", request.path))
        .timeout(timeout);
    if let Some(key) = request.idempotency_key {
        builder = builder.header(IDEMPOTENCY_KEY_HEADER, key);
    }
    if let Some(body) = request.body {
        builder = builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
    }
    // reqwest's per-request timeout covers connect, send and the whole body read.
    let response = match builder.send().await {
        Ok(response) => response,
        Err(error) => return no_reply(&error),
    };
    let status = response.status();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => return no_reply(&error),
    };
    Reply {
        outcome: classify(status),
        status: Some(status.as_u16()),
        response: parse_body(&body),
        transport_error: None,
    }
}

/// Outcome of a reply with `status`.
pub fn classify(status: StatusCode) -> Outcome {
    if status.is_success() {
        Outcome::Ok
    } else if status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE {
        Outcome::Fail
    } else {
        Outcome::Unknown
    }
}

fn no_reply(error: &reqwest::Error) -> Reply {
    let reason = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else {
        "reset"
    };
    Reply {
        outcome: Outcome::Unknown,
        status: None,
        response: None,
        transport_error: Some(reason),
    }
}

/// Method, path and body of one op.
#[derive(Debug, PartialEq, Eq)]
struct HttpRequest<'a> {
    method: Method,
    path: String,
    idempotency_key: Option<&'a str>,
    body: Option<Vec<u8>>,
}

#[derive(Serialize)]
struct QtyBody {
    qty: i64,
}

#[derive(Serialize)]
struct DeltaBody {
    delta: i64,
}

#[derive(Serialize)]
struct ReserveBody<'a> {
    items: &'a [CartLine],
    ttl_ms: i64,
}

impl<'a> HttpRequest<'a> {
    fn for_op(op: &'a Op) -> Option<HttpRequest<'a>> {
        let request = match op {
            Op::Restock { sku, qty } => HttpRequest {
                method: Method::POST,
                path: format!("/v1/skus/{}/restock", encode(sku)),
                idempotency_key: None,
                body: Some(json(&QtyBody { qty: *qty })),
            },
            Op::Adjust { sku, delta } => HttpRequest {
                method: Method::POST,
                path: format!("/v1/skus/{}/adjust", encode(sku)),
                idempotency_key: None,
                body: Some(json(&DeltaBody { delta: *delta })),
            },
            Op::Reserve { key, items, ttl_ms } => HttpRequest {
                method: Method::POST,
                path: "/v1/reservations".to_owned(),
                idempotency_key: Some(key),
                body: Some(json(&ReserveBody {
                    items,
                    ttl_ms: *ttl_ms,
                })),
            },
            Op::Confirm { reservation } => transition(reservation, "confirm"),
            Op::Release { reservation } => transition(reservation, "release"),
            Op::GetSku { sku } => HttpRequest {
                method: Method::GET,
                path: format!("/v1/skus/{}", encode(sku)),
                idempotency_key: None,
                body: None,
            },
            Op::GetReservation { reservation } => HttpRequest {
                method: Method::GET,
                path: format!("/v1/reservations/{}", encode(&reservation.0)),
                idempotency_key: None,
                body: None,
            },
            Op::Fault { .. } => return None,
        };
        Some(request)
    }
}

fn transition<'a>(reservation: &ReservationId, action: &str) -> HttpRequest<'a> {
    HttpRequest {
        method: Method::POST,
        path: format!("/v1/reservations/{}/{action}", encode(&reservation.0)),
        idempotency_key: None,
        body: Some(b"{}".to_vec()),
    }
}

/// Serializes one of the small bodies above; plain structs of strings and integers
/// cannot fail to serialize.
fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Percent-encodes a path segment: ids and SKUs are `[A-Za-z0-9._:-]` in the reference
/// engine, but an external target may hand out anything.
fn encode(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Every field any contract reply carries; unknown ones (`message`, `field`) are ignored.
#[derive(Debug, Default, Deserialize)]
struct WireBody {
    id: Option<ReservationId>,
    state: Option<ReservationState>,
    deadline_ms: Option<i64>,
    items: Option<Vec<CartLine>>,
    error: Option<String>,
    sku: Option<String>,
    available: Option<i64>,
    reserved: Option<i64>,
    sold: Option<i64>,
    total: Option<i64>,
}

/// The recorded part of a reply body; `None` when it is empty, too large or not the
/// contract's JSON.
pub fn parse_body(body: &[u8]) -> Option<Response> {
    if body.is_empty() || body.len() > REPLY_BODY_BYTES_MAX {
        return None;
    }
    let wire: WireBody = serde_json::from_slice(body).ok()?;
    // A stock body has all four counts; a refusal carries only `available`.
    let stock = match (wire.reserved, wire.sold, wire.total, wire.available) {
        (Some(reserved), Some(sold), Some(total), Some(available)) => Some(SkuStock {
            available,
            reserved,
            sold,
            total,
        }),
        _ => None,
    };
    let available = if stock.is_some() {
        None
    } else {
        wire.available
    };
    let sku = if stock.is_some() && wire.error.is_none() {
        None
    } else {
        wire.sku
    };
    Some(Response {
        reservation: wire.id,
        state: wire.state,
        deadline_ms: wire.deadline_ms,
        items: wire.items,
        stock,
        error: wire.error,
        sku,
        available,
    })
}

#[cfg(test)]
mod tests;
