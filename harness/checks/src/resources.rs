//! The target's resources sampled during the load (`resources.jsonl` in a run folder):
//! a header naming the series and their units (and the series the target could not
//! give, with why), then one line per sample, and the two statistics resource SLOs
//! judge: [`growth`] over the run's second half and the [`max`].
//!
//! Pure data and arithmetic: the sampling itself (Redis, Postgres, `/proc`, a target's
//! Prometheus `/metrics`) is the harness's `resources` module.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of `resources.jsonl`'s header.
pub const RESOURCES_FORMAT_VERSION: u32 = 1;
/// Samples a growth needs in the run's second half: fewer (a run of a few seconds)
/// cannot tell a trend from noise, and the SLO is not judged.
pub const GROWTH_SAMPLES_MIN: usize = 10;
/// Samples each end of the second half holds at least, whatever its length.
pub const GROWTH_WINDOW_SAMPLES_MIN: usize = 3;
/// Each end of the second half is this share of its samples (a tenth).
pub const GROWTH_WINDOW_SHARE: f64 = 0.1;

/// The series the in-process engine is sampled for, with their units.
pub const BUILTIN_SERIES: [(&str, Unit); 6] = [
    ("redis.used_memory", Unit::Bytes),
    ("ledger.stream_length", Unit::Count),
    ("ledger.lag", Unit::Seconds),
    ("ledger.lag_events", Unit::Count),
    ("postgres.db_size", Unit::Bytes),
    ("harness.rss", Unit::Bytes),
];

/// The unit of a builtin series; `None` for any other name.
pub fn builtin_unit(name: &str) -> Option<Unit> {
    BUILTIN_SERIES
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, unit)| *unit)
}

/// A series' base unit: every value is stored in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Bytes,
    Seconds,
    Count,
    /// A Prometheus series: the exposition format carries no unit (its convention is
    /// base units, seconds and bytes, named in the metric's suffix).
    Unknown,
}

impl Unit {
    /// The unit as `SloResult::unit` carries it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Bytes => "bytes",
            Unit::Seconds => "s",
            Unit::Count | Unit::Unknown => "",
        }
    }
}

/// One series the sampler records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesInfo {
    pub name: String,
    pub unit: Unit,
}

/// A series the target cannot give, and why (a Postgres strategy has no Redis).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbsentSeries {
    pub name: String,
    pub why: String,
}

/// The first line of `resources.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourcesHeader {
    pub version: u32,
    /// What was sampled: `in-process redis-lua`, or the `/metrics` URL.
    pub source: String,
    /// Nominal time between samples.
    pub interval_ms: u64,
    pub series: Vec<SeriesInfo>,
    #[serde(default)]
    pub absent: Vec<AbsentSeries>,
    /// Probes that failed (a timeout, a refused connection), by series: the sample
    /// then lacks that value.
    #[serde(default)]
    pub probe_errors: BTreeMap<String, u64>,
}

/// One sample: ms since the load started, and each series' value in its unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceSample {
    pub t_ms: u64,
    pub values: BTreeMap<String, f64>,
}

/// A run's resources: header and samples in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub header: ResourcesHeader,
    pub samples: Vec<ResourceSample>,
}

/// Why `resources.jsonl` could not be read.
#[derive(Debug, thiserror::Error)]
#[error("resources.jsonl line {line}: {reason}")]
pub struct ResourcesError {
    pub line: usize,
    pub reason: String,
}

impl Resources {
    /// `resources.jsonl`: the header, then a line per sample.
    pub fn to_jsonl(&self) -> String {
        let mut out = serde_json::to_string(&self.header).unwrap_or_default();
        out.push('\n');
        for sample in &self.samples {
            out.push_str(&serde_json::to_string(sample).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    pub fn from_jsonl(text: &str) -> Result<Resources, ResourcesError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.is_empty());
        let bad = |line: usize, error: serde_json::Error| ResourcesError {
            line: line + 1,
            reason: error.to_string(),
        };
        let (index, first) = lines.next().ok_or(ResourcesError {
            line: 1,
            reason: "empty: no header".to_owned(),
        })?;
        let header: ResourcesHeader = serde_json::from_str(first).map_err(|e| bad(index, e))?;
        if header.version != RESOURCES_FORMAT_VERSION {
            return Err(ResourcesError {
                line: 1,
                reason: format!(
                    "version {} (this stockproof reads {RESOURCES_FORMAT_VERSION})",
                    header.version
                ),
            });
        }
        let samples = lines
            .map(|(index, line)| serde_json::from_str(line).map_err(|e| bad(index, e)))
            .collect::<Result<Vec<ResourceSample>, _>>()?;
        Ok(Resources { header, samples })
    }

    /// `(t_ms, value)` of every sample holding `name`.
    pub fn points(&self, name: &str) -> Vec<(u64, f64)> {
        self.samples
            .iter()
            .filter_map(|sample| sample.values.get(name).map(|value| (sample.t_ms, *value)))
            .collect()
    }

    pub fn unit(&self, name: &str) -> Option<Unit> {
        self.header
            .series
            .iter()
            .find(|series| series.name == name)
            .map(|series| series.unit)
    }

    /// Why `name` is absent, if the sampler said so.
    pub fn absent_why(&self, name: &str) -> Option<&str> {
        self.header
            .absent
            .iter()
            .find(|absent| absent.name == name)
            .map(|absent| absent.why.as_str())
    }
}

/// A series' growth over the run's second half, and the two levels it compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Growth {
    /// Median of the first tenth of the second half.
    pub first: f64,
    /// Median of the last tenth of the second half.
    pub last: f64,
    /// `(last - first) / first`; `+inf` when a series at 0 rose.
    pub ratio: f64,
}

/// Growth over the second half of `points` (time order): the samples at or after the
/// midpoint of the sampled span; each end is its first and last tenth (at least
/// [`GROWTH_WINDOW_SAMPLES_MIN`] samples), summarised by its median, so one odd sample
/// (a GC pause, a scrape caught mid-update) moves neither level. `None` with fewer than
/// [`GROWTH_SAMPLES_MIN`] samples in the second half.
pub fn growth(points: &[(u64, f64)]) -> Option<Growth> {
    let (start, end) = (points.first()?.0, points.last()?.0);
    let middle = start + (end - start) / 2;
    let half: Vec<f64> = points
        .iter()
        .filter(|(t_ms, _)| *t_ms >= middle)
        .map(|(_, value)| *value)
        .collect();
    if half.len() < GROWTH_SAMPLES_MIN {
        return None;
    }
    let window =
        ((half.len() as f64 * GROWTH_WINDOW_SHARE).ceil() as usize).max(GROWTH_WINDOW_SAMPLES_MIN);
    let first = median(&half[..window]);
    let last = median(&half[half.len() - window..]);
    let ratio = if first > 0.0 {
        (last - first) / first
    } else if last > first {
        f64::INFINITY
    } else {
        0.0
    };
    Some(Growth { first, last, ratio })
}

/// The largest value; `None` without samples.
pub fn max(points: &[(u64, f64)]) -> Option<f64> {
    points.iter().map(|(_, value)| *value).reduce(f64::max)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

#[cfg(test)]
mod tests;
