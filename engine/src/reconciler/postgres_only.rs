//! Reconciling a Postgres-only strategy (`pg-row-lock`, `pg-optimistic`): it keeps no
//! Redis and no stream, and writes each ledger row in the transaction of the stock
//! change it records, so what can disagree is the `skus` rows against the ledger
//! replayed from its first event, each SKU's `reserved` against its Held
//! reservations' items, and the `reservations` table against the Held reservations
//! the ledger implies; and each stock must keep its invariant.
//!
//! Not checked here: seq gaps. Those strategies number events with a Postgres
//! sequence, which a rolled-back attempt leaves a hole in; a lost event shows as a
//! replay that disagrees with the rows instead. Nothing Redis-side (the parent
//! module's `compare`).

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Drift, ReconcileReport, STOCK_FIELDS, Source, compare_held, fold_held, held_drift, held_units,
    invariant_drifts,
};
use crate::reconciler::snapshot::{HeldView, PostgresSnapshot};
use stockproof_model::SkuStock;

/// Every drift within one Postgres snapshot.
pub(super) fn compare(postgres: &PostgresSnapshot) -> ReconcileReport {
    let ledger = &postgres.ledger;
    let mut drifts = Vec::new();
    let held = held_units(postgres.held.values());
    let skus: BTreeSet<&String> = postgres
        .projection
        .keys()
        .chain(ledger.stocks.keys())
        .collect();
    for sku in &skus {
        let projection = postgres.projection.get(*sku);
        let replayed = ledger.stocks.get(*sku);
        stock_drifts(sku, projection, replayed, &mut drifts);
        invariant_drifts(sku, Source::Projection, projection, &mut drifts);
        invariant_drifts(sku, Source::Ledger, replayed, &mut drifts);
        held_drift(
            sku,
            (Source::Projection, projection),
            (Source::ProjectionHeldItems, &held),
            &mut drifts,
        );
    }
    let projection_held: BTreeMap<&String, &HeldView> = postgres.held.iter().collect();
    compare_held(
        Source::Projection,
        &projection_held,
        Source::Ledger,
        &fold_held(ledger),
        &mut drifts,
    );
    ReconcileReport {
        drifts,
        skus_compared: skus.len(),
        held_reservations: ledger.held().count(),
        redis_seq: 0,
        ledger_max_seq: ledger.max_seq,
        stream_only_events: 0,
    }
}

/// The `skus` row against the ledger's replay, field by field.
fn stock_drifts(
    sku: &str,
    projection: Option<&SkuStock>,
    replayed: Option<&SkuStock>,
    drifts: &mut Vec<Drift>,
) {
    for (field, read) in STOCK_FIELDS {
        let (projection, replayed) = (projection.map(read), replayed.map(read));
        if projection != replayed {
            drifts.push(Drift::Stock {
                sku: sku.to_owned(),
                field,
                values: vec![(Source::Projection, projection), (Source::Ledger, replayed)],
            });
        }
    }
}
