//! Shape `product-rest` in front of the real engine: its routes, business codes and
//! HTTP statuses, expiry, and the `release-leaks` plant's stranded hold.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Answer, FacadeProcess, World};

/// Bound on waiting for the engine's sweeper (every 100 ms by default) to expire a
/// 1 s hold; a loaded CI machine may be slow, a correct engine is far faster.
const EXPIRY_WAIT_MS_MAX: u64 = 15_000;
const EXPIRY_POLL_MS: u64 = 100;

fn reserve_body(order_id: &str, quantity: i64) -> Value {
    json!({ "order_id": order_id, "product_id": "p-1", "quantity": quantity })
}

fn order(order_id: &str) -> Value {
    json!({ "order_id": order_id })
}

fn assert_answer(answer: &Answer, status: StatusCode, code: u32) {
    assert_eq!(answer.status, status, "status of {answer:?}");
    assert_eq!(answer.body["code"], code, "code of {answer:?}");
}

/// The engine, and a product-rest facade with `plants` whose p-1 holds `quantity` units.
async fn stocked(shop: &str, plants: &[&str], quantity: i64) -> (World, FacadeProcess) {
    let world = World::start(shop).await;
    let facade = world.facade("product-rest", plants).await;
    let restock = json!({"product_id": "p-1", "quantity": quantity});
    let restocked = facade.post("/inventory/restock", &restock).await;
    assert_answer(&restocked, StatusCode::OK, 0);
    (world, facade)
}

// Goal: every route of the shape answers with its documented HTTP status and code
// over the real engine, and the Postgres copy ends equal to the engine. Method: with
// 10 units of p-1, reserve o-1 (3), replay, reuse with other items, ask for more than
// is left, check; then `assert_transitions` and `assert_refusals`; last, compare the
// engine's stock with the facade's copy.
#[tokio::test]
async fn product_rest_routes_answer_with_their_codes() {
    let (world, facade) = stocked("facade-product-rest", &[], 10).await;
    let first = facade
        .post("/inventory/reserve", &reserve_body("o-1", 3))
        .await;
    assert_answer(&first, StatusCode::OK, 0);
    assert_eq!(first.body["data"]["status"], "active");
    let replay = facade
        .post("/inventory/reserve", &reserve_body("o-1", 3))
        .await;
    assert_answer(&replay, StatusCode::OK, 20001);
    let reused = facade
        .post("/inventory/reserve", &reserve_body("o-1", 4))
        .await;
    assert_answer(&reused, StatusCode::CONFLICT, 40902);
    let short = facade
        .post("/inventory/reserve", &reserve_body("o-2", 8))
        .await;
    assert_answer(&short, StatusCode::CONFLICT, 40901);
    assert_eq!(short.body["data"]["available"], 7, "{short:?}");
    let check = facade.get("/inventory/check/p-1").await;
    assert_answer(&check, StatusCode::OK, 0);
    assert_eq!(
        check.body["data"],
        json!({"product_id": "p-1", "available": 7, "reserved": 3, "total": 10})
    );

    assert_transitions(&facade).await;
    assert_refusals(&facade).await;

    world.assert_stock("p-1", (7, 0, 3), (7, 0, 7)).await;
    drop(facade);
    world.shutdown().await;
}

/// o-1 (active, 3) deducted twice, then released too late; o-3 reserved, released and
/// read back.
async fn assert_transitions(facade: &FacadeProcess) {
    for _ in 0..2 {
        let deducted = facade.post("/inventory/deduct", &order("o-1")).await;
        assert_answer(&deducted, StatusCode::OK, 0);
        assert_eq!(deducted.body["data"]["status"], "confirmed");
    }
    let late = facade.post("/inventory/release", &order("o-1")).await;
    assert_answer(&late, StatusCode::CONFLICT, 40903);
    assert_eq!(late.body["data"]["status"], "confirmed");

    let reserved = facade
        .post("/inventory/reserve", &reserve_body("o-3", 2))
        .await;
    assert_answer(&reserved, StatusCode::OK, 0);
    let released = facade.post("/inventory/release", &order("o-3")).await;
    assert_answer(&released, StatusCode::OK, 0);
    assert_eq!(released.body["data"]["status"], "cancelled");
    let read = facade.get("/inventory/orders/o-3").await;
    assert_answer(&read, StatusCode::OK, 0);
    assert_eq!(
        read.body["data"],
        json!({"order_id": "o-3", "product_id": "p-1", "quantity": 2, "status": "cancelled"})
    );
}

async fn assert_refusals(facade: &FacadeProcess) {
    let invalid = [
        json!({"order_id": "o-9"}),
        json!({"order_id": "o 9", "product_id": "p-1", "quantity": 1}),
        json!({"order_id": "o-9", "product_id": "p-1", "quantity": 0}),
        json!({"order_id": "o-9", "product_id": "p-1", "quantity": 1, "expire_seconds": 0}),
    ];
    for body in invalid {
        let answer = facade.post("/inventory/reserve", &body).await;
        assert_answer(&answer, StatusCode::BAD_REQUEST, 40001);
    }
    let unknown = json!({"order_id": "o-9", "product_id": "p-404", "quantity": 1});
    let answer = facade.post("/inventory/reserve", &unknown).await;
    assert_answer(&answer, StatusCode::NOT_FOUND, 40401);
    let answer = facade.get("/inventory/check/p-404").await;
    assert_answer(&answer, StatusCode::NOT_FOUND, 40401);
    let answer = facade.post("/inventory/deduct", &order("o-404")).await;
    assert_answer(&answer, StatusCode::NOT_FOUND, 40402);
    let answer = facade.get("/inventory/orders/o-404").await;
    assert_answer(&answer, StatusCode::NOT_FOUND, 40402);
}

// Goal: a reserve's `expire_seconds` reaches the engine, an expired order reads
// `expired` and refuses a deduct with 40903, and the expiry reaches the facade's copy
// without another operation (its refresher). Method: reserve with a 1 s hold, poll the
// order (bounded) until it reads expired, then the copy until it holds nothing.
#[tokio::test]
async fn product_rest_holds_expire() {
    let (world, facade) = stocked("facade-product-rest-expiry", &[], 5).await;
    let body = json!({"order_id": "o-1", "product_id": "p-1", "quantity": 2, "expire_seconds": 1});
    assert_answer(
        &facade.post("/inventory/reserve", &body).await,
        StatusCode::OK,
        0,
    );
    let mut waited_ms = 0;
    loop {
        let read = facade.get("/inventory/orders/o-1").await;
        if read.body["data"]["status"] == "expired" {
            break;
        }
        assert!(
            waited_ms < EXPIRY_WAIT_MS_MAX,
            "o-1 not expired after {waited_ms} ms: {read:?}"
        );
        tokio::time::sleep(Duration::from_millis(EXPIRY_POLL_MS)).await;
        waited_ms += EXPIRY_POLL_MS;
    }
    let deduct = facade.post("/inventory/deduct", &order("o-1")).await;
    assert_answer(&deduct, StatusCode::CONFLICT, 40903);
    assert_eq!(deduct.body["data"]["status"], "expired");
    world.wait_for_copy("p-1", (5, 0, 5)).await;
    drop(facade);
    world.shutdown().await;
}

// Goal: the `release-leaks` plant strands units: the release says cancelled and the
// order reads cancelled, but the engine still holds the units. Method: reserve 2 of 5,
// release through the planted facade, read the order and the stock.
#[tokio::test]
async fn release_leaks_plant_keeps_units_held() {
    let (world, facade) = stocked("facade-release-leaks", &["release-leaks"], 5).await;
    let reserved = facade
        .post("/inventory/reserve", &reserve_body("o-1", 2))
        .await;
    assert_answer(&reserved, StatusCode::OK, 0);
    let released = facade.post("/inventory/release", &order("o-1")).await;
    assert_answer(&released, StatusCode::OK, 0);
    assert_eq!(released.body["data"]["status"], "cancelled");
    let read = facade.get("/inventory/orders/o-1").await;
    assert_eq!(read.body["data"]["status"], "cancelled", "{read:?}");
    let check = facade.get("/inventory/check/p-1").await;
    let stock = (
        &check.body["data"]["available"],
        &check.body["data"]["reserved"],
    );
    assert_eq!(
        stock,
        (&json!(3), &json!(2)),
        "the released units are still held: {check:?}"
    );
    drop(facade);
    world.shutdown().await;
}
