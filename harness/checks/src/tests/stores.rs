//! C2 on a service's own stores (`stores.json`): pairwise agreement, agreement with the
//! final read, and the history's bounds after the load.

use super::*;
use crate::history::StockFields;
use crate::stores::{STORES_FORMAT_VERSION, StoreReading, StoresSnapshot};

/// Available, reserved, sold, total; `None` = the store does not keep that field.
fn fields(
    available: Option<i64>,
    reserved: Option<i64>,
    sold: Option<i64>,
    total: Option<i64>,
) -> StockFields {
    StockFields {
        available,
        reserved,
        sold,
        total,
        on_hand: None,
    }
}

fn store(name: &str, stock: StockFields) -> StoreReading {
    StoreReading {
        name: name.to_owned(),
        kind: "postgres".to_owned(),
        error: None,
        skus: BTreeMap::from([("a".to_owned(), stock)]),
    }
}

/// C2's report on `history` with `stores` declared.
fn stores_report(history: &str, stores: Vec<StoreReading>) -> CheckReport {
    let history = text::history(history);
    let stores = StoresSnapshot {
        format_version: STORES_FORMAT_VERSION,
        stores,
    };
    examine(&history, None, Some(&stores), &CONFIG, &[])
        .checks
        .into_iter()
        .find(|report| report.id == CheckId::C2)
        .expect("C2 reports")
}

fn assert_fails_with(report: &CheckReport, reason: &str) {
    assert_eq!(report.verdict, Verdict::Fail, "{report:#?}");
    assert!(
        report
            .violations
            .iter()
            .any(|violation| violation.reason.contains(reason)),
        "no violation says `{reason}`: {report:#?}"
    );
}

// Goal: stores that agree with each other, with the final read and with the history
// pass, also when they keep only some fields.
// Method: CLEAN (1 available, 1 sold of 2) with a full store and an available-only one.
#[test]
fn stores_that_agree_with_everything_pass() {
    let full = store("db", fields(Some(1), Some(0), Some(1), Some(2)));
    let cache = store("cache", fields(Some(1), None, None, None));
    let report = stores_report(CLEAN, vec![full, cache]);
    assert_eq!(report.verdict, Verdict::Pass, "{report:#?}");
}

// Goal: stores that agree with each other but not with what the history allows fail,
// even with no final read to compare them with (the case pairwise checks cannot see).
// Method: CLEAN without its final read; both stores say 2 sold where one confirm was
// acknowledged and nothing else could have sold.
#[test]
fn stores_outside_the_history_bounds_fail_even_when_they_agree() {
    let without_read = CLEAN.replace("7 - 30 31 ok get_sku a -> stock=1/0/1/2", "");
    let oversold = fields(Some(0), Some(0), Some(2), Some(2));
    let report = stores_report(
        &without_read,
        vec![store("db", oversold), store("cache", oversold)],
    );
    assert_fails_with(
        &report,
        "store `db` has sold 2 for a, but the history implies at most 1",
    );
    assert_fails_with(
        &report,
        "store `cache` has available 0 for a, but the history implies at least 1",
    );
}

// Goal: drift between two stores, or between a store and the final read, is named.
// Method: a cache that lost a release (available 0, reserved 1) beside a correct db.
#[test]
fn drift_between_stores_and_the_final_read_fails() {
    let db = store("db", fields(Some(1), Some(0), Some(1), Some(2)));
    let cache = store("cache", fields(Some(0), Some(1), None, None));
    let report = stores_report(CLEAN, vec![db, cache]);
    assert_fails_with(&report, "store `db` has available 1 for a, cache has 0");
    assert_fails_with(
        &report,
        "store `cache` has reserved 1 for a, the final read has 0",
    );
}

// Goal: a store that could not be read makes C2 unknown, never pass.
#[test]
fn an_unreadable_store_is_unknown() {
    let mut broken = store("db", fields(None, None, None, None));
    broken.error = Some("column `sold` is text, expected bigint".to_owned());
    let report = stores_report(CLEAN, vec![broken]);
    assert_eq!(report.verdict, Verdict::Unknown, "{report:#?}");
    assert!(
        report
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("store `db` could not be read"),
        "{report:#?}"
    );
}

// Goal: a store keeping an on-hand figure is held to available + reserved and to the
// history's total − sold.
// Method: CLEAN (1 available, 0 reserved, 1 sold of 2): on hand 1 passes; on hand 2
// (the sold unit still counted) fails both ways.
#[test]
fn an_on_hand_store_is_held_to_its_sum_and_the_history() {
    let on_hand = |value: i64| StockFields {
        on_hand: Some(value),
        ..fields(Some(1), Some(0), None, None)
    };
    let right = stores_report(CLEAN, vec![store("db", on_hand(1))]);
    assert_eq!(right.verdict, Verdict::Pass, "{right:#?}");
    let stale = stores_report(CLEAN, vec![store("db", on_hand(2))]);
    assert_fails_with(
        &stale,
        "store `db` has available 1 + reserved 0 = 1 for a, but on hand 2",
    );
    assert_fails_with(
        &stale,
        "store `db` has on_hand 2 for a, but the history implies at most 1",
    );
}
