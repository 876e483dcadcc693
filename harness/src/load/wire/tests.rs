use reqwest::StatusCode;
use stockproof_engine::{CartLine, ReservationId, ReservationState, SkuStock};

use super::*;

// Goal: the contract's statuses map to ok / fail / unknown as DESIGN §6 and §7 say.
// Method: classify each family of status codes.
#[test]
fn statuses_classify_as_the_contract_says() {
    for (status, outcome) in [
        (200, Outcome::Ok),
        (201, Outcome::Ok),
        (400, Outcome::Fail),
        (404, Outcome::Fail),
        (409, Outcome::Fail),
        (413, Outcome::Fail),
        (422, Outcome::Fail),
        (503, Outcome::Fail),
        (500, Outcome::Unknown),
        (502, Outcome::Unknown),
        (504, Outcome::Unknown),
    ] {
        let status = StatusCode::from_u16(status).unwrap();
        assert_eq!(classify(status), outcome, "status {status}");
    }
}

// Goal: a reservation body keeps id, state, deadline and items.
// Method: parse a 201 reply body.
#[test]
fn reservation_body_is_parsed() {
    let body = br#"{"id":"r7","state":"held","items":[{"sku":"a-01","qty":2}],"deadline_ms":99}"#;
    let response = parse_body(body).unwrap();
    assert_eq!(response.reservation, Some(ReservationId("r7".to_owned())));
    assert_eq!(response.state, Some(ReservationState::Held));
    assert_eq!(response.deadline_ms, Some(99));
    assert_eq!(
        response.items,
        Some(vec![CartLine {
            sku: "a-01".to_owned(),
            qty: 2
        }])
    );
    assert_eq!(response.stock, None);
}

// Goal: a refusal keeps its error, SKU and available count, not a stock.
// Method: parse a 409 insufficient_stock body and a 409 not_held body.
#[test]
fn refusal_bodies_are_parsed() {
    let body = br#"{"error":"insufficient_stock","sku":"a-01","available":0,"message":"x"}"#;
    let response = parse_body(body).unwrap();
    assert_eq!(response.error.as_deref(), Some("insufficient_stock"));
    assert_eq!(response.sku.as_deref(), Some("a-01"));
    assert_eq!(response.available, Some(0));
    assert_eq!(response.stock, None);

    let response = parse_body(br#"{"error":"not_held","state":"expired"}"#).unwrap();
    assert_eq!(response.error.as_deref(), Some("not_held"));
    assert_eq!(response.state, Some(ReservationState::Expired));
}

// Goal: a stock body becomes a SkuStock, with no refusal fields.
// Method: parse a GET /v1/skus/{sku} body.
#[test]
fn stock_body_is_parsed() {
    let body = br#"{"sku":"a-01","available":3,"reserved":2,"sold":5,"total":10}"#;
    let response = parse_body(body).unwrap();
    assert_eq!(
        response.stock,
        Some(SkuStock {
            available: 3,
            reserved: 2,
            sold: 5,
            total: 10
        })
    );
    assert_eq!(response.available, None);
    assert_eq!(response.sku, None);
}

// Goal: bodies that are not the contract's JSON are kept out of the history.
// Method: empty, non-JSON and oversized bodies parse to None.
#[test]
fn foreign_bodies_are_dropped() {
    assert_eq!(parse_body(b""), None);
    assert_eq!(parse_body(b"<html>bad gateway</html>"), None);
    let huge = format!(r#"{{"error":"{}"}}"#, "x".repeat(REPLY_BODY_BYTES_MAX));
    assert_eq!(parse_body(huge.as_bytes()), None);
}

// Goal: every op becomes the method and path of DESIGN §6, with the key in a header.
// Method: build the request of each HTTP op and of a fault.
#[test]
fn ops_become_contract_requests() {
    let reservation = ReservationId("r1".to_owned());
    let cases = [
        (
            Op::Restock {
                sku: "wh1:1001".to_owned(),
                qty: 5,
            },
            "POST",
            "/v1/skus/wh1:1001/restock",
            Some(r#"{"qty":5}"#),
        ),
        (
            Op::Adjust {
                sku: "a".to_owned(),
                delta: -1,
            },
            "POST",
            "/v1/skus/a/adjust",
            Some(r#"{"delta":-1}"#),
        ),
        (
            Op::Confirm {
                reservation: reservation.clone(),
            },
            "POST",
            "/v1/reservations/r1/confirm",
            Some("{}"),
        ),
        (
            Op::Release {
                reservation: reservation.clone(),
            },
            "POST",
            "/v1/reservations/r1/release",
            Some("{}"),
        ),
        (
            Op::GetSku {
                sku: "a b".to_owned(),
            },
            "GET",
            "/v1/skus/a%20b",
            None,
        ),
        (
            Op::GetReservation { reservation },
            "GET",
            "/v1/reservations/r1",
            None,
        ),
    ];
    for (op, method, path, body) in cases {
        let request = HttpRequest::for_op(&op).unwrap();
        assert_eq!(request.method.as_str(), method, "{op:?}");
        assert_eq!(request.path, path, "{op:?}");
        assert_eq!(request.idempotency_key, None, "{op:?}");
        assert_eq!(request.body.as_deref(), body.map(str::as_bytes), "{op:?}");
    }
    let reserve = Op::Reserve {
        key: "k-1".to_owned(),
        items: vec![CartLine {
            sku: "a".to_owned(),
            qty: 1,
        }],
        ttl_ms: 500,
    };
    let request = HttpRequest::for_op(&reserve).unwrap();
    assert_eq!(request.path, "/v1/reservations");
    assert_eq!(request.idempotency_key, Some("k-1"));
    assert_eq!(
        request.body.as_deref(),
        Some(br#"{"items":[{"sku":"a","qty":1}],"ttl_ms":500}"#.as_slice())
    );
    let fault = Op::Fault {
        description: "kill".to_owned(),
    };
    assert_eq!(HttpRequest::for_op(&fault), None);
}
