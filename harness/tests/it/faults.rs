//! Fault injection against real local Redis and Postgres: each fault does its harm and
//! reports it, and a schedule fires on its trigger or reports why it did not. Durations
//! are asserted only as lower bounds the fault makes certain.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::{ConnectOptions, Connection};
use stockproof_harness::faults::{
    FaultAction, FaultSpec, FaultTargets, LEDGER_WRITER_APPLICATION_NAME, PlannedFault, inject,
    run_schedule,
};
use stockproof_infra::{AofPolicy, Infra, InfraConfig, Provider};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

async fn local_targets(aof: AofPolicy) -> FaultTargets {
    let config = InfraConfig {
        aof,
        ..InfraConfig::with_provider(Provider::Local)
    };
    FaultTargets {
        infra: Arc::new(Mutex::new(Infra::start(&config).await.unwrap())),
        redis_proxy: None,
        postgres_proxy: None,
        engine: None,
    }
}

async fn redis_url(targets: &FaultTargets) -> String {
    targets.infra.lock().await.redis_url().to_owned()
}

async fn redis(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_pause_holds_commands_for_its_duration() {
    // Goal: `redis-client-pause` makes Redis answer nobody for the duration. Method: a
    // PING sent during the pause completes no sooner than 400 ms after the fault began.
    let targets = local_targets(AofPolicy::No).await;
    let url = redis_url(&targets).await;
    let mut connection = redis(&url).await;
    let before = Instant::now();
    let action = FaultAction::RedisClientPause {
        duration: Duration::from_millis(400),
    };
    let fault = tokio::spawn({
        let targets = targets.clone();
        async move { inject(&action, &targets).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pong: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(pong, "PONG");
    assert!(before.elapsed() >= Duration::from_millis(400));
    assert!(fault.await.unwrap().unwrap().contains("CLIENT PAUSE 400"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_writer_hits_only_the_writers_connections() {
    // Goal: `postgres-terminate-writer` ends the connections named like the ledger
    // writer's and leaves others alone.
    let targets = local_targets(AofPolicy::No).await;
    let url = targets.infra.lock().await.database_url().to_owned();
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let mut writer = options
        .clone()
        .application_name(LEDGER_WRITER_APPLICATION_NAME)
        .connect()
        .await
        .unwrap();
    let mut bystander = sqlx::PgConnection::connect(&url).await.unwrap();
    let detail = inject(&FaultAction::PostgresTerminateWriter, &targets)
        .await
        .unwrap();
    assert_eq!(detail, "1 writer backend(s) terminated");
    assert!(sqlx::query("SELECT 1").execute(&mut writer).await.is_err());
    sqlx::query("SELECT 1")
        .execute(&mut bystander)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_kill_restarts_with_what_the_aof_kept() {
    // Goal: `redis-kill` is a kill -9 and a restart; with AOF `always` the data is back,
    // and without an in-process engine the record says nothing was recovered.
    let targets = local_targets(AofPolicy::Always).await;
    let url = redis_url(&targets).await;
    let mut connection = redis(&url).await;
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut connection)
        .await
        .unwrap();
    let detail = inject(&FaultAction::RedisKill, &targets).await.unwrap();
    assert!(detail.contains("no in-process engine"), "{detail}");
    let mut connection = redis(&url).await;
    let value: String = redis::cmd("GET")
        .arg("k")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(value, "v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fires_on_its_op_count_and_reports_what_never_fired() {
    // Goal: an `after_ops` fault fires once the counter reaches it; a fault whose
    // trigger never comes is reported as not injected when the load ends; a fault the
    // targets cannot serve (no proxy) is reported with the reason, not a panic.
    let targets = local_targets(AofPolicy::No).await;
    let specs = [
        FaultSpec::parse_cli("redis-client-pause,duration=50ms@after=100").unwrap(),
        FaultSpec::parse_cli("redis-pause,duration=50ms@after=1000000").unwrap(),
        FaultSpec::parse_cli("redis-cut@after=100").unwrap(),
    ];
    let ops = Arc::new(AtomicU64::new(0));
    let load_over = CancellationToken::new();
    let load = {
        let (ops, load_over) = (Arc::clone(&ops), load_over.clone());
        tokio::spawn(async move {
            for _ in 0..200 {
                ops.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            load_over.cancel();
        })
    };
    let planned: Vec<PlannedFault> = specs.iter().map(PlannedFault::as_written).collect();
    let records = run_schedule(&planned, &targets, Instant::now(), &ops, &load_over).await;
    load.await.unwrap();
    assert_eq!(records.len(), 3);
    assert!(records[0].injected, "{:?}", records[0]);
    assert!(!records[1].injected);
    assert!(records[1].detail.contains("load ended before its trigger"));
    assert!(!records[2].injected);
    assert!(
        records[2].detail.contains("fault proxies"),
        "{}",
        records[2].detail
    );
}
