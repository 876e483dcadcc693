use std::time::Duration;

use super::{LagSample, WriterRow, WriterVerdict, slope, verdict};

const BATCH: usize = 5_000;

fn samples(points: &[(u64, u64)]) -> Vec<LagSample> {
    points
        .iter()
        .map(|&(at_ms, unwritten_events)| LagSample {
            at: Duration::from_millis(at_ms),
            unwritten_events,
            oldest_age_ms: 0,
        })
        .collect()
}

#[test]
fn a_sawtooth_around_a_flat_line_keeps_up() {
    // Goal: a writer that writes a batch every ~100 ms shows a bounded sawtooth; the
    // verdict must be "keeps up". Method: 4 s of samples alternating 0 and 900
    // unwritten events at 10,000 events/s.
    let points: Vec<(u64, u64)> = (0..80).map(|i| (i * 50, (i % 2) * 900)).collect();
    let row = WriterRow::new(
        &samples(&points),
        BATCH,
        40_000,
        40_000,
        Duration::from_secs(4),
        Duration::ZERO,
    )
    .unwrap();
    assert!(row.growth_per_second.abs() < 100.0, "{row:?}");
    assert_eq!(row.verdict, WriterVerdict::KeepsUp);
    assert_eq!(row.max_unwritten_events, 900);
}

#[test]
fn a_count_that_grows_with_time_falls_behind() {
    // Goal: a writer writing 7,000 of 10,000 events/s accumulates 3,000 more each
    // second; the verdict must be "falls behind". Method: a linear ramp of samples.
    let points: Vec<(u64, u64)> = (0..80).map(|i| (i * 50, i * 150)).collect();
    let row = WriterRow::new(
        &samples(&points),
        BATCH,
        40_000,
        28_000,
        Duration::from_secs(4),
        Duration::from_secs(2),
    )
    .unwrap();
    assert!((row.growth_per_second - 3_000.0).abs() < 1.0, "{row:?}");
    assert_eq!(row.verdict, WriterVerdict::FallsBehind);
    assert_eq!(
        (row.start.unwritten_events, row.end.unwritten_events),
        (0, 79 * 150)
    );
}

#[test]
fn growth_within_one_batch_is_not_falling_behind() {
    // Goal: at a low rate a slope can exceed 5% of the rate while the count stays under
    // one batch: that is batching, not lag. Method: verdict() on the boundary values.
    let one_batch = BATCH as u64;
    assert_eq!(
        verdict(100.0, 1_000.0, one_batch, BATCH),
        WriterVerdict::KeepsUp
    );
    assert_eq!(
        verdict(100.0, 1_000.0, one_batch + 1, BATCH),
        WriterVerdict::FallsBehind
    );
    assert_eq!(
        verdict(40.0, 1_000.0, 10 * one_batch, BATCH),
        WriterVerdict::KeepsUp
    );
}

#[test]
fn slope_needs_two_distinct_times() {
    assert_eq!(slope(&samples(&[(10, 5)])), 0.0);
    assert_eq!(slope(&samples(&[(10, 5), (10, 9)])), 0.0);
    assert_eq!(slope(&samples(&[(0, 0), (1_000, 250)])), 250.0);
}

#[test]
fn a_row_without_samples_is_an_error() {
    let error =
        WriterRow::new(&[], BATCH, 1, 1, Duration::from_secs(1), Duration::ZERO).unwrap_err();
    assert!(error.to_string().contains("no lag sample"), "{error}");
}
