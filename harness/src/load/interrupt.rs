//! Ctrl-C (and SIGTERM) routed into stockproof's own shutdown. goose installs a Ctrl-C
//! handler of its own when an attack starts; ours is installed first, so goose's attempt
//! fails (goose logs that and carries on) and the signal reaches us alone. The first
//! signal marks the run interrupted and trips goose's killswitch, so the load stops
//! gracefully (in-flight requests finish, bounded by the client timeout) and the run
//! still quiesces, checks and reports what ran. Later signals only say that a stop is
//! under way: every remaining step is bounded.
//!
//! Not here: what a stopped run reports (`crate::run`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first Ctrl-C or SIGTERM; never cleared (one run per process).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The outcome of installing the handler, once per process.
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

/// The killswitch reason goose records for an interrupted run.
pub const INTERRUPT_REASON: &str = "interrupted (Ctrl-C or SIGTERM)";

/// Why the handler could not be installed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("catching Ctrl-C: {0}")]
pub struct InterruptError(String);

/// Installs the handler (idempotent: later calls return the first call's outcome).
pub fn install() -> Result<(), InterruptError> {
    INSTALLED
        .get_or_init(|| ctrlc::set_handler(on_signal).map_err(|error| error.to_string()))
        .clone()
        .map_err(InterruptError)
}

/// Whether the run was interrupted.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn on_signal() {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        eprintln!("stockproof: already stopping; the remaining steps are bounded");
    } else {
        eprintln!(
            "stockproof: interrupted: stopping the load, then checking and reporting what ran"
        );
        goose::trigger_killswitch(INTERRUPT_REASON);
    }
}
