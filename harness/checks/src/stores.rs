//! What a service's own stores held after the load (`stores.json`), as its adapter's
//! `[[stores]]` read them: per store, per SKU, the stock fields that store keeps (a
//! database row, a Redis hash). Plain data; reading the stores is the harness's, judging
//! them is [`check`] (C2 for a service other than the reference engine).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::{History, Op, Outcome, StockFields};
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
/// last acknowledged `GET` of the SKU) on each field both carry; nothing is negative, and
/// where a store keeps all four fields, `available + reserved + sold == total`. A store
/// that could not be read makes the verdict unknown, never pass.
pub fn check(history: &History, stores: &StoresSnapshot) -> CheckReport {
    if let Some(failed) = stores.stores.iter().find(|store| store.error.is_some()) {
        let reason = failed.error.as_deref().unwrap_or_default();
        return CheckReport::unknown(
            CheckId::C2,
            format!("store `{}` could not be read: {reason}", failed.name),
        );
    }
    let finals = final_reads(history);
    let mut violations = Violations::default();
    let mut judged = 0_u64;
    for (index, store) in stores.stores.iter().enumerate() {
        for (sku, stock) in &store.skus {
            judged += 1;
            check_own(&store.name, sku, stock, &mut violations);
            if let Some((op, read)) = finals.get(sku.as_str()) {
                compare(
                    &store.name,
                    stock,
                    "the final read",
                    read,
                    sku,
                    vec![*op],
                    &mut violations,
                );
            }
            for other in &stores.stores[index + 1..] {
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
    CheckReport::finish(
        CheckId::C2,
        judged,
        "the stores hold no row for any SKU of the run",
        counts,
        Vec::new(),
        violations,
    )
}

/// The last acknowledged harness read of each SKU after the load, as a store's fields.
fn final_reads(history: &History) -> BTreeMap<&str, (u64, StockFields)> {
    let mut finals = BTreeMap::new();
    for entry in &history.entries {
        let (Op::GetSku { sku }, None, Outcome::Ok) = (&entry.op, entry.user, entry.outcome) else {
            continue;
        };
        let Some(body) = &entry.response else {
            continue;
        };
        let Some(read) = body.read_fields() else {
            continue;
        };
        finals.insert(sku.as_str(), (entry.id, read));
    }
    finals
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
