//! Coverage goals as a scenario states them: what must have happened in a run, at
//! least `min` times, for its verdict to mean something. Evaluating them against a
//! history is the parent module.

use std::time::Duration;

/// Something that must have happened for a verdict to mean something; each needs at
/// least `min` occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoverageGoal {
    /// A SKU was seen with 0 available (a refusal or a read).
    StockReachedZero { min: u64 },
    /// A duplicate send was in flight while its original was.
    DuplicateOverlapped { min: u64 },
    /// A confirm completed within `within` of its reservation's deadline.
    ConfirmNearDeadline { within: Duration, min: u64 },
    /// A retry was sent after its original's outcome was unknown.
    RetryAfterUnknown { min: u64 },
    /// A reserve was re-sent after the idempotency retention had passed.
    RetryAfterRetention { min: u64 },
    /// An acknowledged cart named one SKU on two lines.
    RepeatedSkuLine { min: u64 },
    /// A shopper's acknowledged `GET` of a SKU overlapped an op that may change that
    /// SKU (a reserve naming it, a confirm or release of a reservation holding it, a
    /// restock or adjust of it; refused ops excluded): C7 judged a read under load.
    ReadsWhileContended { min: u64 },
    /// A reserve refused for insufficient stock of a SKU was sent after units of that
    /// SKU surely came back through a release or an expiry (deadline + the checks'
    /// `expiry_grace` + clock skew, as C8 counts it): C8 judged a refusal that could be
    /// an undersell.
    RefusalsAfterReturn { min: u64 },
}

impl CoverageGoal {
    /// The goal's key in the `[coverage]` table.
    pub const fn name(&self) -> &'static str {
        match self {
            CoverageGoal::StockReachedZero { .. } => "stock_reached_zero",
            CoverageGoal::DuplicateOverlapped { .. } => "duplicate_overlapped",
            CoverageGoal::ConfirmNearDeadline { .. } => "confirm_near_deadline",
            CoverageGoal::RetryAfterUnknown { .. } => "retry_after_unknown",
            CoverageGoal::RetryAfterRetention { .. } => "retry_after_retention",
            CoverageGoal::RepeatedSkuLine { .. } => "repeated_sku_line",
            CoverageGoal::ReadsWhileContended { .. } => "reads_while_contended",
            CoverageGoal::RefusalsAfterReturn { .. } => "refusals_after_return",
        }
    }

    pub const fn min(&self) -> u64 {
        match *self {
            CoverageGoal::StockReachedZero { min }
            | CoverageGoal::DuplicateOverlapped { min }
            | CoverageGoal::ConfirmNearDeadline { min, .. }
            | CoverageGoal::RetryAfterUnknown { min }
            | CoverageGoal::RetryAfterRetention { min }
            | CoverageGoal::RepeatedSkuLine { min }
            | CoverageGoal::ReadsWhileContended { min }
            | CoverageGoal::RefusalsAfterReturn { min, .. } => min,
        }
    }
}
