//! The facades' client of the reference engine's HTTP contract (DESIGN §6,
//! docs/http.md): restock, read a SKU, reserve one line under an Idempotency-Key,
//! confirm, release, read a reservation. A 2xx reply is parsed into its typed body, a
//! 4xx into a [`Refusal`] (the engine's `{error, message, state?, available?}`), and a
//! 5xx, a timeout or a connection failure is an [`EngineError`]: the facade cannot tell
//! what happened and answers with a 5xx of its own.
//!
//! Not here: any facade's own API shape (see `order_no`, `product_rest`).

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Above the engine's own 10 s request timeout, so the engine's 504 (which says the
/// effect may have happened) arrives before our own timeout would.
pub const ENGINE_TIMEOUT_MS: u64 = 11_000;
/// Idle keep-alive connections kept to the engine: the engine admits 512 requests in
/// flight; 64 idle ones cover a load of a few hundred users without reconnect churn.
const ENGINE_IDLE_CONNECTIONS_MAX: usize = 64;

/// The engine's view of one SKU (`GET /v1/skus/{sku}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct SkuStock {
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
    /// Units ever supplied (restocks ± adjustments), not the units on hand.
    pub total: i64,
}

/// A line of a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Line {
    pub sku: String,
    pub qty: i64,
}

/// A reservation as the engine answers it: `state` is `held`, `confirmed`, `released`
/// or `expired`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Reservation {
    pub id: String,
    pub state: String,
    pub items: Vec<Line>,
    pub deadline_ms: i64,
}

/// The answer to confirm and release.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Transition {
    pub id: String,
    pub state: String,
}

/// A 4xx from the engine: nothing changed. `error` is the engine's code
/// (`insufficient_stock`, `not_held`, `unknown_sku`, `idempotency_key_reused`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refusal {
    #[serde(skip)]
    pub status: u16,
    pub error: String,
    pub message: String,
    /// The state that won, on `not_held`.
    #[serde(default)]
    pub state: Option<String>,
    /// Units available, on `insufficient_stock`.
    #[serde(default)]
    pub available: Option<i64>,
}

/// What a call got: the typed body of a 2xx, or the engine's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<T> {
    Done(T),
    Refused(Refusal),
}

/// A reserve that the engine accepted: `replayed` when the key was already used with
/// these items (the engine answered 200, not 201).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    pub reservation: Reservation,
    pub replayed: bool,
}

/// Why the facade cannot say what the engine did.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("engine {route}: no reply within {ENGINE_TIMEOUT_MS} ms")]
    Timeout { route: String },
    #[error("engine {route}: unreachable: {source}")]
    Unreachable {
        route: String,
        #[source]
        source: reqwest::Error,
    },
    /// 503 from the engine: it promises that nothing changed.
    #[error("engine {route}: unavailable ({body})")]
    Unavailable { route: String, body: String },
    /// Any other 5xx (504 `outcome_unknown` above all): the effect may have happened.
    #[error("engine {route}: answered {status} ({body})")]
    ServerError {
        route: String,
        status: u16,
        body: String,
    },
    #[error("engine {route}: unexpected reply {status}: {reason}")]
    BadReply {
        route: String,
        status: u16,
        reason: String,
    },
    #[error("building the engine client: {0}")]
    Client(#[source] reqwest::Error),
}

/// A client of one engine (`--engine URL`).
#[derive(Debug, Clone)]
pub struct EngineClient {
    http: reqwest::Client,
    base: String,
}

impl EngineClient {
    pub fn new(base: &str) -> Result<EngineClient, EngineError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(ENGINE_TIMEOUT_MS))
            .pool_max_idle_per_host(ENGINE_IDLE_CONNECTIONS_MAX)
            .build()
            .map_err(EngineError::Client)?;
        Ok(EngineClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// `sku` must already be a valid engine SKU id (the facades check it).
    pub async fn restock(&self, sku: &str, qty: i64) -> Result<Reply<SkuStock>, EngineError> {
        let path = format!("/v1/skus/{sku}/restock");
        let request = self
            .http
            .post(self.url(&path))
            .json(&serde_json::json!({ "qty": qty }));
        self.call(&path, request).await.map(|(_, reply)| reply)
    }

    pub async fn get_sku(&self, sku: &str) -> Result<Reply<SkuStock>, EngineError> {
        let path = format!("/v1/skus/{sku}");
        let request = self.http.get(self.url(&path));
        self.call(&path, request).await.map(|(_, reply)| reply)
    }

    /// Reserves `qty` units of `sku` as a cart of one line under `key`.
    pub async fn reserve(
        &self,
        key: &str,
        sku: &str,
        qty: i64,
        ttl_ms: i64,
    ) -> Result<Reply<Reserved>, EngineError> {
        let path = "/v1/reservations";
        let request = self
            .http
            .post(self.url(path))
            .header("Idempotency-Key", key)
            .json(&serde_json::json!({ "items": [{ "sku": sku, "qty": qty }], "ttl_ms": ttl_ms }));
        let (status, reply) = self.call::<Reservation>(path, request).await?;
        Ok(match reply {
            Reply::Done(reservation) => Reply::Done(Reserved {
                reservation,
                replayed: status == reqwest::StatusCode::OK,
            }),
            Reply::Refused(refusal) => Reply::Refused(refusal),
        })
    }

    pub async fn confirm(&self, id: &str) -> Result<Reply<Transition>, EngineError> {
        self.transition(id, "confirm").await
    }

    pub async fn release(&self, id: &str) -> Result<Reply<Transition>, EngineError> {
        self.transition(id, "release").await
    }

    pub async fn get_reservation(&self, id: &str) -> Result<Reply<Reservation>, EngineError> {
        let path = format!("/v1/reservations/{id}");
        let request = self.http.get(self.url(&path));
        self.call(&path, request).await.map(|(_, reply)| reply)
    }

    async fn transition(&self, id: &str, verb: &str) -> Result<Reply<Transition>, EngineError> {
        let path = format!("/v1/reservations/{id}/{verb}");
        let request = self.http.post(self.url(&path));
        self.call(&path, request).await.map(|(_, reply)| reply)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends one request and sorts the reply: 2xx → `Done`, 4xx → `Refused`, the rest
    /// (and a body that does not parse) → `Err`.
    async fn call<T: DeserializeOwned>(
        &self,
        route: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Reply<T>), EngineError> {
        let failed = |source: reqwest::Error| match source.is_timeout() {
            true => EngineError::Timeout {
                route: route.to_owned(),
            },
            false => EngineError::Unreachable {
                route: route.to_owned(),
                source,
            },
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let text = response.text().await.map_err(failed)?;
        let bad_reply = |reason: String| EngineError::BadReply {
            route: route.to_owned(),
            status: status.as_u16(),
            reason,
        };
        if status.is_success() {
            let body = serde_json::from_str(&text).map_err(|error| bad_reply(error.to_string()))?;
            return Ok((status, Reply::Done(body)));
        }
        if status.is_client_error() {
            let mut refusal: Refusal =
                serde_json::from_str(&text).map_err(|error| bad_reply(error.to_string()))?;
            refusal.status = status.as_u16();
            return Ok((status, Reply::Refused(refusal)));
        }
        let route = route.to_owned();
        Err(match status {
            reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                EngineError::Unavailable { route, body: text }
            }
            _ => EngineError::ServerError {
                route,
                status: status.as_u16(),
                body: text,
            },
        })
    }
}
