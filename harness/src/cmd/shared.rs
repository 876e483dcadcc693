//! What every subcommand shares, and nothing else: the infrastructure flags
//! ([`InfraArgs`]), the exit codes and the banner writer. A leaf: it imports nothing
//! from the dispatcher (`crate::cli`) or from other commands, so commands depend on it
//! and never on each other.

use clap::Args;
use stockproof_engine::strategy::Strategy;
use stockproof_engine::variants::Variant;
use stockproof_infra::{
    AofPolicy, ContainerOptions, DEFAULT_POSTGRES_IMAGE, DEFAULT_REDIS_IMAGE, ExternalOptions,
    InfraConfig, LocalOptions, Provider,
};

pub(crate) use stockproof_harness::checks::{EXIT_INFRA, EXIT_PASS as EXIT_OK, EXIT_USAGE};

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

/// The strategy to serve: `--strategy`, or, when only `--variant` is given, the
/// strategy that variant breaks. Err: a variant of another strategy than the one asked.
pub(crate) fn strategy_for(
    strategy: Strategy,
    variant: Option<Variant>,
) -> Result<Strategy, String> {
    match variant {
        Some(variant) if strategy == Strategy::default() => Ok(variant.strategy()),
        Some(variant) if variant.strategy() != strategy => Err(format!(
            "--variant {variant} breaks strategy {}, not {strategy}; drop --strategy",
            variant.strategy()
        )),
        _ => Ok(strategy),
    }
}

/// The load line of a run's or a merge's report on the terminal.
pub(crate) fn load_line(load: &stockproof_harness::judge::record::LoadFigures) -> String {
    format!(
        "  load: {} ops ({} ok, {} fail, {} unknown) in {:.1} s, {:.0} ops/s, {} users",
        load.ops,
        load.ok,
        load.fail,
        load.unknown,
        load.duration_ms as f64 / 1000.0,
        load.ops_per_s,
        load.users
    )
}
