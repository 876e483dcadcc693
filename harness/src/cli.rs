//! The command line: the subcommands and the global flags, and the dispatch to the
//! subcommands' modules under `crate::cmd`. Nothing here is imported back by them.

use clap::{Parser, Subcommand};

use crate::cmd::shared::InfraArgs;
use crate::cmd::{
    bench, check, engine_bench, infra, merge, probe, reconcile, replay, run, selftest, serve,
};

#[derive(Debug, Parser)]
#[command(
    name = "stockproof",
    version,
    about = "Proves that an inventory system never oversells",
    long_about = "Proves that an inventory system never oversells: starts real Redis and \
                  Postgres, drives the service with load scenarios, records every operation \
                  and checks the invariants.\n\nExit codes: 0 pass, 1 invariant violated, \
                  2 usage or scenario error, 3 SLO missed, 4 infrastructure failure, \
                  5 inconclusive."
)]
pub(crate) struct Cli {
    /// Log filter (tracing syntax), overridden by STOCKPROOF_LOG.
    #[arg(
        long,
        global = true,
        default_value = "warn,stockproof=info,stockproof_infra=info"
    )]
    pub(crate) log_level: String,

    /// Log lines as human text or as JSON objects (one per line).
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    pub(crate) log_format: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scratch Redis + Postgres pairs.
    #[command(subcommand)]
    Infra(InfraCommand),
    /// Serve the reference engine over the HTTP contract until Ctrl-C or SIGTERM.
    Serve(serve::ServeArgs),
    /// Run scenarios end to end: load, checks, report; exit 0 pass, 1 violation,
    /// 2 usage or scenario error, 3 SLO missed, 4 infrastructure failure, 5 inconclusive.
    Run(run::RunArgs),
    /// The knee: the highest arrival rate each strategy (or `--target`) sustains within
    /// an SLO with every invariant holding, beside the ceilings; writes
    /// reports/bench-<utc time>/. Exit 0 measured, 1 a step broke an invariant, 3 a knee
    /// fell past --tolerance against --compare, 2 bad input, 4 nothing could run, 5
    /// interrupted.
    Bench(bench::BenchArgs),
    /// Reserve throughput and latency of the Redis Lua engine vs a bare client.
    EngineBench(engine_bench::EngineBenchArgs),
    /// Compare Redis with the Postgres ledger and projections; exit 1 on drift.
    Reconcile(reconcile::ReconcileArgs),
    /// Run every deliberately broken engine variant against the scenario that should
    /// expose it, and the reference against them all; exit 0 only if all are as expected.
    Selftest(selftest::SelftestArgs),
    /// Re-run the checks on a recorded run folder; exits with the run's code.
    Check(check::CheckArgs),
    /// Merge the run folders of load agents of one plan (`run --agent I/N`) into one
    /// run folder, judged once: exit codes as `run`'s.
    Merge(merge::MergeArgs),
    /// Re-send a recorded run's operations one at a time, in invoke order, and compare
    /// each reply with the recorded one.
    Replay(replay::ReplayArgs),
    /// Time the checkers on a synthetic history and print ops/s.
    BenchChecks(check::BenchChecksArgs),
    /// Try an adapter against a service on a fresh SKU: each scripted op's requests,
    /// replies and classification, and whether it means what the contract means; exit
    /// 1 naming what to fix.
    Probe(probe::ProbeArgs),
}

#[derive(Debug, Subcommand)]
enum InfraCommand {
    /// Start Redis and Postgres, print their URLs, keep them until Ctrl-C.
    Up(InfraArgs),
}

pub(crate) async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Infra(InfraCommand::Up(args)) => infra::up(&args).await,
        Command::Serve(args) => serve::serve(&args).await,
        Command::Run(args) => run::run(&args).await,
        Command::Bench(args) => bench::bench(&args).await,
        Command::EngineBench(args) => engine_bench::run(&args).await,
        Command::Reconcile(args) => reconcile::reconcile(&args).await,
        Command::Selftest(args) => selftest::selftest(&args).await,
        Command::Check(args) => check::check(&args),
        Command::Merge(args) => merge::merge_cmd(&args).await,
        Command::Replay(args) => replay::replay(&args).await,
        Command::BenchChecks(args) => check::bench_checks(&args),
        Command::Probe(args) => probe::probe(&args).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command, InfraCommand};

    fn postgres_fsync(flags: &[&str]) -> Result<bool, String> {
        let args = ["stockproof", "infra", "up"].iter().chain(flags);
        match Cli::try_parse_from(args)
            .map_err(|error| error.to_string())?
            .command
        {
            Command::Infra(InfraCommand::Up(infra)) => Ok(infra.config().local.postgres_fsync),
            _ => unreachable!("parsed `infra up`"),
        }
    }

    #[test]
    fn postgres_fsync_takes_on_or_off_and_defaults_to_on() {
        assert_eq!(postgres_fsync(&[]), Ok(true));
        assert_eq!(postgres_fsync(&["--postgres-fsync", "off"]), Ok(false));
        assert_eq!(postgres_fsync(&["--postgres-fsync=on"]), Ok(true));
        let error = postgres_fsync(&["--postgres-fsync", "maybe"]).unwrap_err();
        assert!(
            error.contains("expected `on` or `off`, got `maybe`"),
            "{error}"
        );
    }
}
