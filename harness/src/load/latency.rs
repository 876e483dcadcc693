//! Latency histograms per op kind, timed by stockproof in microseconds (goose's own
//! metrics are coarser and mix in its bookkeeping). Each kind keeps two HdrHistograms:
//! `uncorrected` from the send to the reply, and `corrected` from the op's intended start
//! (its slot in the open model's arrival schedule, see `super::pacing`), which includes
//! the time a late start waited: wrk2's coordinated-omission correction. In the closed
//! model both are the same.
//!
//! Not here: percentile files and reports (`crate::report`).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::history::{HistoryEntry, OpKind};

/// Largest latency recorded exactly: an hour. Longer ones are clamped to it (a run's
/// timeouts are seconds, so only a stuck clock gets there).
pub const LATENCY_US_MAX: u64 = 3_600_000_000;
/// HdrHistogram precision: 3 significant digits (0.1 % value error), wrk2's setting.
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// The two histograms of one op kind.
#[derive(Debug, Clone)]
pub struct KindLatency {
    pub uncorrected: Histogram<u64>,
    pub corrected: Histogram<u64>,
}

impl KindLatency {
    fn new() -> KindLatency {
        KindLatency {
            uncorrected: new_histogram(),
            corrected: new_histogram(),
        }
    }
}

/// Every op kind's latencies, plus all kinds together (for the live p99).
#[derive(Debug, Clone)]
pub struct Latencies {
    by_kind: BTreeMap<OpKind, KindLatency>,
    all: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Latencies {
        Latencies {
            by_kind: BTreeMap::new(),
            all: new_histogram(),
        }
    }
}

impl Latencies {
    /// Records one completed op (faults have no latency and are skipped).
    pub fn record(&mut self, entry: &HistoryEntry) {
        let kind = entry.op.kind();
        if kind == OpKind::Fault {
            return;
        }
        let latency = self.by_kind.entry(kind).or_insert_with(KindLatency::new);
        latency.uncorrected.saturating_record(entry.latency_us());
        latency
            .corrected
            .saturating_record(entry.corrected_latency_us());
        self.all.saturating_record(entry.latency_us());
    }

    pub fn kind(&self, kind: OpKind) -> Option<&KindLatency> {
        self.by_kind.get(&kind)
    }

    pub fn kinds(&self) -> impl Iterator<Item = (OpKind, &KindLatency)> {
        self.by_kind.iter().map(|(kind, latency)| (*kind, latency))
    }

    /// All kinds' uncorrected latencies together.
    pub fn all(&self) -> &Histogram<u64> {
        &self.all
    }
}

/// An empty histogram with stockproof's bounds.
pub fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 1 h at 3 digits is a valid combination, so creation cannot fail.
    Histogram::new_with_bounds(1, LATENCY_US_MAX, LATENCY_SIGNIFICANT_DIGITS)
        .expect("1 µs .. 1 h at 3 significant digits is a valid histogram")
}

#[cfg(test)]
mod tests;
