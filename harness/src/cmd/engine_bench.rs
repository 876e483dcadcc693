//! `stockproof engine-bench`: reserve throughput and latency of [`RedisLuaEngine`] at
//! several caller counts, on one hot SKU and spread over many SKUs, and beside it, in
//! the same run on the same Redis, the raw ceiling: the very same reserve script by
//! `EVALSHA` through a bare redis-rs multiplexed connection, and `redis-benchmark`.
//! The ratio engine / bare says what the engine's own code costs.
//!
//! Each row (workload × callers) starts from empty stores, and the real ledger writer
//! runs against the real Postgres *while* the callers reserve: the second table gives
//! the events it wrote per second and its lag sampled through the row (`writer_lag`),
//! with a verdict from the lag's trend. Stock is far above what a row takes, so every
//! call is a successful reserve that appends one ledger event (a refusal aborts).
//!
//! Not here: a pass/fail exit code. This measures; the verdicts are printed, the
//! scenarios judge.

mod redis_benchmark;
mod writer_lag;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hdrhistogram::Histogram;
use redis::Value;
use redis::aio::MultiplexedConnection;
use sqlx::PgPool;
use stockproof_engine::ledger::{self, LedgerWriter, WriterConfig};
use stockproof_engine::lua::{Script, ScriptName};
use stockproof_engine::{
    CartLine, InventoryEngine, RedisLuaConfig, RedisLuaEngine, ReserveOutcome, ReserveRequest,
    ShopKeys, stores,
};
use stockproof_infra::{Infra, ResolvedProvider};

use crate::cmd::shared::{EXIT_OK, InfraArgs};
use writer_lag::{LagSampler, WriterRow, WriterVerdict};

/// Each cell alternates engine and bare slices this many times.
const SLICES: usize = 4;
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
/// Longest wait for the writer to write a row's seed events before the row, and the
/// row's backlog after it: a writer that keeps up needs well under a second.
const WRITER_DRAIN_WAIT_MS_MAX: u64 = 60_000;
/// The writer's consumer name in the ledger group.
const WRITER_CONSUMER: &str = "engine-bench";
/// The share of the bare client the engine should reach at the most callers (issue 5).
const ENGINE_SHARE_TARGET: f64 = 0.80;

#[derive(Debug, Args)]
pub(crate) struct EngineBenchArgs {
    #[command(flatten)]
    infra: InfraArgs,

    /// How long each client runs per cell (workload × caller count), in ms, split into
    /// slices alternating with the other client.
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

    /// The ledger writer's batch bound (events per Postgres transaction), to size it
    /// for a deployment: compare runs side by side.
    #[arg(long, default_value_t = ledger::LEDGER_BATCH_EVENTS_MAX as u64,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    writer_batch_events: u64,
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
    fn new() -> Cell {
        Cell {
            calls: 0,
            elapsed: Duration::ZERO,
            latency_us: new_histogram(),
        }
    }

    fn add(&mut self, other: Cell) -> anyhow::Result<()> {
        self.calls += other.calls;
        self.elapsed += other.elapsed;
        self.latency_us
            .add(&other.latency_us)
            .context("merging latencies")
    }

    fn calls_per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }
}

/// The stores and clients every row uses.
struct Bench {
    url: String,
    /// Whether the bench may empty Redis and Postgres (not an external provider
    /// without `--flush-external`); the writer column needs it.
    own_stores: bool,
    engine: Arc<RedisLuaEngine>,
    bare: MultiplexedConnection,
    /// The lag sampler's and the checks' own connection, off the callers' pipeline.
    watcher: MultiplexedConnection,
    pool: PgPool,
    script: Script,
    keys: ShopKeys,
    writer_batch_events: usize,
}

/// One row of both tables.
struct Row {
    workload: Workload,
    callers: usize,
    engine: Cell,
    bare: Cell,
    writer: Option<WriterRow>,
}

pub(crate) async fn run(args: &EngineBenchArgs) -> anyhow::Result<u8> {
    if args.callers.is_empty() || args.callers.contains(&0) || args.skus == 0 {
        bail!("--callers needs counts above 0 and --skus at least 1");
    }
    let config = args.infra.config();
    let infra = Infra::start(&config)
        .await
        .with_context(|| format!("starting Redis and Postgres (provider {})", config.provider))?;
    let mut bench = Bench::connect(
        &infra,
        config.external.flush,
        args.writer_batch_events as usize,
    )
    .await?;
    let settings = store_settings(&mut bench).await?;
    let mut rows = Vec::new();
    for workload in [Workload::HotSku, Workload::Spread(args.skus)] {
        for &callers in &args.callers {
            rows.push(bench.row(workload, callers, args.cell_ms).await?);
            eprintln!("engine-bench: {} × {callers} done", workload.label());
        }
    }
    println!("# reserve calls through RedisLuaEngine vs the same script by EVALSHA on a bare");
    println!(
        "# redis-rs multiplexed connection; {} ms per client per row in {SLICES} alternating slices, provider {}",
        args.cell_ms,
        infra.provider()
    );
    println!("# {settings}");
    println!(
        "# every call is a successful 1-unit reserve appending 1 ledger event: {STOCK_PER_SKU} units per SKU, never sold out"
    );
    print!("{}", reserve_table(&rows)?);
    print!(
        "{}",
        writer_table(&rows, bench.own_stores, bench.writer_batch_events)?
    );
    print!("{}", targets(&rows));
    if args.no_redis_benchmark {
        println!("# redis-benchmark skipped (--no-redis-benchmark)");
    } else {
        let Bench {
            url,
            mut bare,
            script,
            own_stores,
            ..
        } = bench;
        print!(
            "{}",
            redis_benchmark::redis_benchmark_rows(&url, &mut bare, &script, own_stores).await?
        );
    }
    Ok(EXIT_OK)
}

impl Bench {
    async fn connect(
        infra: &Infra,
        flush_external: bool,
        writer_batch_events: usize,
    ) -> anyhow::Result<Bench> {
        let url = infra.redis_url().to_owned();
        let engine = RedisLuaEngine::connect(&url, RedisLuaConfig::new(SHOP))
            .await
            .context("connecting the engine")?;
        let pool = stores::connect_postgres(infra.database_url())
            .await
            .context("connecting to Postgres")?;
        ledger::migrate(&pool).await.context("migrating Postgres")?;
        Ok(Bench {
            own_stores: infra.provider() != ResolvedProvider::External || flush_external,
            engine: Arc::new(engine),
            bare: bare_connection(&url).await?,
            watcher: stores::connect_redis(&url)
                .await
                .context("opening the lag sampler's connection")?,
            pool,
            script: Script::new(ScriptName::Reserve, RedisLuaConfig::new(SHOP).retention_ms),
            keys: ShopKeys::new(SHOP),
            url,
            writer_batch_events,
        })
    }

    /// One row: empty stores, seed, start the writer and let it write the seed, then
    /// alternate engine and bare slices while the writer runs and its lag is sampled;
    /// then wait for the writer to catch up and stop it.
    async fn row(
        &mut self,
        workload: Workload,
        callers: usize,
        cell_ms: u64,
    ) -> anyhow::Result<Row> {
        self.reset().await?;
        prepare(&self.engine, workload).await?;
        self.script
            .load(&mut self.bare)
            .await
            .context("loading the reserve script")?;
        let writer = match self.own_stores {
            true => Some(self.start_writer().await?),
            false => None,
        };
        let seq_before = self.seq().await?;
        let written_before = writer.as_ref().map_or(0, |w| w.stats().events_written);
        let started = Instant::now();
        let sampler = LagSampler::start(self.watcher.clone(), self.keys.clone(), started);
        let slice = Duration::from_millis(cell_ms / SLICES as u64);
        let (mut engine_total, mut bare_total) = (Cell::new(), Cell::new());
        // Alternating slices: a load change on the machine hits both clients alike.
        for slice_index in 0..SLICES {
            let slice = (slice_index, slice);
            engine_total.add(engine_cell(&self.engine, workload, callers, slice).await?)?;
            bare_total.add(bare_cell(&self.bare, &self.script, workload, callers, slice).await?)?;
        }
        let elapsed = started.elapsed();
        let samples = sampler.stop().await?;
        let written = writer.as_ref().map_or(0, |w| w.stats().events_written) - written_before;
        let produced = self.seq().await? - seq_before;
        let writer_row = match writer {
            None => None,
            Some(writer) => {
                let drained_in = writer_lag::wait_drained(
                    &mut self.watcher,
                    &self.keys,
                    WRITER_DRAIN_WAIT_MS_MAX,
                )
                .await?;
                writer
                    .shutdown()
                    .await
                    .context("stopping the ledger writer")?;
                Some(WriterRow::new(
                    &samples,
                    self.writer_batch_events,
                    produced,
                    written,
                    elapsed,
                    drained_in,
                )?)
            }
        };
        Ok(Row {
            workload,
            callers,
            engine: engine_total,
            bare: bare_total,
            writer: writer_row,
        })
    }

    /// Empties Redis and the Postgres tables, when they are ours: each row starts from
    /// nothing, so its seq starts at 1 and the writer starts with an empty ledger.
    async fn reset(&mut self) -> anyhow::Result<()> {
        if !self.own_stores {
            return Ok(());
        }
        let _: () = redis::cmd("FLUSHDB")
            .query_async(&mut self.bare)
            .await
            .context("FLUSHDB")?;
        sqlx::query("TRUNCATE ledger, skus, reservations, reservation_items")
            .execute(&self.pool)
            .await
            .context("emptying the Postgres tables")?;
        Ok(())
    }

    /// Starts the writer and waits until it has written the seed (the restocks).
    async fn start_writer(&mut self) -> anyhow::Result<LedgerWriter> {
        let writer = LedgerWriter::spawn(
            &self.url,
            self.pool.clone(),
            self.keys.clone(),
            WriterConfig {
                batch_events_max: self.writer_batch_events,
                ..WriterConfig::new(WRITER_CONSUMER)
            },
        )
        .context("starting the ledger writer")?;
        writer_lag::wait_drained(&mut self.watcher, &self.keys, WRITER_DRAIN_WAIT_MS_MAX).await?;
        Ok(writer)
    }

    /// The shop's event counter: events appended so far.
    async fn seq(&mut self) -> anyhow::Result<u64> {
        let seq: Option<u64> = redis::cmd("GET")
            .arg(self.keys.seq())
            .query_async(&mut self.watcher)
            .await
            .context("reading seq")?;
        Ok(seq.unwrap_or(0))
    }
}

/// The persistence settings in force, read from the servers themselves.
async fn store_settings(bench: &mut Bench) -> anyhow::Result<String> {
    let config: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("append*")
        .query_async(&mut bench.watcher)
        .await
        .context("CONFIG GET append*")?;
    let pairs: Vec<String> = config
        .chunks(2)
        .filter(|pair| pair[0] == "appendonly" || pair[0] == "appendfsync")
        .map(|pair| pair.join(" "))
        .collect();
    let (fsync,): (String,) = sqlx::query_as("SHOW fsync")
        .fetch_one(&bench.pool)
        .await
        .context("SHOW fsync")?;
    Ok(format!(
        "Redis {} (--aof); Postgres fsync {fsync} (--postgres-fsync)",
        pairs.join(", ")
    ))
}

fn reserve_table(rows: &[Row]) -> anyhow::Result<String> {
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
    for row in rows {
        let quantile = |cell: &Cell, q: f64| cell.latency_us.value_at_quantile(q);
        writeln!(
            table,
            "{:<11} {:>7} | {:>12.0} {:>8} {:>8} | {:>12.0} {:>8} {:>8} | {:>10.0}%",
            row.workload.label(),
            row.callers,
            row.engine.calls_per_second(),
            quantile(&row.engine, 0.5),
            quantile(&row.engine, 0.99),
            row.bare.calls_per_second(),
            quantile(&row.bare, 0.5),
            quantile(&row.bare, 0.99),
            100.0 * row.engine.calls_per_second() / row.bare.calls_per_second()
        )?;
    }
    Ok(table)
}

fn writer_table(rows: &[Row], own_stores: bool, batch_events_max: usize) -> anyhow::Result<String> {
    let mut table = String::new();
    if !own_stores {
        writeln!(
            table,
            "# ledger writer not measured: the external stores are not ours to empty (--flush-external)"
        )?;
        return Ok(table);
    }
    writeln!(
        table,
        "# ledger writer (LedgerWriter, batches of {} events / {} ms, --writer-batch-events) running during each row; lag sampled every {} ms",
        batch_events_max,
        ledger::LEDGER_BATCH_WAIT_MS_MAX,
        writer_lag::LAG_SAMPLE_MS
    )?;
    writeln!(
        table,
        "# unwritten = events in the stream not yet in Postgres, start/max/end of the row; trend = their growth (least squares); falls behind when trend > {:.0}% of events/s",
        100.0 * writer_lag::LAG_GROWTH_SHARE_MAX
    )?;
    writeln!(
        table,
        "{:<11} {:>7} | {:>9} {:>9} | {:>20} | {:>17} | {:>8} {:>8} | verdict",
        "workload",
        "callers",
        "events/s",
        "written/s",
        "unwritten s/max/end",
        "oldest ms s/max/e",
        "trend/s",
        "drain ms",
    )?;
    for row in rows {
        let Some(writer) = &row.writer else { continue };
        let unwritten = format!(
            "{}/{}/{}",
            writer.start.unwritten_events, writer.max_unwritten_events, writer.end.unwritten_events
        );
        let oldest = format!(
            "{}/{}/{}",
            writer.start.oldest_age_ms, writer.max_oldest_age_ms, writer.end.oldest_age_ms
        );
        writeln!(
            table,
            "{:<11} {:>7} | {:>9.0} {:>9.0} | {:>20} | {:>17} | {:>+8.0} {:>8} | {}",
            row.workload.label(),
            row.callers,
            writer.events_per_second,
            writer.written_per_second,
            unwritten,
            oldest,
            writer.growth_per_second,
            writer.drained_in.as_millis(),
            writer.verdict.label()
        )?;
    }
    Ok(table)
}

/// The two targets, checked on this run's rows.
fn targets(rows: &[Row]) -> String {
    let mut lines = String::new();
    let most = rows.iter().map(|row| row.callers).max().unwrap_or(0);
    let shares: Vec<String> = rows
        .iter()
        .filter(|row| row.callers == most)
        .map(|row| {
            let share = row.engine.calls_per_second() / row.bare.calls_per_second();
            let met = if share >= ENGINE_SHARE_TARGET {
                "met"
            } else {
                "NOT met"
            };
            format!("{} {:.0}% {met}", row.workload.label(), 100.0 * share)
        })
        .collect();
    lines.push_str(&format!(
        "# target engine >= {:.0}% of bare at {most} callers: {}\n",
        100.0 * ENGINE_SHARE_TARGET,
        shares.join(", ")
    ));
    let writers: Vec<&Row> = rows.iter().filter(|row| row.writer.is_some()).collect();
    if !writers.is_empty() {
        let behind: Vec<String> = writers
            .iter()
            .filter(|row| {
                row.writer.as_ref().map(|w| w.verdict) == Some(WriterVerdict::FallsBehind)
            })
            .map(|row| format!("{} × {}", row.workload.label(), row.callers))
            .collect();
        let verdict = if behind.is_empty() {
            format!("writer keeps up in all {} rows: lag bounded", writers.len())
        } else {
            format!("writer falls behind in {}: lag growing", behind.join(", "))
        };
        lines.push_str(&format!("# target writer keeps up: {verdict}\n"));
    }
    lines
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

/// Stocks the workload's SKUs.
async fn prepare(engine: &Arc<RedisLuaEngine>, workload: Workload) -> anyhow::Result<()> {
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
    (slice_index, cell_time): (usize, Duration),
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
                    idempotency_key: format!("e{slice_index}-{caller}-{calls}"),
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
    (slice_index, cell_time): (usize, Duration),
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
                    .arg(format!("b{slice_index}-{caller}-{calls}"))
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
    let mut cell = Cell::new();
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
