//! A no-op target served in process: every route of the contract answers at once with a
//! fixed body of the right shape (a 201 reservation, a 200 transition, a stock), without
//! any state. `stockproof run --calibrate` drives it to measure the load generator's own
//! ceiling, and the driver's tests use it (with an optional delay, to make the client
//! time out). It checks nothing and remembers nothing: it is not an engine.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The reply to every reserve: a Held reservation of one unit (the shape of DESIGN §6).
pub const NOOP_RESERVATION_BODY: &str =
    r#"{"id":"r1","state":"held","items":[{"sku":"noop","qty":1}],"deadline_ms":4102444800000}"#;
const NOOP_CONFIRM_BODY: &str = r#"{"id":"r1","state":"confirmed"}"#;
const NOOP_RELEASE_BODY: &str = r#"{"id":"r1","state":"released"}"#;
const NOOP_STOCK_BODY: &str =
    r#"{"sku":"noop","available":1000000,"reserved":0,"sold":0,"total":1000000}"#;
/// How long the server may take to finish its open requests when stopped.
const NOOP_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the no-op target could not start.
#[derive(Debug, thiserror::Error)]
pub enum NoopError {
    #[error("binding the no-op target to 127.0.0.1: {0}")]
    Bind(std::io::Error),
}

/// A running no-op target; stops when dropped or on [`NoopTarget::stop`].
#[derive(Debug)]
pub struct NoopTarget {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl NoopTarget {
    /// Serves on a free loopback port; every reply waits `delay` first (zero: none).
    pub async fn start(delay: Duration) -> Result<NoopTarget, NoopError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(NoopError::Bind)?;
        let address = listener.local_addr().map_err(NoopError::Bind)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let router = routes(delay);
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "no-op target stopped with an error");
            }
        });
        Ok(NoopTarget {
            address,
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops accepting, lets open requests finish (bounded), and waits for the server.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(NOOP_SHUTDOWN_TIMEOUT, server).await;
        }
    }
}

impl Drop for NoopTarget {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

fn routes(delay: Duration) -> Router {
    let reply = move |status: StatusCode, body: &'static str| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
    };
    Router::new()
        .route(
            "/v1/reservations",
            post(move || reply(StatusCode::CREATED, NOOP_RESERVATION_BODY)),
        )
        .route(
            "/v1/reservations/{id}/confirm",
            post(move || reply(StatusCode::OK, NOOP_CONFIRM_BODY)),
        )
        .route(
            "/v1/reservations/{id}/release",
            post(move || reply(StatusCode::OK, NOOP_RELEASE_BODY)),
        )
        .route(
            "/v1/reservations/{id}",
            get(move || reply(StatusCode::OK, NOOP_RESERVATION_BODY)),
        )
        .route(
            "/v1/skus/{sku}",
            get(move || reply(StatusCode::OK, NOOP_STOCK_BODY)),
        )
        .route(
            "/v1/skus/{sku}/restock",
            post(move || reply(StatusCode::OK, NOOP_STOCK_BODY)),
        )
        .route(
            "/v1/skus/{sku}/adjust",
            post(move || reply(StatusCode::OK, NOOP_STOCK_BODY)),
        )
        .route(
            "/healthz",
            get(move || reply(StatusCode::OK, r#"{"status":"ok"}"#)),
        )
}
