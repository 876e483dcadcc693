//! C2 conservation (white-box, DESIGN §8): per SKU, Redis's hash = Postgres's
//! projection = a replay of the ledger from zero, field by field; each of them keeps
//! `available + reserved + sold == total` with nothing negative; the units of Held
//! reservations in Redis add up to `reserved`; the ledger's seq runs 1..=n without gap
//! or repeat and ends at Redis's `seq`.
//!
//! A Postgres-only strategy (`snapshot.postgres_only`) has no Redis, and this check
//! does not pretend it agrees: it compares the `skus` rows with the ledger replay,
//! checks the invariant on both and the Held reservations' items against the rows'
//! `reserved`, and checks that no ledger seq repeats. Gaps are not violations there:
//! those strategies number events with a Postgres sequence, which a rolled-back
//! attempt leaves a gap in, and each event commits with the stock change it records
//! (a lost event shows as a replay that disagrees with the rows). The report's count
//! `stores_without_redis` (1) says so.
//! Needs the snapshot: without one (a black-box target) the verdict is unknown.
//! Not checked here: whether the history explains the ledger (C5).

use std::collections::{BTreeMap, BTreeSet};

use stockproof_model::{ReservationState, SkuStock};

use super::CheckConfig;
use super::index::{Index, LedgerIndex};
use super::report::{CheckId, CheckReport, Violations, violation};
use super::snapshot::WhiteBoxSnapshot;

pub(super) fn check(index: &Index<'_>, _config: &CheckConfig) -> CheckReport {
    let Some((snapshot, ledger)) = index.white_box() else {
        return CheckReport::unknown(
            CheckId::C2,
            "no white-box snapshot (black-box target): Redis, Postgres and the ledger were not read",
        );
    };
    let mut violations = Violations::default();
    let replayed = replay(index, snapshot, ledger);
    let skus: BTreeSet<&str> = snapshot
        .redis_stocks
        .keys()
        .chain(snapshot.postgres_stocks.keys())
        .map(String::as_str)
        .chain(replayed.keys().copied())
        .collect();
    let mut held: BTreeMap<&str, i64> = BTreeMap::new();
    for reservation in &snapshot.reservations {
        if reservation.state == ReservationState::Held {
            for line in &reservation.items {
                *held.entry(line.sku.as_str()).or_default() += line.qty;
            }
        }
    }
    let (engine_name, engine_stocks) = if snapshot.postgres_only {
        ("Postgres", &snapshot.postgres_stocks)
    } else {
        ("Redis", &snapshot.redis_stocks)
    };
    for sku in &skus {
        let all = [
            ("Redis", snapshot.redis_stocks.get(*sku)),
            ("Postgres", snapshot.postgres_stocks.get(*sku)),
            ("the ledger replay", replayed.get(sku)),
        ];
        // No Redis: the rows against the replay only.
        let sources = if snapshot.postgres_only {
            &all[1..]
        } else {
            &all[..]
        };
        compare_sources(sku, sources, &mut violations);
        for (source, stock) in sources.iter().copied() {
            for broken in stock.map(SkuStock::violations).unwrap_or_default() {
                violations.push(violation(
                    "broken_stock",
                    Some(sku),
                    None,
                    Vec::new(),
                    1,
                    format!("{source}'s stock of {sku} breaks the invariant: {broken}"),
                ));
            }
        }
        let reserved = engine_stocks.get(*sku).map_or(0, |stock| stock.reserved);
        let held_units = held.get(sku).copied().unwrap_or(0);
        if reserved != held_units {
            violations.push(violation("held_items_mismatch", Some(sku), None, Vec::new(), (reserved - held_units).abs(), format!("{engine_name} says {reserved} units of {sku} are reserved, but its Held reservations hold {held_units}")));
        }
    }
    check_seq(snapshot, &mut violations);
    let mut counts = BTreeMap::from([
        ("skus".to_owned(), skus.len() as u64),
        ("ledger_events".to_owned(), snapshot.ledger.len() as u64),
        (
            "held_reservations".to_owned(),
            snapshot
                .reservations
                .iter()
                .filter(|reservation| reservation.state == ReservationState::Held)
                .count() as u64,
        ),
    ]);
    if snapshot.postgres_only {
        // Said in the report: Redis was not compared because there is none.
        counts.insert("stores_without_redis".to_owned(), 1);
    }
    CheckReport::finish(
        CheckId::C2,
        skus.len() as u64,
        "the snapshot holds no SKU: nothing to judge",
        counts,
        Vec::new(),
        violations,
    )
}

/// The ledger folded from zero in seq order (events of one seq in ledger order), as
/// `stockproof_model::ledger::replay` folds it, but into SKU ids: no SKU string is
/// copied or compared per event.
fn replay<'h>(
    index: &Index<'h>,
    snapshot: &WhiteBoxSnapshot,
    ledger: &LedgerIndex,
) -> BTreeMap<&'h str, SkuStock> {
    let mut stocks: Vec<Option<SkuStock>> = vec![None; index.skus.len()];
    let mut apply = |position: usize| {
        let event = &snapshot.ledger[position];
        let stock = stocks[ledger.sku[position] as usize].get_or_insert_default();
        event.kind.apply(stock, event.qty);
    };
    if snapshot.ledger.is_sorted_by_key(|event| event.seq) {
        (0..snapshot.ledger.len()).for_each(&mut apply);
    } else {
        let mut order: Vec<usize> = (0..snapshot.ledger.len()).collect();
        order.sort_by_key(|position| snapshot.ledger[*position].seq);
        order.into_iter().for_each(&mut apply);
    }
    stocks
        .into_iter()
        .enumerate()
        .filter_map(|(sku, stock)| Some((index.sku_name(sku as u32), stock?)))
        .collect()
}

fn compare_sources(sku: &str, sources: &[(&str, Option<&SkuStock>)], violations: &mut Violations) {
    let (reference_name, reference) = sources[0];
    for (name, stock) in &sources[1..] {
        match (reference, stock) {
            (Some(left), Some(right)) if left == *right => {}
            (Some(left), Some(right)) => {
                let fields = [
                    ("available", left.available, right.available),
                    ("reserved", left.reserved, right.reserved),
                    ("sold", left.sold, right.sold),
                    ("total", left.total, right.total),
                ];
                for (field, left_value, right_value) in
                    fields.into_iter().filter(|(_, left, right)| left != right)
                {
                    violations.push(violation("drift", Some(sku), None, Vec::new(), (left_value - right_value).abs(), format!("{reference_name} has {field} {left_value} for {sku}, {name} has {right_value}")));
                }
            }
            (left, right) => {
                let (has, lacks) = if left.is_some() {
                    (reference_name, *name)
                } else {
                    (*name, reference_name)
                };
                if left.is_some() || right.is_some() {
                    violations.push(violation(
                        "missing_sku",
                        Some(sku),
                        None,
                        Vec::new(),
                        1,
                        format!("{has} knows {sku} but {lacks} does not"),
                    ));
                }
            }
        }
    }
}

fn check_seq(snapshot: &WhiteBoxSnapshot, violations: &mut Violations) {
    let mut seqs: Vec<i64> = snapshot.ledger.iter().map(|event| event.seq).collect();
    seqs.sort_unstable();
    let mut expected = 1;
    for seq in seqs {
        if seq < expected {
            violations.push(violation(
                "seq_repeated",
                None,
                None,
                Vec::new(),
                1,
                format!("ledger seq {seq} appears more than once"),
            ));
        } else {
            if seq > expected && !snapshot.postgres_only {
                violations.push(violation(
                    "seq_gap",
                    None,
                    None,
                    Vec::new(),
                    seq - expected,
                    format!(
                        "ledger seq jumps from {} to {seq}: events {expected}..{seq} are missing",
                        expected - 1
                    ),
                ));
            }
            expected = seq + 1;
        }
    }
    if expected - 1 != snapshot.redis_seq && !snapshot.postgres_only {
        violations.push(violation(
            "seq_mismatch",
            None,
            None,
            Vec::new(),
            (expected - 1 - snapshot.redis_seq).abs(),
            format!(
                "the ledger ends at seq {}, but Redis's seq is {}",
                expected - 1,
                snapshot.redis_seq
            ),
        ));
    }
}
