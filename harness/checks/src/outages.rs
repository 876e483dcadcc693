//! The faults of a run as windows on the history's axis, and the expiry clock that
//! stops during them. While a fault is under way — a store restarted, paused or cut
//! off — no sweeper can expire a hold: a Postgres strategy cannot reach its only
//! store during a `postgres-restart`, the reference cannot reach Redis during a
//! `redis-pause`. So the expiry grace counts time outside faults only: a Held
//! reservation must be gone by deadline + grace + skew + the fault time in between.
//! This only widens what a check allows, and changes nothing in a run without faults.
//!
//! Not here: what a fault did (the history's `fault` ops say), judging (C4, C6, C7 and
//! C8 ask [`Outages::after`] where they place an expiry).

use crate::history::{History, Op};

/// The run's fault windows `[invoke, complete]` in µs, merged and sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Outages {
    windows: Vec<(i64, i64)>,
}

impl Outages {
    /// Every `fault` op of `history`, injected or not (one that failed half-way may
    /// still have done harm).
    pub(crate) fn from_history(history: &History) -> Outages {
        let mut windows: Vec<(i64, i64)> = history
            .entries
            .iter()
            .filter(|entry| matches!(entry.op, Op::Fault { .. }))
            .map(|entry| (entry.invoke_us as i64, entry.complete_us as i64))
            .filter(|(start, end)| end > start)
            .collect();
        windows.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(windows.len());
        for (start, end) in windows {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Outages { windows: merged }
    }

    /// The moment `span_us` of time outside every fault has passed since `from_us`:
    /// `from_us + span_us` pushed back by each fault it overlaps.
    pub(crate) fn after(&self, from_us: i64, span_us: i64) -> i64 {
        let mut until = from_us.saturating_add(span_us);
        for &(start, end) in &self.windows {
            if end <= from_us {
                continue;
            }
            if start >= until {
                break;
            }
            until = until.saturating_add(end - start.max(from_us));
        }
        until
    }
}

#[cfg(test)]
mod tests;
