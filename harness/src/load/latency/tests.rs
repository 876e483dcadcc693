use stockproof_engine::ReservationId;

use super::*;
use crate::history::{Op, Outcome};

fn entry(intended_us: Option<u64>, invoke_us: u64, complete_us: u64) -> HistoryEntry {
    HistoryEntry {
        id: 1,
        user: Some(1),
        op: Op::Confirm {
            reservation: ReservationId("r1".to_owned()),
        },
        intended_us,
        invoke_us,
        complete_us,
        outcome: Outcome::Ok,
        status: Some(200),
        response: None,
        retry_of: None,
    }
}

// Goal: the corrected histogram times from the intended start, the uncorrected one from
// the send; without an intended start both agree.
// Method: record a late op (intended 1 ms before its 0.5 ms send) and an on-time one.
#[test]
fn corrected_latency_includes_the_late_start() {
    let mut latencies = Latencies::default();
    latencies.record(&entry(Some(1_000), 2_000, 2_500));
    latencies.record(&entry(None, 10_000, 10_300));
    let confirm = latencies.kind(OpKind::Confirm).unwrap();
    assert_eq!(confirm.uncorrected.len(), 2);
    assert_eq!(
        confirm.uncorrected.max(),
        confirm.uncorrected.highest_equivalent(500)
    );
    assert_eq!(
        confirm.corrected.max(),
        confirm.corrected.highest_equivalent(1_500)
    );
    assert_eq!(
        confirm.corrected.min(),
        confirm.corrected.lowest_equivalent(300)
    );
    assert_eq!(latencies.all().len(), 2);
    assert!(latencies.kind(OpKind::Reserve).is_none());
}

// Goal: an absurd latency is clamped, not lost.
// Method: record an op that took longer than LATENCY_US_MAX.
#[test]
fn latency_past_the_bound_is_clamped() {
    let mut latencies = Latencies::default();
    latencies.record(&entry(None, 0, LATENCY_US_MAX * 2));
    let confirm = latencies.kind(OpKind::Confirm).unwrap();
    assert_eq!(confirm.uncorrected.len(), 1);
    assert!(confirm.uncorrected.max() >= LATENCY_US_MAX);
}
