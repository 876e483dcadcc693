//! Service-level objectives: [`Slo`]s as a scenario writes them (`spec`), and each
//! evaluated against a run's [`Latencies`] (latency objectives use the
//! coordinated-omission-corrected histograms). An SLO on an operation that never ran is
//! `Unknown`, not met by default.

use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::latency::Latencies;

mod spec;

pub use spec::{Comparison, Slo, SloMetric, Statistic};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloResult {
    /// The SLO as written (`reserve.p99 <= 25ms`).
    pub slo: String,
    /// Observed value in the metric's base unit (µs, fraction, ops/s).
    pub observed: Option<f64>,
    pub threshold: f64,
    /// `us`, `ratio` or `ops/s`.
    pub unit: String,
    pub verdict: Verdict,
}

pub fn evaluate(slos: &[Slo], latencies: &Latencies) -> Vec<SloResult> {
    slos.iter()
        .map(|slo| {
            let (observed, unit) = observe(slo.metric, latencies);
            let verdict = match observed {
                Some(value) if slo.comparison.holds(value, slo.threshold) => Verdict::Pass,
                Some(_) => Verdict::Fail,
                None => Verdict::Unknown,
            };
            SloResult {
                slo: slo.text.clone(),
                observed,
                threshold: slo.threshold,
                unit: unit.to_owned(),
                verdict,
            }
        })
        .collect()
}

fn observe(metric: SloMetric, latencies: &Latencies) -> (Option<f64>, &'static str) {
    match metric {
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
    }
}
