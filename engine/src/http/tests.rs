//! Unit tests of the HTTP layer's pure parts: JSON error naming, error bodies, and the
//! OpenAPI document's bounds against the engine's limits. Routes over a real engine are
//! tested in `engine/tests/it/http_*.rs`.

use serde_json::{Value, json};

use crate::http::error::ApiError;
use crate::http::extract::{Object, parse_json};
use crate::http::routes::reservations::ReserveBody;
use crate::http::routes::skus::RestockBody;
use crate::limits::{CART_LINES_MAX, LINE_QTY_MAX, RESTOCK_QTY_MAX, TTL_MS_MAX, TTL_MS_MIN};

fn refused_field(error: ApiError) -> String {
    match error {
        ApiError::InvalidInput { field, .. } => field,
        other => panic!("expected invalid_input, got {other:?}"),
    }
}

// Goal: a refused body names the JSON path that broke. Method: one bad body per kind.
#[test]
fn json_errors_name_the_field() {
    let cases = [
        (r#"{"qty": "1"}"#, "qty"),
        (r#"{}"#, "qty"),
        (r#"{"qty": 1, "extra": 2}"#, "extra"),
        (r#"{"qty": 1e30}"#, "qty"),
        (r#"[1]"#, "body"),
    ];
    for (body, field) in cases {
        let error = parse_json::<Object<RestockBody>>(body.as_bytes()).expect_err(body);
        assert_eq!(refused_field(error), field, "body {body}");
    }
    let cart =
        r#"{"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 1, "x": 0}], "ttl_ms": 1}"#;
    let error = parse_json::<Object<ReserveBody>>(cart.as_bytes()).expect_err("unknown field");
    assert_eq!(refused_field(error), "items[1].x");
    let cart = r#"{"items": [["a", 1]], "ttl_ms": 1}"#;
    let error = parse_json::<Object<ReserveBody>>(cart.as_bytes()).expect_err("array line");
    assert_eq!(refused_field(error), "items[0]");
    let cart = r#"{"items": [{"sku": 5, "qty": 1}], "ttl_ms": 1}"#;
    let error = parse_json::<Object<ReserveBody>>(cart.as_bytes()).expect_err("wrong type");
    assert_eq!(refused_field(error), "items[0].sku");
}

// Goal: syntax errors and trailing garbage are `malformed_json`, not a field error.
#[test]
fn syntax_errors_are_malformed_json() {
    for body in [r#"{"qty": "#, r#"{"qty": 1} x"#, "", "\u{0}"] {
        let error = parse_json::<RestockBody>(body.as_bytes()).expect_err(body);
        assert!(
            matches!(error, ApiError::MalformedJson { .. }),
            "body {body:?}: {error:?}"
        );
    }
}

// Goal: each refusal renders the contract's body: code, message, and its own fields
// only. Method: render a few and compare whole bodies (message aside).
#[test]
fn error_bodies_carry_their_fields() {
    let insufficient = ApiError::InsufficientStock {
        sku: "a-1".to_owned(),
        available: 3,
    };
    assert_eq!(insufficient.status().as_u16(), 409);
    let mut body = serde_json::to_value(insufficient.body()).unwrap();
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|message| message.contains("a-1"))
    );
    body.as_object_mut().unwrap().remove("message");
    assert_eq!(
        body,
        json!({"error": "insufficient_stock", "sku": "a-1", "available": 3})
    );

    let missing = serde_json::to_value(ApiError::IdempotencyKeyMissing.body()).unwrap();
    assert_eq!(missing["field"], "Idempotency-Key");
    assert_eq!(ApiError::IdempotencyKeyMissing.status().as_u16(), 400);
    assert_eq!(ApiError::OutcomeUnknown.status().as_u16(), 504);
    assert_eq!(ApiError::Overloaded.status().as_u16(), 503);
}

fn schema_bound(document: &Value, schema: &str, property: &str, bound: &str) -> Value {
    document["components"]["schemas"][schema]["properties"][property][bound].clone()
}

// Goal: the OpenAPI bounds (what schemathesis generates from) equal the limits the
// server enforces. Method: read them out of the generated document.
#[test]
fn openapi_bounds_equal_the_engine_limits() {
    let document = serde_json::to_value(crate::http::openapi_document()).unwrap();
    assert_eq!(
        schema_bound(&document, "RestockBody", "qty", "maximum"),
        json!(RESTOCK_QTY_MAX)
    );
    assert_eq!(
        schema_bound(&document, "LineBody", "qty", "maximum"),
        json!(LINE_QTY_MAX)
    );
    assert_eq!(
        schema_bound(&document, "ReserveBody", "ttl_ms", "minimum"),
        json!(TTL_MS_MIN)
    );
    assert_eq!(
        schema_bound(&document, "ReserveBody", "ttl_ms", "maximum"),
        json!(TTL_MS_MAX)
    );
    assert_eq!(
        schema_bound(&document, "ReserveBody", "items", "maxItems"),
        json!(CART_LINES_MAX)
    );
    let delta = &document["components"]["schemas"]["AdjustBody"]["properties"]["delta"]["oneOf"];
    assert_eq!(delta[0]["minimum"], json!(-RESTOCK_QTY_MAX));
    assert_eq!(delta[1]["maximum"], json!(RESTOCK_QTY_MAX));
}

// Goal: every OpenAPI link names an operation that exists, in the OpenAPI spelling
// (`operationId`). Method: collect operation ids and link targets from the served JSON.
#[test]
fn openapi_links_name_existing_operations() {
    let text = crate::http::openapi::to_json(&crate::http::openapi_document());
    let document: Value = serde_json::from_str(&text).unwrap();
    let operations: Vec<&Value> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .collect();
    let ids: Vec<&str> = operations
        .iter()
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    let mut targets = Vec::new();
    for operation in &operations {
        for response in operation["responses"].as_object().unwrap().values() {
            for link in response["links"]
                .as_object()
                .into_iter()
                .flat_map(|links| links.values())
            {
                targets.push(
                    link["operationId"]
                        .as_str()
                        .expect("a link names its operationId"),
                );
            }
        }
    }
    assert_eq!(targets.len(), 6, "links: {targets:?}");
    for target in targets {
        assert!(
            ids.contains(&target),
            "link to unknown operation `{target}` (known: {ids:?})"
        );
    }
}
