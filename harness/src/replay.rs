//! Replaying a recorded run (issue 8 §3): the history's operations re-sent one at a
//! time, in their recorded invoke order, by a single client, so that a failing
//! interleaving can be stepped through and each op's recorded outcome compared with the
//! replayed one. Reservation ids are the engine's: a replayed reserve is told a new id,
//! so later ops that name the recorded id are sent with the replayed one ([`IdMap`]).
//! Faults are not replayed (they are shown in their place).
//!
//! The replayed ops form a history of their own, which `stockproof replay` judges with
//! the one judge beside the recording's verdict.
//!
//! This module is the pure part (order, id mapping, comparison) and the sender;
//! `stockproof replay` (`cmd::replay`) chooses the target and prints.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use stockproof_engine::ReservationId;

use crate::adapter::{Bound, Session};
use crate::history::{History, HistoryEntry, Op, OpId, Outcome, Response, write_reply};
use crate::load::recorder::micros_since;
use crate::load::wire::Reply;

/// Bound on one replayed request: far above a healthy engine's milliseconds; a target
/// that does not answer in time is recorded as unknown, as the load driver does.
pub const REPLAY_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The history's ops in the order they were invoked (ties: op id), faults included.
pub fn invoke_order(history: &History) -> Vec<Cow<'_, HistoryEntry>> {
    let mut ordered: Vec<Cow<'_, HistoryEntry>> = history.ops().collect();
    ordered.sort_by_key(|entry| (entry.invoke_us, entry.id));
    ordered
}

/// Recorded reservation id → the id the replay target gave the same reserve.
#[derive(Debug, Default)]
pub struct IdMap {
    replayed: HashMap<String, ReservationId>,
}

impl IdMap {
    /// `op` as the replay sends it: reservation ids recorded in the run are swapped for
    /// the replayed ones (an id never replayed is sent as recorded).
    pub fn rewrite(&self, op: &Op) -> Op {
        let swap = |reservation: &ReservationId| {
            self.replayed
                .get(&reservation.0)
                .cloned()
                .unwrap_or_else(|| reservation.clone())
        };
        match op {
            Op::Confirm { reservation } => Op::Confirm {
                reservation: swap(reservation),
            },
            Op::Release { reservation } => Op::Release {
                reservation: swap(reservation),
            },
            Op::GetReservation { reservation } => Op::GetReservation {
                reservation: swap(reservation),
            },
            other => other.clone(),
        }
    }

    /// Learns the replayed id of a recorded reserve.
    pub fn learn(&mut self, recorded: &HistoryEntry, replayed: &Reply) {
        let id = |response: Option<&Response>| response.and_then(|r| r.reservation.clone());
        if let (Op::Reserve { .. }, Some(recorded_id), Some(replayed_id)) = (
            &recorded.op,
            id(recorded.response.as_ref()),
            id(replayed.response.as_ref()),
        ) {
            self.replayed.insert(recorded_id.0, replayed_id);
        }
    }

    /// The replayed id of a recorded one, if that reserve was replayed.
    pub fn replayed(&self, recorded: &ReservationId) -> Option<&ReservationId> {
        self.replayed.get(&recorded.0)
    }
}

/// How the replayed reply differs from the recorded one, if it does: the outcome, the
/// status, the reservation state, the refusal and a read's stock (not ids, deadlines
/// or the units a refusal saw, which a sequential replay changes by design).
pub fn difference(recorded: &HistoryEntry, replayed: &Reply) -> Option<String> {
    let mut differences = Vec::new();
    if recorded.outcome != replayed.outcome {
        differences.push(format!(
            "outcome {} → {}",
            recorded.outcome.as_str(),
            replayed.outcome.as_str()
        ));
    }
    if recorded.status != replayed.status {
        let text = |status: Option<u16>| status.map_or("none".to_owned(), |s| s.to_string());
        differences.push(format!(
            "status {} → {}",
            text(recorded.status),
            text(replayed.status)
        ));
    }
    let recorded_body = recorded.response.clone().unwrap_or_default();
    let replayed_body = replayed.response.clone().unwrap_or_default();
    if recorded_body.state != replayed_body.state {
        differences.push(format!(
            "state {:?} → {:?}",
            recorded_body.state, replayed_body.state
        ));
    }
    if recorded_body.error != replayed_body.error {
        differences.push(format!(
            "error {:?} → {:?}",
            recorded_body.error, replayed_body.error
        ));
    }
    if recorded_body.stock != replayed_body.stock {
        let text = |body: &Response| {
            body.stock.map_or("none".to_owned(), |stock| {
                format!(
                    "{}/{}/{}/{}",
                    stock.available, stock.reserved, stock.sold, stock.total
                )
            })
        };
        differences.push(format!(
            "stock {} → {}",
            text(&recorded_body),
            text(&replayed_body)
        ));
    }
    (!differences.is_empty()).then(|| differences.join(", "))
}

/// `ok 201 id=r3 state=held`: an outcome with its reply.
pub fn reply_text(outcome: Outcome, status: Option<u16>, response: Option<&Response>) -> String {
    let mut text = outcome.as_str().to_owned();
    let _ = write_reply(&mut text, status, response);
    text
}

/// One op of the replay.
#[derive(Debug, Clone)]
pub struct ReplayedOp {
    pub id: OpId,
    /// The op as sent (ids rewritten); `None` for a fault, which is not replayed.
    pub sent: Option<Op>,
    pub reply: Option<Reply>,
    pub difference: Option<String>,
}

/// A single client re-sending recorded ops to a target through its adapter, one at a
/// time, and recording what it sent and got as a history of its own (so the replay can
/// be judged). Each recorded shopper keeps its own adapter session.
#[derive(Debug)]
pub struct Replayer {
    client: reqwest::Client,
    target: Bound,
    sessions: std::collections::HashMap<u32, Session>,
    ids: IdMap,
    zero: std::time::Instant,
    started_at_unix_ms: i64,
    entries: Vec<HistoryEntry>,
}

impl Replayer {
    pub fn new(target: Bound) -> Replayer {
        Replayer {
            client: reqwest::Client::new(),
            target,
            sessions: std::collections::HashMap::new(),
            ids: IdMap::default(),
            zero: std::time::Instant::now(),
            started_at_unix_ms: crate::run::quiesce::unix_ms(),
            entries: Vec::new(),
        }
    }

    /// The replay so far as a history: `recorded`'s header with the replay's start
    /// time, one entry per op sent (same op ids, ids rewritten, the replayed replies).
    pub fn history(&self, recorded: &History) -> History {
        let header = crate::history::HistoryHeader {
            started_at_unix_ms: self.started_at_unix_ms,
            replays_told_apart: self.target.adapter.tells_replays_apart(),
            ttl_ignored: self.target.adapter.lacks(crate::adapter::Capability::Ttl),
            ..recorded.header.clone()
        };
        History::new(header, self.entries.clone())
    }

    /// Sends `recorded` (unless it is a fault), waits for the reply, compares.
    pub async fn replay(&mut self, recorded: &HistoryEntry) -> ReplayedOp {
        if matches!(recorded.op, Op::Fault { .. }) {
            return ReplayedOp {
                id: recorded.id,
                sent: None,
                reply: None,
                difference: None,
            };
        }
        let op = self.ids.rewrite(&recorded.op);
        let invoke_us = micros_since(self.zero);
        let user = recorded.user.unwrap_or(0);
        let session = self
            .sessions
            .entry(user)
            .or_insert_with(|| Session::new(user));
        let timeout = self.target.adapter.request_timeout(REPLAY_REQUEST_TIMEOUT);
        let reply = self.target.send(&self.client, &op, timeout, session).await;
        self.entries.push(HistoryEntry {
            id: recorded.id,
            user: recorded.user,
            op: op.clone(),
            intended_us: None,
            invoke_us,
            complete_us: micros_since(self.zero),
            outcome: reply.outcome,
            status: reply.status,
            response: reply.response.clone(),
            retry_of: recorded.retry_of,
        });
        self.ids.learn(recorded, &reply);
        ReplayedOp {
            id: recorded.id,
            difference: difference(recorded, &reply),
            sent: Some(op),
            reply: Some(reply),
        }
    }
}

#[cfg(test)]
mod tests;
