//! C8 no undersell (black-box, DESIGN §8). A reserve refused for insufficient stock
//! (`fail`, reply `error = insufficient_stock`) while, for every line of its merged
//! cart, the SKU surely had the requested units available during the refusal's whole
//! interval is a violation: a buyer was turned away from stock on the shelf. "Surely"
//! is the lower bound of `available` over `[invoke, complete]` from
//! `super::stock_bounds`: every take that may have happened by the refusal's
//! completion — concurrent, in flight, lost reply — counts as taken, and a unit counts
//! as back only when its release or expiry (deadline + grace + skew, and no confirm
//! or release that could have won) or its restock surely happened before the refusal
//! was sent.
//!
//! Also reported, per SKU refused at least once and found with units after the load,
//! as the bound `<sku> units_stranded_after_refusals` = [surely stranded, -, final
//! available]: of the units the final read found available, how many were surely on
//! the shelf when the SKU's last refusal was sent (final available − every rise that may have happened
//! since), so stayed there while buyers were turned away. The count of the same name
//! sums them. A refusal of q units leaves up to q − 1 units legitimately, so this is a
//! figure to read, not a violation.
//!
//! Judged: every answered reserve (acknowledged or refused for stock): a run with no
//! refusal turned no buyer away. Whether refusals happened after units came back (so
//! that this check had something to bite on) is the `refusals_after_return` coverage
//! goal. Not judged: refusals with any other reason, and which line the engine named.

use std::collections::{BTreeMap, HashMap};

use super::coverage::refusal_after_return;
use super::index::{Index, merge_items};
use super::report::{Bound, CheckId, CheckReport, Violations, violation};
use super::stock_bounds::{Field, StockModel};
use crate::history::{HistoryEntry, Op, Outcome};

/// The `error` of a refusal for insufficient stock (DESIGN §6).
pub(crate) const INSUFFICIENT_STOCK: &str = "insufficient_stock";

/// The SKUs a refusal for insufficient stock blames: the one its reply names when the
/// cart holds it, else every line of its cart. `None` if `entry` is no such refusal.
pub(crate) fn refused_skus(entry: &HistoryEntry) -> Option<Vec<&str>> {
    let Op::Reserve { items, .. } = &entry.op else {
        return None;
    };
    let body = entry.response.as_ref()?;
    if entry.outcome != Outcome::Fail || body.error.as_deref() != Some(INSUFFICIENT_STOCK) {
        return None;
    }
    let named = body
        .sku
        .as_deref()
        .filter(|sku| items.iter().any(|line| line.sku == *sku));
    Some(match named {
        Some(sku) => vec![sku],
        None => items.iter().map(|line| line.sku.as_str()).collect(),
    })
}

pub(super) fn check(index: &Index<'_>, model: &StockModel<'_>) -> CheckReport {
    let mut violations = Violations::default();
    let mut answered = 0_u64;
    let mut refusals = 0_u64;
    let mut refusals_after_return = 0_u64;
    let mut last_refusal_us: HashMap<String, i64> = HashMap::new();
    for entry in index.history.ops() {
        let entry = &*entry;
        let Op::Reserve { items, .. } = &entry.op else {
            continue;
        };
        if entry.outcome == Outcome::Ok {
            answered += 1;
            continue;
        }
        let Some(skus) = refused_skus(entry) else {
            continue;
        };
        answered += 1;
        refusals += 1;
        let invoke_us = entry.invoke_us as i64;
        for sku in skus {
            match last_refusal_us.get_mut(sku) {
                Some(last) => *last = (*last).max(invoke_us),
                None => drop(last_refusal_us.insert(sku.to_owned(), invoke_us)),
            }
        }
        refusals_after_return += u64::from(refusal_after_return(model, entry));
        judge_refusal(model, entry, &merge_items(items), &mut violations);
    }
    let stranded = stranded_after_refusals(index, model, &last_refusal_us);
    let counts = BTreeMap::from([
        ("reserves_answered".to_owned(), answered),
        ("refusals_for_stock".to_owned(), refusals),
        ("refusals_after_return".to_owned(), refusals_after_return),
        (
            "units_stranded_after_refusals".to_owned(),
            stranded.iter().map(|bound| bound.lower as u64).sum(),
        ),
        ("unknown_outcomes".to_owned(), index.unknown_outcomes),
    ]);
    CheckReport::finish(
        CheckId::C8,
        answered,
        "no reserve was answered: nothing to judge",
        counts,
        stranded,
        violations,
    )
}

fn judge_refusal(
    model: &StockModel<'_>,
    entry: &HistoryEntry,
    lines: &[(&str, i64)],
    violations: &mut Violations,
) {
    let (invoke_us, complete_us) = (entry.invoke_us as i64, entry.complete_us as i64);
    let mut surely: Vec<(&str, i64, i64)> = Vec::with_capacity(lines.len());
    for (sku, qty) in lines {
        let Some(bound) = model.bound(sku, Field::Available, invoke_us, complete_us) else {
            return;
        };
        if bound.lower < *qty {
            return;
        }
        surely.push((sku, *qty, bound.lower));
    }
    let Some(&(first_sku, _, _)) = surely.first() else {
        return;
    };
    let mut witnesses = Vec::new();
    for (sku, _, _) in &surely {
        witnesses.extend(model.witnesses(sku, Field::Available, invoke_us, false));
    }
    witnesses.sort_unstable_by(|left, right| right.cmp(left));
    witnesses.dedup();
    let asked: Vec<String> = surely
        .iter()
        .map(|(sku, qty, _)| format!("{qty} {} of {sku}", units(*qty)))
        .collect();
    let there: Vec<String> = surely
        .iter()
        .map(|(sku, _, lower)| format!("{lower} of {sku}"))
        .collect();
    let brought: Vec<String> = witnesses.iter().map(ToString::to_string).collect();
    let severity = surely
        .iter()
        .map(|(_, qty, lower)| lower - qty + 1)
        .min()
        .unwrap_or(1);
    let mut ops = vec![entry.id];
    ops.extend(witnesses);
    violations.push(violation(
        "refused_while_available",
        Some(first_sku),
        None,
        ops,
        severity,
        format!(
            "op {} refused {} while at least {} (ops {} put them there)",
            entry.id,
            asked.join(" and "),
            match surely.as_slice() {
                [(_, _, 1)] => "1 was surely available".to_owned(),
                [(_, _, lower)] => format!("{lower} were surely available"),
                _ => format!("{} were surely available", there.join(" and ")),
            },
            brought.join(", ")
        ),
    ));
}

fn units(qty: i64) -> &'static str {
    if qty == 1 { "unit" } else { "units" }
}

/// Per SKU refused and found with units by the final read: units surely on the shelf
/// from its last refusal to the final read. Largest first, so a report showing a few shows the worst.
fn stranded_after_refusals(
    index: &Index<'_>,
    model: &StockModel<'_>,
    last_refusal_us: &HashMap<String, i64>,
) -> Vec<Bound> {
    let mut bounds: Vec<Bound> = index
        .final_reads
        .iter()
        .enumerate()
        .filter_map(|(sku, position)| {
            let sku = index.sku_name(sku as u32);
            let refused_us = *last_refusal_us.get(sku)?;
            let available = index
                .entry((*position)?)
                .response
                .as_ref()?
                .read_fields()?
                .available?;
            if available <= 0 {
                return None;
            }
            let stranded = (available - model.rises_after(sku, Field::Available, refused_us))
                .clamp(0, available);
            Some(Bound {
                subject: format!("{sku} units_stranded_after_refusals"),
                lower: stranded,
                observed: None,
                upper: available,
            })
        })
        .collect();
    bounds.sort_by(|left, right| {
        right
            .lower
            .cmp(&left.lower)
            .then_with(|| left.subject.cmp(&right.subject))
    });
    bounds
}
