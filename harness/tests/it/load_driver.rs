//! The goose load driver against the in-process no-op target: every op lands in the
//! history with sane times and outcomes, a client timeout is `unknown` (never `fail`),
//! and the open model's pacing counts late and dropped starts and corrects latencies.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stockproof_harness::adapter::Bound;
use stockproof_harness::history::{
    HistoryEntry, HistoryHeader, HistoryWriter, Op, OpKind, Outcome, read_history,
};
use stockproof_harness::latency::Latencies;
use stockproof_harness::load::noop::NoopTarget;
use stockproof_harness::load::progress::ProgressMode;
use stockproof_harness::load::recorder::LoadCounts;
use stockproof_harness::load::{LoadRecord, LoadSpec, run_load};
use stockproof_harness::plan::Plan;
use stockproof_harness::scenario::{self, Scenario};

/// A scenario of one SKU whose carts end as `mix` says and whose requests are retried
/// as `retry` says; `load` is the `[load]` table's body.
fn scenario(load: &str, mix: &str, retry: &str) -> Scenario {
    let text = format!(
        r#"
name = "driver-test"
[load]
{load}
[catalogue]
skus = [{{ id = "noop", stock = 100 }}]
[mix]
lines_per_cart = [1, 1]
qty_per_line = [1, 1]
{mix}
[reservation]
ttl = "1s"
[retry]
{retry}
"#
    );
    scenario::parse(&text, Path::new("driver-test.toml")).unwrap_or_else(|error| panic!("{error}"))
}

async fn spec(scenario: &Scenario, target: &NoopTarget) -> LoadSpec {
    let bound = Bound::contract(&target.url(), &scenario.sku_stock())
        .await
        .expect("the contract binds");
    let mut spec = LoadSpec::new(scenario, Arc::new(bound), Instant::now());
    spec.progress = ProgressMode::Off;
    spec
}

/// What a load recorded: its figures, and the entries its recorder streamed into a
/// history file, read back.
struct Recorded {
    entries: Vec<HistoryEntry>,
    counts: LoadCounts,
    latencies: Latencies,
    ended_us: u64,
}

async fn run(spec: &LoadSpec, scenario: &Scenario) -> Recorded {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.jsonl.zst");
    let header = HistoryHeader::new(&scenario.name, 1, 0, 0);
    let writer = HistoryWriter::create(&path, &header).expect("history file");
    let record: LoadRecord = run_load(spec, &Plan::new(scenario, 1), Some(writer))
        .await
        .expect("the load runs");
    let writer = record
        .history
        .expect("appended")
        .expect("the writer comes back");
    writer.finish().expect("finished");
    Recorded {
        entries: read_history(&path).expect("read back").entries,
        counts: record.counts,
        latencies: record.latencies,
        ended_us: record.ended_us,
    }
}

const CONFIRM_AND_READ: &str = "confirm = 1.0\nrelease = 0.0\nabandon = 0.0\nread_sku = 1.0";
const RELEASE: &str = "confirm = 0.0\nrelease = 1.0\nabandon = 0.0";
const ABANDON: &str = "confirm = 0.0\nrelease = 0.0\nabandon = 1.0";

// Goal: a closed-model run records every op once, with unique ids, ordered times,
// its user, and counts that match the entries.
// Method: 4 users × 5 carts of reserve → confirm → read against the no-op target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_records_every_op() {
    let target = NoopTarget::start(Duration::ZERO).await.unwrap();
    let scenario = scenario(
        "users = 4\nhatch_rate = 1000\niterations = 5",
        CONFIRM_AND_READ,
        "",
    );
    let record = run(&spec(&scenario, &target).await, &scenario).await;
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
        *per_user
            .entry(user)
            .or_default()
            .entry(entry.op.kind())
            .or_default() += 1;
    }
    assert_eq!(
        per_user.keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    for kinds in per_user.values() {
        assert_eq!(kinds[&OpKind::Reserve], 5);
        assert_eq!(kinds[&OpKind::Confirm], 5);
        assert_eq!(kinds[&OpKind::GetSku], 5);
    }
    let reserve = &record.latencies.ops[&OpKind::Reserve];
    assert_eq!(reserve.uncorrected.len(), 20);
    assert_eq!(record.counts.late_starts, 0);
    target.stop().await;
}

// Goal: the plan's keys reach the wire: user u's cart c carries the plan's key.
// Method: 2 users × 3 carts; compare every reserve's key with the plan's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserves_carry_the_plans_keys() {
    let target = NoopTarget::start(Duration::ZERO).await.unwrap();
    let scenario = scenario("users = 2\nhatch_rate = 1000\niterations = 3", RELEASE, "");
    let record = run(&spec(&scenario, &target).await, &scenario).await;
    let plan = Plan::new(&scenario, 1);
    for user in [1, 2] {
        let mut carts = plan.user(user);
        let expected: Vec<String> = (0..3)
            .map(|_| carts.next_cart().unwrap().idempotency_key)
            .collect();
        let sent: Vec<String> = record
            .entries
            .iter()
            .filter(|entry| entry.user == Some(user))
            .filter_map(|entry| match &entry.op {
                Op::Reserve { key, .. } => Some(key.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(sent, expected, "user {user}, seed 1");
    }
    target.stop().await;
}

// Goal: duplicate sends are recorded as retries of their original.
// Method: every request sent concurrently twice; each second send names the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_name_their_original() {
    let target = NoopTarget::start(Duration::ZERO).await.unwrap();
    let scenario = scenario(
        "users = 2\nhatch_rate = 1000\niterations = 3",
        RELEASE,
        "concurrent = 1.0",
    );
    let record = run(&spec(&scenario, &target).await, &scenario).await;
    assert_eq!(record.entries.len(), 2 * 3 * 4);
    let by_id: BTreeMap<u64, _> = record.entries.iter().map(|e| (e.id, e)).collect();
    let retries: Vec<_> = record
        .entries
        .iter()
        .filter(|e| e.retry_of.is_some())
        .collect();
    assert_eq!(retries.len(), 12);
    for retry in retries {
        let original = by_id[&retry.retry_of.unwrap()];
        assert_eq!(
            original.op, retry.op,
            "a duplicate re-sends the same request"
        );
        assert_eq!(original.user, retry.user);
        assert!(
            retry.invoke_us < original.complete_us,
            "sent while in flight"
        );
    }
    target.stop().await;
}

// Goal: a reply that never comes within the client timeout is `unknown`, never `fail`.
// Method: the no-op target waits 1.5 s per reply, the client gives up after 200 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_unknown_never_fail() {
    let target = NoopTarget::start(Duration::from_millis(1_500))
        .await
        .unwrap();
    let scenario = scenario(
        "users = 2\nhatch_rate = 1000\niterations = 1",
        CONFIRM_AND_READ,
        "client_timeout = \"200ms\"",
    );
    let record = run(&spec(&scenario, &target).await, &scenario).await;
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
    let scenario = scenario(
        "users = 1\nhatch_rate = 1000\nduration = \"1s\"\narrival_rate = 100",
        ABANDON,
        "",
    );
    let record = run(&spec(&scenario, &target).await, &scenario).await;
    let counts = &record.counts;
    assert!(counts.carts >= 2, "{counts:?}");
    assert!(counts.late_starts >= counts.carts - 1, "{counts:?}");
    assert!(counts.intended_starts > counts.carts, "{counts:?}");
    assert_eq!(counts.dropped_starts, counts.intended_starts - counts.carts);
    for entry in &record.entries {
        let intended = entry.intended_us.expect("open model ops have a slot");
        assert!(intended <= entry.invoke_us, "{entry:?}");
    }
    let reserve = &record.latencies.ops[&OpKind::Reserve];
    assert!(reserve.corrected.max() > reserve.uncorrected.max());
    assert!(reserve.uncorrected.min() >= 50_000 * 999 / 1_000);
    target.stop().await;
}

// Goal: scheduled restocks are sent during the load and recorded as the harness's ops.
// Method: one restock at 100 ms into a 1 s load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_restocks_are_recorded() {
    let target = NoopTarget::start(Duration::ZERO).await.unwrap();
    let mut scenario = scenario(
        "users = 1\nhatch_rate = 1000\nduration = \"1s\"",
        RELEASE,
        "",
    );
    scenario.restocks = vec![scenario::Restock {
        at: Duration::from_millis(100),
        sku: "noop".to_owned(),
        qty: 7,
    }];
    let mut spec = spec(&scenario, &target).await;
    spec.harness_op_id_first = 42;
    let record = run(&spec, &scenario).await;
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
