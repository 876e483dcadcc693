//! Both shapes answer a 5xx, never a business code, when the engine cannot be reached:
//! the client must count such an answer as unknown, not as a refusal.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::spawn_facade;

// Goal: an unreachable engine is a 5xx in each shape's own envelope. Method: take a
// free loopback port and close it, start each facade pointing there (its /health
// still answers: the process is up), reserve.
#[tokio::test]
async fn an_unreachable_engine_is_a_server_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    let engine = format!("http://{}", closed.local_addr().expect("bound address"));
    drop(closed);

    let order_no = spawn_facade(&["--shape", "order-no", "--engine", &engine]).await;
    let health = order_no.get("/health").await;
    assert_eq!(
        health.status,
        StatusCode::OK,
        "the process is up: {health:?}"
    );
    let body = json!({"orderNo": "ORD001", "skuId": 1001, "warehouseId": 1, "qty": 1});
    let answer = order_no.post("/inventory/reserve", &body).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{answer:?}");
    assert_eq!(answer.body["code"], "SYSTEM_ERROR", "{answer:?}");

    let product_rest = spawn_facade(&["--shape", "product-rest", "--engine", &engine]).await;
    let body = json!({"order_id": "o-1", "product_id": "p-1", "quantity": 1});
    let answer = product_rest.post("/inventory/reserve", &body).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{answer:?}");
    assert_eq!(answer.body["code"], 50201, "{answer:?}");
}
