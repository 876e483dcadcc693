//! C3 idempotency (DESIGN §8). Black-box: while a key is retained, every acknowledged
//! reserve with it names the same reservation, for the same items. A key's retention
//! runs from when the engine stored it (no earlier than the first reserve sent with it)
//! for TTL + retention; a reserve that completed before that could have passed must be
//! answered from the key. Later ones may legitimately create a new reservation (the
//! key was forgotten), which starts a new epoch for the key. Where the target tells a
//! replay from a fresh hold (`replays_told_apart` in the history's header), a retained
//! key is answered as a fresh hold at most once: a second one is a replay that held the
//! units again, even when the service names the reservation by the key itself
//! (order-number APIs), so the ids alone cannot show it.
//! White-box (with a snapshot): one reserve event per (reservation, SKU) in the ledger,
//! and no two reservations for one key created within TTL + retention of each other.
//! Not checked here: whether the replayed reservation's state is right (C4).

use std::collections::BTreeMap;

use super::CheckConfig;
use super::index::{Groups, Index, LedgerIndex, NameId, merge_items};
use super::report::{CheckId, CheckReport, Violations, violation};
use super::snapshot::WhiteBoxSnapshot;
use crate::history::{Op, Outcome};
use stockproof_model::ledger::EventKind;

pub(super) fn check(index: &Index<'_>, _config: &CheckConfig) -> CheckReport {
    let retention_us = index.history.header.idempotency_retention_ms.max(0) as u64 * 1000;
    let mut violations = Violations::default();
    let mut tally = Tally::default();
    let mut positions: Vec<usize> = Vec::new();
    for (key, reserves) in index.key_reserves.iter() {
        // The history is in completion order; epochs are reckoned in send order.
        positions.clear();
        positions.extend_from_slice(reserves);
        positions.sort_by_key(|position| index.entry(*position).invoke_us);
        let key = index.keys.name(key);
        check_key(
            index,
            key,
            &positions,
            retention_us,
            &mut tally,
            &mut violations,
        );
    }
    let white_box = index.white_box();
    let ledger_events = white_box.map_or(0, |(snapshot, ledger)| {
        check_ledger(
            index,
            snapshot,
            ledger,
            retention_us as i64 / 1000,
            &mut violations,
        )
    });
    let counts = BTreeMap::from([
        // Keys a kept reserve sent. A plain refusal's key is sent by no kept reserve
        // (the history's builder unfolds it otherwise): refused every time it was
        // sent, it was never acknowledged and has nothing to compare.
        ("keys".to_owned(), index.key_reserves.len() as u64),
        (
            "plain_refusals".to_owned(),
            index.history.refusals.len() as u64,
        ),
        ("acknowledged_reserves".to_owned(), tally.judged),
        ("replays".to_owned(), tally.replays),
        ("ledger_reserve_events".to_owned(), ledger_events),
    ]);
    let mut report = CheckReport::finish(
        CheckId::C3,
        tally.judged,
        "no reserve was acknowledged: nothing to judge",
        counts,
        Vec::new(),
        violations,
    );
    if white_box.is_none() && report.note.is_none() {
        report.note = Some("black-box only: the ledger was not read".to_owned());
    }
    report
}

/// Acknowledged reserves judged, and those that were replays.
#[derive(Debug, Default)]
struct Tally {
    judged: u64,
    replays: u64,
}

/// An epoch's first acknowledged reserve: op, reservation, entry.
type FirstReserve<'h> = (u64, &'h str, usize);

struct Epoch<'h> {
    start_us: u64,
    keep_us: u64,
    /// First acknowledged reserve of the epoch.
    first: Option<FirstReserve<'h>>,
    /// The op answered as a fresh hold, where the target tells replays apart.
    fresh: Option<u64>,
}

/// Judges the reserves of one key, `positions` in send order.
fn check_key(
    index: &Index<'_>,
    key: &str,
    positions: &[usize],
    retention_us: u64,
    tally: &mut Tally,
    violations: &mut Violations,
) {
    let mut epoch: Option<Epoch<'_>> = None;
    for position in positions {
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
                fresh: None,
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
        tally.judged += 1;
        let replayed = entry.response.as_ref().is_some_and(|body| body.replayed);
        if index.history.header.replays_told_apart && !replayed {
            let must_replay = entry.complete_us <= current.start_us + current.keep_us;
            match current.fresh {
                Some(fresh_op) if must_replay => violations.push(violation("fresh_hold_for_retained_key", None, Some(&reservation.0), vec![entry.id, fresh_op], 1, format!(
                    "op {} was answered as a fresh hold (reservation {}) for key `{key}`, but op {fresh_op} already took one while the key was retained: a replay held the units again", entry.id, reservation.0
                ))),
                _ => current.fresh = Some(entry.id),
            }
        }
        match &current.first {
            None => current.first = Some((entry.id, reservation.0.as_str(), *position)),
            Some((first_op, first_id, first_position)) => {
                tally.replays += 1;
                let must_replay = entry.complete_us <= current.start_us + current.keep_us;
                if *first_id != reservation.0 && must_replay {
                    violations.push(violation("two_reservations_for_key", None, Some(&reservation.0), vec![entry.id, *first_op], 1, format!(
                        "op {} was given reservation {} for key `{key}`, but op {first_op} was given {first_id} for the same key while it was retained", entry.id, reservation.0
                    )));
                } else if *first_id != reservation.0 {
                    // The key may have been forgotten: a new epoch starts here.
                    current.first = Some((entry.id, reservation.0.as_str(), *position));
                } else if !same_items(index, *first_position, items) {
                    violations.push(violation("key_reused_with_other_items", None, Some(&reservation.0), vec![entry.id, *first_op], 1, format!(
                        "op {} reserved other items with key `{key}` and was accepted as a replay of op {first_op} (reservation {first_id})", entry.id
                    )));
                }
            }
        }
    }
}

/// Whether the reserve at `first` asked for the same merged cart as `items`.
fn same_items(index: &Index<'_>, first: usize, items: &[stockproof_model::CartLine]) -> bool {
    match &index.entry(first).op {
        Op::Reserve {
            items: first_items, ..
        } => merge_items(first_items) == merge_items(items),
        _ => false,
    }
}

/// Returns the number of reserve events looked at.
fn check_ledger(
    index: &Index<'_>,
    snapshot: &WhiteBoxSnapshot,
    ledger: &LedgerIndex,
    retention_ms: i64,
    violations: &mut Violations,
) -> u64 {
    // Per key: (created at, deadline, reservation), the first reserve event of each
    // reservation under that key.
    let mut created: Vec<(NameId, (i64, i64, NameId))> = Vec::new();
    let mut reserve_skus: Vec<(NameId, u32)> = Vec::new();
    let mut keys: Vec<NameId> = Vec::new();
    let mut looked_at = 0;
    for (reservation, positions) in ledger.by_reservation.iter() {
        reserve_skus.clear();
        keys.clear();
        for position in positions {
            let position = *position as usize;
            let event = &snapshot.ledger[position];
            let (Some(key), EventKind::Reserve) = (ledger.key[position], event.kind) else {
                continue;
            };
            looked_at += 1;
            let sku = ledger.sku[position];
            let count = match reserve_skus.iter_mut().find(|(seen, _)| *seen == sku) {
                Some((_, count)) => count,
                None => {
                    reserve_skus.push((sku, 0));
                    &mut reserve_skus.last_mut().expect("just pushed").1
                }
            };
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
            if !keys.contains(&key) {
                keys.push(key);
                created.push((key, (event.at_ms, event.deadline_ms, reservation)));
            }
        }
    }
    let by_key = Groups::build(index.keys.len(), &created);
    let mut sorted: Vec<(i64, i64, &str)> = Vec::new();
    for (key, reservations) in by_key.iter().filter(|(_, group)| group.len() > 1) {
        sorted.clear();
        sorted.extend(
            reservations
                .iter()
                .map(|(at, deadline, id)| (*at, *deadline, index.reservation_name(*id))),
        );
        sorted.sort_unstable();
        let key = index.keys.name(key);
        for pair in sorted.windows(2) {
            let ((_, first_deadline, first), (second_at, _, second)) = (pair[0], pair[1]);
            if second_at < first_deadline + retention_ms {
                violations.push(violation("two_reservations_for_key", None, Some(second), Vec::new(), 1, format!(
                    "the ledger shows reservations {first} and {second} for key `{key}`, the second created while the key was retained"
                )));
            }
        }
    }
    looked_at
}
