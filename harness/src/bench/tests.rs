use stockproof_engine::{CartLine, ReservationId, ReservationState};

use super::synthetic::BENCH_STOCK_PER_SKU;
use super::*;
use crate::checks::{CheckId, Verdict};
use crate::history::{HistoryEntry, Op, Outcome, Response};

// Goal: the bench's synthetic history is one a correct engine produces, so every check
// passes on it, with unknown outcomes, concurrent reads and refusals after returns among
// its ops; and the bench reports a rate.
// Method: generate 20,000 ops over 10 SKUs (seed 11), so stock runs out, check them; no
// assertion on time.
#[test]
fn small_bench_history_passes_every_check() {
    let (history, snapshot) = synthetic_over(20_000, 10, 11, Reads::DuringLoad);
    let report = judge(&history, &snapshot, Duration::ZERO);
    assert!(report.ops >= 20_000, "ops {}", report.ops);
    assert!(report.ops_per_s() > 0.0);
    for check in &report.reports {
        assert_eq!(check.verdict, Verdict::Pass, "seed 11: {check:#?}");
    }
    let count = |id: CheckId, name: &str| {
        let check = report.reports.iter().find(|check| check.id == id);
        check.map_or(0, |check| check.counts.get(name).copied().unwrap_or(0))
    };
    assert!(count(CheckId::C1, "unknown_outcomes") > 100);
    // C7 and C8 judge something: concurrent SKU reads, reservation reads, refusals
    // after units came back.
    assert!(count(CheckId::C7, "reads_while_contended") > 100);
    assert!(count(CheckId::C7, "reservation_reads") > 100);
    assert!(count(CheckId::C8, "refusals_after_return") > 10);
    assert_eq!(report.checks.len(), report.reports.len());
}

// Goal: the history the bench writes reads back equal, as `stockproof check` reads it.
// Method: 2,000 ops (seed 13) through `read_back` into a temp dir.
#[test]
fn bench_history_reads_back_equal() {
    let (history, _) = synthetic(2_000, 13);
    let dir = tempfile::tempdir().expect("temp dir");
    let read_back = read_back(&history, &dir.path().join("history.jsonl")).expect("read back");
    assert!(read_back.bytes > 0);
}

// Goal: the checks catch an engine that oversells inside a large history.
// Method: take the synthetic history and grant one more unit of a SKU than it ever had,
// in a reservation that is confirmed.
#[test]
fn bench_history_with_an_injected_oversell_fails_c1() {
    let (mut history, snapshot) = synthetic(5_000, 12);
    let last = history
        .entries
        .iter()
        .map(|entry| entry.complete_us)
        .max()
        .unwrap_or(0);
    let id = history.entries.len() as u64 + 1;
    let reserve = |qty: i64, op: u64, reservation: &str| HistoryEntry {
        id: op,
        user: Some(1),
        op: Op::Reserve {
            key: format!("over-{op}"),
            items: vec![CartLine {
                sku: "sku-000".to_owned(),
                qty,
            }],
            ttl_ms: 60_000,
        },
        intended_us: None,
        invoke_us: last + 10,
        complete_us: last + 20,
        outcome: Outcome::Ok,
        status: Some(201),
        response: Some(Response {
            reservation: Some(ReservationId(reservation.to_owned())),
            state: Some(ReservationState::Held),
            deadline_ms: Some((last / 1000) as i64 + 60_000),
            ..Response::default()
        }),
        retry_of: None,
    };
    history
        .entries
        .push(reserve(BENCH_STOCK_PER_SKU + 1, id, "r-over"));
    let reports = crate::checks::run_checks(
        &history,
        Some(&snapshot),
        &CheckConfig {
            expiry_grace_ms: 1_000,
            clock_skew_ms: 0,
        },
    );
    let c1 = reports
        .iter()
        .find(|check| check.id == CheckId::C1)
        .expect("C1");
    assert_eq!(c1.verdict, Verdict::Fail, "seed 12: {c1:#?}");
    assert!(
        c1.violations[0]
            .reason
            .contains(&format!("op {id} was given 501 units of sku-000")),
        "{c1:#?}"
    );
}
