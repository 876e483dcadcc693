//! Bad input through a real server: each answered with a clear 4xx in the API's error
//! body naming what was wrong, none changing state, the server staying up.

use reqwest::StatusCode;
use serde_json::json;

use crate::http_support::{Answer, TestServer, assert_refused};

/// 10 MiB: far above the body limit.
const HUGE_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Far above the 100-line cart bound, yet below the body limit.
const MANY_ITEMS: usize = 10_000;

// Goal: malformed JSON, wrong types, unknown fields, zero / negative / huge quantities,
// a 10,000-line cart, a 10 MiB body, a missing content type, a missing or empty
// Idempotency-Key and a non-UTF-8 path segment are each refused with the documented
// status, code and field; nothing changes; the server still answers afterwards.
// Method: one shop with stock, a table of bad requests, state compared at the end.
#[tokio::test]
async fn bad_input_is_refused_naming_the_problem_and_changes_nothing() {
    let server = TestServer::start("http-bad").await;
    server.restock("c-1", 10).await;
    let before = server.state().await;

    let cases: Vec<(&str, Answer, StatusCode, &str, Option<&str>)> = vec![
        (
            "malformed json",
            server.post_raw("/v1/skus/c-1/restock", "{\"qty\": ").await,
            StatusCode::BAD_REQUEST,
            "malformed_json",
            None,
        ),
        (
            "wrong type",
            server
                .post("/v1/skus/c-1/restock", &json!({"qty": "5"}))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("qty"),
        ),
        (
            "fractional qty",
            server
                .post("/v1/skus/c-1/restock", &json!({"qty": 1.5}))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("qty"),
        ),
        (
            "missing field",
            server.post("/v1/skus/c-1/restock", &json!({})).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("qty"),
        ),
        (
            "unknown field",
            server
                .post("/v1/skus/c-1/restock", &json!({"qty": 1, "price": 3}))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("price"),
        ),
        (
            "zero qty",
            server.restock("c-1", 0).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("qty"),
        ),
        (
            "negative qty",
            server.restock("c-1", -4).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("qty"),
        ),
        (
            "qty above the bound",
            server.restock("c-1", i64::MAX).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("qty"),
        ),
        (
            "qty beyond i64",
            server
                .post_raw("/v1/skus/c-1/restock", "{\"qty\": 1e30}")
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("qty"),
        ),
        (
            "zero delta",
            server
                .post("/v1/skus/c-1/adjust", &json!({"delta": 0}))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("delta"),
        ),
        (
            "bad sku id",
            server.restock("a%20b", 1).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("sku"),
        ),
        (
            "non-utf-8 path segment",
            server.restock("%FF%FE", 1).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("sku"),
        ),
        (
            "no content type",
            server
                .send(
                    server
                        .client
                        .post(server.url("/v1/skus/c-1/restock"))
                        .body("{\"qty\":1}"),
                )
                .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            None,
        ),
        (
            "10 MiB body",
            server
                .post_raw("/v1/skus/c-1/restock", vec![b' '; HUGE_BODY_BYTES])
                .await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        ),
    ];
    for (name, answer, status, code, field) in &cases {
        assert_eq!(answer.status, *status, "case `{name}`: {answer:?}");
        assert_refused(answer, *status, code, *field);
    }
    for (name, answer, status, code, field) in reserve_cases(&server).await {
        assert_eq!(answer.status, status, "case `{name}`: {answer:?}");
        assert_refused(&answer, status, code, field);
    }
    assert_eq!(
        server.state().await,
        before,
        "a refused request changed state"
    );
    assert_eq!(server.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(server.restock("c-1", 1).await.status, StatusCode::OK);
    server.assert_no_drift().await;
    server.shutdown().await;
}

async fn reserve_cases(
    server: &TestServer,
) -> Vec<(
    &'static str,
    Answer,
    StatusCode,
    &'static str,
    Option<&'static str>,
)> {
    let cart = json!({"items": [{"sku": "c-1", "qty": 1}], "ttl_ms": 60000});
    let many: Vec<_> = (0..MANY_ITEMS)
        .map(|index| json!({"sku": format!("s{index}"), "qty": 1}))
        .collect();
    let without_key = server
        .send(
            server
                .client
                .post(server.url("/v1/reservations"))
                .json(&cart),
        )
        .await;
    vec![
        (
            "missing Idempotency-Key",
            without_key,
            StatusCode::BAD_REQUEST,
            "idempotency_key_missing",
            Some("Idempotency-Key"),
        ),
        (
            "empty Idempotency-Key",
            server.reserve("", &cart).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("Idempotency-Key"),
        ),
        (
            "10,000 items",
            server
                .reserve("k-many", &json!({"items": many, "ttl_ms": 60000}))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("items"),
        ),
        (
            "empty cart",
            server
                .reserve("k-empty", &json!({"items": [], "ttl_ms": 60000}))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("items"),
        ),
        (
            "zero line qty",
            server
                .reserve(
                    "k-zero",
                    &json!({"items": [{"sku": "c-1", "qty": 0}], "ttl_ms": 60000}),
                )
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("items[0].qty"),
        ),
        (
            "negative ttl",
            server
                .reserve(
                    "k-ttl",
                    &json!({"items": [{"sku": "c-1", "qty": 1}], "ttl_ms": -1}),
                )
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("ttl_ms"),
        ),
        (
            "unknown line field",
            server
                .reserve(
                    "k-field",
                    &json!({"items": [{"sku": "c-1", "qty": 1, "note": "x"}], "ttl_ms": 60000}),
                )
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("items[0].note"),
        ),
        (
            "wrong type in a line",
            server
                .reserve(
                    "k-type",
                    &json!({"items": [{"sku": 7, "qty": 1}], "ttl_ms": 60000}),
                )
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            Some("items[0].sku"),
        ),
    ]
}

// Goal: a cart whose lines are each valid but whose lines for one SKU add up past the
// per-SKU bound is refused as a whole with 422 `unprocessable_cart` (the schema holds,
// so not 400), changing nothing. Method: two lines of 600,000 units of one SKU.
#[tokio::test]
async fn merged_cart_past_the_bound_is_422() {
    let server = TestServer::start("http-merged").await;
    server.restock("f-1", 10).await;
    let before = server.state().await;
    let line = json!({"sku": "f-1", "qty": 600_000});
    let answer = server
        .reserve("k-merged", &json!({"items": [line, line], "ttl_ms": 60000}))
        .await;
    assert_refused(
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_cart",
        Some("items.qty"),
    );
    assert_eq!(server.state().await, before, "a refused cart changed state");
    server.shutdown().await;
}
