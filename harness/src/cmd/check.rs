//! `stockproof check <RUN_DIR>`: judges a recorded run again — its `scenario.toml`,
//! `run.json`, `history.jsonl` and (if present) `snapshot.json` — with the one judge
//! (`stockproof_harness::judge`) that `stockproof run` used, prints the same verdict
//! lines, and exits with the same code (0 pass, 1 violation, 3 SLO missed,
//! 5 inconclusive; 2 when the folder cannot be read). `stockproof bench-checks` times the checkers on a synthetic
//! history.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use stockproof_harness::checks::Verdict;
use stockproof_harness::checks::window::WINDOW_CONTEXT_OPS;
use stockproof_harness::judge::render::verdict_text;
use stockproof_harness::judge::{RecordedRun, judge};
use stockproof_harness::latency::Latencies;
use stockproof_harness::run::folder;

use crate::cmd::shared::EXIT_USAGE;

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// A run folder written by `stockproof run` (scenario.toml, history.jsonl, snapshot.json).
    run_dir: PathBuf,
    /// Ops on the violation's SKU or reservation shown before the first and after the
    /// last op it names.
    #[arg(long, default_value_t = WINDOW_CONTEXT_OPS, value_name = "OPS")]
    window: usize,
}

#[derive(Debug, Args)]
pub(crate) struct BenchChecksArgs {
    /// Ops in the synthetic history.
    #[arg(long, default_value_t = 1_000_000)]
    ops: usize,
    /// Seed of the synthetic history.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub(crate) fn check(args: &CheckArgs) -> anyhow::Result<u8> {
    let run = match folder::read(&args.run_dir) {
        Ok(run) => run,
        Err(error) => {
            eprintln!("stockproof check: {error}");
            return Ok(EXIT_USAGE);
        }
    };
    let latencies = Latencies::from_history(&run.history);
    let verdict = judge(&RecordedRun {
        scenario: &run.scenario,
        info: &run.info,
        history: &run.history,
        snapshot: run.snapshot.as_ref(),
        latencies: &latencies,
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}: seed {}, target {}",
        run.info.scenario, run.info.seed, run.info.target
    )?;
    write!(
        stdout,
        "{}",
        verdict_text(&verdict, &run.history, args.window)
    )?;
    Ok(verdict.exit_code())
}

pub(crate) fn bench_checks(args: &BenchChecksArgs) -> anyhow::Result<u8> {
    anyhow::ensure!(args.ops > 0, "--ops must be at least 1");
    let report = stockproof_harness::bench::run(args.ops, args.seed);
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "synthetic history: {} ops, {} ledger events (seed {}), generated in {:.2} s",
        report.ops,
        report.ledger_events,
        args.seed,
        report.generate.as_secs_f64()
    )?;
    for check in &report.reports {
        writeln!(
            stdout,
            "  {} {}: {}",
            check.id.as_str(),
            check.title,
            check.verdict.as_str()
        )?;
    }
    writeln!(
        stdout,
        "checked C1-C6 in {:.2} s: {:.0} ops/s",
        report.check.as_secs_f64(),
        report.ops_per_s()
    )
    .context("writing the bench result")?;
    let all_pass = report
        .reports
        .iter()
        .all(|check| check.verdict == Verdict::Pass);
    // The synthetic engine is correct: anything but pass is a checker bug.
    Ok(if all_pass {
        0
    } else {
        stockproof_harness::checks::EXIT_VIOLATION
    })
}
