//! C5 no lost or phantom effects (white-box, DESIGN §8). Lost: every acknowledged
//! reserve, confirm and release has its ledger events (one per SKU, with the right
//! units), and every acknowledged restock or adjust has one. Phantom: every ledger event
//! traces back to a history op that may have caused it — a reserve whose reply named
//! the reservation or whose outcome is unknown for that key, a confirm or release sent
//! for it, a restock / adjust of that SKU and size (seeding is in the history too).
//! Counting per (SKU, size) follows Jepsen's counter: ok ≤ events ≤ ok + unknown.
//! Needs the snapshot; without one the verdict is unknown.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use stockproof_model::ledger::{EventKind, LedgerEvent};

use super::CheckConfig;
use super::index::{Index, LedgerIndex, NameId};
use super::report::{CheckId, CheckReport, Violations, violation};
use super::snapshot::WhiteBoxSnapshot;
use crate::history::{Op, Outcome};

pub(super) fn check(index: &Index<'_>, _config: &CheckConfig) -> CheckReport {
    let Some((snapshot, ledger)) = index.white_box() else {
        return CheckReport::unknown(
            CheckId::C5,
            "no white-box snapshot (black-box target): the ledger was not read",
        );
    };
    let mut violations = Violations::default();
    let judged = check_lost(index, snapshot, ledger, &mut violations);
    check_phantom(index, snapshot, ledger, &mut violations);
    check_supply(index, snapshot, ledger, &mut violations);
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
    snapshot: &WhiteBoxSnapshot,
    ledger: &LedgerIndex,
    violations: &mut Violations,
) -> u64 {
    let mut judged = 0;
    for (id, facts) in index.reservations.iter().enumerate() {
        let Some(reserve) = facts.first_ok_reserve else {
            continue;
        };
        let reservation = index.reservation_name(id as NameId);
        let events = ledger.by_reservation.get(id as NameId);
        let steps = [
            (EventKind::Reserve, Some(reserve)),
            (EventKind::Confirm, facts.confirm_ok),
            (EventKind::Release, facts.release_ok),
        ];
        for (kind, position) in steps {
            let Some(position) = position else { continue };
            judged += 1;
            let op = index.entry(position).id;
            for (sku, qty) in index.items(facts) {
                let units: i64 = events
                    .iter()
                    .map(|event| *event as usize)
                    .filter(|event| ledger.sku[*event] == *sku)
                    .map(|event| &snapshot.ledger[event])
                    .filter(|event| event.kind == kind)
                    .map(|event| event.qty)
                    .sum();
                if units != *qty {
                    let sku = index.sku_name(*sku);
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
fn check_phantom(
    index: &Index<'_>,
    snapshot: &WhiteBoxSnapshot,
    ledger: &LedgerIndex,
    violations: &mut Violations,
) {
    // A reservation with no reserve event in the ledger has the empty key.
    let no_key = index.keys.get("");
    let mut reported: Vec<EventKind> = Vec::new();
    for (reservation, positions) in ledger.by_reservation.iter() {
        if positions.is_empty() {
            continue;
        }
        // The key of its last reserve event, as the engine's index of keys would hold.
        let key = positions
            .iter()
            .rev()
            .find_map(|position| ledger.key[*position as usize])
            .or(no_key);
        let unknown_key = key.is_some_and(|key| index.unknown_keys[key as usize]);
        let facts = index.facts(reservation);
        reported.clear();
        for position in positions {
            let event = &snapshot.ledger[*position as usize];
            let traced = match event.kind {
                EventKind::Restock | EventKind::Adjust => continue,
                EventKind::Reserve | EventKind::Expire => {
                    facts.is_some_and(|facts| facts.first_ok_reserve.is_some()) || unknown_key
                }
                EventKind::Confirm => facts.is_some_and(|facts| facts.confirm_maybe.is_some()),
                EventKind::Release => facts.is_some_and(|facts| facts.release_maybe.is_some()),
            };
            if !traced && !reported.contains(&event.kind) {
                reported.push(event.kind);
                violations.push(phantom(event));
            }
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
type SupplyKey = (EventKind, NameId, i64);
/// Ops of one [`SupplyKey`]: ok, ok + unknown, the first ok op.
type SupplyOps = (u64, u64, Option<u64>);

/// Restock and adjust events per (SKU, size): ok ops ≤ events ≤ ok + unknown ops.
fn check_supply(
    index: &Index<'_>,
    snapshot: &WhiteBoxSnapshot,
    ledger: &LedgerIndex,
    violations: &mut Violations,
) {
    let mut events: FxHashMap<SupplyKey, u64> = FxHashMap::default();
    for position in &ledger.supply_events {
        let event = &snapshot.ledger[*position as usize];
        let sku = ledger.sku[*position as usize];
        *events.entry((event.kind, sku, event.qty)).or_default() += 1;
    }
    let mut expected: FxHashMap<SupplyKey, SupplyOps> = FxHashMap::default();
    for entry in &index.history.entries {
        let (kind, sku, qty) = match &entry.op {
            Op::Restock { sku, qty } => (EventKind::Restock, sku, *qty),
            Op::Adjust { sku, delta } => (EventKind::Adjust, sku, *delta),
            _ => continue,
        };
        let Some(sku) = index.skus.get(sku) else {
            continue;
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
        let sku = index.sku_name(*sku);
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
    for ((kind, sku, qty), recorded) in &events {
        if !expected.contains_key(&(*kind, *sku, *qty)) {
            let sku = index.sku_name(*sku);
            violations.push(violation("phantom_effect", Some(sku), None, Vec::new(), *recorded as i64, format!(
                "the ledger records {recorded} {kind}s of {qty} units of {sku}, but the history sent none"
            )));
        }
    }
}
