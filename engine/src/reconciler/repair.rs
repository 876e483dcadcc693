//! `reconcile --repair`: what the reconciler may fix, and how. Decisions:
//! - **Postgres projections** (`skus`, `reservations`, `reservation_items`) that
//!   disagree with the ledger are rebuilt from the ledger alone: emptied and re-derived
//!   by replaying every ledger event through the writer's own apply code, in one
//!   transaction holding the writer's lock. Nothing is copied from Redis or from the
//!   old projection. No event is recorded: no unit of stock changed, only a derived
//!   table was wrong.
//! - **Redis stock** whose `available` and `total` differ from the ledger + stream
//!   replay by the same delta (with `reserved` and `sold` agreeing) means units
//!   appeared or vanished in Redis without an event. Redis is the live stock every
//!   reservation was decided against, so it is kept, and the correction is recorded
//!   as an `adjust` event of that delta (`lua/repair_adjust.lua`: appended to the
//!   stream with the next seq, guarded on the hash still holding the values seen).
//!   This is the only case that records an event: stock truly needed correcting in
//!   the ledger's account.
//! - Everything else is left for a human and reported as still drifting after the
//!   repair: Redis behind the ledger (run recovery), missing seqs (lost events cannot
//!   be re-invented), `reserved` / `sold` drifts (reservations explain those, an
//!   adjust cannot), Held reservations that disagree.

use redis::aio::MultiplexedConnection;
use sqlx::PgPool;

use super::{Drift, ReconcileReport, Reconciler, Snapshots, Source, compare};
use crate::keys::ShopKeys;
use crate::ledger::projection::{apply_reservations, apply_skus, begin_locked};
use crate::ledger::{LedgerError, LedgerEvent, ledger_page};
use stockproof_model::SkuStock;

use super::snapshot::LEDGER_PAGE_EVENTS_MAX;

/// The guarded ledger-only adjust (see the module doc).
const REPAIR_ADJUST_LUA: &str = include_str!("../../../lua/repair_adjust.lua");

/// An `adjust` event the repair recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Adjustment {
    pub sku: String,
    pub delta: i64,
    pub seq: i64,
}

/// What a repair did, with the reconciliation before and after.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RepairReport {
    pub before: ReconcileReport,
    pub projection_rebuilt: bool,
    pub adjustments: Vec<Adjustment>,
    /// A fresh reconciliation after the repair: what is left is for a human.
    pub after: ReconcileReport,
}

impl Reconciler {
    /// Reconciles, repairs what the module doc allows, and reconciles again.
    pub async fn repair(&mut self) -> Result<RepairReport, LedgerError> {
        let snapshots = self.snapshots().await?;
        let before = compare(&snapshots);
        let projection_rebuilt = before.drifts.iter().any(touches_projection);
        if projection_rebuilt {
            rebuild_projection(&self.pool).await?;
        }
        let mut adjustments = Vec::new();
        if redis_in_step(&snapshots) {
            for (sku, redis_stock, ledger_stock) in stock_deltas(&snapshots) {
                if let Some(adjustment) =
                    record_adjust(&mut self.redis, &self.keys, &sku, redis_stock, ledger_stock)
                        .await?
                {
                    adjustments.push(adjustment);
                }
            }
        }
        let after = self.reconcile().await?;
        Ok(RepairReport {
            before,
            projection_rebuilt,
            adjustments,
            after,
        })
    }
}

fn touches_projection(drift: &Drift) -> bool {
    let projection =
        |source: &Source| matches!(source, Source::Projection | Source::ProjectionHeldItems);
    match drift {
        Drift::Stock { values, .. } => {
            let value = |wanted: Source| {
                values
                    .iter()
                    .find(|(source, _)| *source == wanted)
                    .map(|(_, value)| *value)
            };
            values
                .iter()
                .any(|(source, _)| *source == Source::ProjectionHeldItems)
                || value(Source::Projection) != value(Source::Ledger)
        }
        Drift::Invariant { source, .. } => projection(source),
        Drift::Reservation { values, .. } => values.iter().any(|(source, _)| projection(source)),
        Drift::SeqGap { .. } | Drift::Seq { .. } | Drift::StreamTooLong { .. } => false,
    }
}

/// Redis and ledger + stream describe the same seq range, so their stocks are
/// comparable (Redis behind or ahead is recovery's business, not an adjust's).
fn redis_in_step(snapshots: &Snapshots) -> bool {
    !snapshots.redis.stream_truncated && snapshots.redis.seq == snapshots.full.max_seq
}

/// SKUs whose Redis stock differs from the replay only in `available` and `total`,
/// by the same non-zero delta.
fn stock_deltas(snapshots: &Snapshots) -> Vec<(String, SkuStock, SkuStock)> {
    let mut deltas = Vec::new();
    for (sku, redis_stock) in &snapshots.redis.stocks {
        let (Some(redis_stock), Some(ledger_stock)) = (redis_stock, snapshots.full.stocks.get(sku))
        else {
            continue;
        };
        let delta = redis_stock.available - ledger_stock.available;
        let only_units = redis_stock.reserved == ledger_stock.reserved
            && redis_stock.sold == ledger_stock.sold
            && redis_stock.total - ledger_stock.total == delta;
        if delta != 0 && only_units {
            deltas.push((sku.clone(), *redis_stock, *ledger_stock));
        }
    }
    deltas
}

async fn record_adjust(
    redis: &mut MultiplexedConnection,
    keys: &ShopKeys,
    sku: &str,
    redis_stock: SkuStock,
    ledger_stock: SkuStock,
) -> Result<Option<Adjustment>, LedgerError> {
    let delta = redis_stock.available - ledger_stock.available;
    let (recorded, seq): (i64, i64) = redis::Script::new(REPAIR_ADJUST_LUA)
        .key(keys.sku(sku))
        .key(keys.seq())
        .key(keys.ledger())
        .arg(sku)
        .arg(redis_stock.available)
        .arg(redis_stock.total)
        .arg(delta)
        .invoke_async(redis)
        .await
        .map_err(|error| LedgerError::redis("repair_adjust script", error))?;
    if recorded != 1 {
        tracing::warn!(sku, "stock changed while repairing; adjust not recorded");
        return Ok(None);
    }
    tracing::info!(sku, delta, seq, "recorded a repair adjust event");
    Ok(Some(Adjustment {
        sku: sku.to_owned(),
        delta,
        seq,
    }))
}

/// Empties the projections and re-derives them from the ledger, page by page, with
/// the writer's apply code, in one transaction holding the writer's lock.
pub(crate) async fn rebuild_projection(pool: &PgPool) -> Result<(), LedgerError> {
    let mut transaction = begin_locked(pool).await?;
    sqlx::raw_sql("DELETE FROM reservation_items; DELETE FROM reservations; DELETE FROM skus;")
        .execute(&mut *transaction)
        .await
        .map_err(|error| LedgerError::postgres("emptying the projections", error))?;
    let mut after_seq = 0;
    loop {
        let page: Vec<LedgerEvent> =
            ledger_page(&mut transaction, after_seq, LEDGER_PAGE_EVENTS_MAX).await?;
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        let events: Vec<&LedgerEvent> = page.iter().collect();
        apply_skus(&mut transaction, &events).await?;
        apply_reservations(&mut transaction, &events).await?;
        if (page.len() as i64) < LEDGER_PAGE_EVENTS_MAX {
            break;
        }
    }
    transaction
        .commit()
        .await
        .map_err(|error| LedgerError::postgres("COMMIT", error))
}
