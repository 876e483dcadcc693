//! C6 final stock, no leak (black-box, DESIGN §8). After quiesce, each SKU's final
//! `GET` (or, failing that, the white-box snapshot) lies within the bounds the history
//! implies: `total` within the supply bounds; `sold` between the acknowledged confirms
//! and the confirms that may have happened; `available = supply − sold − reserved`
//! within the widened bounds; `reserved` no more than the units of reservations that
//! may legitimately still be Held (deadline + grace not yet passed at the read) — so
//! units are neither oversold nor stranded.
//! Not checked here: the moment-by-moment bound (C1), the stores' agreement (C2).

use std::collections::BTreeMap;

use super::CheckConfig;
use super::index::{Index, NameId};
use super::report::{Bound, CheckId, CheckReport, Violations, violation};
use crate::history::{FieldsSeen, StockFields};
use crate::history::{Op, Outcome};

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SkuBounds {
    sold_lower: i64,
    sold_upper: i64,
    /// Units of reservations that may still be Held at the final read.
    held_upper: i64,
}

pub(super) fn check(index: &Index<'_>, config: &CheckConfig) -> CheckReport {
    let snapshot = index.snapshot;
    let Some(read_at_us) = final_read_us(index) else {
        return CheckReport::unknown(
            CheckId::C6,
            "no final read of any SKU after the load, and no snapshot",
        );
    };
    let bounds = sku_bounds(index, read_at_us, config);
    let mut violations = Violations::default();
    let mut reported = Vec::new();
    let mut judged = 0;
    let mut fields_seen = FieldsSeen::default();
    for sku in &index.supplied {
        let observed = match index.final_read(*sku) {
            Some((op, stock)) => Some((Some(op), stock)),
            None => snapshot
                .and_then(|snapshot| snapshot.engine_stocks().get(index.sku_name(*sku)))
                .map(|stock| (None, StockFields::from(*stock))),
        };
        let Some((op, stock)) = observed else {
            continue;
        };
        judged += 1;
        fields_seen.add(&stock);
        let name = index.sku_name(*sku);
        for (field, lower, value, upper) in field_ranges(index, *sku, &bounds, &stock) {
            reported.push(Bound {
                subject: format!("{name} {field}"),
                lower,
                observed: Some(value),
                upper,
            });
            if value < lower || value > upper {
                violations.push(out_of_bounds(name, field, op, lower, value, upper, stock));
            }
        }
    }
    let counts = BTreeMap::from([
        ("skus_read".to_owned(), judged),
        ("unknown_outcomes".to_owned(), index.unknown_outcomes),
    ]);
    let mut report = CheckReport::finish(
        CheckId::C6,
        judged,
        "no SKU was read after the load: nothing to judge",
        counts,
        reported,
        violations,
    );
    if report.note.is_none() {
        report.note = fields_seen.note("the final reads");
    }
    report
}

fn out_of_bounds(
    sku: &str,
    field: &str,
    op: Option<u64>,
    lower: i64,
    value: i64,
    upper: i64,
    stock: StockFields,
) -> super::Violation {
    let source = op.map_or_else(|| "the snapshot".to_owned(), |op| format!("op {op}"));
    let (kind, severity, why) = if value > upper {
        let kind = match field {
            "sold" | "total" => "oversold",
            _ => "phantom_units",
        };
        (kind, value - upper, format!("at most {upper}"))
    } else {
        let kind = match field {
            "available" => "stranded_units",
            _ => "lost_units",
        };
        (kind, lower - value, format!("at least {lower}"))
    };
    violation(
        kind,
        Some(sku),
        None,
        op.into_iter().collect(),
        severity,
        format!(
            "{source} read {value} {field} for {sku} after the load, but the history implies {why} ({})",
            stock
                .present()
                .map(|(field, value)| format!("{field} {value}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

/// When the stock after the load was read: the first final `GET`, else the snapshot.
pub(crate) fn final_read_us(index: &Index<'_>) -> Option<i64> {
    let read_at_us = index
        .final_reads
        .iter()
        .flatten()
        .map(|position| index.entry(*position).invoke_us)
        .min();
    let snapshot_read_us = index
        .snapshot
        .map(|snapshot| index.deadline_us(snapshot.taken_at_ms));
    read_at_us.map(|at| at as i64).or(snapshot_read_us)
}

/// The fields of `stock` that it carries, each as (field, lower, value, upper): the
/// range the history allows for it after the load (a field a service does not expose
/// is not judged).
pub(crate) fn field_ranges(
    index: &Index<'_>,
    sku: NameId,
    bounds: &[SkuBounds],
    stock: &StockFields,
) -> Vec<(&'static str, i64, i64, i64)> {
    let supply = &index.supply[sku as usize];
    let sku_bounds = bounds[sku as usize];
    let ranges = [
        ("total", supply.lower, stock.total, supply.upper),
        (
            "sold",
            sku_bounds.sold_lower,
            stock.sold,
            sku_bounds.sold_upper,
        ),
        ("reserved", 0, stock.reserved, sku_bounds.held_upper),
        (
            "available",
            supply.lower - sku_bounds.sold_upper - sku_bounds.held_upper,
            stock.available,
            supply.upper - sku_bounds.sold_lower,
        ),
        (
            "on_hand",
            supply.lower - sku_bounds.sold_upper,
            stock.on_hand,
            supply.upper - sku_bounds.sold_lower,
        ),
    ];
    ranges
        .into_iter()
        .filter_map(|(field, lower, value, upper)| Some((field, lower, value?, upper)))
        .collect()
}

/// Per SKU id: the bounds reservations put on its stock read at `read_at_us`.
pub(crate) fn sku_bounds(
    index: &Index<'_>,
    read_at_us: i64,
    config: &CheckConfig,
) -> Vec<SkuBounds> {
    let grace_us = (config.expiry_grace_ms + config.clock_skew_ms) * 1000;
    let mut bounds = vec![SkuBounds::default(); index.skus.len()];
    for facts in &index.reservations {
        if facts.first_ok_reserve.is_none() {
            continue;
        }
        let may_be_held = facts.confirm_ok.is_none()
            && facts.release_ok.is_none()
            && facts
                .deadline_ms
                .is_none_or(|deadline| index.expired_by_us(deadline, config) > read_at_us);
        for (sku, qty) in index.items(facts) {
            let sku_bounds = &mut bounds[*sku as usize];
            sku_bounds.sold_lower += if facts.confirm_ok.is_some() { *qty } else { 0 };
            sku_bounds.sold_upper += if facts.confirm_maybe.is_some() {
                *qty
            } else {
                0
            };
            sku_bounds.held_upper += if may_be_held { *qty } else { 0 };
        }
    }
    // A reserve with an unknown outcome and no acknowledged replay may hold units until
    // its TTL (plus grace) has passed. (A SKU the index never numbered is not judged.)
    for entry in &index.history.entries {
        if let (Op::Reserve { items, ttl_ms, .. }, Outcome::Unknown) = (&entry.op, entry.outcome)
            && index.outages.after(
                entry.complete_us as i64 + index.history.header.hold_lasts_us(*ttl_ms),
                grace_us,
            ) > read_at_us
        {
            for line in items {
                if let Some(sku) = index.skus.get(&line.sku) {
                    bounds[sku as usize].held_upper += line.qty;
                }
            }
        }
    }
    bounds
}
