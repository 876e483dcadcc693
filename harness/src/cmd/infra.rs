//! `stockproof infra up`: a user's quickest way to a scratch Redis + Postgres pair.
//! Starts both, prints the URLs and `export` lines on stdout (so `eval` works), keeps
//! them until Ctrl-C or SIGTERM, then stops them and removes their files.

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use crate::cmd::shared::{EXIT_OK, InfraArgs, print_banner};

pub(crate) async fn up(args: &InfraArgs) -> anyhow::Result<u8> {
    // Signals are caught before the servers start, so a Ctrl-C during start-up also
    // goes through the orderly stop below instead of killing us mid-way.
    let mut interrupt = signal(SignalKind::interrupt()).context("catching SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("catching SIGTERM")?;
    let config = args.config();
    let infra = tokio::select! {
        started = stockproof_infra::Infra::start(&config) => started
            .with_context(|| format!("starting Redis and Postgres (provider {})", config.provider))?,
        _ = interrupt.recv() => return Ok(EXIT_OK),
        _ = terminate.recv() => return Ok(EXIT_OK),
    };
    let mut banner = format!(
        "# provider {} (Redis AOF {}), ready in {} ms\n",
        infra.provider(),
        config.aof,
        infra.ready_in().as_millis()
    );
    if let Some(local) = infra.local() {
        banner += &format!("# data and logs in {}\n", local.session_dir().display());
    }
    banner += &infra.export_lines();
    banner += "# press Ctrl-C to stop both and remove their data\n";
    print_banner(&banner);

    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    infra
        .shutdown()
        .await
        .context("stopping Redis and Postgres")?;
    eprintln!("stockproof: stopped Redis and Postgres");
    Ok(EXIT_OK)
}
