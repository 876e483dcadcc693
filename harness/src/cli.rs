//! The subcommands and their flags. Each subcommand lives in its own module; this one
//! only declares the interface and dispatches.

use clap::{Args, Parser, Subcommand};
use stockproof_infra::{
    AofPolicy, ContainerOptions, DEFAULT_POSTGRES_IMAGE, DEFAULT_REDIS_IMAGE, ExternalOptions,
    InfraConfig, LocalOptions, Provider,
};

use crate::check_cmd;
use crate::infra_cmd;
use crate::reconcile_cmd;
use crate::replay_cmd;
use crate::run_cmd;
use crate::selftest_cmd;
use crate::serve_cmd;

/// The run succeeded (no violation, every SLO met).
pub(crate) const EXIT_OK: u8 = 0;
/// Redis, Postgres or the engine could not be started or reached.
pub(crate) const EXIT_INFRA: u8 = 4;

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
    Serve(serve_cmd::ServeArgs),
    /// Run scenarios end to end: load, checks, report; exit 0 pass, 1 violation,
    /// 2 usage or scenario error, 3 SLO missed, 4 infrastructure failure, 5 inconclusive.
    Run(run_cmd::RunArgs),
    /// Reserve throughput and latency of the Redis Lua engine vs a bare client.
    EngineBench(crate::engine_bench::EngineBenchArgs),
    /// Compare Redis with the Postgres ledger and projections; exit 1 on drift.
    Reconcile(reconcile_cmd::ReconcileArgs),
    /// Run every deliberately broken engine variant against the scenario that should
    /// expose it, and the reference against them all; exit 0 only if all are as expected.
    Selftest(selftest_cmd::SelftestArgs),
    /// Re-run the checks on a recorded run folder; exits with the run's code.
    Check(check_cmd::CheckArgs),
    /// Re-send a recorded run's operations one at a time, in invoke order, and compare
    /// each reply with the recorded one.
    Replay(replay_cmd::ReplayArgs),
    /// Time the checkers on a synthetic history and print ops/s.
    BenchChecks(check_cmd::BenchChecksArgs),
}

#[derive(Debug, Subcommand)]
enum InfraCommand {
    /// Start Redis and Postgres, print their URLs, keep them until Ctrl-C.
    Up(InfraArgs),
}

/// Where Redis and Postgres come from; shared by every subcommand that needs them.
#[derive(Debug, Args)]
pub(crate) struct InfraArgs {
    /// auto: containers if a Docker daemon answers and the images exist, else local.
    #[arg(long, alias = "infra", default_value = "auto", value_parser = parse_provider)]
    provider: Provider,

    /// Redis persistence: off (none), or AOF with appendfsync no | everysec | always.
    #[arg(long, default_value = "everysec", value_parser = parse_aof)]
    aof: AofPolicy,

    /// `redis-server` for the local provider (default: found on PATH).
    #[arg(long, value_name = "PATH")]
    redis_server: Option<std::path::PathBuf>,

    /// Directory with `initdb` and `postgres` for the local provider (default:
    /// `pg_config --bindir`, else /usr/lib/postgresql/*/bin).
    #[arg(long, value_name = "DIR")]
    postgres_bin_dir: Option<std::path::PathBuf>,

    /// Postgres fsync for the local provider (off is safe against process crashes only).
    #[arg(long, default_value = "on", value_name = "on|off", value_parser = parse_on_off,
          action = clap::ArgAction::Set)]
    postgres_fsync: bool,

    /// Redis image for the containers provider.
    #[arg(long, default_value = DEFAULT_REDIS_IMAGE, value_name = "NAME:TAG")]
    redis_image: String,

    /// Postgres image for the containers provider.
    #[arg(long, default_value = DEFAULT_POSTGRES_IMAGE, value_name = "NAME:TAG")]
    postgres_image: String,

    /// Redis of the external provider.
    #[arg(long, env = "REDIS_URL", value_name = "URL")]
    redis_url: Option<String>,

    /// Postgres of the external provider.
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,

    /// External provider only: FLUSHDB the given Redis database and drop the `public`
    /// schema of the given Postgres database before use. Destroys data.
    #[arg(long)]
    flush_external: bool,
}

impl InfraArgs {
    pub(crate) fn config(&self) -> InfraConfig {
        InfraConfig {
            provider: self.provider,
            aof: self.aof,
            local: LocalOptions {
                redis_server: self.redis_server.clone(),
                postgres_bin_dir: self.postgres_bin_dir.clone(),
                postgres_fsync: self.postgres_fsync,
            },
            containers: ContainerOptions {
                redis_image: self.redis_image.clone(),
                postgres_image: self.postgres_image.clone(),
            },
            external: ExternalOptions {
                redis_url: self.redis_url.clone(),
                database_url: self.database_url.clone(),
                flush: self.flush_external,
            },
        }
    }
}

fn parse_provider(text: &str) -> Result<Provider, String> {
    text.parse()
}

fn parse_aof(text: &str) -> Result<AofPolicy, String> {
    text.parse()
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("expected `on` or `off`, got `{other}`")),
    }
}

/// Prints a long-running command's banner (URLs, address) in one write. A reader that
/// took what it needed and closed the pipe (`| head`, a test, a script) must not take
/// the servers down with it: the failure is said on stderr and the command serves on.
pub(crate) fn print_banner(banner: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush())
    {
        eprintln!("stockproof: could not write to stdout ({error}); serving anyway");
    }
}

pub(crate) async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Infra(InfraCommand::Up(args)) => infra_cmd::up(&args).await,
        Command::Serve(args) => serve_cmd::serve(&args).await,
        Command::Run(args) => run_cmd::run(&args).await,
        Command::EngineBench(args) => crate::engine_bench::run(&args).await,
        Command::Reconcile(args) => reconcile_cmd::reconcile(&args).await,
        Command::Selftest(args) => selftest_cmd::selftest(&args).await,
        Command::Check(args) => check_cmd::check(&args),
        Command::Replay(args) => replay_cmd::replay(&args).await,
        Command::BenchChecks(args) => check_cmd::bench_checks(&args),
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
