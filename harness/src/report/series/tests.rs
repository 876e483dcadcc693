use stockproof_engine::{CartLine, ReservationId, SkuStock};

use super::*;
use crate::checks::{Violation, Violations};
use crate::history::{HistoryHeader, Response};

/// An op from `from_ms` to `to_ms` (ms since the run start; the header's epoch is 0,
/// so reservation deadlines are on the same axis).
fn entry(
    id: u64,
    user: Option<u32>,
    from_ms: u64,
    to_ms: u64,
    outcome: Outcome,
    op: Op,
) -> HistoryEntry {
    HistoryEntry {
        id,
        user,
        op,
        intended_us: None,
        invoke_us: from_ms * 1000,
        complete_us: to_ms * 1000,
        outcome,
        status: None,
        response: None,
        retry_of: None,
    }
}

fn replied(mut entry: HistoryEntry, response: Response) -> HistoryEntry {
    entry.response = Some(response);
    entry
}

fn history(entries: Vec<HistoryEntry>) -> History {
    History::new(HistoryHeader::new("test", 1, 0, 5_000), entries)
}

fn restock(sku: &str, qty: i64) -> Op {
    Op::Restock {
        sku: sku.to_owned(),
        qty,
    }
}

fn reserve(key: &str, sku: &str, qty: i64) -> Op {
    Op::Reserve {
        key: key.to_owned(),
        items: vec![CartLine {
            sku: sku.to_owned(),
            qty,
        }],
        ttl_ms: 1_000,
    }
}

fn held(id: &str, deadline_ms: i64) -> Response {
    Response {
        reservation: Some(ReservationId(id.to_owned())),
        state: Some(ReservationState::Held),
        deadline_ms: Some(deadline_ms),
        ..Response::default()
    }
}

fn confirm(id: &str) -> Op {
    Op::Confirm {
        reservation: ReservationId(id.to_owned()),
    }
}

fn levels(available: i64, reserved: i64, sold: i64) -> StockLevels {
    StockLevels {
        available,
        reserved,
        sold,
    }
}

/// The sampled levels at the first sample at or after `at_s`.
fn at(series: &SkuStockSeries, at_s: f64) -> StockLevels {
    series
        .samples
        .iter()
        .find(|(sample_s, _)| *sample_s >= at_s)
        .map(|(_, levels)| *levels)
        .expect("a sample that late")
}

// Goal: buckets stay one second wide until a run would have more than
// SERIES_POINTS_MAX points, and never make more than that.
// Method: one line per run length: seconds → (width, count).
#[test]
fn buckets_widen_past_the_points_bound() {
    let case = |seconds, width_s, count| {
        assert_eq!(
            Buckets::over(seconds),
            Buckets { width_s, count },
            "{seconds} s"
        );
    };
    case(0, 1, 0);
    case(1, 1, 1);
    case(SERIES_POINTS_MAX, 1, SERIES_POINTS_MAX);
    case(SERIES_POINTS_MAX + 1, 2, SERIES_POINTS_MAX / 2 + 1);
    case(3_600, 9, 400);
    case(86_400, 216, 400);
    assert_eq!(Buckets::over(3).middle_s(0), 0.5);
    assert_eq!(Buckets::over(3).end_s(), 3.0);
}

// Goal: latency per bucket is the p50 / p99 / max of the merged interval histograms,
// all op kinds together, and a second with no op is empty (a gap, not a zero).
// Method: two ops in second 0 (1 ms, 3 ms), none in second 1, one in second 2 (10 ms).
#[test]
fn latency_buckets_merge_the_interval_histograms() {
    let history = history(vec![
        entry(1, Some(1), 0, 1, Outcome::Ok, reserve("k1", "a", 1)),
        entry(2, Some(2), 100, 103, Outcome::Ok, confirm("r1")),
        entry(
            3,
            Some(1),
            2_000,
            2_010,
            Outcome::Fail,
            reserve("k2", "a", 1),
        ),
        entry(4, None, 0, 2_500, Outcome::Ok, restock("a", 5)),
    ]);
    let latencies = Latencies::from_history(&history);
    let buckets = Buckets::over(latencies.seconds());
    let points = latency_over_time(&latencies, buckets);
    assert_eq!(points.len(), 3);
    assert_eq!((points[0].ops, points[0].max_us / 100), (2, 30));
    assert_eq!(points[0].p50_us / 100, 10);
    assert_eq!(points[1].ops, 0);
    assert_eq!((points[2].ops, points[2].p99_us / 1000), (1, 10));
}

// Goal: outcome rates count shopper ops by the second they completed in, per second
// of a wide bucket, and leave the harness's own ops and faults out.
// Method: ok, fail, unknown ops in seconds 0 and 1, a harness restock and a fault;
// once with 1-second buckets, once with 2-second ones.
#[test]
fn outcome_rates_count_shopper_ops_per_second() {
    let history = history(vec![
        entry(1, Some(1), 0, 10, Outcome::Ok, reserve("k1", "a", 1)),
        entry(2, Some(1), 20, 30, Outcome::Fail, reserve("k2", "a", 1)),
        entry(
            3,
            Some(2),
            1_000,
            1_500,
            Outcome::Unknown,
            reserve("k3", "a", 1),
        ),
        entry(4, Some(2), 1_600, 1_700, Outcome::Ok, confirm("r1")),
        entry(5, None, 0, 5, Outcome::Ok, restock("a", 5)),
        entry(
            6,
            None,
            0,
            900,
            Outcome::Ok,
            Op::Fault {
                description: "pause".to_owned(),
            },
        ),
    ]);
    let rates = outcomes_over_time(
        &history,
        Buckets {
            width_s: 1,
            count: 2,
        },
    );
    let ok_refused_unknown = |r: &OutcomeRates| (r.ok_per_s, r.refused_per_s, r.unknown_per_s);
    assert_eq!(ok_refused_unknown(&rates[0]), (1.0, 1.0, 0.0));
    assert_eq!(ok_refused_unknown(&rates[1]), (1.0, 0.0, 1.0));
    let wide = outcomes_over_time(
        &history,
        Buckets {
            width_s: 2,
            count: 1,
        },
    );
    assert_eq!(ok_refused_unknown(&wide[0]), (1.0, 0.5, 0.5));
}

// Goal: the stock lines follow the acknowledged ops: a restock adds, a reserve holds,
// its confirm sells, a hold never ended returns at its deadline, a replayed reserve
// and unknown or refused ops change nothing; reads are kept beside the lines.
// Method: restock 10, r1 holds 2 (confirmed at 2 s, replayed at 2.5 s), r2 holds 3
// with a 3 s deadline, an unknown reserve, a refusal carrying available, and a read
// at 4 s, after the 3.5 s drawn (like the final reads after quiesce).
#[test]
fn stock_lines_follow_the_acknowledged_ops() {
    let refusal = Response {
        error: Some("insufficient_stock".to_owned()),
        sku: Some("a".to_owned()),
        available: Some(4),
        ..Response::default()
    };
    let read = Response {
        stock: Some(SkuStock {
            available: 8,
            reserved: 0,
            sold: 2,
            total: 10,
        }),
        ..Response::default()
    };
    let history = history(vec![
        entry(1, None, 0, 0, Outcome::Ok, restock("a", 10)),
        replied(
            entry(2, Some(1), 900, 1_000, Outcome::Ok, reserve("k1", "a", 2)),
            held("r1", 9_000),
        ),
        replied(
            entry(3, Some(2), 1_400, 1_500, Outcome::Ok, reserve("k2", "a", 3)),
            held("r2", 3_000),
        ),
        entry(
            4,
            Some(3),
            1_400,
            1_600,
            Outcome::Unknown,
            reserve("k3", "a", 4),
        ),
        replied(
            entry(
                5,
                Some(4),
                1_700,
                1_800,
                Outcome::Fail,
                reserve("k4", "a", 9),
            ),
            refusal,
        ),
        entry(6, Some(1), 1_900, 2_000, Outcome::Ok, confirm("r1")),
        replied(
            entry(7, Some(1), 2_400, 2_500, Outcome::Ok, reserve("k1", "a", 2)),
            held("r1", 9_000),
        ),
        replied(
            entry(
                8,
                None,
                3_900,
                4_000,
                Outcome::Ok,
                Op::GetSku {
                    sku: "a".to_owned(),
                },
            ),
            read,
        ),
    ]);
    let series = stock_over_time(&history, 3_500_000);
    assert_eq!(series.len(), 1);
    let a = &series[0];
    assert_eq!((a.sku.as_str(), a.activity), ("a", 8));
    assert_eq!(at(a, 0.0), levels(10, 0, 0));
    assert_eq!(at(a, 1.0), levels(8, 2, 0));
    assert_eq!(at(a, 1.6), levels(5, 5, 0));
    assert_eq!(at(a, 2.0), levels(5, 3, 2));
    assert_eq!(at(a, 3.0), levels(8, 0, 2));
    assert_eq!(
        a.samples.last().map(|(at_s, l)| (*at_s, *l)),
        Some((3.5, levels(8, 0, 2)))
    );
    assert_eq!(a.samples.len(), SERIES_POINTS_MAX + 1);
    let reads: Vec<(StockField, i64)> = a.reads.iter().map(|r| (r.field, r.value)).collect();
    assert_eq!(
        reads,
        [(StockField::Available, 4)],
        "the read at 4 s is past the end"
    );
    assert_eq!(a.read_after_end, Some((4.0, levels(8, 0, 2))));
}

// Goal: a run with no op at all, or one instant, still gives drawable series.
// Method: an empty history; a history whose only op completes at 0.
#[test]
fn empty_and_instant_runs_give_drawable_series() {
    assert!(stock_over_time(&history(Vec::new()), 0).is_empty());
    let instant = stock_over_time(
        &history(vec![entry(1, None, 0, 0, Outcome::Ok, restock("a", 3))]),
        0,
    );
    assert_eq!(instant[0].samples, [(0.0, levels(3, 0, 0))]);
    let latencies = Latencies::from_history(&history(Vec::new()));
    assert!(latency_over_time(&latencies, Buckets::over(latencies.seconds())).is_empty());
}

// Goal: the charted SKUs are the violated ones first, then the most active, bounded.
// Method: ten SKUs of rising activity, one quiet SKU violated.
#[test]
fn chosen_skus_put_violations_first_then_activity() {
    let series: Vec<SkuStockSeries> = (0..10)
        .map(|index| SkuStockSeries {
            sku: format!("s{index}"),
            activity: index,
            samples: Vec::new(),
            reads: Vec::new(),
            reads_total: 0,
            read_after_end: None,
        })
        .collect();
    let violated = BTreeSet::from(["s1".to_owned()]);
    let chosen: Vec<&str> = chosen_skus(&series, &violated)
        .iter()
        .map(|s| s.sku.as_str())
        .collect();
    assert_eq!(chosen, ["s1", "s9", "s8", "s7", "s6", "s5"]);
    assert_eq!(chosen.len(), STOCK_CHARTS_MAX);
}

// Goal: a violation is marked when the last op it names completed, on its SKUs (its
// own and its ops' via their reservation), linked to its window when one is shown.
// Method: a failed check whose violation names the confirm of r1 (SKU a only through
// the reservation); a second violation naming no op gets no mark.
#[test]
fn violation_marks_find_time_skus_and_window() {
    let history = history(vec![
        replied(
            entry(1, Some(1), 0, 100, Outcome::Ok, reserve("k1", "a", 2)),
            held("r1", 9_000),
        ),
        entry(2, Some(1), 200, 1_250, Outcome::Ok, confirm("r1")),
    ]);
    let mut violations = Violations::default();
    for ops in [vec![2], Vec::new()] {
        violations.push(Violation {
            kind: "test".to_owned(),
            sku: None,
            reservation: Some("r1".to_owned()),
            ops,
            reason: "a reason".to_owned(),
            severity: 1,
        });
    }
    let check = CheckReport::finish(
        CheckId::C4,
        1,
        "ops",
        Default::default(),
        Vec::new(),
        violations,
    );
    let marks = violation_marks(&[check], &history);
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!(
        (marks[0].at_s, marks[0].check, marks[0].window),
        (1.25, CheckId::C4, Some(0))
    );
    assert_eq!(marks[0].skus, BTreeSet::from(["a".to_owned()]));
}

// Goal: thinning keeps the first and last items and spaces the rest evenly.
// Method: one line per case.
#[test]
fn thin_keeps_both_ends() {
    let items: Vec<u32> = (0..10).collect();
    assert_eq!(thin(&items, 4), [0, 3, 6, 9]);
    assert_eq!(thin(&items, 10), items);
    assert_eq!(thin(&items, 20), items);
    assert_eq!(thin(&items, 1), [0]);
    assert_eq!(thin::<u32>(&[], 3), Vec::<u32>::new());
}
