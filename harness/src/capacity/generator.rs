//! The load generator's ceiling, found the way a strategy's knee is: the scenario's
//! carts at a fixed arrival rate (the open model, the same pacing and the same users),
//! stepped by the same search (`super::search`: from the start rate, doubling, then
//! bisecting to the resolution) against the no-op target served in process, so the only
//! work is goose, reqwest, the recording and the loopback. A step passes when its
//! measured window achieved the offered rate less [`ACHIEVED_RATE_TOLERANCE`] and no
//! start was dropped; the ceiling is the highest passing rate. No SLO and no checks:
//! the no-op target has no latency and no state worth judging. A closed-model ceiling
//! (every user sends at once) measures something else — the pace of users that never
//! wait for a slot — and is not comparable with an open-model knee.
//!
//! Bounded: each step is a short warm-up (at most [`GENERATOR_WARMUP_MAX`], at least a
//! user's period) and the ceiling time; the whole search stops within its budget
//! ([`GENERATOR_BUDGET_MAX`], or a sixth of the bench's) and says `budget`.
//!
//! Not here: the no-op target (`crate::load::noop`), the stores' ceilings
//! (`super::ceilings`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ceilings::Ceiling;
use super::search::{Phase, Search};
use super::step::{ACHIEVED_RATE_TOLERANCE, StepTiming, window};
use super::{SearchEnd, StepBudget};
use crate::load::interrupt;
use crate::load::progress::ProgressMode;
use crate::run::calibrate::{ceiling_hatch_rate_per_s, load_generator_ceiling};
use crate::scenario::Scenario;

/// Longest warm-up of a generator step: the no-op target has no caches or connections
/// to warm beyond the client's, which the first few hundred ms see to.
pub const GENERATOR_WARMUP_MAX: Duration = Duration::from_secs(1);
/// Longest the whole generator search may take: about twenty 4 s steps, so doubling
/// from 200 to 20,000 carts/s and bisecting to 10 % fits with room to spare.
pub const GENERATOR_BUDGET_MAX: Duration = Duration::from_secs(90);
/// The share of the bench's budget the generator search may take at most.
const GENERATOR_BUDGET_DIVISOR: u32 = 6;
/// A step's cost beyond its warm-up and hold (the no-op server, goose's start and
/// stop), until a measured step replaces the estimate.
const GENERATOR_STEP_OVERHEAD_ESTIMATE: Duration = Duration::from_secs(1);

/// How the generator's search runs.
#[derive(Debug, Clone)]
pub struct GeneratorSearch {
    pub start_per_s: f64,
    pub max_per_s: f64,
    pub resolution: f64,
    /// The bench's warm-up (capped at [`GENERATOR_WARMUP_MAX`]).
    pub warmup: Duration,
    /// Each step's measured hold (the ceiling time).
    pub hold: Duration,
    /// The bench's whole budget (the search takes at most a sixth, and at most
    /// [`GENERATOR_BUDGET_MAX`]).
    pub bench_budget: Duration,
    /// Print a `bench:` line per step.
    pub announce: bool,
}

impl GeneratorSearch {
    fn budget(&self) -> Duration {
        (self.bench_budget / GENERATOR_BUDGET_DIVISOR).min(GENERATOR_BUDGET_MAX)
    }

    fn timing(&self, rate_per_s: f64, users: u32) -> StepTiming {
        let period = Duration::from_secs_f64(f64::from(users) / rate_per_s.max(1e-3));
        StepTiming {
            warmup: self.warmup.min(GENERATOR_WARMUP_MAX).max(period),
            hold: self.hold,
        }
    }
}

/// One step of the generator's search, as bench.json records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorStep {
    pub phase: Phase,
    pub offered_carts_per_s: f64,
    pub achieved_carts_per_s: f64,
    pub ops_per_s: f64,
    pub dropped_starts: u64,
    pub late_starts: u64,
    pub pass: bool,
    pub wall_s: f64,
}

/// How the generator's search went (bench.json's `ceilings.load_generator.search`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorRecord {
    /// `open`: the same arrival-rate steps as a knee.
    pub model: String,
    /// `resolved`, `rate_cap_reached`, `nothing_passed`, `budget` or `interrupted`.
    pub end: SearchEnd,
    pub first_fail_carts_per_s: Option<f64>,
    pub steps: Vec<GeneratorStep>,
}

/// Why the generator's search found no ceiling.
#[derive(Debug, thiserror::Error)]
pub enum GeneratorError {
    #[error("load generator ceiling: step at {rate_per_s:.0} carts/s: {reason}")]
    Step { rate_per_s: f64, reason: String },
    #[error(
        "load generator ceiling: no rate passed ({end}): {steps} step(s), first fail {first_fail:?} carts/s"
    )]
    NoCeiling {
        end: &'static str,
        steps: usize,
        first_fail: Option<f64>,
    },
}

/// Searches the generator's ceiling for `scenario` with `seed`.
pub async fn generator_ceiling(
    scenario: &Scenario,
    seed: u64,
    settings: &GeneratorSearch,
) -> Result<Ceiling, GeneratorError> {
    let mut budget = StepBudget::new(settings.budget());
    let mut search = Search::new(
        settings.start_per_s,
        settings.resolution,
        settings.max_per_s,
    );
    let mut steps: Vec<GeneratorStep> = Vec::new();
    let end = loop {
        if interrupt::interrupted() {
            break SearchEnd::Interrupted;
        }
        let (rate, phase) = match search.next() {
            Ok(next) => next,
            Err(settled) => break SearchEnd::from(settled),
        };
        let timing = settings.timing(rate, scenario.load.users);
        if !budget.fits(timing.warmup + timing.hold + GENERATOR_STEP_OVERHEAD_ESTIMATE) {
            break SearchEnd::Budget;
        }
        let (step, cost) = budget
            .spend(generator_step(scenario, seed, (rate, phase), timing))
            .await;
        let mut step = step?;
        step.wall_s = cost.as_secs_f64();
        if settings.announce {
            println!("bench: {}", step_line(&step));
        }
        search.record(rate, step.pass);
        steps.push(step);
    };
    let Some(ceiling) = search.knee() else {
        return Err(GeneratorError::NoCeiling {
            end: end.as_str(),
            steps: steps.len(),
            first_fail: search.first_fail(),
        });
    };
    let at_ceiling = steps
        .iter()
        .find(|step| step.pass && step.offered_carts_per_s == ceiling);
    Ok(Ceiling {
        per_s: ceiling,
        ops_per_s: at_ceiling.map_or(0.0, |step| step.ops_per_s),
        seconds: budget.elapsed().as_secs_f64(),
        callers: scenario.load.users as usize,
        search: Some(GeneratorRecord {
            model: "open".to_owned(),
            end,
            first_fail_carts_per_s: search.first_fail(),
            steps,
        }),
    })
}

/// One open-model step against the no-op target, read over its measured window.
async fn generator_step(
    scenario: &Scenario,
    seed: u64,
    (rate, phase): (f64, Phase),
    timing: StepTiming,
) -> Result<GeneratorStep, GeneratorError> {
    let (load, history) = load_generator_ceiling(
        scenario,
        seed,
        rate,
        timing.warmup + timing.hold,
        ProgressMode::Off,
    )
    .await
    .map_err(|error| GeneratorError::Step {
        rate_per_s: rate,
        reason: error.to_string(),
    })?;
    let ramp = Duration::from_secs_f64(
        f64::from(scenario.load.users) / ceiling_hatch_rate_per_s(scenario.load.users),
    );
    let measured = window(&history, ramp, timing);
    let seconds = measured.measured_s.max(1e-6);
    let achieved = measured.carts as f64 / seconds;
    let dropped_starts = load.counts.dropped_starts;
    Ok(GeneratorStep {
        phase,
        offered_carts_per_s: rate,
        achieved_carts_per_s: achieved,
        ops_per_s: measured.ops as f64 / seconds,
        dropped_starts,
        late_starts: load.counts.late_starts,
        pass: !load.interrupted
            && dropped_starts == 0
            && achieved >= rate * (1.0 - ACHIEVED_RATE_TOLERANCE),
        wall_s: 0.0,
    })
}

fn step_line(step: &GeneratorStep) -> String {
    format!(
        "load generator ({}): {:.0} carts/s offered, achieved {:.1}/s, {} dropped, {} late: {}",
        step.phase.as_str(),
        step.offered_carts_per_s,
        step.achieved_carts_per_s,
        step.dropped_starts,
        step.late_starts,
        if step.pass { "pass" } else { "fail" },
    )
}
