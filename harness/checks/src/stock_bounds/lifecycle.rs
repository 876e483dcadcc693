//! What the history says about each reservation's life, as time windows on the
//! history's axis: when its units may have been taken and surely were, and when it may
//! have been, and surely was, confirmed, released or expired. One pass over the history
//! plus one over the reserves whose outcome is unknown; no per-op scan of anything.
//!
//! Not here: turning windows into per-SKU bounds (`super`), judging reads (C7, C8).

use rustc_hash::FxHashMap as HashMap;

use stockproof_model::ReservationState;

use super::{NEVER_US, Window};
use crate::CheckConfig;
use crate::history::{History, HistoryEntry, Op, OpId, Outcome};
use crate::index::merge_items;
use crate::outages::Outages;

/// One acknowledged reservation, computed from its [`Evidence`] when asked for.
#[derive(Debug)]
pub(crate) struct Lifecycle<'e, 'h> {
    /// Merged items of the first acknowledged reserve naming it.
    pub(crate) items: &'e [(&'h str, i64)],
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
struct Evidence<'h> {
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

impl Default for Evidence<'_> {
    /// Nothing known yet: every moment is "never".
    fn default() -> Self {
        Evidence {
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

/// Evidence per reservation id, kept in the order ids first appear (roughly send
/// order, so the windows built from it arrive nearly sorted).
#[derive(Debug, Default)]
struct ById<'h> {
    slots: HashMap<&'h str, usize>,
    evidence: Vec<Evidence<'h>>,
}

impl<'h> ById<'h> {
    fn entry(&mut self, id: &'h str) -> &mut Evidence<'h> {
        let next = self.evidence.len();
        let slot = *self.slots.entry(id).or_insert(next);
        if slot == next {
            self.evidence.push(Evidence::default());
        }
        &mut self.evidence[slot]
    }

    fn get(&self, id: &str) -> Option<&Evidence<'h>> {
        self.slots.get(id).map(|slot| &self.evidence[*slot])
    }
}

/// What the history says of every reservation id, and how to place it in time.
#[derive(Debug)]
pub(crate) struct Reservations<'h> {
    evidence: ById<'h>,
    timing: Timing,
}

impl<'h> Reservations<'h> {
    /// The life of reservation `id`, if an acknowledged reserve named it.
    pub(crate) fn get(&self, id: &str) -> Option<Lifecycle<'_, 'h>> {
        lifecycle(self.evidence.get(id)?, &self.timing)
    }

    /// Every acknowledged reservation's life.
    pub(crate) fn lifecycles(&self) -> impl Iterator<Item = Lifecycle<'_, 'h>> {
        self.evidence
            .evidence
            .iter()
            .filter_map(|evidence| lifecycle(evidence, &self.timing))
    }
}

/// Every reservation's evidence and every orphaned reserve, in one pass over the
/// history and one over the keys of reserves whose reply was lost.
pub(crate) fn collect<'h>(
    history: &'h History,
    config: &CheckConfig,
) -> (Reservations<'h>, Vec<Orphan<'h>>) {
    let mut evidence = ById::default();
    let mut unknown_reserves: Vec<&'h HistoryEntry> = Vec::new();
    for entry in &history.entries {
        add(&mut evidence, &mut unknown_reserves, entry);
    }
    let timing = Timing::new(history, config);
    let mut unknown_by_key: HashMap<&str, Vec<(&'h HistoryEntry, bool)>> = HashMap::default();
    for entry in unknown_reserves {
        if let Op::Reserve { key, .. } = &entry.op {
            unknown_by_key.entry(key).or_default().push((entry, false));
        }
    }
    if !unknown_by_key.is_empty() {
        for facts in &mut evidence.evidence {
            let Some(unknowns) = facts.key.and_then(|key| unknown_by_key.get_mut(key)) else {
                continue;
            };
            for (entry, covered) in unknowns.iter_mut() {
                if covers(facts, entry, &timing) {
                    *covered = true;
                    facts.take_possible_us = facts.take_possible_us.min(entry.invoke_us as i64);
                }
            }
        }
    }
    let orphans = unknown_by_key
        .into_values()
        .flatten()
        .filter(|(_, covered)| !covered)
        .filter_map(|(entry, _)| {
            let Op::Reserve { items, ttl_ms, .. } = &entry.op else {
                return None;
            };
            Some(Orphan {
                items: merge_items(items),
                op: entry.id,
                sent_us: entry.invoke_us as i64,
                gone_us: timing
                    .swept_by(entry.complete_us as i64 + history.header.hold_lasts_us(*ttl_ms)),
            })
        })
        .collect();
    (Reservations { evidence, timing }, orphans)
}

/// Where deadlines sit on the history's axis, and the slack around them (µs).
#[derive(Debug)]
struct Timing {
    started_at_unix_ms: i64,
    skew_us: i64,
    grace_us: i64,
    retention_us: i64,
    /// Faults stop the grace's clock (`crate::outages`).
    outages: Outages,
}

impl Timing {
    fn new(history: &History, config: &CheckConfig) -> Timing {
        Timing {
            started_at_unix_ms: history.header.started_at_unix_ms,
            skew_us: config.clock_skew_ms * 1000,
            grace_us: config.expiry_grace_ms * 1000,
            retention_us: history.header.idempotency_retention_ms.max(0) * 1000,
            outages: Outages::from_history(history),
        }
    }

    /// When a hold due at `due_us` is surely gone: the grace and the skew later, not
    /// counting the time faults took meanwhile.
    fn swept_by(&self, due_us: i64) -> i64 {
        self.outages.after(due_us, self.grace_us + self.skew_us)
    }

    fn deadline_us(&self, deadline_ms: i64) -> i64 {
        (deadline_ms - self.started_at_unix_ms).saturating_mul(1000)
    }
}

fn add<'h>(
    collected: &mut ById<'h>,
    unknown_reserves: &mut Vec<&'h HistoryEntry>,
    entry: &'h HistoryEntry,
) {
    let body = entry.response.as_ref();
    let (invoke_us, complete_us) = (entry.invoke_us as i64, entry.complete_us as i64);
    let facts = match &entry.op {
        Op::Reserve { key, items, .. } => {
            let id = body.and_then(|body| body.reservation.as_ref());
            match (entry.outcome, id) {
                (Outcome::Ok, Some(id)) => {
                    let facts = collected.entry(id.0.as_str());
                    if facts.reserve_op.is_none() {
                        facts.items = merge_items(items);
                        facts.key = Some(key.as_str());
                        facts.reserve_op = Some(entry.id);
                    }
                    facts.take_possible_us = facts.take_possible_us.min(invoke_us);
                    facts
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
            let facts = collected.entry(reservation.0.as_str());
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
            facts
        }
        Op::GetReservation { reservation } if entry.outcome == Outcome::Ok => {
            collected.entry(reservation.0.as_str())
        }
        _ => return,
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

/// Whether the acknowledged reservation `facts` (same key) is what the unknown reserve
/// `entry` would have been answered with. Same key, same reservation, while the engine
/// keeps the key: from the reservation's creation (no earlier than `take.possible`) for
/// TTL + retention. The unknown reserve is assumed to have taken effect, if at all,
/// before its client gave up (as C3 and C6 assume). If it did so before the
/// reservation was created, it created it — unless the key had lapsed in between,
/// which needs TTL + retention between its send and the reservation's acknowledgement.
fn covers(facts: &Evidence<'_>, entry: &HistoryEntry, timing: &Timing) -> bool {
    let Op::Reserve { ttl_ms, .. } = &entry.op else {
        return false;
    };
    let keep_us = ttl_ms * 1000 + timing.retention_us;
    (entry.complete_us as i64) <= facts.take_possible_us.saturating_add(keep_us)
        && (entry.invoke_us as i64).saturating_add(keep_us) >= facts.take_certain_us
}

/// Windows of one reservation; `None` for an id no acknowledged reserve named (its
/// items are unknown: a reserve whose reply was lost accounts for it as an orphan).
fn lifecycle<'e, 'h>(facts: &'e Evidence<'h>, timing: &Timing) -> Option<Lifecycle<'e, 'h>> {
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
            (Some(deadline), None, None) => timing.swept_by(deadline),
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
    // Whatever the race, the sweeper ends a Held reservation by deadline + grace
    // (faults not counted).
    let swept_us = deadline_us.map_or(NEVER_US, |d| timing.swept_by(d));
    let end = confirm
        .earliest(back)
        .earliest(Window::new(NEVER_US, swept_us));
    let take = Window::new(
        facts.take_possible_us,
        facts.take_certain_us.min(end.certain_us),
    );
    Some(Lifecycle {
        items: &facts.items,
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
