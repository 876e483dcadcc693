//! `stockproof reconcile [--repair]`: compares one shop's Redis with its Postgres ledger
//! and projections (the engine's reconciler, DESIGN §4), prints every drift, and with
//! `--repair` fixes what can be fixed (projections rebuilt from the ledger; Redis units
//! without events recorded as `adjust` events) and prints what is left.
//! Exit codes: 0 no drift (after repair, when asked), 1 drift, 4 a store unreachable.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use stockproof_engine::ShopKeys;
use stockproof_engine::reconciler::{ReconcileReport, Reconciler};
use stockproof_engine::stores;

use crate::cmd::shared::{EXIT_INFRA, EXIT_OK};

/// Drift found (or left after a repair): the stores disagree.
const EXIT_DRIFT: u8 = 1;

#[derive(Debug, Args)]
pub(crate) struct ReconcileArgs {
    /// Rebuild the Postgres projections from the ledger and record Redis stock
    /// corrections as `adjust` events; then reconcile again.
    #[arg(long)]
    repair: bool,

    /// The shop's Redis.
    #[arg(long, env = "REDIS_URL", value_name = "URL")]
    redis_url: String,

    /// The shop's Postgres database (one database per shop).
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    database_url: String,

    /// The shop whose keys are compared: `sp:{SHOP}:…`.
    #[arg(long, default_value = "default")]
    shop: String,
}

pub(crate) async fn reconcile(args: &ReconcileArgs) -> anyhow::Result<u8> {
    let redis = match stores::connect_redis(&args.redis_url).await {
        Ok(redis) => redis,
        Err(error) => return Ok(unreachable(&error)),
    };
    let pool = match stores::connect_postgres(&args.database_url).await {
        Ok(pool) => pool,
        Err(error) => return Ok(unreachable(&error)),
    };
    let mut reconciler = Reconciler::new(redis, pool, ShopKeys::new(&args.shop));
    let mut stdout = std::io::stdout().lock();
    let report = if args.repair {
        let repair = reconciler.repair().await.context("repairing")?;
        print_report(&mut stdout, "before repair", &repair.before)?;
        if repair.projection_rebuilt {
            writeln!(
                stdout,
                "repair: rebuilt the postgres projections from the ledger"
            )?;
        }
        for adjustment in &repair.adjustments {
            writeln!(
                stdout,
                "repair: recorded adjust of {:+} on sku `{}` as seq {}",
                adjustment.delta, adjustment.sku, adjustment.seq
            )?;
        }
        print_report(&mut stdout, "after repair", &repair.after)?;
        repair.after
    } else {
        let report = reconciler.reconcile().await.context("reconciling")?;
        print_report(&mut stdout, "reconcile", &report)?;
        report
    };
    Ok(if report.is_clean() {
        EXIT_OK
    } else {
        EXIT_DRIFT
    })
}

fn unreachable(error: &stores::StoreError) -> u8 {
    eprintln!("stockproof: reconcile: {error}");
    EXIT_INFRA
}

fn print_report(
    out: &mut impl Write,
    heading: &str,
    report: &ReconcileReport,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{heading}: {} skus, {} held reservations, redis seq {}, ledger ends at {} \
         ({} events only in the stream): {} drift(s)",
        report.skus_compared,
        report.held_reservations,
        report.redis_seq,
        report.ledger_max_seq,
        report.stream_only_events,
        report.drifts.len()
    )?;
    for drift in &report.drifts {
        writeln!(out, "  drift: {drift}")?;
    }
    Ok(())
}
