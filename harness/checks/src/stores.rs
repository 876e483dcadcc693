//! What a service's own stores held after the load (`stores.json`), as its adapter's
//! `[[stores]]` read them: per store, per SKU, the stock fields that store keeps (a
//! database row, a Redis hash). Plain data; reading the stores is the harness's, judging
//! them is `check` (C2 for a service other than the reference engine), run by
//! [`crate::examine`] on the index the other checks share.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::CheckConfig;
use crate::c6_final_stock::{SkuBounds, field_ranges, final_read_us, sku_bounds};
use crate::history::{FieldsSeen, StockFields};
use crate::index::{Index, NameId};
use crate::report::{CheckId, CheckReport, Violations, violation};

/// Version of `stores.json`.
pub const STORES_FORMAT_VERSION: u32 = 1;

/// Every declared store, read once after quiesce.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoresSnapshot {
    pub format_version: u32,
    pub stores: Vec<StoreReading>,
}

/// One store's rows by scenario SKU, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreReading {
    pub name: String,
    /// `postgres` or `redis`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Each SKU's fields as the store keeps them (a field it does not keep is unset).
    pub skus: BTreeMap<String, StockFields>,
}

/// C2 on a service's own stores: per SKU, every pair of stores agrees on each field both
/// keep; each store agrees with the service's final read after quiesce (the harness's
/// last acknowledged `GET` of the SKU) on each field both carry; each field lies within
/// the bounds the history implies after the load (C6's bounds: what was surely and
/// possibly supplied, sold and still held when the stock was read); nothing is
/// negative, and where a store keeps all four fields, `available + reserved + sold ==
/// total`. A store that could not be read makes the verdict unknown, never pass.
pub(crate) fn check(
    index: &Index<'_>,
    config: &CheckConfig,
    stores: &StoresSnapshot,
) -> CheckReport {
    if let Some(failed) = stores.stores.iter().find(|store| store.error.is_some()) {
        let reason = failed.error.as_deref().unwrap_or_default();
        return CheckReport::unknown(
            CheckId::C2,
            format!("store `{}` could not be read: {reason}", failed.name),
        );
    }
    let finals = final_reads(index);
    // The stores are read after the final reads (or, without any, after the load): the
    // bounds at that earlier moment are the wider ones, so a store is never held to
    // tighter bounds than were true when it was read.
    let read_at_us = final_read_us(index).unwrap_or_else(|| history_end_us(index));
    let bounds = sku_bounds(index, read_at_us, config);
    let mut violations = Violations::default();
    let mut judged = 0_u64;
    let mut fields_seen = FieldsSeen::default();
    for (position, store) in stores.stores.iter().enumerate() {
        for (sku, stock) in &store.skus {
            judged += 1;
            fields_seen.add(stock);
            check_own(&store.name, sku, stock, &mut violations);
            if let Some(id) = index.skus.get(sku) {
                check_bounds(index, id, &bounds, &store.name, stock, &mut violations);
            }
            if let Some((op, read)) = finals.get(sku.as_str()) {
                let ops = vec![*op];
                compare(
                    &store.name,
                    stock,
                    "the final read",
                    read,
                    sku,
                    ops,
                    &mut violations,
                );
            }
            for other in &stores.stores[position + 1..] {
                if let Some(theirs) = other.skus.get(sku) {
                    compare(
                        &store.name,
                        stock,
                        &other.name,
                        theirs,
                        sku,
                        Vec::new(),
                        &mut violations,
                    );
                }
            }
        }
    }
    let counts = BTreeMap::from([
        ("stores".to_owned(), stores.stores.len() as u64),
        ("store_rows".to_owned(), judged),
        ("final_reads".to_owned(), finals.len() as u64),
    ]);
    let mut report = CheckReport::finish(
        CheckId::C2,
        judged,
        "the stores hold no row for any SKU of the run",
        counts,
        Vec::new(),
        violations,
    );
    if report.note.is_none() {
        report.note = fields_seen.note("the stores");
    }
    report
}

/// The last acknowledged harness read of each SKU after the load, as a store's fields.
fn final_reads<'h>(index: &Index<'h>) -> BTreeMap<&'h str, (u64, StockFields)> {
    (0..index.final_reads.len() as NameId)
        .filter_map(|sku| Some((index.sku_name(sku), index.final_read(sku)?)))
        .collect()
}

/// When the last op of the history completed: the stores were read after it.
fn history_end_us(index: &Index<'_>) -> i64 {
    index.history.end_us() as i64
}

/// Each field the store keeps, against the range the history allows after the load.
fn check_bounds(
    index: &Index<'_>,
    sku: NameId,
    bounds: &[SkuBounds],
    store: &str,
    stock: &StockFields,
    violations: &mut Violations,
) {
    let name = index.sku_name(sku);
    for (field, lower, value, upper) in field_ranges(index, sku, bounds, stock) {
        let (severity, allowed) = match () {
            () if value > upper => (value - upper, format!("at most {upper}")),
            () if value < lower => (lower - value, format!("at least {lower}")),
            () => continue,
        };
        violations.push(violation(
            "out_of_bounds",
            Some(name),
            None,
            Vec::new(),
            severity,
            format!(
                "store `{store}` has {field} {value} for {name}, but the history implies {allowed}"
            ),
        ));
    }
}

fn check_own(store: &str, sku: &str, stock: &StockFields, violations: &mut Violations) {
    for (field, value) in stock.present().filter(|(_, value)| *value < 0) {
        violations.push(violation(
            "negative",
            Some(sku),
            None,
            Vec::new(),
            -value,
            format!("store `{store}` has {field} {value} for {sku}"),
        ));
    }
    if let (Some(available), Some(reserved), Some(sold), Some(total)) =
        (stock.available, stock.reserved, stock.sold, stock.total)
    {
        let sum = available + reserved + sold;
        if sum != total {
            violations.push(violation("broken_stock", Some(sku), None, Vec::new(), (sum - total).abs(), format!("store `{store}` has available {available} + reserved {reserved} + sold {sold} = {sum} for {sku}, but total {total}")));
        }
    }
    if let (Some(available), Some(reserved), Some(on_hand)) =
        (stock.available, stock.reserved, stock.on_hand)
        && available + reserved != on_hand
    {
        let sum = available + reserved;
        violations.push(violation("broken_stock", Some(sku), None, Vec::new(), (sum - on_hand).abs(), format!("store `{store}` has available {available} + reserved {reserved} = {sum} for {sku}, but on hand {on_hand}")));
    }
}

fn compare(
    left_name: &str,
    left: &StockFields,
    right_name: &str,
    right: &StockFields,
    sku: &str,
    ops: Vec<u64>,
    violations: &mut Violations,
) {
    let right_fields: BTreeMap<&str, i64> = right.present().collect();
    for (field, value) in left.present() {
        if let Some(theirs) = right_fields.get(field).filter(|theirs| **theirs != value) {
            violations.push(violation(
                "drift",
                Some(sku),
                None,
                ops.clone(),
                (value - theirs).abs(),
                format!(
                    "store `{left_name}` has {field} {value} for {sku}, {right_name} has {theirs}"
                ),
            ));
        }
    }
}
