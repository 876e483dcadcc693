//! What the history allows a SKU's stock to be over a time interval: the machinery of
//! C7 (reads within bounds), C8 (no undersell) and their coverage goals.
//!
//! Every op that may change a SKU becomes a change of its fields (available, reserved,
//! sold, total) whose moment is known only within a [`Window`]: it may have happened
//! from `possible_us` on and surely had by `certain_us` (never, for a lost reply). A
//! read over `[invoke, complete]` takes effect at some instant in between, so (as in
//! Jepsen's counter checker, with both signs):
//! - lower bound = rises surely applied before `invoke` − falls possibly applied by
//!   `complete`;
//! - upper bound = rises possibly applied by `complete` − falls surely applied before
//!   `invoke`.
//!
//! A reservation's units leave `available` for `reserved` at its take, go to `sold` at
//! its confirm or back to `available` at its release or expiry (one of them), and leave
//! `reserved` at whichever ended it; the windows come from [`lifecycle`]. Restocks and
//! adjusts change `available` and `total`. Refused ops change nothing; replays of one
//! idempotency key are one reservation. A reserve whose reply was lost and that no
//! acknowledged reservation accounts for may hold its units from its send until its
//! TTL, the grace and the skew have passed since its client gave up: that hold only
//! widens the bounds (it is undone, surely, when it must be gone).
//!
//! Each field's changes are four sorted step lists with running sums (rises / falls
//! × possible / certain), so a bound is four binary searches: building is O(n log n),
//! each query O(log n). Over the 1,000,000-op synthetic history of `stockproof bench`
//! building takes about as long as `checks::index` (0.8–2 s on a shared 2-core box,
//! mostly memory: ~8 steps of 24 bytes per reservation line); C7 and C8 then take
//! ~50 ms. Bounds are sound, not tight: each change is judged on its own,
//! so a rise that is possible only if an uncertain take happened still counts, and
//! releases, confirms and expiries that exclude each other are merged per field
//! rather than per path.
//!
//! Not here: judging reads or refusals (`c7_reads`, `c8_undersell`), the moment-by-
//! moment oversell sweep (`c1_oversell`).

mod lifecycle;

use rustc_hash::FxHashMap as HashMap;

pub(crate) use lifecycle::{Causes, Reservations};

use super::CheckConfig;
use crate::history::{History, Op, OpId, Outcome, StockFields};

/// A moment that never comes (a change that never surely happened).
pub(crate) const NEVER_US: i64 = i64::MAX;
/// Ops a violation names per bound it broke: enough to start reading the history.
pub(crate) const WITNESSES_MAX: usize = 3;

/// When a change may have happened, and by when it surely had (µs on the history's axis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) possible_us: i64,
    pub(crate) certain_us: i64,
}

impl Window {
    /// A change that surely happened was possible by then.
    pub(crate) fn new(possible_us: i64, certain_us: i64) -> Window {
        Window {
            possible_us: possible_us.min(certain_us),
            certain_us,
        }
    }

    /// The first of two exclusive ways for one change to happen.
    pub(crate) fn earliest(self, other: Window) -> Window {
        Window::new(
            self.possible_us.min(other.possible_us),
            self.certain_us.min(other.certain_us),
        )
    }
}

/// A field of a SKU's stock, as `GET /v1/skus/{sku}` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Available,
    Reserved,
    Sold,
    Total,
    /// available + reserved = total − sold (`StockFields::on_hand`).
    OnHand,
}

impl Field {
    pub(crate) const ALL: [Field; 5] = [
        Field::Available,
        Field::Reserved,
        Field::Sold,
        Field::Total,
        Field::OnHand,
    ];

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Field::Available => "available",
            Field::Reserved => "reserved",
            Field::Sold => "sold",
            Field::Total => "total",
            Field::OnHand => "on_hand",
        }
    }

    /// The field's value in a read, when the read carries it.
    pub(crate) const fn of(self, stock: &StockFields) -> Option<i64> {
        match self {
            Field::Available => stock.available,
            Field::Reserved => stock.reserved,
            Field::Sold => stock.sold,
            Field::Total => stock.total,
            Field::OnHand => stock.on_hand,
        }
    }

    const fn slot(self) -> usize {
        self as usize
    }
}

/// `[lower, upper]` of one field over one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldBound {
    pub(crate) lower: i64,
    pub(crate) upper: i64,
}

#[derive(Debug, Clone, Copy)]
struct Step {
    at_us: i64,
    /// Units of this change; once sealed, units of this and every earlier step.
    units: i64,
    op: OpId,
}

/// Changes of one sign and certainty, sorted by time, summed in place.
#[derive(Debug, Default)]
struct Steps {
    steps: Vec<Step>,
}

impl Steps {
    fn push(&mut self, at_us: i64, units: i64, op: OpId) {
        if at_us < NEVER_US && units != 0 {
            self.steps.push(Step { at_us, units, op });
        }
    }

    fn seal(&mut self) {
        // Stable, so steps at one instant keep the order they were added in
        // (reservations in the order they first appear): witnesses are reproducible.
        // Steps arrive in nearly sorted runs, which the merge sort exploits.
        self.steps.sort_by_key(|step| step.at_us);
        let mut sum = 0_i64;
        for step in &mut self.steps {
            sum += step.units;
            step.units = sum;
        }
    }

    /// Steps strictly before `at_us`.
    fn count_before(&self, at_us: i64) -> usize {
        self.steps.partition_point(|step| step.at_us < at_us)
    }

    /// Steps at or before `at_us`.
    fn count_through(&self, at_us: i64) -> usize {
        self.steps.partition_point(|step| step.at_us <= at_us)
    }

    /// Units of the first `count` steps.
    fn sum(&self, count: usize) -> i64 {
        count
            .checked_sub(1)
            .and_then(|last| self.steps.get(last))
            .map_or(0, |step| step.units)
    }

    /// The ops of the last steps among the first `count`, latest first.
    fn latest_ops(&self, count: usize) -> impl Iterator<Item = OpId> + '_ {
        self.steps[..count]
            .iter()
            .rev()
            .take(WITNESSES_MAX)
            .map(|step| step.op)
    }
}

/// The changes of one field of one SKU.
#[derive(Debug, Default)]
struct Series {
    /// Units of every rise, possible or certain.
    rises_total: i64,
    rises_certain: Steps,
    rises_possible: Steps,
    falls_possible: Steps,
    falls_certain: Steps,
}

impl Series {
    fn change(&mut self, qty: i64, window: Window, op: OpId) {
        if window.possible_us == NEVER_US {
            return;
        }
        let (possible, certain, units) = if qty >= 0 {
            self.rises_total += qty;
            (&mut self.rises_possible, &mut self.rises_certain, qty)
        } else {
            (&mut self.falls_possible, &mut self.falls_certain, -qty)
        };
        possible.push(window.possible_us, units, op);
        certain.push(window.certain_us, units, op);
    }

    /// A change that only undoes a possible one (a lost reserve's hold, surely gone by
    /// `certain_us`): it counts once certain, never as possible on its own.
    fn undo(&mut self, qty: i64, certain_us: i64, op: OpId) {
        if certain_us == NEVER_US {
            return;
        }
        if qty >= 0 {
            self.rises_total += qty;
            self.rises_certain.push(certain_us, qty, op);
        } else {
            self.falls_certain.push(certain_us, -qty, op);
        }
    }

    fn seal(&mut self) {
        for steps in [
            &mut self.rises_certain,
            &mut self.rises_possible,
            &mut self.falls_possible,
            &mut self.falls_certain,
        ] {
            steps.seal();
        }
    }

    fn bound(&self, invoke_us: i64, complete_us: i64) -> FieldBound {
        let rises_certain = self
            .rises_certain
            .sum(self.rises_certain.count_before(invoke_us));
        let falls_possible = self
            .falls_possible
            .sum(self.falls_possible.count_through(complete_us));
        let rises_possible = self
            .rises_possible
            .sum(self.rises_possible.count_through(complete_us));
        let falls_certain = self
            .falls_certain
            .sum(self.falls_certain.count_before(invoke_us));
        FieldBound {
            lower: rises_certain - falls_possible,
            upper: rises_possible - falls_certain,
        }
    }
}

/// Intervals of ops that may change one SKU, sorted by send, with the latest
/// completion so far: "did any overlap `[invoke, complete]`" is one binary search.
#[derive(Debug, Default)]
struct Busy {
    intervals: Vec<(i64, i64)>,
    latest_complete_us: Vec<i64>,
}

impl Busy {
    fn seal(&mut self) {
        self.intervals.sort_unstable();
        self.latest_complete_us = self
            .intervals
            .iter()
            .scan(i64::MIN, |latest, (_, complete)| {
                *latest = (*latest).max(*complete);
                Some(*latest)
            })
            .collect();
    }

    fn overlaps(&self, invoke_us: i64, complete_us: i64) -> bool {
        let sent_by_then = self
            .intervals
            .partition_point(|(invoke, _)| *invoke <= complete_us);
        sent_by_then > 0 && self.latest_complete_us[sent_by_then - 1] >= invoke_us
    }
}

/// What the history allows of one SKU.
#[derive(Debug)]
struct Sku {
    /// Indexed by [`Field::slot`].
    fields: [Series; 5],
    /// The first moment its units surely came back (release or expiry).
    first_back_us: i64,
    /// Ops that may change it, kept only if a shopper read it.
    busy: Option<Busy>,
}

/// SKUs in dense slots: one hash lookup per line, then indexing.
#[derive(Debug, Default)]
struct Skus<'h> {
    slots: HashMap<&'h str, usize>,
    skus: Vec<Sku>,
}

impl<'h> Skus<'h> {
    /// `sku`'s entry, made on first sight.
    fn entry(&mut self, sku: &'h str) -> &mut Sku {
        let next = self.skus.len();
        let slot = *self.slots.entry(sku).or_insert(next);
        if slot == next {
            self.skus.push(Sku {
                fields: Default::default(),
                first_back_us: NEVER_US,
                busy: None,
            });
        }
        &mut self.skus[slot]
    }

    fn get(&self, sku: &str) -> Option<&Sku> {
        self.slots.get(sku).map(|slot| &self.skus[*slot])
    }

    fn mark_busy(&mut self, sku: &str, interval: (i64, i64)) {
        if let Some(busy) = self
            .slots
            .get(sku)
            .and_then(|slot| self.skus[*slot].busy.as_mut())
        {
            busy.intervals.push(interval);
        }
    }
}

/// Everything the history allows of every SKU's stock and every reservation's state.
#[derive(Debug)]
pub(crate) struct StockModel<'h> {
    skus: Skus<'h>,
    pub(crate) reservations: Reservations<'h>,
}

impl<'h> StockModel<'h> {
    pub(crate) fn build(history: &'h History, config: &CheckConfig) -> StockModel<'h> {
        let (reservations, orphans) = lifecycle::collect(history, config);
        let mut skus = Skus::default();
        // Contention is asked only of SKUs a shopper read: only they keep intervals.
        for entry in &history.entries {
            if let (Op::GetSku { sku }, Some(_)) = (&entry.op, entry.user) {
                skus.entry(sku).busy.get_or_insert_with(Busy::default);
            }
        }
        add_supply_and_busy(&mut skus, &reservations, history);
        add_reservations(&mut skus, &reservations);
        for orphan in orphans {
            for (sku, qty) in orphan.items {
                let hold = Window::new(orphan.sent_us, NEVER_US);
                let fields = &mut skus.entry(sku).fields;
                fields[Field::Available.slot()].change(-qty, hold, orphan.op);
                fields[Field::Available.slot()].undo(qty, orphan.gone_us, orphan.op);
                fields[Field::Reserved.slot()].change(qty, hold, orphan.op);
                fields[Field::Reserved.slot()].undo(-qty, orphan.gone_us, orphan.op);
            }
        }
        for sku in &mut skus.skus {
            sku.fields.iter_mut().for_each(Series::seal);
            if let Some(busy) = &mut sku.busy {
                busy.seal();
            }
        }
        StockModel { skus, reservations }
    }

    /// `[lower, upper]` of `field` of `sku` over `[invoke_us, complete_us]`; `None` for
    /// a SKU no op of the history changes (seeded outside it: nothing to hold it to).
    pub(crate) fn bound(
        &self,
        sku: &str,
        field: Field,
        invoke_us: i64,
        complete_us: i64,
    ) -> Option<FieldBound> {
        let series = &self.skus.get(sku)?.fields[field.slot()];
        Some(series.bound(invoke_us, complete_us))
    }

    /// The ops that set the bound a value broke: for a value above the upper bound,
    /// the last changes that surely took units before `invoke_us`; below the lower
    /// bound, the last that surely brought units back. Latest first.
    pub(crate) fn witnesses(
        &self,
        sku: &str,
        field: Field,
        invoke_us: i64,
        above_upper: bool,
    ) -> Vec<OpId> {
        let Some(sku) = self.skus.get(sku) else {
            return Vec::new();
        };
        let series = &sku.fields[field.slot()];
        let steps = if above_upper {
            &series.falls_certain
        } else {
            &series.rises_certain
        };
        steps.latest_ops(steps.count_before(invoke_us)).collect()
    }

    /// Units of `field` that may still rise at or after `at_us`: every rise not surely
    /// applied before it.
    pub(crate) fn rises_after(&self, sku: &str, field: Field, at_us: i64) -> i64 {
        let Some(sku) = self.skus.get(sku) else {
            return 0;
        };
        let series = &sku.fields[field.slot()];
        series.rises_total
            - series
                .rises_certain
                .sum(series.rises_certain.count_before(at_us))
    }

    /// Whether an op that may change `sku` was in flight during `[invoke, complete]`.
    pub(crate) fn contended(&self, sku: &str, invoke_us: i64, complete_us: i64) -> bool {
        self.skus
            .get(sku)
            .and_then(|sku| sku.busy.as_ref())
            .is_some_and(|busy| busy.overlaps(invoke_us, complete_us))
    }

    /// The first moment units of `sku` surely came back through a release or expiry.
    pub(crate) fn first_back_us(&self, sku: &str) -> Option<i64> {
        self.skus
            .get(sku)
            .map(|sku| sku.first_back_us)
            .filter(|at| *at < NEVER_US)
    }
}

/// Restocks and adjusts; and, for SKUs a shopper read, which ops may change them when.
fn add_supply_and_busy<'h>(
    skus: &mut Skus<'h>,
    reservations: &Reservations<'h>,
    history: &'h History,
) {
    let any_read = skus.skus.iter().any(|sku| sku.busy.is_some());
    for entry in &history.entries {
        if entry.outcome == Outcome::Fail {
            continue;
        }
        let interval = (entry.invoke_us as i64, entry.complete_us as i64);
        match &entry.op {
            Op::Restock { sku, qty: delta } | Op::Adjust { sku, delta } => {
                skus.mark_busy(sku, interval);
                let certain_us = match entry.outcome {
                    Outcome::Ok => interval.1,
                    _ => NEVER_US,
                };
                let window = Window::new(interval.0, certain_us);
                let fields = &mut skus.entry(sku).fields;
                fields[Field::Available.slot()].change(*delta, window, entry.id);
                fields[Field::Total.slot()].change(*delta, window, entry.id);
                fields[Field::OnHand.slot()].change(*delta, window, entry.id);
            }
            Op::Reserve { items, .. } if any_read => {
                for line in items {
                    skus.mark_busy(&line.sku, interval);
                }
            }
            Op::Confirm { reservation } | Op::Release { reservation } if any_read => {
                if let Some(lifecycle) = reservations.get(reservation.0.as_str()) {
                    for (sku, _) in lifecycle.items {
                        skus.mark_busy(sku, interval);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Each acknowledged reservation's take, return, end and confirm, per line.
fn add_reservations<'h>(skus: &mut Skus<'h>, reservations: &Reservations<'h>) {
    for lifecycle in reservations.lifecycles() {
        let take_op = lifecycle.reserve_op;
        let confirm_op = lifecycle.confirm_op.unwrap_or(take_op);
        let back_op = lifecycle.back_op.unwrap_or(take_op);
        let end_op = if lifecycle.confirm.certain_us <= lifecycle.back.certain_us {
            confirm_op
        } else {
            back_op
        };
        for (sku, qty) in lifecycle.items {
            let sku = skus.entry(sku);
            let fields = &mut sku.fields;
            fields[Field::Available.slot()].change(-qty, lifecycle.take, take_op);
            fields[Field::Available.slot()].change(*qty, lifecycle.back, back_op);
            fields[Field::Reserved.slot()].change(*qty, lifecycle.take, take_op);
            fields[Field::Reserved.slot()].change(-qty, lifecycle.end, end_op);
            fields[Field::Sold.slot()].change(*qty, lifecycle.confirm, confirm_op);
            fields[Field::OnHand.slot()].change(-qty, lifecycle.confirm, confirm_op);
            sku.first_back_us = sku.first_back_us.min(lifecycle.back.certain_us);
        }
    }
}
