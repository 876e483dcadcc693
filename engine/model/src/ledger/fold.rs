//! The state the ledger implies: every event folded in seq order from zero into
//! per-SKU stock and reservations, with the seq gaps seen on the way. The reconciler
//! compares it with the stores; recovery writes it into Redis. Pure: events in, state
//! out; reading the events is the caller's business.

use std::collections::BTreeMap;

use super::event::{EventKind, LedgerEvent};
use crate::{CartLine, ReservationState, SkuStock};

/// A reservation as the ledger tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedReservation {
    pub idempotency_key: String,
    pub state: ReservationState,
    pub deadline_ms: i64,
    /// Redis time of its first reserve event.
    pub created_ms: i64,
    /// Redis time of its terminal event; `None` while Held.
    pub terminal_at_ms: Option<i64>,
    /// One line per SKU, in the order the reserve events came (the scripts append the
    /// canonical cart, sorted by SKU); [`LedgerFold::finish`] sorts them.
    pub items: Vec<CartLine>,
}

/// Folded ledger state.
#[derive(Debug, Clone, Default)]
pub struct LedgerFold {
    pub stocks: BTreeMap<String, SkuStock>,
    /// Held reservations, plus terminal ones that ended at or after
    /// `keep_terminal_since_ms` (none when it is `None`), by id.
    pub reservations: BTreeMap<String, FoldedReservation>,
    /// Highest seq folded (0 before any).
    pub max_seq: i64,
    pub events: u64,
    /// Missing seq ranges `(first, last)`, inclusive.
    pub gaps: Vec<(i64, i64)>,
    /// Events whose seq was not above the max so far (out of order or repeated),
    /// ignored.
    pub out_of_order: Vec<i64>,
    keep_terminal_since_ms: Option<i64>,
}

impl LedgerFold {
    /// An empty fold keeping Held reservations only.
    pub fn held_only() -> LedgerFold {
        LedgerFold::default()
    }

    /// An empty fold that also keeps terminal reservations ended at or after `since_ms`.
    pub fn keeping_terminal_since(since_ms: i64) -> LedgerFold {
        LedgerFold {
            keep_terminal_since_ms: Some(since_ms),
            ..LedgerFold::default()
        }
    }

    /// Folds one event; events must come in seq order.
    pub fn apply(&mut self, event: &LedgerEvent) {
        if event.seq <= self.max_seq {
            self.out_of_order.push(event.seq);
            return;
        }
        if event.seq > self.max_seq + 1 {
            self.gaps.push((self.max_seq + 1, event.seq - 1));
        }
        self.max_seq = event.seq;
        self.events += 1;
        let stock = self.stocks.entry(event.sku.clone()).or_default();
        event.kind.apply(stock, event.qty);
        match event.kind {
            EventKind::Reserve => self.apply_reserve(event),
            EventKind::Confirm => self.apply_terminal(event, ReservationState::Confirmed),
            EventKind::Release => self.apply_terminal(event, ReservationState::Released),
            EventKind::Expire => self.apply_terminal(event, ReservationState::Expired),
            EventKind::Restock | EventKind::Adjust => {}
        }
    }

    fn apply_reserve(&mut self, event: &LedgerEvent) {
        let reservation = self
            .reservations
            .entry(event.reservation_id.clone())
            .or_insert_with(|| FoldedReservation {
                idempotency_key: event.idempotency_key.clone(),
                state: ReservationState::Held,
                deadline_ms: event.deadline_ms,
                created_ms: event.at_ms,
                terminal_at_ms: None,
                items: Vec::new(),
            });
        reservation.items.push(CartLine {
            sku: event.sku.clone(),
            qty: event.qty,
        });
    }

    fn apply_terminal(&mut self, event: &LedgerEvent, state: ReservationState) {
        let keep = self
            .keep_terminal_since_ms
            .is_some_and(|since_ms| event.at_ms >= since_ms);
        if !keep {
            self.reservations.remove(&event.reservation_id);
            return;
        }
        if let Some(reservation) = self.reservations.get_mut(&event.reservation_id) {
            reservation.state = state;
            reservation.terminal_at_ms = Some(event.at_ms);
        }
    }

    /// Sorts every reservation's items by SKU (the canonical cart order).
    pub fn finish(mut self) -> LedgerFold {
        for reservation in self.reservations.values_mut() {
            reservation.items.sort_by(|a, b| a.sku.cmp(&b.sku));
        }
        self
    }

    /// Held reservations only.
    pub fn held(&self) -> impl Iterator<Item = (&String, &FoldedReservation)> {
        self.reservations
            .iter()
            .filter(|(_, reservation)| reservation.state == ReservationState::Held)
    }

    /// Units of each SKU in Held reservations.
    pub fn held_units(&self) -> BTreeMap<String, i64> {
        let mut units = BTreeMap::new();
        for (_, reservation) in self.held() {
            for line in &reservation.items {
                *units.entry(line.sku.clone()).or_insert(0) += line.qty;
            }
        }
        units
    }
}

#[cfg(test)]
mod tests;
