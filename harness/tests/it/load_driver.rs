//! The goose load driver against the in-process no-op target: every op lands in the
//! history with sane times and outcomes, a client timeout is `unknown` (never `fail`),
//! and the open model's pacing counts late and dropped starts and corrects latencies.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stockproof_engine::CartLine;
use stockproof_harness::history::{Op, OpKind, Outcome};
use stockproof_harness::load::cart::{CartEnd, CartPlan, CartSource, SendMode};
use stockproof_harness::load::noop::NoopTarget;
use stockproof_harness::load::progress::ProgressMode;
use stockproof_harness::load::{LoadRecord, LoadSpec, LoadStop, ScheduledRestock, run_load};

/// Carts that reserve one unit and end as `end`, sending each request as `send`.
#[derive(Debug)]
struct FixedCarts {
    end: CartEnd,
    send: SendMode,
    read_sku: bool,
}

impl CartSource for FixedCarts {
    fn cart(&self, user: u32, iteration: u64) -> CartPlan {
        CartPlan {
            key: format!("u{user}-c{iteration}"),
            items: vec![CartLine {
                sku: "noop".to_owned(),
                qty: 1,
            }],
            ttl_ms: 1_000,
            reserve_send: self.send,
            retry_after_retention: false,
            hold: Duration::ZERO,
            end: self.end,
            end_send: self.send,
            read_sku: self.read_sku.then(|| "noop".to_owned()),
        }
    }
}

fn spec(target_url: String, users: u32, stop: LoadStop) -> LoadSpec {
    LoadSpec {
        target_url,
        users,
        hatch_rate_per_s: 1_000.0,
        stop,
        arrival_rate_per_s: None,
        client_timeout: Duration::from_secs(2),
        forced_timeout: Duration::from_millis(1),
        idempotency_retention: Duration::from_secs(60),
        restocks: Vec::new(),
        progress: ProgressMode::Off,
        zero: Instant::now(),
        harness_op_id_first: 1,
    }
}

async fn run(spec: &LoadSpec, carts: FixedCarts) -> LoadRecord {
    run_load(spec, Arc::new(carts)).await.expect("the load runs")
}

// Goal: a closed-model run records every op once, with unique ids, ordered times,
// its user, and counts that match the entries.
// Method: 4 users × 5 carts of reserve → confirm → read against the no-op target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_records_every_op() {
    let target = NoopTarget::start(Duration::ZERO).await.unwrap();
    let spec = spec(target.url(), 4, LoadStop::Iterations(5));
    let carts = FixedCarts {
        end: CartEnd::Confirm,
        send: SendMode::Once,
        read_sku: true,
    };
    let record = run(&spec, carts).await;
    assert_eq!(record.counts.carts, 20, "target {}", target.url());
    assert_eq!(record.entries.len(), 60);
    assert_eq!(record.counts.ops, 60);
    assert_eq!(record.counts.ok, 60);
    let ids: HashSet<u64> = record.entries.iter().map(|entry| entry.id).collect();
    assert_eq!(ids.len(), 60, "op ids are unique");
    let mut per_user: BTreeMap<u32, BTreeMap<OpKind, u32>> = BTreeMap::new();
    for entry in &record.entries {
        assert!(entry.invoke_us <= entry.complete_us, "{entry:?}");
        assert!(entry.complete_us <= record.ended_us, "{entry:?}");
        assert_eq!(entry.outcome, Outcome::Ok);
        assert_eq!(entry.intended_us, None, "closed model has no slots");
        let user = entry.user.expect("shopper ops name their user");
        *per_user.entry(user).or_default().entry(entry.op.kind()).or_default() += 1;
    }
    assert_eq!(per_user.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    for kinds in per_user.values() {
        assert_eq!(kinds[&OpKind::Reserve], 5);
        assert_eq!(kinds[&OpKind::Confirm], 5);
        assert_eq!(kinds[&OpKind::GetSku], 5);
    }
    let reserve = record.latencies.kind(OpKind::Reserve).unwrap();
    assert_eq!(reserve.uncorrected.len(), 20);
    assert_eq!(record.counts.late_starts, 0);
    target.stop().await;
}

// Goal: duplicate sends are recorded as retries of their original.
// Method: every request sent concurrently twice; each second send names the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_name_their_original() {
    let target = NoopTarget::start(Duration::ZERO).await.unwrap();
    let spec = spec(target.url(), 2, LoadStop::Iterations(3));
    let carts = FixedCarts {
        end: CartEnd::Release,
        send: SendMode::Concurrent,
        read_sku: false,
    };
    let record = run(&spec, carts).await;
    assert_eq!(record.entries.len(), 2 * 3 * 4);
    let by_id: BTreeMap<u64, _> = record.entries.iter().map(|e| (e.id, e)).collect();
    let retries: Vec<_> = record.entries.iter().filter(|e| e.retry_of.is_some()).collect();
    assert_eq!(retries.len(), 12);
    for retry in retries {
        let original = by_id[&retry.retry_of.unwrap()];
        assert_eq!(original.op, retry.op, "a duplicate re-sends the same request");
        assert_eq!(original.user, retry.user);
    }
    target.stop().await;
}

// Goal: a reply that never comes within the client timeout is `unknown`, never `fail`.
// Method: the no-op target waits 1.5 s per reply, the client gives up after 200 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_unknown_never_fail() {
    let target = NoopTarget::start(Duration::from_millis(1_500)).await.unwrap();
    let mut spec = spec(target.url(), 2, LoadStop::Iterations(1));
    spec.client_timeout = Duration::from_millis(200);
    let carts = FixedCarts {
        end: CartEnd::Confirm,
        send: SendMode::Once,
        read_sku: true,
    };
    let record = run(&spec, carts).await;
    // No reserve reply means no reservation id, so no confirm; the read still goes.
    assert_eq!(record.entries.len(), 4, "target {}", target.url());
    for entry in &record.entries {
        assert_eq!(entry.outcome, Outcome::Unknown, "{entry:?}");
        assert_eq!(entry.status, None);
        assert!(
            entry.complete_us - entry.invoke_us >= 200_000,
            "the client waited its timeout: {entry:?}"
        );
    }
    assert_eq!(record.counts.unknown, 4);
    assert_eq!(record.counts.fail, 0);
    target.stop().await;
}

// Goal: in the open model a cart that cannot start on its slot is counted late, its ops
// are timed from the slot (corrected ≥ uncorrected), and slots never started are dropped.
// Method: 1 user offered 100 carts/s for 1 s against a target that takes 50 ms a reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_counts_late_and_dropped_starts() {
    let target = NoopTarget::start(Duration::from_millis(50)).await.unwrap();
    let mut spec = spec(target.url(), 1, LoadStop::Duration(Duration::from_secs(1)));
    spec.arrival_rate_per_s = Some(100.0);
    let carts = FixedCarts {
        end: CartEnd::Abandon,
        send: SendMode::Once,
        read_sku: false,
    };
    let record = run(&spec, carts).await;
    let counts = &record.counts;
    assert!(counts.carts >= 2, "{counts:?}");
    assert!(counts.late_starts >= counts.carts - 1, "{counts:?}");
    assert!(counts.intended_starts > counts.carts, "{counts:?}");
    assert_eq!(counts.dropped_starts, counts.intended_starts - counts.carts);
    for entry in &record.entries {
        let intended = entry.intended_us.expect("open model ops have a slot");
        assert!(intended <= entry.invoke_us, "{entry:?}");
    }
    let reserve = record.latencies.kind(OpKind::Reserve).unwrap();
    assert!(reserve.corrected.max() > reserve.uncorrected.max());
    assert!(reserve.uncorrected.min() >= 50_000 * 999 / 1_000);
    target.stop().await;
}

// Goal: scheduled restocks are sent during the load and recorded as the harness's ops.
// Method: one restock at 100 ms into a 1 s load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_restocks_are_recorded() {
    let target = NoopTarget::start(Duration::ZERO).await.unwrap();
    let mut spec = spec(target.url(), 1, LoadStop::Duration(Duration::from_secs(1)));
    spec.restocks = vec![ScheduledRestock {
        at: Duration::from_millis(100),
        sku: "noop".to_owned(),
        qty: 7,
    }];
    spec.harness_op_id_first = 42;
    let carts = FixedCarts {
        end: CartEnd::Confirm,
        send: SendMode::Once,
        read_sku: false,
    };
    let record = run(&spec, carts).await;
    let restocks: Vec<_> = record
        .entries
        .iter()
        .filter(|entry| matches!(entry.op, Op::Restock { .. }))
        .collect();
    assert_eq!(restocks.len(), 1, "target {}", target.url());
    assert_eq!(restocks[0].id, 42);
    assert_eq!(restocks[0].user, None);
    assert_eq!(restocks[0].outcome, Outcome::Ok);
    assert!(record.counts.carts > 1);
    target.stop().await;
}
