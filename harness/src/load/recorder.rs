//! The one task that records the load: shoppers send each finished cart's entries
//! (a per-user buffer, one message per cart) over a bounded channel; the recorder
//! appends them to the history file as they come (the run's `HistoryWriter`, flushed
//! on its timer too), feeds the latency histograms and the pacing counts, prints live
//! progress, and notices a target that stopped answering. It keeps no entry: its memory
//! is the histograms and per-user counters, whatever the length of the run. One
//! consumer and one message per cart keep recording off the request path: a shopper's
//! only cost is a channel send after its cart.
//!
//! Not here: the history's other entries (seeding, final reads, faults: the run), checks.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::pacing::{Pacing, is_late};
use super::progress::{Progress, ProgressMode};
use crate::history::{HistoryEntry, HistoryError, HistoryWriter, Op, Outcome};
use crate::latency::Latencies;

/// Messages in flight to the recorder: a few seconds of carts at 20k carts/s. A full
/// channel makes shoppers wait, which shows up as late starts, never as lost records.
pub const RECORDER_CHANNEL_CAPACITY: usize = 65_536;
/// With no reply at all for this long while requests keep failing, the target is taken
/// for dead and the load stops (the run then judges what was recorded).
pub const TARGET_SILENT_ABORT: Duration = Duration::from_secs(5);
/// How often the recorder wakes to print progress and look for a dead target.
const RECORDER_TICK: Duration = Duration::from_millis(250);

/// How an open-model cart's start related to its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotStart {
    /// µs since the run's zero of the user's schedule origin on the common grid (`Pacing::grid_origin`).
    pub(crate) origin_us: u64,
    pub(crate) slot: u64,
    pub(crate) lateness_us: u64,
}

pub(crate) enum Record {
    /// One cart's ops, in invoke order.
    Cart {
        user: u32,
        entries: Vec<HistoryEntry>,
        slot: Option<SlotStart>,
    },
    /// An op the harness itself sent during the load (a scheduled restock).
    Harness(Box<HistoryEntry>),
    /// The load is over (every shopper has exited): finish up.
    End { load_end_us: u64 },
}

/// What the recorder counted besides the entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadCounts {
    pub carts: u64,
    pub ops: u64,
    pub ok: u64,
    pub fail: u64,
    pub unknown: u64,
    /// Open model: carts started more than the timer's tolerance after their slot.
    pub late_starts: u64,
    pub lateness_us_max: u64,
    /// Open model: slots due before the load ended that no cart started.
    pub dropped_starts: u64,
    /// Open model: slots due before the load ended (started or not).
    pub intended_starts: u64,
}

/// Everything the recorder kept.
#[derive(Debug)]
pub(crate) struct Recorded {
    /// The history writer handed in (every entry appended), or why appending failed.
    pub(crate) history: Result<Option<HistoryWriter>, HistoryError>,
    /// The latest deadline (ms since the epoch) of a hold the load made or may have made.
    pub(crate) latest_deadline_ms: Option<i64>,
    pub(crate) latencies: Latencies,
    pub(crate) counts: LoadCounts,
    /// Why the recorder stopped the load early, if it did.
    pub(crate) target_silent: Option<String>,
}

/// The recorder's settings.
#[derive(Debug, Clone)]
pub(crate) struct RecorderSettings {
    pub(crate) zero: Instant,
    /// The load's planned length (for progress), if it is time-bound.
    pub(crate) planned: Option<Duration>,
    /// When the load started, µs since `zero` (the progress line counts from here).
    pub(crate) load_started_us: u64,
    pub(crate) progress: ProgressMode,
    /// Open model: users and rate, to count dropped starts.
    pub(crate) arrival: Option<(f64, u32)>,
    /// µs since zero of the time-bound load's deadline: no cart starts after it, so
    /// slots due after it (while goose, which counts whole seconds, winds down) are
    /// not dropped starts.
    pub(crate) deadline_us: Option<u64>,
    /// Bumped per op received, for the fault schedule's `after_ops` triggers.
    pub(crate) ops_completed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Wall clock (ms since the epoch) at `zero`, to place an unanswered hold's deadline.
    pub(crate) started_at_unix_ms: i64,
}

pub(crate) fn channel() -> (mpsc::Sender<Record>, mpsc::Receiver<Record>) {
    mpsc::channel(RECORDER_CHANNEL_CAPACITY)
}

/// Runs until [`Record::End`] (or until every sender is gone).
pub(crate) async fn run(
    mut records: mpsc::Receiver<Record>,
    settings: RecorderSettings,
    history: Option<HistoryWriter>,
) -> Recorded {
    let mut state = State::new(&settings, history);
    let mut tick = tokio::time::interval(RECORDER_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut load_end_us = None;
    while load_end_us.is_none() {
        tokio::select! {
            record = records.recv() => match record {
                Some(Record::Cart { user, entries, slot }) => state.cart(user, entries, slot),
                Some(Record::Harness(entry)) => state.entry(*entry),
                Some(Record::End { load_end_us: end }) => load_end_us = Some(end),
                None => load_end_us = Some(micros_since(settings.zero)),
            },
            _ = tick.tick() => state.tick(micros_since(settings.zero)),
        }
    }
    let load_end_us = load_end_us.unwrap_or_default();
    state
        .progress
        .finish(load_end_us, &state.counts, &state.latencies);
    let slots_end_us = settings
        .deadline_us
        .map_or(load_end_us, |deadline| deadline.min(load_end_us));
    state.finish(slots_end_us, settings.arrival)
}

pub(crate) fn micros_since(zero: Instant) -> u64 {
    u64::try_from(zero.elapsed().as_micros()).unwrap_or(u64::MAX)
}

struct State {
    history: Result<Option<HistoryWriter>, HistoryError>,
    started_at_unix_ms: i64,
    latest_deadline_ms: Option<i64>,
    latencies: Latencies,
    counts: LoadCounts,
    progress: Progress,
    /// Open model, per user: schedule origin and slots started.
    slots: HashMap<u32, (u64, u64)>,
    last_reply_us: u64,
    failed_without_reply: u64,
    target_silent: Option<String>,
    ops_completed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl State {
    fn new(settings: &RecorderSettings, history: Option<HistoryWriter>) -> State {
        State {
            history: Ok(history),
            started_at_unix_ms: settings.started_at_unix_ms,
            latest_deadline_ms: None,
            latencies: Latencies::default(),
            counts: LoadCounts::default(),
            progress: Progress::new(
                settings.progress,
                settings.planned,
                settings.load_started_us,
            ),
            slots: HashMap::new(),
            last_reply_us: micros_since(settings.zero),
            failed_without_reply: 0,
            target_silent: None,
            ops_completed: std::sync::Arc::clone(&settings.ops_completed),
        }
    }

    fn cart(&mut self, user: u32, entries: Vec<HistoryEntry>, slot: Option<SlotStart>) {
        self.counts.carts += 1;
        if let Some(slot) = slot {
            if is_late(Duration::from_micros(slot.lateness_us)) {
                self.counts.late_starts += 1;
            }
            self.counts.lateness_us_max = self.counts.lateness_us_max.max(slot.lateness_us);
            let started = self.slots.entry(user).or_insert((slot.origin_us, 0));
            started.1 = started.1.max(slot.slot + 1);
        }
        for entry in entries {
            self.entry(entry);
        }
    }

    fn entry(&mut self, entry: HistoryEntry) {
        self.counts.ops += 1;
        self.ops_completed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match entry.outcome {
            Outcome::Ok => self.counts.ok += 1,
            Outcome::Fail => self.counts.fail += 1,
            Outcome::Unknown => self.counts.unknown += 1,
        }
        if entry.status.is_some() {
            self.last_reply_us = self.last_reply_us.max(entry.complete_us);
            self.failed_without_reply = 0;
        } else {
            self.failed_without_reply += 1;
        }
        self.latencies.record(&entry);
        let deadline = hold_deadline_ms(&entry, self.started_at_unix_ms);
        self.latest_deadline_ms = self.latest_deadline_ms.max(deadline);
        self.write(|history| history.append(&entry));
    }

    /// Applies `action` to the history writer; on its first error, drops the writer
    /// and keeps the error (the run then fails naming it).
    fn write(&mut self, action: impl FnOnce(&mut HistoryWriter) -> Result<(), HistoryError>) {
        if let Ok(Some(history)) = &mut self.history
            && let Err(error) = action(history)
        {
            self.history = Err(error);
        }
    }

    fn tick(&mut self, now_us: u64) {
        self.write(HistoryWriter::flush_if_due);
        self.progress.tick(now_us, &self.counts, &self.latencies);
        let silent = Duration::from_micros(now_us.saturating_sub(self.last_reply_us));
        if self.target_silent.is_none()
            && self.failed_without_reply > 0
            && silent >= TARGET_SILENT_ABORT
        {
            let reason = format!(
                "the target stopped answering: no reply for {} s while {} requests failed \
                 without one",
                silent.as_secs(),
                self.failed_without_reply
            );
            tracing::warn!("{reason}; stopping the load");
            goose::trigger_killswitch(&reason);
            self.target_silent = Some(reason);
        }
    }

    /// Counts the slots due before `slots_end_us` that no cart started.
    fn finish(mut self, slots_end_us: u64, arrival: Option<(f64, u32)>) -> Recorded {
        if let Some((rate_per_s, users)) = arrival {
            for (user, (origin_us, started)) in &self.slots {
                let pacing = Pacing::new(rate_per_s, users, user.saturating_sub(1));
                let elapsed = Duration::from_micros(slots_end_us.saturating_sub(*origin_us));
                let due = pacing.slots_due_before(elapsed).max(*started);
                self.counts.intended_starts += due;
                self.counts.dropped_starts += due - started;
            }
        }
        Recorded {
            history: self.history,
            latest_deadline_ms: self.latest_deadline_ms,
            latencies: self.latencies,
            counts: self.counts,
            target_silent: self.target_silent,
        }
    }
}

/// The deadline (ms since the epoch) of a hold `entry` made or may have made: a reply
/// carries it; a reserve with no reply could have been made as late as its completion
/// plus its TTL.
pub(crate) fn hold_deadline_ms(entry: &HistoryEntry, started_at_unix_ms: i64) -> Option<i64> {
    match (&entry.op, entry.outcome) {
        (Op::Reserve { .. }, Outcome::Ok) => entry.response.as_ref()?.deadline_ms,
        (Op::Reserve { ttl_ms, .. }, Outcome::Unknown) => {
            let complete_ms = i64::try_from(entry.complete_us / 1_000).unwrap_or(i64::MAX);
            Some(
                started_at_unix_ms
                    .saturating_add(complete_ms)
                    .saturating_add(*ttl_ms),
            )
        }
        _ => None,
    }
}
