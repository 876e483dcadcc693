mod reads;
mod stores;
pub(super) mod text;

use std::collections::BTreeMap;

use stockproof_model::ledger::{EventKind, replay};
use stockproof_model::{CartLine, Reservation, ReservationId, ReservationState};

use super::*;
use crate::history::History;

const CONFIG: CheckConfig = CheckConfig {
    expiry_grace_ms: 500,
    clock_skew_ms: 0,
};

/// A consistent snapshot of `ledger` taken at `taken_at_ms`: Redis = Postgres = replay,
/// Held reservations are those with a reserve event and no terminal one.
fn snapshot(ledger: &str, taken_at_ms: i64) -> WhiteBoxSnapshot {
    let ledger = text::ledger(ledger);
    let stocks = replay(&ledger);
    let mut reservations: BTreeMap<String, Reservation> = BTreeMap::new();
    for event in &ledger {
        if matches!(event.kind, EventKind::Restock | EventKind::Adjust) {
            continue;
        }
        let reservation = reservations
            .entry(event.reservation_id.clone())
            .or_insert_with(|| Reservation {
                id: ReservationId(event.reservation_id.clone()),
                idempotency_key: event.idempotency_key.clone(),
                state: ReservationState::Held,
                items: Vec::new(),
                deadline_ms: event.deadline_ms,
            });
        match event.kind {
            EventKind::Reserve => reservation.items.push(CartLine {
                sku: event.sku.clone(),
                qty: event.qty,
            }),
            EventKind::Confirm => reservation.state = ReservationState::Confirmed,
            EventKind::Release => reservation.state = ReservationState::Released,
            _ => reservation.state = ReservationState::Expired,
        }
    }
    WhiteBoxSnapshot {
        format_version: SNAPSHOT_FORMAT_VERSION,
        taken_at_ms,
        redis_stocks: stocks.clone(),
        postgres_stocks: stocks,
        redis_seq: ledger.iter().map(|event| event.seq).max().unwrap_or(0),
        ledger,
        reservations: reservations.into_values().collect(),
        postgres_only: false,
    }
}

/// Runs every check and returns the one asked for.
fn report(id: CheckId, history: &History, snapshot: Option<&WhiteBoxSnapshot>) -> CheckReport {
    run_checks(history, snapshot, &CONFIG)
        .into_iter()
        .find(|report| report.id == id)
        .expect("every check reports")
}

/// Asserts `id`'s verdict; on `Fail`, that some violation's reason contains `reason`.
fn expect(
    id: CheckId,
    history: &str,
    snapshot: Option<&WhiteBoxSnapshot>,
    verdict: Verdict,
    reason: &str,
) -> CheckReport {
    let history = text::history(history);
    let report = report(id, &history, snapshot);
    assert_eq!(report.verdict, verdict, "{id:?}: {report:#?}");
    if verdict == Verdict::Fail {
        assert!(
            report
                .violations
                .iter()
                .any(|violation| violation.reason.contains(reason)),
            "{id:?}: no violation says `{reason}`: {report:#?}"
        );
    }
    report
}

/// A small clean run: 2 units of `a`, one confirmed cart, one released, one refused,
/// final read after the load.
const CLEAN: &str = "
    1 - 0 1 ok restock a 2
    2 1 10 11 ok reserve k1 a:1 ttl=1000 -> id=r1 state=held deadline=1010
    3 2 10 12 ok reserve k2 a:1 ttl=1000 -> id=r2 state=held deadline=1011
    4 3 13 14 fail reserve k3 a:1 ttl=1000 -> error=insufficient_stock sku=a available=0
    5 1 20 21 ok confirm r1 -> id=r1 state=confirmed
    6 2 20 22 ok release r2 -> id=r2 state=released
    7 - 30 31 ok get_sku a -> stock=1/0/1/2
";
const CLEAN_LEDGER: &str = "
    1 restock a 2
    2 reserve a 1 r1 k1 1010 10
    3 reserve a 1 r2 k2 1011 10
    4 confirm a 1 r1 - 0 20
    5 release a 1 r2 - 0 20
";

// Goal: on a clean history and snapshot every check passes.
// Method: run all six over CLEAN with its ledger.
#[test]
fn clean_run_passes_every_check() {
    let history = text::history(CLEAN);
    let snapshot = snapshot(CLEAN_LEDGER, 40);
    for report in run_checks(&history, Some(&snapshot), &CONFIG) {
        assert_eq!(report.verdict, Verdict::Pass, "{report:#?}");
    }
}

// Goal: C1 flags a reserve granted beyond supply, naming op, SKU and reservation.
// Method: 2 units, three acknowledged holds whose deadlines have not passed.
#[test]
fn c1_fails_on_oversell() {
    let report = expect(
        CheckId::C1,
        "
        1 - 0 1 ok restock a 2
        2 1 10 11 ok reserve k1 a:1 ttl=1000 -> id=r1 state=held deadline=1010
        3 2 10 12 ok reserve k2 a:1 ttl=1000 -> id=r2 state=held deadline=1010
        4 3 10 13 ok reserve k3 a:1 ttl=1000 -> id=r3 state=held deadline=1010
    ",
        None,
        Verdict::Fail,
        "op 4 was given 1 units of a (reservation r3) while 2 of at most 2 supplied units were already held or sold",
    );
    assert_eq!(report.groups[0].count, 1);
    assert_eq!(report.violations[0].sku.as_deref(), Some("a"));
}

// Goal: C1 with unknown outcomes: an unknown restock widens supply's upper bound, an
// unknown reserve does not count as taken, released and expired units come back.
// Method: histories that would oversell if unknowns counted the other way.
#[test]
fn c1_uses_unknown_outcome_bounds() {
    expect(
        CheckId::C1,
        "
        1 - 0 1 ok restock a 2
        2 - 2 3 unknown restock a 1
        3 1 10 11 ok reserve k1 a:2 ttl=1000 -> id=r1 state=held deadline=1010
        4 2 10 12 ok reserve k2 a:1 ttl=1000 -> id=r2 state=held deadline=1010
    ",
        None,
        Verdict::Pass,
        "",
    );
    expect(
        CheckId::C1,
        "
        1 - 0 1 ok restock a 2
        2 1 10 11 unknown reserve k1 a:1 ttl=1000
        3 2 10 12 ok reserve k2 a:2 ttl=1000 -> id=r2 state=held deadline=1010
        4 2 20 21 ok release r2
        5 3 22 23 ok reserve k3 a:2 ttl=100 -> id=r3 state=held deadline=123
        6 4 200 201 ok reserve k4 a:2 ttl=100 -> id=r4 state=held deadline=301
    ",
        None,
        Verdict::Pass,
        "",
    );
    // A confirm whose outcome is unknown widens only the upper bound of units sold.
    let report = expect(
        CheckId::C1,
        "
        1 - 0 1 ok restock a 5
        2 1 10 11 ok reserve k1 a:2 ttl=1000 -> id=r1 state=held deadline=1010
        3 1 12 13 ok confirm r1
        4 2 10 12 ok reserve k2 a:1 ttl=1000 -> id=r2 state=held deadline=1010
        5 2 14 15 unknown confirm r2
    ",
        None,
        Verdict::Pass,
        "",
    );
    assert_eq!(
        report.bounds[0],
        Bound {
            subject: "a sold".to_owned(),
            lower: 2,
            observed: None,
            upper: 3
        }
    );
}

// Goal: C1 has nothing to judge without an acknowledged reservation: unknown, not pass.
// Method: a history of one refused reserve.
#[test]
fn c1_is_unknown_without_evidence() {
    expect(
        CheckId::C1,
        "
        1 - 0 1 ok restock a 0
        2 1 10 11 fail reserve k1 a:1 ttl=1000 -> error=insufficient_stock sku=a available=0
    ",
        None,
        Verdict::Unknown,
        "",
    );
}

// Goal: C2 flags drift between stores, a broken invariant, a seq gap and Held items not
// matching `reserved`; without a snapshot it is unknown.
// Method: break CLEAN's snapshot one way at a time.
#[test]
fn c2_fails_on_drift_gaps_and_held_mismatch() {
    let mut drift = snapshot(CLEAN_LEDGER, 40);
    drift.postgres_stocks.get_mut("a").expect("a").sold = 2;
    expect(
        CheckId::C2,
        CLEAN,
        Some(&drift),
        Verdict::Fail,
        "Redis has sold 1 for a, Postgres has 2",
    );
    let mut gap = snapshot(CLEAN_LEDGER, 40);
    gap.ledger.retain(|event| event.seq != 3);
    gap.redis_stocks = replay(&gap.ledger);
    gap.postgres_stocks = gap.redis_stocks.clone();
    expect(
        CheckId::C2,
        CLEAN,
        Some(&gap),
        Verdict::Fail,
        "ledger seq jumps from 2 to 4",
    );
    let mut held = snapshot(CLEAN_LEDGER, 40);
    held.reservations[0].state = ReservationState::Held;
    expect(
        CheckId::C2,
        CLEAN,
        Some(&held),
        Verdict::Fail,
        "Redis says 0 units of a are reserved, but its Held reservations hold 1",
    );
    let mut negative = snapshot(CLEAN_LEDGER, 40);
    for stocks in [&mut negative.redis_stocks, &mut negative.postgres_stocks] {
        let stock = stocks.get_mut("a").expect("a");
        stock.available = -1;
        stock.sold = 3;
    }
    expect(
        CheckId::C2,
        CLEAN,
        Some(&negative),
        Verdict::Fail,
        "`available` is negative (-1)",
    );
    expect(CheckId::C2, CLEAN, None, Verdict::Unknown, "");
}

// Goal: for a Postgres-only strategy C2 judges what it keeps — `skus` rows against
// the ledger replay and the Held items — without inventing a Redis: an empty Redis is
// no drift, a sequence gap is no violation, a row that disagrees with the replay is.
// Method: CLEAN's snapshot with Redis emptied, then a gap, a drift, a held mismatch.
#[test]
fn c2_judges_postgres_only_stores_without_redis() {
    let postgres_only = |mut snapshot: WhiteBoxSnapshot| {
        snapshot.postgres_only = true;
        snapshot.redis_stocks.clear();
        snapshot.redis_seq = 0;
        snapshot
    };
    let clean = postgres_only(snapshot(CLEAN_LEDGER, 40));
    expect(CheckId::C2, CLEAN, Some(&clean), Verdict::Pass, "");
    let mut gap = clean.clone();
    for event in &mut gap.ledger {
        event.seq *= 10;
    }
    expect(CheckId::C2, CLEAN, Some(&gap), Verdict::Pass, "");
    let mut drift = clean.clone();
    drift.postgres_stocks.get_mut("a").expect("a").sold = 2;
    expect(
        CheckId::C2,
        CLEAN,
        Some(&drift),
        Verdict::Fail,
        "Postgres has sold 2 for a, the ledger replay has 1",
    );
    let mut held = clean;
    held.reservations[0].state = ReservationState::Held;
    expect(
        CheckId::C2,
        CLEAN,
        Some(&held),
        Verdict::Fail,
        "Postgres says 0 units of a are reserved, but its Held reservations hold 1",
    );
}

// Goal: C3 flags two reservations for one key while retained, and a repeated reserve
// event in the ledger; a new reservation after the retention is legitimate.
// Method: replays of k1 naming r1, r2; the same with the retry after TTL + retention.
#[test]
fn c3_fails_on_two_reservations_for_one_key() {
    let duplicate = "
        1 - 0 1 ok restock a 5
        2 1 10 11 ok reserve k1 a:1 ttl=1000 -> id=r1 state=held deadline=1010
        3 1 20 21 ok reserve k1 a:1 ttl=1000 -> id=r2 state=held deadline=1020 retry=2
    ";
    expect(
        CheckId::C3,
        duplicate,
        None,
        Verdict::Fail,
        "op 3 was given reservation r2 for key `k1`, but op 2 was given r1",
    );
    expect(
        CheckId::C3,
        "
        1 - 0 1 ok restock a 5
        2 1 10 11 ok reserve k1 a:1 ttl=1000 -> id=r1 state=held deadline=1010
        3 1 20 21 ok reserve k1 a:1 ttl=1000 -> id=r1 state=held deadline=1010 retry=2
        4 1 7000 7001 ok reserve k1 a:1 ttl=1000 -> id=r9 state=held deadline=8001 retry=2
    ",
        None,
        Verdict::Pass,
        "",
    );
    expect(
        CheckId::C3,
        "
        1 - 0 1 ok restock a 5
        2 1 10 11 ok reserve k1 a:1 ttl=1000 -> id=r1 state=held deadline=1010
        3 1 20 21 ok reserve k1 a:2 ttl=1000 -> id=r1 state=held deadline=1010
    ",
        None,
        Verdict::Fail,
        "op 3 reserved other items with key `k1`",
    );
    let mut repeated = snapshot(CLEAN_LEDGER, 40);
    repeated
        .ledger
        .extend(text::ledger("6 reserve a 1 r1 k1 1010 21"));
    expect(
        CheckId::C3,
        CLEAN,
        Some(&repeated),
        Verdict::Fail,
        "more than one reserve event for reservation r1 and sku a",
    );
}

// Goal: where the target tells replays apart, a retained key answered as a fresh hold
// twice fails C3 even though both name the same reservation (order-number APIs, whose
// reservation is the key); a replay marked as such passes, and so does any history
// whose target cannot tell (nothing to go on).
// Method: the same two reserves of k1 (id = the key) with and without `replayed`, with
// the header's flag on and off.
#[test]
fn c3_fails_on_a_second_fresh_hold_for_a_retained_key() {
    let twice_fresh = "
        1 - 0 1 ok restock a 5
        2 1 10 11 ok reserve k1 a:1 ttl=1000 -> id=k1 state=held
        3 1 20 21 ok reserve k1 a:1 ttl=1000 -> id=k1 state=held retry=2
    ";
    let c3 = |text: &str, told_apart: bool| {
        let mut history = text::history(text);
        history.header.replays_told_apart = told_apart;
        report(CheckId::C3, &history, None)
    };
    let caught = c3(twice_fresh, true);
    assert_eq!(caught.verdict, Verdict::Fail, "{caught:#?}");
    assert!(
        caught.violations[0]
            .reason
            .contains("op 3 was answered as a fresh hold (reservation k1) for key `k1`, but op 2 already took one"),
        "{caught:#?}"
    );
    let replayed = twice_fresh.replace("state=held retry=2", "state=held replayed retry=2");
    assert_eq!(c3(&replayed, true).verdict, Verdict::Pass);
    assert_eq!(c3(twice_fresh, false).verdict, Verdict::Pass);
    let after_retention = twice_fresh.replace("3 1 20 21", "3 1 7000 7001");
    assert_eq!(c3(&after_retention, true).verdict, Verdict::Pass);
}

// Goal: C4 flags a confirm that was acknowledged but later reported expired, a
// reservation held past deadline + grace, and items of one cart ending differently.
// Method: hand-written histories and a ledger with mixed terminal events.
#[test]
fn c4_fails_on_lost_confirm_and_late_hold() {
    expect(
        CheckId::C4,
        "
        1 - 0 1 ok restock a 5
        2 1 10 11 ok reserve k1 a:1 ttl=100 -> id=r1 state=held deadline=110
        3 1 100 101 ok confirm r1
        4 - 300 301 ok get_reservation r1 -> id=r1 state=expired deadline=110
    ",
        None,
        Verdict::Fail,
        "op 3 was told reservation r1 is confirmed, op 4 that it is expired",
    );
    expect(
        CheckId::C4,
        "
        1 - 0 1 ok restock a 5
        2 1 10 11 ok reserve k1 a:1 ttl=100 -> id=r1 state=held deadline=110
        3 - 2000 2001 ok get_reservation r1 -> id=r1 state=held deadline=110
    ",
        None,
        Verdict::Fail,
        "op 3 found reservation r1 still held 1890 ms after its deadline",
    );
    let mixed = "
        1 restock a 5
        2 restock b 5
        3 reserve a 1 r1 k1 110 10
        4 reserve b 1 r1 k1 110 10
        5 confirm a 1 r1 - 0 20
        6 expire b 1 r1 - 0 120
    ";
    let history = "
        1 - 0 1 ok restock a 5
        2 - 0 1 ok restock b 5
        3 1 10 11 ok reserve k1 a:1,b:1 ttl=100 -> id=r1 state=held deadline=110
    ";
    expect(
        CheckId::C4,
        history,
        Some(&snapshot(mixed, 300)),
        Verdict::Fail,
        "the items of reservation r1 ended in different states in the ledger: confirm, expire",
    );
    expect(
        CheckId::C4,
        CLEAN,
        Some(&snapshot(CLEAN_LEDGER, 40)),
        Verdict::Pass,
        "",
    );
}

// Goal: C5 flags an acknowledged confirm missing from the ledger and a ledger event no
// op explains; an unknown reserve explains its events.
// Method: drop CLEAN's confirm event; add a release nobody sent; trace an unknown reserve.
#[test]
fn c5_fails_on_lost_and_phantom_effects() {
    let lost = snapshot(&CLEAN_LEDGER.replace("4 confirm a 1 r1 - 0 20", ""), 40);
    expect(
        CheckId::C5,
        CLEAN,
        Some(&lost),
        Verdict::Fail,
        "op 5's confirm of reservation r1 was acknowledged, but the ledger records 0 of its 1 units of a",
    );
    let phantom = snapshot(&format!("{CLEAN_LEDGER}\n6 release a 1 r1 - 0 25"), 40);
    expect(
        CheckId::C5,
        CLEAN,
        Some(&phantom),
        Verdict::Fail,
        "ledger event 6 (release of 1 units of a for reservation r1) traces to no op",
    );
    let extra_restock = snapshot(&format!("{CLEAN_LEDGER}\n6 restock a 2"), 40);
    expect(
        CheckId::C5,
        CLEAN,
        Some(&extra_restock),
        Verdict::Fail,
        "the ledger records 2 restocks of 2 units of a, but at most 1 were sent",
    );
    let unknown = "
        1 - 0 1 ok restock a 5
        2 1 10 11 unknown reserve k1 a:2 ttl=100
    ";
    let ledger = "
        1 restock a 5
        2 reserve a 2 r1 k1 110 10
        3 expire a 2 r1 - 0 120
    ";
    expect(
        CheckId::C5,
        unknown,
        Some(&snapshot(ledger, 300)),
        Verdict::Pass,
        "",
    );
    expect(CheckId::C5, CLEAN, None, Verdict::Unknown, "");
}

// Goal: C6 flags stranded and oversold units in the final read; unknown outcomes widen
// its bounds.
// Method: CLEAN with a wrong final read; a run with an unknown confirm.
#[test]
fn c6_fails_on_stranded_units() {
    let stranded = CLEAN.replace("stock=1/0/1/2", "stock=0/0/1/2");
    expect(
        CheckId::C6,
        &stranded,
        None,
        Verdict::Fail,
        "op 7 read 0 available for a after the load, but the history implies at least 1",
    );
    let oversold = CLEAN.replace("stock=1/0/1/2", "stock=0/0/2/2");
    expect(
        CheckId::C6,
        &oversold,
        None,
        Verdict::Fail,
        "op 7 read 2 sold for a after the load, but the history implies at most 1",
    );
    let widened = "
        1 - 0 1 ok restock a 2
        2 1 10 11 ok reserve k1 a:1 ttl=1000 -> id=r1 state=held deadline=1010
        3 1 20 21 unknown confirm r1
        4 - 3000 3001 ok get_sku a -> stock=1/0/1/2
    ";
    let report = expect(CheckId::C6, widened, None, Verdict::Pass, "");
    assert!(
        report.bounds.contains(&Bound {
            subject: "a sold".to_owned(),
            lower: 0,
            observed: Some(1),
            upper: 1
        }),
        "{report:#?}"
    );
    expect(
        CheckId::C6,
        &CLEAN.replace("7 - 30 31 ok get_sku a -> stock=1/0/1/2", ""),
        None,
        Verdict::Unknown,
        "",
    );
}

// Goal: where the target ignores the TTL sent (its adapter lacks `ttl`), a hold whose
// reply was lost may still be there at the end: C6 and C7 allow it; where it honours
// the TTL, the same read is a phantom hold.
// Method: one unknown reserve of 2 units, read as still reserved long after its TTL.
#[test]
fn a_lost_hold_may_outlast_its_ttl_where_the_target_ignores_ttls() {
    let text = "
        1 - 0 1 ok restock a 5
        2 1 10 11 unknown reserve k1 a:2 ttl=1000
        3 - 9000 9001 ok get_sku a -> stock=3/2/0/5
    ";
    let judged = |ttl_ignored: bool| {
        let mut history = text::history(text);
        history.header.ttl_ignored = ttl_ignored;
        let reports = run_checks(&history, None, &CONFIG);
        [CheckId::C6, CheckId::C7].map(|id| {
            let report = reports.iter().find(|report| report.id == id);
            report.expect("every check reports").verdict
        })
    };
    assert_eq!(judged(false), [Verdict::Fail, Verdict::Fail]);
    assert_eq!(judged(true), [Verdict::Pass, Verdict::Pass]);
}

// Goal: a checker that panics reports unknown, never pass.
// Method: run a panicking closure through run_guarded.
#[test]
fn panicking_checker_reports_unknown() {
    let report = run_guarded(CheckId::C4, || panic!("index out of range"));
    assert_eq!(report.verdict, Verdict::Unknown);
    assert!(
        report
            .note
            .as_deref()
            .is_some_and(|note| note.contains("index out of range")),
        "{report:?}"
    );
}

// Goal: the overall verdict maps to the documented exit codes, worst first.
// Method: combine check, SLO and coverage verdicts.
#[test]
fn verdicts_map_to_exit_codes() {
    let check = |verdict| CheckReport {
        verdict,
        ..CheckReport::unknown(CheckId::C1, "")
    };
    let slo = |verdict| slo::SloResult {
        slo: "x".to_owned(),
        observed: None,
        threshold: 0.0,
        unit: "us".to_owned(),
        verdict,
        note: None,
    };
    let goal = |verdict| coverage::CoverageResult {
        goal: "g".to_owned(),
        description: String::new(),
        min: 1,
        observed: 0,
        verdict,
    };
    let run = |checks: Verdict, slos: Verdict, goals: Verdict| {
        RunVerdict {
            checks: vec![check(checks)],
            slos: vec![slo(slos)],
            coverage: vec![goal(goals)],
            cut_short: None,
        }
        .exit_code()
    };
    assert_eq!(run(Verdict::Pass, Verdict::Pass, Verdict::Pass), 0);
    assert_eq!(run(Verdict::Fail, Verdict::Fail, Verdict::Unknown), 1);
    assert_eq!(run(Verdict::Pass, Verdict::Fail, Verdict::Unknown), 3);
    assert_eq!(run(Verdict::Pass, Verdict::Pass, Verdict::Unknown), 5);
    assert_eq!(run(Verdict::Unknown, Verdict::Pass, Verdict::Pass), 5);
}

// Goal: each coverage goal counts what it names, and an unmet goal is unknown.
// Method: one history with one instance of each event.
#[test]
fn coverage_goals_count_their_events() {
    use crate::coverage::CoverageGoal;
    use std::time::Duration;
    let history = text::history(
        "
        1 - 0 1 ok restock a 2
        2 1 10 20 ok reserve k1 a:1,a:1 ttl=100 -> id=r1 state=held deadline=110
        3 1 15 25 ok reserve k1 a:1,a:1 ttl=100 -> id=r1 state=held deadline=110 retry=2
        4 2 30 40 unknown reserve k2 a:1 ttl=100
        5 2 50 60 fail reserve k2 a:1 ttl=100 -> error=insufficient_stock sku=a available=0 retry=4
        6 1 100 105 ok confirm r1
        7 2 6000 6001 ok reserve k2 a:1 ttl=100 -> id=r2 state=held deadline=6101 retry=4
    ",
    );
    let goals = [
        CoverageGoal::StockReachedZero { min: 1 },
        CoverageGoal::DuplicateOverlapped { min: 1 },
        CoverageGoal::ConfirmNearDeadline {
            within: Duration::from_millis(10),
            min: 1,
        },
        CoverageGoal::RetryAfterUnknown { min: 2 },
        CoverageGoal::RetryAfterRetention { min: 1 },
        CoverageGoal::RepeatedSkuLine { min: 3 },
    ];
    let results = examine(&history, None, None, &CheckConfig::default(), &goals).coverage;
    let observed: Vec<(&str, u64, Verdict)> = results
        .iter()
        .map(|result| (result.goal.as_str(), result.observed, result.verdict))
        .collect();
    assert_eq!(
        observed,
        [
            ("stock_reached_zero", 1, Verdict::Pass),
            ("duplicate_overlapped", 1, Verdict::Pass),
            ("confirm_near_deadline", 1, Verdict::Pass),
            ("retry_after_unknown", 2, Verdict::Pass),
            ("retry_after_retention", 1, Verdict::Pass),
            ("repeated_sku_line", 2, Verdict::Unknown),
        ]
    );
}

// Goal: SLOs pass, fail, or are unknown when their operation never ran.
// Method: latencies from a small history, three SLOs.
#[test]
fn slos_are_evaluated_from_histograms() {
    let history = text::history(CLEAN);
    let latencies = crate::latency::Latencies::from_history(&history);
    let slos: Vec<crate::slo::Slo> = [
        "reserve.p99 <= 2ms",
        "confirm.max < 1ms",
        "release.p50 < 5ms",
        "adjust.p50 < 1ms",
        "error_rate <= 0%",
    ]
    .iter()
    .map(|text| text.parse().expect("slo"))
    .collect();
    let verdicts: Vec<Verdict> = slo::evaluate(&slos, &latencies)
        .iter()
        .map(|result| result.verdict)
        .collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Pass,
            Verdict::Fail,
            Verdict::Pass,
            Verdict::Unknown,
            Verdict::Pass
        ]
    );
}
