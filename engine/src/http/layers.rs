//! The middleware around every route: a request id (`x-request-id`, generated unless
//! the client sent one, echoed in the response and recorded in the tracing span),
//! request metrics by matched route, admission (a bounded number of requests in
//! flight, a bounded wait for a slot, a bounded time once admitted), and the 404 / 405
//! answers in the API's error body.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::http::error::ApiError;
use crate::http::metrics::ServiceMetrics;
use crate::http::{ADMISSION_WAIT_MS_MAX, REQUEST_TIMEOUT_MS};

const REQUEST_ID_HEADER: &str = "x-request-id";

/// Request ids `<process start ms in base 36>-<counter>`: unique per process run,
/// short, and sortable by arrival within one run.
#[derive(Debug, Clone)]
struct RequestIds {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl RequestIds {
    fn new() -> RequestIds {
        let started_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|since| since.as_millis())
            .unwrap_or_default();
        RequestIds {
            prefix: base36(started_ms).into(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

fn base36(mut value: u128) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut text = Vec::new();
    loop {
        text.push(DIGITS[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    text.reverse();
    String::from_utf8(text).expect("ascii digits")
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{number}", self.prefix);
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Wraps the router in the outer layers (outermost first: request id, tracing span,
/// id propagation, metrics, 405 body).
pub(super) fn outer(router: Router, metrics: Arc<ServiceMetrics>) -> Router {
    let request_id = header::HeaderName::from_static(REQUEST_ID_HEADER);
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(
                request_id.clone(),
                RequestIds::new(),
            ))
            .layer(TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<axum::body::Body>| {
                    let request_id = request
                        .headers()
                        .get(REQUEST_ID_HEADER)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        request_id = %request_id,
                        method = %request.method(),
                        uri = %request.uri().path(),
                    )
                },
            ))
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(middleware::from_fn_with_state(metrics, record))
            .layer(middleware::from_fn(method_not_allowed_body)),
    )
}

/// Counts the request and its latency under its route template (`/v1/skus/{sku}`),
/// never the raw path, so label cardinality stays bounded (unmatched paths count as
/// `unmatched`).
async fn record(
    State(metrics): State<Arc<ServiceMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    metrics.record_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// axum answers a wrong method with an empty 405; give it the API's error body and
/// keep its `Allow` header.
async fn method_not_allowed_body(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut replaced = ApiError::MethodNotAllowed.into_response();
    if let Some(allow) = allow {
        replaced.headers_mut().insert(header::ALLOW, allow);
    }
    replaced
}

/// The fallback: no route matches the path.
pub(super) async fn route_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::RouteNotFound {
        path: uri.path().to_owned(),
    }
}

/// At most `permits` requests in flight.
#[derive(Debug, Clone)]
pub(super) struct Admission {
    slots: Arc<Semaphore>,
}

impl Admission {
    pub(super) fn new(permits: usize) -> Admission {
        Admission {
            slots: Arc::new(Semaphore::new(permits)),
        }
    }
}

/// Waits up to [`ADMISSION_WAIT_MS_MAX`] for a slot (503 `overloaded` otherwise, with
/// nothing started), then gives the handler [`REQUEST_TIMEOUT_MS`] (504
/// `outcome_unknown` otherwise: a write may have reached Redis).
pub(super) async fn admit(
    State(admission): State<Admission>,
    request: Request,
    next: Next,
) -> Response {
    let wait = Duration::from_millis(ADMISSION_WAIT_MS_MAX);
    let permit = match tokio::time::timeout(wait, admission.slots.acquire()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) | Err(_) => return ApiError::Overloaded.into_response(),
    };
    let budget = Duration::from_millis(REQUEST_TIMEOUT_MS);
    let response = match tokio::time::timeout(budget, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_ms = REQUEST_TIMEOUT_MS, "request timed out");
            ApiError::OutcomeUnknown.into_response()
        }
    };
    drop(permit);
    response
}
