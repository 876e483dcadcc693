use super::*;
use crate::checks::{CheckId, Verdict};

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
    let read_back = read_back(&history, &dir.path().join("history.jsonl.zst")).expect("read back");
    assert!(read_back.bytes > 0);
}
