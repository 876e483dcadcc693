//! C4 expiry (DESIGN §8). Black-box: every reservation reaches one terminal state —
//! no two replies report different terminal states, so an acknowledged confirm never
//! ends Expired or Released — and no reply shows it Held later than its deadline plus
//! the grace (time under a fault not counted: `crate::outages`). White-box (with a snapshot): nothing in Redis is Held past deadline +
//! grace; in the ledger each SKU of a reservation has exactly one terminal event, of
//! the same kind for all its items, and it agrees with an acknowledged confirm.
//! Not checked here: whether the units came back (C6), Redis = Postgres (C2).

use std::collections::BTreeMap;

use stockproof_model::ReservationState;
use stockproof_model::ledger::EventKind;

use super::CheckConfig;
use super::index::{Index, LedgerIndex, NameId};
use super::report::{CheckId, CheckReport, Violations, violation};
use super::snapshot::WhiteBoxSnapshot;

pub(super) fn check(index: &Index<'_>, config: &CheckConfig) -> CheckReport {
    let mut violations = Violations::default();
    let mut judged = 0;
    for (reservation, facts) in index.reservations.iter().enumerate() {
        let observed = index.observed.get(reservation as NameId);
        if observed.is_empty() {
            continue;
        }
        judged += 1;
        let reservation = index.reservation_name(reservation as NameId);
        check_terminal_states(index, reservation, observed, &mut violations);
        if let Some(deadline_ms) = facts.deadline_ms {
            let held = Held {
                reservation,
                deadline_ms,
                observed,
            };
            check_held_past_deadline(index, &held, config, &mut violations);
        }
    }
    let white_box = index.white_box().map(|(snapshot, ledger)| {
        check_white_box(index, snapshot, ledger, config, &mut violations)
    });
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
    observed: &[(usize, ReservationState)],
    violations: &mut Violations,
) {
    let mut first_terminal: Option<(usize, ReservationState)> = None;
    for (position, state) in observed {
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

/// A reservation with a known deadline and the states replies reported for it.
struct Held<'a> {
    reservation: &'a str,
    deadline_ms: i64,
    observed: &'a [(usize, ReservationState)],
}

fn check_held_past_deadline(
    index: &Index<'_>,
    held: &Held<'_>,
    config: &CheckConfig,
    violations: &mut Violations,
) {
    let (reservation, deadline_ms) = (held.reservation, held.deadline_ms);
    let limit_us = index.expired_by_us(deadline_ms, config);
    let late = held
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
    ledger: &LedgerIndex,
    config: &CheckConfig,
    violations: &mut Violations,
) -> u64 {
    let mut held_in_store = vec![false; index.reservation_ids.len()];
    let store = if snapshot.postgres_only {
        "Postgres"
    } else {
        "Redis"
    };
    for reservation in snapshot
        .reservations
        .iter()
        .filter(|reservation| reservation.state == ReservationState::Held)
    {
        if let Some(id) = index.reservation_ids.get(&reservation.id.0) {
            held_in_store[id as usize] = true;
        }
        let late_ms = snapshot.taken_at_ms - reservation.deadline_ms;
        if late_ms > config.expiry_grace_ms {
            violations.push(violation("held_past_deadline", None, Some(&reservation.id.0), Vec::new(), late_ms, format!(
                "{store} still holds reservation {} {late_ms} ms after its deadline (grace {} ms)", reservation.id, config.expiry_grace_ms
            )));
        }
    }
    let mut judged = 0;
    // Per SKU of one reservation: (name, terminal events); the terminal kinds seen.
    let mut lines: Vec<(&str, u32)> = Vec::new();
    let mut kinds: Vec<EventKind> = Vec::new();
    for (reservation, positions) in ledger.by_reservation.iter() {
        if positions.is_empty() {
            continue;
        }
        judged += 1;
        lines.clear();
        kinds.clear();
        for position in positions {
            let event = &snapshot.ledger[*position as usize];
            let terminal = u32::from(event.kind != EventKind::Reserve);
            match lines.iter_mut().find(|(sku, _)| *sku == event.sku) {
                Some((_, count)) => *count += terminal,
                None => lines.push((&event.sku, terminal)),
            }
            if terminal == 1 {
                kinds.push(event.kind);
            }
        }
        lines.sort_unstable();
        kinds.sort_unstable_by_key(|kind| kind.as_str());
        kinds.dedup();
        let still_held = held_in_store[reservation as usize];
        let name = index.reservation_name(reservation);
        judge_ledger_lines(
            index,
            reservation,
            name,
            &lines,
            &kinds,
            still_held,
            violations,
        );
    }
    judged
}

/// One reservation in the ledger: each SKU has one terminal event, all of one kind, and
/// it agrees with an acknowledged confirm.
fn judge_ledger_lines(
    index: &Index<'_>,
    id: NameId,
    reservation: &str,
    lines: &[(&str, u32)],
    kinds: &[EventKind],
    still_held: bool,
    violations: &mut Violations,
) {
    let incomplete = lines
        .iter()
        .find(|(_, terminal)| *terminal != 1 && !(still_held && *terminal == 0));
    if let Some((sku, terminal)) = incomplete {
        violations.push(violation("terminal_events", Some(sku), Some(reservation), Vec::new(), 1, format!(
            "the ledger holds {terminal} terminal events for reservation {reservation} and sku {sku}, expected exactly one"
        )));
    } else if kinds.len() > 1 {
        let names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        violations.push(violation("items_disagree", None, Some(reservation), Vec::new(), 1, format!(
            "the items of reservation {reservation} ended in different states in the ledger: {}", names.join(", ")
        )));
    }
    let confirmed_op = index
        .facts(id)
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
