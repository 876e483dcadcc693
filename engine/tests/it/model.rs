//! Model-based property test: random sequences of restock / adjust / reserve (new keys,
//! replays with the same items in another line order, key reuse with other items,
//! duplicate lines, unknown SKUs) / confirm / release / expire_due / sleep, with short
//! TTLs so deadlines pass mid-sequence, against the engine and an in-memory model.
//! Every reply is compared with the model's, and after every step the stock; at the
//! end every reservation, and the ledger's replay and seq.
//!
//! The reference state machine only generates the operations (it cannot know time).
//! The model that judges replies runs beside the engine and knows time the way the
//! engine does: it reads the Redis clock (`TIME`) just before and just after each call.
//! An outcome that depends on a deadline is then forced when the deadline is outside
//! that window, and either outcome is accepted (and the model follows the engine)
//! only when the deadline fell inside it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use redis::aio::MultiplexedConnection;
use stockproof_engine::ledger::replay;
use stockproof_engine::limits::EXPIRE_BATCH_MAX;
use stockproof_engine::{
    AdjustOutcome, CartLine, InventoryEngine, RedisLuaConfig, RedisLuaEngine, Reservation,
    ReservationId, ReservationState, ReserveOutcome, ReserveRequest, SkuStock, Transition,
    TransitionOutcome,
};
use stockproof_infra::AofPolicy;

use crate::support::{ledger, raw_connection, seq, start_infra};

/// Cases and steps per case: enough to hit every path (replays, races with deadlines,
/// exhausted stock) while the whole property runs in seconds.
const CASES: u32 = 32;
const STEPS_MAX: usize = 40;
/// Long enough that nothing vanishes during a case.
const RETENTION_MS: i64 = 600_000;
const SKUS: [&str; 3] = ["a", "b", "c"];
/// Never restocked: every cart naming it is refused as unknown.
const GHOST_SKU: &str = "ghost";
const KEYS: usize = 10;
/// The generator's seed: fixed, so a failure reproduces (timing aside).
const SEED: [u8; 32] = *b"stockproof engine vs model seed!";

static REDIS_URL: OnceLock<String> = OnceLock::new();

/// What the cases exercised, so the property cannot pass vacuously (a coverage goal:
/// each path below must have been taken at least once over all cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Path {
    Reserved,
    Replayed,
    KeyReused,
    Insufficient,
    UnknownSku,
    Applied,
    AlreadyApplied,
    NotHeld,
    /// A confirm or release after the deadline, answered Expired.
    OverdueTransition,
    SweptExpired,
    AdjustRefused,
}

static PATHS: std::sync::Mutex<BTreeSet<Path>> = std::sync::Mutex::new(BTreeSet::new());

fn took(path: Path) {
    PATHS.lock().expect("paths lock").insert(path);
}
static CASE: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Clone)]
enum Op {
    Restock {
        sku: usize,
        qty: i64,
    },
    Adjust {
        sku: usize,
        delta: i64,
    },
    /// A cart under one of a few keys: new, a replay, or a key reuse, by chance.
    Reserve {
        key: usize,
        lines: Vec<(usize, i64)>,
        ttl_ms: i64,
    },
    /// The exact cart of an earlier reservation, lines reversed and the first split in
    /// two: must replay.
    Replay {
        slot: usize,
    },
    Transition {
        slot: usize,
        transition: Transition,
    },
    ExpireDue,
    Sleep {
        ms: u64,
    },
}

/// The reference machine: generation only (see the module doc).
#[derive(Debug, Clone)]
struct Generator;

fn sku_index() -> impl Strategy<Value = usize> {
    // Index 3 is the ghost SKU, picked rarely.
    prop_oneof![10 => 0..3usize, 1 => Just(3usize)]
}

/// Names the latest reservation: transitions aim at it often, so that they race its
/// fresh deadline.
const LATEST: usize = usize::MAX;

fn slot() -> impl Strategy<Value = usize> {
    prop_oneof![Just(LATEST), any::<usize>()]
}

impl ReferenceStateMachine for Generator {
    type State = ();
    type Transition = Op;

    fn init_state() -> BoxedStrategy<()> {
        Just(()).boxed()
    }

    fn transitions(_: &()) -> BoxedStrategy<Op> {
        let ttl = prop_oneof![3 => 1..30i64, 1 => Just(60_000i64)];
        let lines = prop::collection::vec((sku_index(), 1..4i64), 1..4);
        prop_oneof![
            3 => (0..3usize, 1..30i64).prop_map(|(sku, qty)| Op::Restock { sku, qty }),
            1 => (sku_index(), -4..4i64)
                .prop_filter("delta 0 is invalid input", |(_, delta)| *delta != 0)
                .prop_map(|(sku, delta)| Op::Adjust { sku, delta }),
            5 => (0..KEYS, lines, ttl).prop_map(|(key, lines, ttl_ms)| Op::Reserve { key, lines, ttl_ms }),
            1 => any::<usize>().prop_map(|slot| Op::Replay { slot }),
            3 => slot().prop_map(|slot| Op::Transition { slot, transition: Transition::Confirm }),
            2 => slot().prop_map(|slot| Op::Transition { slot, transition: Transition::Release }),
            1 => Just(Op::ExpireDue),
            2 => (0..25u64).prop_map(|ms| Op::Sleep { ms }),
        ]
        .boxed()
    }

    fn apply((): (), _: &Op) {}
}

/// The in-memory model that judges the engine's replies.
#[derive(Debug, Default)]
struct Model {
    stocks: BTreeMap<String, SkuStock>,
    /// In creation order; ops name them by slot (index modulo the count).
    reservations: Vec<Reservation>,
    keys: BTreeMap<String, usize>,
}

/// The engine under test, its raw connection, and the model.
struct Subject {
    runtime: tokio::runtime::Runtime,
    engine: RedisLuaEngine,
    redis: MultiplexedConnection,
    model: Model,
    shop: String,
}

impl Subject {
    fn now_ms(&mut self) -> i64 {
        let redis = &mut self.redis;
        let (seconds, micros): (i64, i64) = self
            .runtime
            .block_on(redis::cmd("TIME").query_async(redis))
            .expect("TIME");
        seconds * 1_000 + micros / 1_000
    }

    fn slot(&self, slot: usize) -> Option<usize> {
        let count = self.model.reservations.len();
        match slot {
            _ if count == 0 => None,
            LATEST => Some(count - 1),
            _ => Some(slot % count),
        }
    }
}

fn sku_name(index: usize) -> &'static str {
    SKUS.get(index).copied().unwrap_or(GHOST_SKU)
}

fn merged(lines: &[CartLine]) -> Vec<CartLine> {
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for line in lines {
        *sums.entry(&line.sku).or_default() += line.qty;
    }
    sums.into_iter()
        .map(|(sku, qty)| CartLine {
            sku: sku.to_owned(),
            qty,
        })
        .collect()
}

fn apply_reserve(subject: &mut Subject, request: ReserveRequest) {
    let before = subject.now_ms();
    let outcome = subject
        .runtime
        .block_on(subject.engine.reserve(&request))
        .expect("reserve");
    let after = subject.now_ms();
    let model = &mut subject.model;
    let items = merged(&request.items);
    if let Some(&slot) = model.keys.get(&request.idempotency_key) {
        let existing = &model.reservations[slot];
        let expected = if existing.items == items {
            took(Path::Replayed);
            ReserveOutcome::Replayed(existing.clone())
        } else {
            took(Path::KeyReused);
            ReserveOutcome::KeyReused {
                existing: existing.id.clone(),
            }
        };
        assert_eq!(outcome, expected, "{request:?}");
        return;
    }
    for line in &items {
        let expected = match model.stocks.get(&line.sku) {
            None => {
                took(Path::UnknownSku);
                ReserveOutcome::UnknownSku {
                    sku: line.sku.clone(),
                }
            }
            Some(stock) if stock.available < line.qty => {
                took(Path::Insufficient);
                ReserveOutcome::Insufficient {
                    sku: line.sku.clone(),
                    requested: line.qty,
                    available: stock.available,
                }
            }
            Some(_) => continue,
        };
        assert_eq!(outcome, expected, "{request:?}");
        return;
    }
    let ReserveOutcome::Reserved(reservation) = outcome else {
        panic!("{request:?}: expected Reserved, got {outcome:?}");
    };
    assert_eq!(reservation.state, ReservationState::Held);
    assert_eq!(reservation.items, items);
    assert_eq!(reservation.idempotency_key, request.idempotency_key);
    let window = (before + request.ttl_ms)..=(after + request.ttl_ms);
    assert!(
        window.contains(&reservation.deadline_ms),
        "deadline {} outside {window:?}",
        reservation.deadline_ms
    );
    for line in &items {
        let stock = model.stocks.get_mut(&line.sku).expect("checked above");
        stock.available -= line.qty;
        stock.reserved += line.qty;
    }
    model
        .keys
        .insert(request.idempotency_key.clone(), model.reservations.len());
    model.reservations.push(reservation);
    took(Path::Reserved);
}

/// Moves a model reservation to a terminal state, with its stock.
fn end(model: &mut Model, slot: usize, state: ReservationState) {
    let reservation = &mut model.reservations[slot];
    assert_eq!(reservation.state, ReservationState::Held);
    reservation.state = state;
    for line in &reservation.items {
        let stock = model
            .stocks
            .get_mut(&line.sku)
            .expect("reserved sku exists");
        stock.reserved -= line.qty;
        match state {
            ReservationState::Confirmed => stock.sold += line.qty,
            _ => stock.available += line.qty,
        }
    }
}

fn apply_transition(subject: &mut Subject, slot: usize, transition: Transition) {
    let Some(slot) = subject.slot(slot) else {
        let unknown = ReservationId("r999999".to_owned());
        let outcome = subject
            .runtime
            .block_on(subject.engine.transition(&unknown, transition));
        assert_eq!(
            outcome.expect("transition"),
            TransitionOutcome::UnknownReservation
        );
        return;
    };
    let id = subject.model.reservations[slot].id.clone();
    let before = subject.now_ms();
    let outcome = subject
        .runtime
        .block_on(subject.engine.transition(&id, transition))
        .expect("transition");
    let after = subject.now_ms();
    let target = transition.target_state();
    let current = subject.model.reservations[slot].clone();
    if current.state == target {
        assert_eq!(outcome, TransitionOutcome::AlreadyApplied(current));
        took(Path::AlreadyApplied);
        return;
    }
    if current.state.is_terminal() {
        assert_eq!(
            outcome,
            TransitionOutcome::NotHeld {
                state: current.state
            }
        );
        took(Path::NotHeld);
        return;
    }
    let expired = TransitionOutcome::NotHeld {
        state: ReservationState::Expired,
    };
    let overdue = current.deadline_ms <= before;
    let in_time = current.deadline_ms > after;
    if outcome == expired && !in_time {
        end(&mut subject.model, slot, ReservationState::Expired);
        took(Path::OverdueTransition);
        return;
    }
    assert!(
        !overdue,
        "{id}: deadline {} passed before the call at {before}, got {outcome:?}",
        current.deadline_ms
    );
    end(&mut subject.model, slot, target);
    let mut applied = current;
    applied.state = target;
    assert_eq!(outcome, TransitionOutcome::Applied(applied));
    took(Path::Applied);
}

fn apply_expire_due(subject: &mut Subject) {
    let before = subject.now_ms();
    let report = subject
        .runtime
        .block_on(subject.engine.expire_due(EXPIRE_BATCH_MAX))
        .expect("expire_due");
    let after = subject.now_ms();
    assert_eq!(report.still_due, 0, "fewer reservations than a batch");
    let expired: BTreeSet<&ReservationId> = report.expired.iter().collect();
    assert_eq!(expired.len(), report.expired.len(), "an id expired twice");
    for slot in 0..subject.model.reservations.len() {
        let reservation = &subject.model.reservations[slot];
        let was_expired = expired.contains(&reservation.id);
        if reservation.state != ReservationState::Held {
            assert!(
                !was_expired,
                "{} expired from {:?}",
                reservation.id, reservation.state
            );
            continue;
        }
        let (id, deadline) = (reservation.id.clone(), reservation.deadline_ms);
        if deadline <= before {
            assert!(
                was_expired,
                "{id}: deadline {deadline} passed before {before}, not expired"
            );
        }
        if deadline > after {
            assert!(
                !was_expired,
                "{id}: deadline {deadline} after {after}, yet expired"
            );
        }
        if was_expired {
            end(&mut subject.model, slot, ReservationState::Expired);
            took(Path::SweptExpired);
        }
    }
}

fn apply_restock(subject: &mut Subject, sku: &str, qty: i64) {
    let stock = subject
        .runtime
        .block_on(subject.engine.restock(sku, qty))
        .expect("restock");
    let model = subject.model.stocks.entry(sku.to_owned()).or_default();
    model.available += qty;
    model.total += qty;
    assert_eq!(stock, *model);
}

fn apply_adjust(subject: &mut Subject, sku: &str, delta: i64) {
    let outcome = subject
        .runtime
        .block_on(subject.engine.adjust(sku, delta))
        .expect("adjust");
    let expected = match subject.model.stocks.get_mut(sku) {
        None => AdjustOutcome::UnknownSku,
        Some(stock) if stock.available + delta < 0 => {
            took(Path::AdjustRefused);
            AdjustOutcome::Refused {
                available: stock.available,
            }
        }
        Some(stock) => {
            stock.available += delta;
            stock.total += delta;
            AdjustOutcome::Adjusted(*stock)
        }
    };
    assert_eq!(outcome, expected);
}

/// The cart of `reservation`, reversed with its first line split in two.
fn reshuffled(reservation: &Reservation) -> Vec<CartLine> {
    let mut lines: Vec<CartLine> = reservation.items.iter().rev().cloned().collect();
    if lines[0].qty > 1 {
        let sku = lines[0].sku.clone();
        lines[0].qty -= 1;
        lines.push(CartLine { sku, qty: 1 });
    }
    lines
}

struct EngineVsModel;

impl StateMachineTest for EngineVsModel {
    type SystemUnderTest = Subject;
    type Reference = Generator;

    fn init_test(_: &()) -> Subject {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let url = REDIS_URL.get().expect("redis started");
        let shop = format!("model-{}", CASE.fetch_add(1, Ordering::Relaxed));
        let config = RedisLuaConfig {
            retention_ms: RETENTION_MS,
            ..RedisLuaConfig::new(&shop)
        };
        let engine = runtime
            .block_on(RedisLuaEngine::connect(url, config))
            .expect("engine connects");
        let redis = runtime.block_on(raw_connection(url));
        Subject {
            runtime,
            engine,
            redis,
            model: Model::default(),
            shop,
        }
    }

    fn apply(mut subject: Subject, _: &(), op: Op) -> Subject {
        match op {
            Op::Restock { sku, qty } => apply_restock(&mut subject, sku_name(sku), qty),
            Op::Adjust { sku, delta } => apply_adjust(&mut subject, sku_name(sku), delta),
            Op::Reserve { key, lines, ttl_ms } => {
                let items = lines
                    .iter()
                    .map(|(sku, qty)| CartLine {
                        sku: sku_name(*sku).to_owned(),
                        qty: *qty,
                    })
                    .collect();
                let request = ReserveRequest {
                    idempotency_key: format!("key-{key}"),
                    items,
                    ttl_ms,
                };
                apply_reserve(&mut subject, request);
            }
            Op::Replay { slot } => {
                if let Some(slot) = subject.slot(slot) {
                    let reservation = &subject.model.reservations[slot];
                    let request = ReserveRequest {
                        idempotency_key: reservation.idempotency_key.clone(),
                        items: reshuffled(reservation),
                        ttl_ms: 60_000,
                    };
                    apply_reserve(&mut subject, request);
                }
            }
            Op::Transition { slot, transition } => apply_transition(&mut subject, slot, transition),
            Op::ExpireDue => apply_expire_due(&mut subject),
            Op::Sleep { ms } => std::thread::sleep(std::time::Duration::from_millis(ms)),
        }
        subject
    }

    fn check_invariants(subject: &Subject, _: &()) {
        let snapshot = subject
            .runtime
            .block_on(subject.engine.snapshot())
            .expect("snapshot");
        assert_eq!(snapshot, subject.model.stocks, "shop {}", subject.shop);
    }

    fn teardown(mut subject: Subject) {
        for reservation in &subject.model.reservations {
            let stored = subject
                .runtime
                .block_on(subject.engine.reservation(&reservation.id))
                .expect("reservation");
            assert_eq!(stored.as_ref(), Some(reservation), "shop {}", subject.shop);
        }
        let mut held: BTreeMap<&str, i64> = BTreeMap::new();
        for reservation in subject
            .model
            .reservations
            .iter()
            .filter(|r| r.state == ReservationState::Held)
        {
            for line in &reservation.items {
                *held.entry(&line.sku).or_default() += line.qty;
            }
        }
        for (sku, stock) in &subject.model.stocks {
            assert_eq!(
                stock.reserved,
                held.get(sku.as_str()).copied().unwrap_or(0),
                "Σ held of {sku}"
            );
            assert!(
                stock.violations().is_empty(),
                "{sku}: {:?}",
                stock.violations()
            );
        }
        let keys = subject.engine.keys().clone();
        let redis = &mut subject.redis;
        let events = subject.runtime.block_on(ledger(redis, &keys));
        let numbers: Vec<i64> = events.iter().map(|event| event.seq).collect();
        assert_eq!(
            numbers,
            (1..=events.len() as i64).collect::<Vec<_>>(),
            "shop {}: seq gaps",
            subject.shop
        );
        assert_eq!(
            subject.runtime.block_on(seq(redis, &keys)),
            events.len() as i64
        );
        assert_eq!(
            replay(&events),
            subject.model.stocks,
            "shop {}: ledger replay",
            subject.shop
        );
    }
}

#[test]
fn engine_matches_the_model() {
    // Goal: every reply of every operation, and the final state, match an in-memory
    // model, whatever the sequence. Method: proptest-state-machine, 32 cases of up to
    // 40 steps, one shop per case on one Redis, from a fixed seed (reproducible);
    // proptest prints the failing sequence, shrunk. Every path must have been taken.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let infra = runtime.block_on(start_infra(AofPolicy::Off));
    REDIS_URL
        .set(infra.redis_url().to_owned())
        .expect("set once");
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &SEED);
    let mut runner = TestRunner::new_with_rng(config.clone(), rng);
    let result = runner.run(
        &Generator::sequential_strategy(1..STEPS_MAX),
        |(state, ops, seen)| {
            EngineVsModel::test_sequential(config.clone(), state, ops, seen);
            Ok(())
        },
    );
    if let Err(failure) = result {
        panic!("redis {}, seed {SEED:?}: {failure}", infra.redis_url());
    }
    let taken = PATHS.lock().expect("paths lock").clone();
    let all = [
        Path::Reserved,
        Path::Replayed,
        Path::KeyReused,
        Path::Insufficient,
        Path::UnknownSku,
        Path::Applied,
        Path::AlreadyApplied,
        Path::NotHeld,
        Path::OverdueTransition,
        Path::SweptExpired,
        Path::AdjustRefused,
    ];
    let missed: Vec<&Path> = all.iter().filter(|path| !taken.contains(path)).collect();
    assert!(
        missed.is_empty(),
        "seed {SEED:?}: paths never taken: {missed:?}"
    );
}
