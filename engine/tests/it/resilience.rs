//! The engine across script-cache flushes, Redis restarts, slow replies, a Redis that
//! is down, and a Redis whose eviction policy is unsafe.

use std::sync::Arc;
use std::time::Duration;

use stockproof_engine::{
    EngineError, InventoryEngine, RedisLuaConfig, RedisLuaEngine, ReserveOutcome, Transition,
    TransitionOutcome,
};
use stockproof_infra::AofPolicy;

use crate::support::{assert_ledger_matches, connect, raw_connection, request, setup, start_infra};

const RETENTION_MS: i64 = 60_000;

async fn reserve_ok(engine: &RedisLuaEngine, key: &str) {
    let outcome = engine
        .reserve(&request(key, &[("a", 1)], 60_000))
        .await
        .unwrap_or_else(|error| panic!("reserve {key} failed: {error}"));
    assert!(
        matches!(outcome, ReserveOutcome::Reserved(_)),
        "{key}: {outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_survive_script_flush_without_a_failed_call() {
    // Goal: NOSCRIPT after SCRIPT FLUSH reloads transparently. Method: flush, then 50
    // concurrent reserves (all hit NOSCRIPT together), and repeat a few times; every
    // call must succeed.
    let mut setup = setup("flush", RETENTION_MS).await;
    setup.engine.restock("a", 1_000).await.unwrap();
    let engine = Arc::clone(&setup.engine);
    for round in 0..3 {
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut setup.redis)
            .await
            .unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for caller in 0..50 {
            let engine = Arc::clone(&engine);
            tasks.spawn(async move { reserve_ok(&engine, &format!("k{round}-{caller}")).await });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("caller task");
        }
    }
    assert_eq!(setup.engine.sku("a").await.unwrap().unwrap().reserved, 150);
    assert_ledger_matches(&mut setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_succeed_across_a_redis_restart() {
    // Goal: after Redis restarts (connection closed, script cache empty) the next calls
    // reconnect, reload and succeed. Method: AOF always, restart twice between calls,
    // every call after each restart must succeed and the state must be intact.
    let mut infra = start_infra(AofPolicy::Always).await;
    let engine = connect(&infra, "restart", RETENTION_MS).await;
    engine.restock("a", 10).await.unwrap();
    reserve_ok(&engine, "before").await;
    for round in 0..2 {
        let redis = &mut infra.local_mut().expect("local provider").redis;
        let port = redis.port();
        redis
            .restart()
            .await
            .unwrap_or_else(|error| panic!("restart on port {port}: {error}"));
        reserve_ok(&engine, &format!("after-{round}")).await;
        let stock = engine.sku("a").await.unwrap().unwrap();
        assert_eq!(
            (stock.available, stock.reserved),
            (10 - 2 - round, 2 + round),
            "port {port}"
        );
    }
    engine.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_later_than_the_timeout_is_an_unknown_outcome() {
    // Goal: a call whose reply does not come within the response timeout returns
    // OutcomeUnknown (not a refusal), and the engine works afterwards. Method: block
    // Redis with a 600 ms busy script from another connection, call with a 150 ms
    // response timeout.
    let infra = start_infra(AofPolicy::Off).await;
    let config = RedisLuaConfig {
        response_timeout_ms: 150,
        ..RedisLuaConfig::new("slow")
    };
    let engine = RedisLuaEngine::connect(infra.redis_url(), config)
        .await
        .unwrap();
    engine.restock("a", 5).await.unwrap();
    let mut blocker = raw_connection(infra.redis_url()).await;
    let busy = tokio::spawn(async move {
        let busy_loop = "local start = redis.call('TIME') \
            local function ms(t) return t[1] * 1000 + t[2] / 1000 end \
            while ms(redis.call('TIME')) - ms(start) < 600 do end return 1";
        let _: i64 = redis::cmd("EVAL")
            .arg(busy_loop)
            .arg(0)
            .query_async(&mut blocker)
            .await
            .unwrap();
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    match engine.reserve(&request("slow", &[("a", 1)], 60_000)).await {
        Err(EngineError::OutcomeUnknown {
            operation,
            waited_ms,
        }) => {
            assert_eq!((operation, waited_ms), ("reserve", 150));
        }
        other => panic!("expected OutcomeUnknown, got {other:?}"),
    }
    busy.await.unwrap();
    // The reserve did run once Redis was free; a retry with the same key replays it.
    let retry = engine
        .reserve(&request("slow", &[("a", 1)], 60_000))
        .await
        .unwrap();
    assert!(matches!(retry, ReserveOutcome::Replayed(_)), "{retry:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_is_down_is_unavailable() {
    // Goal: connecting to nothing is Unavailable, as is a call while Redis is stopped;
    // after Redis is back the engine serves again. Method: stop and restart the server.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("redis://127.0.0.1:{port}/0");
    match RedisLuaEngine::connect(&url, RedisLuaConfig::new("down")).await {
        Err(EngineError::Unavailable { store: "redis", .. }) => {}
        other => panic!("expected Unavailable on port {port}, got {other:?}"),
    }
    let mut infra = start_infra(AofPolicy::Always).await;
    let engine = connect(&infra, "down", RETENTION_MS).await;
    engine.restock("a", 1).await.unwrap();
    let redis = &mut infra.local_mut().unwrap().redis;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    match engine.restock("a", 1).await {
        Err(EngineError::Unavailable { store: "redis", .. }) => {}
        other => panic!("expected Unavailable while stopped, got {other:?}"),
    }
    redis.restart().await.unwrap();
    let id = match engine
        .reserve(&request("k", &[("a", 1)], 60_000))
        .await
        .unwrap()
    {
        ReserveOutcome::Reserved(reservation) => reservation.id,
        other => panic!("{other:?}"),
    };
    let confirmed = engine.transition(&id, Transition::Confirm).await.unwrap();
    assert!(
        matches!(confirmed, TransitionOutcome::Applied(_)),
        "{confirmed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicting_redis_is_refused_with_the_reason() {
    // Goal: the engine refuses to start on a Redis whose maxmemory-policy could evict
    // its keys, and says why. Method: CONFIG SET each kind of policy, connect.
    let infra = start_infra(AofPolicy::Off).await;
    let mut redis = raw_connection(infra.redis_url()).await;
    for policy in [
        "volatile-lru",
        "volatile-ttl",
        "allkeys-lru",
        "allkeys-random",
    ] {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg(policy)
            .query_async(&mut redis)
            .await
            .unwrap();
        match RedisLuaEngine::connect(infra.redis_url(), RedisLuaConfig::new("evict")).await {
            Err(EngineError::UnsafeConfig(reason)) => {
                assert!(reason.contains(policy), "{reason}");
                assert!(reason.contains("noeviction"), "{reason}");
            }
            other => panic!("expected UnsafeConfig for {policy}, got {other:?}"),
        }
    }
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .query_async(&mut redis)
        .await
        .unwrap();
    RedisLuaEngine::connect(infra.redis_url(), RedisLuaConfig::new("evict"))
        .await
        .unwrap();
}
