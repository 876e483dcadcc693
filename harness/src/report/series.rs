//! The time series report.html draws, computed from the run's data (no drawing here):
//! - latency per time bucket: p50, p99 and max of the bucket's interval histograms
//!   (`Latencies::ops[..].intervals`, the data latency.hlog holds) merged across op kinds;
//! - outcomes per bucket: ok, refused (`fail`) and unknown shopper ops per second;
//! - each SKU's stock (available, reserved, sold) over time, reconstructed from the
//!   acknowledged ops, beside the values the service replied (reads);
//! - where each violation falls in time and which SKUs it concerns.
//!
//! Buckets are whole seconds, widened so that a series holds at most
//! [`SERIES_POINTS_MAX`] points however long the run: merged histograms and summed
//! counts, so a wide bucket's p99 is the true p99 of its ops, never an average of p99s.
//!
//! Not here: drawing (`super::chart`), the page (`super::html`).

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use hdrhistogram::Histogram;
use stockproof_engine::ReservationState;

use crate::checks::window::shown_violations;
use crate::checks::{CheckId, CheckReport, Verdict, merge_cart};
use crate::history::{History, HistoryEntry, Op, OpId, Outcome};
use crate::latency::{INTERVAL_US, Latencies, new_histogram};

/// Points per drawn series: a chart is under 1,000 px wide, so more points draw nothing
/// new, and a long run's page would grow by megabytes.
pub const SERIES_POINTS_MAX: usize = 400;
/// SKUs given a stock chart: those with violations first, then the most active (ops
/// touching them). A flash sale has one SKU, a catalogue run hundreds; six charts show
/// the busy ones without turning the page into a scroll of look-alike lines.
pub const STOCK_CHARTS_MAX: usize = 6;
/// Reads drawn as dots per stock chart (evenly thinned beyond): in a flash sale every
/// refusal carries a read of `available`, thousands of them.
pub const STOCK_READS_SHOWN_MAX: usize = 300;

/// Time buckets of whole seconds covering a run's interval histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    pub width_s: usize,
    pub count: usize,
}

impl Buckets {
    /// Buckets over `seconds` one-second intervals: one per second while that makes at
    /// most [`SERIES_POINTS_MAX`], wider after.
    pub fn over(seconds: usize) -> Buckets {
        let width_s = seconds.div_ceil(SERIES_POINTS_MAX).max(1);
        Buckets {
            width_s,
            count: seconds.div_ceil(width_s),
        }
    }

    /// Where bucket `bucket`'s point is drawn: its middle, seconds since the run start.
    pub fn middle_s(&self, bucket: usize) -> f64 {
        (bucket as f64 + 0.5) * self.width_s as f64
    }

    /// The end of the last bucket, seconds since the run start.
    pub fn end_s(&self) -> f64 {
        (self.count * self.width_s) as f64
    }

    fn of_us(&self, at_us: u64) -> usize {
        (at_us / INTERVAL_US) as usize / self.width_s
    }
}

/// Latency of the shopper ops completed in one bucket (all op kinds merged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyBucket {
    pub ops: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// One entry per bucket; `ops == 0` where nothing completed (drawn as a gap).
pub fn latency_over_time(latencies: &Latencies, buckets: Buckets) -> Vec<LatencyBucket> {
    (0..buckets.count)
        .map(|bucket| {
            let mut merged: Histogram<u64> = new_histogram();
            let seconds = bucket * buckets.width_s..(bucket + 1) * buckets.width_s;
            for op in latencies.ops.values() {
                for interval in seconds
                    .clone()
                    .filter_map(|second| op.intervals.get(second))
                {
                    merged
                        .add(&*interval)
                        .expect("auto-resizing histograms add any other histogram");
                }
            }
            LatencyBucket {
                ops: merged.len(),
                p50_us: merged.value_at_quantile(0.5),
                p99_us: merged.value_at_quantile(0.99),
                max_us: merged.max(),
            }
        })
        .collect()
}

/// Shopper ops completed per second in one bucket, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OutcomeRates {
    pub ok_per_s: f64,
    pub refused_per_s: f64,
    pub unknown_per_s: f64,
}

/// One entry per bucket, counting the ops `Latencies` counts (a shopper's, by the
/// second it completed in), so the rates add up to the throughput.
pub fn outcomes_over_time(history: &History, buckets: Buckets) -> Vec<OutcomeRates> {
    let mut rates = vec![OutcomeRates::default(); buckets.count];
    let per_op = 1.0 / buckets.width_s as f64;
    let shopper_ops = history
        .entries
        .iter()
        .filter(|entry| entry.user.is_some() && !matches!(entry.op, Op::Fault { .. }));
    for entry in shopper_ops {
        let Some(rate) = rates.get_mut(buckets.of_us(entry.complete_us)) else {
            continue;
        };
        match entry.outcome {
            Outcome::Ok => rate.ok_per_s += per_op,
            Outcome::Fail => rate.refused_per_s += per_op,
            Outcome::Unknown => rate.unknown_per_s += per_op,
        }
    }
    for refusal in history.refusals.views() {
        if let Some(rate) = rates.get_mut(buckets.of_us(refusal.complete_us)) {
            rate.refused_per_s += per_op;
        }
    }
    rates
}

/// A SKU's units in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StockLevels {
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
}

impl StockLevels {
    fn add(&mut self, delta: StockLevels) {
        self.available += delta.available;
        self.reserved += delta.reserved;
        self.sold += delta.sold;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockField {
    Available,
    Reserved,
    Sold,
}

impl StockField {
    pub const ALL: [StockField; 3] = [
        StockField::Available,
        StockField::Reserved,
        StockField::Sold,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            StockField::Available => "available",
            StockField::Reserved => "reserved",
            StockField::Sold => "sold",
        }
    }

    pub const fn of(self, levels: &StockLevels) -> i64 {
        match self {
            StockField::Available => levels.available,
            StockField::Reserved => levels.reserved,
            StockField::Sold => levels.sold,
        }
    }
}

/// A value the service replied: a SKU read, a restock's or adjust's reply, or the
/// `available` of an `insufficient_stock` refusal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StockRead {
    pub at_s: f64,
    pub field: StockField,
    pub value: i64,
}

/// One SKU's stock over the run.
#[derive(Debug, Clone, PartialEq)]
pub struct SkuStockSeries {
    pub sku: String,
    /// Ops that touched the SKU: its restocks, adjusts, reads, reserves, and the
    /// confirms and releases of its reservations.
    pub activity: u64,
    /// The levels the acknowledged ops imply, sampled at ascending times (s).
    pub samples: Vec<(f64, StockLevels)>,
    /// Replies of the service, thinned to [`STOCK_READS_SHOWN_MAX`] (the refusals'
    /// first folded to their extremes over time, see [`refusal_reads`]).
    pub reads: Vec<StockRead>,
    /// Reads before thinning.
    pub reads_total: usize,
    /// The last full read (a SKU read, restock or adjust reply) when it came after
    /// the sampled span, as the final reads after quiesce do: (s, levels).
    pub read_after_end: Option<(f64, StockLevels)>,
}

/// What the acknowledged ops say of one reservation.
#[derive(Debug)]
struct ReservationFacts {
    items: Vec<(String, i64)>,
    /// Completion of the first acknowledged reserve that returned it.
    reserved_us: u64,
    /// Its deadline on the history's time axis, when the reply gave one.
    deadline_us: Option<u64>,
    /// The first acknowledged confirm or release: when, and whether it sold the units.
    ended: Option<(u64, bool)>,
}

/// Every SKU's reconstructed stock and reads from the run's start to `end_us`, by SKU
/// name (the reads after `end_us` are left out but the last full one). The levels count each
/// acknowledged effect when its reply arrived: restocks and adjusts change available,
/// a reserve moves units from available to reserved, its first acknowledged confirm
/// to sold or release back to available; a hold with neither returns to available at
/// its deadline (the sweeper's expiry, which no op records). Unknown outcomes are left
/// out: where they took effect, the reads drift from the line.
pub fn stock_over_time(history: &History, end_us: u64) -> Vec<SkuStockSeries> {
    let reservations = reservation_facts(history);
    let mut events: BTreeMap<&str, Vec<(u64, StockLevels)>> = BTreeMap::new();
    for entry in history.entries.iter().filter(|e| e.outcome == Outcome::Ok) {
        if let Op::Restock { sku, qty: delta } | Op::Adjust { sku, delta } = &entry.op {
            let delta = StockLevels {
                available: *delta,
                ..StockLevels::default()
            };
            events
                .entry(sku)
                .or_default()
                .push((entry.complete_us, delta));
        }
    }
    for facts in reservations.values() {
        for (sku, qty) in &facts.items {
            for event in reservation_events(facts, *qty) {
                events.entry(sku.as_str()).or_default().push(event);
            }
        }
    }
    let (reads, last_full_reads, folded_reads) = stock_reads(history, end_us);
    let activity = activity(history, &reservations);
    let end_s = end_us as f64 / 1e6;
    let skus: BTreeSet<&str> = events.keys().chain(reads.keys()).copied().collect();
    skus.into_iter()
        .map(|sku| {
            let mut sku_events = events.remove(sku).unwrap_or_default();
            sku_events.sort_by_key(|(at_us, _)| *at_us);
            let sku_reads = reads.get(sku).map_or(&[][..], |reads| {
                &reads[..reads.partition_point(|read| read.at_s <= end_s)]
            });
            SkuStockSeries {
                sku: sku.to_owned(),
                activity: activity.get(sku).copied().unwrap_or(0),
                samples: sample_levels(&sku_events, end_us),
                reads: thin(sku_reads, STOCK_READS_SHOWN_MAX),
                reads_total: sku_reads.len() + folded_reads.get(sku).copied().unwrap_or(0),
                read_after_end: last_full_reads
                    .get(sku)
                    .copied()
                    .filter(|(at_s, _)| *at_s > end_s),
            }
        })
        .collect()
}

/// The reservations the acknowledged ops made, by id, with how each ended.
fn reservation_facts(history: &History) -> HashMap<&str, ReservationFacts> {
    let started_at_unix_ms = history.header.started_at_unix_ms;
    let mut facts: HashMap<&str, ReservationFacts> = HashMap::new();
    for entry in history.entries.iter().filter(|e| e.outcome == Outcome::Ok) {
        let (Op::Reserve { items, .. }, Some(response)) = (&entry.op, &entry.response) else {
            continue;
        };
        let Some(id) = &response.reservation else {
            continue;
        };
        let deadline_us = response
            .deadline_ms
            .map(|deadline_ms| deadline_ms.saturating_sub(started_at_unix_ms).max(0) as u64 * 1000);
        let items = merge_cart(response.items.as_deref().unwrap_or(items))
            .into_iter()
            .map(|line| (line.sku, line.qty))
            .collect();
        match facts.entry(id.0.as_str()) {
            // A replay returns the same id later: the first reply made the hold.
            Entry::Occupied(mut kept) => {
                let kept = kept.get_mut();
                kept.reserved_us = kept.reserved_us.min(entry.complete_us);
            }
            Entry::Vacant(slot) => {
                slot.insert(ReservationFacts {
                    items,
                    reserved_us: entry.complete_us,
                    deadline_us,
                    ended: None,
                });
            }
        }
    }
    for entry in history.entries.iter().filter(|e| e.outcome == Outcome::Ok) {
        let sold = match (&entry.op, entry.response.as_ref().and_then(|r| r.state)) {
            (_, Some(ReservationState::Held)) => continue,
            (Op::Confirm { .. }, state) => state.is_none_or(|s| s == ReservationState::Confirmed),
            (Op::Release { .. }, state) => state == Some(ReservationState::Confirmed),
            _ => continue,
        };
        let Some(kept) = entry
            .reservation()
            .and_then(|id| facts.get_mut(id.0.as_str()))
        else {
            continue;
        };
        if kept
            .ended
            .is_none_or(|(at_us, _)| entry.complete_us < at_us)
        {
            kept.ended = Some((entry.complete_us, sold));
        }
    }
    facts
}

/// The level changes one reservation makes to one of its SKUs (`qty` units).
fn reservation_events(facts: &ReservationFacts, qty: i64) -> Vec<(u64, StockLevels)> {
    let hold = StockLevels {
        available: -qty,
        reserved: qty,
        sold: 0,
    };
    let mut events = vec![(facts.reserved_us, hold)];
    let end = match facts.ended {
        Some((at_us, true)) => Some((
            at_us,
            StockLevels {
                available: 0,
                reserved: -qty,
                sold: qty,
            },
        )),
        Some((at_us, false)) => Some((
            at_us,
            StockLevels {
                available: qty,
                reserved: -qty,
                sold: 0,
            },
        )),
        None => facts.deadline_us.map(|at_us| {
            (
                at_us,
                StockLevels {
                    available: qty,
                    reserved: -qty,
                    sold: 0,
                },
            )
        }),
    };
    events.extend(end.map(|(at_us, delta)| (at_us.max(facts.reserved_us), delta)));
    events
}

/// Reads of each SKU's stock in completion order, each SKU's last full read, and how
/// many of its refusals' reads were folded away ([`refusal_reads`]).
type Reads<'h> = (
    HashMap<&'h str, Vec<StockRead>>,
    HashMap<&'h str, (f64, StockLevels)>,
    HashMap<&'h str, usize>,
);

/// Every value the service replied about a SKU's stock up to `end_us` (and the full
/// reads after it), by SKU, in completion order: the refusals' folded.
fn stock_reads(history: &History, end_us: u64) -> Reads<'_> {
    let mut reads: HashMap<&str, Vec<StockRead>> = HashMap::new();
    let mut last_full: HashMap<&str, (f64, StockLevels)> = HashMap::new();
    let mut ordered: Vec<&HistoryEntry> = history.entries.iter().collect();
    ordered.sort_by_key(|entry| entry.complete_us);
    for entry in ordered {
        let Some(response) = &entry.response else {
            continue;
        };
        let at_s = entry.complete_us as f64 / 1e6;
        match (&entry.op, response.stock, &response.sku, response.available) {
            (
                Op::GetSku { sku } | Op::Restock { sku, .. } | Op::Adjust { sku, .. },
                Some(stock),
                _,
                _,
            ) if entry.outcome == Outcome::Ok => {
                let levels = StockLevels {
                    available: stock.available,
                    reserved: stock.reserved,
                    sold: stock.sold,
                };
                reads
                    .entry(sku)
                    .or_default()
                    .extend(StockField::ALL.map(|field| StockRead {
                        at_s,
                        field,
                        value: field.of(&levels),
                    }));
                last_full.insert(sku, (at_s, levels));
            }
            (Op::Reserve { .. }, _, Some(sku), Some(available)) => {
                reads.entry(sku).or_default().push(StockRead {
                    at_s,
                    field: StockField::Available,
                    value: available,
                });
            }
            _ => {}
        }
    }
    let (refusal_reads, folded) = refusal_reads(history, end_us);
    for (sku, kept) in refusal_reads {
        reads.entry(sku).or_default().extend(kept);
    }
    // The plain refusals' reads went in after the rest: completion order again.
    for sku_reads in reads.values_mut() {
        sku_reads.sort_by(|left, right| left.at_s.total_cmp(&right.at_s));
    }
    (reads, last_full, folded)
}

/// The `available` plain refusals replied, by SKU, folded to the lowest and the
/// highest read in each 1/[`STOCK_READS_SHOWN_MAX`] of the run up to `end_us` (a
/// flash sale's millions of refusals would keep a read each for a chart that draws
/// 300; the extremes keep any read off the line in view), and per SKU how many reads
/// up to `end_us` the folding left out.
fn refusal_reads(
    history: &History,
    end_us: u64,
) -> (HashMap<&str, Vec<StockRead>>, HashMap<&str, usize>) {
    let slice_us = (end_us / STOCK_READS_SHOWN_MAX as u64).max(1);
    let mut extremes: HashMap<(&str, u64), (StockRead, StockRead, usize)> = HashMap::new();
    for refusal in history.refusals.views() {
        let (Some(sku), Some(available)) = (refusal.sku, refusal.available) else {
            continue;
        };
        let read = StockRead {
            at_s: refusal.complete_us as f64 / 1e6,
            field: StockField::Available,
            value: available,
        };
        let slice = refusal.complete_us.min(end_us.saturating_add(1)) / slice_us;
        let (low, high, count) = extremes.entry((sku, slice)).or_insert((read, read, 0));
        *count += 1;
        if read.value < low.value {
            *low = read;
        }
        if read.value > high.value {
            *high = read;
        }
    }
    let mut reads: HashMap<&str, Vec<StockRead>> = HashMap::new();
    let mut folded: HashMap<&str, usize> = HashMap::new();
    for ((sku, _), (low, high, count)) in extremes {
        let kept = if low == high {
            vec![low]
        } else {
            vec![low, high]
        };
        if low.at_s <= end_us as f64 / 1e6 {
            *folded.entry(sku).or_default() += count - kept.len();
        }
        reads.entry(sku).or_default().extend(kept);
    }
    (reads, folded)
}

/// Ops touching each SKU.
fn activity<'h>(
    history: &'h History,
    reservations: &'h HashMap<&'h str, ReservationFacts>,
) -> HashMap<&'h str, u64> {
    let mut activity: HashMap<&str, u64> = HashMap::new();
    for entry in &history.entries {
        for sku in skus_of(entry, reservations) {
            *activity.entry(sku).or_default() += 1;
        }
    }
    for refusal in history.refusals.views() {
        let skus: BTreeSet<&str> = refusal.items.iter().map(|line| line.sku.as_str()).collect();
        for sku in skus {
            *activity.entry(sku).or_default() += 1;
        }
    }
    activity
}

/// The SKUs one op concerns: named in it, or in the reservation it names.
fn skus_of<'h>(
    entry: &'h HistoryEntry,
    reservations: &'h HashMap<&str, ReservationFacts>,
) -> BTreeSet<&'h str> {
    match &entry.op {
        Op::Restock { sku, .. } | Op::Adjust { sku, .. } | Op::GetSku { sku } => {
            BTreeSet::from([sku.as_str()])
        }
        Op::Reserve { items, .. } => items.iter().map(|line| line.sku.as_str()).collect(),
        Op::Confirm { reservation }
        | Op::Release { reservation }
        | Op::GetReservation { reservation } => reservations
            .get(reservation.0.as_str())
            .into_iter()
            .flat_map(|facts| facts.items.iter().map(|(sku, _)| sku.as_str()))
            .collect(),
        Op::Fault { .. } => BTreeSet::new(),
    }
}

/// The levels after every event up to each of [`SERIES_POINTS_MAX`] + 1 evenly spaced
/// times from 0 to `end_us` (`events` sorted by time).
fn sample_levels(events: &[(u64, StockLevels)], end_us: u64) -> Vec<(f64, StockLevels)> {
    let steps = if end_us == 0 {
        0
    } else {
        SERIES_POINTS_MAX as u64
    };
    let mut levels = StockLevels::default();
    let mut next = 0;
    (0..=steps)
        .map(|step| {
            let at_us = end_us * step / steps.max(1);
            while let Some((_, delta)) = events.get(next).filter(|(us, _)| *us <= at_us) {
                levels.add(*delta);
                next += 1;
            }
            (at_us as f64 / 1e6, levels)
        })
        .collect()
}

/// At most `max` items, evenly spaced, the first and last kept.
pub fn thin<T: Clone>(items: &[T], max: usize) -> Vec<T> {
    if items.len() <= max || max < 2 {
        return items.iter().take(max).cloned().collect();
    }
    (0..max)
        .map(|index| items[index * (items.len() - 1) / (max - 1)].clone())
        .collect()
}

/// The SKUs given a chart: those a violation concerns (most active first), then the
/// most active, at most [`STOCK_CHARTS_MAX`].
pub fn chosen_skus<'s>(
    series: &'s [SkuStockSeries],
    violated: &BTreeSet<String>,
) -> Vec<&'s SkuStockSeries> {
    let mut ranked: Vec<&SkuStockSeries> = series.iter().collect();
    ranked.sort_by(|left, right| {
        let key = |s: &SkuStockSeries| (!violated.contains(&s.sku), std::cmp::Reverse(s.activity));
        key(left)
            .cmp(&key(right))
            .then_with(|| left.sku.cmp(&right.sku))
    });
    ranked.truncate(STOCK_CHARTS_MAX);
    ranked
}

/// Where a violation falls on the time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct ViolationMark {
    /// The latest completion among the ops it names: when its evidence was complete.
    pub at_s: f64,
    pub check: CheckId,
    pub reason: String,
    /// Its SKU, and the SKUs of the ops it names.
    pub skus: BTreeSet<String>,
    /// Its position among `checks::window::shown_violations`: the page's window
    /// section `#window-N`; `None` when no window is drawn for it.
    pub window: Option<usize>,
}

/// A mark per kept violation of a failed check that names an op of the history.
pub fn violation_marks(checks: &[CheckReport], history: &History) -> Vec<ViolationMark> {
    let shown = shown_violations(checks);
    let named_ids: BTreeSet<OpId> = checks
        .iter()
        .filter(|check| check.verdict == Verdict::Fail)
        .flat_map(|check| check.violations.iter().flat_map(|violation| &violation.ops))
        .copied()
        .collect();
    let by_id: HashMap<OpId, Cow<'_, HistoryEntry>> = history
        .ops()
        .filter(|entry| named_ids.contains(&entry.id))
        .map(|entry| (entry.id, entry))
        .collect();
    let reservations = reservation_facts(history);
    let mut marks = Vec::new();
    for check in checks.iter().filter(|check| check.verdict == Verdict::Fail) {
        for violation in &check.violations {
            let named: Vec<&HistoryEntry> = violation
                .ops
                .iter()
                .filter_map(|id| by_id.get(id).map(|entry| &**entry))
                .collect();
            let Some(at_us) = named.iter().map(|entry| entry.complete_us).max() else {
                continue;
            };
            let mut skus: BTreeSet<String> = violation.sku.iter().cloned().collect();
            for entry in &named {
                skus.extend(skus_of(entry, &reservations).into_iter().map(str::to_owned));
            }
            marks.push(ViolationMark {
                at_s: at_us as f64 / 1e6,
                check: check.id,
                reason: violation.reason.clone(),
                skus,
                window: shown
                    .iter()
                    .position(|(_, shown)| std::ptr::eq(*shown, violation)),
            });
        }
    }
    marks
}

#[cfg(test)]
mod tests;
