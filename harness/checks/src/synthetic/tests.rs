use stockproof_model::{CartLine, ReservationId, ReservationState};

use super::*;
use crate::{CheckConfig, CheckId, Verdict};

// Goal: the checks catch an engine that oversells inside a large history.
// Method: take the synthetic history and grant one more unit of a SKU than it ever had,
// in a reservation that is confirmed.
#[test]
fn bench_history_with_an_injected_oversell_fails_c1() {
    let (history, snapshot) = synthetic(5_000, 12);
    let mut history = history.into_unfolded();
    let last = history.end_us();
    let id = history.len() as u64 + 1;
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
    let reports = crate::run_checks(
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
