//! The deliberately broken variants (`stockproof_engine::variants`) against the
//! reference engine, on real Redis: each variant's bug happens under the conditions
//! that should expose it, and the reference engine, under the same conditions, does
//! not. Each test runs one scenario function against both, each in its own shop (the
//! writer variants: each on its own servers, with the writer's crash hooks).

use std::sync::Arc;
use std::time::Duration;

use stockproof_engine::ledger::{self, LedgerError, WriterConfig, WriterFault, WriterFlaw};
use stockproof_engine::variants::{
    DUAL_WRITE_CRASH_EVERY_DEFAULT, IDEMPOTENCY_MARKER_TTL_MS, SKU_READ_CACHE_TTL_MS, Variant,
};
use stockproof_engine::{
    InventoryEngine, RedisLuaConfig, RedisLuaEngine, ReservationId, ReservationState,
    ReserveOutcome, SkuStock, Transition, TransitionOutcome,
};
use stockproof_infra::{AofPolicy, Infra};

use crate::ledger_support::{DRAIN_WAIT_MS, Stores};
use crate::support::{request, start_infra};

const RETENTION_MS: i64 = 60_000;
/// Longer than any test's wait for a deadline: no Held reservation expires by accident.
const LONG_TTL_MS: i64 = 60_000;
/// Bound on the polls below (a key's TTL passing, a deadline being swept).
const POLL_WAIT_MS_MAX: u64 = 5_000;
const POLL_INTERVAL_MS: u64 = 20;

/// The reference engine and `variant`, on one Redis, in shops `ref-<name>` and
/// `var-<name>`.
struct Pair {
    _infra: Infra,
    reference: Arc<dyn InventoryEngine>,
    variant: Arc<dyn InventoryEngine>,
}

async fn pair(variant: Variant) -> Pair {
    let infra = start_infra(AofPolicy::Off).await;
    let config = |shop: String| RedisLuaConfig {
        retention_ms: RETENTION_MS,
        ..RedisLuaConfig::new(&shop)
    };
    let reference = RedisLuaEngine::connect(infra.redis_url(), config(format!("ref-{variant}")))
        .await
        .unwrap_or_else(|error| panic!("reference engine on {}: {error}", infra.redis_url()));
    let broken = variant
        .connect(infra.redis_url(), config(format!("var-{variant}")), None)
        .await
        .unwrap_or_else(|error| panic!("{variant} engine on {}: {error}", infra.redis_url()));
    Pair {
        _infra: infra,
        reference: Arc::new(reference),
        variant: broken,
    }
}

async fn stock(engine: &Arc<dyn InventoryEngine>, sku: &str) -> SkuStock {
    engine.sku(sku).await.unwrap().expect("sku exists")
}

fn reserved(outcome: &ReserveOutcome) -> &ReservationId {
    match outcome {
        ReserveOutcome::Reserved(reservation) => &reservation.id,
        other => panic!("expected Reserved, got {other:?}"),
    }
}

/// 300 concurrent single-unit reserves on 100 units; how many succeeded.
async fn hot_sku_rush(engine: &Arc<dyn InventoryEngine>) -> usize {
    engine.restock("hot", 100).await.unwrap();
    let callers: Vec<_> = (0..300)
        .map(|caller| {
            let engine = Arc::clone(engine);
            tokio::spawn(async move {
                let cart = request(&format!("k{caller}"), &[("hot", 1)], LONG_TTL_MS);
                engine.reserve(&cart).await.expect("reserve answers")
            })
        })
        .collect();
    let mut succeeded = 0;
    for caller in callers {
        if matches!(caller.await.unwrap(), ReserveOutcome::Reserved(_)) {
            succeeded += 1;
        }
    }
    succeeded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_then_act_oversells_a_hot_sku() {
    // Goal: reading then decrementing in two calls oversells under concurrency.
    // Method: 300 concurrent single-unit reserves on 100 units against each engine.
    let pair = pair(Variant::CheckThenAct).await;
    let succeeded = hot_sku_rush(&pair.variant).await;
    assert!(succeeded > 100, "check-then-act sold {succeeded} of 100");
    let broken = stock(&pair.variant, "hot").await;
    assert!(broken.available < 0, "{broken:?}");
    assert_eq!(hot_sku_rush(&pair.reference).await, 100);
    let kept = stock(&pair.reference, "hot").await;
    assert_eq!((kept.available, kept.reserved), (0, 100));
}

/// Reserves `key` twice in a row, `pause` apart; both outcomes.
async fn reserve_twice(
    engine: &Arc<dyn InventoryEngine>,
    key: &str,
    pause: Duration,
) -> (ReserveOutcome, ReserveOutcome) {
    engine.restock("a", 10).await.unwrap();
    let cart = request(key, &[("a", 2)], LONG_TTL_MS);
    let first = engine.reserve(&cart).await.unwrap();
    tokio::time::sleep(pause).await;
    let second = engine.reserve(&cart).await.unwrap();
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_idempotency_reserves_a_retry_twice() {
    // Goal: an ignored idempotency key makes a retry a second reservation. Method:
    // one key sent twice in a row; the variant answers two ids and holds 4 units, the
    // reference replays the first id and holds 2.
    let pair = pair(Variant::NoIdempotency).await;
    let (first, second) = reserve_twice(&pair.variant, "retry-1", Duration::ZERO).await;
    assert_ne!(reserved(&first), reserved(&second));
    assert_eq!(stock(&pair.variant, "a").await.reserved, 4);
    let (first, second) = reserve_twice(&pair.reference, "retry-1", Duration::ZERO).await;
    let ReserveOutcome::Replayed(replayed) = &second else {
        panic!("reference: expected Replayed, got {second:?}");
    };
    assert_eq!(&replayed.id, reserved(&first));
    assert_eq!(stock(&pair.reference, "a").await.reserved, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_idempotency_reserves_a_late_retry_twice() {
    // Goal: a marker shorter than the retry horizon makes a late retry a second
    // reservation, while an early retry is still replayed (the key is honoured, but
    // not for long enough). Method: one key sent, then again at once, then again after
    // the marker's TTL has passed; the reference replays all three.
    let pair = pair(Variant::ShortIdempotency).await;
    let late = Duration::from_millis(IDEMPOTENCY_MARKER_TTL_MS + 500);
    let (first, early) = reserve_twice(&pair.variant, "late-1", Duration::ZERO).await;
    assert!(matches!(early, ReserveOutcome::Replayed(_)), "{early:?}");
    tokio::time::sleep(late).await;
    let cart = request("late-1", &[("a", 2)], LONG_TTL_MS);
    let retry = pair.variant.reserve(&cart).await.unwrap();
    assert_ne!(reserved(&first), reserved(&retry));
    assert_eq!(stock(&pair.variant, "a").await.reserved, 4);
    let (first, _) = reserve_twice(&pair.reference, "late-1", late).await;
    let retry = pair.reference.reserve(&cart).await.unwrap();
    let ReserveOutcome::Replayed(replayed) = &retry else {
        panic!("reference: expected Replayed, got {retry:?}");
    };
    assert_eq!(&replayed.id, reserved(&first));
    assert_eq!(stock(&pair.reference, "a").await.reserved, 2);
}

/// Polls `done` until it holds, at most [`POLL_WAIT_MS_MAX`].
async fn wait_for<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_millis(POLL_WAIT_MS_MAX);
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {POLL_WAIT_MS_MAX} ms for {what}"
        );
        tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_expiry_leaks_the_units_of_a_vanished_reservation() {
    // Goal: a reservation kept as a key with a Redis TTL vanishes without giving its
    // units back. Method: hold 4 of 10 units for 50 ms, wait until the deadline has
    // passed (and, for the variant, the key is gone), sweep; the variant still has 4
    // reserved and 6 available, the reference expires it and has 10 available.
    let pair = pair(Variant::TtlExpiry).await;
    for engine in [&pair.variant, &pair.reference] {
        engine.restock("a", 10).await.unwrap();
    }
    let cart = request("leak-1", &[("a", 4)], 50);
    let leaked = reserved(&pair.variant.reserve(&cart).await.unwrap()).clone();
    let swept = reserved(&pair.reference.reserve(&cart).await.unwrap()).clone();
    let variant = Arc::clone(&pair.variant);
    wait_for("the variant's reservation key to expire", || {
        let (variant, leaked) = (Arc::clone(&variant), leaked.clone());
        async move { variant.reservation(&leaked).await.unwrap().is_none() }
    })
    .await;
    let reference = Arc::clone(&pair.reference);
    wait_for("the reference's reservation to be swept", || {
        let reference = Arc::clone(&reference);
        async move { !reference.expire_due(256).await.unwrap().expired.is_empty() }
    })
    .await;
    assert!(
        pair.variant
            .expire_due(256)
            .await
            .unwrap()
            .expired
            .is_empty()
    );
    let broken = stock(&pair.variant, "a").await;
    assert_eq!((broken.available, broken.reserved), (6, 4), "units leaked");
    let kept = stock(&pair.reference, "a").await;
    assert_eq!((kept.available, kept.reserved), (10, 0));
    let state = pair
        .reference
        .reservation(&swept)
        .await
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(state, ReservationState::Expired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_release_expires_a_confirmed_reservation() {
    // Goal: confirm and expiry both apply to one reservation. Method: hold 1 of 10
    // units for 100 ms, confirm it at once (acknowledged), sweep after the deadline;
    // the variant also expires it (state Expired, the unit both sold and available
    // again, reserved -1), the reference leaves it Confirmed.
    let pair = pair(Variant::DoubleRelease).await;
    let mut ids = Vec::new();
    for engine in [&pair.variant, &pair.reference] {
        engine.restock("a", 10).await.unwrap();
        let id = reserved(
            &engine
                .reserve(&request("paid-1", &[("a", 1)], 100))
                .await
                .unwrap(),
        )
        .clone();
        let confirm = engine.transition(&id, Transition::Confirm).await.unwrap();
        assert!(
            matches!(confirm, TransitionOutcome::Applied(_)),
            "{confirm:?}"
        );
        ids.push(id);
    }
    let variant = Arc::clone(&pair.variant);
    wait_for("the sweeper to expire the confirmed reservation", || {
        let variant = Arc::clone(&variant);
        async move { !variant.expire_due(256).await.unwrap().expired.is_empty() }
    })
    .await;
    let broken = pair.variant.reservation(&ids[0]).await.unwrap().unwrap();
    assert_eq!(broken.state, ReservationState::Expired);
    let broken = stock(&pair.variant, "a").await;
    assert_eq!(
        (broken.available, broken.reserved, broken.sold),
        (10, -1, 1)
    );
    assert!(!broken.violations().is_empty());
    // The reference's deadline passed too (same TTL, swept later): nothing to expire.
    assert!(
        pair.reference
            .expire_due(256)
            .await
            .unwrap()
            .expired
            .is_empty()
    );
    let kept = pair.reference.reservation(&ids[1]).await.unwrap().unwrap();
    assert_eq!(kept.state, ReservationState::Confirmed);
    let kept = stock(&pair.reference, "a").await;
    assert_eq!((kept.available, kept.reserved, kept.sold), (9, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_cart_lines_oversell_one_sku_named_twice() {
    // Goal: a cart naming one SKU on two lines, each checked against the same stale
    // count, takes more than is left. Method: 1 unit left, a cart of two single-unit
    // lines of it; the variant holds 2 (available -1), the reference refuses the
    // merged 2 units.
    let pair = pair(Variant::StaleCartLines).await;
    let cart = request("twice-1", &[("a", 1), ("a", 1)], LONG_TTL_MS);
    pair.variant.restock("a", 1).await.unwrap();
    let held = pair.variant.reserve(&cart).await.unwrap();
    let ReserveOutcome::Reserved(reservation) = &held else {
        panic!("variant: expected Reserved, got {held:?}");
    };
    assert_eq!(reservation.items.len(), 1);
    assert_eq!(reservation.items[0].qty, 2);
    let broken = stock(&pair.variant, "a").await;
    assert_eq!((broken.available, broken.reserved), (-1, 2));
    pair.reference.restock("a", 1).await.unwrap();
    let refused = pair.reference.reserve(&cart).await.unwrap();
    assert_eq!(
        refused,
        ReserveOutcome::Insufficient {
            sku: "a".to_owned(),
            requested: 2,
            available: 1
        }
    );
}

/// Attempts at catching the stale read below: an attempt counts only if its fill,
/// restock and second read all took less than the cache's TTL, so a machine that
/// stalls for half a second retries rather than fails.
const STALE_READ_ATTEMPTS_MAX: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_read_shows_a_restock_only_after_the_cache_refreshes() {
    // Goal: a SKU read served from a 500 ms cache misses a restock made since the
    // entry was filled, and sees it once the entry is older than the TTL. Method: on a
    // fresh SKU, read (fills the cache: 10), restock 5, read again; when all three took
    // less than the TTL (measured, else another SKU is tried), the variant still says 10
    // available and 10 total while the reference says 15; after the TTL plus 100 ms the
    // variant says 15 too.
    let pair = pair(Variant::StaleRead).await;
    let ttl = Duration::from_millis(SKU_READ_CACHE_TTL_MS);
    let mut caught = None;
    for attempt in 0..STALE_READ_ATTEMPTS_MAX {
        let sku = format!("a{attempt}");
        for engine in [&pair.variant, &pair.reference] {
            engine.restock(&sku, 10).await.unwrap();
        }
        let started = tokio::time::Instant::now();
        let filled = stock(&pair.variant, &sku).await;
        pair.variant.restock(&sku, 5).await.unwrap();
        let second = stock(&pair.variant, &sku).await;
        if started.elapsed() < ttl {
            assert_eq!((filled.available, filled.total), (10, 10));
            caught = Some((sku, second));
            break;
        }
    }
    let (sku, stale) = caught.expect("one attempt within the cache's TTL");
    assert_eq!(
        (stale.available, stale.total),
        (10, 10),
        "the restock is not seen"
    );
    pair.reference.restock(&sku, 5).await.unwrap();
    let fresh = stock(&pair.reference, &sku).await;
    assert_eq!((fresh.available, fresh.total), (15, 15));
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let refreshed = stock(&pair.variant, &sku).await;
    assert_eq!((refreshed.available, refreshed.total), (15, 15));
}

fn refused(outcome: &ReserveOutcome) -> i64 {
    match outcome {
        ReserveOutcome::Insufficient { available, .. } => *available,
        other => panic!("expected Insufficient, got {other:?}"),
    }
}

/// Reserves `qty` units of `sku` with `key`.
async fn reserve(
    engine: &Arc<dyn InventoryEngine>,
    key: &str,
    (sku, qty): (&str, i64),
    ttl_ms: i64,
) -> ReserveOutcome {
    let cart = request(key, &[(sku, qty)], ttl_ms);
    engine.reserve(&cart).await.expect("reserve answers")
}

/// Releases `id`, which must be Held.
async fn release(engine: &Arc<dyn InventoryEngine>, id: &ReservationId) {
    let outcome = engine.transition(id, Transition::Release).await.unwrap();
    assert!(
        matches!(outcome, TransitionOutcome::Applied(_)),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sold_out_flag_refuses_units_a_release_brought_back_until_a_restock() {
    // Goal: a SKU seen at 0 stays "sold out" after its units come back, until a
    // restock. Method: 2 units, both held by one cart, a third buyer refused (0 left:
    // the flag is set), the cart released (a read shows 2 available), then a 1-unit
    // reserve: the variant refuses it saying 0 while the reference holds it; a restock
    // of 1 clears the flag. Then the other way to set it: a read showing 0 (SKU `b`).
    let pair = pair(Variant::SoldOutFlag).await;
    for engine in [&pair.variant, &pair.reference] {
        engine.restock("a", 2).await.unwrap();
        let holder = reserved(&reserve(engine, "hold-1", ("a", 2), LONG_TTL_MS).await).clone();
        assert_eq!(
            refused(&reserve(engine, "late-1", ("a", 1), LONG_TTL_MS).await),
            0
        );
        release(engine, &holder).await;
        assert_eq!(stock(engine, "a").await.available, 2, "the units are back");
    }
    let buyer = reserve(&pair.variant, "after-1", ("a", 1), LONG_TTL_MS).await;
    assert_eq!(refused(&buyer), 0, "refused with 2 units on the shelf");
    reserved(&reserve(&pair.reference, "after-1", ("a", 1), LONG_TTL_MS).await);
    pair.variant.restock("a", 1).await.unwrap();
    reserved(&reserve(&pair.variant, "after-2", ("a", 1), LONG_TTL_MS).await);
    let variant = &pair.variant;
    variant.restock("b", 1).await.unwrap();
    let holder = reserved(&reserve(variant, "hold-b", ("b", 1), LONG_TTL_MS).await).clone();
    assert_eq!(stock(variant, "b").await.available, 0);
    release(variant, &holder).await;
    let buyer = reserve(variant, "after-b", ("b", 1), LONG_TTL_MS).await;
    assert_eq!(refused(&buyer), 0, "a read at 0 set the flag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phantom_hold_replay_names_one_reservation_but_holds_twice_until_expiry() {
    // Goal: a replay answers with the first reservation but holds its items again,
    // and only expiry returns them. Method: 2 of 10 units held with key `k` (long
    // TTL), the same cart replayed with a 100 ms TTL: both engines answer with the
    // first id; the variant has 6 available and 4 reserved (the reference 8 and 2).
    // Releasing the first reservation leaves the variant 2 reserved; once the hidden
    // hold's deadline passes, the sweep expires a reservation no reply named and all
    // 10 units are back.
    let pair = pair(Variant::PhantomHold).await;
    let mut firsts = Vec::new();
    for engine in [&pair.variant, &pair.reference] {
        engine.restock("a", 10).await.unwrap();
        let first = reserved(&reserve(engine, "k", ("a", 2), LONG_TTL_MS).await).clone();
        let replay = reserve(engine, "k", ("a", 2), 100).await;
        let ReserveOutcome::Replayed(replayed) = &replay else {
            panic!("expected Replayed, got {replay:?}");
        };
        assert_eq!(replayed.id, first);
        firsts.push(first);
    }
    let broken = stock(&pair.variant, "a").await;
    assert_eq!((broken.available, broken.reserved), (6, 4), "held twice");
    let kept = stock(&pair.reference, "a").await;
    assert_eq!((kept.available, kept.reserved), (8, 2));
    release(&pair.variant, &firsts[0]).await;
    let broken = stock(&pair.variant, "a").await;
    assert_eq!(
        (broken.available, broken.reserved),
        (8, 2),
        "the hidden hold stays"
    );
    let variant = Arc::clone(&pair.variant);
    let expired = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&expired);
    wait_for("the hidden hold to expire", || {
        let (variant, seen) = (Arc::clone(&variant), Arc::clone(&seen));
        async move {
            let report = variant.expire_due(256).await.unwrap();
            let mut seen = seen.lock().expect("not poisoned");
            seen.extend(report.expired);
            !seen.is_empty()
        }
    })
    .await;
    let expired = expired.lock().expect("not poisoned").clone();
    assert_eq!(expired.len(), 1);
    assert_ne!(expired[0], firsts[0], "a reservation no reply named");
    let back = stock(&pair.variant, "a").await;
    assert_eq!((back.available, back.reserved), (10, 0));
}

/// A ledger history written to Redis, then a writer with `flaw` and `fault` that
/// crashes on its first batch, then the same writer restarted without the fault and
/// drained. Returns the stores to compare Postgres with Redis.
async fn crash_and_restart_writer(flaw: WriterFlaw, fault: WriterFault) -> Stores {
    let stores = Stores::start(AofPolicy::Off).await;
    let mut shop = stores.shop();
    for sku in ["a", "b", "c"] {
        shop.restock(sku, 10).await;
        shop.restock(sku, 5).await;
    }
    let config = WriterConfig {
        fault,
        flaw,
        ..WriterConfig::new("w1")
    };
    let crashed = tokio::time::timeout(
        Duration::from_millis(DRAIN_WAIT_MS),
        stores.writer(config).join(),
    )
    .await
    .expect("the writer crashes by itself");
    assert!(
        matches!(
            crashed,
            Err(LedgerError::InjectedCrash { batch: 1 }
                | LedgerError::InjectedCrashBeforeCommit { batch: 1 })
        ),
        "{crashed:?}"
    );
    let restarted = stores.writer(WriterConfig {
        flaw,
        ..WriterConfig::new("w1")
    });
    let mut redis = stores.redis.clone();
    ledger::wait_drained(&mut redis, &stores.keys, DRAIN_WAIT_MS)
        .await
        .unwrap_or_else(|error| panic!("drain at {}: {error}", stores.infra.redis_url()));
    restarted.shutdown().await.expect("clean shutdown");
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossy_ledger_loses_a_batch_acked_before_its_commit() {
    // Goal: a writer that acks before it commits loses the batch it dies on; the
    // reference writer, killed at the same point, redelivers it. Method: 6 restock
    // events, a writer crash right before batch 1 commits, a restart, a drain; the
    // variant's Postgres has no ledger row and an empty projection while Redis has the
    // stock, the reference's projection equals Redis.
    let fault = WriterFault::CrashBeforeCommit { batch: 1 };
    let lossy = crash_and_restart_writer(Variant::LossyLedger.writer_flaw(), fault).await;
    assert!(lossy.ledger_seqs().await.is_empty(), "the batch was lost");
    assert!(lossy.projection().await.is_empty());
    assert_eq!(lossy.redis_stocks().await["a"], [15, 0, 0, 15]);
    let reference = crash_and_restart_writer(WriterFlaw::None, fault).await;
    assert_eq!(reference.ledger_seqs().await, (1..=6).collect::<Vec<i64>>());
    assert_eq!(reference.projection().await, reference.redis_stocks().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_idempotent_projection_applies_a_redelivered_batch_twice() {
    // Goal: a writer that applies every row of a batch double-counts a batch
    // redelivered after a crash between commit and XACK; the reference skips it.
    // Method: 6 restock events, a writer crash after batch 1 commits, a restart, a
    // drain; the variant's projection holds twice the units Redis has, the
    // reference's equals Redis.
    let fault = WriterFault::CrashAfterCommit { batch: 1 };
    let flaw = Variant::NonIdempotentProjection.writer_flaw();
    let doubled = crash_and_restart_writer(flaw, fault).await;
    assert_eq!(doubled.redis_stocks().await["a"], [15, 0, 0, 15]);
    assert_eq!(doubled.projection().await["a"], [30, 0, 0, 30]);
    assert_eq!(doubled.ledger_seqs().await, (1..=6).collect::<Vec<i64>>());
    let reference = crash_and_restart_writer(WriterFlaw::None, fault).await;
    assert_eq!(reference.projection().await, reference.redis_stocks().await);
}

/// 100 single-unit restocks of `a` through `engine`, checking Postgres against Redis
/// after the first 49 (before the dual-write crash hook first fires).
async fn restock_hundred(engine: &dyn InventoryEngine, stores: &Stores) -> bool {
    let mut equal_before_first_crash = false;
    for op in 1..=100_u64 {
        engine.restock("a", 1).await.expect("restock answers");
        if op == DUAL_WRITE_CRASH_EVERY_DEFAULT - 1 {
            equal_before_first_crash = stores.projection().await == stores.redis_stocks().await;
        }
    }
    equal_before_first_crash
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_write_leaves_redis_and_postgres_apart_after_a_crash() {
    // Goal: writing Redis then Postgres in two steps, with no outbox, loses the second
    // write when the process dies in between; the reference's outbox does not. Method:
    // 100 single-unit restocks; the variant's crash hook drops every 50th Postgres
    // write, so Postgres ends 2 units short (and agreed with Redis before the first
    // drop); a reserve and confirm of 3 then reach both; the reference engine on its
    // own servers, with its ledger writer drained, ends equal.
    let variant_stores = Stores::start(AofPolicy::Off).await;
    let variant = Variant::DualWrite
        .connect(
            variant_stores.infra.redis_url(),
            RedisLuaConfig::new("test"),
            Some(&variant_stores.pool),
        )
        .await
        .expect("dual-write engine connects");
    assert!(restock_hundred(variant.as_ref(), &variant_stores).await);
    assert_eq!(variant_stores.redis_stocks().await["a"], [100, 0, 0, 100]);
    assert_eq!(variant_stores.projection().await["a"], [98, 0, 0, 98]);
    // Between crashes a reserve and its confirm reach Postgres too (a negative delta
    // must not trip the projection's CHECKs): the gap stays the two dropped units.
    let outcome = variant
        .reserve(&request("k-dual", &[("a", 3)], LONG_TTL_MS))
        .await
        .expect("reserve answers");
    let confirmed = variant
        .transition(reserved(&outcome), Transition::Confirm)
        .await
        .expect("confirm answers");
    assert!(
        matches!(confirmed, TransitionOutcome::Applied(_)),
        "{confirmed:?}"
    );
    assert_eq!(variant_stores.redis_stocks().await["a"], [97, 0, 3, 100]);
    assert_eq!(variant_stores.projection().await["a"], [95, 0, 3, 98]);
    let reference_stores = Stores::start(AofPolicy::Off).await;
    let reference = RedisLuaEngine::connect(
        reference_stores.infra.redis_url(),
        RedisLuaConfig::new("test"),
    )
    .await
    .expect("reference engine connects");
    restock_hundred(&reference, &reference_stores).await;
    reference_stores.drain().await;
    assert_eq!(
        reference_stores.projection().await,
        reference_stores.redis_stocks().await
    );
}
