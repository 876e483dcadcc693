//! The reconciler against real stores: no drift on a clean state (also while the
//! writer lags), a crafted drift in each source found and named, and repair.

use stockproof_engine::ledger::WriterConfig;
use stockproof_engine::reconciler::{Drift, ReconcileReport, Reconciler, Source};
use stockproof_infra::AofPolicy;

use crate::ledger_support::Stores;

async fn reconcile(stores: &Stores) -> ReconcileReport {
    Reconciler::new(
        stores.redis.clone(),
        stores.pool.clone(),
        stores.keys.clone(),
    )
    .reconcile()
    .await
    .unwrap_or_else(|error| panic!("reconcile at {}: {error}", stores.infra.redis_url()))
}

/// A quiesced shop with Held, confirmed and released reservations on 6 SKUs.
async fn quiesced_shop() -> (Stores, Vec<String>) {
    let stores = Stores::start(AofPolicy::Off).await;
    let held = stores.shop().mixed_history(6, 30).await;
    stores.drain().await;
    (stores, held)
}

fn has_stock_drift(report: &ReconcileReport, sku: &str, field: &str, source: Source) -> bool {
    report.drifts.iter().any(|drift| {
        matches!(drift, Drift::Stock { sku: s, field: f, values }
            if s == sku && *f == field && values.iter().any(|(v, _)| *v == source))
    })
}

#[tokio::test]
async fn clean_state_has_no_drift_even_while_the_writer_lags() {
    // Goal: no false positives. Method: reconcile a drained shop (clean), then add
    // events with no writer running: they are only in the stream, and the reconciler
    // counts them instead of reporting drift; then drain and reconcile again.
    let (stores, _) = quiesced_shop().await;
    let report = reconcile(&stores).await;
    assert!(report.is_clean(), "{:#?}", report.drifts);
    assert_eq!(report.skus_compared, 6);
    assert_eq!(report.redis_seq, report.ledger_max_seq);
    assert_eq!(report.held_reservations, 10);

    let mut shop = stores.shop();
    let id = shop.reserve("late", &[("sku-000", 3)], 60_000).await;
    shop.end("confirm", &id, &[("sku-000", 3)]).await;
    shop.restock("sku-new", 4).await;
    let lagging = reconcile(&stores).await;
    assert!(lagging.is_clean(), "{:#?}", lagging.drifts);
    assert_eq!(lagging.stream_only_events, 3);
    stores.drain().await;
    assert!(reconcile(&stores).await.is_clean());
}

#[tokio::test]
async fn redis_drift_is_found_and_repaired_by_an_adjust_event() {
    // Goal: units that appear in Redis without an event are reported (Redis vs ledger
    // + stream, per field) and repair records an `adjust` of that delta, leaving Redis
    // as it is. Method: HINCRBY available and total by 3 behind the engine's back.
    let (stores, _) = quiesced_shop().await;
    let sku_key = stores.keys.sku("sku-002");
    let _: i64 = stores
        .redis_command(redis::cmd("HINCRBY").arg(&sku_key).arg("available").arg(3))
        .await;
    let _: i64 = stores
        .redis_command(redis::cmd("HINCRBY").arg(&sku_key).arg("total").arg(3))
        .await;
    let before_stock = stores.redis_stocks().await["sku-002"];
    let report = reconcile(&stores).await;
    assert!(
        has_stock_drift(&report, "sku-002", "available", Source::Redis),
        "{:#?}",
        report.drifts
    );
    assert!(has_stock_drift(
        &report,
        "sku-002",
        "total",
        Source::LedgerAndStream
    ));
    assert_eq!(report.drifts.len(), 2, "{:#?}", report.drifts);

    let mut reconciler = Reconciler::new(
        stores.redis.clone(),
        stores.pool.clone(),
        stores.keys.clone(),
    );
    let repair = reconciler.repair().await.expect("repair runs");
    assert!(!repair.projection_rebuilt);
    assert_eq!(repair.adjustments.len(), 1, "{repair:#?}");
    assert_eq!(repair.adjustments[0].delta, 3);
    assert!(repair.after.is_clean(), "{:#?}", repair.after.drifts);
    assert_eq!(
        stores.redis_stocks().await["sku-002"],
        before_stock,
        "redis is kept"
    );
    stores.drain().await;
    assert!(reconcile(&stores).await.is_clean());
    assert_eq!(stores.projection().await["sku-002"], before_stock);
}

#[tokio::test]
async fn projection_drift_is_found_and_repaired_from_the_ledger() {
    // Goal: a projection that disagrees with the ledger is reported and rebuilt from
    // the ledger alone, with no event recorded. Method: move a unit from available to
    // sold in `skus` and drop a Held reservation's items in Postgres; repair; compare.
    let (stores, held) = quiesced_shop().await;
    sqlx::query("UPDATE skus SET available = available - 1, sold = sold + 1 WHERE sku = 'sku-001'")
        .execute(&stores.pool)
        .await
        .expect("crafted drift");
    sqlx::query("DELETE FROM reservation_items WHERE reservation_id = $1")
        .bind(&held[0])
        .execute(&stores.pool)
        .await
        .expect("crafted drift");
    let report = reconcile(&stores).await;
    assert!(
        has_stock_drift(&report, "sku-001", "sold", Source::Projection),
        "{:#?}",
        report.drifts
    );
    assert!(has_stock_drift(
        &report,
        "sku-001",
        "available",
        Source::Ledger
    ));
    assert!(
        report.drifts.iter().any(|drift| matches!(drift,
        Drift::Stock { field: "reserved", values, .. }
            if values.iter().any(|(source, _)| *source == Source::ProjectionHeldItems))),
        "{:#?}",
        report.drifts
    );
    assert!(report.drifts.iter().any(|drift| matches!(drift,
        Drift::Reservation { id, field: "held", .. } if *id == held[0])));
    let seq_before = report.redis_seq;

    let mut reconciler = Reconciler::new(
        stores.redis.clone(),
        stores.pool.clone(),
        stores.keys.clone(),
    );
    let repair = reconciler.repair().await.expect("repair runs");
    assert!(repair.projection_rebuilt);
    assert!(
        repair.adjustments.is_empty(),
        "no stock changed: {repair:#?}"
    );
    assert!(repair.after.is_clean(), "{:#?}", repair.after.drifts);
    assert_eq!(repair.after.redis_seq, seq_before, "no event recorded");
    assert_eq!(stores.projection().await, stores.redis_stocks().await);
}

#[tokio::test]
async fn ledger_gap_and_seq_drift_are_found() {
    // Goal: a missing ledger event and a Redis seq that does not match the events are
    // reported. Method: delete a restock row from the ledger (seq 2), then bump Redis
    // seq by 5 without events.
    let (stores, _) = quiesced_shop().await;
    sqlx::query("DELETE FROM ledger WHERE seq = 2")
        .execute(&stores.pool)
        .await
        .expect("crafted gap");
    let report = reconcile(&stores).await;
    assert!(
        report.drifts.contains(&Drift::SeqGap {
            source: Source::Ledger,
            first: 2,
            last: 2
        }),
        "{:#?}",
        report.drifts
    );
    assert!(
        has_stock_drift(&report, "sku-001", "total", Source::Ledger),
        "{:#?}",
        report.drifts
    );

    let _: i64 = stores
        .redis_command(redis::cmd("INCRBY").arg(stores.keys.seq()).arg(5))
        .await;
    let report = reconcile(&stores).await;
    let redis_seq = report.redis_seq;
    assert!(
        report.drifts.iter().any(|drift| matches!(drift,
        Drift::Seq { redis_seq: seen, .. } if *seen == redis_seq)),
        "{:#?}",
        report.drifts
    );
    assert!(report.drifts.contains(&Drift::SeqGap {
        source: Source::LedgerAndStream,
        first: redis_seq - 4,
        last: redis_seq,
    }));
}

#[tokio::test]
async fn held_items_drift_is_found() {
    // Goal: a Held reservation whose Redis items no longer add up to `reserved` is
    // reported twice: Σ Held items ≠ reserved, and the reservation's items differ
    // from the ledger's. Method: rewrite one Held reservation's `items` in Redis.
    let (stores, held) = quiesced_shop().await;
    let writer = stores.writer(WriterConfig::new("live"));
    let resv_key = stores.keys.reservation(&held[0]);
    let items: String = stores
        .redis_command(redis::cmd("HGET").arg(&resv_key).arg("items"))
        .await;
    let (first_sku, _) = items.split_once(' ').expect("sku qty");
    let _: i64 = stores
        .redis_command(
            redis::cmd("HSET")
                .arg(&resv_key)
                .arg("items")
                .arg(format!("{first_sku} 99")),
        )
        .await;
    let report = reconcile(&stores).await;
    assert!(report.drifts.iter().any(|drift| matches!(drift,
        Drift::Stock { sku, field: "reserved", values }
            if sku == first_sku && values.iter().any(|(source, _)| *source == Source::RedisHeldItems))),
        "{:#?}", report.drifts);
    assert!(
        report.drifts.iter().any(|drift| matches!(drift,
        Drift::Reservation { id, field: "items", .. } if *id == held[0])),
        "{:#?}",
        report.drifts
    );
    stores.drain_with(writer).await;
}
