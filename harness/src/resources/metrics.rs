//! An external target's Prometheus `/metrics`, scraped once a second during the load.
//! The text exposition format is parsed by the `prometheus-parse` crate; counters,
//! gauges and untyped samples are kept (a histogram's buckets and a summary's quantiles
//! are not single series; their `_sum` and `_count` are kept as counters). A series is named as stockproof writes it: the metric's name, then its
//! labels sorted by name (`http_inflight{route="reserve"}`). Which series are recorded
//! is fixed by the first scrape: the ones the scenario's resource SLOs name, then
//! gauges in name order up to [`METRICS_SERIES_MAX`] in all.
//!
//! Not here: the loop and the file (`super`).

use std::collections::BTreeMap;

use stockproof_checks::resources::Unit;

use super::{PROBE_TIMEOUT, ProbeValues};

/// Series recorded from one target's `/metrics`: enough for the gauges a service
/// exports about itself (memory, queues, pools), few enough for the report's charts.
pub const METRICS_SERIES_MAX: usize = 32;
/// Largest `/metrics` body read: a service's exposition is kilobytes; more is not one.
pub const METRICS_BODY_BYTES_MAX: usize = 4 * 1024 * 1024;

/// One scrape: every counter, gauge and untyped series with its value, and whether it
/// is a gauge.
pub(super) type Scrape = BTreeMap<String, (f64, bool)>;

/// A target's `/metrics`.
#[derive(Debug)]
pub(super) struct MetricsProbe {
    pub(super) url: String,
    client: reqwest::Client,
    /// The series recorded, fixed by the first scrape.
    pub(super) series: Vec<String>,
}

impl MetricsProbe {
    /// Scrapes `url` once and picks the series to record: every one of `wanted`
    /// (missing ones are the caller's error), then gauges.
    pub(super) async fn start(
        url: &str,
        wanted: &[String],
    ) -> Result<(MetricsProbe, Scrape), String> {
        let client = reqwest::Client::builder()
            .timeout(PROBE_TIMEOUT)
            .build()
            .map_err(|error| error.to_string())?;
        let mut probe = MetricsProbe {
            url: url.to_owned(),
            client,
            series: Vec::new(),
        };
        let first = probe.scrape().await?;
        let mut series: Vec<String> = wanted
            .iter()
            .filter(|name| first.contains_key(*name))
            .cloned()
            .collect();
        for (name, (_, gauge)) in &first {
            if series.len() >= METRICS_SERIES_MAX {
                break;
            }
            if *gauge && !series.contains(name) {
                series.push(name.clone());
            }
        }
        probe.series = series;
        Ok((probe, first))
    }

    /// One sample of the recorded series.
    pub(super) async fn sample(&mut self, values: &mut ProbeValues) {
        match self.scrape().await {
            Ok(scrape) => {
                for name in &self.series {
                    values.set_or_fail(name, scrape.get(name).map(|(value, _)| *value));
                }
            }
            Err(_) => self.series.iter().for_each(|name| values.failed(name)),
        }
    }

    async fn scrape(&self) -> Result<Scrape, String> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| format!("GET {}: {error}", self.url))?;
        let body = response
            .text()
            .await
            .map_err(|error| format!("GET {}: {error}", self.url))?;
        if body.len() > METRICS_BODY_BYTES_MAX {
            return Err(format!(
                "GET {}: {} bytes, more than {METRICS_BODY_BYTES_MAX}",
                self.url,
                body.len()
            ));
        }
        parse(&body)
            .map_err(|error| format!("GET {}: not the Prometheus text format: {error}", self.url))
    }
}

/// Counters, gauges and untyped samples of a text exposition, by series name.
pub(super) fn parse(body: &str) -> Result<Scrape, std::io::Error> {
    let lines = body.lines().map(|line| Ok(line.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines)?;
    let mut series = Scrape::new();
    for sample in scrape.samples {
        let (value, gauge) = match sample.value {
            prometheus_parse::Value::Gauge(value) => (value, true),
            prometheus_parse::Value::Counter(value) | prometheus_parse::Value::Untyped(value) => {
                (value, false)
            }
            prometheus_parse::Value::Histogram(_) | prometheus_parse::Value::Summary(_) => continue,
        };
        if !value.is_finite() {
            continue;
        }
        let name = if sample.labels.is_empty() {
            sample.metric
        } else {
            format!("{}{{{}}}", sample.metric, sample.labels)
        };
        series.insert(name, (value, gauge));
    }
    Ok(series)
}

/// A Prometheus series' unit from its name's suffix (`_bytes`, `_seconds`), the
/// format's convention.
pub(super) fn unit_of(series: &str) -> Unit {
    let name = series.split('{').next().unwrap_or(series);
    if name.ends_with("_bytes") {
        Unit::Bytes
    } else if name.ends_with("_seconds") {
        Unit::Seconds
    } else {
        Unit::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: gauges, counters and labelled series are read; histogram buckets are not.
    // Method: parse a small exposition with each kind.
    #[test]
    fn parses_gauges_counters_and_labels() {
        let body = "# TYPE mem_bytes gauge\nmem_bytes 1024\n\
                    # TYPE reqs_total counter\nreqs_total{route=\"b\",code=\"200\"} 7\n\
                    # TYPE lat_seconds histogram\nlat_seconds_bucket{le=\"1\"} 3\n\
                    lat_seconds_bucket{le=\"+Inf\"} 3\nlat_seconds_sum 1\nlat_seconds_count 3\n";
        let scrape = parse(body).expect("parse");
        assert_eq!(scrape.get("mem_bytes"), Some(&(1024.0, true)));
        assert_eq!(
            scrape.get("reqs_total{code=\"200\",route=\"b\"}"),
            Some(&(7.0, false))
        );
        // A histogram's buckets are not one series; its _sum and _count are counters.
        assert!(
            !scrape.keys().any(|name| name.contains("le=")),
            "{scrape:?}"
        );
        assert_eq!(scrape.get("lat_seconds_count"), Some(&(3.0, false)));
        assert_eq!(unit_of("mem_bytes"), Unit::Bytes);
    }
}
