//! `stockproof bench`: the highest rate a target sustains within an SLO with every
//! invariant holding — its knee — for each inventory strategy, or for a service at a
//! URL, beside the ceilings that say what a knee means (docs/bench.md).
//!
//! **The search** (`search`): open-model steps (the scenario's carts at a fixed arrival
//! rate, latencies corrected for coordinated omission) from the start rate, doubling
//! while steps pass, halving if the first fails, then bisecting between the highest
//! pass and the lowest fail to the resolution (10 % by default). A step passes when
//! its measured window meets the SLO, the run's checks (the same judge as `run`) find
//! no violation and none unknown, it achieved at least the offered rate less
//! [`step::ACHIEVED_RATE_TOLERANCE`] and dropped no start. A step with a violation ends
//! the strategy's search: a strategy that breaks an invariant has no knee.
//!
//! **Fresh stores per step**: each step is a whole `run` (`crate::run::run_prepared`),
//! so in process it starts its own Redis and Postgres and engine and stops them after;
//! no step inherits another's keys, backlog or caches. Against `--target` the service
//! is the user's: each step's SKUs get a suffix of their own instead.
//!
//! **The step's length**: the users' ramp and a warm-up ([`WARMUP_DEFAULT`], 2 s:
//! connections, the scripts' first calls, the writer's first batches) are excluded;
//! then the hold is as long as [`SAMPLES_TARGET`] carts take at the offered rate (each
//! cart one reserve, so the p99 rests on 100 samples above it), within
//! [`STEP_HOLD_MIN`] and the step time (`--step-time`, [`STEP_TIME_DEFAULT`] 8 s). So
//! steps above 1,250 carts/s measure 10,000 carts; slower steps are capped at 8 s and
//! measure fewer (400/s: 3,200, a p99 on 32 samples) — they are the far-from-the-knee
//! doubling steps, where the verdict does not hang on the last sample.
//!
//! **Confirmation**: a step that misses only the SLO is run once more at the same rate
//! (phase `confirm`) and the rate fails only if that fails too. Noise on a shared
//! machine is one-sided — a stall of another process only adds latency — so the better
//! of two runs is the closer measure of the target's own; and on this 2-core machine
//! single stalls were seen to fail 100 carts/s (p99 52 ms over 800 samples, p50 0.5 ms)
//! and 400 carts/s (p99 350 ms) in runs of one build that passed 2,800 carts/s in
//! another. A confirmation costs a step, which the budget counts like any other.
//!
//! **The budget** (the issue: three strategies on flash-sale in under 10 minutes on 2
//! cores): the whole bench gets `--budget` ([`BUDGET_DEFAULT`], 9 min). The ceilings
//! take 3 × `--ceiling-time` (3 s) plus a server start, about 15 s. Each strategy then
//! gets an equal share of what is left: (540 − 15) / 3 = 175 s. A step costs the ramp
//! (1 s for flash-sale's 200 users), the warm-up (2 s), the hold (≤ 8 s) and the run's
//! own start, quiesce, checks and stop (measured 4–6 s), so at most about 17 s: ten
//! steps, which is five doublings (200 → 3,200 carts/s, where the reference engine's
//! knee was measured) and five bisections (a 100 % gap down to 3 %). A strategy stops stepping when its next step (estimated by its
//! last one) would overrun its share, and says so (`budget`).
//!
//! Not here: the command line (`cmd::bench`), the run (`crate::run`), bench.html's
//! chart (`crate::report::bench_page`).

pub mod ceilings;
pub mod compare;
pub mod generator;
pub mod markdown;
pub mod output;
pub mod search;
pub mod step;
pub mod stock;

use crate::resources::SAMPLE_INTERVAL;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use self::ceilings::Ceilings;
use self::generator::GeneratorSearch;
use self::search::{Phase, Search, Settled};
use self::step::{
    StepRecord, StepTiming, StepVerdict, prune_folder, ramp, read_step, step_scenario,
};
use self::stock::{STOCK_SAFETY_FACTOR, STOCK_SLACK_UNITS, StockMode};
use crate::load::interrupt;
use crate::load::progress::ProgressMode;
use crate::run::{RunOptions, TargetChoice, run_prepared};
use crate::scenario::{Overrides, Scenario, Slo};
use stockproof_engine::strategy::Strategy;

/// bench.json's `format` and version (docs/bench.md).
pub const BENCH_FORMAT: &str = "stockproof-bench";
pub const BENCH_FORMAT_VERSION: u32 = 1;
/// Carts a step's window aims to hold: each cart sends one reserve, so the p99 rests on
/// 100 samples above it.
pub const SAMPLES_TARGET: f64 = 10_000.0;
/// Shortest measured hold: below it a step is mostly its ramp and warm-up.
pub const STEP_HOLD_MIN: Duration = Duration::from_secs(3);
pub const STEP_TIME_DEFAULT: Duration = Duration::from_secs(8);
pub const WARMUP_DEFAULT: Duration = Duration::from_secs(2);
pub const CEILING_TIME_DEFAULT: Duration = Duration::from_secs(3);
pub const BUDGET_DEFAULT: Duration = Duration::from_secs(9 * 60);
pub const START_RATE_DEFAULT: f64 = 200.0;
pub const MAX_RATE_DEFAULT: f64 = 20_000.0;
pub const RESOLUTION_DEFAULT: f64 = 0.10;
/// A first step's cost beyond its ramp, warm-up and hold (servers, seed, quiesce,
/// checks), until a measured step replaces the estimate.
const STEP_OVERHEAD_ESTIMATE: Duration = Duration::from_secs(6);

/// What to bench and how.
#[derive(Debug, Clone)]
pub struct BenchSettings {
    pub slo: Slo,
    /// In process; ignored against a URL.
    pub strategies: Vec<Strategy>,
    pub target: TargetChoice,
    pub adapter: Option<PathBuf>,
    pub start_rate_per_s: f64,
    pub max_rate_per_s: f64,
    pub resolution: f64,
    pub warmup: Duration,
    pub step_time: Duration,
    pub ceiling_time: Duration,
    pub budget: Duration,
    pub seed: Option<u64>,
    /// Each step's stock: sized to outlast it, or the scenario's (`super::stock`).
    pub stock: StockMode,
    /// The bench's folder (`reports/bench-<utc time>/`).
    pub folder: PathBuf,
    pub keep_runs: bool,
    pub progress: ProgressMode,
}

impl BenchSettings {
    /// A step at `rate_per_s` carts/s shared by `users`: the warm-up, at least one
    /// user's period (`users / rate`: users hatch one after another, so the arrivals
    /// reach the offered rate only once every user is past its first slot), and the
    /// hold, long enough for [`SAMPLES_TARGET`] carts within [`STEP_HOLD_MIN`] (or the
    /// step time, if shorter) and the step time.
    pub fn timing(&self, rate_per_s: f64, users: u32) -> StepTiming {
        let rate_per_s = rate_per_s.max(1e-3);
        let wanted = Duration::from_secs_f64(SAMPLES_TARGET / rate_per_s);
        let period = Duration::from_secs_f64(f64::from(users) / rate_per_s);
        let floor = STEP_HOLD_MIN.min(self.step_time);
        StepTiming {
            warmup: self.warmup.max(period),
            hold: wanted.clamp(floor, self.step_time),
        }
    }
}

/// The settings as bench.json records them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsRecord {
    pub start_rate_per_s: f64,
    pub max_rate_per_s: f64,
    pub resolution: f64,
    pub warmup_s: f64,
    pub step_time_s: f64,
    pub samples_target: f64,
    pub achieved_tolerance: f64,
    pub ceiling_time_s: f64,
    pub budget_s: f64,
    pub seed: Option<u64>,
    /// `sized` or `scenario` (`--stock`).
    #[serde(default)]
    pub stock: StockMode,
    /// The sizing rule's factor and slack (docs/bench.md).
    #[serde(default)]
    pub stock_safety_factor: f64,
    #[serde(default)]
    pub stock_slack_units: f64,
}

/// Why a strategy's search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchEnd {
    Resolved,
    RateCapReached,
    NothingPassed,
    /// A step showed a violation: no knee.
    Violation,
    /// Its share of the budget ran out before the resolution.
    Budget,
    Interrupted,
    /// A step could not run.
    Error,
}

impl SearchEnd {
    pub const fn as_str(self) -> &'static str {
        match self {
            SearchEnd::Resolved => "resolved",
            SearchEnd::RateCapReached => "rate cap reached",
            SearchEnd::NothingPassed => "nothing passed",
            SearchEnd::Violation => "violation",
            SearchEnd::Budget => "budget",
            SearchEnd::Interrupted => "interrupted",
            SearchEnd::Error => "error",
        }
    }
}

impl From<Settled> for SearchEnd {
    fn from(settled: Settled) -> SearchEnd {
        match settled {
            Settled::Resolved => SearchEnd::Resolved,
            Settled::RateCapReached => SearchEnd::RateCapReached,
            Settled::NothingPassed => SearchEnd::NothingPassed,
        }
    }
}

/// A search's share of the time: a step runs only if it fits in what is left, its cost
/// estimated by the last step's (or, before any, the caller's estimate). Both searches
/// — a strategy's knee and the load generator's ceiling — stop on it and say `budget`.
#[derive(Debug)]
pub(crate) struct StepBudget {
    began: Instant,
    share: Duration,
    last_cost: Option<Duration>,
}

impl StepBudget {
    pub(crate) fn new(share: Duration) -> StepBudget {
        StepBudget {
            began: Instant::now(),
            share,
            last_cost: None,
        }
    }

    /// Whether one more step fits; `first_estimate` is its cost before any step ran.
    pub(crate) fn fits(&self, first_estimate: Duration) -> bool {
        self.began.elapsed() + self.last_cost.unwrap_or(first_estimate) <= self.share
    }

    /// Runs a step and counts its cost; returns the step and its wall time.
    pub(crate) async fn spend<T>(&mut self, step: impl Future<Output = T>) -> (T, Duration) {
        let step_began = Instant::now();
        let outcome = step.await;
        let cost = step_began.elapsed();
        self.last_cost = Some(cost);
        (outcome, cost)
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.began.elapsed()
    }
}

/// The knee over each ceiling (`None` where either is missing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ratios {
    /// Knee carts/s over the load generator's carts/s.
    pub load_generator: Option<f64>,
    /// The knee step's reserves/s over the bare script's calls/s.
    pub redis_reserve_script: Option<f64>,
    /// The knee step's reserves/s over the guarded UPDATE's calls/s.
    pub postgres_guarded_update: Option<f64>,
}

/// One strategy's (or the URL's) search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyRecord {
    /// The strategy's name, or `target` for `--target`.
    pub strategy: String,
    pub knee_carts_per_s: Option<f64>,
    /// Reserves/s achieved in the knee's step.
    pub knee_reserves_per_s: Option<f64>,
    /// The knee step's share of reserves refused for insufficient stock.
    #[serde(default)]
    pub knee_refused_share: Option<f64>,
    pub first_fail_carts_per_s: Option<f64>,
    pub end: SearchEnd,
    /// Why there is no knee (or why it is only a bound).
    pub note: Option<String>,
    pub ratios: Ratios,
    pub steps: Vec<StepRecord>,
}

/// Everything bench.json holds (docs/bench.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRecord {
    pub format: String,
    pub format_version: u32,
    pub started_at: String,
    pub finished_at: String,
    pub scenario: String,
    pub scenario_file: String,
    pub slo: String,
    pub target: String,
    pub settings: SettingsRecord,
    pub interrupted: bool,
    pub ceilings: Ceilings,
    pub strategies: Vec<StrategyRecord>,
}

/// Runs the bench: ceilings first, then each strategy's search.
pub async fn run_bench(path: &Path, scenario: &Scenario, settings: &BenchSettings) -> BenchRecord {
    let started = Instant::now();
    let started_at = rfc3339(SystemTime::now());
    // Before the ceilings, so a Ctrl-C during them still ends in the files.
    if let Err(error) = interrupt::install() {
        tracing::warn!(%error, "Ctrl-C will not stop the bench gracefully");
    }
    let infra = match &settings.target {
        TargetChoice::InProcess(config) => Some(config),
        TargetChoice::External(_) => None,
    };
    announce(
        settings,
        "measuring the ceilings (load generator stepped in the open model, Redis script, Postgres UPDATE)",
    );
    let generator = GeneratorSearch {
        start_per_s: settings.start_rate_per_s,
        max_per_s: settings.max_rate_per_s,
        resolution: settings.resolution,
        warmup: settings.warmup,
        hold: settings.ceiling_time,
        bench_budget: settings.budget,
        announce: settings.progress != ProgressMode::Off,
    };
    let ceilings = ceilings::measure(scenario, infra, settings.ceiling_time, &generator).await;
    let names: Vec<(String, Strategy)> = match &settings.target {
        TargetChoice::InProcess(_) => settings
            .strategies
            .iter()
            .map(|strategy| (strategy.to_string(), *strategy))
            .collect(),
        TargetChoice::External(_) => vec![("target".to_owned(), Strategy::default())],
    };
    let mut strategies = Vec::new();
    for (done, (name, strategy)) in names.iter().enumerate() {
        if interrupt::interrupted() {
            break;
        }
        let left = settings.budget.saturating_sub(started.elapsed());
        let share = left / (names.len() - done) as u32;
        let mut record = search(path, scenario, settings, (name, *strategy), share).await;
        record.ratios = ratios(&record, &ceilings);
        strategies.push(record);
    }
    BenchRecord {
        format: BENCH_FORMAT.to_owned(),
        format_version: BENCH_FORMAT_VERSION,
        started_at,
        finished_at: rfc3339(SystemTime::now()),
        scenario: scenario.name.clone(),
        scenario_file: path.display().to_string(),
        slo: settings.slo.text.clone(),
        target: match &settings.target {
            TargetChoice::InProcess(config) => format!("in process (provider {})", config.provider),
            TargetChoice::External(url) => url.clone(),
        },
        settings: settings_record(settings),
        interrupted: interrupt::interrupted(),
        ceilings,
        strategies,
    }
}

/// One strategy's search, within `share` of the budget.
async fn search(
    path: &Path,
    scenario: &Scenario,
    settings: &BenchSettings,
    (name, strategy): (&str, Strategy),
    share: Duration,
) -> StrategyRecord {
    let mut budget = StepBudget::new(share);
    let mut search = Search::new(
        settings.start_rate_per_s,
        settings.resolution,
        settings.max_rate_per_s,
    );
    let mut steps: Vec<StepRecord> = Vec::new();
    // A rate whose step missed only the SLO, to be run once more before it counts.
    let mut confirm: Option<f64> = None;
    let end = loop {
        let (rate, phase) = match (confirm, search.next()) {
            (Some(rate), _) => (rate, Phase::Confirm),
            (None, Ok(next)) => next,
            (None, Err(settled)) => break SearchEnd::from(settled),
        };
        let timing = settings.timing(rate, scenario.load.users);
        let estimate = ramp(&scenario.load) + timing.warmup + timing.hold + STEP_OVERHEAD_ESTIMATE;
        if !budget.fits(estimate) {
            break SearchEnd::Budget;
        }
        announce(
            settings,
            &format!(
                "{name} step {} ({}): {rate:.0} carts/s, {:.1} s warm-up + {:.1} s measured; pass so far {}, fail so far {}",
                steps.len() + 1,
                phase.as_str(),
                timing.warmup.as_secs_f64(),
                timing.hold.as_secs_f64(),
                rate_text(search.knee()),
                rate_text(search.first_fail()),
            ),
        );
        let index = steps.len() as u32 + 1;
        let (mut step, cost) = budget
            .spend(run_step(
                path,
                scenario,
                settings,
                strategy,
                (index, phase, rate),
            ))
            .await;
        step.wall_s = cost.as_secs_f64();
        prune_folder(&mut step, settings.keep_runs);
        announce(settings, &step_line(name, &step));
        let verdict = step.verdict;
        steps.push(step);
        match verdict {
            StepVerdict::Pass => {
                confirm = None;
                search.record(rate, true);
            }
            StepVerdict::Fail
                if phase != Phase::Confirm && missed_only_the_slo(&steps[steps.len() - 1]) =>
            {
                confirm = Some(rate);
            }
            StepVerdict::Fail => {
                confirm = None;
                search.record(rate, false);
            }
            StepVerdict::Violation => break SearchEnd::Violation,
            StepVerdict::Interrupted => break SearchEnd::Interrupted,
            StepVerdict::Error => break SearchEnd::Error,
        }
    };
    strategy_record(name, end, &search, steps)
}

/// The step's one reason is its SLO: nothing but latency, which a stall can move.
fn missed_only_the_slo(step: &StepRecord) -> bool {
    step.slo_verdict == crate::checks::Verdict::Fail && step.reasons.len() == 1
}

fn strategy_record(
    name: &str,
    end: SearchEnd,
    search: &Search,
    steps: Vec<StepRecord>,
) -> StrategyRecord {
    let broken = steps
        .iter()
        .find(|step| step.verdict == StepVerdict::Violation);
    let knee = if broken.is_some() {
        None
    } else {
        search.knee()
    };
    let note = match (end, broken) {
        (_, Some(step)) => Some(format!(
            "no knee: step {} at {:.0} carts/s broke {}",
            step.index,
            step.offered_carts_per_s,
            step.violations
                .iter()
                .map(|violation| violation.check.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (SearchEnd::NothingPassed, _) => Some(format!(
            "no knee: even {:.1} carts/s missed",
            search.first_fail().unwrap_or_default()
        )),
        (SearchEnd::RateCapReached, _) => {
            Some("every step passed up to --max-rate: the knee is at least this".to_owned())
        }
        (SearchEnd::Budget, _) => Some(
            "the budget ran out before the resolution: the knee lies between the last pass and the first fail".to_owned(),
        ),
        (SearchEnd::Interrupted, _) => Some("interrupted (Ctrl-C)".to_owned()),
        (SearchEnd::Error, _) => steps.last().map(|step| step.reasons.join("; ")),
        (SearchEnd::Resolved | SearchEnd::Violation, _) => None,
    };
    let knee_step = knee.and_then(|knee| {
        steps
            .iter()
            .find(|step| step.verdict == StepVerdict::Pass && step.offered_carts_per_s == knee)
    });
    let knee_reserves_per_s = knee_step.map(|step| step.reserves_per_s);
    let knee_refused_share = knee_step.map(|step| step.refused_share);
    StrategyRecord {
        strategy: name.to_owned(),
        knee_carts_per_s: knee,
        knee_reserves_per_s,
        knee_refused_share,
        first_fail_carts_per_s: search.first_fail(),
        end,
        note,
        ratios: Ratios::default(),
        steps,
    }
}

/// Runs one step through the run pipeline and reads it.
async fn run_step(
    path: &Path,
    scenario: &Scenario,
    settings: &BenchSettings,
    strategy: Strategy,
    (index, phase, rate): (u32, Phase, f64),
) -> StepRecord {
    let timing = settings.timing(rate, scenario.load.users);
    let (mut step_scenario, stocked) = step_scenario(scenario, rate, timing, settings.stock);
    if let TargetChoice::External(_) = settings.target {
        fresh_skus(
            &mut step_scenario,
            &format!("b{}-{index}", stamp_suffix(settings)),
        );
    }
    let options = RunOptions {
        target: settings.target.clone(),
        seed: settings.seed,
        report_dir: settings
            .folder
            .join("runs")
            .join(strategy_dir(&settings.target, strategy)),
        overrides: Overrides::default(),
        progress: settings.progress,
        variant: None,
        adapter: settings.adapter.clone(),
        metrics: None,
        sample_interval: SAMPLE_INTERVAL,
        strategy,
    };
    let mut step = match run_prepared(path, step_scenario, &options).await {
        Ok(outcome) => read_step(&outcome, (index, phase, rate), &settings.slo, timing),
        Err(error) => StepRecord::error((index, phase, rate), timing, error.to_string()),
    };
    step.stock_units_max = Some(stocked);
    step
}

fn strategy_dir(target: &TargetChoice, strategy: Strategy) -> String {
    match target {
        TargetChoice::InProcess(_) => strategy.to_string(),
        TargetChoice::External(_) => "target".to_owned(),
    }
}

/// The bench folder's stamp (`bench-<stamp>`), so a service's SKUs differ per bench.
fn stamp_suffix(settings: &BenchSettings) -> String {
    settings
        .folder
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix("bench-"))
        .unwrap_or("0")
        .to_ascii_lowercase()
}

/// Renames every SKU `sku-<suffix>`: a service at a URL keeps its stock between
/// steps, so each step sells SKUs no earlier step touched.
fn fresh_skus(scenario: &mut Scenario, suffix: &str) {
    let rename = |sku: &mut String| *sku = format!("{sku}-{suffix}");
    scenario
        .catalogue
        .skus
        .iter_mut()
        .for_each(|seed| rename(&mut seed.sku));
    scenario.mix.skus.iter_mut().for_each(rename);
    scenario
        .restocks
        .iter_mut()
        .for_each(|restock| rename(&mut restock.sku));
}

fn ratios(record: &StrategyRecord, ceilings: &Ceilings) -> Ratios {
    let over = |value: Option<f64>, ceiling: Option<&ceilings::Ceiling>| {
        value
            .zip(ceiling)
            .filter(|(_, ceiling)| ceiling.per_s > 0.0)
            .map(|(value, ceiling)| value / ceiling.per_s)
    };
    Ratios {
        load_generator: over(record.knee_carts_per_s, ceilings.load_generator.as_ref()),
        redis_reserve_script: over(
            record.knee_reserves_per_s,
            ceilings.redis_reserve_script.as_ref(),
        ),
        postgres_guarded_update: over(
            record.knee_reserves_per_s,
            ceilings.postgres_guarded_update.as_ref(),
        ),
    }
}

fn settings_record(settings: &BenchSettings) -> SettingsRecord {
    SettingsRecord {
        start_rate_per_s: settings.start_rate_per_s,
        max_rate_per_s: settings.max_rate_per_s,
        resolution: settings.resolution,
        warmup_s: settings.warmup.as_secs_f64(),
        step_time_s: settings.step_time.as_secs_f64(),
        samples_target: SAMPLES_TARGET,
        achieved_tolerance: step::ACHIEVED_RATE_TOLERANCE,
        ceiling_time_s: settings.ceiling_time.as_secs_f64(),
        budget_s: settings.budget.as_secs_f64(),
        seed: settings.seed,
        stock: settings.stock,
        stock_safety_factor: STOCK_SAFETY_FACTOR,
        stock_slack_units: STOCK_SLACK_UNITS,
    }
}

/// The bench's own line between the load's live lines.
fn announce(settings: &BenchSettings, line: &str) {
    if settings.progress != ProgressMode::Off {
        println!("bench: {line}");
    }
}

fn step_line(name: &str, step: &StepRecord) -> String {
    if step.verdict == StepVerdict::Error {
        return format!(
            "{name} step {} {:.0} carts/s: error: {}",
            step.index,
            step.offered_carts_per_s,
            step.reasons.join("; ")
        );
    }
    let p99 = step.p99_us.map_or_else(
        || "-".to_owned(),
        |us| crate::report::units::duration_us(us as f64),
    );
    let why = if step.reasons.is_empty() {
        String::new()
    } else {
        format!(": {}", step.reasons.join("; "))
    };
    let notes = if step.notes.is_empty() {
        String::new()
    } else {
        format!(" [{}]", step.notes.join("; "))
    };
    format!(
        "{name} step {} {:.0} carts/s: achieved {:.1}/s, {} p99 {p99} ({} samples), refused {:.1} %, unknown {:.1} %, {}{why}{notes}",
        step.index,
        step.offered_carts_per_s,
        step.achieved_carts_per_s,
        step.latency_op,
        step.samples,
        step.refused_share * 100.0,
        step.unknown_share * 100.0,
        step.verdict.as_str(),
    )
}

fn rate_text(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_owned(), |rate| format!("{rate:.0}"))
}

/// `2026-12-03T17:04:05Z`.
pub fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
