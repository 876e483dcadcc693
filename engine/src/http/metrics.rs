//! [`ServiceMetrics`]: the Prometheus metrics of one server, rendered by `GET /metrics`.
//!
//! The recorder is owned by the server (built with `PrometheusBuilder::build_recorder`,
//! used through `metrics::with_local_recorder`), never installed as the process-wide
//! global: several servers in one test binary each count their own requests, and a
//! library embedding the service keeps its own global recorder. The flip side: code that
//! calls the `metrics` macros outside these methods records into the global recorder,
//! not here; everything the service reports goes through this type.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Latency buckets in seconds: 100 µs (a Redis round trip on loopback) to 10 s (beyond
/// the request timeout), about three per decade.
const LATENCY_BUCKETS_SECONDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

pub const REQUESTS_TOTAL: &str = "stockproof_http_requests_total";
pub const REQUEST_DURATION_SECONDS: &str = "stockproof_http_request_duration_seconds";
pub const LEDGER_LAG_EVENTS: &str = "stockproof_ledger_lag_events";
pub const LEDGER_LAG_AGE_SECONDS: &str = "stockproof_ledger_lag_age_seconds";
pub const SWEEPER_EXPIRATIONS_TOTAL: &str = "stockproof_sweeper_expirations_total";
pub const RECOVERIES_TOTAL: &str = "stockproof_recoveries_total";
/// `pg-optimistic` only (absent for the other strategies): attempts rolled back on a
/// version conflict, and operations refused with 503 after the retry budget.
pub const OPTIMISTIC_CONFLICTS_TOTAL: &str = "stockproof_optimistic_conflicts_total";
pub const OPTIMISTIC_EXHAUSTED_TOTAL: &str = "stockproof_optimistic_exhausted_total";

/// Requests between two drains of the recorded latencies into their buckets. The
/// recorder keeps every histogram sample (8 bytes and more) until an upkeep drains
/// it, and `build_recorder` starts no upkeep task: unscraped, a server answering
/// 20k requests/s grew by ~400 KB/s (a 10-minute flash sale: ~250 MB, a soak: without
/// end). Draining every 1,024 requests bounds it at a few KB.
const UPKEEP_EVERY_REQUESTS: u64 = 1024;

/// One server's metrics.
#[derive(Debug)]
pub struct ServiceMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Requests recorded: every [`UPKEEP_EVERY_REQUESTS`]th runs the upkeep.
    requests: AtomicU64,
}

impl Default for ServiceMetrics {
    fn default() -> Self {
        ServiceMetrics::new()
    }
}

impl ServiceMetrics {
    pub fn new() -> ServiceMetrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(REQUEST_DURATION_SECONDS.to_owned()),
                &LATENCY_BUCKETS_SECONDS,
            )
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        let metrics = ServiceMetrics {
            recorder,
            handle,
            requests: AtomicU64::new(0),
        };
        metrics.describe();
        metrics
    }

    fn describe(&self) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::describe_counter!(
                REQUESTS_TOTAL,
                "HTTP requests answered, by route, method and status"
            );
            metrics::describe_histogram!(
                REQUEST_DURATION_SECONDS,
                metrics::Unit::Seconds,
                "HTTP request latency, by route and method"
            );
            metrics::describe_gauge!(
                LEDGER_LAG_EVENTS,
                "Ledger events in Redis not yet committed to Postgres"
            );
            metrics::describe_gauge!(
                LEDGER_LAG_AGE_SECONDS,
                metrics::Unit::Seconds,
                "Age of the oldest ledger event not yet committed to Postgres"
            );
            metrics::describe_counter!(
                SWEEPER_EXPIRATIONS_TOTAL,
                "Reservations the sweeper expired"
            );
            metrics::describe_counter!(
                RECOVERIES_TOTAL,
                "Start-ups that rebuilt Redis from the Postgres ledger"
            );
            // Present from the start (at 0), so a dashboard sees the series before the
            // first event.
            metrics::counter!(SWEEPER_EXPIRATIONS_TOTAL).absolute(0);
            metrics::counter!(RECOVERIES_TOTAL).absolute(0);
            metrics::gauge!(LEDGER_LAG_EVENTS).set(0.0);
            metrics::gauge!(LEDGER_LAG_AGE_SECONDS).set(0.0);
        });
    }

    pub fn record_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        metrics::with_local_recorder(&self.recorder, || {
            let labels = [
                ("route", route.to_owned()),
                ("method", method.to_owned()),
                ("status", status.to_string()),
            ];
            metrics::counter!(REQUESTS_TOTAL, &labels).increment(1);
            let labels = [("route", route.to_owned()), ("method", method.to_owned())];
            metrics::histogram!(REQUEST_DURATION_SECONDS, &labels).record(elapsed.as_secs_f64());
        });
        if self.upkeep_due() {
            self.handle.run_upkeep();
        }
    }

    /// Counts a request; true once every [`UPKEEP_EVERY_REQUESTS`].
    fn upkeep_due(&self) -> bool {
        let recorded = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        recorded.is_multiple_of(UPKEEP_EVERY_REQUESTS)
    }

    pub fn set_ledger_lag(&self, events: u64, age: Duration) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::gauge!(LEDGER_LAG_EVENTS).set(events as f64);
            metrics::gauge!(LEDGER_LAG_AGE_SECONDS).set(age.as_secs_f64());
        });
    }

    pub fn add_expirations(&self, expired: u64) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(SWEEPER_EXPIRATIONS_TOTAL).increment(expired);
        });
    }

    pub fn add_recovery(&self) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(RECOVERIES_TOTAL).increment(1);
        });
    }

    /// Declares the `pg-optimistic` counters at 0 (called by that strategy only, so
    /// the other strategies' exposition is unchanged).
    pub fn describe_optimistic(&self) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::describe_counter!(
                OPTIMISTIC_CONFLICTS_TOTAL,
                "Optimistic attempts rolled back because a row's version had moved"
            );
            metrics::describe_counter!(
                OPTIMISTIC_EXHAUSTED_TOTAL,
                "Operations refused with 503 after the optimistic retry budget"
            );
            metrics::counter!(OPTIMISTIC_CONFLICTS_TOTAL).absolute(0);
            metrics::counter!(OPTIMISTIC_EXHAUSTED_TOTAL).absolute(0);
        });
    }

    pub fn add_optimistic(&self, conflicts: u64, exhausted: u64) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(OPTIMISTIC_CONFLICTS_TOTAL).increment(conflicts);
            metrics::counter!(OPTIMISTIC_EXHAUSTED_TOTAL).increment(exhausted);
        });
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_latencies_are_drained_every_so_many_requests_and_still_counted() {
        let metrics = ServiceMetrics::new();
        let due = (0..3 * UPKEEP_EVERY_REQUESTS)
            .filter(|_| metrics.upkeep_due())
            .count();
        assert_eq!(due, 3);
        for _ in 0..2 * UPKEEP_EVERY_REQUESTS + 5 {
            metrics.record_request("/skus/{sku}", "GET", 200, Duration::from_millis(3));
        }
        let count = format!(
            "{REQUEST_DURATION_SECONDS}_count{{route=\"/skus/{{sku}}\",method=\"GET\"}} {}",
            2 * UPKEEP_EVERY_REQUESTS + 5
        );
        let text = metrics.render();
        assert!(text.contains(&count), "{count} not in:\n{text}");
    }
}
