//! `stockproof engine-bench`: reserve throughput and latency of [`RedisLuaEngine`] at
//! several caller counts, on one hot SKU and spread over many SKUs, and beside it, in
//! the same run on the same Redis, the raw ceiling: the very same reserve script by
//! `EVALSHA` through a bare redis-rs multiplexed connection, and `redis-benchmark`.
//! The ratio engine / bare says what the engine's own code costs.
//!
//! Not here: ledger writer throughput (it lives on its own branch until merged), and
//! no verdict: this measures, the scenarios judge.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hdrhistogram::Histogram;
use redis::Value;
use redis::aio::MultiplexedConnection;
use stockproof_engine::lua::{Script, ScriptName};
use stockproof_engine::{
    CartLine, InventoryEngine, RedisLuaConfig, RedisLuaEngine, ReserveOutcome, ReserveRequest,
    ShopKeys,
};
use stockproof_infra::{Infra, ResolvedProvider};

use crate::cli::{EXIT_OK, InfraArgs};

/// The bench's shop (keys `sp:{bench}:…`).
const SHOP: &str = "bench";
/// Reservations stay Held for the whole run: no sweeper competes with the callers.
const RESERVE_TTL_MS: i64 = 600_000;
/// Units restocked per SKU before a cell, far above what a cell reserves.
const STOCK_PER_SKU: i64 = 100_000_000;
/// Latencies recorded up to a minute, 3 significant digits.
const LATENCY_US_MAX: u64 = 60_000_000;
/// Restocks in flight while seeding the spread workload's SKUs.
const SEED_CONCURRENCY: usize = 64;
/// Reply wait of the bare connection: as explicit as the engine's.
const BARE_RESPONSE_TIMEOUT_MS: u64 = 5_000;
/// redis-benchmark runs the issue names: 50 clients, 200,000 requests.
const REDIS_BENCHMARK_CLIENTS: &str = "50";
const REDIS_BENCHMARK_REQUESTS: &str = "200000";
/// redis-benchmark's own bound: it finishes 200,000 requests in seconds.
const REDIS_BENCHMARK_WAIT_MS_MAX: u64 = 120_000;

#[derive(Debug, Args)]
pub(crate) struct EngineBenchArgs {
    #[command(flatten)]
    infra: InfraArgs,

    /// How long each cell (one client kind × workload × caller count) runs, in ms.
    #[arg(long, default_value = "2000")]
    cell_ms: u64,

    /// Concurrent callers, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    callers: Vec<usize>,

    /// SKUs of the spread workload.
    #[arg(long, default_value = "10000")]
    skus: usize,

    /// Skip the `redis-benchmark` rows.
    #[arg(long)]
    no_redis_benchmark: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    HotSku,
    Spread(usize),
}

impl Workload {
    fn label(self) -> String {
        match self {
            Workload::HotSku => "1 hot sku".to_owned(),
            Workload::Spread(skus) => format!("{skus} skus"),
        }
    }

    fn sku(self, draw: u64) -> String {
        match self {
            Workload::HotSku => "hot".to_owned(),
            Workload::Spread(skus) => format!("s{}", draw % skus as u64),
        }
    }

    fn skus(self) -> Vec<String> {
        match self {
            Workload::HotSku => vec!["hot".to_owned()],
            Workload::Spread(skus) => (0..skus).map(|index| format!("s{index}")).collect(),
        }
    }
}

/// What one cell measured.
#[derive(Debug)]
struct Cell {
    calls: u64,
    elapsed: Duration,
    latency_us: Histogram<u64>,
}

impl Cell {
    fn calls_per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }
}

pub(crate) async fn run(args: &EngineBenchArgs) -> anyhow::Result<u8> {
    if args.callers.is_empty() || args.callers.contains(&0) || args.skus == 0 {
        bail!("--callers needs counts above 0 and --skus at least 1");
    }
    let config = args.infra.config();
    let infra = Infra::start(&config)
        .await
        .with_context(|| format!("starting Redis and Postgres (provider {})", config.provider))?;
    let url = infra.redis_url().to_owned();
    let flush = infra.provider() != ResolvedProvider::External || config.external.flush;
    let engine = Arc::new(
        RedisLuaEngine::connect(&url, RedisLuaConfig::new(SHOP))
            .await
            .context("connecting the engine")?,
    );
    let mut bare = bare_connection(&url).await?;
    let script = Script::new(ScriptName::Reserve, RedisLuaConfig::new(SHOP).retention_ms);
    let mut table = String::new();
    writeln!(
        table,
        "{:<11} {:>7} | {:>12} {:>8} {:>8} | {:>12} {:>8} {:>8} | {:>11}",
        "workload",
        "callers",
        "engine/s",
        "p50 µs",
        "p99 µs",
        "bare/s",
        "p50 µs",
        "p99 µs",
        "engine/bare"
    )?;
    for workload in [Workload::HotSku, Workload::Spread(args.skus)] {
        for &callers in &args.callers {
            let cell_time = Duration::from_millis(args.cell_ms);
            prepare(&engine, &mut bare, workload, flush).await?;
            let engine_cell = engine_cell(&engine, workload, callers, cell_time).await?;
            prepare(&engine, &mut bare, workload, flush).await?;
            script
                .load(&mut bare)
                .await
                .context("loading the reserve script")?;
            let bare_cell = bare_cell(&bare, &script, workload, callers, cell_time).await?;
            writeln!(
                table,
                "{}",
                row(workload, callers, &engine_cell, &bare_cell)
            )?;
            eprintln!("engine-bench: {} × {callers} done", workload.label());
        }
    }
    println!("# reserve calls through RedisLuaEngine vs the same script by EVALSHA on a bare");
    println!(
        "# redis-rs multiplexed connection; {} ms per cell, provider {}",
        args.cell_ms,
        infra.provider()
    );
    print!("{table}");
    if !flush {
        println!("# external Redis not flushed: cells ran on top of each other's keys");
    }
    if args.no_redis_benchmark {
        println!("# redis-benchmark skipped (--no-redis-benchmark)");
    } else {
        print!(
            "{}",
            redis_benchmark_rows(&url, &mut bare, &script, flush).await?
        );
    }
    println!(
        "# ledger writer throughput and lag: not measured here (the writer is not on this branch)"
    );
    Ok(EXIT_OK)
}

fn row(workload: Workload, callers: usize, engine: &Cell, bare: &Cell) -> String {
    let quantile = |cell: &Cell, q: f64| cell.latency_us.value_at_quantile(q);
    format!(
        "{:<11} {:>7} | {:>12.0} {:>8} {:>8} | {:>12.0} {:>8} {:>8} | {:>10.0}%",
        workload.label(),
        callers,
        engine.calls_per_second(),
        quantile(engine, 0.5),
        quantile(engine, 0.99),
        bare.calls_per_second(),
        quantile(bare, 0.5),
        quantile(bare, 0.99),
        100.0 * engine.calls_per_second() / bare.calls_per_second()
    )
}

async fn bare_connection(url: &str) -> anyhow::Result<MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_response_timeout(Some(Duration::from_millis(BARE_RESPONSE_TIMEOUT_MS)));
    redis::Client::open(url)
        .context("parsing the Redis URL")?
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .context("opening the bare connection")
}

/// Empties Redis (when it is ours) and stocks the workload's SKUs.
async fn prepare(
    engine: &Arc<RedisLuaEngine>,
    bare: &mut MultiplexedConnection,
    workload: Workload,
    flush: bool,
) -> anyhow::Result<()> {
    if flush {
        let _: () = redis::cmd("FLUSHDB")
            .query_async(bare)
            .await
            .context("FLUSHDB")?;
    }
    let skus = workload.skus();
    for chunk in skus.chunks(SEED_CONCURRENCY) {
        let mut restocks = tokio::task::JoinSet::new();
        for sku in chunk {
            let (engine, sku) = (Arc::clone(engine), sku.clone());
            restocks.spawn(async move { engine.restock(&sku, STOCK_PER_SKU).await });
        }
        while let Some(restock) = restocks.join_next().await {
            restock.context("restock task")?.context("restocking")?;
        }
    }
    Ok(())
}

/// xorshift64: the callers' SKU picks, cheap and reproducible.
fn next_draw(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid histogram bounds")
}

async fn engine_cell(
    engine: &Arc<RedisLuaEngine>,
    workload: Workload,
    callers: usize,
    cell_time: Duration,
) -> anyhow::Result<Cell> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for caller in 0..callers {
        let engine = Arc::clone(engine);
        tasks.spawn(async move {
            let mut histogram = new_histogram();
            let mut draw = 0x9e37_79b9_7f4a_7c15 ^ caller as u64;
            let mut calls = 0u64;
            while started.elapsed() < cell_time {
                let request = ReserveRequest {
                    idempotency_key: format!("e{caller}-{calls}"),
                    items: vec![CartLine {
                        sku: workload.sku(next_draw(&mut draw)),
                        qty: 1,
                    }],
                    ttl_ms: RESERVE_TTL_MS,
                };
                let sent = Instant::now();
                match engine.reserve(&request).await? {
                    ReserveOutcome::Reserved(_) => {}
                    other => anyhow::bail!("reserve refused in the bench: {other:?}"),
                }
                histogram.saturating_record(sent.elapsed().as_micros() as u64);
                calls += 1;
            }
            Ok((calls, histogram))
        });
    }
    collect(tasks, started).await
}

async fn bare_cell(
    connection: &MultiplexedConnection,
    script: &Script,
    workload: Workload,
    callers: usize,
    cell_time: Duration,
) -> anyhow::Result<Cell> {
    let keys = ShopKeys::new(SHOP);
    let (seq_key, prefix) = (Arc::new(keys.seq()), Arc::new(keys.prefix().to_owned()));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for caller in 0..callers {
        let mut connection = connection.clone();
        let script = script.clone();
        let (seq_key, prefix) = (Arc::clone(&seq_key), Arc::clone(&prefix));
        tasks.spawn(async move {
            let mut histogram = new_histogram();
            let mut draw = 0x9e37_79b9_7f4a_7c15 ^ caller as u64;
            let mut calls = 0u64;
            while started.elapsed() < cell_time {
                let mut command = script.call(&seq_key, &prefix);
                command
                    .arg(format!("b{caller}-{calls}"))
                    .arg(RESERVE_TTL_MS)
                    .arg(1)
                    .arg(workload.sku(next_draw(&mut draw)))
                    .arg(1);
                let sent = Instant::now();
                let reply: Value = command.query_async(&mut connection).await?;
                if !matches!(&reply, Value::Array(fields) if fields.first() == Some(&Value::BulkString(b"reserved".to_vec())))
                {
                    anyhow::bail!("bare reserve refused: {reply:?}");
                }
                histogram.saturating_record(sent.elapsed().as_micros() as u64);
                calls += 1;
            }
            Ok((calls, histogram))
        });
    }
    collect(tasks, started).await
}

async fn collect(
    mut tasks: tokio::task::JoinSet<anyhow::Result<(u64, Histogram<u64>)>>,
    started: Instant,
) -> anyhow::Result<Cell> {
    let mut cell = Cell {
        calls: 0,
        elapsed: Duration::ZERO,
        latency_us: new_histogram(),
    };
    while let Some(joined) = tasks.join_next().await {
        let (calls, histogram) = joined.context("caller task")??;
        cell.calls += calls;
        cell.latency_us
            .add(&histogram)
            .context("merging latencies")?;
    }
    cell.elapsed = started.elapsed();
    Ok(cell)
}

/// `redis-benchmark` on the same server: SET, a trivial script, and the reserve
/// script itself on the hot SKU (random keys), 50 clients, 200,000 requests each.
async fn redis_benchmark_rows(
    url: &str,
    bare: &mut MultiplexedConnection,
    script: &Script,
    flush: bool,
) -> anyhow::Result<String> {
    let Some((host, port)) = url
        .strip_prefix("redis://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|address| address.rsplit_once(':'))
        .filter(|(host, _)| !host.contains('@'))
    else {
        return Ok(
            "# redis-benchmark skipped: only plain redis://host:port URLs are passed to it\n"
                .to_owned(),
        );
    };
    let trivial: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return 1")
        .query_async(bare)
        .await?;
    let engine = RedisLuaEngine::connect(url, RedisLuaConfig::new(SHOP)).await?;
    if flush {
        let _: () = redis::cmd("FLUSHDB").query_async(bare).await?;
    }
    engine.restock("hot", STOCK_PER_SKU).await?;
    script.load(bare).await?;
    let keys = ShopKeys::new(SHOP);
    let (ttl, seq_key) = (RESERVE_TTL_MS.to_string(), keys.seq());
    let reserve: Vec<&str> = vec![
        "-r",
        "1000000000",
        "EVALSHA",
        script.sha(),
        "1",
        &seq_key,
        keys.prefix(),
        "rb:__rand_int__",
        &ttl,
        "1",
        "hot",
        "1",
    ];
    let mut rows = String::from("# redis-benchmark -c 50 -n 200000 -q, same server\n");
    let runs: [(&str, Vec<&str>); 3] = [
        ("SET", vec!["-t", "set"]),
        ("EVALSHA return 1", vec!["EVALSHA", &trivial, "0"]),
        ("EVALSHA reserve.lua, hot sku", reserve),
    ];
    for (label, extra) in runs {
        let line = run_redis_benchmark(host, port, &extra).await?;
        writeln!(rows, "{label:<30} {line}")?;
    }
    Ok(rows)
}

async fn run_redis_benchmark(host: &str, port: &str, extra: &[&str]) -> anyhow::Result<String> {
    let mut command = tokio::process::Command::new("redis-benchmark");
    command
        .args([
            "-h",
            host,
            "-p",
            port,
            "-c",
            REDIS_BENCHMARK_CLIENTS,
            "-n",
            REDIS_BENCHMARK_REQUESTS,
            "-q",
        ])
        .args(extra)
        .kill_on_drop(true);
    let output = match tokio::time::timeout(
        Duration::from_millis(REDIS_BENCHMARK_WAIT_MS_MAX),
        command.output(),
    )
    .await
    {
        Err(_) => bail!("redis-benchmark did not finish within {REDIS_BENCHMARK_WAIT_MS_MAX} ms"),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok("redis-benchmark not installed (Debian package redis-tools)".to_owned());
        }
        Ok(output) => output.context("running redis-benchmark")?,
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    // -q prints progress lines ending in \r, then the result line.
    let last = stdout
        .split(['\r', '\n'])
        .map(str::trim)
        .rfind(|line| line.contains("requests per second"))
        .unwrap_or("no result line");
    Ok(last.to_owned())
}
