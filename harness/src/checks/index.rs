//! One pass over the history that every checker shares: what is known of each
//! reservation (who reserved it, its items and deadline, which transitions were
//! acknowledged, which states replies reported), the reserves of each idempotency key,
//! the supply of each SKU and the final reads after the load. Borrowing from the
//! history keeps it one allocation per reservation, not per op.

use std::collections::{BTreeMap, HashMap};

use stockproof_engine::{CartLine, ReservationState};

use crate::history::{History, HistoryEntry, Op, Outcome};

/// What the history says about one reservation id.
#[derive(Debug, Default)]
pub(crate) struct ReservationFacts<'h> {
    /// Merged items (sorted by SKU) of the first ok reserve naming it.
    pub(crate) items: Vec<(&'h str, i64)>,
    pub(crate) key: Option<&'h str>,
    /// Entries (indices) of ok reserves naming it.
    pub(crate) ok_reserves: Vec<usize>,
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
    /// States replies reported, with the entry that reported each.
    pub(crate) observed: Vec<(usize, ReservationState)>,
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
}

#[derive(Debug)]
pub(crate) struct Index<'h> {
    pub(crate) history: &'h History,
    pub(crate) reservations: HashMap<&'h str, ReservationFacts<'h>>,
    /// Reserve entries per idempotency key, in history order.
    pub(crate) keys: HashMap<&'h str, Vec<usize>>,
    pub(crate) supply: BTreeMap<&'h str, Supply>,
    /// Per SKU, the last ok `GET` by the harness after every shopper op completed.
    pub(crate) final_reads: BTreeMap<&'h str, usize>,
    pub(crate) unknown_outcomes: u64,
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

impl<'h> Index<'h> {
    pub(crate) fn build(history: &'h History) -> Index<'h> {
        let mut index = Index {
            history,
            reservations: HashMap::new(),
            keys: HashMap::new(),
            supply: BTreeMap::new(),
            final_reads: BTreeMap::new(),
            unknown_outcomes: 0,
        };
        for (position, entry) in history.entries.iter().enumerate() {
            index.unknown_outcomes += u64::from(entry.outcome == Outcome::Unknown);
            index.add(position, entry);
        }
        index.find_final_reads();
        index
    }

    pub(crate) fn entry(&self, position: usize) -> &'h HistoryEntry {
        &self.history.entries[position]
    }

    /// A deadline (Redis epoch ms) on the history's axis (µs since run start).
    pub(crate) fn deadline_us(&self, deadline_ms: i64) -> i64 {
        (deadline_ms - self.history.header.started_at_unix_ms).saturating_mul(1000)
    }

    fn add(&mut self, position: usize, entry: &'h HistoryEntry) {
        let response = entry.response.as_ref();
        match &entry.op {
            Op::Restock { sku, qty } => self.add_supply(entry, sku, *qty),
            Op::Adjust { sku, delta } => self.add_supply(entry, sku, *delta),
            Op::Reserve { key, items, .. } => {
                self.keys.entry(key.as_str()).or_default().push(position);
                let Some(reservation) = response.and_then(|body| body.reservation.as_ref()) else {
                    return;
                };
                if entry.outcome != Outcome::Ok {
                    return;
                }
                let facts = self.reservations.entry(reservation.0.as_str()).or_default();
                if facts.ok_reserves.is_empty() {
                    facts.items = merge_items(items);
                    facts.key = Some(key.as_str());
                }
                facts.ok_reserves.push(position);
                facts.taken_us = Some(
                    facts
                        .taken_us
                        .map_or(entry.complete_us, |taken| taken.min(entry.complete_us)),
                );
                if let Some(deadline) = response.and_then(|body| body.deadline_ms) {
                    facts.deadline_ms.get_or_insert(deadline);
                }
                if let Some(state) = response.and_then(|body| body.state) {
                    facts.observed.push((position, state));
                }
            }
            Op::Confirm { reservation } | Op::Release { reservation } => {
                let confirm = matches!(entry.op, Op::Confirm { .. });
                let facts = self.reservations.entry(reservation.0.as_str()).or_default();
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
                    _ => response.and_then(|body| body.state),
                };
                if let Some(state) = state {
                    facts.observed.push((position, state));
                }
            }
            Op::GetReservation { reservation } => {
                if let (Outcome::Ok, Some(state)) =
                    (entry.outcome, response.and_then(|body| body.state))
                {
                    let facts = self.reservations.entry(reservation.0.as_str()).or_default();
                    facts.observed.push((position, state));
                    if let Some(deadline) = response.and_then(|body| body.deadline_ms) {
                        facts.deadline_ms.get_or_insert(deadline);
                    }
                }
            }
            Op::GetSku { .. } | Op::Fault { .. } => {}
        }
    }

    fn add_supply(&mut self, entry: &HistoryEntry, sku: &'h str, delta: i64) {
        let supply = self.supply.entry(sku).or_default();
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
        let load_end_us = self
            .history
            .entries
            .iter()
            .filter(|entry| entry.user.is_some())
            .map(|entry| entry.complete_us)
            .max()
            .unwrap_or(0);
        for (position, entry) in self.history.entries.iter().enumerate() {
            if let Op::GetSku { sku } = &entry.op {
                let after_load = entry.user.is_none() && entry.invoke_us >= load_end_us;
                let has_stock = entry
                    .response
                    .as_ref()
                    .is_some_and(|body| body.stock.is_some());
                if after_load && entry.outcome == Outcome::Ok && has_stock {
                    self.final_reads.insert(sku.as_str(), position);
                }
            }
        }
    }
}
