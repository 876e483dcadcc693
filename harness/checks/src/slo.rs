//! Service-level objectives: [`Slo`]s as a scenario writes them (`spec`, resource ones
//! in `resource`), and each evaluated against a run's [`Latencies`] (latency objectives
//! use the coordinated-omission-corrected histograms) or its sampled [`Resources`]. An
//! SLO on an operation that never ran, or on a series that was not sampled, is
//! `Unknown` with a note saying why, never met by default.

use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::latency::Latencies;
use crate::resources::{self, Resources};

mod resource;
mod spec;

pub use spec::{Comparison, ResourceStatistic, Slo, SloMetric, Statistic};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloResult {
    /// The SLO as written (`reserve.p99 <= 25ms`).
    pub slo: String,
    /// Observed value in the metric's base unit (µs, fraction, ops/s).
    pub observed: Option<f64>,
    pub threshold: f64,
    /// `us`, `ratio`, `ops/s`, or a resource series' (`bytes`, `s`, empty for a count).
    pub unit: String,
    pub verdict: Verdict,
    /// What was compared (a growth's two levels), or why nothing was (`not judged: …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Evaluates latency objectives; a resource objective here is not judged (see
/// [`evaluate_with`]).
pub fn evaluate(slos: &[Slo], latencies: &Latencies) -> Vec<SloResult> {
    evaluate_with(slos, latencies, None)
}

/// Evaluates every objective: latency ones against `latencies`, resource ones against
/// `resources` (`None`: the run sampled none).
pub fn evaluate_with(
    slos: &[Slo],
    latencies: &Latencies,
    resources: Option<&Resources>,
) -> Vec<SloResult> {
    slos.iter()
        .map(|slo| {
            let observation = match &slo.metric {
                SloMetric::Resource { series, statistic } => {
                    observe_resource(series, *statistic, resources)
                }
                metric => {
                    let (value, unit) = observe(metric, latencies);
                    Observation {
                        value,
                        unit: unit.to_owned(),
                        note: None,
                    }
                }
            };
            let verdict = match observation.value {
                Some(value) if slo.comparison.holds(value, slo.threshold) => Verdict::Pass,
                Some(_) => Verdict::Fail,
                None => Verdict::Unknown,
            };
            SloResult {
                slo: slo.text.clone(),
                observed: observation.value,
                threshold: slo.threshold,
                unit: observation.unit,
                verdict,
                note: observation.note,
            }
        })
        .collect()
}

/// What one objective observed.
struct Observation {
    value: Option<f64>,
    unit: String,
    note: Option<String>,
}

/// A resource statistic of `series`, or why it cannot be judged.
fn observe_resource(
    series: &str,
    statistic: ResourceStatistic,
    resources: Option<&Resources>,
) -> Observation {
    let unknown = |why: String| Observation {
        value: None,
        unit: String::new(),
        note: Some(format!("not judged: {why}")),
    };
    let Some(resources) = resources else {
        return unknown("series absent: the run sampled no resources (no resources.jsonl)".into());
    };
    if let Some(why) = resources.absent_why(series) {
        return unknown(format!("series absent: {why}"));
    }
    let points = resources.points(series);
    if points.is_empty() {
        return unknown(format!("series absent: no sample holds `{series}`"));
    }
    let unit = resources.unit(series).unwrap_or(resources::Unit::Unknown);
    match statistic {
        ResourceStatistic::Max => Observation {
            value: resources::max(&points),
            unit: unit.as_str().to_owned(),
            note: None,
        },
        ResourceStatistic::Growth => match resources::growth(&points) {
            Some(growth) => Observation {
                value: Some(growth.ratio),
                unit: "ratio".to_owned(),
                note: Some(format!(
                    "second half from {} to {}",
                    crate::units::slo_value(growth.first, unit.as_str()),
                    crate::units::slo_value(growth.last, unit.as_str()),
                )),
            },
            None => unknown(format!(
                "too few samples: a growth needs {} in the run's second half",
                resources::GROWTH_SAMPLES_MIN
            )),
        },
    }
}

fn observe(metric: &SloMetric, latencies: &Latencies) -> (Option<f64>, &'static str) {
    match *metric {
        SloMetric::Latency { op, statistic } => {
            let histogram = latencies
                .ops
                .get(&op)
                .map(|op| &op.corrected)
                .filter(|histogram| !histogram.is_empty());
            let value = histogram.map(|histogram| match statistic {
                Statistic::Percentile(percentile) => {
                    histogram.value_at_percentile(percentile) as f64
                }
                Statistic::Max => histogram.max() as f64,
                Statistic::Mean => histogram.mean(),
            });
            (value, "us")
        }
        SloMetric::ErrorRate => (latencies.error_rate(), "ratio"),
        SloMetric::Throughput => (latencies.throughput_per_s(), "ops/s"),
        SloMetric::Resource { .. } => (None, ""),
    }
}
