//! The target's resources, sampled once a second while the load runs, into the run
//! folder's `resources.jsonl` (format: `stockproof_checks::resources`): for the
//! in-process engine its stores and the ledger writer's lag (`engine`), for an
//! external target its Prometheus `/metrics` when the adapter or `--metrics` names one
//! (`metrics`), and always the harness's own resident memory (`rss`; in process it
//! holds the engine too). Resource SLOs that name a series the target cannot give are
//! refused before the load ([`Sampler::start`]); the judge marks any other missing one
//! "not judged".
//!
//! Not here: judging (`stockproof_checks::slo`), charts (`crate::report`).

mod engine;
mod metrics;
pub mod rss;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use stockproof_checks::resources::{
    RESOURCES_FORMAT_VERSION, ResourceSample, Resources, ResourcesHeader, SeriesInfo, Unit,
    builtin_unit,
};
use stockproof_engine::strategy::Strategy;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use metrics::{METRICS_BODY_BYTES_MAX, METRICS_SERIES_MAX};

/// Time between samples, by default (`--sample-interval`).
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// Shortest time between samples: each queries Redis and Postgres or scrapes the target.
pub const SAMPLE_INTERVAL_MIN: Duration = Duration::from_millis(100);
/// Bound on one probe (a Redis command, a query, a scrape): a sample at the default
/// interval must not run into the next (a shorter interval skips the ticks it
/// overruns).
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(800);
/// Samples kept in memory: a day at one a second. Past it every other sample is
/// dropped and the interval doubles, so a week's soak still fits (~10 MB).
pub const SAMPLES_MAX: usize = 86_400;

/// What is sampled.
#[derive(Debug, Clone)]
pub enum Source {
    /// The engine served in process, on these stores.
    InProcess {
        redis_url: String,
        database_url: String,
        shop: String,
        strategy: Strategy,
    },
    /// An external target, with its `/metrics` URL if one was named.
    External { metrics_url: Option<String> },
}

/// Why sampling cannot start as the scenario asks.
#[derive(Debug, thiserror::Error)]
pub enum ResourcesError {
    /// A resource SLO names a series this target cannot give.
    #[error("resource SLO `{slo}`: {reason}")]
    Unfit { slo: String, reason: String },
    /// The target's `/metrics` did not answer its first scrape.
    #[error("the target's metrics: {0}")]
    Metrics(String),
    #[error("the engine's stores: {0}")]
    Stores(String),
}

/// Values of one sample, and the series whose probe failed.
#[derive(Debug, Default)]
pub(crate) struct ProbeValues {
    values: BTreeMap<String, f64>,
    failed: Vec<String>,
}

impl ProbeValues {
    fn set(&mut self, name: &str, value: f64) {
        self.values.insert(name.to_owned(), value);
    }

    fn failed(&mut self, name: &str) {
        self.failed.push(name.to_owned());
    }

    fn set_or_fail(&mut self, name: &str, value: Option<f64>) {
        match value {
            Some(value) => self.set(name, value),
            None => self.failed(name),
        }
    }
}

enum Probe {
    Engine(Box<engine::EngineProbe>),
    Metrics(metrics::MetricsProbe),
    /// The harness's memory only.
    None,
}

/// The sampling task of one run.
#[derive(Debug)]
pub struct Sampler {
    task: JoinHandle<Resources>,
    stop: CancellationToken,
}

impl Sampler {
    /// Checks that every series `slos` (resource SLOs as written: `(text, series)`)
    /// names can be sampled from `source`, then starts sampling every `interval`;
    /// times are ms since `zero`.
    pub async fn start(
        source: &Source,
        slos: &[(String, String)],
        zero: Instant,
        interval: Duration,
    ) -> Result<Sampler, ResourcesError> {
        let wanted: Vec<String> = slos.iter().map(|(_, series)| series.clone()).collect();
        let (probe, mut header) = open(source, &wanted).await?;
        header.interval_ms = interval.as_millis() as u64;
        for (slo, series) in slos {
            let sampled = header.series.iter().any(|info| info.name == *series);
            if !sampled {
                let reason = unfit_reason(series, source, &header);
                return Err(ResourcesError::Unfit {
                    slo: slo.clone(),
                    reason,
                });
            }
        }
        let stop = CancellationToken::new();
        let task = tokio::spawn(sample_loop(probe, header, zero, stop.clone()));
        Ok(Sampler { task, stop })
    }

    /// Stops sampling and returns what was sampled (`None` if the task died).
    pub async fn finish(self) -> Option<Resources> {
        self.stop.cancel();
        self.task.await.ok()
    }
}

/// The probe for `source` and the header naming what it samples.
async fn open(
    source: &Source,
    wanted: &[String],
) -> Result<(Probe, ResourcesHeader), ResourcesError> {
    let rss = ("harness.rss".to_owned(), Unit::Bytes);
    let (probe, describe, mut series, absent) = match source {
        Source::InProcess {
            redis_url,
            database_url,
            shop,
            strategy,
        } => {
            let probe = engine::EngineProbe::new(redis_url, database_url, shop, *strategy)
                .map_err(ResourcesError::Stores)?;
            let (series, absent) = engine::EngineProbe::series(*strategy);
            let describe = format!("in-process engine, strategy {strategy}");
            (Probe::Engine(Box::new(probe)), describe, series, absent)
        }
        Source::External {
            metrics_url: Some(url),
        } => {
            let (probe, _) = metrics::MetricsProbe::start(url, wanted)
                .await
                .map_err(ResourcesError::Metrics)?;
            let mut series: Vec<(String, Unit)> = probe
                .series
                .iter()
                .map(|name| (name.clone(), metrics::unit_of(name)))
                .collect();
            series.push(rss);
            (Probe::Metrics(probe), url.clone(), series, Vec::new())
        }
        Source::External { metrics_url: None } => (
            Probe::None,
            "external target without /metrics (harness memory only)".to_owned(),
            vec![rss],
            Vec::new(),
        ),
    };
    series.sort_by(|left, right| left.0.cmp(&right.0));
    series.dedup_by(|left, right| left.0 == right.0);
    let header = ResourcesHeader {
        version: RESOURCES_FORMAT_VERSION,
        source: describe,
        interval_ms: SAMPLE_INTERVAL.as_millis() as u64,
        series: series
            .into_iter()
            .map(|(name, unit)| SeriesInfo { name, unit })
            .collect(),
        absent,
        probe_errors: BTreeMap::new(),
    };
    Ok((probe, header))
}

/// Why `series` is not sampled from `source`.
fn unfit_reason(series: &str, source: &Source, header: &ResourcesHeader) -> String {
    if let Some(absent) = header.absent.iter().find(|absent| absent.name == series) {
        return format!("`{series}` is absent: {}", absent.why);
    }
    match (source, builtin_unit(series).is_some()) {
        (Source::InProcess { .. }, false) => format!(
            "`{series}` is a Prometheus series; the in-process engine is sampled for the builtin series only"
        ),
        (Source::External { metrics_url: None }, _) => format!(
            "`{series}` needs the target's metrics: give --metrics URL or the adapter's `metrics`"
        ),
        (Source::External { .. }, true) => format!(
            "`{series}` is sampled for the in-process engine only; name a series of the target's /metrics"
        ),
        (
            Source::External {
                metrics_url: Some(url),
            },
            false,
        ) => format!(
            "`{series}` is not among the counters and gauges of {url} (labels sorted by name, as `name{{a=\"x\",b=\"y\"}}`)"
        ),
        (Source::InProcess { .. }, true) => format!("`{series}` is not sampled"),
    }
}

async fn sample_loop(
    mut probe: Probe,
    mut header: ResourcesHeader,
    zero: Instant,
    stop: CancellationToken,
) -> Resources {
    let mut samples: Vec<ResourceSample> = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(header.interval_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut stride: u64 = 1;
    let mut tick: u64 = 0;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        tick += 1;
        if !(tick - 1).is_multiple_of(stride) {
            continue;
        }
        let mut values = ProbeValues::default();
        match &mut probe {
            Probe::Engine(engine) => engine.sample(&mut values).await,
            Probe::Metrics(metrics) => metrics.sample(&mut values).await,
            Probe::None => {}
        }
        let rss = rss::process_rss_bytes().map(|bytes| bytes as f64);
        values.set_or_fail("harness.rss", rss);
        for name in values.failed {
            *header.probe_errors.entry(name).or_default() += 1;
        }
        samples.push(ResourceSample {
            t_ms: zero.elapsed().as_millis() as u64,
            values: values.values,
        });
        if samples.len() >= SAMPLES_MAX {
            thin(&mut samples);
            stride *= 2;
            header.interval_ms *= 2;
        }
    }
    Resources { header, samples }
}

/// Keeps every other sample.
fn thin(samples: &mut Vec<ResourceSample>) {
    let mut index = 0;
    samples.retain(|_| {
        index += 1;
        index % 2 == 1
    });
}
