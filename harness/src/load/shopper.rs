//! The goose transactions of one shopper (one goose user): `start` gives the user its
//! state, `cart` runs one cart of the plan per goose iteration (reserve, hold, confirm or
//! release or abandon, optional reads of the reservation and of a SKU), with the plan's duplicate sends and retries,
//! and hands the cart's history entries to the recorder in one message. In the open
//! model `cart` first sleeps until the user's next slot (`super::pacing`) and times every
//! op of the cart from where it should have started.
//!
//! Not here: what a cart holds (`crate::plan`, seeded), the wire format
//! (`super::wire`), goose's configuration (`super::attack`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goose::goose::{GooseUser, TransactionResult};
use reqwest::Client;
use tokio::sync::mpsc;

use super::interrupt;
use super::pacing::{Pacing, is_late};
use super::recorder::{Record, SlotStart, micros_since};
use super::wire::Reply;
use crate::adapter::{Bound, Session};
use crate::history::{HistoryEntry, Op, OpId, Outcome};
use crate::plan::{CartPlan, Fate, Plan, Send, UserPlan};
use stockproof_engine::ReservationId;

/// Pause after a cart whose requests got no reply at all, so that a dead target is not
/// hammered by every user in a tight loop (the recorder stops the load soon after).
pub(crate) const NO_REPLY_BACKOFF: Duration = Duration::from_millis(100);
/// Longest single sleep while waiting for a slot or holding a cart, so that a stop
/// (Ctrl-C, the load's end) is noticed quickly.
pub(crate) const SLEEP_SLICE: Duration = Duration::from_millis(50);
/// Late retries one user keeps waiting; more are not planned (the plan sends few).
pub(crate) const DEFERRED_RETRIES_MAX: usize = 1_024;
/// Entries one cart can produce: reserve ×2, transition ×2, three reads, and late retries.
const CART_ENTRIES_TYPICAL: usize = 10;

/// What every shopper shares (read-only but for the op counter).
#[derive(Debug)]
pub(crate) struct Shared {
    /// The target and its adapter.
    pub(crate) target: Arc<Bound>,
    pub(crate) plan: Plan,
    /// The run's time zero: every recorded time is µs since it.
    pub(crate) zero: Instant,
    /// Where the slot grid counts from (`LoadSpec::pacing_zero`).
    pub(crate) pacing_zero: Instant,
    /// No cart starts at or after this instant (time-bound loads).
    pub(crate) deadline: Option<Instant>,
    pub(crate) users: u32,
    /// Which of the plan's users this process's goose users are.
    pub(crate) share: crate::plan::agent::AgentShare,
    pub(crate) arrival_rate_per_s: Option<f64>,
    /// Every shopper's client (one connection pool, `wire::op_client`), not goose's:
    /// goose's follows redirects and retries.
    pub(crate) client: Client,
    pub(crate) client_timeout: Duration,
    /// Pause before a retry after a reply or a timeout.
    pub(crate) retry_backoff: Duration,
    pub(crate) next_op: AtomicU64,
    pub(crate) records: mpsc::Sender<Record>,
}

/// One user's own state (goose session data, which goose requires to be `Clone`: the
/// plan's stream is shared behind a mutex only this user ever locks).
#[derive(Debug, Clone)]
pub(crate) struct ShopperState {
    /// From 1.
    user: u32,
    carts: Arc<Mutex<UserPlan>>,
    /// Carts started so far (the next cart's slot in the open model).
    iteration: u64,
    pacing: Option<Pacing>,
    /// Its schedule's origin on the attack's common grid (`Pacing::grid_origin`), fixed
    /// when it starts its first cart.
    origin: Option<Instant>,
    deferred: VecDeque<Deferred>,
    /// What the adapter keeps for this shopper across carts (a session token).
    session: Arc<Session>,
}

/// A reserve to re-send once the idempotency retention has passed.
#[derive(Debug, Clone)]
struct Deferred {
    due: Instant,
    op: Op,
    retry_of: OpId,
}

/// goose `on_start` transaction: the user's state.
pub(crate) async fn start(user: &mut GooseUser, shared: &Shared) -> TransactionResult {
    let local = u32::try_from(user.weighted_users_index).unwrap_or(u32::MAX - 1);
    // The plan's user (1-based): an agent's goose users are users I, I + N, …
    let planned = shared.share.user(local);
    let pacing = shared
        .arrival_rate_per_s
        .map(|rate| Pacing::new(rate, shared.users, planned - 1));
    user.set_session_data(ShopperState {
        user: planned,
        carts: Arc::new(Mutex::new(shared.plan.user(planned))),
        iteration: 0,
        pacing,
        origin: None,
        deferred: VecDeque::new(),
        session: Arc::new(Session::new(planned)),
    });
    Ok(())
}

/// goose transaction: one cart.
pub(crate) async fn cart(user: &mut GooseUser, shared: &Shared) -> TransactionResult {
    let client = shared.client.clone();
    let Some(state) = user.get_session_data_mut::<ShopperState>() else {
        return Ok(());
    };
    let Some(slot) = wait_for_start(state, shared).await else {
        // Stopping: idle (goose ends the user at its next check) instead of spinning.
        tokio::time::sleep(SLEEP_SLICE).await;
        return Ok(());
    };
    let plan = match state.carts.lock() {
        Ok(mut carts) => carts.next_cart(),
        Err(poisoned) => poisoned.into_inner().next_cart(),
    };
    let Some(plan) = plan else {
        // An iteration-bounded user is done; goose ends it after this iteration.
        tokio::time::sleep(SLEEP_SLICE).await;
        return Ok(());
    };
    state.iteration += 1;
    let mut run = CartRun {
        shared,
        client: &client,
        user: state.user,
        session: &state.session,
        lateness_us: slot.map(|slot| slot.lateness_us),
        entries: Vec::with_capacity(CART_ENTRIES_TYPICAL),
    };
    run.late_retries(&mut state.deferred).await;
    let first_reserve = run.play(&plan).await;
    if let Some(after) = plan.late_retry_after
        && state.deferred.len() < DEFERRED_RETRIES_MAX
    {
        state.deferred.push_back(Deferred {
            due: Instant::now() + after,
            op: reserve_op(&plan),
            retry_of: first_reserve,
        });
    }
    let no_reply = !run.entries.is_empty() && run.entries.iter().all(|e| e.status.is_none());
    let record = Record::Cart {
        user: state.user,
        entries: run.entries,
        slot,
    };
    // The recorder ends only after every shopper has exited, so a send fails only if
    // it panicked; the load then ends anyway.
    let _ = shared.records.send(record).await;
    if no_reply {
        tokio::time::sleep(NO_REPLY_BACKOFF).await;
    }
    Ok(())
}

/// Whether the load is stopping (Ctrl-C, goose's killswitch, or past the deadline).
fn stopping(shared: &Shared, at: Instant) -> bool {
    interrupt::interrupted()
        || goose::is_killswitch_triggered()
        || shared.deadline.is_some_and(|deadline| at >= deadline)
}

/// Closed model: `Some(None)` at once. Open model: sleeps until the next slot and says
/// how late the start is. `None` when the load is stopping before the cart may start.
async fn wait_for_start(state: &mut ShopperState, shared: &Shared) -> Option<Option<SlotStart>> {
    let now = Instant::now();
    if stopping(shared, now) {
        return None;
    }
    let Some(pacing) = state.pacing else {
        return Some(None);
    };
    let origin = *state.origin.get_or_insert_with(|| {
        shared.pacing_zero + pacing.grid_origin(now.saturating_duration_since(shared.pacing_zero))
    });
    let due = origin + pacing.slot_due(state.iteration);
    loop {
        let now = Instant::now();
        if now >= due {
            break;
        }
        if stopping(shared, due) || stopping(shared, now) {
            return None;
        }
        tokio::time::sleep((due - now).min(SLEEP_SLICE)).await;
    }
    // Within the timer's tolerance a start is on time: that jitter is ours, not the
    // service's, and is not charged to its latency.
    let lateness = Instant::now().saturating_duration_since(due);
    let lateness = if is_late(lateness) {
        lateness
    } else {
        Duration::ZERO
    };
    Some(Some(SlotStart {
        origin_us: u64::try_from(origin.saturating_duration_since(shared.zero).as_micros())
            .unwrap_or(u64::MAX),
        slot: state.iteration,
        lateness_us: u64::try_from(lateness.as_micros()).unwrap_or(u64::MAX),
    }))
}

fn reserve_op(plan: &CartPlan) -> Op {
    Op::Reserve {
        key: plan.idempotency_key.clone(),
        items: plan.lines.clone(),
        ttl_ms: plan.ttl_ms,
    }
}

/// One cart in progress: sends ops and keeps their entries.
struct CartRun<'a> {
    shared: &'a Shared,
    client: &'a Client,
    user: u32,
    session: &'a Session,
    /// Open model: how late the cart started; every op's intended start is this much
    /// before its send.
    lateness_us: Option<u64>,
    entries: Vec<HistoryEntry>,
}

impl CartRun<'_> {
    /// Runs `plan`; returns the id of the first reserve sent.
    async fn play(&mut self, plan: &CartPlan) -> OpId {
        let (first_reserve, reserved) = self.send_with(reserve_op(plan), plan.reserve_send).await;
        let reservation = reserved.and_then(|reply| reply.response?.reservation);
        if let Some(reservation) = reservation {
            self.read_reservation(plan, &reservation).await;
            let transition = match plan.fate {
                Fate::Confirm => Some(Op::Confirm {
                    reservation: reservation.clone(),
                }),
                Fate::Release => Some(Op::Release {
                    reservation: reservation.clone(),
                }),
                Fate::Abandon => None,
            };
            if let Some(op) = transition
                && self.hold(plan.hold).await
            {
                self.send_with(op, plan.transition_send).await;
                self.read_reservation(plan, &reservation).await;
            }
        }
        if let Some(sku) = &plan.read_sku {
            self.send_with(Op::GetSku { sku: sku.clone() }, Send::Once)
                .await;
        }
        first_reserve
    }

    /// Reads the reservation back, if the plan says so (C7 judges the state it names).
    async fn read_reservation(&mut self, plan: &CartPlan, reservation: &ReservationId) {
        if plan.read_reservation {
            let op = Op::GetReservation {
                reservation: reservation.clone(),
            };
            self.send_with(op, Send::Once).await;
        }
    }

    /// Sleeps `hold`; false if the run was interrupted meanwhile (the cart then ends
    /// without its transition, as a shopper walking away would).
    async fn hold(&self, hold: Duration) -> bool {
        let end = Instant::now() + hold;
        loop {
            let now = Instant::now();
            if now >= end {
                return true;
            }
            if interrupt::interrupted() || goose::is_killswitch_triggered() {
                return false;
            }
            tokio::time::sleep((end - now).min(SLEEP_SLICE)).await;
        }
    }

    /// Re-sends the reserves whose retention has passed.
    async fn late_retries(&mut self, deferred: &mut VecDeque<Deferred>) {
        let now = Instant::now();
        while deferred.front().is_some_and(|retry| retry.due <= now) {
            let Some(retry) = deferred.pop_front() else {
                break;
            };
            let timeout = self.shared.client_timeout;
            let id = self.next_id();
            let entry = self
                .exchange(id, retry.op, timeout, Some(retry.retry_of))
                .await;
            self.entries.push(entry);
        }
    }

    /// Sends `op` as `mode` says; returns the first send's id and the first ok reply.
    async fn send_with(&mut self, op: Op, mode: Send) -> (OpId, Option<Reply>) {
        let timeout = self.shared.client_timeout;
        let first = self.next_id();
        let entries = match mode {
            Send::Once => vec![self.exchange(first, op, timeout, None).await],
            Send::Concurrent => {
                let second = self.next_id();
                let duplicate = op.clone();
                let (a, b) = tokio::join!(
                    self.exchange(first, op, timeout, None),
                    self.exchange(second, duplicate, timeout, Some(first))
                );
                vec![a, b]
            }
            Send::AfterReply => {
                let a = self.exchange(first, op.clone(), timeout, None).await;
                tokio::time::sleep(self.shared.retry_backoff).await;
                let second = self.next_id();
                vec![a, self.exchange(second, op, timeout, Some(first)).await]
            }
            Send::AfterTimeout { timeout: forced } => {
                let a = self.exchange(first, op.clone(), forced, None).await;
                tokio::time::sleep(self.shared.retry_backoff).await;
                let second = self.next_id();
                vec![a, self.exchange(second, op, timeout, Some(first)).await]
            }
        };
        let ok = entries
            .iter()
            .find(|entry| entry.outcome == Outcome::Ok)
            .map(|entry| Reply {
                outcome: entry.outcome,
                status: entry.status,
                response: entry.response.clone(),
                transport_error: None,
            });
        self.entries.extend(entries);
        (first, ok)
    }

    fn next_id(&self) -> OpId {
        self.shared.next_op.fetch_add(1, Ordering::Relaxed)
    }

    /// One request and its entry.
    async fn exchange(
        &self,
        id: OpId,
        op: Op,
        timeout: Duration,
        retry_of: Option<OpId>,
    ) -> HistoryEntry {
        let invoke_us = micros_since(self.shared.zero);
        let reply = self
            .shared
            .target
            .send(self.client, &op, timeout, self.session)
            .await;
        let complete_us = micros_since(self.shared.zero);
        HistoryEntry {
            id,
            user: Some(self.user),
            op,
            intended_us: self
                .lateness_us
                .map(|lateness| invoke_us.saturating_sub(lateness)),
            invoke_us,
            complete_us,
            outcome: reply.outcome,
            status: reply.status,
            response: reply.response,
            retry_of,
        }
    }
}
