//! Stores stopped under a running server. Redis: writes answer 503 with `Retry-After`
//! and leave no partial state; once Redis is back on the same port (its AOF kept every
//! write, its script cache empty) requests succeed again without restarting the server.
//! Postgres: writes answer 503 while the ledger cannot be written; reads go on.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::http_support::{TestServer, assert_refused};

/// Longest wait for the restarted Redis to answer and the server to reach it again.
const RECOVERY_WAIT_MS_MAX: u64 = 15_000;
const POLL_MS: u64 = 50;

// Goal: no partial state while Redis is down, and recovery without a server restart.
// Method: stock and reserve; stop Redis; restock and reserve must answer 503 with
// Retry-After (a read first lets the engine notice the dead connection, its answer may
// be 503 or 504); restart Redis on the same port and dir; poll until a restock succeeds
// (bounded), then a reserve must succeed too (its script is reloaded after NOSCRIPT),
// and the stock must be exactly what the acknowledged calls made it.
#[tokio::test]
async fn redis_down_answers_503_and_recovers_without_restart() {
    let mut server = TestServer::start("http-outage").await;
    server.restock("d-1", 10).await;
    let cart = json!({"items": [{"sku": "d-1", "qty": 2}], "ttl_ms": 60000});
    assert_eq!(
        server.reserve("before", &cart).await.status,
        StatusCode::CREATED
    );

    let local = server.infra.local_mut().expect("the local provider");
    let port = local.redis.port();
    local.redis.stop();

    let probe = server.get("/v1/skus/d-1").await;
    assert!(
        matches!(
            probe.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
        ),
        "redis on port {port} is down: {probe:?}"
    );
    let restock = server.restock("d-1", 5).await;
    assert_refused(
        &restock,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        None,
    );
    assert_eq!(restock.headers["retry-after"], "1");
    let reserve = server.reserve("during", &cart).await;
    assert_refused(
        &reserve,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        None,
    );
    assert_eq!(server.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(
        server.get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    // Same port, same dir, same AOF: every acknowledged write is back, scripts are not.
    let local = server.infra.local_mut().expect("the local provider");
    local.redis.restart().await.expect("restarting redis");
    let started = Instant::now();
    loop {
        let answer = server.get("/v1/skus/d-1").await;
        if answer.status == StatusCode::OK {
            assert_eq!(
                answer.body,
                json!({"sku": "d-1", "available": 8, "reserved": 2, "sold": 0, "total": 10}),
                "the refused writes left no trace"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(RECOVERY_WAIT_MS_MAX),
            "the server did not reach Redis on port {port} again within {RECOVERY_WAIT_MS_MAX} ms: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
    assert_eq!(server.restock("d-1", 5).await.status, StatusCode::OK);
    let after = server.reserve("after", &cart).await;
    assert_eq!(
        after.status,
        StatusCode::CREATED,
        "reserve after restart: {after:?}"
    );
    assert_eq!(server.get("/readyz").await.status, StatusCode::OK);
    let stock = server.get("/v1/skus/d-1").await.body;
    assert_eq!(
        stock,
        json!({"sku": "d-1", "available": 11, "reserved": 4, "sold": 0, "total": 15})
    );
    server.assert_no_drift().await;
    server.shutdown().await;
}

// Goal: while Postgres (the ledger) cannot be reached, writes are refused with 503 and
// change nothing, reads still answer, /readyz says not ready. Method: stop Postgres,
// poll a restock until the service's probe (about once a second) notices (bounded),
// then check each write and the state; the service is dropped, not drained (the
// writer could not drain into a stopped Postgres).
#[tokio::test]
async fn postgres_down_refuses_writes_with_503() {
    let mut server = TestServer::start("http-pg-outage").await;
    server.restock("e-1", 10).await;
    let cart = json!({"items": [{"sku": "e-1", "qty": 1}], "ttl_ms": 60000});
    let held = server.reserve("held", &cart).await;
    let id = held.body["id"].as_str().expect("an id").to_owned();
    let local = server.infra.local_mut().expect("the local provider");
    let port = local.postgres.port();
    local.postgres.stop();

    let started = Instant::now();
    let before = loop {
        let state = server.state().await;
        let answer = server.restock("e-1", 1).await;
        if answer.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_refused(
                &answer,
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                None,
            );
            assert_eq!(answer.headers["retry-after"], "1");
            break state;
        }
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert!(
            started.elapsed() < Duration::from_millis(RECOVERY_WAIT_MS_MAX),
            "writes still accepted {RECOVERY_WAIT_MS_MAX} ms after postgres on port {port} stopped"
        );
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    };
    let refused = [
        server.reserve("during", &cart).await,
        server
            .post("/v1/skus/e-1/adjust", &json!({"delta": 1}))
            .await,
        server
            .post(&format!("/v1/reservations/{id}/confirm"), &json!({}))
            .await,
        server
            .post(&format!("/v1/reservations/{id}/release"), &json!({}))
            .await,
    ];
    for answer in &refused {
        assert_refused(answer, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None);
    }
    assert_eq!(
        server.state().await,
        before,
        "a refused write changed state"
    );
    assert_eq!(server.get("/v1/skus/e-1").await.status, StatusCode::OK);
    assert_eq!(
        server.get(&format!("/v1/reservations/{id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        server.get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    drop(server);
}
