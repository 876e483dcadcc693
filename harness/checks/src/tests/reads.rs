//! C7 (reads within bounds) and C8 (no undersell) over hand-written histories, one
//! rule per test: the broken histories each checker must flag, and the concurrent,
//! uncertain and expiring ones it must not. `CONFIG`: grace 500 ms, skew 0.

use super::*;

/// 5 units of `a`; r1 takes 2 (acknowledged at 11 ms, deadline 1010 ms).
const HELD: &str = "
    1 - 0 1 ok restock a 5
    2 1 10 11 ok reserve k1 a:2 ttl=1000 -> id=r1 state=held deadline=1010
";

fn with(lines: &str) -> String {
    format!("{HELD}\n{lines}")
}

// Goal: C7 flags a stale read, one showing units surely taken before it was sent.
// Method: a read after r1's acknowledgement still shows all 5 available.
#[test]
fn c7_fails_on_a_stale_read() {
    let report = expect(
        CheckId::C7,
        &with("3 2 20 21 ok get_sku a -> stock=5/0/0/5"),
        None,
        Verdict::Fail,
        "op 3 read available 5 for a at 20.000-21.000 ms, outside what the history allows: [lower, observed, upper] = [3, 5, 3]; the last changes surely made before it: ops 2",
    );
    assert!(
        report.bounds.contains(&Bound {
            subject: "op 3 a available".to_owned(),
            lower: 3,
            observed: Some(5),
            upper: 3
        }),
        "{report:#?}"
    );
}

// Goal: C7 flags a value no history allows: units sold with no confirm ever sent.
// Method: r1 held, never confirmed; a read shows 1 sold and 1 reserved.
#[test]
fn c7_fails_on_a_value_no_history_allows() {
    expect(
        CheckId::C7,
        &with("3 2 20 21 ok get_sku a -> stock=3/1/1/5"),
        None,
        Verdict::Fail,
        "op 3 read sold 1 for a at 20.000-21.000 ms, outside what the history allows: [lower, observed, upper] = [0, 1, 0]",
    );
}

// Goal: C7 flags a hidden extra hold (a replay that takes again) lowering available.
// Method: r1 replayed under one id, then confirmed; the read shows 2 more units gone.
#[test]
fn c7_fails_on_a_hidden_hold() {
    expect(
        CheckId::C7,
        &with(
            "
            3 1 12 13 ok reserve k1 a:2 ttl=1000 -> id=r1 state=held deadline=1010 retry=2
            4 1 20 21 ok confirm r1
            5 2 30 31 ok get_sku a -> stock=1/2/2/5
        ",
        ),
        None,
        Verdict::Fail,
        "op 5 read available 1 for a at 30.000-31.000 ms, outside what the history allows: [lower, observed, upper] = [3, 1, 3]",
    );
}

// Goal: C7 flags a reservation still held after deadline + grace, though nothing
// could have ended it otherwise, and a SKU read that still counts its units.
// Method: r1 (deadline 1010) read at 1600 ms as held, and the SKU as 3/2/0/5.
#[test]
fn c7_fails_on_a_hold_past_its_expiry() {
    expect(
        CheckId::C7,
        &with("3 2 1600 1601 ok get_sku a -> stock=3/2/0/5"),
        None,
        Verdict::Fail,
        "op 3 read available 3 for a at 1600.000-1601.000 ms, outside what the history allows: [lower, observed, upper] = [5, 3, 5]",
    );
    expect(
        CheckId::C7,
        &with("3 2 1600 1601 ok get_reservation r1 -> id=r1 state=held deadline=1010"),
        None,
        Verdict::Fail,
        "its deadline, the grace and the clock skew had passed with no confirm or release sent",
    );
}

// Goal: a fault stops the expiry grace's clock (no sweeper can reach a restarted
// store), so the reads C7 flags past deadline + grace pass when a fault covered the
// deadline, and fail again once the grace has run outside it; C4 agrees. (The
// pg-row-lock C7 failure under `postgres-restart` of issue 14: holds due during a
// 1.5 s restart read as still held 80 ms after it.)
// Method: r1 (deadline 1010) with a fault from 900 to 1500 ms: the grace (500 ms)
// runs from 1500 to 2000 ms.
#[test]
fn c7_stops_the_grace_during_a_fault() {
    let fault = "9 - 900 1500 ok fault postgres restart";
    for read in [
        "3 2 1600 1601 ok get_sku a -> stock=3/2/0/5",
        "3 2 1600 1601 ok get_reservation r1 -> id=r1 state=held deadline=1010",
    ] {
        for check in [CheckId::C4, CheckId::C7] {
            expect(
                check,
                &with(&format!("{fault}\n{read}")),
                None,
                Verdict::Pass,
                "",
            );
        }
    }
    expect(
        CheckId::C7,
        &with(&format!(
            "{fault}\n3 2 2050 2051 ok get_sku a -> stock=3/2/0/5"
        )),
        None,
        Verdict::Fail,
        "op 3 read available 3 for a at 2050.000-2051.000 ms",
    );
}

// Goal: C7 flags reservation reads naming a state the reservation could not be in.
// Method: one history per rule: held after an acknowledged confirm, confirmed with no
// confirm sent, released with no release sent, expired before its deadline.
#[test]
fn c7_fails_on_impossible_reservation_states() {
    let cases = [
        (
            "3 1 20 21 ok confirm r1\n4 1 30 31 ok get_reservation r1 -> id=r1 state=held",
            "op 4 read reservation r1 as held at 30.000-31.000 ms, a state it could not be in then: op 3's confirm was acknowledged before it was sent",
        ),
        (
            "3 1 20 21 ok get_reservation r1 -> id=r1 state=confirmed",
            "op 3 read reservation r1 as confirmed at 20.000-21.000 ms, a state it could not be in then: no confirm was sent before it completed",
        ),
        (
            "3 1 20 21 ok get_reservation r1 -> id=r1 state=released\n4 1 30 31 ok release r1",
            "no release was sent before it completed",
        ),
        (
            "3 1 20 21 ok get_reservation r1 -> id=r1 state=expired",
            "its deadline less the clock skew had not come",
        ),
        (
            "3 1 20 21 ok release r1\n4 2 22 23 unknown confirm r1\n5 1 30 31 ok get_reservation r1 -> id=r1 state=confirmed",
            "op 3's release was acknowledged before it was sent",
        ),
    ];
    for (lines, reason) in cases {
        expect(CheckId::C7, &with(lines), None, Verdict::Fail, reason);
    }
}

// Goal: C7 never flags a read that a concurrent take, an unknown outcome, an expiry
// window or an overlapping release explains.
// Method: each read's value is one of the two the history allows.
#[test]
fn c7_passes_reads_that_uncertainty_explains() {
    let cases = [
        // A reserve in flight while the read runs: before or after it.
        "3 2 20 40 ok reserve k2 a:1 ttl=1000 -> id=r2 state=held deadline=1040
         4 3 25 26 ok get_sku a -> stock=3/2/0/5",
        "3 2 20 40 ok reserve k2 a:1 ttl=1000 -> id=r2 state=held deadline=1040
         4 3 25 26 ok get_sku a -> stock=2/3/0/5",
        // A reserve whose reply was lost: held or not, until TTL + grace are over.
        "3 2 20 21 unknown reserve k2 a:1 ttl=100
         4 3 30 31 ok get_sku a -> stock=2/3/0/5
         5 3 40 41 ok get_sku a -> stock=3/2/0/5
         6 3 700 701 ok get_sku a -> stock=3/2/0/5",
        // A lost reply whose retry was acknowledged is one reservation, not two.
        "3 2 20 21 unknown reserve k2 a:1 ttl=1000
         4 2 22 23 ok reserve k2 a:1 ttl=1000 -> id=r2 state=held deadline=1022 retry=3
         5 3 30 31 ok get_sku a -> stock=2/3/0/5",
        // Past the deadline, before deadline + grace: expired or not yet.
        "3 3 1100 1101 ok get_sku a -> stock=3/2/0/5
         4 3 1150 1151 ok get_reservation r1 -> id=r1 state=held
         5 3 1200 1201 ok get_sku a -> stock=5/0/0/5
         6 3 1300 1301 ok get_reservation r1 -> id=r1 state=expired",
        // A release overlapping the read, and an unknown confirm: either way.
        "3 1 20 30 ok release r1
         4 3 25 26 ok get_sku a -> stock=3/2/0/5
         5 3 27 28 ok get_reservation r1 -> id=r1 state=released",
        "3 1 20 21 unknown confirm r1
         4 3 30 31 ok get_sku a -> stock=3/0/2/5
         5 3 40 41 ok get_reservation r1 -> id=r1 state=held
         6 3 2000 2001 ok get_sku a -> stock=5/0/0/5",
    ];
    for lines in cases {
        expect(CheckId::C7, &with(lines), None, Verdict::Pass, "");
    }
}

// Goal: C7 has nothing to judge without an acknowledged read: unknown, not pass.
// Method: HELD has no read.
#[test]
fn c7_is_unknown_without_reads() {
    expect(CheckId::C7, HELD, None, Verdict::Unknown, "");
}

// Goal: C8 flags a refusal while the SKU surely had the units, naming the ops that
// put them there.
// Method: r1 takes all 5 and is released; a later reserve of 1 is refused.
#[test]
fn c8_fails_on_a_refusal_while_surely_available() {
    let history = "
        1 - 0 1 ok restock a 5
        2 1 10 11 ok reserve k1 a:5 ttl=1000 -> id=r1 state=held deadline=1010
        3 1 20 21 ok release r1
        4 2 30 31 fail reserve k2 a:1 ttl=1000 -> error=insufficient_stock sku=a available=0
    ";
    let report = expect(
        CheckId::C8,
        history,
        None,
        Verdict::Fail,
        "op 4 refused 1 unit of a while at least 5 were surely available (ops 3, 1 put them there)",
    );
    assert_eq!(report.violations[0].ops, [4, 3, 1]);
    // Expiry surely returns units too, once deadline + grace have passed.
    let expired = "
        1 - 0 1 ok restock a 5
        2 1 10 11 ok reserve k1 a:5 ttl=100 -> id=r1 state=held deadline=110
        3 2 700 701 fail reserve k2 a:1 ttl=1000 -> error=insufficient_stock sku=a available=0
    ";
    expect(
        CheckId::C8,
        expired,
        None,
        Verdict::Fail,
        "op 3 refused 1 unit of a while at least 5 were surely available",
    );
}

// Goal: C8 never flags a refusal that a concurrent take, a lost reply, an uncertain
// return or another short line explains.
// Method: variations of the released-then-refused history, each legitimate.
#[test]
fn c8_passes_refusals_that_uncertainty_explains() {
    let base = "
        1 - 0 1 ok restock a 5
        1000 - 0 1 ok restock b 1
        2 1 10 11 ok reserve k1 a:5 ttl=100 -> id=r1 state=held deadline=110
    ";
    let refusal =
        "4 2 30 31 fail reserve k2 a:1 ttl=1000 -> error=insufficient_stock sku=a available=0";
    let cases = [
        // The release overlaps the refusal.
        format!("3 1 25 35 ok release r1\n{refusal}"),
        // Another take in flight may have had the units.
        format!("3 1 20 21 ok release r1\n5 3 22 40 ok reserve k3 a:5 ttl=1000 -> id=r3 state=held deadline=1022\n{refusal}"),
        // A reserve whose reply was lost may hold them.
        format!("3 1 20 21 ok release r1\n5 3 22 23 unknown reserve k3 a:5 ttl=1000\n{refusal}"),
        // The release's outcome is unknown.
        format!("3 1 20 21 unknown release r1\n{refusal}"),
        // Past the deadline but within the grace: maybe not swept yet.
        "4 2 200 201 fail reserve k2 a:1 ttl=1000 -> error=insufficient_stock sku=a available=0".to_owned(),
        // An unknown confirm could have won against expiry.
        "3 1 20 21 unknown confirm r1\n4 2 900 901 fail reserve k2 a:1 ttl=1000 -> error=insufficient_stock sku=a available=0".to_owned(),
        // Another line of the cart was short.
        "3 1 20 21 ok release r1\n4 2 30 31 fail reserve k2 a:1,b:2 ttl=1000 -> error=insufficient_stock sku=b available=1".to_owned(),
    ];
    for lines in cases {
        expect(
            CheckId::C8,
            &format!("{base}\n{lines}"),
            None,
            Verdict::Pass,
            "",
        );
    }
}

// Goal: C8 reports units left on the shelf after refusals per SKU, and is unknown when
// no reserve was answered.
// Method: 3 units, 2 held and confirmed, a refusal of 2 (legitimate: 1 left), a final
// read with that 1 unit still there.
#[test]
fn c8_reports_units_stranded_after_refusals() {
    let history = "
        1 - 0 1 ok restock a 3
        2 1 10 11 ok reserve k1 a:2 ttl=1000 -> id=r1 state=held deadline=1010
        3 2 15 16 fail reserve k2 a:2 ttl=1000 -> error=insufficient_stock sku=a available=1
        4 1 20 21 ok confirm r1
        5 - 100 101 ok get_sku a -> stock=1/0/2/3
    ";
    let report = expect(CheckId::C8, history, None, Verdict::Pass, "");
    assert_eq!(
        report.bounds,
        [Bound {
            subject: "a units_stranded_after_refusals".to_owned(),
            lower: 1,
            observed: None,
            upper: 1
        }]
    );
    assert_eq!(report.counts["units_stranded_after_refusals"], 1);
    expect(
        CheckId::C8,
        "1 - 0 1 ok restock a 3\n2 - 5 6 ok get_sku a -> stock=3/0/0/3",
        None,
        Verdict::Unknown,
        "",
    );
}

// Goal: the two coverage goals count what C7 and C8 count: shopper reads overlapping
// an op on their SKU, refusals sent after units surely came back.
// Method: one overlapping read, one quiet one, one harness read; one refusal before
// and two after a release.
#[test]
fn coverage_counts_contended_reads_and_refusals_after_return() {
    use crate::coverage::CoverageGoal;
    let history = text::history(
        "
        1 - 0 1 ok restock a 5
        2 1 10 20 ok reserve k1 a:5 ttl=1000 -> id=r1 state=held deadline=1010
        3 2 12 13 ok get_sku a -> stock=5/0/0/5
        4 2 14 15 fail reserve k2 a:1 ttl=1000 -> error=insufficient_stock sku=a available=0
        5 1 30 31 ok release r1
        6 2 40 41 ok get_sku a -> stock=5/0/0/5
        7 - 42 43 ok get_sku a -> stock=5/0/0/5
        8 3 35 45 ok reserve k3 a:5 ttl=1000 -> id=r3 state=held deadline=1035
        9 2 50 51 fail reserve k4 a:1 ttl=1000 -> error=insufficient_stock sku=a available=0
        10 4 52 53 fail reserve k5 a:1 ttl=1000 -> error=insufficient_stock sku=a available=0
    ",
    );
    let goals = [
        CoverageGoal::ReadsWhileContended { min: 2 },
        CoverageGoal::RefusalsAfterReturn { min: 2 },
    ];
    let config = CheckConfig {
        expiry_grace_ms: 500,
        clock_skew_ms: CLOCK_SKEW_MS_DEFAULT,
    };
    let observed: Vec<(String, u64, Verdict)> = examine(&history, None, None, &config, &goals)
        .coverage
        .into_iter()
        .map(|result| (result.goal, result.observed, result.verdict))
        .collect();
    assert_eq!(
        observed,
        [
            ("reads_while_contended".to_owned(), 2, Verdict::Pass),
            ("refusals_after_return".to_owned(), 2, Verdict::Pass),
        ]
    );
    let report = report(CheckId::C7, &history, None);
    assert_eq!(report.counts["reads_while_contended"], 2, "{report:#?}");
}

/// `text` with the stock of op `op`'s reply narrowed to the fields `keep` names, as a
/// service that exposes only those (its adapter declares the others absent) records it.
fn partial(text: &str, op: u64, keep: &[&str]) -> History {
    let mut history = text::history(text);
    for entry in history.entries.iter_mut().filter(|entry| entry.id == op) {
        let body = entry.response.as_mut().expect("a reply");
        let full = crate::history::StockFields::from(body.stock.take().expect("a stock"));
        body.stock_fields = Some(crate::history::StockFields {
            available: full.available.filter(|_| keep.contains(&"available")),
            reserved: full.reserved.filter(|_| keep.contains(&"reserved")),
            sold: full.sold.filter(|_| keep.contains(&"sold")),
            total: full.total.filter(|_| keep.contains(&"total")),
            on_hand: None,
        });
    }
    history
}

/// `history` with op `op`'s read also carrying `on_hand`.
fn with_on_hand(mut history: History, op: u64, on_hand: i64) -> History {
    for entry in history.entries.iter_mut().filter(|entry| entry.id == op) {
        let body = entry.response.as_mut().expect("a reply");
        let fields = body.stock_fields.as_mut().expect("a partial read");
        fields.on_hand = Some(on_hand);
    }
    history
}

// Goal: a service's on-hand figure (available + reserved, what it calls total when it
// keeps no sold) is judged as total − sold: a read still counting units a confirm
// surely took off the shelf fails C6 and C7; the right figure passes.
// Method: r1 (2 units of 5) confirmed, then a final read of 3 available, 0 reserved, on
// hand 5 (the sold units still counted) and on hand 3.
#[test]
fn on_hand_is_judged_as_total_minus_sold() {
    let text = with(
        "3 1 20 21 ok confirm r1 -> id=r1 state=confirmed\n4 - 5000 5001 ok get_sku a -> stock=3/0/2/5",
    );
    let read =
        |on_hand: i64| with_on_hand(partial(&text, 4, &["available", "reserved"]), 4, on_hand);
    for id in [CheckId::C6, CheckId::C7] {
        let stale = report(id, &read(5), None);
        assert_eq!(stale.verdict, Verdict::Fail, "{stale:#?}");
        assert!(stale.violations[0].reason.contains("on_hand"), "{stale:#?}");
        let right = report(id, &read(3), None);
        assert_eq!(right.verdict, Verdict::Pass, "{right:#?}");
    }
}

// Goal: a read carrying only some fields is judged on those: a stale `available` fails
// C7 and C6 even without `sold` or `total`; a wrong value in a field the read does not
// carry cannot fail it.
// Method: the stale read of `c7_fails_on_a_stale_read` kept to available and reserved;
// a final read showing 5 available after r1 sold 2, kept to available; then a read
// whose only wrong field (sold) is dropped.
#[test]
fn partial_reads_are_judged_on_the_fields_they_carry() {
    let stale = partial(
        &with("3 2 20 21 ok get_sku a -> stock=5/0/0/5"),
        3,
        &["available", "reserved"],
    );
    let stale_report = report(CheckId::C7, &stale, None);
    assert_eq!(stale_report.verdict, Verdict::Fail, "{stale_report:#?}");
    assert!(
        stale_report.violations[0]
            .reason
            .contains("read available 5"),
        "{stale_report:#?}"
    );

    let final_read = partial(
        &with(
            "3 1 20 21 ok confirm r1 -> id=r1 state=confirmed\n4 - 5000 5001 ok get_sku a -> stock=5/0/0/5",
        ),
        4,
        &["available"],
    );
    let final_report = report(CheckId::C6, &final_read, None);
    assert_eq!(final_report.verdict, Verdict::Fail, "{final_report:#?}");

    let wrong_sold = partial(
        &with("3 2 20 21 ok get_sku a -> stock=3/2/1/6"),
        3,
        &["available", "reserved"],
    );
    let sold_report = report(CheckId::C7, &wrong_sold, None);
    assert_eq!(sold_report.verdict, Verdict::Pass, "{sold_report:#?}");
    // What could not be judged is said, not passed over in silence.
    assert_eq!(
        sold_report.note.as_deref(),
        Some(
            "the SKU reads carry no sold, total: those fields were not judged (the service does not expose them)"
        ),
        "{sold_report:#?}"
    );
}
