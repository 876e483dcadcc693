//! The knee search, pure arithmetic over step verdicts: offer the start rate; while
//! steps pass, double; if the very first step fails, halve until one passes; then
//! bisect between the highest passing and the lowest failing rate until they are within
//! the resolution of each other. The knee is the highest passing rate. No clock, no
//! load: `super::run_bench` asks [`Search::next`] for a rate, runs the step and reports
//! the verdict with [`Search::record`].
//!
//! Not here: what makes a step pass (`super::step`), budgets and interrupts (the caller
//! stops asking).

use serde::{Deserialize, Serialize};

/// The lowest rate the search halves to (carts/s): below it a step holds too few
/// carts to say anything, and the target is simply too slow for this scenario.
pub const SEARCH_RATE_MIN_PER_S: f64 = 1.0;
/// Bisection midpoints at or above this are rounded to whole carts/s, so the tables
/// read `750`, not `748.4375`.
const ROUND_ABOVE_PER_S: f64 = 10.0;

/// Why the search is asking for this rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Start,
    /// The same rate again, after a step that missed only the SLO (`super::search`'s
    /// caller decides; the search itself never asks for it).
    Confirm,
    Doubling,
    Halving,
    Bisecting,
}

impl Phase {
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::Confirm => "confirm",
            Phase::Doubling => "doubling",
            Phase::Halving => "halving",
            Phase::Bisecting => "bisecting",
        }
    }
}

/// Why the search asks for no more steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    /// Highest pass and lowest fail within the resolution: the knee is found.
    Resolved,
    /// Every step passed up to the highest rate allowed: the knee is at least that.
    RateCapReached,
    /// Even the lowest rate failed: no knee.
    NothingPassed,
}

/// The search's state: the bounds found so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    start_per_s: f64,
    /// Relative gap between pass and fail at which the search stops (0.1 = 10 %).
    resolution: f64,
    max_per_s: f64,
    pass: Option<f64>,
    fail: Option<f64>,
}

impl Search {
    /// A search from `start_per_s` carts/s, to `resolution` (a fraction), offering at
    /// most `max_per_s`.
    pub fn new(start_per_s: f64, resolution: f64, max_per_s: f64) -> Search {
        Search {
            start_per_s,
            resolution,
            max_per_s: max_per_s.max(start_per_s),
            pass: None,
            fail: None,
        }
    }

    /// The next rate to offer and why, or why the search is over.
    pub fn next(&self) -> Result<(f64, Phase), Settled> {
        match (self.pass, self.fail) {
            (None, None) => Ok((self.start_per_s, Phase::Start)),
            (Some(pass), None) if pass >= self.max_per_s => Err(Settled::RateCapReached),
            (Some(pass), None) => Ok(((pass * 2.0).min(self.max_per_s), Phase::Doubling)),
            (None, Some(fail)) if fail / 2.0 < SEARCH_RATE_MIN_PER_S => Err(Settled::NothingPassed),
            (None, Some(fail)) => Ok((fail / 2.0, Phase::Halving)),
            (Some(pass), Some(fail)) => {
                let middle = midpoint(pass, fail);
                if (fail - pass) / pass <= self.resolution || middle <= pass || middle >= fail {
                    Err(Settled::Resolved)
                } else {
                    Ok((middle, Phase::Bisecting))
                }
            }
        }
    }

    /// Records the verdict of a step at `rate_per_s`.
    pub fn record(&mut self, rate_per_s: f64, passed: bool) {
        if passed {
            self.pass = Some(self.pass.map_or(rate_per_s, |pass| pass.max(rate_per_s)));
        } else {
            self.fail = Some(self.fail.map_or(rate_per_s, |fail| fail.min(rate_per_s)));
        }
    }

    /// The highest passing rate so far.
    pub fn knee(&self) -> Option<f64> {
        self.pass
    }

    /// The lowest failing rate so far.
    pub fn first_fail(&self) -> Option<f64> {
        self.fail
    }
}

fn midpoint(pass: f64, fail: f64) -> f64 {
    let middle = (pass + fail) / 2.0;
    if middle >= ROUND_ABOVE_PER_S {
        middle.round()
    } else {
        middle
    }
}

#[cfg(test)]
mod tests {
    use super::{Phase, Search, Settled};

    /// Runs the search against a target that passes every rate up to `capacity`.
    fn settle(search: &mut Search, capacity: f64) -> (Vec<(f64, Phase)>, Settled) {
        let mut offered = Vec::new();
        loop {
            match search.next() {
                Ok((rate, phase)) => {
                    offered.push((rate, phase));
                    search.record(rate, rate <= capacity);
                }
                Err(settled) => return (offered, settled),
            }
        }
    }

    #[test]
    fn doubles_then_bisects_to_the_resolution() {
        let mut search = Search::new(100.0, 0.1, 100_000.0);
        let (offered, settled) = settle(&mut search, 1_000.0);
        let rates: Vec<f64> = offered.iter().map(|(rate, _)| *rate).collect();
        assert_eq!(
            rates,
            [
                100.0, 200.0, 400.0, 800.0, 1_600.0, 1_200.0, 1_000.0, 1_100.0
            ]
        );
        assert_eq!(offered[4].1, Phase::Doubling);
        assert_eq!(offered[5].1, Phase::Bisecting);
        assert_eq!(settled, Settled::Resolved);
        assert_eq!(search.knee(), Some(1_000.0));
        assert_eq!(search.first_fail(), Some(1_100.0));
    }

    #[test]
    fn halves_when_the_start_fails_and_gives_up_below_the_minimum() {
        let mut search = Search::new(100.0, 0.1, 1_000.0);
        let (offered, settled) = settle(&mut search, 30.0);
        assert_eq!(offered[1], (50.0, Phase::Halving));
        assert_eq!(settled, Settled::Resolved);
        assert!(
            search
                .knee()
                .is_some_and(|knee| (25.0..=30.0).contains(&knee))
        );

        let mut search = Search::new(4.0, 0.1, 1_000.0);
        let (_, settled) = settle(&mut search, 0.5);
        assert_eq!(settled, Settled::NothingPassed);
        assert_eq!(search.knee(), None);
    }

    #[test]
    fn stops_at_the_rate_cap_when_everything_passes() {
        let mut search = Search::new(100.0, 0.1, 500.0);
        let (offered, settled) = settle(&mut search, 1e9);
        assert_eq!(offered.last(), Some(&(500.0, Phase::Doubling)));
        assert_eq!(settled, Settled::RateCapReached);
        assert_eq!(search.knee(), Some(500.0));
    }
}
