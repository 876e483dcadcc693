//! `stockproof-facade`: serves one of the test-tree inventory API shapes in front of a
//! running reference engine until Ctrl-C or SIGTERM. The first line on stdout is
//! `listening on http://ADDR` (tests and scripts/facade read it); logs go to stderr.
//!
//! ```text
//! stockproof-facade --shape order-no --engine http://127.0.0.1:8080 --listen 127.0.0.1:0 \
//!   [--database-url postgres://…] [--plant drift] [--hold-ttl-ms 900000]
//! ```
//!
//! Not here: the shapes themselves (the library's `order_no`, `product_rest`).

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use stockproof_facades::{FacadeConfig, HOLD_TTL_MS_DEFAULT, Plant, Shape};

/// Serve an inventory API shape of the test tree in front of the reference engine
#[derive(Debug, Parser)]
#[command(name = "stockproof-facade")]
struct Args {
    /// The API shape to serve
    #[arg(long, value_enum)]
    shape: Shape,
    /// The engine's base URL (`stockproof serve`)
    #[arg(long, value_name = "URL")]
    engine: String,
    /// Address to listen on (port 0: a free port, printed at start)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Keep a copy of the stock in this Postgres (table `inventory`, created if missing)
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Plant a bug (repeatable): ignore-order-no (order-no), drift (needs
    /// --database-url), release-leaks (product-rest)
    #[arg(long, value_enum)]
    plant: Vec<Plant>,
    /// The hold asked of the engine when the request names none (order-no always)
    #[arg(long, value_name = "MS", default_value_t = HOLD_TTL_MS_DEFAULT)]
    hold_ttl_ms: i64,
    /// Log filter (tracing syntax)
    #[arg(long, default_value = "warn,stockproof_facades=info")]
    log_level: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log_level))
        .with_writer(std::io::stderr)
        .init();
    let config = FacadeConfig {
        shape: args.shape,
        engine_url: args.engine,
        listen: args.listen,
        database_url: args.database_url,
        plants: args.plant,
        hold_ttl_ms: args.hold_ttl_ms,
    };
    let bound = stockproof_facades::bind(config)
        .await
        .context("starting the facade")?;
    let address = bound
        .listener
        .local_addr()
        .context("reading the bound address")?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on http://{address}").context("writing to stdout")?;
    stdout.flush().context("writing to stdout")?;
    axum::serve(bound.listener, bound.router)
        .with_graceful_shutdown(stop_signal())
        .await
        .context("serving")?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
