//! Recovery against real stores: Redis rebuilt from the Postgres ledger after FLUSHALL,
//! after a restart with persistence off, and after a restart that lost its last
//! events; never when Redis is level with or ahead of the ledger.

use std::collections::BTreeMap;

use stockproof_engine::ledger::WriterConfig;
use stockproof_engine::reconciler::Reconciler;
use stockproof_engine::recovery::{RecoveryConfig, RecoveryReport, recover};
use stockproof_engine::stores;
use stockproof_infra::AofPolicy;

use crate::ledger_support::Stores;

/// Every key of the shop except the stream (recovery starts a new one), with its
/// type and content, and the TTL rounded to minutes.
async fn redis_state(stores: &Stores) -> BTreeMap<String, String> {
    let mut redis = stores.redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", stores.keys.prefix()))
        .query_async(&mut redis)
        .await
        .expect("KEYS");
    let mut state = BTreeMap::new();
    for key in keys.into_iter().filter(|key| *key != stores.keys.ledger()) {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .expect("TYPE");
        let content: redis::Value = match kind.as_str() {
            "hash" => {
                redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut redis)
                    .await
            }
            "set" => {
                redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async(&mut redis)
                    .await
            }
            "zset" => {
                redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut redis)
                    .await
            }
            _ => redis::cmd("GET").arg(&key).query_async(&mut redis).await,
        }
        .expect("read key");
        let ttl_ms: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .expect("PTTL");
        let content = match content {
            redis::Value::Map(pairs) => {
                let mut pairs: Vec<String> = pairs.iter().map(|pair| format!("{pair:?}")).collect();
                pairs.sort();
                pairs.join(",")
            }
            redis::Value::Array(items) | redis::Value::Set(items) if kind != "zset" => {
                let mut items: Vec<String> = items.iter().map(|item| format!("{item:?}")).collect();
                items.sort();
                items.join(",")
            }
            other => format!("{other:?}"),
        };
        let ttl_minutes = if ttl_ms < 0 {
            ttl_ms
        } else {
            (ttl_ms + 30_000) / 60_000
        };
        state.insert(key, format!("{kind} ttl_min={ttl_minutes} {content}"));
    }
    state
}

async fn run_recovery(stores: &Stores) -> RecoveryReport {
    let mut redis = stores.redis.clone();
    recover(
        &mut redis,
        &stores.pool,
        &stores.keys,
        &RecoveryConfig::default(),
    )
    .await
    .unwrap_or_else(|error| panic!("recovery at {}: {error}", stores.infra.redis_url()))
}

async fn assert_clean(stores: &Stores) {
    let mut reconciler = Reconciler::new(
        stores.redis.clone(),
        stores.pool.clone(),
        stores.keys.clone(),
    );
    let report = reconciler.reconcile().await.expect("reconcile runs");
    assert!(report.is_clean(), "{:#?}", report.drifts);
}

#[tokio::test]
async fn recovery_after_flushall_rebuilds_what_postgres_had() {
    // Goal: after Redis loses everything, recovery rebuilds every SKU, Held reservation
    // (hash, deadline, idempotency key), terminal reservation within retention and
    // seq from the ledger, and reports the loss. Method: a mixed history, drained;
    // record Redis; FLUSHALL; recover; compare key by key; reconcile.
    let stores = Stores::start(AofPolicy::Off).await;
    let held = stores.shop().mixed_history(8, 45).await;
    let terminal = (0..45).filter(|cart| cart % 3 != 2).count();
    stores.drain().await;
    let before = redis_state(&stores).await;
    let seq_before: i64 = stores
        .redis_command(redis::cmd("GET").arg(stores.keys.seq()))
        .await;

    let _: () = stores.redis_command(&mut redis::cmd("FLUSHALL")).await;
    let report = run_recovery(&stores).await;
    assert!(report.rebuilt, "{report:?}");
    assert_eq!(
        (report.redis_seq_before, report.ledger_max_seq),
        (0, seq_before)
    );
    assert_eq!(report.events_lost, seq_before);
    assert_eq!((report.skus, report.held_reservations), (8, held.len()));
    assert_eq!(report.terminal_reservations, terminal);
    assert_eq!(report.idempotency_keys, 45);
    let after = redis_state(&stores).await;
    let differing: Vec<(&String, Option<&String>, Option<&String>)> = before
        .keys()
        .chain(after.keys())
        .filter(|key| before.get(*key) != after.get(*key))
        .map(|key| (key, before.get(key), after.get(key)))
        .collect();
    assert!(differing.is_empty(), "(key, before, after): {differing:#?}");
    assert_clean(&stores).await;
}

#[tokio::test]
async fn recovery_after_a_restart_without_persistence() {
    // Goal: a Redis restarted with AOF off comes back empty; recovery rebuilds it, and
    // the engine's numbering continues after the ledger's end (no seq reused). Method:
    // restart the local Redis; recover; new events are written without divergence.
    let mut stores = Stores::start(AofPolicy::Off).await;
    stores.shop().mixed_history(5, 30).await;
    stores.drain().await;
    let projection = stores.projection().await;
    let seq_before: i64 = stores
        .redis_command(redis::cmd("GET").arg(stores.keys.seq()))
        .await;
    let local = stores.infra.local_mut().expect("local provider");
    local.redis.restart().await.expect("redis restarts");
    stores.redis = stores::connect_redis(stores.infra.redis_url())
        .await
        .expect("reconnects");
    let empty: Option<i64> = stores
        .redis_command(redis::cmd("GET").arg(stores.keys.seq()))
        .await;
    assert_eq!(empty, None, "AOF off: nothing survives a restart");

    let report = run_recovery(&stores).await;
    assert!(report.rebuilt);
    assert_eq!(report.events_lost, seq_before);
    assert_eq!(stores.redis_stocks().await, projection);
    assert_clean(&stores).await;
    let seq = stores.shop().restock("sku-000", 1).await;
    assert_eq!(seq, seq_before + 1);
    stores.drain().await;
    assert_clean(&stores).await;
}

#[tokio::test]
async fn recovery_reports_the_events_a_restart_lost() {
    // Goal: Redis that comes back behind the ledger (its last events lost) is rebuilt
    // and the loss is reported in events and units. Method: SAVE a snapshot at seq S,
    // add 12 restocks of 5 units, drain, restart (Redis loads the snapshot), recover.
    let mut stores = Stores::start(AofPolicy::Off).await;
    let mut shop = stores.shop();
    shop.mixed_history(4, 12).await;
    stores.drain().await;
    let _: () = stores.redis_command(&mut redis::cmd("SAVE")).await;
    let saved_seq: i64 = stores
        .redis_command(redis::cmd("GET").arg(stores.keys.seq()))
        .await;
    for index in 0..12 {
        shop.restock(&format!("sku-{:03}", index % 4), 5).await;
    }
    stores.drain().await;
    let projection = stores.projection().await;
    let local = stores.infra.local_mut().expect("local provider");
    local.redis.restart().await.expect("redis restarts");
    stores.redis = stores::connect_redis(stores.infra.redis_url())
        .await
        .expect("reconnects");

    let report = run_recovery(&stores).await;
    assert!(report.rebuilt, "{report:?}");
    assert_eq!(report.redis_seq_before, saved_seq);
    assert_eq!(
        (report.events_lost, report.units_lost),
        (12, 60),
        "{report:?}"
    );
    assert_eq!(stores.redis_stocks().await, projection);
    assert_clean(&stores).await;
}

#[tokio::test]
async fn recovery_does_not_run_when_redis_is_level_or_ahead() {
    // Goal: recovery leaves Redis alone when it holds everything the ledger has.
    // Method: recover on a drained shop (level), then with events the writer has not
    // written yet (ahead); Redis must be unchanged both times.
    let stores = Stores::start(AofPolicy::Off).await;
    let mut shop = stores.shop();
    shop.mixed_history(3, 9).await;
    stores.drain().await;
    let level = redis_state(&stores).await;
    let report = run_recovery(&stores).await;
    assert!(!report.rebuilt, "{report:?}");
    assert_eq!(report.redis_seq_before, report.ledger_max_seq);
    assert_eq!(redis_state(&stores).await, level);

    shop.restock("sku-000", 2).await;
    let ahead = redis_state(&stores).await;
    let report = run_recovery(&stores).await;
    assert!(!report.rebuilt, "{report:?}");
    assert_eq!(report.redis_seq_before, report.ledger_max_seq + 1);
    assert_eq!(redis_state(&stores).await, ahead);
    let writer = stores.writer(WriterConfig::new("after"));
    writer.shutdown().await.expect("drains");
    assert_clean(&stores).await;
}
