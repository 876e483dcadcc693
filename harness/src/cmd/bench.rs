//! `stockproof bench SCENARIO --slo 'reserve.p99<=25ms' [--strategy S]… [--target URL
//! [--adapter FILE]]`: the knee of each strategy (or of the service at a URL) within the
//! SLO with every invariant holding, beside the ceilings (`stockproof_harness::
//! capacity`); writes `reports/bench-<utc time>/` and, with `--compare`, gates on the
//! knees of an earlier bench.json.
//!
//! Exit codes: 0 measured; 1 a step broke an invariant; 3 (the SLO-missed code) a knee
//! fell by more than `--tolerance` against `--compare`; 4 no strategy could be run; 5
//! interrupted (the files hold what was measured); 2 bad input, naming the flag.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Args;
use stockproof_engine::strategy::Strategy;
use stockproof_harness::capacity::compare::{self, CompareError};
use stockproof_harness::capacity::stock::StockMode;
use stockproof_harness::capacity::{
    self, BenchRecord, BenchSettings, MAX_RATE_DEFAULT, START_RATE_DEFAULT, SearchEnd,
};
use stockproof_harness::checks::{EXIT_INCONCLUSIVE, EXIT_SLO_MISSED, EXIT_VIOLATION};
use stockproof_harness::load::progress::ProgressMode;
use stockproof_harness::run::folder::utc_stamp;
use stockproof_harness::run::{TargetChoice, prepare};
use stockproof_harness::scenario::{Overrides, Slo, parse_duration};

use crate::cmd::shared::{EXIT_INFRA, EXIT_OK, EXIT_USAGE, InfraArgs};

/// A capacity regression against `--compare`: the SLO is no longer met at the old knee.
pub(crate) const EXIT_CAPACITY_REGRESSION: u8 = EXIT_SLO_MISSED;
/// `--tolerance` and `--resolution` bounds: a fraction strictly between these.
const FRACTION_MIN: f64 = 0.0;
const FRACTION_MAX: f64 = 1.0;

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// The scenario whose carts each step offers at a fixed arrival rate.
    #[arg(value_name = "SCENARIO")]
    scenario: PathBuf,

    /// What a step must meet, in the scenario's SLO syntax (`reserve.p99<=25ms`,
    /// `error_rate<=0.1%`), judged on each step's measured window.
    #[arg(long, value_name = "SLO", value_parser = parse_slo)]
    slo: Slo,

    /// An inventory strategy to bench in process (repeatable; default redis-lua):
    /// redis-lua, pg-row-lock, pg-optimistic.
    #[arg(long = "strategy", value_name = "NAME", conflicts_with = "target",
          value_parser = parse_strategy)]
    strategies: Vec<Strategy>,

    /// Find the knee of this service (speaking the contract or its `--adapter`)
    /// instead; the black-box checks judge each step.
    #[arg(long, value_name = "URL")]
    target: Option<String>,

    /// How to speak to `--target` (docs/adapters.md).
    #[arg(long, value_name = "FILE", requires = "target")]
    adapter: Option<PathBuf>,

    /// First rate offered, carts/s.
    #[arg(long, value_name = "N", default_value_t = START_RATE_DEFAULT, value_parser = parse_rate)]
    start_rate: f64,

    /// Highest rate offered, carts/s.
    #[arg(long, value_name = "N", default_value_t = MAX_RATE_DEFAULT, value_parser = parse_rate)]
    max_rate: f64,

    /// Bisection stops when pass and fail are this close (`10%`).
    #[arg(long, value_name = "PCT", default_value = "10%", value_parser = parse_fraction)]
    resolution: f64,

    /// Each step's warm-up after the users' ramp, excluded from its figures.
    #[arg(long, value_name = "D", default_value = "2s",
          value_parser = parse_duration)]
    warmup: Duration,

    /// Longest measured hold of a step (a step aims at 10,000 carts within it).
    #[arg(long, value_name = "D", default_value = "8s",
          value_parser = parse_positive_duration)]
    step_time: Duration,

    /// How long each ceiling is measured.
    #[arg(long, value_name = "D", default_value = "3s",
          value_parser = parse_positive_duration)]
    ceiling_time: Duration,

    /// The whole bench's time; each strategy gets an equal share of what the ceilings
    /// leave, and stops stepping before overrunning it.
    #[arg(long, value_name = "D", default_value = "9m",
          value_parser = parse_positive_duration)]
    budget: Duration,

    /// Each step's stock: `sized` stocks every SKU to outlast the step at its offered
    /// rate (so a step measures sales, not refusals); `scenario` benches the
    /// scenario's own stock as it is (docs/bench.md).
    #[arg(long, value_name = "MODE", default_value = "sized", value_parser = parse_stock)]
    stock: StockMode,

    /// Seed of every step's plan (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,

    /// Where the bench folder goes.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    report_dir: PathBuf,

    /// Keep every step's run folder (default: only those of steps with a violation).
    #[arg(long)]
    keep_runs: bool,

    /// An earlier bench.json: exit 3 if any knee fell by more than `--tolerance`.
    #[arg(long, value_name = "FILE")]
    compare: Option<PathBuf>,

    /// How far a knee may fall against `--compare` (`10%`).
    #[arg(long, value_name = "PCT", default_value = "10%", value_parser = parse_fraction,
          requires = "compare")]
    tolerance: f64,

    #[command(flatten)]
    infra: InfraArgs,
}

pub(crate) async fn bench(args: &BenchArgs) -> anyhow::Result<u8> {
    let old = match args
        .compare
        .as_deref()
        .map(compare::read_record)
        .transpose()
    {
        Ok(old) => old,
        Err(error @ (CompareError::Unreadable { .. } | CompareError::NotBench { .. })) => {
            eprintln!("stockproof: error: {error}");
            return Ok(EXIT_USAGE);
        }
    };
    let scenario = match prepare(&args.scenario, &Overrides::default()) {
        Ok(scenario) if !scenario.faults.is_empty() => {
            eprintln!(
                "stockproof: error: SCENARIO {} injects faults; a bench measures capacity without them",
                args.scenario.display()
            );
            return Ok(EXIT_USAGE);
        }
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("stockproof: error: {error}");
            return Ok(EXIT_USAGE);
        }
    };
    if args.max_rate < args.start_rate {
        eprintln!("stockproof: error: --max-rate is below --start-rate");
        return Ok(EXIT_USAGE);
    }
    let settings = settings(args);
    println!("bench: folder {}", settings.folder.display());
    let record = capacity::run_bench(&args.scenario, &scenario, &settings).await;
    capacity::output::write(&settings.folder, &record)?;
    print!("{}", knees_text(&record));
    println!(
        "bench: wrote bench.json, bench.md, bench.html in {}",
        settings.folder.display()
    );
    let regressed = old.is_some_and(|old| gate(&old, &record, args.tolerance));
    Ok(exit_code(&record, regressed))
}

fn settings(args: &BenchArgs) -> BenchSettings {
    let target = match &args.target {
        Some(url) => TargetChoice::External(url.clone()),
        None => TargetChoice::InProcess(args.infra.config()),
    };
    let mut strategies: Vec<Strategy> = Vec::new();
    for strategy in &args.strategies {
        if !strategies.contains(strategy) {
            strategies.push(*strategy);
        }
    }
    if strategies.is_empty() {
        strategies.push(Strategy::default());
    }
    BenchSettings {
        slo: args.slo.clone(),
        strategies,
        target,
        adapter: args.adapter.clone(),
        start_rate_per_s: args.start_rate,
        max_rate_per_s: args.max_rate,
        resolution: args.resolution,
        warmup: args.warmup,
        step_time: args.step_time,
        ceiling_time: args.ceiling_time,
        budget: args.budget,
        seed: args.seed,
        stock: args.stock,
        folder: args
            .report_dir
            .join(format!("bench-{}", utc_stamp(SystemTime::now()))),
        keep_runs: args.keep_runs,
        progress: ProgressMode::detect(),
    }
}

/// The knees side by side, as the terminal shows them.
fn knees_text(record: &BenchRecord) -> String {
    let mut text = String::new();
    for strategy in &record.strategies {
        let knee = strategy
            .knee_carts_per_s
            .map_or("no knee".to_owned(), |knee| {
                format!("knee {knee:.0} carts/s")
            });
        let ratios = [
            ("load generator", strategy.ratios.load_generator),
            ("Redis script", strategy.ratios.redis_reserve_script),
            ("Postgres UPDATE", strategy.ratios.postgres_guarded_update),
        ]
        .iter()
        .filter_map(|(name, ratio)| ratio.map(|ratio| format!("{ratio:.2} of the {name}")))
        .collect::<Vec<_>>()
        .join(", ");
        let refused = strategy.knee_refused_share.map_or(String::new(), |share| {
            format!(", {:.1} % of reserves refused there", share * 100.0)
        });
        text.push_str(&format!(
            "{}: {knee}{refused} ({}, {} steps){}{}\n",
            strategy.strategy,
            strategy.end.as_str(),
            strategy.steps.len(),
            if ratios.is_empty() {
                String::new()
            } else {
                format!("; {ratios}")
            },
            strategy
                .note
                .as_deref()
                .map_or(String::new(), |note| format!("; {note}")),
        ));
    }
    text
}

/// Prints old vs new per strategy; whether any knee fell past the tolerance.
fn gate(old: &BenchRecord, new: &BenchRecord, tolerance: f64) -> bool {
    let changes = compare::compare(old, new, tolerance);
    println!(
        "compare: knees against {} (tolerance {:.0} %)",
        old.started_at,
        tolerance * 100.0
    );
    for change in &changes {
        println!("  {}", change.line(tolerance));
    }
    changes.iter().any(|change| change.regressed)
}

fn exit_code(record: &BenchRecord, regressed: bool) -> u8 {
    let ended = |end: SearchEnd| record.strategies.iter().any(|strategy| strategy.end == end);
    if ended(SearchEnd::Violation) {
        EXIT_VIOLATION
    } else if regressed {
        EXIT_CAPACITY_REGRESSION
    } else if record.interrupted {
        EXIT_INCONCLUSIVE
    } else if !record.strategies.is_empty()
        && record
            .strategies
            .iter()
            .all(|strategy| strategy.end == SearchEnd::Error)
    {
        EXIT_INFRA
    } else {
        EXIT_OK
    }
}

fn parse_stock(text: &str) -> Result<StockMode, String> {
    StockMode::parse(text).ok_or_else(|| format!("expected `sized` or `scenario`, got `{text}`"))
}

fn parse_slo(text: &str) -> Result<Slo, String> {
    text.parse()
}

fn parse_strategy(text: &str) -> Result<Strategy, String> {
    text.parse()
        .map_err(|error: stockproof_engine::strategy::UnknownStrategy| error.to_string())
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= capacity::search::SEARCH_RATE_MIN_PER_S => Ok(rate),
        _ => Err(format!(
            "expected carts/s of at least {}, got `{text}`",
            capacity::search::SEARCH_RATE_MIN_PER_S
        )),
    }
}

/// `10%` or `10` (a percentage) → 0.1, strictly between 0 % and 100 %.
fn parse_fraction(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(percent) if percent / 100.0 > FRACTION_MIN && percent / 100.0 < FRACTION_MAX => {
            Ok(percent / 100.0)
        }
        _ => Err(format!(
            "expected a percentage above 0 % and below 100 % (e.g. `10%`), got `{text}`"
        )),
    }
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        duration if duration.is_zero() => Err("must be longer than 0".to_owned()),
        duration => Ok(duration),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use stockproof_harness::capacity::{
        BUDGET_DEFAULT, CEILING_TIME_DEFAULT, RESOLUTION_DEFAULT, STEP_TIME_DEFAULT, WARMUP_DEFAULT,
    };

    use super::BenchArgs;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn the_defaults_are_the_library_s_and_bad_fractions_are_refused() {
        let parsed = Wrapper::try_parse_from(["bench", "s.toml", "--slo", "reserve.p99<=25ms"])
            .unwrap()
            .bench;
        assert_eq!(parsed.warmup, WARMUP_DEFAULT);
        assert_eq!(parsed.step_time, STEP_TIME_DEFAULT);
        assert_eq!(parsed.ceiling_time, CEILING_TIME_DEFAULT);
        assert_eq!(parsed.budget, BUDGET_DEFAULT);
        assert_eq!(parsed.resolution, RESOLUTION_DEFAULT);
        for bad in ["0%", "100%", "-5", "ten"] {
            assert!(super::parse_fraction(bad).is_err(), "{bad}");
        }
        assert_eq!(super::parse_fraction("12.5%"), Ok(0.125));
    }
}
