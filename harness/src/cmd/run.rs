//! `stockproof run <SCENARIO|DIR>…`: runs each scenario end to end (`stockproof_harness::
//! run`), prints a verdict per scenario and the run folder, and exits with the worst
//! scenario's code. `--calibrate` measures the load generator's ceiling beside the
//! engine's rate instead.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use stockproof_engine::strategy::Strategy;
use stockproof_engine::variants::Variant;
use stockproof_harness::checks::window::WINDOW_CONTEXT_OPS;
use stockproof_harness::faults::FaultSpec;
use stockproof_harness::judge::render::verdict_text;
use stockproof_harness::latency::Latencies;
use stockproof_harness::load::progress::ProgressMode;
use stockproof_harness::plan::agent::AgentShare;
use stockproof_harness::report::units;
use stockproof_harness::resources::SAMPLE_INTERVAL_MIN;
use stockproof_harness::run::agent::{AgentOptions, parse_start_at, run_agent};
use stockproof_harness::run::calibrate::{CALIBRATION_RATIO_TARGET, calibrate};
use stockproof_harness::run::{
    RunOptions, RunOutcome, TargetChoice, fresh_seed, prepare, run_scenario,
};
use stockproof_harness::scenario::{Overrides, format_duration, parse_duration};
use stockproof_infra::Provider;

use crate::cmd::shared::{EXIT_INFRA, EXIT_OK, EXIT_USAGE, InfraArgs, load_line, strategy_for};

/// Exit codes from least to most serious: with several scenarios the run exits with the
/// most serious one (a violation beats everything: it is what the gate is for).
const EXIT_SEVERITY: [u8; 6] = [0, 5, 3, 2, 4, 1];

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Scenario files, or directories whose `*.toml` files are all run (in name order).
    #[arg(required = true, value_name = "SCENARIO|DIR")]
    scenarios: Vec<PathBuf>,

    /// Drive this service (speaking the HTTP contract, or the API its `--adapter`
    /// describes) instead of the reference engine in process; the black-box checks (C1,
    /// C3, C4, C6, C7, C8) apply, C2 and C5 are not applicable (they read the engine's
    /// stores).
    #[arg(long, value_name = "URL")]
    target: Option<String>,

    /// How to speak to `--target`: an adapter file (docs/adapters.md, examples in
    /// `adapters/`); default: the HTTP contract (`adapters/stockproof.toml`).
    #[arg(long, value_name = "FILE", requires = "target")]
    adapter: Option<PathBuf>,

    /// The target's Prometheus `/metrics` URL, sampled once a second during the load
    /// into `resources.jsonl` (default: the adapter's `metrics`, if it names one).
    #[arg(long, value_name = "URL", requires = "target")]
    metrics: Option<String>,

    /// Time between two samples of the target's resources (`resources.jsonl`).
    #[arg(long, value_name = "D", default_value = "1s", value_parser = sample_interval)]
    sample_interval: Duration,

    /// Seed of the plan (default: the scenario's `seed`, else a fresh one).
    #[arg(long)]
    seed: Option<u64>,

    /// Where run folders go.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    report_dir: PathBuf,

    /// Override the scenario's users (e.g. a short CI run).
    #[arg(long, value_name = "N")]
    users: Option<u32>,

    /// Override the scenario's duration (e.g. `5s`).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    duration: Option<Duration>,

    /// Override the scenario's stop with this many carts per user.
    #[arg(long, value_name = "N")]
    iterations: Option<u64>,

    /// Inject a fault, added to the scenario's `[[faults]]` (repeatable):
    /// `KIND[,key=value…][@WHEN]`, e.g. `redis-kill@5s`, `redis-pause,duration=1s@after=500`.
    #[arg(long = "fault", value_name = "SPEC", value_parser = FaultSpec::parse_cli)]
    faults: Vec<FaultSpec>,

    /// Measure the load generator's ceiling (this scenario against a no-op target in
    /// process) beside the scenario against the engine, and print both and the ratio.
    #[arg(long)]
    calibrate: bool,

    /// Serve a deliberately broken engine instead of the reference, to see the checks
    /// catch it (never the default; in process only). One of: check-then-act,
    /// no-idempotency, short-idempotency, ttl-expiry, double-release, stale-cart-lines,
    /// stale-read, sold-out-flag, phantom-hold, dual-write, lossy-ledger,
    /// non-idempotent-projection. The last three show only after a crash: add `--fault
    /// crash-between-writes@1s`, `--fault writer-crash-before-commit@1s` or `--fault
    /// writer-crash@1s` respectively. pg-no-guard breaks pg-row-lock (served without
    /// `--strategy`).
    #[arg(long, value_name = "NAME")]
    variant: Option<Variant>,

    /// The inventory design served in process: redis-lua (the reference), pg-row-lock
    /// or pg-optimistic (Postgres only: a fault on Redis falls on Postgres, one on the
    /// ledger writer is reported not applicable).
    #[arg(long, default_value_t = Strategy::default(), value_name = "NAME")]
    strategy: Strategy,

    /// Run the scenarios this many times, repetition r with seed + r (the way to hunt
    /// rare interleavings); stops at the first run that does not pass.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,

    /// With --repeat: go on after a run that does not pass (Ctrl-C still stops).
    #[arg(long, requires = "repeat")]
    keep_going: bool,

    /// Run as load agent I of N: the I-th share of the seeded plan (users I, I + N, …,
    /// the same seed on every agent) against `--target`, from `--start-at`. Agent 1
    /// seeds the stock; the merge (`stockproof merge`) takes the final reads and judges.
    #[arg(long, value_name = "I/N", value_parser = parse_agent,
          requires_all = ["start_at", "target"])]
    agent: Option<AgentShare>,

    /// With --agent: when every agent's load starts, an RFC 3339 instant (e.g.
    /// `2026-12-03T21:00:00Z`), computed once and passed to all; the agent waits for it.
    #[arg(long, value_name = "TIME", requires = "agent")]
    start_at: Option<String>,

    /// With --agent: the declared bound on how far this machine's clock may be from the
    /// other agents' (e.g. `5ms`), recorded in its folder; the merge widens every op's
    /// interval by it. Default: not declared; the folder records the clock's own error
    /// bound when NTP keeps it synchronised (adjtimex), which the merge then uses.
    #[arg(long, value_name = "D", value_parser = parse_duration, requires = "agent")]
    clock_skew: Option<Duration>,

    #[command(flatten)]
    infra: InfraArgs,
}

pub(crate) async fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let scenarios = match scenario_files(&args.scenarios) {
        Ok(scenarios) => scenarios,
        Err(error) => {
            eprintln!("stockproof: error: {error:#}");
            return Ok(EXIT_USAGE);
        }
    };
    if args.target.is_some() && args.strategy != Strategy::default() {
        eprintln!(
            "stockproof: error: --strategy chooses the engine served in process; drop --target"
        );
        return Ok(EXIT_USAGE);
    }
    if args.variant.is_some() && args.target.is_some() {
        eprintln!("stockproof: error: --variant serves a broken engine in process; drop --target");
        return Ok(EXIT_USAGE);
    }
    let mut options = options(args);
    options.strategy = match strategy_for(args.strategy, args.variant) {
        Ok(strategy) => strategy,
        Err(error) => {
            eprintln!("stockproof: error: {error}");
            return Ok(EXIT_USAGE);
        }
    };
    if args.calibrate {
        return run_calibration(&scenarios, &options).await;
    }
    if let Some(share) = args.agent {
        return run_as_agent(args, share, &scenarios, &options).await;
    }
    let mut worst = 0;
    let mut tally = RepeatTally::default();
    'repeats: for repeat in 0..args.repeat {
        for path in &scenarios {
            let mut options = options.clone();
            options.seed = repeat_seed(path, &options, repeat);
            let (code, interrupted) = match run_scenario(path, &options).await {
                Ok(outcome) => {
                    print_outcome(&outcome);
                    tally.add(&outcome);
                    (outcome.exit_code, outcome.info.interrupted)
                }
                Err(error) => {
                    eprintln!("stockproof: {}: error: {error}", path.display());
                    tally.add_error(path, options.seed);
                    (error.exit_code(), false)
                }
            };
            worst = most_serious(worst, code);
            // Ctrl-C ends the series; so does the first failure unless asked to go on.
            if interrupted || (code != EXIT_OK && !args.keep_going) {
                break 'repeats;
            }
        }
    }
    if args.repeat > 1 {
        tally.print(args.repeat, scenarios.len());
    } else if scenarios.len() > 1 {
        println!("stockproof: {} scenarios, exit {worst}", scenarios.len());
    }
    Ok(worst)
}

fn parse_agent(text: &str) -> Result<AgentShare, String> {
    AgentShare::parse(text).map_err(|error| error.reason)
}

/// `--agent I/N`: one scenario, once; prints what was recorded and where.
async fn run_as_agent(
    args: &RunArgs,
    share: AgentShare,
    scenarios: &[PathBuf],
    options: &RunOptions,
) -> anyhow::Result<u8> {
    let [path] = scenarios else {
        eprintln!(
            "stockproof: error: --agent runs one scenario (given {})",
            scenarios.len()
        );
        return Ok(EXIT_USAGE);
    };
    if args.repeat > 1 {
        eprintln!("stockproof: error: --agent runs once; drop --repeat");
        return Ok(EXIT_USAGE);
    }
    let text = args.start_at.as_deref().unwrap_or_default();
    let start_at = match parse_start_at(text, std::time::SystemTime::now()) {
        Ok(start_at) => start_at,
        Err(error) => {
            eprintln!("stockproof: error: {error}");
            return Ok(EXIT_USAGE);
        }
    };
    let agent = AgentOptions {
        share,
        start_at,
        clock_skew: args.clock_skew,
    };
    match run_agent(path, options, &agent).await {
        Ok(outcome) => {
            let counts = &outcome.counts;
            println!(
                "agent {share} of {} (seed {}, start {}): {} carts, {} ops ({} ok, {} fail, \
                 {} unknown); not judged alone: merge every agent's folder with \
                 `stockproof merge`",
                outcome.record.scenario,
                outcome.record.seed,
                outcome.record.start_at,
                counts.carts,
                counts.ops,
                counts.ok,
                counts.fail,
                counts.unknown
            );
            println!("folder: {}", outcome.folder.display());
            Ok(EXIT_OK)
        }
        Err(error) => {
            eprintln!("stockproof: {}: error: {error}", path.display());
            Ok(error.exit_code())
        }
    }
}

/// The seed of one repetition: repetition 0 runs the seed a single run would (the
/// flag's, else the scenario's, else a fresh one), repetition r that seed + r, so each
/// repetition explores another plan and any one is reproduced with `--seed`.
fn repeat_seed(path: &Path, options: &RunOptions, repeat: u32) -> Option<u64> {
    if repeat == 0 {
        return options.seed;
    }
    let base = options.seed.or_else(|| {
        prepare(path, &options.overrides)
            .ok()
            .and_then(|scenario| scenario.seed)
    });
    Some(
        base.unwrap_or_else(fresh_seed)
            .wrapping_add(u64::from(repeat)),
    )
}

/// What a series of runs (`--repeat`) came to: runs per exit code, and each run that
/// did not pass with its seed and folder.
#[derive(Debug, Default)]
struct RepeatTally {
    runs: u32,
    by_exit_code: std::collections::BTreeMap<u8, u32>,
    not_passed: Vec<String>,
}

impl RepeatTally {
    fn add(&mut self, outcome: &RunOutcome) {
        self.runs += 1;
        *self.by_exit_code.entry(outcome.exit_code).or_default() += 1;
        if outcome.exit_code != EXIT_OK {
            self.not_passed.push(format!(
                "{} seed {}: exit {} ({})",
                outcome.scenario.name,
                outcome.seed,
                outcome.exit_code,
                outcome.folder.display()
            ));
        }
    }

    fn add_error(&mut self, path: &Path, seed: Option<u64>) {
        self.runs += 1;
        *self.by_exit_code.entry(EXIT_INFRA).or_default() += 1;
        let seed = seed.map_or_else(|| "?".to_owned(), |seed| seed.to_string());
        self.not_passed
            .push(format!("{} seed {seed}: no verdict", path.display()));
    }

    fn print(&self, repeat: u32, scenarios: usize) {
        let codes: Vec<String> = self
            .by_exit_code
            .iter()
            .map(|(code, runs)| format!("{runs} exit {code}"))
            .collect();
        let planned = u64::from(repeat) * scenarios as u64;
        println!(
            "repeat: {} of {planned} planned runs done ({} scenario(s) x {repeat}): {}",
            self.runs,
            scenarios,
            codes.join(", ")
        );
        for line in &self.not_passed {
            println!("  not passed: {line}");
        }
    }
}

fn options(args: &RunArgs) -> RunOptions {
    let target = match &args.target {
        Some(url) => TargetChoice::External(url.clone()),
        None => {
            let mut config = args.infra.config();
            // Both URLs given and no provider asked for: run on those servers.
            if config.provider == Provider::Auto
                && config.external.redis_url.is_some()
                && config.external.database_url.is_some()
            {
                config.provider = Provider::External;
            }
            TargetChoice::InProcess(config)
        }
    };
    RunOptions {
        target,
        seed: args.seed,
        report_dir: args.report_dir.clone(),
        overrides: Overrides {
            users: args.users,
            duration: args.duration,
            iterations: args.iterations,
            faults: args.faults.clone(),
        },
        progress: ProgressMode::detect(),
        adapter: args.adapter.clone(),
        metrics: args.metrics.clone(),
        sample_interval: args.sample_interval,
        variant: args.variant,
        strategy: args.strategy,
    }
}

/// `--sample-interval`: a duration of at least [`SAMPLE_INTERVAL_MIN`].
fn sample_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_duration(text)?;
    if interval < SAMPLE_INTERVAL_MIN {
        return Err(format!(
            "at least {} (each sample queries the stores)",
            format_duration(SAMPLE_INTERVAL_MIN)
        ));
    }
    Ok(interval)
}

/// The scenario files named, directories expanded to their `*.toml` files.
fn scenario_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading scenario directory {}", path.display()))?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|file| file.extension().is_some_and(|ext| ext == "toml"))
                .collect();
            if found.is_empty() {
                anyhow::bail!("no scenario (*.toml) in {}", path.display());
            }
            found.sort();
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            anyhow::bail!("no scenario file or directory at {}", path.display());
        }
    }
    Ok(files)
}

fn most_serious(a: u8, b: u8) -> u8 {
    let rank = |code: u8| {
        EXIT_SEVERITY
            .iter()
            .position(|c| *c == code)
            .unwrap_or(EXIT_SEVERITY.len())
    };
    if rank(b) > rank(a) { b } else { a }
}

fn print_outcome(outcome: &RunOutcome) {
    let info = &outcome.info;
    let verdict = outcome.verdict.overall().as_str();
    println!(
        "{}: {} (exit {}), seed {}, report {}",
        info.scenario,
        verdict.to_uppercase(),
        outcome.exit_code,
        outcome.seed,
        outcome.folder.display()
    );
    println!("  target: {}", info.target);
    let load = &info.load;
    println!("{}", load_line(load));
    for fault in &info.faults {
        println!(
            "  fault {} ({}): {}",
            fault.description,
            fault.state(),
            fault.detail
        );
    }
    if let Some(loss_window) = &info.loss_window {
        println!("  {}", loss_window.describe());
    }
    if let Some(rate) = load.arrival_rate_per_s {
        println!(
            "  arrival rate {rate}/s: {} of {} intended starts late, {} dropped",
            load.late_starts, load.intended_starts, load.dropped_starts
        );
    }
    if info.interrupted {
        println!("  interrupted: the load was stopped early (Ctrl-C)");
    }
    if let Some(reason) = &info.target_silent {
        println!("  {reason}");
    }
    print_latencies(&outcome.latencies);
    for (step, count) in &info.unmatched_replies {
        println!(
            "  unmatched: {count} replies to `{step}` matched no rule of the adapter (recorded unknown)"
        );
    }
    for note in &info.quiesce {
        println!("  quiesce: {note}");
    }
    if let Some(error) = &info.snapshot_error {
        println!("  snapshot: not taken ({error}); white-box checks cannot judge");
    }
    print_verdicts(outcome);
}

fn print_latencies(latencies: &Latencies) {
    for (kind, op) in &latencies.ops {
        let h = &op.corrected;
        let human = |us: u64| units::duration_us(us as f64);
        println!(
            "  {kind}: {} ops, p50 {} p99 {} p99.9 {} max {}",
            h.len(),
            human(h.value_at_quantile(0.5)),
            human(h.value_at_quantile(0.99)),
            human(h.value_at_quantile(0.999)),
            human(h.max())
        );
    }
}

/// The verdict block, as `stockproof check` prints it for the same folder.
fn print_verdicts(outcome: &RunOutcome) {
    print!(
        "{}",
        verdict_text(&outcome.verdict, &outcome.history, WINDOW_CONTEXT_OPS)
    );
}

async fn run_calibration(scenarios: &[PathBuf], options: &RunOptions) -> anyhow::Result<u8> {
    let [path] = scenarios else {
        eprintln!("stockproof: error: --calibrate takes exactly one scenario");
        return Ok(EXIT_USAGE);
    };
    if matches!(options.target, TargetChoice::External(_)) {
        eprintln!("stockproof: error: --calibrate measures the in-process engine; drop --target");
        return Ok(EXIT_USAGE);
    }
    let calibration = match calibrate(Path::new(path), options).await {
        Ok(calibration) => calibration,
        Err(error) => {
            eprintln!("stockproof: {}: error: {error}", path.display());
            return Ok(EXIT_INFRA);
        }
    };
    print_outcome(&calibration.engine_run);
    let ratio = calibration.ratio();
    println!(
        "calibration: generator ceiling (no-op target) {:.0} ops/s ({} ops); engine {:.0} ops/s; \
         ratio {ratio:.2} ({} the target of {CALIBRATION_RATIO_TARGET})",
        calibration.ceiling_ops_per_s,
        calibration.ceiling_ops,
        calibration.engine_ops_per_s,
        if ratio >= CALIBRATION_RATIO_TARGET {
            "meets"
        } else {
            "below"
        }
    );
    Ok(calibration.engine_run.exit_code)
}
