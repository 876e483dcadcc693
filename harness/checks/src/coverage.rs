//! Coverage ("sometimes") goals: what must have happened for a run's verdict to mean
//! something (stock reached zero, a duplicate overlapped its original, a confirm landed
//! near its deadline, a retry followed an unknown outcome or the retention, a read
//! was taken under load, a refusal followed returned units). Counted from the history
//! in one pass; the last two use the stock model C7 and C8 judged with
//! (`super::stock_bounds`, built once per history by [`crate::examine`]), so they count
//! exactly what those checks count. An unmet goal is `Unknown`, never `Pass`.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::stock_bounds::{Field, StockModel};
use super::{Verdict, c8_undersell};
use crate::history::{History, HistoryEntry, Op, Outcome};

mod goal;

pub use goal::CoverageGoal;
use stockproof_model::ReservationState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageResult {
    pub goal: String,
    /// What the goal asks, in words.
    pub description: String,
    pub min: u64,
    pub observed: u64,
    pub verdict: Verdict,
}

/// Counts every goal over the history; the goals about reads and refusals count on the
/// stock model C7 and C8 judged with (none when it could not be built: they count 0).
pub(crate) fn evaluate(
    goals: &[CoverageGoal],
    history: &History,
    model: Option<&StockModel<'_>>,
) -> Vec<CoverageResult> {
    if goals.is_empty() {
        return Vec::new();
    }
    // Only the deadline goal reads deadlines; only retries are looked up by op id.
    let deadlines = if goals
        .iter()
        .any(|goal| matches!(goal, CoverageGoal::ConfirmNearDeadline { .. }))
    {
        deadlines_by_reservation(history)
    } else {
        FxHashMap::default()
    };
    let retried: FxHashSet<u64> = history
        .entries
        .iter()
        .filter_map(|entry| entry.retry_of)
        .collect();
    let by_op: FxHashMap<u64, &HistoryEntry> = history
        .entries
        .iter()
        .filter(|entry| retried.contains(&entry.id))
        .map(|entry| (entry.id, entry))
        .collect();
    let retention_us = history.header.idempotency_retention_ms.max(0) as u64 * 1000;
    let context = Context {
        history,
        by_op: &by_op,
        deadlines: &deadlines,
        retention_us,
        model,
    };
    goals
        .iter()
        .map(|goal| {
            let observed = history
                .ops()
                .filter(|entry| matches(goal, entry, &context))
                .count() as u64;
            CoverageResult {
                goal: goal.name().to_owned(),
                description: describe(goal),
                min: goal.min(),
                observed,
                verdict: if observed >= goal.min() {
                    Verdict::Pass
                } else {
                    Verdict::Unknown
                },
            }
        })
        .collect()
}

fn describe(goal: &CoverageGoal) -> String {
    match goal {
        CoverageGoal::StockReachedZero { .. } => "a SKU was seen with 0 units available".to_owned(),
        CoverageGoal::DuplicateOverlapped { .. } => {
            "a duplicate was in flight while its original was".to_owned()
        }
        CoverageGoal::ConfirmNearDeadline { within, .. } => format!(
            "a confirm completed within {} ms of its reservation's deadline",
            within.as_millis()
        ),
        CoverageGoal::RetryAfterUnknown { .. } => {
            "a retry was sent after its original's outcome was unknown".to_owned()
        }
        CoverageGoal::RetryAfterRetention { .. } => {
            "a reserve was re-sent after the idempotency retention had passed".to_owned()
        }
        CoverageGoal::RepeatedSkuLine { .. } => {
            "an acknowledged cart named one SKU on two lines".to_owned()
        }
        CoverageGoal::ReadsWhileContended { .. } => {
            "a shopper's SKU read overlapped an op changing that SKU".to_owned()
        }
        CoverageGoal::RefusalsAfterReturn { .. } => {
            "a refusal for stock was sent after units of its SKU surely came back".to_owned()
        }
    }
}

/// What every goal may look at besides the entry itself.
struct Context<'c, 'h> {
    history: &'h History,
    by_op: &'c FxHashMap<u64, &'h HistoryEntry>,
    deadlines: &'c FxHashMap<&'h str, i64>,
    retention_us: u64,
    model: Option<&'c StockModel<'h>>,
}

fn deadlines_by_reservation(history: &History) -> FxHashMap<&str, i64> {
    history
        .entries
        .iter()
        .filter_map(|entry| {
            let body = entry.response.as_ref()?;
            Some((body.reservation.as_ref()?.0.as_str(), body.deadline_ms?))
        })
        .collect()
}

fn matches(goal: &CoverageGoal, entry: &HistoryEntry, context: &Context<'_, '_>) -> bool {
    let (history, deadlines, retention_us) =
        (context.history, context.deadlines, context.retention_us);
    let original = entry
        .retry_of
        .and_then(|op| context.by_op.get(&op).copied());
    match goal {
        CoverageGoal::StockReachedZero { .. } => entry.response.as_ref().is_some_and(|body| {
            body.available == Some(0)
                || body
                    .read_fields()
                    .is_some_and(|stock| stock.available == Some(0))
        }),
        CoverageGoal::DuplicateOverlapped { .. } => original.is_some_and(|original| {
            entry.invoke_us < original.complete_us && original.invoke_us < entry.complete_us
        }),
        CoverageGoal::RetryAfterUnknown { .. } => original.is_some_and(|original| {
            original.outcome == Outcome::Unknown && entry.invoke_us >= original.complete_us
        }),
        CoverageGoal::RetryAfterRetention { .. } => match (&entry.op, original) {
            (Op::Reserve { ttl_ms, .. }, Some(original)) => {
                entry.invoke_us
                    >= original.invoke_us + retention_us + (*ttl_ms).max(0) as u64 * 1000
            }
            _ => false,
        },
        CoverageGoal::RepeatedSkuLine { .. } => match &entry.op {
            Op::Reserve { items, .. } if entry.outcome == Outcome::Ok => {
                let mut skus: Vec<&str> = items.iter().map(|line| line.sku.as_str()).collect();
                skus.sort_unstable();
                skus.windows(2).any(|pair| pair[0] == pair[1])
            }
            _ => false,
        },
        CoverageGoal::ConfirmNearDeadline { within, .. } => {
            let Op::Confirm { reservation } = &entry.op else {
                return false;
            };
            let raced = entry.outcome == Outcome::Ok
                || entry
                    .response
                    .as_ref()
                    .is_some_and(|body| body.state == Some(ReservationState::Expired));
            let Some(deadline_ms) = deadlines.get(reservation.0.as_str()) else {
                return false;
            };
            let completed_ms =
                history.header.started_at_unix_ms + (entry.complete_us / 1000) as i64;
            raced && (completed_ms - deadline_ms).unsigned_abs() as u128 <= within.as_millis()
        }
        CoverageGoal::ReadsWhileContended { .. } => context
            .model
            .is_some_and(|model| read_while_contended(model, entry)),
        CoverageGoal::RefusalsAfterReturn { .. } => context
            .model
            .is_some_and(|model| refusal_after_return(model, entry)),
    }
}

/// A shopper's acknowledged SKU read, judged by C7, that overlapped an op changing
/// that SKU.
pub(super) fn read_while_contended(model: &StockModel<'_>, entry: &HistoryEntry) -> bool {
    let Op::GetSku { sku } = &entry.op else {
        return false;
    };
    let (invoke_us, complete_us) = (entry.invoke_us as i64, entry.complete_us as i64);
    entry.user.is_some()
        && entry.outcome == Outcome::Ok
        && entry
            .response
            .as_ref()
            .is_some_and(|body| body.read_fields().is_some())
        && model
            .bound(sku, Field::Total, invoke_us, complete_us)
            .is_some()
        && model.contended(sku, invoke_us, complete_us)
}

/// A refusal for stock sent after units of a SKU it blames surely came back.
pub(super) fn refusal_after_return(model: &StockModel<'_>, entry: &HistoryEntry) -> bool {
    c8_undersell::refused_skus(entry).is_some_and(|skus| {
        skus.iter().any(|sku| {
            model
                .first_back_us(sku)
                .is_some_and(|back| back < entry.invoke_us as i64)
        })
    })
}
