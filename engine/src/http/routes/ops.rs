//! Operational routes: `/healthz` (the process answers), `/readyz` (Redis and Postgres
//! answer and recovery is done), `/metrics` (Prometheus text). `/openapi.json` is
//! served by the router itself (it needs the finished document).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};

/// A readiness probe answers well within a kubelet's default 1 s probe timeout.
pub const READY_PROBE_TIMEOUT_MS: u64 = 500;

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusBody {
    /// Always `ok`.
    pub status: String,
}

fn ok() -> Json<StatusBody> {
    Json(StatusBody {
        status: "ok".to_owned(),
    })
}

/// The process is up and serving HTTP (says nothing about Redis or Postgres).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    responses((status = 200, description = "The process answers", body = StatusBody))
)]
pub async fn healthz() -> Json<StatusBody> {
    ok()
}

/// Ready to serve: start-up recovery is done, Redis and Postgres answer.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    responses(
        (status = 200, description = "Ready", body = StatusBody),
        (status = 503, description = "Not ready; `message` says what is missing", body = ErrorBody),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<StatusBody>, ApiError> {
    if !state.recovered.load(Ordering::Acquire) {
        return Err(ApiError::NotReady {
            reason: "start-up recovery is not done".to_owned(),
        });
    }
    let timeout = Duration::from_millis(READY_PROBE_TIMEOUT_MS);
    match tokio::time::timeout(timeout, state.engine.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            return Err(ApiError::NotReady {
                reason: format!("{}: {error}", state.engine_store),
            });
        }
        Err(_) => {
            return Err(ApiError::NotReady {
                reason: format!(
                    "{}: no answer within {READY_PROBE_TIMEOUT_MS} ms",
                    state.engine_store
                ),
            });
        }
    }
    let query = sqlx::query("SELECT 1").execute(&state.database);
    match tokio::time::timeout(timeout, query).await {
        Ok(Ok(_)) => Ok(ok()),
        Ok(Err(error)) => Err(ApiError::NotReady {
            reason: format!("postgres: {error}"),
        }),
        Err(_) => Err(ApiError::NotReady {
            reason: format!("postgres: no answer within {READY_PROBE_TIMEOUT_MS} ms"),
        }),
    }
}

/// Prometheus text exposition: requests by route and status, latency histograms,
/// ledger lag, sweeper expirations, recoveries.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
