//! Every route of the HTTP contract (DESIGN §6) through a real server: each success,
//! each refusal status, and that no refusal changes state.

use reqwest::StatusCode;
use serde_json::json;

use crate::http_support::{TestServer, assert_refused};

// Goal: restock, adjust and the SKU snapshot answer the contract's bodies; refused
// adjusts (not enough units, unknown SKU) and unknown SKUs answer 409 / 404 and change
// nothing. Method: drive one shop over HTTP, compare engine snapshot and seq around each
// refusal.
#[tokio::test]
async fn skus_restock_adjust_snapshot_and_refusals() {
    let server = TestServer::start("http-skus").await;
    let restocked = server.restock("a-1", 10).await;
    assert_eq!(restocked.status, StatusCode::OK, "{restocked:?}");
    assert_eq!(
        restocked.body,
        json!({"sku": "a-1", "available": 10, "reserved": 0, "sold": 0, "total": 10})
    );
    let adjusted = server
        .post("/v1/skus/a-1/adjust", &json!({"delta": -3}))
        .await;
    assert_eq!(adjusted.status, StatusCode::OK, "{adjusted:?}");
    assert_eq!(adjusted.body["available"], 7);
    assert_eq!(adjusted.body["total"], 7);
    let read = server.get("/v1/skus/a-1").await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, adjusted.body);

    let before = server.state().await;
    let too_much = server
        .post("/v1/skus/a-1/adjust", &json!({"delta": -8}))
        .await;
    assert_refused(&too_much, StatusCode::CONFLICT, "insufficient_stock", None);
    assert_eq!(too_much.body["sku"], "a-1");
    assert_eq!(too_much.body["available"], 7);
    let unknown = server
        .post("/v1/skus/nope/adjust", &json!({"delta": 1}))
        .await;
    assert_refused(&unknown, StatusCode::NOT_FOUND, "unknown_sku", None);
    let unknown_read = server.get("/v1/skus/nope").await;
    assert_refused(&unknown_read, StatusCode::NOT_FOUND, "unknown_sku", None);
    assert_eq!(server.state().await, before, "a refusal changed state");
    server.assert_no_drift().await;
    server.shutdown().await;
}

// Goal: reserve answers 201, a replay 200 with the same body, the same key with other
// items 422, no stock 409 with sku and available, an unknown SKU 404; confirm and
// release answer 200 {id, state} (also when repeated) or 409 not_held naming the state
// that won; unknown reservations 404. Method: one shop, state compared around refusals.
#[tokio::test]
async fn reservations_reserve_replay_confirm_release_and_refusals() {
    let server = TestServer::start("http-resv").await;
    server.restock("b-1", 5).await;
    server.restock("b-2", 5).await;
    let cart =
        json!({"items": [{"sku": "b-2", "qty": 1}, {"sku": "b-1", "qty": 2}], "ttl_ms": 60000});
    let reserved = server.reserve("key-1", &cart).await;
    assert_eq!(reserved.status, StatusCode::CREATED, "{reserved:?}");
    assert_eq!(reserved.body["state"], "held");
    assert_eq!(
        reserved.body["items"],
        json!([{"sku": "b-1", "qty": 2}, {"sku": "b-2", "qty": 1}]),
        "merged lines sorted by sku"
    );
    assert!(
        reserved.body["deadline_ms"]
            .as_i64()
            .is_some_and(|deadline| deadline > 0)
    );
    let id = reserved.body["id"].as_str().expect("an id").to_owned();

    let before = server.state().await;
    let replay = server.reserve("key-1", &cart).await;
    assert_eq!(replay.status, StatusCode::OK, "{replay:?}");
    assert_eq!(replay.body, reserved.body, "a replay answers the same body");
    let other_items = json!({"items": [{"sku": "b-1", "qty": 1}], "ttl_ms": 60000});
    let reused = server.reserve("key-1", &other_items).await;
    assert_refused(
        &reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        None,
    );
    let greedy = json!({"items": [{"sku": "b-1", "qty": 4}], "ttl_ms": 60000});
    let short = server.reserve("key-2", &greedy).await;
    assert_refused(&short, StatusCode::CONFLICT, "insufficient_stock", None);
    assert_eq!(short.body["sku"], "b-1");
    assert_eq!(short.body["available"], 3);
    let unknown_sku = json!({"items": [{"sku": "zz", "qty": 1}], "ttl_ms": 60000});
    let unknown = server.reserve("key-3", &unknown_sku).await;
    assert_refused(&unknown, StatusCode::NOT_FOUND, "unknown_sku", None);
    for path in [
        "/v1/reservations/r999999/confirm",
        "/v1/reservations/r999999/release",
    ] {
        let missing = server.post(path, &json!({})).await;
        assert_refused(&missing, StatusCode::NOT_FOUND, "unknown_reservation", None);
    }
    let missing = server.get("/v1/reservations/r999999").await;
    assert_refused(&missing, StatusCode::NOT_FOUND, "unknown_reservation", None);
    assert_eq!(server.state().await, before, "a refusal changed state");

    let confirmed = server
        .post(&format!("/v1/reservations/{id}/confirm"), &json!({}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{confirmed:?}");
    assert_eq!(confirmed.body, json!({"id": id, "state": "confirmed"}));
    let again = server
        .post(&format!("/v1/reservations/{id}/confirm"), &json!({}))
        .await;
    assert_eq!(
        again.body, confirmed.body,
        "a repeated confirm is a success"
    );
    let after_confirm = server.state().await;
    let late_release = server
        .post(&format!("/v1/reservations/{id}/release"), &json!({}))
        .await;
    assert_refused(&late_release, StatusCode::CONFLICT, "not_held", None);
    assert_eq!(late_release.body["state"], "confirmed");
    assert_eq!(
        server.state().await,
        after_confirm,
        "a refusal changed state"
    );
    let read = server.get(&format!("/v1/reservations/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["state"], "confirmed");

    let second = server
        .reserve(
            "key-4",
            &json!({"items": [{"sku": "b-2", "qty": 4}], "ttl_ms": 60000}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{second:?}");
    let second_id = second.body["id"].as_str().expect("an id");
    let released = server
        .post(&format!("/v1/reservations/{second_id}/release"), &json!({}))
        .await;
    assert_eq!(released.body, json!({"id": second_id, "state": "released"}));
    let stock = server.get("/v1/skus/b-2").await.body;
    assert_eq!(
        stock,
        json!({"sku": "b-2", "available": 4, "reserved": 0, "sold": 1, "total": 5})
    );
    server.shutdown().await;
}

// Goal: the operational routes answer, unknown routes and wrong methods answer the API
// error body (405 keeps `Allow`), every response carries an `x-request-id` (echoed when
// the client sent one), and /metrics counts requests by route template and status.
// Method: call each, then read /metrics.
#[tokio::test]
async fn ops_routes_request_ids_and_metrics() {
    let server = TestServer::start("http-ops").await;
    assert_eq!(server.get("/healthz").await.body, json!({"status": "ok"}));
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{ready:?}");
    let no_route = server.get("/v2/nothing").await;
    assert_refused(&no_route, StatusCode::NOT_FOUND, "not_found", None);
    let wrong_method = server
        .send(server.client.delete(server.url("/v1/skus/x")))
        .await;
    assert_refused(
        &wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    );
    assert_eq!(wrong_method.headers["allow"], "GET,HEAD");
    let generated = server.get("/v1/skus/none").await;
    assert!(
        generated
            .headers
            .get("x-request-id")
            .is_some_and(|id| !id.is_empty()),
        "no x-request-id in {generated:?}"
    );
    let echoed = server
        .send(
            server
                .client
                .get(server.url("/healthz"))
                .header("x-request-id", "trace-42"),
        )
        .await;
    assert_eq!(echoed.headers["x-request-id"], "trace-42");

    server.restock("m-1", 1).await;
    let metrics = server.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.body.as_str().expect("metrics are text");
    for expected in [
        r#"stockproof_http_requests_total{route="/v1/skus/{sku}/restock",method="POST",status="200"} 1"#,
        r#"stockproof_http_requests_total{route="/v1/skus/{sku}",method="GET",status="404"} 1"#,
        "stockproof_http_request_duration_seconds_bucket{",
        "stockproof_ledger_lag_events",
        "stockproof_sweeper_expirations_total",
        "stockproof_recoveries_total",
    ] {
        assert!(
            text.contains(expected),
            "/metrics lacks `{expected}`:\n{text}"
        );
    }
    server.shutdown().await;
}
