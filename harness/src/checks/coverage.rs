//! Coverage ("sometimes") goals: what must have happened for a run's verdict to mean
//! something (stock reached zero, a duplicate overlapped its original, a confirm landed
//! near its deadline, a retry followed an unknown outcome or the retention). Counted
//! from the history in one pass; an unmet goal is `Unknown`, never `Pass`.

use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::history::{History, HistoryEntry, Op, Outcome};
use crate::scenario::CoverageGoal;
use stockproof_engine::ReservationState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageResult {
    pub goal: String,
    /// What the goal asks, in words.
    pub description: String,
    pub min: u64,
    pub observed: u64,
    pub verdict: Verdict,
}

/// Counts every goal over the history.
pub fn evaluate(goals: &[CoverageGoal], history: &History) -> Vec<CoverageResult> {
    if goals.is_empty() {
        return Vec::new();
    }
    let deadlines = deadlines_by_reservation(history);
    let by_op: std::collections::HashMap<u64, &HistoryEntry> = history
        .entries
        .iter()
        .map(|entry| (entry.id, entry))
        .collect();
    let retention_us = history.header.idempotency_retention_ms.max(0) as u64 * 1000;
    goals
        .iter()
        .map(|goal| {
            let observed = history
                .entries
                .iter()
                .filter(|entry| matches(goal, entry, history, &by_op, &deadlines, retention_us))
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
    }
}

fn deadlines_by_reservation(history: &History) -> std::collections::HashMap<&str, i64> {
    history
        .entries
        .iter()
        .filter_map(|entry| {
            let body = entry.response.as_ref()?;
            Some((body.reservation.as_ref()?.0.as_str(), body.deadline_ms?))
        })
        .collect()
}

fn matches(
    goal: &CoverageGoal,
    entry: &HistoryEntry,
    history: &History,
    by_op: &std::collections::HashMap<u64, &HistoryEntry>,
    deadlines: &std::collections::HashMap<&str, i64>,
    retention_us: u64,
) -> bool {
    let original = entry.retry_of.and_then(|op| by_op.get(&op).copied());
    match goal {
        CoverageGoal::StockReachedZero { .. } => entry.response.as_ref().is_some_and(|body| {
            body.available == Some(0) || body.stock.is_some_and(|stock| stock.available == 0)
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
    }
}
