//! One pass over the history (and the snapshot's ledger) that every checker shares:
//! what is known of each reservation (who reserved it, its items and deadline, which
//! transitions were acknowledged, which states replies reported), the reserves of each
//! idempotency key, the supply of each SKU, the final reads after the load, and the
//! ledger's reservation events grouped by reservation.
//!
//! SKU ids, reservation ids and idempotency keys are numbered here ([`Names`]: one
//! rustc-hash lookup per op or ledger event naming them), so checkers index vectors
//! instead of hashing and comparing strings, and per-reservation lists are grouped in
//! flat arrays ([`Groups`]) rather than one allocation each. Borrowing from the history
//! keeps names zero-copy.
//! Not here: any verdict (the checkers judge), stock over time (C7 / C8's model).

use std::ops::Range;

use rustc_hash::FxHashMap;
use stockproof_model::ledger::EventKind;
use stockproof_model::{CartLine, ReservationState};

use super::WhiteBoxSnapshot;
use crate::CheckConfig;
use crate::history::{History, HistoryEntry, Op, OpId, Outcome, StockFields};
use crate::outages::Outages;

/// A SKU, reservation or idempotency key, numbered by [`Names`].
pub(crate) type NameId = u32;

/// Strings of one kind, numbered from 0 in order of first sight.
#[derive(Debug, Default)]
pub(crate) struct Names<'h> {
    ids: FxHashMap<&'h str, NameId>,
    names: Vec<&'h str>,
}

impl<'h> Names<'h> {
    fn with_capacity(capacity: usize) -> Names<'h> {
        let mut ids = FxHashMap::default();
        ids.reserve(capacity);
        Names {
            ids,
            names: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn intern(&mut self, name: &'h str) -> NameId {
        let next = self.names.len() as NameId;
        let id = *self.ids.entry(name).or_insert(next);
        if id == next {
            self.names.push(name);
        }
        id
    }

    pub(crate) fn get(&self, name: &str) -> Option<NameId> {
        self.ids.get(name).copied()
    }

    pub(crate) fn name(&self, id: NameId) -> &'h str {
        self.names[id as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

/// Items grouped by a dense group number, each group in the order its items were
/// pushed (a stable counting sort: linear).
#[derive(Debug)]
pub(crate) struct Groups<T> {
    /// `starts[g]..starts[g + 1]` are group g's items.
    starts: Vec<usize>,
    items: Vec<T>,
}

impl<T> Default for Groups<T> {
    fn default() -> Groups<T> {
        Groups {
            starts: Vec::new(),
            items: Vec::new(),
        }
    }
}

impl<T: Copy> Groups<T> {
    /// Groups `pairs` (group, item) into `groups` groups.
    pub(crate) fn build(groups: usize, pairs: &[(NameId, T)]) -> Groups<T> {
        let mut starts = vec![0_usize; groups + 1];
        for (group, _) in pairs {
            starts[*group as usize + 1] += 1;
        }
        for group in 0..groups {
            starts[group + 1] += starts[group];
        }
        // order[slot] = the pair that lands in slot.
        let mut next = starts.clone();
        let mut order = vec![0_usize; pairs.len()];
        for (position, (group, _)) in pairs.iter().enumerate() {
            let slot = &mut next[*group as usize];
            order[*slot] = position;
            *slot += 1;
        }
        let items = order
            .into_iter()
            .map(|position| pairs[position].1)
            .collect();
        Groups { starts, items }
    }

    /// Groups, empty ones included.
    pub(crate) fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub(crate) fn get(&self, group: NameId) -> &[T] {
        let group = group as usize;
        match (self.starts.get(group), self.starts.get(group + 1)) {
            (Some(start), Some(end)) => &self.items[*start..*end],
            _ => &[],
        }
    }

    /// Every group with its number, empty ones included.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (NameId, &[T])> + '_ {
        self.starts
            .windows(2)
            .enumerate()
            .map(|(group, bounds)| (group as NameId, &self.items[bounds[0]..bounds[1]]))
    }
}

/// What the history says about one reservation id.
#[derive(Debug, Default)]
pub(crate) struct ReservationFacts {
    /// Merged items (sorted by SKU name) of the first ok reserve naming it: a range of
    /// [`Index::items`].
    items: Range<u32>,
    pub(crate) key: Option<NameId>,
    /// First ok reserve naming it (entry index), and how many there were.
    pub(crate) first_ok_reserve: Option<usize>,
    pub(crate) ok_reserves: u32,
    /// Earliest completion of an ok reserve: from then the units were surely taken.
    pub(crate) taken_us: Option<u64>,
    pub(crate) deadline_ms: Option<i64>,
    /// First ok confirm / release.
    pub(crate) confirm_ok: Option<usize>,
    pub(crate) release_ok: Option<usize>,
    /// A confirm that may have happened (ok or unknown).
    pub(crate) confirm_maybe: Option<usize>,
    /// A release that may have happened (ok or unknown).
    pub(crate) release_maybe: Option<usize>,
    /// Earliest invoke of a release that may have happened.
    pub(crate) release_invoke_us: Option<u64>,
}

/// Supply of one SKU from restock / adjust ops (seeding included).
#[derive(Debug, Default)]
pub(crate) struct Supply {
    /// Units surely supplied: ok restocks and adjusts (negative adjusts count in full).
    pub(crate) lower: i64,
    /// Units possibly supplied: ok + unknown positive, ok negative.
    pub(crate) upper: i64,
    /// Changes of the upper bound over time: (µs, delta).
    pub(crate) upper_changes: Vec<(u64, i64)>,
    /// Whether any restock or adjust op named the SKU.
    named: bool,
}

/// The snapshot's ledger, numbered with the history's names.
#[derive(Debug, Default)]
pub(crate) struct LedgerIndex {
    /// Per ledger event (by position): its SKU.
    pub(crate) sku: Vec<NameId>,
    /// Per ledger event: the idempotency key of a reserve event, `None` for the rest.
    pub(crate) key: Vec<Option<NameId>>,
    /// Positions of reservation events (all but restock and adjust), grouped by
    /// reservation, in ledger order.
    pub(crate) by_reservation: Groups<u32>,
    /// Positions of restock and adjust events, in ledger order.
    pub(crate) supply_events: Vec<u32>,
}

#[derive(Debug)]
pub(crate) struct Index<'h> {
    pub(crate) history: &'h History,
    /// The white-box snapshot, when the target's stores were read.
    pub(crate) snapshot: Option<&'h WhiteBoxSnapshot>,
    pub(crate) skus: Names<'h>,
    pub(crate) reservation_ids: Names<'h>,
    pub(crate) keys: Names<'h>,
    /// By reservation id, for the reservations the history names (reserved ok,
    /// confirmed, released, or read); ids past the end come from the ledger only.
    pub(crate) reservations: Vec<ReservationFacts>,
    /// Every reservation's merged items (SKU, units).
    items: Vec<(NameId, i64)>,
    /// States replies reported, per reservation, with the entry that reported each.
    pub(crate) observed: Groups<(usize, ReservationState)>,
    /// Reserve entries per idempotency key, in history order.
    pub(crate) key_reserves: Groups<usize>,
    /// By SKU id; only SKUs in [`Index::supplied`] had restock or adjust ops.
    pub(crate) supply: Vec<Supply>,
    /// SKUs with restock or adjust ops, sorted by name.
    pub(crate) supplied: Vec<NameId>,
    /// Per SKU id, the last ok `GET` by the harness after every shopper op completed.
    pub(crate) final_reads: Vec<Option<usize>>,
    /// Whether a reserve with this key had an unknown outcome, by key id.
    pub(crate) unknown_keys: Vec<bool>,
    pub(crate) unknown_outcomes: u64,
    /// The ledger, when there is a snapshot.
    pub(crate) ledger: Option<LedgerIndex>,
    /// The run's faults, which stop the expiry grace's clock.
    pub(crate) outages: Outages,
}

/// Sums the lines of a cart per SKU, sorted by SKU (the engine's canonical cart).
pub(crate) fn merge_items(items: &[CartLine]) -> Vec<(&str, i64)> {
    let mut merged: Vec<(&str, i64)> = items
        .iter()
        .map(|line| (line.sku.as_str(), line.qty))
        .collect();
    merged.sort_unstable_by(|left, right| left.0.cmp(right.0));
    merged.dedup_by(|next, kept| {
        if next.0 == kept.0 {
            kept.1 += next.1;
            true
        } else {
            false
        }
    });
    merged
}

/// Lists gathered in the pass over the history, grouped once it ends.
#[derive(Default)]
struct Pending {
    observed: Vec<(NameId, (usize, ReservationState))>,
    key_reserves: Vec<(NameId, usize)>,
}

impl<'h> Index<'h> {
    pub(crate) fn build(history: &'h History, snapshot: Option<&'h WhiteBoxSnapshot>) -> Index<'h> {
        let entries = history.entries.len();
        let mut index = Index {
            history,
            snapshot,
            skus: Names::default(),
            reservation_ids: Names::with_capacity(entries / 2),
            keys: Names::with_capacity(entries / 2),
            reservations: Vec::with_capacity(entries / 2),
            items: Vec::with_capacity(entries),
            observed: Groups::default(),
            key_reserves: Groups::default(),
            supply: Vec::new(),
            supplied: Vec::new(),
            final_reads: Vec::new(),
            unknown_keys: Vec::new(),
            unknown_outcomes: 0,
            ledger: None,
            outages: Outages::from_history(history),
        };
        let mut pending = Pending::default();
        for (position, entry) in history.entries.iter().enumerate() {
            index.unknown_outcomes += u64::from(entry.outcome == Outcome::Unknown);
            index.add(position, entry, &mut pending);
        }
        index.observed = Groups::build(index.reservations.len(), &pending.observed);
        index.key_reserves = Groups::build(index.keys.len(), &pending.key_reserves);
        index.find_final_reads();
        index
            .supplied
            .sort_unstable_by_key(|sku| index.skus.name(*sku));
        index.ledger = snapshot.map(|snapshot| index.index_ledger(snapshot));
        index
    }

    /// `sku`'s last read after the load and the stock fields it carried, if any.
    pub(crate) fn final_read(&self, sku: NameId) -> Option<(OpId, StockFields)> {
        let entry = self.entry(self.final_reads[sku as usize]?);
        let stock = entry.response.as_ref()?.read_fields()?;
        Some((entry.id, stock))
    }

    pub(crate) fn entry(&self, position: usize) -> &'h HistoryEntry {
        &self.history.entries[position]
    }

    /// A deadline (Redis epoch ms) on the history's axis (µs since run start).
    pub(crate) fn deadline_us(&self, deadline_ms: i64) -> i64 {
        (deadline_ms - self.history.header.started_at_unix_ms).saturating_mul(1000)
    }

    /// When a hold with deadline `deadline_ms` (Redis epoch ms) is surely expired: the
    /// grace and the skew past its deadline, not counting the time faults took.
    pub(crate) fn expired_by_us(&self, deadline_ms: i64, config: &CheckConfig) -> i64 {
        self.outages.after(
            self.deadline_us(deadline_ms),
            (config.expiry_grace_ms + config.clock_skew_ms) * 1000,
        )
    }

    /// The snapshot and its numbered ledger, for the white-box checks.
    pub(crate) fn white_box(&self) -> Option<(&'h WhiteBoxSnapshot, &LedgerIndex)> {
        Some((self.snapshot?, self.ledger.as_ref()?))
    }

    /// A reservation's merged items: (SKU id, units), sorted by SKU name.
    pub(crate) fn items(&self, facts: &ReservationFacts) -> &[(NameId, i64)] {
        &self.items[facts.items.start as usize..facts.items.end as usize]
    }

    /// The facts of a reservation id, if the history names it.
    pub(crate) fn facts(&self, reservation: NameId) -> Option<&ReservationFacts> {
        self.reservations.get(reservation as usize)
    }

    pub(crate) fn sku_name(&self, sku: NameId) -> &'h str {
        self.skus.name(sku)
    }

    pub(crate) fn reservation_name(&self, reservation: NameId) -> &'h str {
        self.reservation_ids.name(reservation)
    }

    /// The facts of `name`, adding an empty record the first time.
    fn facts_mut(&mut self, name: &'h str) -> (NameId, &mut ReservationFacts) {
        let id = self.reservation_ids.intern(name);
        if id as usize == self.reservations.len() {
            self.reservations.push(ReservationFacts::default());
        }
        (id, &mut self.reservations[id as usize])
    }

    fn sku(&mut self, name: &'h str) -> NameId {
        let id = self.skus.intern(name);
        if id as usize == self.supply.len() {
            self.supply.push(Supply::default());
            self.final_reads.push(None);
        }
        id
    }

    fn key(&mut self, name: &'h str) -> NameId {
        let id = self.keys.intern(name);
        if id as usize == self.unknown_keys.len() {
            self.unknown_keys.push(false);
        }
        id
    }

    fn add(&mut self, position: usize, entry: &'h HistoryEntry, pending: &mut Pending) {
        let response = entry.response.as_ref();
        match &entry.op {
            Op::Restock { sku, qty } => self.add_supply(entry, sku, *qty),
            Op::Adjust { sku, delta } => self.add_supply(entry, sku, *delta),
            Op::Reserve { key, items, .. } => {
                let key = self.key(key);
                pending.key_reserves.push((key, position));
                self.unknown_keys[key as usize] |= entry.outcome == Outcome::Unknown;
                let Some(reservation) = response.and_then(|body| body.reservation.as_ref()) else {
                    return;
                };
                if entry.outcome != Outcome::Ok {
                    return;
                }
                self.add_ok_reserve(position, entry, &reservation.0, key, items, pending);
            }
            Op::Confirm { reservation } | Op::Release { reservation } => {
                self.add_transition(position, entry, &reservation.0, pending);
            }
            Op::GetReservation { reservation } => {
                if let (Outcome::Ok, Some(state)) =
                    (entry.outcome, response.and_then(|body| body.state))
                {
                    let (id, facts) = self.facts_mut(&reservation.0);
                    pending.observed.push((id, (position, state)));
                    if let Some(deadline) = response.and_then(|body| body.deadline_ms) {
                        facts.deadline_ms.get_or_insert(deadline);
                    }
                }
            }
            Op::GetSku { .. } | Op::Fault { .. } => {}
        }
    }

    fn add_ok_reserve(
        &mut self,
        position: usize,
        entry: &'h HistoryEntry,
        reservation: &'h str,
        key: NameId,
        items: &'h [CartLine],
        pending: &mut Pending,
    ) {
        let response = entry.response.as_ref();
        let (id, facts) = self.facts_mut(reservation);
        let first = facts.first_ok_reserve.is_none();
        if first {
            facts.first_ok_reserve = Some(position);
            facts.key = Some(key);
        }
        facts.ok_reserves += 1;
        facts.taken_us = Some(
            facts
                .taken_us
                .map_or(entry.complete_us, |taken| taken.min(entry.complete_us)),
        );
        if let Some(deadline) = response.and_then(|body| body.deadline_ms) {
            facts.deadline_ms.get_or_insert(deadline);
        }
        if let Some(state) = response.and_then(|body| body.state) {
            pending.observed.push((id, (position, state)));
        }
        if first {
            let start = self.items.len() as u32;
            for (sku, qty) in merge_items(items) {
                let sku = self.sku(sku);
                self.items.push((sku, qty));
            }
            self.reservations[id as usize].items = start..self.items.len() as u32;
        }
    }

    fn add_transition(
        &mut self,
        position: usize,
        entry: &'h HistoryEntry,
        reservation: &'h str,
        pending: &mut Pending,
    ) {
        let confirm = matches!(entry.op, Op::Confirm { .. });
        let (id, facts) = self.facts_mut(reservation);
        let maybe = entry.outcome != Outcome::Fail;
        if confirm {
            if entry.outcome == Outcome::Ok {
                facts.confirm_ok.get_or_insert(position);
            }
            if maybe {
                facts.confirm_maybe.get_or_insert(position);
            }
        } else {
            if entry.outcome == Outcome::Ok {
                facts.release_ok.get_or_insert(position);
            }
            if maybe {
                facts.release_maybe.get_or_insert(position);
                facts.release_invoke_us = Some(
                    facts
                        .release_invoke_us
                        .map_or(entry.invoke_us, |at| at.min(entry.invoke_us)),
                );
            }
        }
        let state = match entry.outcome {
            Outcome::Ok if confirm => Some(ReservationState::Confirmed),
            Outcome::Ok => Some(ReservationState::Released),
            _ => entry.response.as_ref().and_then(|body| body.state),
        };
        if let Some(state) = state {
            pending.observed.push((id, (position, state)));
        }
    }

    fn add_supply(&mut self, entry: &HistoryEntry, sku: &'h str, delta: i64) {
        let sku = self.sku(sku);
        let supply = &mut self.supply[sku as usize];
        if !supply.named {
            supply.named = true;
            self.supplied.push(sku);
        }
        match (entry.outcome, delta >= 0) {
            (Outcome::Ok, true) => {
                supply.lower += delta;
                supply.upper += delta;
                supply.upper_changes.push((entry.invoke_us, delta));
            }
            (Outcome::Unknown, true) => {
                supply.upper += delta;
                supply.upper_changes.push((entry.invoke_us, delta));
            }
            (Outcome::Ok, false) => {
                supply.lower += delta;
                supply.upper += delta;
                supply.upper_changes.push((entry.complete_us, delta));
            }
            (Outcome::Unknown, false) => supply.lower += delta,
            (Outcome::Fail, _) => {}
        }
    }

    fn find_final_reads(&mut self) {
        let load_end_us = self.history.load_end_us();
        for (position, entry) in self.history.entries.iter().enumerate() {
            if let Op::GetSku { sku } = &entry.op {
                let after_load = entry.user.is_none() && entry.invoke_us >= load_end_us;
                let has_stock = entry
                    .response
                    .as_ref()
                    .is_some_and(|body| body.read_fields().is_some());
                if after_load && entry.outcome == Outcome::Ok && has_stock {
                    let sku = self.sku(sku);
                    self.final_reads[sku as usize] = Some(position);
                }
            }
        }
    }

    /// Numbers the ledger's SKUs, reservations and keys with the history's names.
    fn index_ledger(&mut self, snapshot: &'h WhiteBoxSnapshot) -> LedgerIndex {
        let events = snapshot.ledger.len();
        let mut ledger = LedgerIndex {
            sku: Vec::with_capacity(events),
            key: Vec::with_capacity(events),
            by_reservation: Groups::default(),
            supply_events: Vec::new(),
        };
        let mut pairs: Vec<(NameId, u32)> = Vec::with_capacity(events);
        // A reservation's events are mostly adjacent: the last id saves most lookups.
        let mut last_reservation: Option<(&str, NameId)> = None;
        let mut last_key: Option<(&str, NameId)> = None;
        for (position, event) in snapshot.ledger.iter().enumerate() {
            ledger.sku.push(self.sku(&event.sku));
            if matches!(event.kind, EventKind::Restock | EventKind::Adjust) {
                ledger.supply_events.push(position as u32);
                ledger.key.push(None);
                continue;
            }
            let id = match last_reservation {
                Some((name, id)) if name == event.reservation_id => id,
                _ => self.reservation_ids.intern(&event.reservation_id),
            };
            last_reservation = Some((&event.reservation_id, id));
            pairs.push((id, position as u32));
            let key = (event.kind == EventKind::Reserve).then(|| match last_key {
                Some((name, key)) if name == event.idempotency_key => key,
                _ => self.key(&event.idempotency_key),
            });
            if let Some(key) = key {
                last_key = Some((&event.idempotency_key, key));
            }
            ledger.key.push(key);
        }
        ledger.by_reservation = Groups::build(self.reservation_ids.len(), &pairs);
        ledger
    }
}
