//! Latency and rate figures of a run: one HdrHistogram per operation kind in µs, both
//! corrected for coordinated omission (measured from the op's intended start, as wrk2
//! does) and uncorrected (from its actual send), plus one corrected histogram per
//! second of the run for throughput-over-time and the interval log. Built op by op
//! (the load driver may record live) or from a recorded history.
//!
//! Only shoppers' ops count (`user` set): seeding, scheduled restocks and the final
//! reads are the harness's own and are not load.

mod intervals;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::history::{History, HistoryEntry, OpKind, Outcome};
pub use intervals::Intervals;

/// Largest latency recorded; longer ones are clamped (and show as this in the max).
/// A minute is far past any client timeout, so a clamp means a stuck run.
pub const LATENCY_US_MAX: u64 = 60_000_000;
/// Significant digits of every histogram: 0.1 % value resolution, HdrHistogram's usual.
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;
/// Length of one interval of the per-second histograms and of the interval log.
pub const INTERVAL_US: u64 = 1_000_000;

/// A new histogram as every latency histogram here is made: auto-resizing from 1 µs, so
/// a second with only fast replies stays small in memory.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new(LATENCY_SIGNIFICANT_DIGITS)
        .expect("3 significant digits is a valid histogram configuration")
}

/// Records `value` (already clamped to [`LATENCY_US_MAX`]), growing the histogram as
/// needed. Growth only fails for values near u64::MAX, which the clamp rules out; should it
/// fail anyway, the value is recorded as the largest the histogram holds.
fn record(histogram: &mut Histogram<u64>, value: u64) {
    if histogram.record(value).is_err() {
        histogram.saturating_record(value);
    }
}

/// The latencies of one operation kind.
#[derive(Debug, Clone)]
pub struct OpLatency {
    /// From the intended start (coordinated omission corrected).
    pub corrected: Histogram<u64>,
    /// From the actual send.
    pub uncorrected: Histogram<u64>,
    /// Corrected latencies by the second the op completed in (index = second of the
    /// run), packed once a few seconds old so a long run's memory stays flat.
    pub intervals: Intervals,
}

impl OpLatency {
    fn new() -> OpLatency {
        OpLatency {
            corrected: new_histogram(),
            uncorrected: new_histogram(),
            intervals: Intervals::default(),
        }
    }
}

/// Every op kind's latencies and the run's counts.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    pub ops: BTreeMap<OpKind, OpLatency>,
    /// Earliest send and latest completion of a shopper op (µs since run start).
    pub first_invoke_us: Option<u64>,
    pub last_complete_us: u64,
    pub completed: u64,
    /// Ops with no usable reply: unknown outcome or a 5xx status.
    pub errors: u64,
    /// Ops sent later than intended (open model).
    pub late_starts: u64,
}

impl Latencies {
    pub fn from_history(history: &History) -> Latencies {
        let mut latencies = Latencies::default();
        for entry in history.ops() {
            latencies.record(&entry);
        }
        latencies
    }

    /// The latencies of a merged history whose every interval was widened by
    /// `widening_us` on each side for the agents' clock skew (`stockproof merge
    /// --clock-skew`): each op is measured as its agent timed it, so skew loosens the
    /// checks' bounds but never lengthens a latency (an SLO never fails for it).
    pub fn from_widened_history(history: &History, widening_us: u64) -> Latencies {
        if widening_us == 0 {
            return Latencies::from_history(history);
        }
        let mut latencies = Latencies::default();
        for entry in history.ops() {
            let mut measured = entry.into_owned();
            measured.invoke_us = measured.invoke_us.saturating_add(widening_us);
            measured.intended_us = measured
                .intended_us
                .map(|intended| intended.saturating_add(widening_us));
            measured.complete_us = measured
                .complete_us
                .saturating_sub(widening_us)
                .max(measured.invoke_us);
            latencies.record(&measured);
        }
        latencies
    }

    /// Records one op (ignored unless a shopper sent it).
    pub fn record(&mut self, entry: &HistoryEntry) {
        let kind = entry.op.kind();
        if entry.user.is_none() || kind == OpKind::Fault {
            return;
        }
        self.completed += 1;
        let error =
            entry.outcome == Outcome::Unknown || entry.status.is_some_and(|status| status >= 500);
        self.errors += u64::from(error);
        self.late_starts += u64::from(
            entry
                .intended_us
                .is_some_and(|intended| entry.invoke_us > intended),
        );
        self.first_invoke_us = Some(
            self.first_invoke_us
                .map_or(entry.invoke_us, |first| first.min(entry.invoke_us)),
        );
        self.last_complete_us = self.last_complete_us.max(entry.complete_us);
        let op = self.ops.entry(kind).or_insert_with(OpLatency::new);
        let corrected = entry.corrected_latency_us().clamp(1, LATENCY_US_MAX);
        record(&mut op.corrected, corrected);
        record(
            &mut op.uncorrected,
            entry.latency_us().clamp(1, LATENCY_US_MAX),
        );
        let second = (entry.complete_us / INTERVAL_US) as usize;
        op.intervals.record(second, corrected);
    }

    /// From the first send to the last reply.
    pub fn duration_us(&self) -> u64 {
        self.first_invoke_us
            .map_or(0, |first| self.last_complete_us.saturating_sub(first))
    }

    pub fn throughput_per_s(&self) -> Option<f64> {
        let duration_us = self.duration_us();
        (duration_us > 0).then(|| self.completed as f64 * 1e6 / duration_us as f64)
    }

    pub fn error_rate(&self) -> Option<f64> {
        (self.completed > 0).then(|| self.errors as f64 / self.completed as f64)
    }

    /// Seconds covered by the interval histograms.
    pub fn seconds(&self) -> usize {
        self.ops
            .values()
            .map(|op| op.intervals.len())
            .max()
            .unwrap_or(0)
    }

    /// Ops completed in each second, all kinds together.
    pub fn ops_per_second(&self) -> Vec<u64> {
        let mut per_second = vec![0; self.seconds()];
        for op in self.ops.values() {
            for (second, count) in per_second.iter_mut().enumerate() {
                *count += op.intervals.count(second);
            }
        }
        per_second
    }
}
