//! C1 no oversell (black-box). Per SKU, at every moment: units held or sold ≤ units
//! supplied. Unknown outcomes widen the bounds as in Jepsen's counter checker: the
//! lower bound of units taken counts only acknowledged reserves, the upper bound of
//! supply counts every restock that may have happened; a violation is a lower bound
//! above the upper bound.
//!
//! A reservation surely holds its units from its ok reserve's reply until the first
//! release that may have happened or its deadline (less the clock skew), and forever
//! once a confirm was acknowledged. The check sweeps these intervals and the supply
//! changes in time order, per SKU (one sort per SKU: O(n log n)).
//! Also reported: units sold, `[lower, observed, upper]`, where observed is the final
//! read (or the white-box snapshot).
//! Not checked here: what the stores hold (C2), stranded units (C6).

use std::collections::BTreeMap;

use super::CheckConfig;
use super::index::{Index, NameId};
use super::report::{Bound, CheckId, CheckReport, Violations, violation};
use crate::history::OpId;

/// A change in one SKU's sweep. Ordered so that, at one instant, supply grows first and
/// units are returned before new ones are taken: the check never flags a race it
/// cannot prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    Supply,
    Return,
    Take,
}

struct Event {
    at_us: i64,
    change: Change,
    qty: i64,
    /// The reservation of a take or return (unused for supply).
    reservation: NameId,
    op: OpId,
}

pub(super) fn check(index: &Index<'_>, config: &CheckConfig) -> CheckReport {
    let skew_us = config.clock_skew_ms * 1000;
    let mut events: Vec<Vec<Event>> = (0..index.skus.len()).map(|_| Vec::new()).collect();
    // Per SKU id: units surely sold, units possibly sold.
    let mut sold: Vec<(i64, i64)> = vec![(0, 0); index.skus.len()];
    let mut judged = 0;
    for (reservation, facts) in index.reservations.iter().enumerate() {
        let (Some(taken_us), Some(first)) = (facts.taken_us, facts.first_ok_reserve) else {
            continue;
        };
        judged += 1;
        let end_us = if facts.confirm_ok.is_some() {
            i64::MAX
        } else {
            let deadline_us = facts.deadline_ms.map_or(taken_us as i64, |deadline| {
                index.deadline_us(deadline) - skew_us
            });
            facts
                .release_invoke_us
                .map_or(deadline_us, |release| deadline_us.min(release as i64))
        };
        let op = index.entry(first).id;
        for (sku, qty) in index.items(facts) {
            let totals = &mut sold[*sku as usize];
            if facts.confirm_ok.is_some() {
                totals.0 += qty;
            }
            if facts.confirm_maybe.is_some() {
                totals.1 += qty;
            }
            if end_us <= taken_us as i64 {
                continue;
            }
            let sku_events = &mut events[*sku as usize];
            let event = |at_us, change| Event {
                at_us,
                change,
                qty: *qty,
                reservation: reservation as NameId,
                op,
            };
            sku_events.push(event(taken_us as i64, Change::Take));
            if end_us != i64::MAX {
                sku_events.push(event(end_us, Change::Return));
            }
        }
    }
    let mut violations = Violations::default();
    for sku in &index.supplied {
        let sku_events = &mut events[*sku as usize];
        for (at_us, delta) in &index.supply[*sku as usize].upper_changes {
            sku_events.push(Event {
                at_us: *at_us as i64,
                change: Change::Supply,
                qty: *delta,
                reservation: NameId::MAX,
                op: 0,
            });
        }
    }
    for (sku, sku_events) in events.iter_mut().enumerate() {
        sweep(index, sku as NameId, sku_events, &mut violations);
    }
    let bounds = sold_bounds(index, &sold);
    let counts = BTreeMap::from([
        ("acknowledged_reservations".to_owned(), judged),
        ("skus".to_owned(), index.supplied.len() as u64),
        ("unknown_outcomes".to_owned(), index.unknown_outcomes),
    ]);
    CheckReport::finish(
        CheckId::C1,
        judged,
        "no reservation was acknowledged: nothing to judge",
        counts,
        bounds,
        violations,
    )
}

/// Walks one SKU's changes in time order and flags every take that pushes the units
/// surely held or sold above the units possibly supplied.
fn sweep(index: &Index<'_>, sku: NameId, events: &mut [Event], violations: &mut Violations) {
    // The op breaks ties between changes of one instant, so the order never depends on
    // the order reservations were indexed in.
    events.sort_unstable_by_key(|event| (event.at_us, event.change, event.op));
    let mut supply = 0_i64;
    let mut taken = 0_i64;
    for event in events.iter() {
        match event.change {
            Change::Supply => supply += event.qty,
            Change::Return => taken -= event.qty,
            Change::Take => {
                let before = taken;
                taken += event.qty;
                if taken > supply {
                    let (sku, reservation) = (
                        index.sku_name(sku),
                        index.reservation_name(event.reservation),
                    );
                    violations.push(violation(
                        "oversell",
                        Some(sku),
                        Some(reservation),
                        vec![event.op],
                        taken - supply,
                        format!(
                            "op {} was given {} units of {sku} (reservation {reservation}) while {before} of at most {supply} supplied units were already held or sold",
                            event.op, event.qty
                        ),
                    ));
                }
            }
        }
    }
}

fn sold_bounds(index: &Index<'_>, sold: &[(i64, i64)]) -> Vec<Bound> {
    index
        .supplied
        .iter()
        .map(|sku| {
            let name = index.sku_name(*sku);
            let (lower, upper) = sold[*sku as usize];
            let observed = index.final_reads[*sku as usize]
                .and_then(|position| index.entry(position).response.as_ref()?.read_fields())
                .or_else(|| Some(index.snapshot?.engine_stocks().get(name).copied()?.into()))
                .and_then(|stock| stock.sold);
            Bound {
                subject: format!("{name} sold"),
                lower,
                observed,
                upper,
            }
        })
        .collect()
}
