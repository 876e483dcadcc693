//! Start-up recovery through the service: a Redis that lost everything is rebuilt from
//! the Postgres ledger before the server answers, and the HTTP contract continues where
//! it stopped (stock, reservations, idempotency keys).

use reqwest::StatusCode;
use serde_json::json;

use crate::http_support::TestServer;

// Goal: `Service::start` recovers before serving, counts it in /metrics, and a replay
// after recovery still names the first reservation. Method: restock, reserve, stop the
// service (the writer drains into Postgres), FLUSHALL Redis, start a new service on the
// same stores; compare the snapshot and the replay with what came before.
#[tokio::test]
async fn service_rebuilds_an_emptied_redis_before_serving() {
    let mut server = TestServer::start("http-recovery").await;
    server.restock("g-1", 7).await;
    let cart = json!({"items": [{"sku": "g-1", "qty": 3}], "ttl_ms": 3_600_000});
    let reserved = server.reserve("k-1", &cart).await;
    assert_eq!(reserved.status, StatusCode::CREATED, "{reserved:?}");
    let stock_before = server.get("/v1/skus/g-1").await.body;

    server
        .restart_service(|redis_url| async move {
            let client = redis::Client::open(redis_url.as_str()).expect("redis url");
            let mut connection = client
                .get_multiplexed_async_connection()
                .await
                .expect("connecting to redis");
            let _: () = redis::cmd("FLUSHALL")
                .query_async(&mut connection)
                .await
                .expect("FLUSHALL");
        })
        .await;

    assert!(
        server.service().recovery().rebuilt,
        "{:?}",
        server.service().recovery()
    );
    assert_eq!(server.get("/v1/skus/g-1").await.body, stock_before);
    let replay = server.reserve("k-1", &cart).await;
    assert_eq!(replay.status, StatusCode::OK, "{replay:?}");
    assert_eq!(replay.body["id"], reserved.body["id"]);
    let metrics = server.get("/metrics").await;
    let text = metrics.body.as_str().expect("metrics are text");
    assert!(text.contains("stockproof_recoveries_total 1"), "{text}");
    server.assert_no_drift().await;
    server.shutdown().await;
}
