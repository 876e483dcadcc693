//! `stockproof check <RUN_DIR>`: judges a recorded run again — its `scenario.toml`,
//! `run.json`, `history.jsonl.zst` (or an older folder's `history.jsonl`) and (if
//! present) `snapshot.json` — with the one judge
//! (`stockproof_harness::judge`) that `stockproof run` used, prints the same verdict
//! lines, and exits with the same code (0 pass, 1 violation, 3 SLO missed,
//! 5 inconclusive; 2 when the folder cannot be read). `stockproof bench-checks` times the checkers on a synthetic
//! history.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use stockproof_harness::bench::{self, BenchReport};
use stockproof_harness::checks::window::WINDOW_CONTEXT_OPS;
use stockproof_harness::checks::{CheckId, Verdict};
use stockproof_harness::judge::render::verdict_text;
use stockproof_harness::judge::{RecordedRun, judge};
use stockproof_harness::latency::Latencies;
use stockproof_harness::merge::{self, FolderKind};
use stockproof_harness::run::folder;

use crate::cmd::shared::EXIT_USAGE;

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// A run folder written by `stockproof run` (scenario.toml, history.jsonl.zst, snapshot.json).
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
    let widening_us = match merge::folder_kind(&args.run_dir) {
        Ok(FolderKind::Run) => 0,
        Ok(FolderKind::Merged { widening_us }) => widening_us,
        Ok(FolderKind::Agent(agent)) => {
            eprintln!(
                "stockproof check: {} holds agent {}/{}'s share of the load, not judged alone \
                 (its checks would miss the other agents' ops): merge every agent's folder \
                 with `stockproof merge RUN_DIR… --out DIR`, then check DIR",
                args.run_dir.display(),
                agent.agent,
                agent.agents
            );
            return Ok(EXIT_USAGE);
        }
        Err(error) => {
            eprintln!("stockproof check: {error}");
            return Ok(EXIT_USAGE);
        }
    };
    let run = match folder::read(&args.run_dir) {
        Ok(run) => run,
        Err(error) => {
            eprintln!("stockproof check: {error}");
            return Ok(EXIT_USAGE);
        }
    };
    // A merged folder's intervals were widened for clock skew; latencies are not.
    let latencies = Latencies::from_widened_history(&run.history, widening_us);
    let verdict = judge(&RecordedRun {
        criteria: &run.scenario.criteria(),
        info: &run.info,
        history: &run.history,
        snapshot: run.snapshot.as_ref(),
        stores: run.stores.as_ref(),
        latencies: &latencies,
        resources: run.resources.as_ref(),
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
    let started = std::time::Instant::now();
    let (history, snapshot) = bench::synthetic(args.ops, args.seed);
    let report = bench::judge(&history, &snapshot, started.elapsed());
    let mut stdout = std::io::stdout().lock();
    print_bench(&mut stdout, args.seed, &report).context("writing the bench result")?;
    let path =
        std::env::temp_dir().join(format!("stockproof-bench-{}.jsonl.zst", std::process::id()));
    let read_back = bench::read_back(&history, &path);
    // The file is only for timing; a failure to remove it leaves a temp file behind.
    let _ = std::fs::remove_file(&path);
    let read_back = read_back.context("writing and reading back the synthetic history")?;
    writeln!(
        stdout,
        "history.jsonl.zst of {:.1} MB: written in {:.2} s, read back (read_history) in {:.2} s",
        read_back.bytes as f64 / 1e6,
        read_back.write.as_secs_f64(),
        read_back.read.as_secs_f64()
    )?;
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

fn print_bench(out: &mut impl Write, seed: u64, report: &BenchReport) -> std::io::Result<()> {
    writeln!(
        out,
        "synthetic history: {} ops, {} ledger events (seed {seed}), generated in {:.2} s",
        report.ops,
        report.ledger_events,
        report.generate.as_secs_f64()
    )?;
    writeln!(out, "  index: {:.3} s", report.index.as_secs_f64())?;
    for (check, (id, elapsed)) in report.reports.iter().zip(&report.checks) {
        if *id == CheckId::C7 {
            writeln!(
                out,
                "  stock model (C7, C8): {:.3} s",
                report.stock_model.as_secs_f64()
            )?;
        }
        writeln!(
            out,
            "  {} {}: {} in {:.3} s",
            id.as_str(),
            check.title,
            check.verdict.as_str(),
            elapsed.as_secs_f64()
        )?;
    }
    let first = report.checks.first().map_or("C1", |(id, _)| id.as_str());
    let last = report.checks.last().map_or("C1", |(id, _)| id.as_str());
    writeln!(
        out,
        "checked {first}-{last} in {:.2} s: {:.0} ops/s",
        report.check.as_secs_f64(),
        report.ops_per_s()
    )?;
    writeln!(
        out,
        "latencies in {:.3} s, coverage goals in {:.3} s",
        report.latencies.as_secs_f64(),
        report.coverage.as_secs_f64()
    )
}
