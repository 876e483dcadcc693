//! The HTTP contract of DESIGN §6 over any [`InventoryEngine`]: axum routes, one JSON
//! error body ([`error::ApiError`]), the OpenAPI document generated from the handlers'
//! types ([`openapi`]), Prometheus metrics ([`metrics`]), request ids and bounds on
//! everything (body size, time, requests in flight).
//!
//! Not here: starting Redis, Postgres, the ledger writer or the sweeper, binding a
//! socket, or shutting down (see [`crate::service`]). This module only builds a
//! [`Router`] from an [`AppState`].

pub mod error;
pub mod extract;
mod layers;
pub mod metrics;
pub mod openapi;
pub mod routes;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::engine::InventoryEngine;
use crate::http::metrics::ServiceMetrics;
use crate::limits::{CART_LINES_MAX, SKU_ID_BYTES_MAX};

/// Largest request body: a full cart (100 lines of 128-byte SKU ids, ~16 KiB) with room
/// for whitespace; a larger body is refused with 413 before it is parsed.
pub const BODY_BYTES_MAX: usize = 256 * 1024;
/// Requests handled at once; more wait (see `ADMISSION_WAIT_MS_MAX`). Each holds at
/// most one Redis call, and a few hundred keep two cores busy.
pub const REQUESTS_IN_FLIGHT_MAX: usize = 512;
/// How long a request may wait for a slot before a 503 `overloaded` (nothing started).
pub const ADMISSION_WAIT_MS_MAX: u64 = 1_000;
/// Time a request may take once admitted, then 504 `outcome_unknown`. Above the
/// engine's own Redis timeout, so the engine's typed error normally answers first.
pub const REQUEST_TIMEOUT_MS: u64 = 10_000;

const _: () = assert!(BODY_BYTES_MAX >= CART_LINES_MAX * (SKU_ID_BYTES_MAX + 32));

/// What every handler reads. Cheap to clone (all shared).
#[derive(Debug, Clone)]
pub struct AppState {
    pub engine: Arc<dyn InventoryEngine>,
    /// The store the engine's `ping` reaches (`redis`, or `postgres` for a
    /// Postgres-only strategy): named in `/readyz`'s reason.
    pub engine_store: &'static str,
    /// For `/readyz` only: requests never wait on Postgres (the ledger writer does).
    pub database: sqlx::PgPool,
    /// Set once start-up recovery (DESIGN §3) has finished.
    pub recovered: Arc<AtomicBool>,
    /// Whether the last Postgres probe (by the service's monitor, about once a second)
    /// answered. While it does not, writes are refused with 503: the ledger is the
    /// durable record, and an outbox that cannot drain would grow without bound.
    pub ledger_reachable: Arc<AtomicBool>,
    pub metrics: Arc<ServiceMetrics>,
}

impl AppState {
    /// Refuses a write (503, nothing changed) while Postgres cannot be reached.
    pub fn check_writable(&self) -> Result<(), error::ApiError> {
        if self
            .ledger_reachable
            .load(std::sync::atomic::Ordering::Acquire)
        {
            Ok(())
        } else {
            Err(error::ApiError::Unavailable {
                store: "postgres".to_owned(),
            })
        }
    }
}

/// The contract's routes with their OpenAPI descriptions, before state and layers.
fn api_routes() -> OpenApiRouter<AppState> {
    let inventory = OpenApiRouter::new()
        .routes(routes!(routes::skus::restock))
        .routes(routes!(routes::skus::adjust))
        .routes(routes!(routes::skus::get_sku))
        .routes(routes!(routes::reservations::reserve))
        .routes(routes!(routes::reservations::confirm))
        .routes(routes!(routes::reservations::release))
        .routes(routes!(routes::reservations::get_reservation))
        .route_layer(DefaultBodyLimit::max(BODY_BYTES_MAX));
    let ops = OpenApiRouter::new()
        .routes(routes!(routes::ops::healthz))
        .routes(routes!(routes::ops::readyz))
        .routes(routes!(routes::ops::metrics));
    OpenApiRouter::with_openapi(openapi::base())
        .merge(inventory)
        .merge(ops)
}

/// The OpenAPI document the server serves at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, document) = api_routes().split_for_parts();
    openapi::finish(document)
}

/// The whole service's router: routes, `/openapi.json`, fallback and layers.
pub fn router(state: AppState) -> Router {
    let (api, document) = api_routes().split_for_parts();
    let document_json = axum::body::Bytes::from(openapi::to_json(&openapi::finish(document)));
    let admission = layers::Admission::new(REQUESTS_IN_FLIGHT_MAX);
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        admission,
        layers::admit,
    ));
    let served = Router::new().route(
        "/openapi.json",
        axum::routing::get(move || openapi::serve(document_json.clone())),
    );
    layers::outer(
        api.merge(served)
            .fallback(layers::route_not_found)
            .with_state(state.clone()),
        state.metrics,
    )
}

#[cfg(test)]
mod tests;
