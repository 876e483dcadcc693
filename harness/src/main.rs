//! `stockproof`: the command line. Parses arguments (clap), sets up logging, runs the
//! subcommand and maps its outcome to the exit codes of DESIGN §7 (0 pass, 1 violation,
//! 2 usage, 3 SLO missed, 4 infrastructure failure, 5 inconclusive).

// One binary drives the load and serves the engine in the same process, both
// allocation-heavy (HTTP bodies, JSON, history records); glibc malloc/free took ~17% of
// the CPU in a profile of a calibrate run, mimalloc takes far less. Heap profilers that
// hook malloc (heaptrack) need the system allocator: `--no-default-features`.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(&cli.log_level, &cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("stockproof: starting the async runtime: {error}");
            return ExitCode::from(cmd::shared::EXIT_INFRA);
        }
    };
    let outcome = runtime.block_on(cli::run(cli));
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("stockproof: error: {error:#}");
            ExitCode::from(cmd::shared::EXIT_INFRA)
        }
    }
}

fn init_logging(level: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STOCKPROOF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
