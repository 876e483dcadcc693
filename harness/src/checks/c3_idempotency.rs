//! C3 idempotency (DESIGN §8). Black-box: while a key is retained, every acknowledged
//! reserve with it names the same reservation, for the same items. A key's retention
//! runs from when the engine stored it (no earlier than the first reserve sent with it)
//! for TTL + retention; a reserve that completed before that could have passed must be
//! answered from the key. Later ones may legitimately create a new reservation (the
//! key was forgotten), which starts a new epoch for the key.
//! White-box (with a snapshot): one reserve event per (reservation, SKU) in the ledger,
//! and no two reservations for one key created within TTL + retention of each other.
//! Not checked here: whether the replayed reservation's state is right (C4).

use std::collections::{BTreeMap, HashMap};

use super::index::{Index, merge_items};
use super::report::{CheckId, CheckReport, Violations, violation};
use super::{CheckConfig, WhiteBoxSnapshot};
use crate::history::{Op, Outcome};
use stockproof_engine::ledger::EventKind;

pub(super) fn check(
    index: &Index<'_>,
    snapshot: Option<&WhiteBoxSnapshot>,
    _config: &CheckConfig,
) -> CheckReport {
    let retention_us = index.history.header.idempotency_retention_ms.max(0) as u64 * 1000;
    let mut violations = Violations::default();
    let mut judged = 0_u64;
    let mut replays = 0_u64;
    for (key, positions) in &index.keys {
        // The history is in completion order; epochs are reckoned in send order.
        let mut positions = positions.clone();
        positions.sort_by_key(|position| index.entry(*position).invoke_us);
        let mut epoch: Option<Epoch<'_>> = None;
        for position in &positions {
            let entry = index.entry(*position);
            let Op::Reserve { items, ttl_ms, .. } = &entry.op else {
                continue;
            };
            let keep_us = retention_us + (*ttl_ms).max(0) as u64 * 1000;
            let epoch_over = epoch
                .as_ref()
                .is_some_and(|current| entry.invoke_us > current.start_us + current.keep_us);
            if epoch.is_none() || epoch_over {
                epoch = Some(Epoch {
                    start_us: entry.invoke_us,
                    keep_us,
                    first: None,
                });
            }
            let Some(current) = epoch.as_mut() else {
                continue;
            };
            let reservation = entry
                .response
                .as_ref()
                .and_then(|body| body.reservation.as_ref());
            let (Outcome::Ok, Some(reservation)) = (entry.outcome, reservation) else {
                continue;
            };
            judged += 1;
            let merged = merge_items(items);
            match &current.first {
                None => current.first = Some((entry.id, reservation.0.as_str(), merged)),
                Some((first_op, first_id, first_items)) => {
                    replays += 1;
                    let must_replay = entry.complete_us <= current.start_us + current.keep_us;
                    if *first_id != reservation.0 && must_replay {
                        violations.push(violation("two_reservations_for_key", None, Some(&reservation.0), vec![entry.id, *first_op], 1, format!(
                            "op {} was given reservation {} for key `{key}`, but op {first_op} was given {first_id} for the same key while it was retained", entry.id, reservation.0
                        )));
                    } else if *first_id != reservation.0 {
                        // The key may have been forgotten: a new epoch starts here.
                        current.first = Some((entry.id, reservation.0.as_str(), merged));
                    } else if *first_items != merged {
                        violations.push(violation("key_reused_with_other_items", None, Some(&reservation.0), vec![entry.id, *first_op], 1, format!(
                            "op {} reserved other items with key `{key}` and was accepted as a replay of op {first_op} (reservation {first_id})", entry.id
                        )));
                    }
                }
            }
        }
    }
    let ledger_events = snapshot.map_or(0, |snapshot| {
        check_ledger(snapshot, retention_us as i64 / 1000, &mut violations)
    });
    let counts = BTreeMap::from([
        ("keys".to_owned(), index.keys.len() as u64),
        ("acknowledged_reserves".to_owned(), judged),
        ("replays".to_owned(), replays),
        ("ledger_reserve_events".to_owned(), ledger_events),
    ]);
    let mut report = CheckReport::finish(
        CheckId::C3,
        judged,
        "no reserve was acknowledged: nothing to judge",
        counts,
        Vec::new(),
        violations,
    );
    if snapshot.is_none() && report.note.is_none() {
        report.note = Some("black-box only: the ledger was not read".to_owned());
    }
    report
}

/// An epoch's first acknowledged reserve: op, reservation, merged items.
type FirstReserve<'h> = (u64, &'h str, Vec<(&'h str, i64)>);

struct Epoch<'h> {
    start_us: u64,
    keep_us: u64,
    /// First acknowledged reserve of the epoch: op, reservation, merged items.
    first: Option<FirstReserve<'h>>,
}

/// Returns the number of reserve events looked at.
fn check_ledger(
    snapshot: &WhiteBoxSnapshot,
    retention_ms: i64,
    violations: &mut Violations,
) -> u64 {
    let mut per_line: HashMap<(&str, &str), u32> = HashMap::new();
    // Per key: reservation → (created at, deadline).
    let mut per_key: HashMap<&str, BTreeMap<&str, (i64, i64)>> = HashMap::new();
    let mut looked_at = 0;
    for event in snapshot
        .ledger
        .iter()
        .filter(|event| event.kind == EventKind::Reserve)
    {
        looked_at += 1;
        let count = per_line
            .entry((event.reservation_id.as_str(), event.sku.as_str()))
            .or_default();
        *count += 1;
        if *count == 2 {
            violations.push(violation(
                "repeated_reserve_event",
                Some(&event.sku),
                Some(&event.reservation_id),
                Vec::new(),
                1,
                format!(
                    "the ledger holds more than one reserve event for reservation {} and sku {}",
                    event.reservation_id, event.sku
                ),
            ));
        }
        per_key
            .entry(event.idempotency_key.as_str())
            .or_default()
            .entry(event.reservation_id.as_str())
            .or_insert((event.at_ms, event.deadline_ms));
    }
    for (key, reservations) in per_key {
        let mut created: Vec<(i64, i64, &str)> = reservations
            .into_iter()
            .map(|(id, (at, deadline))| (at, deadline, id))
            .collect();
        created.sort_unstable();
        for pair in created.windows(2) {
            let ((_, first_deadline, first), (second_at, _, second)) = (
                (pair[0].0, pair[0].1, pair[0].2),
                (pair[1].0, pair[1].1, pair[1].2),
            );
            if second_at < first_deadline + retention_ms {
                violations.push(violation("two_reservations_for_key", None, Some(second), Vec::new(), 1, format!(
                    "the ledger shows reservations {first} and {second} for key `{key}`, the second created while the key was retained"
                )));
            }
        }
    }
    looked_at
}
