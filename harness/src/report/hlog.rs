//! `latency.hlog`: the run's per-second latency histograms in the HdrHistogram interval
//! log format (Java's `HistogramLogWriter`): a format-version comment, `#[StartTime: …]`,
//! `#[BaseTime: …]`, the legend line, then one line per op kind and second,
//! `Tag=<op>,<start s>,<length s>,<max ms>,<base64 V2 deflate histogram>`. Logs from
//! several machines merge losslessly: [`merge`] decodes every agent's intervals and adds
//! them (`stockproof merge`), as HistogramLogProcessor does. Values are µs; the max
//! column is in ms like Java's default (divisor 1000).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use chrono::DateTime;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use crate::latency::{INTERVAL_US, Latencies, new_histogram};

/// The `Interval_Max` column is µs / 1000 = ms, as Java writes it for ms-scaled logs.
const HLOG_MAX_VALUE_DIVISOR: f64 = 1000.0;

/// Renders the interval log. `started_at_unix_ms` is the run's time zero (StartTime and
/// BaseTime), so interval timestamps are seconds since the run started.
pub fn render(latencies: &Latencies, started_at_unix_ms: i64) -> Result<String, String> {
    let intervals = (0..latencies.seconds()).flat_map(|second| {
        latencies.ops.iter().filter_map(move |(kind, op)| {
            op.intervals
                .get(second)
                .filter(|histogram| !histogram.is_empty())
                .map(|histogram| (second as u64, kind.as_str(), histogram))
        })
    });
    write_log(intervals, started_at_unix_ms)
}

/// One agent's `latency.hlog` and how far its time zero lies after the merged run's.
#[derive(Debug, Clone, Copy)]
pub struct AgentLog<'a> {
    pub text: &'a str,
    pub offset_us: u64,
}

/// Merges agents' interval logs losslessly: every interval histogram is decoded and
/// added into the merged run's second its start falls in (agent start + offset), per
/// tag; percentiles are never averaged. The merged totals are exactly the histogram of
/// every value any agent recorded; an interval's boundaries are as exact as the agents'
/// start offsets are whole seconds (agents that start together are milliseconds apart).
pub fn merge(logs: &[AgentLog<'_>], started_at_unix_ms: i64) -> Result<String, String> {
    let mut merged: BTreeMap<(u64, String), Histogram<u64>> = BTreeMap::new();
    for log in logs {
        for item in IntervalLogIterator::new(log.text.as_bytes()) {
            let item = item.map_err(|error| format!("reading an interval log: {error:?}"))?;
            let LogEntry::Interval(interval) = item else {
                continue;
            };
            let tag = interval.tag().map_or("", |tag| tag.as_str()).to_owned();
            let start_us = u64::try_from(interval.start_timestamp().as_micros())
                .unwrap_or(u64::MAX)
                .saturating_add(log.offset_us);
            let histogram = decode(interval.encoded_histogram())?;
            merged
                .entry((start_us / INTERVAL_US, tag))
                .or_insert_with(new_histogram)
                .add(&histogram)
                .map_err(|error| format!("adding interval histograms: {error:?}"))?;
        }
    }
    let intervals = merged
        .iter()
        .map(|((second, tag), histogram)| (*second, tag.as_str(), histogram));
    write_log(intervals, started_at_unix_ms)
}

/// A base64 V2 (deflate or not) histogram of an interval line.
fn decode(encoded: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| format!("an interval histogram is not base64: {error}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|error| format!("decoding an interval histogram: {error:?}"))
}

/// The header, then one line per `(second, tag, histogram)` in the order given.
fn write_log<'h, H: Borrow<Histogram<u64>>>(
    intervals: impl Iterator<Item = (u64, &'h str, H)>,
    started_at_unix_ms: i64,
) -> Result<String, String> {
    let start_s = started_at_unix_ms as f64 / 1000.0;
    let mut out: Vec<u8> = Vec::new();
    let header = format!(
        "#[Latency of stockproof operations, µs recorded; one interval per second]\n\
         #[Histogram log format version 1.3]\n\
         #[StartTime: {start_s:.3} (seconds since epoch), {}]\n\
         #[BaseTime: {start_s:.3} (seconds since epoch)]\n\
         \"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
        utc_text(started_at_unix_ms)
    );
    out.extend_from_slice(header.as_bytes());
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .with_max_value_divisor(HLOG_MAX_VALUE_DIVISOR)
            .begin_log_with(&mut out, &mut serializer)
            .map_err(|error| error.to_string())?;
        for (second, tag, histogram) in intervals {
            let tag = Tag::new(tag).ok_or_else(|| format!("`{tag}` is not a valid tag"))?;
            writer
                .write_histogram(
                    histogram.borrow(),
                    Duration::from_micros(second * INTERVAL_US),
                    Duration::from_micros(INTERVAL_US),
                    Some(tag),
                )
                .map_err(|error| error.to_string())?;
        }
    }
    String::from_utf8(out).map_err(|error| error.to_string())
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for epoch milliseconds (UTC); a time chrono cannot
/// represent (beyond ±262,000 years) is written as its milliseconds.
pub fn utc_text(unix_ms: i64) -> String {
    DateTime::from_timestamp_millis(unix_ms).map_or_else(
        || format!("{unix_ms} ms since the Unix epoch"),
        |time| time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    )
}

#[cfg(test)]
mod tests;
