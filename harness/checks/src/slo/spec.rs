//! Service-level objectives as a scenario writes them (`reserve.p99 <= 25ms`,
//! `confirm.p50 < 5ms`, `error_rate <= 0.1%`, `throughput >= 500/s`, and on the
//! target's sampled resources `redis.used_memory growth <= 5%`, `ledger.lag.max <= 2s`:
//! `super::resource`) parsed into typed [`Slo`]s. Parsing only; the parent module evaluates them against a run's
//! histograms.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::duration::parse_duration;
use crate::history::OpKind;

use super::resource;

/// What an SLO measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "metric")]
pub enum SloMetric {
    /// A latency statistic of one operation kind, in µs.
    Latency { op: OpKind, statistic: Statistic },
    /// Share of ops with no usable reply (unknown outcome or 5xx), 0..=1.
    ErrorRate,
    /// Completed ops per second over the load phase.
    Throughput,
    /// A statistic of one sampled resource series (`resources.jsonl`), in the series'
    /// unit (a growth is a fraction).
    Resource {
        series: String,
        statistic: ResourceStatistic,
    },
}

/// What a resource SLO takes of its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceStatistic {
    /// Growth over the run's second half (`crate::resources::growth`), a fraction.
    Growth,
    /// The largest sample.
    Max,
}

/// A latency statistic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    /// A percentile, 0..=100 (`p99.9` → 99.9).
    Percentile(f64),
    Max,
    Mean,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    #[serde(rename = "<")]
    Less,
    #[serde(rename = "<=")]
    LessOrEqual,
    #[serde(rename = ">")]
    Greater,
    #[serde(rename = ">=")]
    GreaterOrEqual,
}

impl Comparison {
    pub const fn as_str(self) -> &'static str {
        match self {
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
        }
    }

    pub fn holds(self, observed: f64, threshold: f64) -> bool {
        match self {
            Comparison::Less => observed < threshold,
            Comparison::LessOrEqual => observed <= threshold,
            Comparison::Greater => observed > threshold,
            Comparison::GreaterOrEqual => observed >= threshold,
        }
    }
}

/// One objective: `metric comparison threshold`. The threshold is in the metric's base
/// unit: µs for latency, a fraction for error rate, ops/s for throughput.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// The text as written, for reports.
    pub text: String,
    pub metric: SloMetric,
    pub comparison: Comparison,
    pub threshold: f64,
}

impl fmt::Display for Slo {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

const SLO_SYNTAX: &str = "expected `<op>.<p50|p99|p99.9|max|mean> <op> <duration>`, \
                          `error_rate <op> <percent>%`, `throughput <op> <n>/s`, \
                          `<series> growth <op> <percent>%` or `<series>.max <op> <value>`, \
                          e.g. `reserve.p99 <= 25ms`, `ledger.lag.max <= 2s`";

impl FromStr for Slo {
    type Err = String;

    fn from_str(text: &str) -> Result<Slo, String> {
        let bad = |why: &str| format!("SLO `{text}`: {why}; {SLO_SYNTAX}");
        let (subject, comparison, value) =
            split_comparison(text).ok_or_else(|| bad("no comparison (<, <=, >, >=)"))?;
        let (metric, threshold) = match subject {
            "error_rate" => {
                let percent = value
                    .strip_suffix('%')
                    .and_then(|number| number.trim().parse::<f64>().ok())
                    .filter(|percent| (0.0..=100.0).contains(percent))
                    .ok_or_else(|| bad("error_rate needs a percentage between 0% and 100%"))?;
                (SloMetric::ErrorRate, percent / 100.0)
            }
            "throughput" => {
                let rate = value
                    .strip_suffix("/s")
                    .and_then(|number| number.trim().parse::<f64>().ok())
                    .filter(|rate| rate.is_finite() && *rate >= 0.0)
                    .ok_or_else(|| bad("throughput needs a rate like `500/s`"))?;
                (SloMetric::Throughput, rate)
            }
            subject if resource::is_resource(subject) => {
                let (series, statistic, threshold) =
                    resource::parse(subject, value).map_err(|why| bad(&why))?;
                (SloMetric::Resource { series, statistic }, threshold)
            }
            latency => {
                let (op, statistic) = parse_latency_subject(latency).map_err(|why| bad(&why))?;
                let duration = parse_duration(value).map_err(|why| bad(&why))?;
                (
                    SloMetric::Latency { op, statistic },
                    duration.as_micros() as f64,
                )
            }
        };
        Ok(Slo {
            text: text.trim().to_owned(),
            metric,
            comparison,
            threshold,
        })
    }
}

fn split_comparison(text: &str) -> Option<(&str, Comparison, &str)> {
    // Two-character operators first, so `<=` is not read as `<` followed by `=25ms`.
    let operators = [
        ("<=", Comparison::LessOrEqual),
        (">=", Comparison::GreaterOrEqual),
        ("<", Comparison::Less),
        (">", Comparison::Greater),
    ];
    operators.into_iter().find_map(|(symbol, comparison)| {
        let (left, right) = text.split_once(symbol)?;
        let (left, right) = (left.trim(), right.trim());
        (!left.is_empty() && !right.is_empty()).then_some((left, comparison, right))
    })
}

fn parse_latency_subject(subject: &str) -> Result<(OpKind, Statistic), String> {
    let (op, statistic) = subject
        .split_once('.')
        .ok_or_else(|| format!("unknown metric `{subject}`"))?;
    let op = OpKind::parse(op).filter(|kind| *kind != OpKind::Fault).ok_or_else(|| {
        format!("unknown operation `{op}` (reserve, confirm, release, restock, adjust, get_sku, get_reservation)")
    })?;
    let statistic = match statistic {
        "max" => Statistic::Max,
        "mean" => Statistic::Mean,
        percentile => percentile
            .strip_prefix('p')
            .and_then(|number| number.parse::<f64>().ok())
            .filter(|number| *number > 0.0 && *number <= 100.0)
            .map(Statistic::Percentile)
            .ok_or_else(|| {
                format!("unknown statistic `{percentile}` (p50, p99, p99.9, max, mean)")
            })?,
    };
    Ok((op, statistic))
}

impl<'de> Deserialize<'de> for Slo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Slo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}
