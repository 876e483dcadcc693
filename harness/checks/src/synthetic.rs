//! The synthetic history of `stockproof bench-checks`: a correct inventory engine in
//! memory, driven by seeded carts, recording what a harness would see — reserves (some
//! replies lost, some retried), refusals for stock (some after units came back),
//! confirms, releases, expiries, restocks, shoppers' SKU reads overlapping a reserve of
//! that SKU, and reservation reads — plus the white-box snapshot it leaves. Every check
//! must pass on it. Not here: timing anything (`super`).

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;
use stockproof_model::ledger::{EventKind, LedgerEvent};
use stockproof_model::{CartLine, ReservationId, ReservationState, SkuStock};

use crate::history::{History, HistoryBuilder, HistoryEntry, HistoryHeader, Op, Outcome, Response};
use crate::{SNAPSHOT_FORMAT_VERSION, WhiteBoxSnapshot};

/// SKUs of the synthetic catalogue, and units each starts with.
pub const BENCH_SKUS: usize = 200;
pub(super) const BENCH_STOCK_PER_SKU: i64 = 500;
/// Reservation TTL of the synthetic carts: long enough that many are held at once.
const BENCH_TTL_MS: i64 = 200;
/// Share of refused reserves after which the harness restocks the SKU.
const BENCH_RESTOCK_SHARE: f64 = 0.2;
/// Simulated time between two ops (µs): 20k ops/s.
const BENCH_OP_SPACING_US: u64 = 50;
/// Share of reserves whose reply is lost (outcome unknown; the effect happened or not).
const BENCH_UNKNOWN_SHARE: f64 = 0.05;
/// Share of carts during whose reserve a reader reads one of the cart's SKUs (the read
/// is sent before the reserve and answered after it: concurrent).
const BENCH_SKU_READ_SHARE: f64 = 0.1;
/// Share of carts whose shopper reads the reservation once the cart ended.
const BENCH_RESERVATION_READ_SHARE: f64 = 0.1;
/// Share of expiries a shopper reads afterwards.
const BENCH_EXPIRY_READ_SHARE: f64 = 0.05;
/// Shoppers (users 1..=64); readers of SKUs are users of their own after them, so each
/// user's op ids still increase in invoke order.
const BENCH_SHOPPERS: u64 = 64;

/// Whether the synthetic shoppers read SKUs and reservations during the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Only the final reads after the load (the history other tests were written on).
    FinalOnly,
    /// Also SKU reads overlapping reserves and reservation reads, for C7 and C8.
    DuringLoad,
}

/// A reservation still Held: merged items (SKU number, units), key, deadline (ms).
type Held = (Vec<(usize, i64)>, String, i64);

/// A SKU read sent before a reserve and not yet answered.
struct PendingRead {
    user: u32,
    invoke_us: u64,
    sku: usize,
    /// The stock when the read was sent: it may be answered with this or the later one.
    before: SkuStock,
}

/// A correct engine in memory that records what a harness would see.
struct Simulation {
    rng: ChaCha8Rng,
    now_us: u64,
    next_op: u64,
    reads: Reads,
    /// SKU names by number.
    names: Vec<String>,
    stocks: Vec<SkuStock>,
    held: FxHashMap<String, Held>,
    deadlines: VecDeque<(i64, String)>,
    entries: Vec<HistoryEntry>,
    ledger: Vec<LedgerEvent>,
}

/// A seeded history of about `ops` ops over [`BENCH_SKUS`] SKUs, with reads during
/// the load, and the snapshot a correct engine would leave.
pub fn synthetic(ops: usize, seed: u64) -> (History, WhiteBoxSnapshot) {
    synthetic_over(ops, BENCH_SKUS, seed, Reads::DuringLoad)
}

/// [`synthetic`] over `skus` SKUs, with or without reads during the load.
pub fn synthetic_over(
    ops: usize,
    skus: usize,
    seed: u64,
    reads: Reads,
) -> (History, WhiteBoxSnapshot) {
    let mut simulation = Simulation {
        rng: ChaCha8Rng::seed_from_u64(seed),
        reads,
        now_us: 0,
        next_op: 1,
        names: (0..skus).map(|sku| format!("sku-{sku:03}")).collect(),
        stocks: vec![SkuStock::default(); skus],
        held: FxHashMap::default(),
        deadlines: VecDeque::new(),
        entries: Vec::with_capacity(ops + skus * 2),
        ledger: Vec::with_capacity(ops * 2 + skus),
    };
    for sku in 0..skus {
        simulation.restock(sku, BENCH_STOCK_PER_SKU);
    }
    let mut cart = 0_u64;
    while simulation.entries.len() < ops {
        cart += 1;
        simulation.cart(cart);
    }
    simulation.now_us += (BENCH_TTL_MS as u64 + 10) * 1000;
    simulation.expire_due();
    let mut by_name: Vec<usize> = (0..skus).collect();
    by_name.sort_unstable_by(|left, right| simulation.names[*left].cmp(&simulation.names[*right]));
    for sku in by_name {
        let response = Response {
            stock: Some(simulation.stocks[sku]),
            ..Response::default()
        };
        let op = Op::GetSku {
            sku: simulation.names[sku].clone(),
        };
        simulation.record(None, op, Outcome::Ok, Some(response), None);
    }
    let stocks: std::collections::BTreeMap<String, SkuStock> = simulation
        .names
        .iter()
        .cloned()
        .zip(simulation.stocks.iter().copied())
        .collect();
    let snapshot = WhiteBoxSnapshot {
        format_version: SNAPSHOT_FORMAT_VERSION,
        taken_at_ms: (simulation.now_us / 1000) as i64,
        redis_stocks: stocks.clone(),
        postgres_stocks: stocks,
        redis_seq: simulation.ledger.len() as i64,
        ledger: simulation.ledger,
        reservations: Vec::new(),
        postgres_only: false,
    };
    // Folded as a history read from a file is, so the checks are measured and tested
    // on what they judge.
    let mut history = HistoryBuilder::new(HistoryHeader::new("bench", seed, 0, 60_000));
    simulation
        .entries
        .into_iter()
        .for_each(|entry| history.push(entry));
    let history = history.finish();
    (history, snapshot)
}

impl Simulation {
    fn record(
        &mut self,
        user: Option<u32>,
        op: Op,
        outcome: Outcome,
        response: Option<Response>,
        retry_of: Option<u64>,
    ) -> u64 {
        self.record_since(self.now_us, user, op, outcome, response, retry_of)
    }

    /// Records an op sent at `invoke_us` and answered now.
    fn record_since(
        &mut self,
        invoke_us: u64,
        user: Option<u32>,
        op: Op,
        outcome: Outcome,
        response: Option<Response>,
        retry_of: Option<u64>,
    ) -> u64 {
        let id = self.next_op;
        self.next_op += 1;
        self.now_us += BENCH_OP_SPACING_US;
        let status = match outcome {
            Outcome::Ok => Some(200),
            Outcome::Fail => Some(409),
            Outcome::Unknown => None,
        };
        self.entries.push(HistoryEntry {
            id,
            user,
            op,
            intended_us: None,
            invoke_us,
            complete_us: self.now_us - 1,
            outcome,
            status,
            response,
            retry_of,
        });
        id
    }

    fn event(
        &mut self,
        kind: EventKind,
        sku: usize,
        qty: i64,
        reservation: &str,
        key: &str,
        deadline_ms: i64,
    ) {
        kind.apply(&mut self.stocks[sku], qty);
        self.ledger.push(LedgerEvent {
            seq: self.ledger.len() as i64 + 1,
            kind,
            sku: self.names[sku].clone(),
            qty,
            reservation_id: reservation.to_owned(),
            idempotency_key: key.to_owned(),
            deadline_ms,
            at_ms: (self.now_us / 1000) as i64,
        });
    }

    fn restock(&mut self, sku: usize, qty: i64) {
        self.event(EventKind::Restock, sku, qty, "", "", 0);
        let sku = self.names[sku].clone();
        self.record(None, Op::Restock { sku, qty }, Outcome::Ok, None, None);
    }

    fn expire_due(&mut self) {
        let now_ms = (self.now_us / 1000) as i64;
        while self
            .deadlines
            .front()
            .is_some_and(|(deadline, _)| *deadline < now_ms)
        {
            let Some((_, id)) = self.deadlines.pop_front() else {
                break;
            };
            if let Some((items, key, deadline)) = self.held.remove(&id) {
                for (sku, qty) in &items {
                    self.event(EventKind::Expire, *sku, *qty, &id, &key, deadline);
                }
                if self.chance(BENCH_EXPIRY_READ_SHARE) {
                    let user = Some(self.rng.random_range(1..=BENCH_SHOPPERS) as u32);
                    let read = (ReservationState::Expired, deadline, items.as_slice());
                    self.read_reservation(user, &id, read);
                }
            }
        }
    }

    /// Whether a read with this share happens; never without reads during the load (and
    /// then the generator draws nothing, so it makes the very history it made before).
    fn chance(&mut self, share: f64) -> bool {
        self.reads == Reads::DuringLoad && self.rng.random::<f64>() < share
    }

    /// Sums a cart's lines per SKU, sorted by SKU name (as the engine merges a cart).
    fn merge(&self, lines: &[(usize, i64)]) -> Vec<(usize, i64)> {
        let mut merged = lines.to_vec();
        merged.sort_unstable_by(|left, right| self.names[left.0].cmp(&self.names[right.0]));
        merged.dedup_by(|next, kept| {
            let same = next.0 == kept.0;
            kept.1 += if same { next.1 } else { 0 };
            same
        });
        merged
    }

    fn cart_lines(&self, lines: &[(usize, i64)]) -> Vec<CartLine> {
        lines
            .iter()
            .map(|(sku, qty)| CartLine {
                sku: self.names[*sku].clone(),
                qty: *qty,
            })
            .collect()
    }

    /// One cart: reserve (maybe with a lost reply and a retry, maybe with a read of one
    /// of its SKUs in flight meanwhile), then confirm, release or abandon.
    fn cart(&mut self, cart: u64) {
        self.expire_due();
        let user = Some((cart % BENCH_SHOPPERS) as u32 + 1);
        let key = format!("k{cart}");
        let lines = self.rng.random_range(1..=3);
        let picked: Vec<(usize, i64)> = (0..lines)
            .map(|_| {
                let sku = self.rng.random_range(0..self.names.len());
                (sku, self.rng.random_range(1..=2))
            })
            .collect();
        let merged = self.merge(&picked);
        let read = self.chance(BENCH_SKU_READ_SHARE).then(|| PendingRead {
            user: (BENCH_SHOPPERS + cart % BENCH_SHOPPERS) as u32 + 1,
            invoke_us: self.now_us,
            sku: merged[0].0,
            before: self.stocks[merged[0].0],
        });
        let short = merged
            .iter()
            .find(|(sku, qty)| self.stocks[*sku].available < *qty)
            .copied();
        let op = Op::Reserve {
            key: key.clone(),
            items: self.cart_lines(&picked),
            ttl_ms: BENCH_TTL_MS,
        };
        if let Some((sku, _)) = short {
            self.refuse(user, op, sku, read);
            return;
        }
        let id = format!("r{}", self.ledger.len() + 1);
        let deadline = (self.now_us / 1000) as i64 + BENCH_TTL_MS;
        for (sku, qty) in &merged {
            self.event(EventKind::Reserve, *sku, *qty, &id, &key, deadline);
        }
        let response = Response {
            reservation: Some(ReservationId(id.clone())),
            state: Some(ReservationState::Held),
            deadline_ms: Some(deadline),
            items: Some(self.cart_lines(&merged)),
            ..Response::default()
        };
        self.held.insert(id.clone(), (merged, key, deadline));
        self.deadlines.push_back((deadline, id.clone()));
        let lost = self.rng.random::<f64>() < BENCH_UNKNOWN_SHARE;
        let retry_of = lost.then(|| self.record(user, op.clone(), Outcome::Unknown, None, None));
        // Half the lost replies are abandoned: the hold expires.
        let abandoned = lost && self.rng.random::<bool>();
        if !abandoned {
            self.record(user, op, Outcome::Ok, Some(response), retry_of);
        }
        self.finish_read(read);
        if !abandoned {
            self.end_cart(user, id, deadline);
        }
    }

    /// A reserve refused for lack of `sku`; now and then the harness restocks it.
    fn refuse(&mut self, user: Option<u32>, op: Op, sku: usize, read: Option<PendingRead>) {
        let response = Response {
            error: Some("insufficient_stock".to_owned()),
            sku: Some(self.names[sku].clone()),
            available: Some(self.stocks[sku].available),
            ..Response::default()
        };
        self.record(user, op, Outcome::Fail, Some(response), None);
        self.finish_read(read);
        // A sold-out SKU is restocked now and then, so the run keeps selling.
        if self.rng.random::<f64>() < BENCH_RESTOCK_SHARE {
            self.restock(sku, BENCH_STOCK_PER_SKU);
        }
    }

    /// Answers a SKU read sent before the reserve with the stock before or after it:
    /// both are what a linearizable engine may return.
    fn finish_read(&mut self, read: Option<PendingRead>) {
        let Some(read) = read else {
            return;
        };
        let stock = if self.rng.random::<bool>() {
            read.before
        } else {
            self.stocks[read.sku]
        };
        let response = Response {
            stock: Some(stock),
            ..Response::default()
        };
        let op = Op::GetSku {
            sku: self.names[read.sku].clone(),
        };
        self.record_since(
            read.invoke_us,
            Some(read.user),
            op,
            Outcome::Ok,
            Some(response),
            None,
        );
    }

    /// Confirms (60 %), releases (25 %) or abandons (the rest) a held cart; its shopper
    /// reads it afterwards now and then.
    fn end_cart(&mut self, user: Option<u32>, id: String, deadline: i64) {
        let fate: f64 = self.rng.random();
        let (kind, state) = if fate < 0.6 {
            (EventKind::Confirm, ReservationState::Confirmed)
        } else if fate < 0.85 {
            (EventKind::Release, ReservationState::Released)
        } else {
            (EventKind::Reserve, ReservationState::Held)
        };
        let items = if state == ReservationState::Held {
            self.held.get(&id).map(|(items, _, _)| items.clone())
        } else {
            self.held.remove(&id).map(|(items, key, _)| {
                for (sku, qty) in &items {
                    self.event(kind, *sku, *qty, &id, &key, 0);
                }
                items
            })
        };
        if state != ReservationState::Held {
            let reservation = ReservationId(id.clone());
            let transition = if state == ReservationState::Confirmed {
                Op::Confirm { reservation }
            } else {
                Op::Release { reservation }
            };
            let response = Response {
                reservation: Some(ReservationId(id.clone())),
                state: Some(state),
                ..Response::default()
            };
            self.record(user, transition, Outcome::Ok, Some(response), None);
        }
        if self.chance(BENCH_RESERVATION_READ_SHARE) {
            let items = items.unwrap_or_default();
            self.read_reservation(user, &id, (state, deadline, items.as_slice()));
        }
    }

    /// An acknowledged `GET` of reservation `id`: (state, deadline, items).
    fn read_reservation(
        &mut self,
        user: Option<u32>,
        id: &str,
        (state, deadline, items): (ReservationState, i64, &[(usize, i64)]),
    ) {
        let response = Response {
            reservation: Some(ReservationId(id.to_owned())),
            state: Some(state),
            deadline_ms: Some(deadline),
            items: Some(self.cart_lines(items)),
            ..Response::default()
        };
        let op = Op::GetReservation {
            reservation: ReservationId(id.to_owned()),
        };
        self.record(user, op, Outcome::Ok, Some(response), None);
    }
}

#[cfg(test)]
mod tests;
