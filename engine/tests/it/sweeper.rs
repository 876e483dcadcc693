//! The sweeper task: expires due reservations, several at once safely, stops cleanly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stockproof_engine::ledger::EventKind;
use stockproof_engine::{InventoryEngine, ReserveOutcome, Sweeper, SweeperConfig};

use crate::support::{assert_ledger_matches, connect, ledger, request, setup};

const RETENTION_MS: i64 = 60_000;
const RESERVATIONS: usize = 300;
/// Longest wait for the sweepers to expire everything; they need a few intervals.
const SWEEP_WAIT_MS_MAX: u64 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sweepers_expire_each_reservation_exactly_once() {
    // Goal: sweepers on two engines (two connections) racing over the same due
    // reservations expire each exactly once. Method: 300 two-SKU reservations with a
    // 1..=30 ms TTL, two sweepers with small batches; wait until none is Held, then
    // the counters sum to 300 and the ledger holds exactly one expire event per
    // reservation and SKU.
    let mut setup = setup("sweep", RETENTION_MS).await;
    setup.engine.restock("a", 1_000).await.unwrap();
    setup.engine.restock("b", 1_000).await.unwrap();
    let second_engine = Arc::new(connect(&setup.infra, "sweep", RETENTION_MS).await);
    let config = SweeperConfig {
        interval_ms: 5,
        batch: 7,
    };
    let sweepers = [
        Sweeper::spawn(
            Arc::clone(&setup.engine) as Arc<dyn InventoryEngine>,
            config,
        )
        .unwrap(),
        Sweeper::spawn(second_engine as Arc<dyn InventoryEngine>, config).unwrap(),
    ];
    for index in 0..RESERVATIONS {
        let ttl_ms = 1 + (index % 30) as i64;
        let outcome = setup
            .engine
            .reserve(&request(
                &format!("k{index}"),
                &[("a", 1), ("b", 2)],
                ttl_ms,
            ))
            .await
            .unwrap();
        assert!(
            matches!(outcome, ReserveOutcome::Reserved(_)),
            "{outcome:?}"
        );
    }
    let started = Instant::now();
    while setup.engine.sku("a").await.unwrap().unwrap().reserved > 0 {
        assert!(
            started.elapsed() < Duration::from_millis(SWEEP_WAIT_MS_MAX),
            "sweepers did not expire everything within {SWEEP_WAIT_MS_MAX} ms (expired {} + {})",
            sweepers[0].expired(),
            sweepers[1].expired()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A sweeper counts a reservation once its script's reply is back, which can be
    // after Redis already shows `reserved` at 0: count only after both have stopped.
    let counters = [sweepers[0].counters(), sweepers[1].counters()];
    for sweeper in sweepers {
        sweeper.shutdown().await;
    }
    let counts = [counters[0].expired(), counters[1].expired()];
    assert_eq!(counts[0] + counts[1], RESERVATIONS as u64, "{counts:?}");
    // Shut down: no sweep runs any more.
    let sweeps = counters[0].sweeps();
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(counters[0].sweeps(), sweeps);
    assert_eq!(counters[0].errors() + counters[1].errors(), 0);

    let keys = setup.engine.keys().clone();
    let expire_events = ledger(&mut setup.redis, &keys)
        .await
        .into_iter()
        .filter(|event| event.kind == EventKind::Expire)
        .count();
    assert_eq!(expire_events, 2 * RESERVATIONS);
    assert_ledger_matches(&mut setup).await;
}

#[tokio::test]
async fn a_sweeper_refuses_bad_bounds() {
    // Goal: batch and interval are checked when the sweeper starts.
    let setup = setup("sweep-bounds", RETENTION_MS).await;
    let engine = Arc::clone(&setup.engine) as Arc<dyn InventoryEngine>;
    for config in [
        SweeperConfig {
            interval_ms: 10,
            batch: 0,
        },
        SweeperConfig {
            interval_ms: 10,
            batch: stockproof_engine::limits::EXPIRE_BATCH_MAX + 1,
        },
        SweeperConfig {
            interval_ms: 0,
            batch: 1,
        },
    ] {
        assert!(
            Sweeper::spawn(Arc::clone(&engine), config).is_err(),
            "{config:?}"
        );
    }
}
