//! `stockproof merge RUN_DIR… --out DIR`: the load agents' folders of one plan
//! (`stockproof run --agent I/N`) merged into one run folder (`stockproof_harness::
//! merge`), judged by the one judge; prints the verdict lines `stockproof check DIR`
//! prints again, and exits with the verdict's code (2 when the folders are not the
//! agents of one plan, 4 when the target for the final reads cannot be reached, 5 when
//! an agent's history is cut short).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use stockproof_harness::checks::window::WINDOW_CONTEXT_OPS;
use stockproof_harness::judge::render::verdict_text;
use stockproof_harness::merge::{MergeOptions, merge};
use stockproof_harness::scenario::parse_duration;

use crate::cmd::shared::load_line;

#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// Every agent's run folder (written by `stockproof run --agent I/N`), in any order.
    #[arg(required = true, value_name = "RUN_DIR")]
    run_dirs: Vec<PathBuf>,

    /// The merged run folder to write (new or empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// The bound on how far the agents' clocks may be apart (e.g. `5ms`): every op's
    /// interval is widened by it on each side, so skew loosens the checks' bounds but
    /// never raises a false alarm. Default: the largest bound an agent declared, else
    /// the two largest of the agents' measured clock error bounds added (every clock
    /// NTP-synchronised), else 0 (stated in the report, not measured).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    clock_skew: Option<Duration>,

    /// The agents' target: after every agent is done, quiesce (wait past the latest
    /// hold's deadline) and take the final reads of every SKU once, here. Without it
    /// C6 has no final reads to judge (inconclusive).
    #[arg(long, value_name = "URL")]
    target: Option<String>,

    /// How to speak to `--target` (the agents' `--adapter`).
    #[arg(long, value_name = "FILE", requires = "target")]
    adapter: Option<PathBuf>,
}

pub(crate) async fn merge_cmd(args: &MergeArgs) -> anyhow::Result<u8> {
    let options = MergeOptions {
        folders: args.run_dirs.clone(),
        out: args.out.clone(),
        clock_skew: args.clock_skew,
        target: args.target.clone(),
        adapter: args.adapter.clone(),
    };
    let outcome = match merge(&options).await {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("stockproof merge: {error}");
            return Ok(error.exit_code());
        }
    };
    let info = &outcome.info;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}: {} (exit {}), seed {}, {} agents merged, report {}",
        info.scenario,
        outcome.verdict.overall().as_str().to_uppercase(),
        outcome.exit_code,
        info.seed,
        outcome.record.agents.len(),
        outcome.folder.display()
    )?;
    writeln!(stdout, "{}", load_line(&info.load))?;
    writeln!(
        stdout,
        "  clock skew: {} µs ({}); final reads: {}",
        outcome.record.clock_skew_us, outcome.record.clock_skew_source, outcome.record.final_reads
    )?;
    for note in &info.quiesce {
        writeln!(stdout, "  quiesce: {note}")?;
    }
    writeln!(
        stdout,
        "{}: seed {}, target {}",
        info.scenario, info.seed, info.target
    )?;
    write!(
        stdout,
        "{}",
        verdict_text(&outcome.verdict, &outcome.history, WINDOW_CONTEXT_OPS)
    )?;
    Ok(outcome.exit_code)
}
