//! `stockproof probe --target URL [--adapter FILE]`: the onboarding check of an adapter
//! (`crate::probe` in the library): prints each scripted op's requests, replies and
//! classification, and whether that matches the contract; exits 1 naming what to fix
//! when a step does not.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use stockproof_harness::adapter::{self, Bound, StepTrace};
use stockproof_harness::probe::{self, PROBE_STOCK, ProbeStep, StepVerdict};
use stockproof_harness::run::SETUP_TIMEOUT;
use stockproof_harness::run::target;

use crate::cmd::shared::{EXIT_INFRA, EXIT_USAGE};

/// Exit code of a probe that found a step not matching the contract.
const EXIT_MISMATCH: u8 = 1;

#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    /// The service to probe.
    #[arg(long, value_name = "URL")]
    target: String,

    /// How to speak to it (docs/adapters.md); default: the HTTP contract.
    #[arg(long, value_name = "FILE")]
    adapter: Option<PathBuf>,
}

pub(crate) async fn probe(args: &ProbeArgs) -> anyhow::Result<u8> {
    let loaded = match &args.adapter {
        Some(file) => adapter::load(file),
        None => Ok(adapter::builtin()),
    };
    let mut adapter = match loaded {
        Ok(adapter) => adapter,
        Err(error) => {
            eprintln!("stockproof probe: {error}");
            return Ok(EXIT_USAGE);
        }
    };
    if let Err(error) = adapter.resolve_secrets() {
        eprintln!("stockproof probe: {error}");
        return Ok(EXIT_USAGE);
    }
    if let Err(error) = target::probe(&args.target, adapter.health.as_deref()).await {
        eprintln!("stockproof probe: {error}");
        return Ok(EXIT_INFRA);
    }
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let sku = format!("probe-{stamp}");
    let name = adapter.name.clone();
    let client = stockproof_harness::load::wire::op_client(None);
    let skus = [(sku.clone(), PROBE_STOCK)];
    let run = adapter::RunLabel::now(false);
    let bound =
        match Bound::prepare(adapter, &client, &args.target, &skus, SETUP_TIMEOUT, &run).await {
            Ok(bound) => bound,
            Err(error) => {
                eprintln!("stockproof probe: {error}");
                return Ok(EXIT_INFRA);
            }
        };
    println!(
        "probe: adapter {name} against {} on a fresh SKU {sku}",
        args.target
    );
    let steps = probe::run(&bound, &sku, &format!("probe-{stamp}")).await;
    for (number, step) in steps.iter().enumerate() {
        print_step(number + 1, step);
    }
    let mismatches = steps.iter().filter(|step| step.is_mismatch()).count();
    if mismatches == 0 {
        println!("probe: every step means what the contract means (exit 0)");
        Ok(0)
    } else {
        println!("probe: {mismatches} step(s) do not match the contract (exit {EXIT_MISMATCH})");
        Ok(EXIT_MISMATCH)
    }
}

fn print_step(number: usize, step: &ProbeStep) {
    println!("{number}. {}", step.title);
    for trace in &step.traces {
        print_trace(trace);
    }
    match &step.verdict {
        StepVerdict::AsContract(what) => println!("   ok: {what}"),
        StepVerdict::Mismatch(what) => println!("   MISMATCH: {what}"),
        StepVerdict::Skipped(why) => println!("   skipped: {why}"),
    }
}

fn print_trace(trace: &StepTrace) {
    println!("   [{}] {}", trace.step, trace.request);
    if let Some(body) = &trace.body {
        println!("     body: {}", one_line(body));
    }
    let classified = match (&trace.rule, trace.outcome) {
        (Some(rule), Some(outcome)) => format!("{rule} -> {outcome}"),
        (None, Some(outcome)) => format!("no rule matched -> {outcome}"),
        (_, None) => "no reply".to_owned(),
    };
    match (trace.status, &trace.reply) {
        (Some(status), Some(reply)) => {
            println!("     -> {status} {} [{classified}]", one_line(reply))
        }
        _ => println!("     -> [{classified}]"),
    }
}

/// Text on one line, for a terminal.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
