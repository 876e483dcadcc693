//! Memory stays flat: terminal reservations and idempotency keys vanish after the
//! retention, so a long run's key count returns to its baseline.

use std::time::{Duration, Instant};

use stockproof_engine::{InventoryEngine, ReservationState, ReserveOutcome, Transition};

use crate::support::{key_count, request, setup};

const RETENTION_MS: i64 = 200;
const RESERVATIONS: usize = 90;
/// Redis' active expiry samples keys about 10 times a second; a few seconds is ample.
const EXPIRY_WAIT_MS_MAX: u64 = 8_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_return_to_baseline_after_retention() {
    // Goal: after N reservations ended (confirm, release, expiry) and the retention
    // passed, the shop has as many keys as before them (ledger stream excluded: the
    // writer trims it). Method: count keys before, run 90 reservations to an end,
    // poll the count with a bounded wait; a replay during retention still finds the
    // reservation, one after retention reserves anew.
    let mut setup = setup("retention", RETENTION_MS).await;
    setup.engine.restock("a", 1_000).await.unwrap();
    setup.engine.restock("b", 1_000).await.unwrap();
    let keys = setup.engine.keys().clone();
    let baseline = key_count(&mut setup.redis, &keys).await;
    for index in 0..RESERVATIONS {
        let ttl_ms = if index % 3 == 2 { 1 } else { 60_000 };
        let outcome = setup
            .engine
            .reserve(&request(
                &format!("k{index}"),
                &[("a", 1), ("b", 1)],
                ttl_ms,
            ))
            .await
            .unwrap();
        let ReserveOutcome::Reserved(reservation) = outcome else {
            panic!("{outcome:?}")
        };
        match index % 3 {
            0 => drop(
                setup
                    .engine
                    .transition(&reservation.id, Transition::Confirm)
                    .await
                    .unwrap(),
            ),
            1 => drop(
                setup
                    .engine
                    .transition(&reservation.id, Transition::Release)
                    .await
                    .unwrap(),
            ),
            _ => {}
        }
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        setup.engine.expire_due(256).await.unwrap().expired.len(),
        RESERVATIONS / 3
    );
    let replay = setup
        .engine
        .reserve(&request("k0", &[("a", 1), ("b", 1)], 60_000))
        .await
        .unwrap();
    assert!(
        matches!(&replay, ReserveOutcome::Replayed(r) if r.state == ReservationState::Confirmed),
        "within retention the key replays: {replay:?}"
    );
    assert!(key_count(&mut setup.redis, &keys).await > baseline);

    let started = Instant::now();
    loop {
        let count = key_count(&mut setup.redis, &keys).await;
        if count == baseline {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(EXPIRY_WAIT_MS_MAX),
            "{count} keys, baseline {baseline}, {EXPIRY_WAIT_MS_MAX} ms after the end"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fresh = setup
        .engine
        .reserve(&request("k0", &[("a", 1), ("b", 1)], 60_000))
        .await
        .unwrap();
    assert!(
        matches!(fresh, ReserveOutcome::Reserved(_)),
        "after retention the key is free: {fresh:?}"
    );
}
