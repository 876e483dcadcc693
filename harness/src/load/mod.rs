//! The load: goose drives the target over HTTP, one goose user per shopper, each running
//! the seeded plan's carts, and every operation is recorded into the history with its
//! invoke and complete times (µs since the run's zero) and its outcome. [`run_load`]
//! is the whole of it: start the recorder, the scheduled restocks and the attack, wait
//! for the attack to end (its planned end, Ctrl-C, or a target that stopped answering),
//! and return what was recorded.
//!
//! Not here: scenario parsing and the plan (`crate::scenario`, `crate::plan`), the
//! target's set-up, quiesce and checks (`crate::run`, `crate::checks`).

mod attack;
pub mod interrupt;
pub mod noop;
pub mod pacing;
pub mod progress;
pub mod recorder;
mod shopper;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use self::progress::ProgressMode;
use self::recorder::{LoadCounts, Record, RecorderSettings, micros_since};
use crate::adapter::{Bound, Session};
use crate::history::{HistoryEntry, HistoryError, HistoryWriter, Op, OpId};
use crate::latency::Latencies;
use crate::plan::Plan;
use crate::plan::agent::AgentShare;
use crate::scenario::{Restock, Scenario, Stop};

/// How often the interrupt watcher re-trips goose's killswitch after a Ctrl-C: goose
/// clears the killswitch when an attack starts, so a signal just before that is
/// re-applied.
const INTERRUPT_WATCH_INTERVAL: Duration = Duration::from_millis(100);
/// Op ids below this are the harness's own (seeding, restocks); shoppers count up from it.
pub const SHOPPER_OP_ID_FIRST: OpId = 1 << 32;

/// Everything the load needs besides the plan.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The target and how to speak to it (its adapter, set up).
    pub target: Arc<Bound>,
    pub users: u32,
    pub hatch_rate_per_s: f64,
    /// A duration counts once every user has hatched (goose's run time).
    pub stop: Stop,
    /// Open model: carts started per second across all users.
    pub arrival_rate_per_s: Option<f64>,
    pub client_timeout: Duration,
    /// Pause before a retry after a reply or a timeout (`retry.backoff`).
    pub retry_backoff: Duration,
    /// Sent by the harness at their offsets from the load's start.
    pub restocks: Vec<Restock>,
    pub progress: ProgressMode,
    /// The run's time zero (recorded times are µs since it).
    pub zero: Instant,
    /// The first op id the harness's own ops (restocks) use; shoppers use ids from
    /// [`SHOPPER_OP_ID_FIRST`].
    pub harness_op_id_first: OpId,
    /// Ops the recorder has received so far (fault triggers `after_ops` read it).
    pub ops_completed: Arc<AtomicU64>,
    /// Wall clock (ms since the epoch) at `zero`.
    pub started_at_unix_ms: i64,
    /// Which of the plan's users this process runs (`--agent I/N`; all of them by
    /// default). `users` stays the plan's total: pacing is the whole plan's.
    pub share: AgentShare,
    /// Where the open model's slot grid counts from: `zero`, or for an agent the
    /// common start time, so that every agent's users take their slots on one grid.
    pub pacing_zero: Instant,
}

impl LoadSpec {
    /// The load `scenario` describes, against `target`.
    pub fn new(scenario: &Scenario, target: Arc<Bound>, zero: Instant) -> LoadSpec {
        LoadSpec {
            target,
            users: scenario.load.users,
            hatch_rate_per_s: scenario.load.hatch_rate_per_s,
            stop: scenario.load.stop,
            arrival_rate_per_s: scenario.load.arrival_rate_per_s,
            client_timeout: scenario.retry.client_timeout,
            retry_backoff: scenario.retry.backoff,
            restocks: scenario.restocks.clone(),
            progress: ProgressMode::detect(),
            zero,
            harness_op_id_first: 0,
            ops_completed: Arc::new(AtomicU64::new(0)),
            started_at_unix_ms: crate::run::quiesce::unix_ms(),
            share: AgentShare::WHOLE,
            pacing_zero: zero,
        }
    }

    /// The goose users this process runs: its share of the plan's users.
    pub fn share_users(&self) -> u32 {
        self.share.users(self.users)
    }

    /// How long the users take to hatch.
    pub fn ramp(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.users) / self.hatch_rate_per_s)
    }

    /// Ramp plus duration, for a time-bound load.
    pub fn planned(&self) -> Option<Duration> {
        match self.stop {
            Stop::Duration(duration) => Some(self.ramp() + duration),
            Stop::Iterations(_) => None,
        }
    }
}

/// What the load recorded.
#[derive(Debug)]
pub struct LoadRecord {
    /// The history writer handed to [`run_load`], every entry appended (in the order
    /// the recorder received them, cart by cart), or why appending failed.
    pub history: Result<Option<HistoryWriter>, HistoryError>,
    /// The latest deadline (ms since the epoch) of a hold the load made or may have made.
    pub latest_deadline_ms: Option<i64>,
    pub latencies: Latencies,
    pub counts: LoadCounts,
    /// µs since zero when the attack started and ended.
    pub started_us: u64,
    pub ended_us: u64,
    /// Ctrl-C or SIGTERM stopped the load early.
    pub interrupted: bool,
    /// The load stopped early because the target stopped answering.
    pub target_silent: Option<String>,
}

impl LoadRecord {
    /// Ops per second over the attack's whole length.
    pub fn ops_per_s(&self) -> f64 {
        let seconds = Duration::from_micros(self.ended_us.saturating_sub(self.started_us));
        self.counts.ops as f64 / seconds.as_secs_f64().max(1e-6)
    }
}

/// Why the load could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Interrupt(#[from] interrupt::InterruptError),
    #[error("goose: {0}")]
    Goose(String),
    #[error("the recorder task failed: {0}")]
    Recorder(String),
}

/// Runs the load of `spec`, each user running its carts of `plan`; every op is appended
/// to `history` as it is recorded (`None`: a load that is measured, not judged).
pub async fn run_load(
    spec: &LoadSpec,
    plan: &Plan,
    history: Option<HistoryWriter>,
) -> Result<LoadRecord, LoadError> {
    interrupt::install()?;
    let (records, received) = recorder::channel();
    let started_us = micros_since(spec.zero);
    let planned = spec.planned();
    let deadline = planned.map(|planned| Instant::now() + planned);
    let recorder = tokio::spawn(recorder::run(
        received,
        RecorderSettings {
            zero: spec.zero,
            planned,
            load_started_us: started_us,
            progress: spec.progress,
            arrival: spec.arrival_rate_per_s.map(|rate| (rate, spec.users)),
            deadline_us: deadline.map(|deadline| {
                u64::try_from(deadline.duration_since(spec.zero).as_micros()).unwrap_or(u64::MAX)
            }),
            ops_completed: Arc::clone(&spec.ops_completed),
            started_at_unix_ms: spec.started_at_unix_ms,
        },
        history,
    ));
    let shared = Arc::new(shopper::Shared {
        target: Arc::clone(&spec.target),
        plan: plan.clone(),
        zero: spec.zero,
        pacing_zero: spec.pacing_zero,
        deadline,
        users: spec.users,
        arrival_rate_per_s: spec.arrival_rate_per_s,
        client: wire::op_client(Some(spec.client_timeout)),
        client_timeout: spec.client_timeout,
        retry_backoff: spec.retry_backoff,
        share: spec.share,
        next_op: AtomicU64::new(spec.share.op_id_first()),
        records: records.clone(),
    });
    let (stop, stopped) = watch::channel(false);
    let restocks = tokio::spawn(restock_schedule(
        spec.clone(),
        records.clone(),
        stopped.clone(),
    ));
    let watcher = tokio::spawn(watch_interrupt(stopped));
    let attack = if interrupt::interrupted() {
        Ok(())
    } else {
        attack::execute(spec, shared.clone()).await
    };
    let _ = stop.send(true);
    let _ = restocks.await;
    let _ = watcher.await;
    let ended_us = micros_since(spec.zero);
    let _ = records
        .send(Record::End {
            load_end_us: ended_us,
        })
        .await;
    drop(shared);
    let recorded = recorder
        .await
        .map_err(|error| LoadError::Recorder(error.to_string()))?;
    attack?;
    Ok(LoadRecord {
        history: recorded.history,
        latest_deadline_ms: recorded.latest_deadline_ms,
        latencies: recorded.latencies,
        counts: recorded.counts,
        started_us,
        ended_us,
        interrupted: interrupt::interrupted(),
        target_silent: recorded.target_silent,
    })
}

/// Re-trips goose's killswitch while the run is interrupted, until the load stops.
async fn watch_interrupt(mut stopped: watch::Receiver<bool>) {
    loop {
        if interrupt::interrupted() {
            goose::trigger_killswitch(interrupt::INTERRUPT_REASON);
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERRUPT_WATCH_INTERVAL) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Sends the scenario's restocks at their offsets from the load's start; a restock
/// whose time comes after the load stopped is not sent.
async fn restock_schedule(
    spec: LoadSpec,
    records: mpsc::Sender<Record>,
    mut stopped: watch::Receiver<bool>,
) {
    let client = wire::op_client(Some(spec.client_timeout));
    let session = Session::new(0);
    let start = tokio::time::Instant::now();
    for (offset, restock) in spec.restocks.iter().enumerate() {
        tokio::select! {
            _ = tokio::time::sleep_until(start + restock.at) => {}
            _ = stopped.changed() => return,
        }
        let op = Op::Restock {
            sku: restock.sku.clone(),
            qty: restock.qty,
        };
        let invoke_us = micros_since(spec.zero);
        let reply = spec
            .target
            .send(&client, &op, spec.client_timeout, &session)
            .await;
        let entry = HistoryEntry {
            id: spec.harness_op_id_first + offset as OpId,
            user: None,
            op,
            intended_us: None,
            invoke_us,
            complete_us: micros_since(spec.zero),
            outcome: reply.outcome,
            status: reply.status,
            response: reply.response,
            retry_of: None,
        };
        if records
            .send(Record::Harness(Box::new(entry)))
            .await
            .is_err()
        {
            return;
        }
    }
}
