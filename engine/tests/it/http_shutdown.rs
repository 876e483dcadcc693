//! Graceful shutdown of the HTTP server: once `Service::shutdown` starts, the server
//! accepts no new connection, and a request it is already handling still gets its real
//! reply, with its effect in Redis and (after the writer drains) in the ledger.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::http_support::TestServer;

/// Bound on each wait below (the request reaching Redis, the listener closing); each
/// takes milliseconds, so reaching it means the awaited thing never happened.
const STEP_WAIT_MS_MAX: u64 = 10_000;
const POLL_MS: u64 = 10;
/// CLIENT PAUSE's own timeout: Redis lifts the pause by itself after this, so a test
/// that fails before `CLIENT UNPAUSE` cannot leave the server paused.
const PAUSE_MS_MAX: u64 = 60_000;
/// Far beyond the test's length: the sweeper's only sweep is at start-up, so the one
/// script call held by the pause is the request's (see the test's method).
const SWEEP_INTERVAL_MS: u64 = 3_600_000;

// Goal: an in-flight request finishes during graceful shutdown with its real reply and
// its effect, while new connections are refused.
// Method: stock 10 units; pause Redis writes (CLIENT PAUSE WRITE, which postpones
// EVALSHA); send a reserve of 2 and wait until Redis lists its script call as blocked
// (so the server is handling it); start the shutdown and wait until connecting is
// refused, checking the shutdown and the request are both still waiting; unpause. The
// reply must be 201 with a held reservation, the shutdown clean with the events written
// to Postgres, and a new service over the same stores must see 8 available and 2
// reserved without rebuilding Redis, with no drift between Redis and the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_flight_request_finishes_during_graceful_shutdown() {
    let mut server = TestServer::start_with("http-shutdown", |config| {
        config.sweeper.interval_ms = SWEEP_INTERVAL_MS;
    })
    .await;
    assert_eq!(server.restock("g-1", 10).await.status, StatusCode::OK);
    let address = server.service().local_addr();
    let mut redis = redis_connection(server.infra.redis_url()).await;

    redis_command(
        &mut redis,
        &["CLIENT", "PAUSE", &PAUSE_MS_MAX.to_string(), "WRITE"],
    )
    .await;
    let request = server
        .client
        .post(server.url("/v1/reservations"))
        .header("Idempotency-Key", "in-flight")
        .json(&json!({"items": [{"sku": "g-1", "qty": 2}], "ttl_ms": 60000}));
    let in_flight = tokio::spawn(async move {
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        Ok::<_, reqwest::Error>((status, body))
    });
    wait_for("the reserve's script call to be held by the pause", || {
        let mut probe = redis.clone();
        async move {
            let clients = redis_command(&mut probe, &["CLIENT", "LIST"]).await;
            clients.lines().any(|client| {
                let fields: Vec<&str> = client.split(' ').collect();
                fields.contains(&"cmd=evalsha")
                    && fields.iter().any(|field| {
                        field
                            .strip_prefix("flags=")
                            .is_some_and(|flags| flags.contains('b'))
                    })
            })
        }
    })
    .await;

    let service = server.service.take().expect("service running");
    let shutdown = tokio::spawn(service.shutdown());
    wait_for("the server to stop accepting connections", || async {
        tokio::net::TcpStream::connect(address).await.is_err()
    })
    .await;
    assert!(
        !in_flight.is_finished(),
        "the reserve on {address} ended while Redis was paused"
    );
    assert!(
        !shutdown.is_finished(),
        "the shutdown of {address} ended before its in-flight request"
    );
    redis_command(&mut redis, &["CLIENT", "UNPAUSE"]).await;

    let (status, body) = in_flight
        .await
        .expect("request task")
        .unwrap_or_else(|error| panic!("the in-flight reserve on {address} failed: {error}"));
    assert_eq!(
        status,
        StatusCode::CREATED,
        "reply to the in-flight reserve: {body}"
    );
    assert_eq!(
        body["state"], "held",
        "reply to the in-flight reserve: {body}"
    );
    let report = shutdown
        .await
        .expect("shutdown task")
        .expect("orderly shutdown");
    assert!(
        report
            .writer
            .is_some_and(|writer| writer.events_written >= 2),
        "the restock and the reserve reach the ledger: {report:?}"
    );

    server.serve_again().await;
    assert!(
        !server.service().recovery().rebuilt,
        "Redis kept the reserve's effect: {:?}",
        server.service().recovery()
    );
    let stock = &server.snapshot().await["g-1"];
    assert_eq!(
        (stock.available, stock.reserved),
        (8, 2),
        "stock of g-1: {stock:?}"
    );
    server.assert_no_drift().await;
    server.shutdown().await;
}

async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|error| panic!("connecting to {url}: {error}"))
}

/// One command on the test's own connection; its reply as text (`OK`, or CLIENT LIST).
async fn redis_command(
    connection: &mut redis::aio::MultiplexedConnection,
    words: &[&str],
) -> String {
    let mut command = redis::cmd(words[0]);
    for word in &words[1..] {
        command.arg(*word);
    }
    command
        .query_async(connection)
        .await
        .unwrap_or_else(|error| panic!("redis {words:?}: {error}"))
}

/// Polls `done` until it holds; fails naming what it waited for after STEP_WAIT_MS_MAX.
async fn wait_for<Done, Fut>(what: &str, mut done: Done)
where
    Done: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < Duration::from_millis(STEP_WAIT_MS_MAX),
            "waited {STEP_WAIT_MS_MAX} ms for {what}"
        );
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
}
