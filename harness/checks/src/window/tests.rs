use super::*;
use crate::tests::text;

fn violation(sku: Option<&str>, reservation: Option<&str>, ops: &[u64]) -> Violation {
    Violation {
        kind: "test".to_owned(),
        sku: sku.map(str::to_owned),
        reservation: reservation.map(str::to_owned),
        ops: ops.to_vec(),
        reason: "a test violation".to_owned(),
        severity: 1,
    }
}

fn ids(window: &ViolationWindow<'_>) -> Vec<u64> {
    window.entries().map(|(entry, _)| entry.id).collect()
}

/// Two SKUs interleaved: ops on `a` are odd, ops on `b` even; r1 is a reservation of
/// `a` (confirmed by op 9), a fault at 45 ms.
const HISTORY: &str = "
    1 - 0 1 ok restock a 10
    2 - 0 1 ok restock b 10
    3 1 10 12 ok reserve k1 a:3 ttl=1000 -> id=r1 state=held deadline=1010
    4 2 10 12 ok reserve k2 b:3 ttl=1000 -> id=r2 state=held deadline=1010
    5 3 20 22 ok reserve k3 a:3 ttl=1000 -> id=r3 state=held deadline=1020
    6 4 20 22 ok reserve k4 b:3 ttl=1000 -> id=r4 state=held deadline=1020
    7 5 30 32 ok reserve k5 a:3 ttl=1000 -> id=r5 state=held deadline=1030
    8 6 30 32 ok reserve k6 b:3 ttl=1000 -> id=r6 state=held deadline=1030
    9 1 40 41 ok confirm r1
    10 2 40 41 ok confirm r2
    11 - 45 46 ok fault writer crash
    12 7 50 52 ok reserve k7 a:3 ttl=1000 -> id=r7 state=held deadline=1050
    13 8 50 52 ok reserve k8 b:3 ttl=1000 -> id=r8 state=held deadline=1050
    14 - 90 91 ok get_sku a -> stock=0/9/3/10
";

#[test]
fn a_window_keeps_only_the_ops_on_the_violations_sku_and_the_faults_among_them() {
    // Goal: the window is the ops touching the SKU (a confirm counts through its
    // reservation's reserve), not every op around the violation; a fault inside the
    // span is shown. Method: a violation on `a` naming op 12, the oversell.
    let history = text::history(HISTORY);
    let index = WindowIndex::new(&history);
    let window = index.window(&violation(Some("a"), None, &[12])).unwrap();
    assert_eq!(ids(&window), vec![5, 7, 9, 11, 12, 14]);
    assert_eq!(window.related, 8, "7 ops on a and the fault");
    assert_eq!(window.subject, "sku a");
    let named: Vec<u64> = window
        .entries()
        .filter(|(_, named)| *named)
        .map(|(entry, _)| entry.id)
        .collect();
    assert_eq!(named, vec![12]);
    let lines = window.lines("  ");
    assert_eq!(lines[0], "  window: ops on sku a (6 of 8 related)");
    assert!(
        lines.iter().any(|line| line.starts_with("  > 12 u7")),
        "{lines:#?}"
    );
}

#[test]
fn a_reservation_window_follows_the_reservation() {
    // Goal: a violation about a reservation shows that reservation's life.
    let history = text::history(HISTORY);
    let window = WindowIndex::new(&history)
        .window(&violation(None, Some("r2"), &[10]))
        .unwrap();
    // The fault at 45 ms falls after the reservation's last op: not shown.
    assert_eq!(ids(&window), vec![4, 10]);
    assert_eq!(window.subject, "reservation r2");
}

#[test]
fn a_drift_naming_no_op_shows_the_last_ops_on_its_sku_and_every_fault() {
    // Goal: a white-box drift (no op named) still gets a window: the tail of its SKU's
    // ops and the faults that may have caused it.
    let history = text::history(HISTORY);
    let window = WindowIndex::new(&history)
        .window(&violation(Some("b"), None, &[]))
        .unwrap();
    assert_eq!(ids(&window), vec![2, 4, 6, 8, 10, 11, 13]);
    assert!(window.entries().all(|(_, named)| !named));
}

#[test]
fn a_violation_with_nothing_to_follow_has_no_window() {
    let history = text::history(HISTORY);
    let index = WindowIndex::new(&history);
    assert_eq!(index.window(&violation(None, None, &[])), None);
    assert_eq!(index.window(&violation(None, None, &[999])), None);
}

#[test]
fn a_long_span_is_elided_in_the_middle_but_keeps_every_named_op() {
    // Goal: two named ops far apart do not print the whole history between them.
    // Method: 100 restocks of `a`, ops 2 and 99 named.
    let lines: Vec<String> = (1..=100)
        .map(|id| format!("{id} - {id} {} ok restock a 1", id + 1))
        .collect();
    let history = text::history(&lines.join("\n"));
    let window = WindowIndex::new(&history)
        .window(&violation(Some("a"), None, &[2, 50, 99]))
        .unwrap();
    assert!(
        window.rows.len() <= WINDOW_ROWS_MAX + 3,
        "{}",
        window.rows.len()
    );
    let shown = ids(&window);
    for named in [2, 50, 99] {
        assert!(shown.contains(&named), "{shown:?}");
    }
    let elided: usize = window
        .rows
        .iter()
        .map(|row| match row {
            WindowRow::Elided(count) => *count,
            WindowRow::Op { .. } => 0,
        })
        .sum();
    assert_eq!(elided + shown.len(), window.related);
}

#[test]
fn every_failed_check_shows_its_first_violation_before_any_shows_a_second() {
    // Goal: the terminal and summary.md never hide a failed check's evidence behind
    // another check's second violation, and stop adding seconds past the cap. Method:
    // five failing checks with two violations each, one passing check.
    use crate::{CheckId, CheckReport, Violations};
    let report = |id: CheckId, count: u64| {
        let mut violations = Violations::default();
        for op in 1..=count {
            violations.push(violation(Some("a"), None, &[op]));
        }
        CheckReport::finish(id, 1, "ops", Default::default(), Vec::new(), violations)
    };
    let mut checks: Vec<CheckReport> = [CheckId::C1, CheckId::C2, CheckId::C3, CheckId::C4]
        .into_iter()
        .map(|id| report(id, 2))
        .collect();
    checks.push(report(CheckId::C5, 0));
    checks.push(report(CheckId::C6, 2));
    let shown: Vec<(CheckId, u64)> = shown_violations(&checks)
        .into_iter()
        .map(|(id, violation)| (id, violation.ops[0]))
        .collect();
    let firsts = [
        CheckId::C1,
        CheckId::C2,
        CheckId::C3,
        CheckId::C4,
        CheckId::C6,
    ];
    assert_eq!(shown, firsts.map(|id| (id, 1)).to_vec());
    checks.truncate(1);
    assert_eq!(
        shown_violations(&checks).len(),
        2,
        "a lone check shows up to the cap"
    );
}
