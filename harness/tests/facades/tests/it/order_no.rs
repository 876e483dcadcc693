//! Shape `order-no` in front of the real engine: its routes and envelope, the
//! `ignore-order-no` plant's double hold, and the `drift` plant's copy.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Answer, FacadeProcess, World};

fn reserve_body(order_no: &str, qty: i64) -> Value {
    json!({ "orderNo": order_no, "skuId": 1001, "warehouseId": 1, "qty": qty })
}

/// A business answer: HTTP 200 with this code.
fn assert_code(answer: &Answer, code: &str) {
    assert_eq!(answer.status, StatusCode::OK, "status of {answer:?}");
    assert_eq!(answer.code(), code, "code of {answer:?}");
}

/// The engine, and an order-no facade with `plants` whose SKU 1001 holds 10 units.
async fn stocked(shop: &str, plants: &[&str]) -> (World, FacadeProcess) {
    let world = World::start(shop).await;
    let facade = world.facade("order-no", plants).await;
    let restock = json!({"skuId": 1001, "warehouseId": 1, "qty": 10});
    let restocked = facade.post("/inventory/restock", &restock).await;
    assert_code(&restocked, "0");
    assert_eq!(restocked.body["data"]["availableQty"], 10, "{restocked:?}");
    (world, facade)
}

// Goal: every route of the shape says what the shape says, over the real
// engine, and the Postgres copy ends equal to the engine. Method: with 10 units of
// 1001, reserve ORD001 (3), replay it, reuse it with other items, ask for more than is
// left, read the SKU; then `assert_transitions` and `assert_refusals`; last, compare
// the engine's stock with the facade's copy.
#[tokio::test]
async fn order_no_routes_answer_in_their_envelope() {
    let (world, facade) = stocked("facade-order-no", &[]).await;
    let first = facade
        .post("/inventory/reserve", &reserve_body("ORD001", 3))
        .await;
    assert_code(&first, "0");
    assert_eq!(first.body["message"], "success");
    assert_eq!(first.body["data"]["status"], "RESERVED");
    let replay = facade
        .post("/inventory/reserve", &reserve_body("ORD001", 3))
        .await;
    assert_code(&replay, "0");
    assert_eq!(replay.body["message"], "already reserved");
    let engine = world.engine_sku("1001").await;
    assert_eq!(
        engine["reserved"], 3,
        "a replay holds nothing more: {engine}"
    );
    let reused = facade
        .post("/inventory/reserve", &reserve_body("ORD001", 4))
        .await;
    assert_code(&reused, "ORDER_ITEMS_MISMATCH");
    let short = facade
        .post("/inventory/reserve", &reserve_body("ORD002", 8))
        .await;
    assert_code(&short, "STOCK_NOT_ENOUGH");
    assert_eq!(short.body["data"]["availableQty"], 7, "{short:?}");
    let read = facade.get("/inventory/1001?warehouseId=1").await;
    assert_code(&read, "0");
    assert_eq!(
        read.body["data"],
        json!({"skuId": 1001, "availableQty": 7, "reservedQty": 3, "totalQty": 10})
    );

    assert_transitions(&facade).await;
    assert_refusals(&facade).await;

    world.assert_stock("1001", (7, 0, 3), (7, 0, 7)).await;
    drop(facade);
    world.shutdown().await;
}

/// ORD001 (held, 3) confirmed twice, then released too late; ORD003 reserved,
/// released and read back.
async fn assert_transitions(facade: &FacadeProcess) {
    for _ in 0..2 {
        let confirmed = facade
            .post_empty("/inventory/reservations/confirm?orderNo=ORD001")
            .await;
        assert_code(&confirmed, "0");
        assert_eq!(confirmed.body["data"]["status"], "CONFIRMED");
    }
    let late = facade
        .post_empty("/inventory/reservations/release?orderNo=ORD001&reason=late")
        .await;
    assert_code(&late, "ORDER_NOT_RESERVED");
    assert_eq!(late.body["data"]["status"], "CONFIRMED");

    let reserved = facade
        .post("/inventory/reserve", &reserve_body("ORD003", 2))
        .await;
    assert_code(&reserved, "0");
    let released = facade
        .post_empty("/inventory/reservations/release?orderNo=ORD003&reason=user%20cancel")
        .await;
    assert_code(&released, "0");
    assert_eq!(released.body["data"]["status"], "RELEASED");
    let lines = facade.get("/inventory/reservations?orderNo=ORD003").await;
    assert_code(&lines, "0");
    assert_eq!(
        lines.body["data"],
        json!([{"skuId": 1001, "qty": 2, "status": "RELEASED"}])
    );
}

/// The refusals of bad input and unknown names, each HTTP 200 with its code.
async fn assert_refusals(facade: &FacadeProcess) {
    let invalid = [
        json!({"orderNo": "ORD009"}),
        json!({"orderNo": "ORD 9", "skuId": 1001, "warehouseId": 1, "qty": 1}),
        json!({"orderNo": "ORD009", "skuId": 1001, "warehouseId": 2, "qty": 1}),
        json!({"orderNo": "ORD009", "skuId": 1001, "warehouseId": 1, "qty": 0}),
    ];
    for body in invalid {
        assert_code(
            &facade.post("/inventory/reserve", &body).await,
            "PARAM_INVALID",
        );
    }
    let unknown = json!({"orderNo": "ORD009", "skuId": 9999, "warehouseId": 1, "qty": 1});
    let unknown_sku = facade.post("/inventory/reserve", &unknown).await;
    assert_code(&unknown_sku, "SKU_NOT_FOUND");
    let cases = [
        ("/inventory/9999?warehouseId=1", "SKU_NOT_FOUND"),
        ("/inventory/1001", "PARAM_INVALID"),
        ("/inventory/reservations?orderNo=ORD404", "ORDER_NOT_FOUND"),
    ];
    for (path, code) in cases {
        assert_code(&facade.get(path).await, code);
    }
    let cases = [
        (
            "/inventory/reservations/confirm?orderNo=ORD404",
            "ORDER_NOT_FOUND",
        ),
        ("/inventory/reservations/confirm", "PARAM_INVALID"),
    ];
    for (path, code) in cases {
        assert_code(&facade.post_empty(path).await, code);
    }
}

// Goal: the `ignore-order-no` plant is a real double hold that looks like success.
// Method: reserve ORD001 (3 units) twice through the planted facade: both answers are
// code "0" / "success", and the engine holds 6 units where the honest facade holds 3.
#[tokio::test]
async fn ignore_order_no_plant_double_holds() {
    let (world, facade) = stocked("facade-ignore-order-no", &["ignore-order-no"]).await;
    for _ in 0..2 {
        let answer = facade
            .post("/inventory/reserve", &reserve_body("ORD001", 3))
            .await;
        assert_code(&answer, "0");
        assert_eq!(answer.body["message"], "success", "{answer:?}");
    }
    let engine = world.engine_sku("1001").await;
    assert_eq!(engine["reserved"], 6, "a double hold: {engine}");
    drop(facade);
    world.shutdown().await;
}

// Goal: the `drift` plant makes the facade's Postgres copy disagree with the engine.
// Method: restock and reserve through the planted facade; the copy's reserved_qty is
// one above the engine's (and its total_qty with it), its available_qty equal.
#[tokio::test]
async fn drift_plant_makes_the_copy_differ_from_the_engine() {
    let (world, facade) = stocked("facade-drift", &["drift"]).await;
    let reserved = facade
        .post("/inventory/reserve", &reserve_body("ORD001", 3))
        .await;
    assert_code(&reserved, "0");
    world.assert_stock("1001", (7, 3, 0), (7, 4, 11)).await;
    drop(facade);
    world.shutdown().await;
}
