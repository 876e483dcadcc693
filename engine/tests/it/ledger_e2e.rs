//! The ledger writer, reconciler and recovery end to end through the real
//! `RedisLuaEngine`: the engine's own scripts produce the events.

use std::time::Duration;

use stockproof_engine::ledger::WriterConfig;
use stockproof_engine::reconciler::Reconciler;
use stockproof_engine::recovery::{RecoveryConfig, recover};
use stockproof_engine::{
    CartLine, InventoryEngine, RedisLuaConfig, RedisLuaEngine, ReserveOutcome, ReserveRequest,
    Transition, TransitionOutcome,
};
use stockproof_infra::AofPolicy;

use crate::ledger_support::Stores;

fn cart(key: &str, lines: &[(&str, i64)], ttl_ms: i64) -> ReserveRequest {
    ReserveRequest {
        idempotency_key: key.to_owned(),
        items: lines
            .iter()
            .map(|(sku, qty)| CartLine {
                sku: (*sku).to_owned(),
                qty: *qty,
            })
            .collect(),
        ttl_ms,
    }
}

async fn reserved(engine: &RedisLuaEngine, request: &ReserveRequest) -> String {
    match engine.reserve(request).await.expect("reserve answers") {
        ReserveOutcome::Reserved(reservation) => reservation.id.0,
        other => panic!("expected Reserved for {request:?}, got {other:?}"),
    }
}

/// Every kind of event through the engine: restock, adjust, reserve (multi-SKU),
/// confirm, release, expire. Returns the ids left Held.
async fn run_operations(engine: &RedisLuaEngine) -> Vec<String> {
    for sku in ["a", "b", "c"] {
        engine.restock(sku, 50).await.expect("restock");
    }
    engine.adjust("c", -5).await.expect("adjust");
    let mut held = Vec::new();
    for index in 0..30 {
        let request = cart(
            &format!("k{index}"),
            &[("a", 1), ("b", 2), ("c", 1)],
            60_000,
        );
        let id = reserved(engine, &request).await;
        let id_typed = stockproof_engine::ReservationId(id.clone());
        match index % 3 {
            0 => {
                let outcome = engine.transition(&id_typed, Transition::Confirm).await;
                assert!(
                    matches!(outcome, Ok(TransitionOutcome::Applied(_))),
                    "{outcome:?}"
                );
            }
            1 => {
                let outcome = engine.transition(&id_typed, Transition::Release).await;
                assert!(
                    matches!(outcome, Ok(TransitionOutcome::Applied(_))),
                    "{outcome:?}"
                );
            }
            _ => held.push(id),
        }
    }
    let short = cart("short", &[("b", 3)], 1);
    reserved(engine, &short).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let expired = engine.expire_due(16).await.expect("expire_due");
    assert_eq!(expired.expired.len(), 1, "{expired:?}");
    held
}

#[tokio::test]
async fn engine_events_reach_postgres_and_reconcile_clean() {
    // Goal: the writer turns the engine's real events into a ledger and projection
    // equal to Redis. Method: every operation kind through RedisLuaEngine with a
    // writer running; drain; the projection equals the engine's snapshot and the
    // reconciler finds nothing; the ledger is gap-free up to Redis seq.
    let stores = Stores::start(AofPolicy::Off).await;
    let engine = RedisLuaEngine::connect(stores.infra.redis_url(), RedisLuaConfig::new("test"))
        .await
        .expect("the engine connects");
    let writer = stores.writer(WriterConfig::new("live"));
    let held = run_operations(&engine).await;
    stores.drain_with(writer).await;
    let snapshot = engine.snapshot().await.expect("snapshot");
    let projection = stores.projection().await;
    for (sku, stock) in &snapshot {
        let row = [stock.available, stock.reserved, stock.sold, stock.total];
        assert_eq!(projection[sku], row, "sku {sku}");
    }
    let seq: i64 = stores
        .redis_command(redis::cmd("GET").arg(stores.keys.seq()))
        .await;
    assert_eq!(stores.ledger_seqs().await, (1..=seq).collect::<Vec<_>>());
    let report = Reconciler::new(
        stores.redis.clone(),
        stores.pool.clone(),
        stores.keys.clone(),
    )
    .reconcile()
    .await
    .expect("reconcile");
    assert!(report.is_clean(), "{:#?}", report.drifts);
    assert_eq!(report.held_reservations, held.len());
}

#[tokio::test]
async fn engine_serves_after_recovery_from_flushall() {
    // Goal: after FLUSHALL and recovery, the engine carries on as if nothing was lost:
    // an idempotent retry replays the same reservation, a Held one can be confirmed,
    // and new ids continue after the ledger (no id reused). Method: engine operations,
    // drain, FLUSHALL, recover, then operate again and reconcile.
    let stores = Stores::start(AofPolicy::Off).await;
    let config = RedisLuaConfig::new("test");
    let engine = RedisLuaEngine::connect(stores.infra.redis_url(), config.clone())
        .await
        .expect("the engine connects");
    let held = run_operations(&engine).await;
    stores.drain().await;
    let seq_before: i64 = stores
        .redis_command(redis::cmd("GET").arg(stores.keys.seq()))
        .await;
    let _: () = stores.redis_command(&mut redis::cmd("FLUSHALL")).await;
    let mut redis = stores.redis.clone();
    let recovery_config = RecoveryConfig {
        retention_ms: config.retention_ms,
    };
    let report = recover(&mut redis, &stores.pool, &stores.keys, &recovery_config)
        .await
        .expect("recovery");
    assert!(
        report.rebuilt && report.events_lost == seq_before,
        "{report:?}"
    );

    let retry = cart("k2", &[("a", 1), ("b", 2), ("c", 1)], 60_000);
    match engine.reserve(&retry).await.expect("reserve answers") {
        ReserveOutcome::Replayed(reservation) => assert_eq!(reservation.id.0, held[0]),
        other => panic!("expected the replay of {}, got {other:?}", held[0]),
    }
    let confirm = engine
        .transition(
            &stockproof_engine::ReservationId(held[1].clone()),
            Transition::Confirm,
        )
        .await;
    assert!(
        matches!(confirm, Ok(TransitionOutcome::Applied(_))),
        "{confirm:?}"
    );
    let fresh = reserved(&engine, &cart("new", &[("a", 1)], 60_000)).await;
    // The confirm of a 3-SKU cart took seqs +1..=+3; the new reservation is +4.
    assert_eq!(
        fresh,
        format!("r{}", seq_before + 4),
        "ids continue after the ledger"
    );
    stores.drain().await;
    let report = Reconciler::new(
        stores.redis.clone(),
        stores.pool.clone(),
        stores.keys.clone(),
    )
    .reconcile()
    .await
    .expect("reconcile");
    assert!(report.is_clean(), "{:#?}", report.drifts);
}
