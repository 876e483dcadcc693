//! One op kind's per-second latency histograms, kept small for long runs: the last
//! few seconds stay live HdrHistograms (replies complete roughly in time order), older
//! ones are packed in HdrHistogram's V2 encoding (run-length counts: hundreds of bytes
//! where a live histogram of a second with 50 ms replies holds ~56 KB of counts). An
//! hour of four op kinds then costs a few MB, not a GB. A reply recorded into a packed
//! second (a merged or shuffled history) unpacks it, records and packs it again: rare
//! and exact.
//!
//! Readers get each second back as a histogram ([`Intervals::get`]); its count alone
//! needs no decoding ([`Intervals::count`]).

use std::borrow::Cow;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

use super::new_histogram;

/// Seconds before the newest one recorded that stay live: a reply completes into a
/// second at most this far back without an unpack.
const LIVE_SECONDS: usize = 3;

#[derive(Debug, Clone)]
enum Second {
    Live(Histogram<u64>),
    /// V2 encoding; empty for a second nothing completed in.
    Packed(Box<[u8]>),
}

/// Per-second histograms, index = second of the run.
#[derive(Debug, Clone, Default)]
pub struct Intervals {
    seconds: Vec<Second>,
    counts: Vec<u64>,
    /// Every second below this is packed.
    packed_below: usize,
}

impl Intervals {
    /// Records `value` (already clamped) into `second`.
    pub fn record(&mut self, second: usize, value: u64) {
        if self.seconds.len() <= second {
            self.seconds
                .resize_with(second + 1, || Second::Live(new_histogram()));
            self.counts.resize(second + 1, 0);
        }
        self.counts[second] += 1;
        match &mut self.seconds[second] {
            Second::Live(histogram) => super::record(histogram, value),
            Second::Packed(bytes) => {
                let mut histogram = unpack(bytes);
                super::record(&mut histogram, value);
                *bytes = pack(&histogram);
            }
        }
        while self.packed_below + LIVE_SECONDS < second {
            let slot = &mut self.seconds[self.packed_below];
            if let Second::Live(histogram) = slot {
                *slot = Second::Packed(pack(histogram));
            }
            self.packed_below += 1;
        }
    }

    /// Seconds covered (up to the last one anything completed in).
    pub fn len(&self) -> usize {
        self.seconds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seconds.is_empty()
    }

    /// Values recorded in `second`.
    pub fn count(&self, second: usize) -> u64 {
        self.counts.get(second).copied().unwrap_or(0)
    }

    /// The histogram of `second`; `None` past the last second.
    pub fn get(&self, second: usize) -> Option<Cow<'_, Histogram<u64>>> {
        Some(match self.seconds.get(second)? {
            Second::Live(histogram) => Cow::Borrowed(histogram),
            Second::Packed(bytes) => Cow::Owned(unpack(bytes)),
        })
    }
}

fn pack(histogram: &Histogram<u64>) -> Box<[u8]> {
    if histogram.is_empty() {
        return Box::default();
    }
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(histogram, &mut bytes)
        .expect("a histogram serializes into memory");
    bytes.into_boxed_slice()
}

fn unpack(bytes: &[u8]) -> Histogram<u64> {
    if bytes.is_empty() {
        return new_histogram();
    }
    let mut histogram: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &bytes[..])
        .expect("a histogram packed here decodes");
    // Decoded histograms keep the bounds they were written with; recording into one
    // must grow it as a new one would.
    histogram.auto(true);
    histogram
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: packing loses nothing. Method: record 10 s of values in order, then a few
    // into old (packed) seconds, and compare every second with plain histograms.
    #[test]
    fn packed_seconds_read_back_as_recorded() {
        let mut intervals = Intervals::default();
        let mut plain: Vec<Histogram<u64>> = (0..10).map(|_| new_histogram()).collect();
        let mut add = |second: usize, value: u64| {
            intervals.record(second, value);
            plain[second].record(value).unwrap();
        };
        for second in 0..10 {
            for value in 1..=200 {
                add(second, value * (second as u64 + 1) * 97);
            }
        }
        add(0, 12_345_678);
        add(2, 5);
        assert_eq!(intervals.len(), 10);
        for (second, expected) in plain.iter().enumerate() {
            let got = intervals.get(second).unwrap();
            assert_eq!(got.len(), expected.len(), "second {second}");
            assert_eq!(intervals.count(second), expected.len(), "second {second}");
            for quantile in [0.0, 0.5, 0.99, 1.0] {
                assert_eq!(
                    got.value_at_quantile(quantile),
                    expected.value_at_quantile(quantile),
                    "second {second} q{quantile}"
                );
            }
        }
        assert!(matches!(intervals.seconds[0], Second::Packed(_)));
        assert!(intervals.get(10).is_none());
    }

    // Goal: a second nothing completed in stays empty and costs nothing.
    #[test]
    fn an_empty_second_packs_to_nothing() {
        let mut intervals = Intervals::default();
        intervals.record(0, 100);
        intervals.record(9, 100);
        assert_eq!(intervals.count(4), 0);
        assert!(intervals.get(4).unwrap().is_empty());
        assert!(matches!(&intervals.seconds[4], Second::Packed(bytes) if bytes.is_empty()));
    }
}
