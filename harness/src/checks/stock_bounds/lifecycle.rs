//! What the history says about each reservation's life, as time windows on the
//! history's axis: when its units may have been taken and surely were, and when it may
//! have been, and surely was, confirmed, released or expired. One pass over the history
//! plus one over the reserves whose outcome is unknown; no per-op scan of anything.
//!
//! Not here: turning windows into per-SKU bounds (`super`), judging reads (C7, C8).

use std::collections::HashMap;

use stockproof_engine::ReservationState;

use super::{NEVER_US, Window};
use crate::checks::CheckConfig;
use crate::checks::index::merge_items;
use crate::history::{History, HistoryEntry, Op, OpId, Outcome};

/// One acknowledged reservation.
#[derive(Debug)]
pub(crate) struct Lifecycle<'h> {
    /// Merged items of the first acknowledged reserve naming it.
    pub(crate) items: Vec<(&'h str, i64)>,
    /// The first acknowledged reserve naming it.
    pub(crate) reserve_op: OpId,
    /// Its units left `available` for `reserved`.
    pub(crate) take: Window,
    /// It was confirmed (`reserved` → `sold`).
    pub(crate) confirm: Window,
    /// Its units came back to `available` (release or expiry, whichever won).
    pub(crate) back: Window,
    /// It left Held, whatever way.
    pub(crate) end: Window,
    /// The ops that caused `confirm` and `back`, for witnesses.
    pub(crate) confirm_op: Option<OpId>,
    pub(crate) back_op: Option<OpId>,
    /// What a read of its state is held to (C7).
    pub(crate) causes: Causes,
}

/// Earliest causes of each state, from the ops sent (never from replies that report a
/// state, so that a read never vouches for itself).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Causes {
    /// Earliest invoke of a confirm / release that was not refused.
    pub(crate) confirm_sent_us: i64,
    pub(crate) release_sent_us: i64,
    /// Earliest completion of an acknowledged confirm / release, and its op.
    pub(crate) confirm_ok: Option<(i64, OpId)>,
    pub(crate) release_ok: Option<(i64, OpId)>,
    /// From when the sweeper may expire it: deadline − clock skew.
    pub(crate) expire_from_us: i64,
    /// When it is surely expired: deadline + grace + skew, if no confirm or release was
    /// ever sent (one could have won).
    pub(crate) expired_by_us: i64,
}

/// A reserve that may hold units under an id the history never learnt (its reply was
/// lost): the hold is possible from its send and surely gone once its TTL, the grace
/// and the skew have passed since its client gave up.
#[derive(Debug)]
pub(crate) struct Orphan<'h> {
    pub(crate) items: Vec<(&'h str, i64)>,
    pub(crate) op: OpId,
    pub(crate) sent_us: i64,
    pub(crate) gone_us: i64,
}

/// What one pass over the history collects per reservation id.
#[derive(Debug)]
struct Collected<'h> {
    items: Vec<(&'h str, i64)>,
    key: Option<&'h str>,
    reserve_op: Option<OpId>,
    take_possible_us: i64,
    take_certain_us: i64,
    deadline_ms: Option<i64>,
    confirm_sent: Option<(i64, OpId)>,
    release_sent: Option<(i64, OpId)>,
    confirm_ok: Option<(i64, OpId)>,
    release_ok: Option<(i64, OpId)>,
    /// Earliest completion of a reply (of another op) reporting each terminal state.
    seen_confirmed_us: i64,
    seen_released_us: i64,
    seen_expired_us: i64,
}

impl Default for Collected<'_> {
    /// Nothing known yet: every moment is "never".
    fn default() -> Self {
        Collected {
            items: Vec::new(),
            key: None,
            reserve_op: None,
            take_possible_us: NEVER_US,
            take_certain_us: NEVER_US,
            deadline_ms: None,
            confirm_sent: None,
            release_sent: None,
            confirm_ok: None,
            release_ok: None,
            seen_confirmed_us: NEVER_US,
            seen_released_us: NEVER_US,
            seen_expired_us: NEVER_US,
        }
    }
}

fn earliest(slot: &mut Option<(i64, OpId)>, at_us: i64, op: OpId) {
    if slot.is_none_or(|(known, _)| at_us < known) {
        *slot = Some((at_us, op));
    }
}

/// Every acknowledged reservation's life and every orphaned reserve.
pub(crate) fn collect<'h>(
    history: &'h History,
    config: &CheckConfig,
) -> (HashMap<&'h str, Lifecycle<'h>>, Vec<Orphan<'h>>) {
    let mut collected: HashMap<&'h str, Collected<'h>> = HashMap::new();
    let mut unknown_reserves: Vec<&'h HistoryEntry> = Vec::new();
    for entry in &history.entries {
        add(&mut collected, &mut unknown_reserves, entry);
    }
    let timing = Timing::new(history, config);
    let mut by_key: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, facts) in &collected {
        if let Some(key) = facts.key {
            by_key.entry(key).or_default().push(id);
        }
    }
    let mut orphans = Vec::new();
    for entry in unknown_reserves {
        if let Some(id) = covering_reservation(&collected, &by_key, entry, &timing) {
            if let Some(facts) = collected.get_mut(id) {
                facts.take_possible_us = facts.take_possible_us.min(entry.invoke_us as i64);
            }
        } else if let Op::Reserve { items, ttl_ms, .. } = &entry.op {
            orphans.push(Orphan {
                items: merge_items(items),
                op: entry.id,
                sent_us: entry.invoke_us as i64,
                gone_us: entry.complete_us as i64
                    + ttl_ms * 1000
                    + timing.grace_us
                    + timing.skew_us,
            });
        }
    }
    let lifecycles = collected
        .into_iter()
        .filter_map(|(id, facts)| Some((id, lifecycle(facts, &timing)?)))
        .collect();
    (lifecycles, orphans)
}

/// Where deadlines sit on the history's axis, and the slack around them (µs).
struct Timing {
    started_at_unix_ms: i64,
    skew_us: i64,
    grace_us: i64,
    retention_us: i64,
}

impl Timing {
    fn new(history: &History, config: &CheckConfig) -> Timing {
        Timing {
            started_at_unix_ms: history.header.started_at_unix_ms,
            skew_us: config.clock_skew_ms * 1000,
            grace_us: config.expiry_grace_ms * 1000,
            retention_us: history.header.idempotency_retention_ms.max(0) * 1000,
        }
    }

    fn deadline_us(&self, deadline_ms: i64) -> i64 {
        (deadline_ms - self.started_at_unix_ms).saturating_mul(1000)
    }
}

fn add<'h>(
    collected: &mut HashMap<&'h str, Collected<'h>>,
    unknown_reserves: &mut Vec<&'h HistoryEntry>,
    entry: &'h HistoryEntry,
) {
    let body = entry.response.as_ref();
    let (invoke_us, complete_us) = (entry.invoke_us as i64, entry.complete_us as i64);
    let reservation = match &entry.op {
        Op::Reserve { key, items, .. } => {
            let id = body.and_then(|body| body.reservation.as_ref());
            match (entry.outcome, id) {
                (Outcome::Ok, Some(id)) => {
                    let facts = collected.entry(id.0.as_str()).or_default();
                    if facts.reserve_op.is_none() {
                        facts.items = merge_items(items);
                        facts.key = Some(key.as_str());
                        facts.reserve_op = Some(entry.id);
                    }
                    facts.take_possible_us = facts.take_possible_us.min(invoke_us);
                    id.0.as_str()
                }
                // A lost reply, or an acknowledgement naming no id: a hold is possible.
                (Outcome::Unknown, _) | (Outcome::Ok, None) => {
                    unknown_reserves.push(entry);
                    return;
                }
                (Outcome::Fail, _) => return,
            }
        }
        Op::Confirm { reservation } | Op::Release { reservation } => {
            let facts = collected.entry(reservation.0.as_str()).or_default();
            let sent = match entry.op {
                Op::Confirm { .. } => (&mut facts.confirm_sent, &mut facts.confirm_ok),
                _ => (&mut facts.release_sent, &mut facts.release_ok),
            };
            if entry.outcome != Outcome::Fail {
                earliest(sent.0, invoke_us, entry.id);
            }
            if entry.outcome == Outcome::Ok {
                earliest(sent.1, complete_us, entry.id);
            }
            reservation.0.as_str()
        }
        Op::GetReservation { reservation } if entry.outcome == Outcome::Ok => {
            collected.entry(reservation.0.as_str()).or_default();
            reservation.0.as_str()
        }
        _ => return,
    };
    let Some(facts) = collected.get_mut(reservation) else {
        return;
    };
    // A reply naming the reservation proves it exists, and tells its deadline and state.
    if entry.outcome == Outcome::Ok || body.is_some_and(|body| body.state.is_some()) {
        facts.take_certain_us = facts.take_certain_us.min(complete_us);
    }
    if let Some(deadline_ms) = body.and_then(|body| body.deadline_ms) {
        facts.deadline_ms.get_or_insert(deadline_ms);
    }
    let seen = match body.and_then(|body| body.state) {
        Some(ReservationState::Confirmed) => &mut facts.seen_confirmed_us,
        Some(ReservationState::Released) => &mut facts.seen_released_us,
        Some(ReservationState::Expired) => &mut facts.seen_expired_us,
        Some(ReservationState::Held) | None => return,
    };
    *seen = (*seen).min(complete_us);
}

/// The acknowledged reservation an unknown reserve with the same key would have been
/// answered with. Same key, same reservation, while the engine keeps the key: from
/// the reservation's creation (no earlier than `take.possible`) for TTL + retention.
/// The unknown reserve is assumed to have taken effect, if at all, before its client
/// gave up (as C3 and C6 assume). If it did so before the reservation was created, it
/// created it — unless the key had lapsed in between, which needs TTL + retention
/// between its send and the reservation's acknowledgement.
fn covering_reservation<'h>(
    collected: &HashMap<&'h str, Collected<'h>>,
    by_key: &HashMap<&str, Vec<&'h str>>,
    entry: &HistoryEntry,
    timing: &Timing,
) -> Option<&'h str> {
    let Op::Reserve { key, ttl_ms, .. } = &entry.op else {
        return None;
    };
    let keep_us = ttl_ms * 1000 + timing.retention_us;
    by_key.get(key.as_str())?.iter().copied().find(|id| {
        collected.get(id).is_some_and(|facts| {
            (entry.complete_us as i64) <= facts.take_possible_us.saturating_add(keep_us)
                && (entry.invoke_us as i64).saturating_add(keep_us) >= facts.take_certain_us
        })
    })
}

/// Windows of one reservation; `None` for an id no acknowledged reserve named (its
/// items are unknown: a reserve whose reply was lost accounts for it as an orphan).
fn lifecycle<'h>(facts: Collected<'h>, timing: &Timing) -> Option<Lifecycle<'h>> {
    let reserve_op = facts.reserve_op?;
    let deadline_us = facts
        .deadline_ms
        .map(|deadline| timing.deadline_us(deadline));
    let sent = |slot: Option<(i64, OpId)>| slot.map_or(NEVER_US, |(at, _)| at);
    let confirm_ok_us = sent(facts.confirm_ok);
    let release_ok_us = sent(facts.release_ok);
    let causes = Causes {
        confirm_sent_us: sent(facts.confirm_sent),
        release_sent_us: sent(facts.release_sent),
        confirm_ok: facts.confirm_ok,
        release_ok: facts.release_ok,
        expire_from_us: deadline_us.map_or(facts.take_possible_us, |d| d - timing.skew_us),
        expired_by_us: match (deadline_us, facts.confirm_sent, facts.release_sent) {
            (Some(deadline), None, None) => deadline + timing.grace_us + timing.skew_us,
            _ => NEVER_US,
        },
    };
    let confirm = Window::new(
        causes.confirm_sent_us,
        confirm_ok_us.min(facts.seen_confirmed_us),
    );
    let release = Window::new(
        causes.release_sent_us,
        release_ok_us.min(facts.seen_released_us),
    );
    // Expiry is possible unless a confirm or release surely won; a reply reporting
    // Expired proves it (C4 judges replies that disagree).
    let other_won = confirm.certain_us < NEVER_US || release.certain_us < NEVER_US;
    let expire_possible_us = if other_won && facts.seen_expired_us == NEVER_US {
        NEVER_US
    } else {
        causes.expire_from_us
    };
    let expire = Window::new(
        expire_possible_us,
        causes.expired_by_us.min(facts.seen_expired_us),
    );
    let back = release.earliest(expire);
    // Whatever the race, the sweeper ends a Held reservation by deadline + grace.
    let swept_us = deadline_us.map_or(NEVER_US, |d| d + timing.grace_us + timing.skew_us);
    let end = confirm
        .earliest(back)
        .earliest(Window::new(NEVER_US, swept_us));
    let take = Window::new(
        facts.take_possible_us,
        facts.take_certain_us.min(end.certain_us),
    );
    Some(Lifecycle {
        items: facts.items,
        reserve_op,
        take,
        confirm,
        back,
        end,
        confirm_op: facts.confirm_sent.map(|(_, op)| op),
        back_op: facts.release_sent.map(|(_, op)| op),
        causes,
    })
}
