//! `stockproof replay <RUN_DIR>`: re-sends a recorded run's operations
//! (`history.jsonl.zst`) in their recorded invoke order with one client, against `--target
//! URL` or a fresh engine on the provider (as `stockproof run` starts one: the variant
//! the run served, `run.json`, unless `--variant` says otherwise), and prints each op
//! with its recorded and replayed outcome, `!` marking the ones that differ. The fresh
//! engine starts empty: the run's seeding restocks are the history's first ops, so the
//! replay seeds it with the scenario's initial stock. `--until OP` stops after that op,
//! `--step` waits for Enter before each one. At the end it prints the recording's
//! verdict and the replay's, both from the one judge (`stockproof_harness::judge`).
//! Exit 0 when the replay ran (differences are what it is for), 2 for a folder that is
//! not a run, 4 when the target is down.
//!
//! Not here: ordering, id mapping and comparing (`stockproof_harness::replay`).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use stockproof_engine::strategy::Strategy;
use stockproof_engine::variants::Variant;
use stockproof_harness::adapter::{self, Adapter, Bound};
use stockproof_harness::checks::CheckId;
use stockproof_harness::checks::window::WINDOW_CONTEXT_OPS;
use stockproof_harness::history::{History, HistoryEntry, Op};
use stockproof_harness::judge::record::RunInfo;
use stockproof_harness::judge::render::verdict_text;
use stockproof_harness::judge::{RecordedRun, judge};
use stockproof_harness::latency::Latencies;
use stockproof_harness::replay::{Replayer, invoke_order, reply_text};
use stockproof_harness::run::SETUP_TIMEOUT;
use stockproof_harness::run::folder::{self, RunFolder};
use stockproof_harness::run::target::{self, Target};

use crate::cmd::shared::{EXIT_INFRA, EXIT_USAGE, InfraArgs};

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// A run folder written by `stockproof run` (history.jsonl.zst, scenario.toml, run.json).
    run_dir: PathBuf,

    /// Replay against this service (speaking the HTTP contract, or its adapter's API)
    /// instead of a fresh engine; it should start empty, as the replay sends the run's
    /// seeding restocks.
    #[arg(long, value_name = "URL")]
    target: Option<String>,

    /// How to speak to `--target` (docs/adapters.md); default: the HTTP contract.
    #[arg(long, value_name = "FILE", requires = "target")]
    adapter: Option<PathBuf>,

    /// Stop after this op (its id in the history).
    #[arg(long, value_name = "OP")]
    until: Option<u64>,

    /// Wait for Enter before each op (`q` then Enter stops).
    #[arg(long)]
    step: bool,

    /// The fresh engine's variant (default: the one the run served, from run.json;
    /// `reference` for the reference engine).
    #[arg(long, value_name = "NAME")]
    variant: Option<String>,

    #[command(flatten)]
    infra: InfraArgs,
}

/// What the folder holds, read before anything is started.
struct Recording {
    run: RunFolder,
    variant: Option<Variant>,
    /// The strategy the run served (run.json; the reference when it names none).
    strategy: Strategy,
}

pub(crate) async fn replay(args: &ReplayArgs) -> anyhow::Result<u8> {
    let recording = match read_recording(&args.run_dir, args.variant.as_deref()) {
        Ok(recording) => recording,
        Err(reason) => {
            eprintln!("stockproof replay: {}: {reason}", args.run_dir.display());
            return Ok(EXIT_USAGE);
        }
    };
    if let Some(until) = args.until
        && !recording.run.history.ops().any(|entry| entry.id == until)
    {
        eprintln!(
            "stockproof replay: --until {until}: no op {until} in the history of {} \
             (op ids are the `id` of its lines)",
            args.run_dir.display()
        );
        return Ok(EXIT_USAGE);
    }
    let adapter = match &args.adapter {
        Some(file) => match adapter::load(file).and_then(|mut adapter| {
            adapter.resolve_secrets()?;
            Ok(adapter)
        }) {
            Ok(adapter) => adapter,
            Err(error) => {
                eprintln!("stockproof replay: {error}");
                return Ok(EXIT_USAGE);
            }
        },
        None => adapter::builtin(),
    };
    let target = match start_target(args, &recording).await {
        Ok(target) => target,
        Err(error) => {
            eprintln!("stockproof replay: {error}");
            return Ok(EXIT_INFRA);
        }
    };
    let code = match bind(adapter, target.url(), &recording.run.history).await {
        Ok(bound) => {
            let replayed = send_all(args, &recording.run.history, bound).await?;
            print_both_verdicts(&recording.run, &replayed, args.target.is_some());
            0
        }
        Err(error) => {
            eprintln!("stockproof replay: {error}");
            EXIT_INFRA
        }
    };
    target.stop().await;
    Ok(code)
}

fn read_recording(run_dir: &Path, variant: Option<&str>) -> Result<Recording, String> {
    let run = folder::read(run_dir).map_err(|error| error.to_string())?;
    let variant = match variant.map(str::to_owned).or(run.info.variant.clone()) {
        None => None,
        Some(name) if name == "reference" => None,
        Some(name) => Some(name.parse::<Variant>().map_err(|error| error.to_string())?),
    };
    let strategy = match &run.info.strategy {
        None => Strategy::default(),
        Some(name) => name
            .parse::<Strategy>()
            .map_err(|error| error.to_string())?,
    };
    Ok(Recording {
        run,
        variant,
        strategy,
    })
}

async fn start_target(
    args: &ReplayArgs,
    recording: &Recording,
) -> Result<Target, target::TargetError> {
    if let Some(url) = &args.target {
        return Ok(Target::External { url: url.clone() });
    }
    let mut config = args.infra.config();
    if let Some(aof) = recording.run.scenario.engine.redis_aof {
        config.aof = aof;
    }
    let retention = recording.run.scenario.engine.idempotency_retention;
    Target::start_in_process(
        &config,
        &recording.run.scenario.name,
        retention,
        false,
        recording.variant,
        recording.strategy,
    )
    .await
}

/// Sends every op up to `--until`, printing as it goes; a summary line at the end.
/// Returns the replay as a history, and whether it stopped before the end.
/// Probes the target and runs the adapter's setup for every SKU the history names.
async fn bind(adapter: Adapter, url: &str, history: &History) -> anyhow::Result<Bound> {
    target::probe(url, adapter.health.as_deref()).await?;
    let mut skus: Vec<(String, i64)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for entry in history.ops() {
        let named = match &entry.op {
            Op::Restock { sku, .. } | Op::Adjust { sku, .. } | Op::GetSku { sku } => vec![sku],
            Op::Reserve { items, .. } => items.iter().map(|line| &line.sku).collect(),
            _ => Vec::new(),
        };
        for sku in named {
            if seen.insert(sku.clone()) {
                skus.push((sku.clone(), 0));
            }
        }
    }
    let client = stockproof_harness::load::wire::op_client(None);
    let run = adapter::RunLabel::now(false);
    Ok(Bound::prepare(adapter, &client, url, &skus, SETUP_TIMEOUT, &run).await?)
}

async fn send_all(args: &ReplayArgs, history: &History, target: Bound) -> anyhow::Result<Replayed> {
    let mut stopped_early = false;
    let url = target.base_url().to_owned();
    let mut replayer = Replayer::new(target);
    let (mut sent, mut differ, mut faults) = (0_u64, 0_u64, 0_u64);
    println!(
        "replay: {} ops of {} (seed {}) against {url}, one at a time in invoke order",
        history.len(),
        history.header.scenario,
        history.header.seed
    );
    for recorded in invoke_order(history) {
        let recorded = &*recorded;
        if args.step && !matches!(recorded.op, Op::Fault { .. }) && !confirm_next(recorded)? {
            println!("replay: stopped before op {}", recorded.id);
            stopped_early = true;
            break;
        }
        let step = replayer.replay(recorded).await;
        match (&step.sent, &step.reply) {
            (Some(op), Some(reply)) => {
                sent += 1;
                differ += u64::from(step.difference.is_some());
                let mut stdout = std::io::stdout().lock();
                print_op(&mut stdout, recorded, op, reply, step.difference.as_deref())?;
            }
            _ => {
                faults += 1;
                println!("  {} {} (not replayed)", recorded.id, recorded.op);
            }
        }
        if args.until == Some(recorded.id) {
            println!("replay: stopped after op {} (--until)", recorded.id);
            stopped_early = true;
            break;
        }
    }
    println!(
        "replay: {sent} ops sent, {differ} differ from the recording, {faults} faults not replayed"
    );
    Ok(Replayed {
        history: replayer.history(history),
        stopped_early,
    })
}

/// The replay as a history of its own.
struct Replayed {
    history: History,
    stopped_early: bool,
}

/// The recording's verdict and the replay's, both from the one judge. The replay is
/// one client sending one op at a time with no faults and no snapshot: the white-box
/// checks do not apply to it, and coverage goals about overlap rarely hold, so its
/// verdict says whether the sequential history shows the same violations.
fn print_both_verdicts(run: &RunFolder, replayed: &Replayed, external: bool) {
    let recorded_latencies = Latencies::from_history(&run.history);
    let recorded = judge(&RecordedRun {
        criteria: &run.scenario.criteria(),
        info: &run.info,
        history: &run.history,
        snapshot: run.snapshot.as_ref(),
        stores: run.stores.as_ref(),
        latencies: &recorded_latencies,
        resources: run.resources.as_ref(),
    });
    println!("\nrecorded run's verdict:");
    print!(
        "{}",
        verdict_text(&recorded, &run.history, WINDOW_CONTEXT_OPS)
    );
    // The replay reads no store: the white-box checks do not apply, nor do those the
    // recording could not judge on its target.
    let mut white_box: Vec<String> = CheckId::ALL
        .into_iter()
        .filter(|id| id.white_box())
        .map(|id| id.as_str().to_owned())
        .collect();
    for recorded in &run.info.checks_not_applicable {
        if !white_box.contains(recorded) {
            white_box.push(recorded.clone());
        }
    }
    let info = RunInfo {
        target: if external {
            "replay against an external target".to_owned()
        } else {
            "replay against a fresh engine".to_owned()
        },
        checks_not_applicable: white_box,
        interrupted: replayed.stopped_early,
        target_silent: None,
        history_cut_short: None,
        faults: Vec::new(),
        loss_window: None,
        snapshot_error: None,
        unmatched_replies: std::collections::BTreeMap::new(),
        ..run.info.clone()
    };
    let latencies = Latencies::from_history(&replayed.history);
    let verdict = judge(&RecordedRun {
        criteria: &run.scenario.criteria(),
        info: &info,
        history: &replayed.history,
        snapshot: None,
        stores: run.stores.as_ref(),
        latencies: &latencies,
        // The replay samples no resources: its resource SLOs are not judged.
        resources: None,
    });
    println!("\nreplay's verdict (one client, in invoke order, no faults):");
    print!(
        "{}",
        verdict_text(&verdict, &replayed.history, WINDOW_CONTEXT_OPS)
    );
}

/// `--step`: shows the next op and waits for Enter; false when the user typed `q` (or
/// stdin ended).
fn confirm_next(next: &HistoryEntry) -> std::io::Result<bool> {
    print!("next: {} {} [Enter, or q] ", next.id, next.op);
    std::io::stdout().flush()?;
    let mut answer = String::new();
    // One client waiting for its user: blocking this worker thread is the point.
    let read = tokio::task::block_in_place(|| std::io::stdin().lock().read_line(&mut answer))?;
    Ok(read > 0 && answer.trim() != "q")
}

fn print_op(
    out: &mut impl Write,
    recorded: &HistoryEntry,
    sent: &Op,
    reply: &stockproof_harness::load::wire::Reply,
    difference: Option<&str>,
) -> std::io::Result<()> {
    let marker = if difference.is_some() { "!" } else { " " };
    let user = recorded
        .user
        .map_or_else(|| "-".to_owned(), |user| format!("u{user}"));
    let recorded_text = reply_text(
        recorded.outcome,
        recorded.status,
        recorded.response.as_ref(),
    );
    let replayed_text = reply_text(reply.outcome, reply.status, reply.response.as_ref());
    writeln!(
        out,
        "{marker} {} {user} {sent}\n      recorded: {recorded_text}\n      replayed: {replayed_text}",
        recorded.id
    )?;
    if let Some(difference) = difference {
        writeln!(out, "      differs: {difference}")?;
    }
    Ok(())
}
