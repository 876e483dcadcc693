//! The open-model arrival schedule (wrk2's constant throughput, built per goose user).
//! With an arrival rate of R carts/s shared by N users, user u's slots lie on one grid
//! shared by every user, `zero + (j + u/N) · N/R`, and the user takes its slots from the
//! first at or after its first start ([`Pacing::grid_origin`]): each user runs at R/N
//! carts/s and the users' phases interleave, so the whole attack offers R carts/s
//! whatever the replies' latency and however the users hatched (an origin per user at
//! its own first start would bunch them: 200 users hatched over a second with a 2 s
//! period offer between 0.67 R and 1.33 R, in waves). A user
//! that is still busy when its next slot comes starts late (counted) and its requests are
//! timed from the slot, not from the late send, so the wait the service caused is
//! in the corrected latency. Slots are never skipped: a user that falls behind sends
//! back to back until it catches up, as wrk2 does; slots that pass before the load stops
//! without being started are counted as dropped.
//!
//! Pure arithmetic on `Duration`s since a user's first start; no clock, no goose.

use std::time::Duration;

/// A start this much after its slot counts as late. Tokio's timer has 1 ms resolution,
/// so a sleep that wakes up to two ticks late is the timer, not the service.
pub const LATE_START_TOLERANCE: Duration = Duration::from_millis(2);

/// One user's slots.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// Time between two of this user's slots: N/R.
    period: Duration,
    /// Offset of this user's first slot from its first start: (u/N) · period.
    phase: Duration,
}

impl Pacing {
    /// The schedule of user `user_index` (0-based) of `users`, for `rate_per_s` carts/s
    /// across all users. `rate_per_s` must be positive and finite (the scenario checks).
    pub fn new(rate_per_s: f64, users: u32, user_index: u32) -> Pacing {
        assert!(rate_per_s.is_finite() && rate_per_s > 0.0);
        assert!(users > 0);
        let users = f64::from(users);
        let period = Duration::from_secs_f64(users / rate_per_s);
        let phase = period.mul_f64(f64::from(user_index % users as u32) / users);
        Pacing { period, phase }
    }

    /// When slot `slot` (0-based) is due, measured from the user's first start.
    pub fn slot_due(&self, slot: u64) -> Duration {
        self.phase + self.period.mul_f64(slot as f64)
    }

    /// Slots due strictly before `elapsed` (since the user's first start): how many
    /// carts the user should have started by then.
    pub fn slots_due_before(&self, elapsed: Duration) -> u64 {
        if elapsed <= self.phase {
            return 0;
        }
        let after_phase = (elapsed - self.phase).as_secs_f64();
        // The slot exactly at `elapsed` is not before it.
        let slots = (after_phase / self.period.as_secs_f64()).ceil();
        slots as u64
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    /// The origin of a user's schedule that starts `since_zero` after the attack's
    /// common zero: the grid point `m · period` (from zero) whose first slot (`origin +
    /// phase`) is the first one at or after the start, so no slot is due before the
    /// user exists and every user's slots lie on the common grid.
    pub fn grid_origin(&self, since_zero: Duration) -> Duration {
        let periods =
            (since_zero.as_secs_f64() - self.phase.as_secs_f64()) / self.period.as_secs_f64();
        self.period.mul_f64(periods.ceil().max(0.0))
    }
}

/// Whether a start `lateness` after its slot is late.
pub fn is_late(lateness: Duration) -> bool {
    lateness > LATE_START_TOLERANCE
}

#[cfg(test)]
mod tests;
