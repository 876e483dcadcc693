//! C5 no lost or phantom effects (white-box, DESIGN §8). Lost: every acknowledged
//! reserve, confirm and release has its ledger events (one per SKU, with the right
//! units), and every acknowledged restock or adjust has one. Phantom: every ledger event
//! traces back to a history op that may have caused it — a reserve whose reply named
//! the reservation or whose outcome is unknown for that key, a confirm or release sent
//! for it, a restock / adjust of that SKU and size (seeding is in the history too).
//! Counting per (SKU, size) follows Jepsen's counter: ok ≤ events ≤ ok + unknown.
//! Needs the snapshot; without one the verdict is unknown.

use std::collections::{BTreeMap, HashMap, HashSet};

use stockproof_engine::ledger::{EventKind, LedgerEvent};

use super::index::Index;
use super::report::{CheckId, CheckReport, Violations, violation};
use super::{CheckConfig, WhiteBoxSnapshot};
use crate::history::{Op, Outcome};

/// Ledger events of one reservation: kind → (sku → units).
type ReservationEvents<'s> = HashMap<EventKind, HashMap<&'s str, i64>>;

pub(super) fn check(
    index: &Index<'_>,
    snapshot: Option<&WhiteBoxSnapshot>,
    _config: &CheckConfig,
) -> CheckReport {
    let Some(snapshot) = snapshot else {
        return CheckReport::unknown(
            CheckId::C5,
            "no white-box snapshot (black-box target): the ledger was not read",
        );
    };
    let mut by_reservation: HashMap<&str, ReservationEvents<'_>> = HashMap::new();
    let mut supply_events: HashMap<(EventKind, &str, i64), u64> = HashMap::new();
    for event in &snapshot.ledger {
        if matches!(event.kind, EventKind::Restock | EventKind::Adjust) {
            *supply_events
                .entry((event.kind, event.sku.as_str(), event.qty))
                .or_default() += 1;
        } else {
            *by_reservation
                .entry(event.reservation_id.as_str())
                .or_default()
                .entry(event.kind)
                .or_default()
                .entry(event.sku.as_str())
                .or_default() += event.qty;
        }
    }
    let mut violations = Violations::default();
    let judged = check_lost(index, &by_reservation, &mut violations);
    check_phantom(index, snapshot, &mut violations);
    check_supply(index, &supply_events, &mut violations);
    let counts = BTreeMap::from([
        ("ledger_events".to_owned(), snapshot.ledger.len() as u64),
        ("acknowledged_ops".to_owned(), judged),
    ]);
    CheckReport::finish(
        CheckId::C5,
        judged + snapshot.ledger.len() as u64,
        "neither acknowledged ops nor ledger events: nothing to judge",
        counts,
        Vec::new(),
        violations,
    )
}

/// Every acknowledged reservation transition has its events; returns how many were judged.
fn check_lost(
    index: &Index<'_>,
    by_reservation: &HashMap<&str, ReservationEvents<'_>>,
    violations: &mut Violations,
) -> u64 {
    let mut judged = 0;
    for (reservation, facts) in &index.reservations {
        let Some(&reserve) = facts.ok_reserves.first() else {
            continue;
        };
        let events = by_reservation.get(reservation);
        let steps = [
            (EventKind::Reserve, Some(reserve)),
            (EventKind::Confirm, facts.confirm_ok),
            (EventKind::Release, facts.release_ok),
        ];
        for (kind, position) in steps {
            let Some(position) = position else { continue };
            judged += 1;
            let op = index.entry(position).id;
            let recorded = events.and_then(|events| events.get(&kind));
            for (sku, qty) in &facts.items {
                let units = recorded
                    .and_then(|units| units.get(sku))
                    .copied()
                    .unwrap_or(0);
                if units != *qty {
                    violations.push(violation("lost_effect", Some(sku), Some(reservation), vec![op], (qty - units).abs(), format!(
                        "op {op}'s {kind} of reservation {reservation} was acknowledged, but the ledger records {units} of its {qty} units of {sku}"
                    )));
                }
            }
        }
    }
    judged
}

/// Every reservation event in the ledger traces to an op that may have caused it.
fn check_phantom(index: &Index<'_>, snapshot: &WhiteBoxSnapshot, violations: &mut Violations) {
    let unknown_keys: HashSet<&str> = index
        .history
        .entries
        .iter()
        .filter(|entry| entry.outcome == Outcome::Unknown)
        .filter_map(|entry| match &entry.op {
            Op::Reserve { key, .. } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    let key_of: HashMap<&str, &str> = snapshot
        .ledger
        .iter()
        .filter(|event| event.kind == EventKind::Reserve)
        .map(|event| {
            (
                event.reservation_id.as_str(),
                event.idempotency_key.as_str(),
            )
        })
        .collect();
    let mut reported: HashSet<(&str, EventKind)> = HashSet::new();
    for event in &snapshot.ledger {
        let key = key_of
            .get(event.reservation_id.as_str())
            .copied()
            .unwrap_or("");
        let facts = index.reservations.get(event.reservation_id.as_str());
        let traced = match event.kind {
            EventKind::Restock | EventKind::Adjust => continue,
            EventKind::Reserve | EventKind::Expire => {
                facts.is_some_and(|facts| !facts.ok_reserves.is_empty())
                    || unknown_keys.contains(key)
            }
            EventKind::Confirm => facts.is_some_and(|facts| facts.confirm_maybe.is_some()),
            EventKind::Release => facts.is_some_and(|facts| facts.release_maybe.is_some()),
        };
        if !traced && reported.insert((event.reservation_id.as_str(), event.kind)) {
            violations.push(phantom(event));
        }
    }
}

fn phantom(event: &LedgerEvent) -> super::Violation {
    violation(
        "phantom_effect",
        Some(&event.sku),
        Some(&event.reservation_id),
        Vec::new(),
        event.qty.abs(),
        format!(
            "ledger event {} ({} of {} units of {} for reservation {}) traces to no op in the history that may have caused it",
            event.seq, event.kind, event.qty, event.sku, event.reservation_id
        ),
    )
}

/// A restock or adjust of one size to one SKU.
type SupplyKey<'h> = (EventKind, &'h str, i64);
/// Ops of one [`SupplyKey`]: ok, ok + unknown, the first ok op.
type SupplyOps = (u64, u64, Option<u64>);

/// Restock and adjust events per (SKU, size): ok ops ≤ events ≤ ok + unknown ops.
fn check_supply(
    index: &Index<'_>,
    events: &HashMap<(EventKind, &str, i64), u64>,
    violations: &mut Violations,
) {
    let mut expected: HashMap<SupplyKey<'_>, SupplyOps> = HashMap::new();
    for entry in &index.history.entries {
        let (kind, sku, qty) = match &entry.op {
            Op::Restock { sku, qty } => (EventKind::Restock, sku.as_str(), *qty),
            Op::Adjust { sku, delta } => (EventKind::Adjust, sku.as_str(), *delta),
            _ => continue,
        };
        let counts = expected.entry((kind, sku, qty)).or_default();
        match entry.outcome {
            Outcome::Ok => {
                counts.0 += 1;
                counts.1 += 1;
                counts.2.get_or_insert(entry.id);
            }
            Outcome::Unknown => counts.1 += 1,
            Outcome::Fail => {}
        }
    }
    for ((kind, sku, qty), (ok, possible, first_ok)) in &expected {
        let recorded = events.get(&(*kind, *sku, *qty)).copied().unwrap_or(0);
        if recorded < *ok {
            let ops = first_ok.map(|op| vec![op]).unwrap_or_default();
            violations.push(violation("lost_effect", Some(sku), None, ops, (*ok - recorded) as i64, format!(
                "{ok} {kind}s of {qty} units of {sku} were acknowledged, but the ledger records {recorded}"
            )));
        } else if recorded > *possible {
            violations.push(violation("phantom_effect", Some(sku), None, Vec::new(), (recorded - possible) as i64, format!(
                "the ledger records {recorded} {kind}s of {qty} units of {sku}, but at most {possible} were sent"
            )));
        }
    }
    for ((kind, sku, qty), recorded) in events {
        if !expected.contains_key(&(*kind, *sku, *qty)) {
            violations.push(violation("phantom_effect", Some(sku), None, Vec::new(), *recorded as i64, format!(
                "the ledger records {recorded} {kind}s of {qty} units of {sku}, but the history sent none"
            )));
        }
    }
}
