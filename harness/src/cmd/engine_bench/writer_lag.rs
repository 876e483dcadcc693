//! The ledger writer's side of an engine-bench row: the real [`LedgerWriter`] runs
//! against the real Postgres while the row's callers reserve, and a sampler reads its
//! lag (events not yet written, age of the oldest) every [`LAG_SAMPLE_MS`]. A row's
//! verdict comes from the lag's trend over the row — does the unwritten count grow
//! with time? — never from absolute timings, which this shared machine makes noisy.
//!
//! Not here: the reserve callers and the table (`engine_bench`).

use std::time::{Duration, Instant};

use anyhow::Context;
use redis::aio::MultiplexedConnection;
use stockproof_engine::ShopKeys;
use stockproof_engine::ledger::{self, WriterLag};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Interval between two lag samples: ~20 per second of row, enough for a trend,
/// few enough (3 small commands each) not to weigh on Redis.
pub(super) const LAG_SAMPLE_MS: u64 = 50;
/// The writer falls behind when its unwritten count grows faster than this share of
/// the events the row produces per second. A writer that keeps up shows a sawtooth
/// of about one batch around a flat line; one that cannot shows a slope of
/// (produced − written) events/s.
pub(super) const LAG_GROWTH_SHARE_MAX: f64 = 0.05;

/// One lag reading, `at` after the row started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LagSample {
    pub(super) at: Duration,
    pub(super) unwritten_events: u64,
    pub(super) oldest_age_ms: u64,
}

impl LagSample {
    fn new(at: Duration, lag: WriterLag) -> LagSample {
        LagSample {
            at,
            unwritten_events: lag.unwritten_events(),
            oldest_age_ms: lag.oldest_unwritten_age_ms.unwrap_or(0),
        }
    }
}

/// A task sampling the writer's lag until [`LagSampler::stop`].
#[derive(Debug)]
pub(super) struct LagSampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<Vec<LagSample>>>,
}

impl LagSampler {
    /// Takes the first sample now (the row's start), then one every [`LAG_SAMPLE_MS`].
    pub(super) fn start(
        mut connection: MultiplexedConnection,
        keys: ShopKeys,
        started: Instant,
    ) -> LagSampler {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut ticks = tokio::time::interval(Duration::from_millis(LAG_SAMPLE_MS));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = ticks.tick() => {}
                }
                let lag = ledger::lag(&mut connection, &keys)
                    .await
                    .context("sampling the writer's lag")?;
                samples.push(LagSample::new(started.elapsed(), lag));
            }
            // The row's end: the sample taken when its load stopped.
            let lag = ledger::lag(&mut connection, &keys)
                .await
                .context("sampling the writer's lag")?;
            samples.push(LagSample::new(started.elapsed(), lag));
            Ok(samples)
        });
        LagSampler { stop, task }
    }

    /// Stops sampling; returns every sample, the last one taken now.
    pub(super) async fn stop(self) -> anyhow::Result<Vec<LagSample>> {
        // The task may have ended on an error already; its result says which.
        let _ = self.stop.send(());
        self.task.await.context("lag sampler task")?
    }
}

/// Whether the writer kept up with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriterVerdict {
    KeepsUp,
    FallsBehind,
}

impl WriterVerdict {
    pub(super) fn label(self) -> &'static str {
        match self {
            WriterVerdict::KeepsUp => "keeps up: lag bounded",
            WriterVerdict::FallsBehind => "falls behind: lag growing",
        }
    }
}

/// The writer's figures over one row.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct WriterRow {
    pub(super) events_per_second: f64,
    pub(super) written_per_second: f64,
    pub(super) start: LagSample,
    pub(super) max_unwritten_events: u64,
    pub(super) max_oldest_age_ms: u64,
    pub(super) end: LagSample,
    /// Least-squares slope of the unwritten count over the row, events/s.
    pub(super) growth_per_second: f64,
    /// After the load stopped, until nothing was unwritten.
    pub(super) drained_in: Duration,
    pub(super) verdict: WriterVerdict,
}

impl WriterRow {
    /// `samples` in time order, at least the start and the end; `batch_events_max` is
    /// the writer's batch bound (a backlog below one batch is batching, not lag).
    pub(super) fn new(
        samples: &[LagSample],
        batch_events_max: usize,
        events_produced: u64,
        events_written: u64,
        elapsed: Duration,
        drained_in: Duration,
    ) -> anyhow::Result<WriterRow> {
        let (Some(&start), Some(&end)) = (samples.first(), samples.last()) else {
            anyhow::bail!("no lag sample was taken during the row");
        };
        let seconds = elapsed.as_secs_f64();
        let events_per_second = events_produced as f64 / seconds;
        let growth_per_second = slope(samples);
        Ok(WriterRow {
            events_per_second,
            written_per_second: events_written as f64 / seconds,
            start,
            max_unwritten_events: samples
                .iter()
                .map(|s| s.unwritten_events)
                .max()
                .unwrap_or(0),
            max_oldest_age_ms: samples.iter().map(|s| s.oldest_age_ms).max().unwrap_or(0),
            end,
            growth_per_second,
            drained_in,
            verdict: verdict(
                growth_per_second,
                events_per_second,
                end.unwritten_events,
                batch_events_max,
            ),
        })
    }
}

/// Falls behind when the unwritten count grows by more than [`LAG_GROWTH_SHARE_MAX`]
/// of the event rate and ends above one full batch (below that, the count is within
/// the writer's own batching granularity whatever its slope).
pub(super) fn verdict(
    growth_per_second: f64,
    events_per_second: f64,
    unwritten_at_end: u64,
    batch_events_max: usize,
) -> WriterVerdict {
    let growing = growth_per_second > LAG_GROWTH_SHARE_MAX * events_per_second;
    if growing && unwritten_at_end > batch_events_max as u64 {
        WriterVerdict::FallsBehind
    } else {
        WriterVerdict::KeepsUp
    }
}

/// Least-squares slope of the unwritten count against time, in events/s; 0 with
/// fewer than two distinct sample times.
pub(super) fn slope(samples: &[LagSample]) -> f64 {
    let count = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_t = samples.iter().map(|s| s.at.as_secs_f64()).sum::<f64>() / count;
    let mean_y = samples
        .iter()
        .map(|s| s.unwritten_events as f64)
        .sum::<f64>()
        / count;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for sample in samples {
        let dt = sample.at.as_secs_f64() - mean_t;
        covariance += dt * (sample.unwritten_events as f64 - mean_y);
        variance += dt * dt;
    }
    if variance == 0.0 {
        0.0
    } else {
        covariance / variance
    }
}

/// Waits until the writer has written everything, up to `wait_ms_max`; returns how
/// long that took.
pub(super) async fn wait_drained(
    connection: &mut MultiplexedConnection,
    keys: &ShopKeys,
    wait_ms_max: u64,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    ledger::wait_drained(connection, keys, wait_ms_max)
        .await
        .context("waiting for the ledger writer to catch up")?;
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests;
