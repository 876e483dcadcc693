//! C4 expiry (DESIGN §8). Black-box: every reservation reaches one terminal state —
//! no two replies report different terminal states, so an acknowledged confirm never
//! ends Expired or Released — and no reply shows it Held later than its deadline plus
//! the grace. White-box (with a snapshot): nothing in Redis is Held past deadline +
//! grace; in the ledger each SKU of a reservation has exactly one terminal event, of
//! the same kind for all its items, and it agrees with an acknowledged confirm.
//! Not checked here: whether the units came back (C6), Redis = Postgres (C2).

use std::collections::{BTreeMap, HashMap};

use stockproof_engine::ReservationState;
use stockproof_engine::ledger::EventKind;

use super::index::{Index, ReservationFacts};
use super::report::{CheckId, CheckReport, Violations, violation};
use super::{CheckConfig, WhiteBoxSnapshot};

pub(super) fn check(
    index: &Index<'_>,
    snapshot: Option<&WhiteBoxSnapshot>,
    config: &CheckConfig,
) -> CheckReport {
    let mut violations = Violations::default();
    let mut judged = 0;
    for (reservation, facts) in &index.reservations {
        if facts.observed.is_empty() {
            continue;
        }
        judged += 1;
        check_terminal_states(index, reservation, facts, &mut violations);
        check_held_past_deadline(index, reservation, facts, config, &mut violations);
    }
    let white_box =
        snapshot.map(|snapshot| check_white_box(index, snapshot, config, &mut violations));
    let mut counts = BTreeMap::from([("reservations".to_owned(), judged)]);
    if let Some(ledger_reservations) = white_box {
        counts.insert("ledger_reservations".to_owned(), ledger_reservations);
    }
    let judged = judged + white_box.unwrap_or(0);
    CheckReport::finish(
        CheckId::C4,
        judged,
        "no reply reported a reservation state: nothing to judge",
        counts,
        Vec::new(),
        violations,
    )
}

fn check_terminal_states(
    index: &Index<'_>,
    reservation: &str,
    facts: &ReservationFacts<'_>,
    violations: &mut Violations,
) {
    let mut first_terminal: Option<(usize, ReservationState)> = None;
    for (position, state) in &facts.observed {
        if !state.is_terminal() {
            continue;
        }
        match first_terminal {
            None => first_terminal = Some((*position, *state)),
            Some((first, first_state)) if first_state != *state => {
                let (first_op, op) = (index.entry(first).id, index.entry(*position).id);
                let kind = if first_state == ReservationState::Confirmed
                    || *state == ReservationState::Confirmed
                {
                    "confirm_lost"
                } else {
                    "two_terminal_states"
                };
                violations.push(violation(kind, None, Some(reservation), vec![first_op, op], 1, format!(
                    "op {first_op} was told reservation {reservation} is {first_state}, op {op} that it is {state}"
                )));
                return;
            }
            Some(_) => {}
        }
    }
}

fn check_held_past_deadline(
    index: &Index<'_>,
    reservation: &str,
    facts: &ReservationFacts<'_>,
    config: &CheckConfig,
    violations: &mut Violations,
) {
    let Some(deadline_ms) = facts.deadline_ms else {
        return;
    };
    let limit_us =
        index.deadline_us(deadline_ms) + (config.expiry_grace_ms + config.clock_skew_ms) * 1000;
    let late = facts
        .observed
        .iter()
        .filter(|(position, state)| {
            *state == ReservationState::Held && index.entry(*position).invoke_us as i64 > limit_us
        })
        .max_by_key(|(position, _)| index.entry(*position).invoke_us);
    if let Some((position, _)) = late {
        let entry = index.entry(*position);
        let late_ms = (entry.invoke_us as i64 - index.deadline_us(deadline_ms)) / 1000;
        violations.push(violation("held_past_deadline", None, Some(reservation), vec![entry.id], late_ms, format!(
            "op {} found reservation {reservation} still held {late_ms} ms after its deadline (grace {} ms)", entry.id, config.expiry_grace_ms
        )));
    }
}

/// Returns the number of reservations judged from the ledger.
fn check_white_box(
    index: &Index<'_>,
    snapshot: &WhiteBoxSnapshot,
    config: &CheckConfig,
    violations: &mut Violations,
) -> u64 {
    let mut held_in_redis: HashMap<&str, i64> = HashMap::new();
    for reservation in snapshot
        .reservations
        .iter()
        .filter(|reservation| reservation.state == ReservationState::Held)
    {
        held_in_redis.insert(reservation.id.0.as_str(), reservation.deadline_ms);
        let late_ms = snapshot.taken_at_ms - reservation.deadline_ms;
        if late_ms > config.expiry_grace_ms {
            violations.push(violation("held_past_deadline", None, Some(&reservation.id.0), Vec::new(), late_ms, format!(
                "Redis still holds reservation {} {late_ms} ms after its deadline (grace {} ms)", reservation.id, config.expiry_grace_ms
            )));
        }
    }
    // Per reservation: reserved SKUs and the terminal events of each.
    let mut lines: HashMap<&str, BTreeMap<&str, Vec<EventKind>>> = HashMap::new();
    for event in &snapshot.ledger {
        if matches!(event.kind, EventKind::Restock | EventKind::Adjust) {
            continue;
        }
        let kinds = lines
            .entry(event.reservation_id.as_str())
            .or_default()
            .entry(event.sku.as_str())
            .or_default();
        if event.kind != EventKind::Reserve {
            kinds.push(event.kind);
        }
    }
    for (reservation, skus) in &lines {
        let mut kinds: Vec<EventKind> = skus.values().flatten().copied().collect();
        kinds.sort_unstable_by_key(|kind| kind.as_str());
        kinds.dedup();
        let still_held = held_in_redis.contains_key(reservation);
        let incomplete = skus
            .iter()
            .find(|(_, terminal)| terminal.len() != 1 && !(still_held && terminal.is_empty()));
        if let Some((sku, terminal)) = incomplete {
            violations.push(violation("terminal_events", Some(sku), Some(reservation), Vec::new(), 1, format!(
                "the ledger holds {} terminal events for reservation {reservation} and sku {sku}, expected exactly one", terminal.len()
            )));
        } else if kinds.len() > 1 {
            let names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
            violations.push(violation("items_disagree", None, Some(reservation), Vec::new(), 1, format!(
                "the items of reservation {reservation} ended in different states in the ledger: {}", names.join(", ")
            )));
        }
        let confirmed_op = index
            .reservations
            .get(reservation)
            .and_then(|facts| facts.confirm_ok)
            .map(|position| index.entry(position).id);
        if let (Some(op), Some(kind)) = (
            confirmed_op,
            kinds.iter().find(|kind| **kind != EventKind::Confirm),
        ) {
            violations.push(violation("confirm_lost", None, Some(reservation), vec![op], 1, format!(
                "op {op} was told reservation {reservation} is confirmed, but the ledger records it as {kind}"
            )));
        }
    }
    lines.len() as u64
}
