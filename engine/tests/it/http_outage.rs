//! Redis stopped under a running server: writes answer 503 with `Retry-After` and leave
//! no partial state; once Redis is back on the same port (its AOF kept every write, its
//! script cache empty) requests succeed again without restarting the server.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use stockproof_infra::AofPolicy;

use crate::http_support::{TestServer, assert_refused};

/// Longest wait for the restarted Redis to answer and the server to reach it again.
const RECOVERY_WAIT_MS_MAX: u64 = 15_000;
const POLL_MS: u64 = 50;

/// A `redis-server` restarted by the test on the port and data dir of the stopped one;
/// killed on drop.
struct RestartedRedis(Child);

impl Drop for RestartedRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn restart_redis(port: u16, dir: &std::path::Path) -> RestartedRedis {
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--dir", &dir.display().to_string()])
        .args(["--daemonize", "no", "--maxmemory-policy", "noeviction"])
        .args(AofPolicy::Always.redis_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("restarting redis-server on port {port}: {error}"));
    RestartedRedis(child)
}

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
    let dir = local.session_dir().join("redis");
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

    let _redis = restart_redis(port, &dir);
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
    server.shutdown().await;
}
