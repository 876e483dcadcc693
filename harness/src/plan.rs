//! The plan: which carts each user sends, derived deterministically from the scenario
//! and a seed, so that a seed reproduces the load (DESIGN §10). Each user draws from
//! its own ChaCha8 stream (`seed`, stream = user), so what user 7 does never depends on
//! how fast user 3 ran: cart *n* of user *u* is the same in every run with that seed.
//!
//! A [`CartPlan`] says which SKUs and quantities to reserve (lines naming one SKU twice
//! included), the idempotency key, the TTL, how the cart ends (confirm, release or
//! abandon to expiry) after which hold time, and how each request is duplicated. It
//! does not send anything or keep time: the load driver does.

pub mod agent;

use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stockproof_engine::CartLine;

use crate::scenario::{RetryPolicy, Scenario, Stop};

/// Added to TTL + retention before a late retry is sent: the key's expiry is measured
/// on the Redis clock from the reserve, and the reply reaches us a little later.
pub const LATE_RETRY_MARGIN: Duration = Duration::from_millis(500);
/// Draws per line when looking for a SKU not yet in the cart; past this (a skewed
/// catalogue with few SKUs) the cart keeps fewer lines rather than loop.
const DISTINCT_SKU_DRAWS_MAX: u32 = 32;

/// How a cart ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Confirm,
    Release,
    /// Left Held until the sweeper expires it.
    Abandon,
}

/// How one request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Send {
    Once,
    /// A second identical request while the first is in flight.
    Concurrent,
    /// A second identical request after the first reply.
    AfterReply,
    /// First sent with this client timeout (so the client usually gives up: outcome
    /// unknown), then re-sent with the normal timeout.
    AfterTimeout {
        timeout: Duration,
    },
}

/// One cart of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartPlan {
    /// 0-based cart number of this user.
    pub index: u64,
    pub idempotency_key: String,
    /// The lines as sent (a SKU may appear on two lines).
    pub lines: Vec<CartLine>,
    pub ttl_ms: i64,
    pub fate: Fate,
    /// Wait after the reserve reply before the confirm / release.
    pub hold: Duration,
    pub reserve_send: Send,
    /// How the confirm or release is sent (`Once` for abandoned carts).
    pub transition_send: Send,
    /// Send the reserve once more this long after the original's reply (the key is
    /// forgotten by then).
    pub late_retry_after: Option<Duration>,
    /// `GET` this SKU after the cart.
    pub read_sku: Option<String>,
    /// `GET` the reservation after the reserve, and again after the confirm or release.
    pub read_reservation: bool,
}

/// Picks SKU indices with Zipf weights 1/(rank+1)^s (uniform for s = 0).
#[derive(Debug)]
struct SkuPicker {
    skus: Vec<String>,
    /// Cumulative weights, last = 1.
    cumulative: Vec<f64>,
}

impl SkuPicker {
    fn new(skus: Vec<String>, exponent: f64) -> SkuPicker {
        let weights: Vec<f64> = (0..skus.len())
            .map(|rank| 1.0 / ((rank + 1) as f64).powf(exponent))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut sum = 0.0;
        let cumulative = weights
            .iter()
            .map(|weight| {
                sum += weight / total;
                sum
            })
            .collect();
        SkuPicker { skus, cumulative }
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
        let draw: f64 = rng.random();
        self.cumulative
            .partition_point(|cumulative| *cumulative <= draw)
            .min(self.skus.len() - 1)
    }
}

/// The plan of a whole run: shared, read-only; hands out one [`UserPlan`] per user.
#[derive(Debug, Clone)]
pub struct Plan {
    inner: Arc<PlanInner>,
}

#[derive(Debug)]
struct PlanInner {
    scenario: Scenario,
    seed: u64,
    picker: SkuPicker,
    /// Start of every idempotency key: `{scenario}-{seed}`, then the run's id if given.
    key_prefix: String,
}

impl Plan {
    pub fn new(scenario: &Scenario, seed: u64) -> Plan {
        Plan::with_key_prefix(scenario, seed, format!("{}-{seed}", scenario.name))
    }

    /// The plan of [`Plan::new`] with `run_id` in every key (`{scenario}-{seed}-{run_id}-u…`),
    /// so that no two runs send the same key; the carts are the same.
    pub fn for_run(scenario: &Scenario, seed: u64, run_id: &str) -> Plan {
        Plan::with_key_prefix(scenario, seed, format!("{}-{seed}-{run_id}", scenario.name))
    }

    fn with_key_prefix(scenario: &Scenario, seed: u64, key_prefix: String) -> Plan {
        let picker = SkuPicker::new(scenario.mix.skus.clone(), scenario.catalogue.zipf_exponent);
        Plan {
            inner: Arc::new(PlanInner {
                scenario: scenario.clone(),
                seed,
                picker,
                key_prefix,
            }),
        }
    }

    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    pub fn scenario(&self) -> &Scenario {
        &self.inner.scenario
    }

    /// Carts per user when the scenario counts iterations.
    pub fn carts_per_user(&self) -> Option<u64> {
        match self.inner.scenario.load.stop {
            Stop::Iterations(count) => Some(count),
            Stop::Duration(_) => None,
        }
    }

    /// The carts of `user` (1-based, as in the history), in order.
    pub fn user(&self, user: u32) -> UserPlan {
        let mut rng = ChaCha8Rng::seed_from_u64(self.inner.seed);
        rng.set_stream(u64::from(user));
        UserPlan {
            plan: self.clone(),
            user,
            rng,
            next_index: 0,
        }
    }
}

/// The cart sequence of one user: an endless, deterministic stream.
#[derive(Debug)]
pub struct UserPlan {
    plan: Plan,
    user: u32,
    rng: ChaCha8Rng,
    next_index: u64,
}

impl UserPlan {
    pub fn user(&self) -> u32 {
        self.user
    }

    /// The user's next cart (or `None` once an iteration-bounded user is done).
    pub fn next_cart(&mut self) -> Option<CartPlan> {
        if self
            .plan
            .carts_per_user()
            .is_some_and(|count| self.next_index >= count)
        {
            return None;
        }
        let index = self.next_index;
        self.next_index += 1;
        let inner = &*self.plan.inner;
        let scenario = &inner.scenario;
        let rng = &mut self.rng;
        let lines = draw_lines(scenario, &inner.picker, rng);
        let fate = draw_fate(scenario, rng);
        let (hold_low, hold_high) = scenario.mix.hold_time;
        let hold = if hold_high > hold_low {
            Duration::from_micros(
                rng.random_range(hold_low.as_micros() as u64..=hold_high.as_micros() as u64),
            )
        } else {
            hold_low
        };
        let reserve_send = draw_send(&scenario.retry, rng);
        let transition_send = match fate {
            Fate::Abandon => Send::Once,
            Fate::Confirm | Fate::Release => draw_send(&scenario.retry, rng),
        };
        let late_retry_after = (rng.random::<f64>() < scenario.retry.after_retention).then(|| {
            scenario.engine.idempotency_retention + scenario.reservation_ttl + LATE_RETRY_MARGIN
        });
        let read_sku = (rng.random::<f64>() < scenario.mix.read_sku)
            .then(|| lines[rng.random_range(0..lines.len())].sku.clone());
        // Drawn only when asked for, so that older scenarios keep their seeded plans.
        let read_reservation = scenario.mix.read_reservation > 0.0
            && rng.random::<f64>() < scenario.mix.read_reservation;
        Some(CartPlan {
            index,
            idempotency_key: format!("{}-u{}-c{index}", inner.key_prefix, self.user),
            lines,
            ttl_ms: scenario.reservation_ttl.as_millis() as i64,
            fate,
            hold,
            reserve_send,
            transition_send,
            late_retry_after,
            read_sku,
            read_reservation,
        })
    }
}

fn draw_lines(scenario: &Scenario, picker: &SkuPicker, rng: &mut ChaCha8Rng) -> Vec<CartLine> {
    let (lines_low, lines_high) = scenario.mix.lines_per_cart;
    let (qty_low, qty_high) = scenario.mix.qty_per_line;
    let wanted = rng.random_range(lines_low..=lines_high) as usize;
    let mut chosen: Vec<usize> = Vec::with_capacity(wanted);
    for _ in 0..wanted {
        let fresh = (0..DISTINCT_SKU_DRAWS_MAX)
            .map(|_| picker.pick(rng))
            .find(|index| !chosen.contains(index));
        if let Some(index) = fresh {
            chosen.push(index);
        }
    }
    let mut lines: Vec<CartLine> = chosen
        .iter()
        .map(|index| CartLine {
            sku: picker.skus[*index].clone(),
            qty: rng.random_range(qty_low..=qty_high),
        })
        .collect();
    if lines.len() >= 2 && rng.random::<f64>() < scenario.mix.repeat_sku_line {
        // The last line names the first line's SKU again: the engine must merge them.
        let first = lines[0].sku.clone();
        if let Some(last) = lines.last_mut() {
            last.sku = first;
        }
    }
    lines
}

fn draw_fate(scenario: &Scenario, rng: &mut ChaCha8Rng) -> Fate {
    let draw: f64 = rng.random();
    if draw < scenario.mix.confirm {
        Fate::Confirm
    } else if draw < scenario.mix.confirm + scenario.mix.release {
        Fate::Release
    } else {
        Fate::Abandon
    }
}

fn draw_send(retry: &RetryPolicy, rng: &mut ChaCha8Rng) -> Send {
    let draw: f64 = rng.random();
    if draw < retry.concurrent {
        Send::Concurrent
    } else if draw < retry.concurrent + retry.after_reply {
        Send::AfterReply
    } else if draw < retry.concurrent + retry.after_reply + retry.after_timeout {
        Send::AfterTimeout {
            timeout: retry.forced_timeout,
        }
    } else {
        Send::Once
    }
}

#[cfg(test)]
mod tests;
