//! `stockproof reconcile [--repair]`: compares one shop's Redis with its Postgres ledger
//! and projections (the engine's reconciler, DESIGN §4), prints every drift, and with
//! `--repair` fixes what can be fixed (projections rebuilt from the ledger; Redis units
//! without events recorded as `adjust` events) and prints what is left.
//! With `--strategy pg-row-lock` or `pg-optimistic` it compares what those keep — the
//! `skus` rows, the Held reservations and the ledger, all in Postgres — and needs no
//! Redis; `--repair` is refused there (their rows are the stock, not a projection).
//! Exit codes: 0 no drift (after repair, when asked), 1 drift, 2 usage, 4 a store
//! unreachable.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use stockproof_engine::ShopKeys;
use stockproof_engine::reconciler::{ReconcileReport, Reconciler};
use stockproof_engine::stores;
use stockproof_engine::strategy::Strategy;

use crate::cmd::shared::{EXIT_INFRA, EXIT_OK, EXIT_USAGE};

/// Drift found (or left after a repair): the stores disagree.
const EXIT_DRIFT: u8 = 1;

#[derive(Debug, Args)]
pub(crate) struct ReconcileArgs {
    /// Rebuild the Postgres projections from the ledger and record Redis stock
    /// corrections as `adjust` events; then reconcile again.
    #[arg(long)]
    repair: bool,

    /// The shop's Redis (not needed for a Postgres-only strategy).
    #[arg(long, env = "REDIS_URL", value_name = "URL")]
    redis_url: Option<String>,

    /// The shop's Postgres database (one database per shop).
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    database_url: String,

    /// The shop whose keys are compared: `sp:{SHOP}:…`.
    #[arg(long, default_value = "default")]
    shop: String,

    /// The inventory design that keeps the shop: redis-lua (Redis, stream and ledger
    /// compared) or pg-row-lock / pg-optimistic (Postgres only: rows, Held
    /// reservations and ledger compared; seq gaps are not drifts there).
    #[arg(long, default_value_t = Strategy::default(), value_name = "NAME")]
    strategy: Strategy,
}

pub(crate) async fn reconcile(args: &ReconcileArgs) -> anyhow::Result<u8> {
    if !args.strategy.uses_redis() {
        return reconcile_postgres_only(args).await;
    }
    let Some(redis_url) = &args.redis_url else {
        eprintln!(
            "stockproof: reconcile: strategy {} keeps its stock in Redis: give --redis-url \
             (or REDIS_URL)",
            args.strategy
        );
        return Ok(EXIT_USAGE);
    };
    let redis = match stores::connect_redis(redis_url).await {
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

/// A Postgres-only strategy's stores, read in one snapshot; nothing to repair.
async fn reconcile_postgres_only(args: &ReconcileArgs) -> anyhow::Result<u8> {
    if args.repair {
        eprintln!(
            "stockproof: reconcile: --repair rebuilds the reference's projections from its \
             ledger; strategy {} keeps its stock in the `skus` rows themselves, so there is \
             no projection to rebuild (drop --repair to see the drifts)",
            args.strategy
        );
        return Ok(EXIT_USAGE);
    }
    let pool = match stores::connect_postgres(&args.database_url).await {
        Ok(pool) => pool,
        Err(error) => return Ok(unreachable(&error)),
    };
    let report = Reconciler::reconcile_postgres_only(&pool)
        .await
        .context("reconciling")?;
    pool.close().await;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "reconcile ({}, postgres only: no redis, no stream): {} skus, {} held reservations, \
         ledger ends at {}: {} drift(s)",
        args.strategy,
        report.skus_compared,
        report.held_reservations,
        report.ledger_max_seq,
        report.drifts.len()
    )?;
    print_drifts(&mut stdout, &report)?;
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
    print_drifts(out, report)
}

fn print_drifts(out: &mut impl Write, report: &ReconcileReport) -> std::io::Result<()> {
    for drift in &report.drifts {
        writeln!(out, "  drift: {drift}")?;
    }
    Ok(())
}
