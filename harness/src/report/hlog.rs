//! `latency.hlog`: the run's per-second latency histograms in the HdrHistogram interval
//! log format (Java's `HistogramLogWriter`): a format-version comment, `#[StartTime: …]`,
//! `#[BaseTime: …]`, the legend line, then one line per op kind and second,
//! `Tag=<op>,<start s>,<length s>,<max ms>,<base64 V2 deflate histogram>`. Logs from
//! several machines merge losslessly (HistogramLogProcessor, or by adding the decoded
//! histograms). Values are µs; the max column is in ms like Java's default (divisor 1000).

use std::time::Duration;

use chrono::DateTime;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::latency::{INTERVAL_US, Latencies};

/// The `Interval_Max` column is µs / 1000 = ms, as Java writes it for ms-scaled logs.
const HLOG_MAX_VALUE_DIVISOR: f64 = 1000.0;

/// Renders the interval log. `started_at_unix_ms` is the run's time zero (StartTime and
/// BaseTime), so interval timestamps are seconds since the run started.
pub fn render(latencies: &Latencies, started_at_unix_ms: i64) -> Result<String, String> {
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
        for second in 0..latencies.seconds() {
            for (kind, op) in &latencies.ops {
                let Some(histogram) = op
                    .intervals
                    .get(second)
                    .filter(|histogram| !histogram.is_empty())
                else {
                    continue;
                };
                let tag = Tag::new(kind.as_str())
                    .ok_or_else(|| format!("`{kind}` is not a valid tag"))?;
                let start = Duration::from_micros(second as u64 * INTERVAL_US);
                writer
                    .write_histogram(
                        histogram,
                        start,
                        Duration::from_micros(INTERVAL_US),
                        Some(tag),
                    )
                    .map_err(|error| error.to_string())?;
            }
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
