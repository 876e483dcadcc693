use std::time::Duration;

use super::*;

// Goal: big counts are readable at a glance.
// Method: group a few values by thousands.
#[test]
fn thousands_groups_digits() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1_000), "1,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
}

// Goal: the progress line carries elapsed/planned, what remains, rate, ops, errors, p99
// and the harness's memory.
// Method: render a line from fixed counts and compare it whole.
#[test]
fn progress_line_names_every_figure() {
    let counts = LoadCounts {
        ops: 51_234,
        fail: 9,
        unknown: 3,
        ..LoadCounts::default()
    };
    let line = progress_line(
        Duration::from_millis(12_040),
        Some(Duration::from_secs(30)),
        4_321.4,
        &counts,
        2_100,
        Some(312_000_000),
    );
    assert_eq!(
        line,
        "load 12.0s/30s (17s left)  4,321 ops/s  51,234 ops  errors: 9 refused, 3 unknown  p99 2.1 ms  rss 312 MB"
    );
}

// Goal: an agent's line counts from its load's start, not from its folder's time zero
// (before which it seeded and waited for `--start-at`).
// Method: a load that started 60 s after time zero, read 12 s into it.
#[test]
fn the_line_counts_from_the_load_start() {
    let progress = Progress::new(
        ProgressMode::Plain,
        Some(Duration::from_secs(30)),
        60_000_000,
    );
    let line = progress.line(
        72_000_000,
        0.0,
        &LoadCounts::default(),
        &Latencies::default(),
    );
    assert!(line.starts_with("load 12.0s/30s (18s left)"), "{line}");
}
