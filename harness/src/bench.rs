//! `stockproof bench checks`: how fast the checkers judge a large history. Generates a
//! synthetic, seeded history of a correct in-memory engine (with unknown outcomes,
//! retries, confirms, releases and expiries) and its white-box snapshot, then times
//! `run_checks` over it and reports ops/s. The test suite runs a small size so the
//! bench cannot rot; nothing here asserts on time.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stockproof_engine::ledger::{EventKind, LedgerEvent};
use stockproof_engine::{CartLine, ReservationId, ReservationState, SkuStock};

use crate::checks::{
    CheckConfig, CheckId, CheckReport, SNAPSHOT_FORMAT_VERSION, WhiteBoxSnapshot, coverage,
    run_checks_timed,
};
use crate::history::{
    History, HistoryEntry, HistoryError, HistoryHeader, HistoryWriter, Op, Outcome, Response,
    read_history,
};
use crate::latency::Latencies;
use crate::scenario::CoverageGoal;

/// SKUs of the synthetic catalogue, and units each starts with.
pub const BENCH_SKUS: usize = 200;
const BENCH_STOCK_PER_SKU: i64 = 500;
/// Reservation TTL of the synthetic carts: long enough that many are held at once.
const BENCH_TTL_MS: i64 = 200;
/// Share of refused reserves after which the harness restocks the SKU.
const BENCH_RESTOCK_SHARE: f64 = 0.2;
/// Simulated time between two ops (µs): 20k ops/s.
const BENCH_OP_SPACING_US: u64 = 50;
/// Share of reserves whose reply is lost (outcome unknown; the effect happened or not).
const BENCH_UNKNOWN_SHARE: f64 = 0.05;

/// What a bench run measured.
#[derive(Debug)]
pub struct BenchReport {
    pub ops: usize,
    pub ledger_events: usize,
    pub generate: Duration,
    /// Building the shared index.
    pub index: Duration,
    /// Each checker, in report order.
    pub checks: Vec<(CheckId, Duration)>,
    /// The index and every checker.
    pub check: Duration,
    /// `Latencies::from_history` and every coverage goal: the rest of what `check` pays.
    pub latencies: Duration,
    pub coverage: Duration,
    pub reports: Vec<CheckReport>,
}

impl BenchReport {
    pub fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.check.as_secs_f64().max(1e-9)
    }
}

/// Writing the synthetic history to `history.jsonl` and reading it back, as
/// `stockproof check` does.
#[derive(Debug)]
pub struct ReadBack {
    pub bytes: u64,
    pub write: Duration,
    pub read: Duration,
}

/// Generates `ops` ops with `seed` and checks them.
pub fn run(ops: usize, seed: u64) -> BenchReport {
    let started = Instant::now();
    let (history, snapshot) = synthetic(ops, seed);
    let generate = started.elapsed();
    judge(&history, &snapshot, generate)
}

/// Times the checks, the latencies and the coverage goals over a synthetic history.
pub fn judge(history: &History, snapshot: &WhiteBoxSnapshot, generate: Duration) -> BenchReport {
    let config = CheckConfig {
        expiry_grace_ms: 1_000,
        clock_skew_ms: 0,
    };
    let started = Instant::now();
    let (reports, timings) = run_checks_timed(history, Some(snapshot), &config);
    let check = started.elapsed();
    let started = Instant::now();
    let latencies = Latencies::from_history(history);
    let latencies_elapsed = started.elapsed();
    let started = Instant::now();
    std::hint::black_box(coverage::evaluate(&every_coverage_goal(), history));
    let coverage = started.elapsed();
    std::hint::black_box(latencies);
    BenchReport {
        ops: history.entries.len(),
        ledger_events: snapshot.ledger.len(),
        generate,
        index: timings.index,
        checks: timings.checks,
        check,
        latencies: latencies_elapsed,
        coverage,
        reports,
    }
}

/// One goal of each kind, so the bench pays for all of them.
fn every_coverage_goal() -> Vec<CoverageGoal> {
    vec![
        CoverageGoal::StockReachedZero { min: 1 },
        CoverageGoal::DuplicateOverlapped { min: 1 },
        CoverageGoal::ConfirmNearDeadline {
            within: Duration::from_millis(50),
            min: 1,
        },
        CoverageGoal::RetryAfterUnknown { min: 1 },
        CoverageGoal::RetryAfterRetention { min: 1 },
        CoverageGoal::RepeatedSkuLine { min: 1 },
    ]
}

/// Writes `history` to `path` and reads it back with [`read_history`]; the history
/// read must equal the one written.
pub fn read_back(history: &History, path: &Path) -> Result<ReadBack, HistoryError> {
    let started = Instant::now();
    let mut writer = HistoryWriter::create(path, &history.header)?;
    for entry in &history.entries {
        writer.append(entry)?;
    }
    writer.finish()?;
    let write = started.elapsed();
    let bytes = std::fs::metadata(path).map_or(0, |metadata| metadata.len());
    let started = Instant::now();
    let read_back = read_history(path)?;
    let read = started.elapsed();
    assert!(
        read_back == *history,
        "the history read back from {} differs from the one written",
        path.display()
    );
    Ok(ReadBack { bytes, write, read })
}

/// A correct engine in memory that records what a harness would see.
struct Simulation {
    rng: ChaCha8Rng,
    now_us: u64,
    next_op: u64,
    stocks: BTreeMap<String, SkuStock>,
    skus: usize,
    held: BTreeMap<String, (Vec<CartLine>, String, i64)>,
    deadlines: VecDeque<(i64, String)>,
    entries: Vec<HistoryEntry>,
    ledger: Vec<LedgerEvent>,
}

/// A seeded history of about `ops` ops over [`BENCH_SKUS`] SKUs and the snapshot a
/// correct engine would leave.
pub fn synthetic(ops: usize, seed: u64) -> (History, WhiteBoxSnapshot) {
    synthetic_over(ops, BENCH_SKUS, seed)
}

/// [`synthetic`] over `skus` SKUs.
pub fn synthetic_over(ops: usize, skus: usize, seed: u64) -> (History, WhiteBoxSnapshot) {
    let mut simulation = Simulation {
        rng: ChaCha8Rng::seed_from_u64(seed),
        now_us: 0,
        next_op: 1,
        stocks: BTreeMap::new(),
        held: BTreeMap::new(),
        deadlines: VecDeque::new(),
        skus,
        entries: Vec::with_capacity(ops + skus * 2),
        ledger: Vec::new(),
    };
    for sku in 0..skus {
        simulation.restock(format!("sku-{sku:03}"), BENCH_STOCK_PER_SKU);
    }
    let mut cart = 0_u64;
    while simulation.entries.len() < ops {
        cart += 1;
        simulation.cart(cart);
    }
    simulation.now_us += (BENCH_TTL_MS as u64 + 10) * 1000;
    simulation.expire_due();
    let skus: Vec<String> = simulation.stocks.keys().cloned().collect();
    for sku in skus {
        let stock = simulation.stocks[&sku];
        let response = Response {
            stock: Some(stock),
            ..Response::default()
        };
        simulation.record(None, Op::GetSku { sku }, Outcome::Ok, Some(response), None);
    }
    let snapshot = WhiteBoxSnapshot {
        format_version: SNAPSHOT_FORMAT_VERSION,
        taken_at_ms: (simulation.now_us / 1000) as i64,
        redis_stocks: simulation.stocks.clone(),
        postgres_stocks: simulation.stocks,
        redis_seq: simulation.ledger.len() as i64,
        ledger: simulation.ledger,
        reservations: Vec::new(),
    };
    let history = History {
        header: HistoryHeader::new("bench", seed, 0, 60_000),
        entries: simulation.entries,
    };
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
        let id = self.next_op;
        self.next_op += 1;
        let invoke_us = self.now_us;
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
        sku: &str,
        qty: i64,
        reservation: &str,
        key: &str,
        deadline_ms: i64,
    ) {
        let stock = self.stocks.entry(sku.to_owned()).or_default();
        kind.apply(stock, qty);
        self.ledger.push(LedgerEvent {
            seq: self.ledger.len() as i64 + 1,
            kind,
            sku: sku.to_owned(),
            qty,
            reservation_id: reservation.to_owned(),
            idempotency_key: key.to_owned(),
            deadline_ms,
            at_ms: (self.now_us / 1000) as i64,
        });
    }

    fn restock(&mut self, sku: String, qty: i64) {
        self.event(EventKind::Restock, &sku, qty, "", "", 0);
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
                for line in &items {
                    self.event(EventKind::Expire, &line.sku, line.qty, &id, &key, deadline);
                }
            }
        }
    }

    /// One cart: reserve (maybe with a lost reply and a retry), then confirm, release
    /// or abandon.
    fn cart(&mut self, cart: u64) {
        self.expire_due();
        let user = Some((cart % 64) as u32 + 1);
        let key = format!("k{cart}");
        let lines = self.rng.random_range(1..=3);
        let items: Vec<CartLine> = (0..lines)
            .map(|_| CartLine {
                sku: format!("sku-{:03}", self.rng.random_range(0..self.skus)),
                qty: self.rng.random_range(1..=2),
            })
            .collect();
        let merged = crate::checks::merge_cart(&items);
        let short = merged
            .iter()
            .find(|line| self.stocks[&line.sku].available < line.qty)
            .cloned();
        let op = Op::Reserve {
            key: key.clone(),
            items,
            ttl_ms: BENCH_TTL_MS,
        };
        if let Some(line) = short {
            let available = self.stocks[&line.sku].available;
            let response = Response {
                error: Some("insufficient_stock".to_owned()),
                sku: Some(line.sku),
                available: Some(available),
                ..Response::default()
            };
            let sku = response.sku.clone().unwrap_or_default();
            self.record(user, op, Outcome::Fail, Some(response), None);
            // A sold-out SKU is restocked now and then, so the run keeps selling.
            if self.rng.random::<f64>() < BENCH_RESTOCK_SHARE {
                self.restock(sku, BENCH_STOCK_PER_SKU);
            }
            return;
        }
        let id = format!("r{}", self.ledger.len() + 1);
        let deadline = (self.now_us / 1000) as i64 + BENCH_TTL_MS;
        for line in &merged {
            self.event(EventKind::Reserve, &line.sku, line.qty, &id, &key, deadline);
        }
        self.held
            .insert(id.clone(), (merged.clone(), key.clone(), deadline));
        self.deadlines.push_back((deadline, id.clone()));
        let response = Response {
            reservation: Some(ReservationId(id.clone())),
            state: Some(ReservationState::Held),
            deadline_ms: Some(deadline),
            items: Some(merged),
            ..Response::default()
        };
        if self.rng.random::<f64>() < BENCH_UNKNOWN_SHARE {
            let first = self.record(user, op.clone(), Outcome::Unknown, None, None);
            if self.rng.random::<bool>() {
                // Abandoned after the lost reply: the hold expires.
                return;
            }
            self.record(user, op, Outcome::Ok, Some(response), Some(first));
        } else {
            self.record(user, op, Outcome::Ok, Some(response), None);
        }
        self.end_cart(user, id);
    }

    /// Confirms (60 %), releases (25 %) or abandons (the rest) a held cart.
    fn end_cart(&mut self, user: Option<u32>, id: String) {
        let fate: f64 = self.rng.random();
        let (transition, kind, state) = if fate < 0.6 {
            (
                Op::Confirm {
                    reservation: ReservationId(id.clone()),
                },
                EventKind::Confirm,
                ReservationState::Confirmed,
            )
        } else if fate < 0.85 {
            (
                Op::Release {
                    reservation: ReservationId(id.clone()),
                },
                EventKind::Release,
                ReservationState::Released,
            )
        } else {
            return;
        };
        if let Some((items, key, _)) = self.held.remove(&id) {
            for line in &items {
                self.event(kind, &line.sku, line.qty, &id, &key, 0);
            }
        }
        let response = Response {
            reservation: Some(ReservationId(id)),
            state: Some(state),
            ..Response::default()
        };
        self.record(user, transition, Outcome::Ok, Some(response), None);
    }
}

#[cfg(test)]
mod tests;
