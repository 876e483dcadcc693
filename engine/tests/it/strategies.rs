//! The inventory contract, one generic test body per behaviour, run on every
//! strategy's engine against real servers: no oversell under concurrent reserves, an
//! idempotent replay and a key reused, transitions (a repeat of the winning call
//! succeeds, the loser is told the state that won), races between confirm and release,
//! expiry exactly once with concurrent sweepers, and — for the Postgres strategies —
//! `skus` = a replay of their ledger rows = Σ Held items. `strategy_tests!` stamps the
//! bodies out once per strategy, so a failure names the strategy.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use stockproof_engine::ledger::{EventKind, LedgerEvent, replay};
use stockproof_engine::pg::{PgConfig, PgOptimisticEngine, PgRowLockEngine};
use stockproof_engine::strategy::Strategy;
use stockproof_engine::{
    EngineError, InventoryEngine, RedisLuaConfig, RedisLuaEngine, ReservationId, ReservationState,
    ReserveOutcome, ReserveRequest, Transition, TransitionOutcome, stores,
};
use stockproof_infra::{AofPolicy, Infra};

use crate::support::{request, start_infra, stock};

const RETENTION_MS: i64 = 60_000;
/// A TTL no test outlives.
const TTL_LONG_MS: i64 = 60_000;
/// How often a test client re-sends an operation refused with `Unavailable` (the
/// optimistic strategy's exhausted retry budget: nothing changed, retry).
const CLIENT_RETRIES_MAX: u32 = 100;
/// Bound on waiting for a deadline to pass on the server's clock.
const DEADLINE_WAIT_MS_MAX: u64 = 5_000;

/// A strategy's engine on fresh local servers, with a pool onto its database.
struct Served {
    infra: Infra,
    engine: Arc<dyn InventoryEngine>,
    postgres: PgPool,
    strategy: Strategy,
}

async fn serve(strategy: Strategy) -> Served {
    let infra = start_infra(AofPolicy::Off).await;
    let postgres = stores::connect_postgres(infra.database_url())
        .await
        .expect("postgres");
    stockproof_engine::ledger::migrate(&postgres)
        .await
        .expect("migrations");
    let pg_config = PgConfig {
        retention_ms: RETENTION_MS,
        ..PgConfig::default()
    };
    let url = infra.database_url();
    let engine: Arc<dyn InventoryEngine> = match strategy {
        Strategy::RedisLua => {
            let config = RedisLuaConfig {
                retention_ms: RETENTION_MS,
                ..RedisLuaConfig::new("strategies")
            };
            Arc::new(
                RedisLuaEngine::connect(infra.redis_url(), config)
                    .await
                    .expect("engine"),
            )
        }
        Strategy::PgRowLock => Arc::new(
            PgRowLockEngine::connect(url, pg_config)
                .await
                .expect("engine"),
        ),
        Strategy::PgOptimistic => Arc::new(
            PgOptimisticEngine::connect(url, pg_config)
                .await
                .expect("engine"),
        ),
    };
    Served {
        infra,
        engine,
        postgres,
        strategy,
    }
}

/// A reserve as a client sends it: re-sent while the engine says `Unavailable`.
async fn reserve(engine: &dyn InventoryEngine, request: &ReserveRequest) -> ReserveOutcome {
    for _ in 0..CLIENT_RETRIES_MAX {
        match engine.reserve(request).await {
            Ok(outcome) => return outcome,
            Err(EngineError::Unavailable { .. }) => tokio::task::yield_now().await,
            Err(error) => panic!("reserve {}: {error}", request.idempotency_key),
        }
    }
    panic!(
        "reserve {}: unavailable {CLIENT_RETRIES_MAX} times",
        request.idempotency_key
    )
}

async fn transition(
    engine: &dyn InventoryEngine,
    id: &ReservationId,
    transition: Transition,
) -> TransitionOutcome {
    for _ in 0..CLIENT_RETRIES_MAX {
        match engine.transition(id, transition).await {
            Ok(outcome) => return outcome,
            Err(EngineError::Unavailable { .. }) => tokio::task::yield_now().await,
            Err(error) => panic!("{transition:?} {id}: {error}"),
        }
    }
    panic!("{transition:?} {id}: unavailable {CLIENT_RETRIES_MAX} times")
}

fn reserved_id(outcome: &ReserveOutcome) -> ReservationId {
    match outcome {
        ReserveOutcome::Reserved(reservation) => reservation.id.clone(),
        other => panic!("expected a reservation, got {other:?}"),
    }
}

/// The Postgres strategies' own stores agree: `skus` = the ledger replay, and each
/// SKU's `reserved` = Σ its Held reservations' items. The reference's stores are
/// Redis plus a writer's projection, checked by its own tests (`ledger_e2e`).
async fn assert_stores_agree(served: &Served) {
    if served.strategy.uses_redis() {
        return;
    }
    let rows: Vec<(i64, String, String, i64)> =
        sqlx::query_as("SELECT seq, kind, sku, qty FROM ledger ORDER BY seq")
            .fetch_all(&served.postgres)
            .await
            .expect("ledger rows");
    let events: Vec<LedgerEvent> = rows
        .into_iter()
        .map(|(seq, kind, sku, qty)| LedgerEvent {
            seq,
            kind: kind.parse::<EventKind>().expect("kind"),
            sku,
            qty,
            reservation_id: String::new(),
            idempotency_key: String::new(),
            deadline_ms: 0,
            at_ms: 0,
        })
        .collect();
    let snapshot = served.engine.snapshot().await.expect("snapshot");
    assert_eq!(replay(&events), snapshot, "skus rows vs ledger replay");
    let held: Vec<(String, i64)> = sqlx::query_as(
        "SELECT i.sku, sum(i.qty)::bigint FROM reservation_items i
           JOIN reservations r ON r.id = i.reservation_id
          WHERE r.state = 'held' GROUP BY i.sku",
    )
    .fetch_all(&served.postgres)
    .await
    .expect("held items");
    let held: BTreeMap<String, i64> = held.into_iter().collect();
    for (sku, stock) in &snapshot {
        assert_eq!(
            stock.reserved,
            held.get(sku).copied().unwrap_or(0),
            "{sku}: reserved vs Σ held"
        );
    }
}

async fn oversell_is_impossible(strategy: Strategy) {
    // Goal: 50 concurrent one-unit reserves on 10 units: exactly 10 hold a unit, 40
    // are told there are none; then the same with two-SKU carts, all or nothing.
    let served = serve(strategy).await;
    served.engine.restock("hot", 10).await.expect("restock");
    let tasks: Vec<_> = (0..50)
        .map(|caller| {
            let engine = Arc::clone(&served.engine);
            tokio::spawn(async move {
                reserve(
                    &*engine,
                    &request(&format!("k{caller}"), &[("hot", 1)], TTL_LONG_MS),
                )
                .await
            })
        })
        .collect();
    let mut reserved = 0;
    for task in tasks {
        match task.await.expect("caller") {
            ReserveOutcome::Reserved(_) => reserved += 1,
            ReserveOutcome::Insufficient { sku, .. } => assert_eq!(sku, "hot"),
            other => panic!("{strategy}: {other:?}"),
        }
    }
    assert_eq!(reserved, 10, "{strategy}");
    assert_eq!(
        served.engine.sku("hot").await.unwrap(),
        Some(stock(0, 10, 0, 10))
    );
    // A cart whose second line cannot be held takes nothing from its first.
    served.engine.restock("a", 5).await.unwrap();
    served.engine.restock("b", 2).await.unwrap();
    let outcome = reserve(
        &*served.engine,
        &request("cart", &[("a", 1), ("b", 3)], TTL_LONG_MS),
    )
    .await;
    assert!(
        matches!(&outcome, ReserveOutcome::Insufficient { sku, requested: 3, available: 2 } if sku == "b"),
        "{strategy}: {outcome:?}"
    );
    assert_eq!(
        served.engine.sku("a").await.unwrap(),
        Some(stock(5, 0, 0, 5))
    );
    let unknown = reserve(
        &*served.engine,
        &request("nope", &[("a", 1), ("zz", 1)], TTL_LONG_MS),
    )
    .await;
    assert!(
        matches!(&unknown, ReserveOutcome::UnknownSku { sku } if sku == "zz"),
        "{unknown:?}"
    );
    assert_stores_agree(&served).await;
}

async fn a_key_replays_its_reservation_and_refuses_other_items(strategy: Strategy) {
    // Goal: the same key and items replay the same reservation (even racing), other
    // items with the key are a key reused; neither changes stock.
    let served = serve(strategy).await;
    served.engine.restock("s", 100).await.unwrap();
    let cart = request("once", &[("s", 3)], TTL_LONG_MS);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let engine = Arc::clone(&served.engine);
            let cart = cart.clone();
            tokio::spawn(async move { reserve(&*engine, &cart).await })
        })
        .collect();
    let mut ids = BTreeSet::new();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("caller") {
            ReserveOutcome::Reserved(reservation) => {
                created += 1;
                ids.insert(reservation.id);
            }
            ReserveOutcome::Replayed(reservation) => {
                ids.insert(reservation.id);
            }
            other => panic!("{strategy}: {other:?}"),
        }
    }
    assert_eq!(
        (created, ids.len()),
        (1, 1),
        "{strategy}: one reservation for one key"
    );
    assert_eq!(
        served.engine.sku("s").await.unwrap(),
        Some(stock(97, 3, 0, 100))
    );
    let id = ids.into_iter().next().unwrap();
    let confirmed = transition(&*served.engine, &id, Transition::Confirm).await;
    assert!(
        matches!(confirmed, TransitionOutcome::Applied(_)),
        "{confirmed:?}"
    );
    // A replay after the confirm shows the reservation as it is now.
    match reserve(&*served.engine, &cart).await {
        ReserveOutcome::Replayed(reservation) => {
            assert_eq!(
                (reservation.id, reservation.state),
                (id.clone(), ReservationState::Confirmed)
            );
        }
        other => panic!("{strategy}: {other:?}"),
    }
    let reused = reserve(&*served.engine, &request("once", &[("s", 4)], TTL_LONG_MS)).await;
    assert_eq!(reused, ReserveOutcome::KeyReused { existing: id });
    assert_eq!(
        served.engine.sku("s").await.unwrap(),
        Some(stock(97, 0, 3, 100))
    );
    assert_stores_agree(&served).await;
}

async fn transitions_answer_who_won(strategy: Strategy) {
    // Goal: a repeat of the winning call is a success, the losing call is told the
    // state that won; racing confirm against release, exactly one wins each.
    let served = serve(strategy).await;
    let engine = &*served.engine;
    engine.restock("t", 100).await.unwrap();
    let first = reserved_id(&reserve(engine, &request("t1", &[("t", 2)], TTL_LONG_MS)).await);
    assert!(matches!(
        transition(engine, &first, Transition::Confirm).await,
        TransitionOutcome::Applied(_)
    ));
    assert!(matches!(
        transition(engine, &first, Transition::Confirm).await,
        TransitionOutcome::AlreadyApplied(reservation) if reservation.state == ReservationState::Confirmed
    ));
    assert_eq!(
        transition(engine, &first, Transition::Release).await,
        TransitionOutcome::NotHeld {
            state: ReservationState::Confirmed
        }
    );
    let missing = ReservationId("r999999".to_owned());
    assert_eq!(
        transition(engine, &missing, Transition::Confirm).await,
        TransitionOutcome::UnknownReservation
    );
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(reserved_id(
            &reserve(
                engine,
                &request(&format!("race{n}"), &[("t", 1)], TTL_LONG_MS),
            )
            .await,
        ));
    }
    let races: Vec<_> = ids
        .iter()
        .flat_map(|id| [Transition::Confirm, Transition::Release].map(|kind| (id.clone(), kind)))
        .map(|(id, kind)| {
            let engine = Arc::clone(&served.engine);
            tokio::spawn(async move { (kind, transition(&*engine, &id, kind).await) })
        })
        .collect();
    let mut sold = 2;
    let mut applied = 0;
    for race in races {
        match race.await.expect("caller") {
            (kind, TransitionOutcome::Applied(_)) => {
                applied += 1;
                sold += i64::from(kind == Transition::Confirm);
            }
            (_, TransitionOutcome::NotHeld { state }) => assert!(state.is_terminal()),
            (kind, other) => panic!("{strategy} {kind:?}: {other:?}"),
        }
    }
    assert_eq!(
        applied, 20,
        "{strategy}: exactly one winner per reservation"
    );
    assert_eq!(
        engine.sku("t").await.unwrap(),
        Some(stock(100 - sold, 0, sold, 100))
    );
    assert_stores_agree(&served).await;
}

async fn expiry_happens_exactly_once(strategy: Strategy) {
    // Goal: due reservations expire once however many sweepers run at once; a confirm
    // after the deadline loses to it (told Expired) and sells nothing.
    let served = serve(strategy).await;
    let engine = &*served.engine;
    engine.restock("e", 100).await.unwrap();
    let mut ids = BTreeSet::new();
    let mut last_deadline_ms = 0;
    for n in 0..30 {
        match reserve(engine, &request(&format!("e{n}"), &[("e", 1)], 1)).await {
            ReserveOutcome::Reserved(reservation) => {
                last_deadline_ms = last_deadline_ms.max(reservation.deadline_ms);
                ids.insert(reservation.id);
            }
            other => panic!("{strategy}: {other:?}"),
        }
    }
    let started = std::time::Instant::now();
    while now_ms(&served).await <= last_deadline_ms {
        assert!(started.elapsed() < Duration::from_millis(DEADLINE_WAIT_MS_MAX));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let late = ids.first().cloned().expect("a reservation");
    assert_eq!(
        transition(engine, &late, Transition::Confirm).await,
        TransitionOutcome::NotHeld {
            state: ReservationState::Expired
        }
    );
    let sweepers: Vec<_> = (0..4)
        .map(|_| {
            let engine = Arc::clone(&served.engine);
            tokio::spawn(async move {
                let mut expired = Vec::new();
                for _ in 0..10 {
                    expired.extend(engine.expire_due(4).await.expect("expire").expired);
                }
                expired
            })
        })
        .collect();
    let mut expired = vec![late.clone()];
    for sweeper in sweepers {
        expired.extend(sweeper.await.expect("sweeper"));
    }
    let unique: BTreeSet<ReservationId> = expired.iter().cloned().collect();
    assert_eq!(
        expired.len(),
        unique.len(),
        "{strategy}: a reservation expired twice"
    );
    assert_eq!(unique, ids, "{strategy}: every due reservation expired");
    assert_eq!(engine.sku("e").await.unwrap(), Some(stock(100, 0, 0, 100)));
    if !served.strategy.uses_redis() {
        let (events,): (i64,) = sqlx::query_as("SELECT count(*) FROM ledger WHERE kind = 'expire'")
            .fetch_one(&served.postgres)
            .await
            .unwrap();
        assert_eq!(events, 30, "{strategy}: one expire event per reservation");
    }
    assert_stores_agree(&served).await;
}

/// The engine's clock: Postgres's for the Postgres strategies, Redis's for the
/// reference (a reservation's deadline is on that clock).
async fn now_ms(served: &Served) -> i64 {
    if served.strategy.uses_redis() {
        let mut redis = stores::connect_redis(served.infra.redis_url())
            .await
            .unwrap();
        let (seconds, micros): (i64, i64) =
            redis::cmd("TIME").query_async(&mut redis).await.unwrap();
        return seconds * 1_000 + micros / 1_000;
    }
    let (now,): (i64,) =
        sqlx::query_as("SELECT floor(extract(epoch from clock_timestamp()) * 1000)::bigint")
            .fetch_one(&served.postgres)
            .await
            .unwrap();
    now
}

/// One test per behaviour and strategy.
macro_rules! strategy_tests {
    ($module:ident, $strategy:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn oversell_is_impossible() {
                super::oversell_is_impossible($strategy).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_key_replays_its_reservation_and_refuses_other_items() {
                super::a_key_replays_its_reservation_and_refuses_other_items($strategy).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn transitions_answer_who_won() {
                super::transitions_answer_who_won($strategy).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn expiry_happens_exactly_once() {
                super::expiry_happens_exactly_once($strategy).await;
            }
        }
    };
}

strategy_tests!(redis_lua, Strategy::RedisLua);
strategy_tests!(pg_row_lock, Strategy::PgRowLock);
strategy_tests!(pg_optimistic, Strategy::PgOptimistic);
