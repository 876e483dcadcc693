//! `stockproof serve`: an inventory strategy behind the HTTP contract (DESIGN §6):
//! the reference engine (`--strategy redis-lua`, the default) with the ledger writer,
//! the expiry sweeper and start-up recovery inside, or a Postgres-only strategy with
//! its sweeper (`stockproof_engine::service`). Redis and Postgres come from `--redis-url` and
//! `--database-url`, or from `--infra local|containers|auto`, which starts its own pair
//! for as long as the server runs. Stops in order on SIGINT or SIGTERM: stop accepting,
//! finish in-flight requests, stop the sweeper, drain the ledger writer, then stop the
//! pair it started.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;
use stockproof_engine::service::{Service, ServiceConfig};
use stockproof_engine::strategy::Strategy;
use stockproof_engine::variants::Variant;
use stockproof_infra::{Infra, Provider, ResolvedProvider};
use tokio::signal::unix::{SignalKind, signal};

use crate::cmd::shared::{EXIT_OK, EXIT_USAGE, InfraArgs, print_banner, strategy_for};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0: a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,

    /// The shop this server owns: its Redis keys are `sp:{SHOP}:…`.
    #[arg(long, default_value = "default")]
    shop: String,

    /// Serve a deliberately broken engine instead of the reference, to see the checks
    /// catch it (never the default). One of: check-then-act, no-idempotency,
    /// short-idempotency, ttl-expiry, double-release, stale-cart-lines, stale-read,
    /// sold-out-flag, phantom-hold, dual-write, lossy-ledger,
    /// non-idempotent-projection. The last three crash by themselves so
    /// that any load tool exposes them: dual-write skips every 50th Postgres write,
    /// the other two crash their ledger writer every 5 s. pg-no-guard breaks
    /// pg-row-lock (served without `--strategy`).
    #[arg(long, value_name = "NAME")]
    variant: Option<Variant>,

    /// The inventory design to serve: redis-lua (the reference), pg-row-lock or
    /// pg-optimistic (Postgres only: Redis is neither needed nor touched).
    #[arg(long, default_value_t = Strategy::default(), value_name = "NAME")]
    strategy: Strategy,

    #[command(flatten)]
    infra: InfraArgs,
}

pub(crate) async fn serve(args: &ServeArgs) -> anyhow::Result<u8> {
    let strategy = match strategy_for(args.strategy, args.variant) {
        Ok(strategy) => strategy,
        Err(error) => {
            eprintln!("stockproof: error: {error}");
            return Ok(EXIT_USAGE);
        }
    };
    let mut interrupt = signal(SignalKind::interrupt()).context("catching SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("catching SIGTERM")?;
    let mut config = args.infra.config();
    // Both URLs given and no provider asked for: serve those servers.
    if config.provider == Provider::Auto
        && config.external.redis_url.is_some()
        && config.external.database_url.is_some()
    {
        config.provider = Provider::External;
    }
    let infra = tokio::select! {
        started = Infra::start(&config) => started
            .with_context(|| format!("starting Redis and Postgres (provider {})", config.provider))?,
        _ = interrupt.recv() => return Ok(EXIT_OK),
        _ = terminate.recv() => return Ok(EXIT_OK),
    };
    let mut service_config =
        ServiceConfig::new(infra.redis_url(), infra.database_url(), &args.shop);
    service_config.listen = args.listen;
    service_config.variant = args.variant;
    service_config.strategy = strategy;
    let service = Service::start(service_config)
        .await
        .with_context(|| format!("starting the service on {}", args.listen))?;
    // The URLs of servers we started as `export` lines, so scripts (scripts/fuzz-api)
    // can reach them too, e.g. for `stockproof reconcile`. A user's own URLs may hold
    // passwords and are not echoed.
    let mut banner = String::new();
    if infra.provider() != ResolvedProvider::External {
        banner += &infra.export_lines();
    }
    let engine = match (args.variant, strategy) {
        (None, Strategy::RedisLua) => "reference".to_owned(),
        (None, strategy) => format!("strategy {strategy}"),
        (Some(variant), strategy) => format!("BROKEN variant {variant} of {strategy}"),
    };
    banner += &format!(
        "# stockproof serve: listening on http://{} (shop {}, provider {}, engine {engine})\n",
        service.local_addr(),
        args.shop,
        infra.provider()
    );
    if let Some(variant) = args.variant.filter(|variant| variant.needs_ledger()) {
        let crash = match variant.writer_crash() {
            Some(point) => format!(
                "its ledger writer crashes {} every {} ms and restarts",
                point.as_str(),
                stockproof_engine::service::VARIANT_WRITER_CRASH_EVERY_MS
            ),
            None => format!(
                "every {}th Postgres write is skipped, as a crash after the Redis write would",
                stockproof_engine::variants::DUAL_WRITE_CRASH_EVERY_DEFAULT
            ),
        };
        banner += &format!(
            "# {variant} crashes by itself under load: {crash}; `stockproof reconcile` shows the drift\n"
        );
    }
    print_banner(&banner);
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("signal received: draining");
    let report = service.shutdown().await.context("stopping the service")?;
    let written = match (&report.writer, &report.optimistic) {
        (Some(writer), _) => format!("{} ledger events written", writer.events_written),
        (None, Some(optimistic)) => format!(
            "ledger written in each request's transaction; {} optimistic conflicts, {} \
             retry budgets exhausted (refused with 503)",
            optimistic.conflicts, optimistic.exhausted
        ),
        (None, None) => "ledger written in each request's transaction".to_owned(),
    };
    eprintln!(
        "stockproof serve: stopped ({written}, {} reservations expired)",
        report.expired
    );
    infra
        .shutdown()
        .await
        .context("stopping Redis and Postgres")?;
    Ok(EXIT_OK)
}
