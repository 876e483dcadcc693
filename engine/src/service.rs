//! The whole service, in-process, for any [`Strategy`]: given Redis and Postgres URLs,
//! runs the migrations; for the reference (`redis-lua`) start-up recovery (DESIGN §3)
//! and the ledger writer; for every strategy the expiry sweeper and the HTTP server
//! (DESIGN §6); and returns a [`Service`] handle with the bound address and an orderly
//! [`Service::shutdown`]. The Postgres strategies start no Redis connection, writer or
//! recovery: they have no stream. `stockproof serve` and the harness (serving the
//! engine in-process for its runs) both use it.
//!
//! Not here: starting Redis or Postgres (see `stockproof-infra`), signals, logging
//! setup, command-line flags (the harness binary's `serve` command).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine::InventoryEngine;
use crate::http::metrics::ServiceMetrics;
use crate::http::{self, AppState};
use crate::ledger::{
    self, CrashPoint, LedgerError, WriterConfig, WriterFlaw, WriterStats, WriterSupervisor,
};
use crate::pg::{
    OptimisticCounters, OptimisticCountersSnapshot, PgConfig, PgOptimisticEngine, PgRowLockEngine,
};
use crate::recovery::{self, RecoveryConfig, RecoveryReport};
use crate::redis_lua::{RedisLuaConfig, RedisLuaEngine};
use crate::stores;
use crate::strategy::Strategy;
use crate::sweeper::{Sweeper, SweeperConfig};
use crate::variants::{CrashBetweenWrites, DUAL_WRITE_CRASH_EVERY_DEFAULT, Variant};

/// How long in-flight requests may take to finish after shutdown starts; above the
/// request timeout, so every admitted request gets its answer.
pub const SHUTDOWN_REQUESTS_WAIT_MS_MAX: u64 = http::REQUEST_TIMEOUT_MS + 2_000;
/// How often the ledger lag and sweeper counters are copied into the metrics: a
/// Prometheus scrape interval is 10 s or more, so once a second is plenty.
pub const METRICS_POLL_MS: u64 = 1_000;
/// How often `stockproof serve` crashes the ledger writer of a variant whose flaw needs
/// a writer crash (`lossy-ledger`, `non-idempotent-projection`): often enough that a
/// minute of load shows the flaw several times, rare enough that the writer spends
/// most of its time writing.
pub const VARIANT_WRITER_CRASH_EVERY_MS: u64 = 5_000;
/// Bound on one probe (a `SELECT 1`, or the two Redis commands of a lag reading, take
/// well under a millisecond on loopback); below the poll interval.
const PROBE_TIMEOUT_MS: u64 = 500;

/// What to serve, and where.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub redis_url: String,
    pub database_url: String,
    /// Where to listen; port 0 picks a free one (see [`Service::local_addr`]).
    pub listen: SocketAddr,
    /// The shop (key prefix `sp:{shop}:`) this service owns.
    pub shop: String,
    pub engine: RedisLuaConfig,
    pub sweeper: SweeperConfig,
    /// Which inventory design serves (`--strategy`); the default is the reference,
    /// `redis-lua`.
    pub strategy: Strategy,
    /// A deliberately broken engine to serve instead of the reference (`--variant`);
    /// `None`, the default, serves the reference engine.
    pub variant: Option<Variant>,
    /// Who crashes a variant whose flaw needs a crash to show (see
    /// [`VariantCrashes`]); ignored for the reference and the other variants.
    pub variant_crashes: VariantCrashes,
}

/// Who fires the crash a `dual-write`, `lossy-ledger` or `non-idempotent-projection`
/// variant needs before its flaw shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantCrashes {
    /// The service itself, so that any load tool exposes the flaw (`stockproof
    /// serve`): `dual-write` drops every
    /// [`DUAL_WRITE_CRASH_EVERY_DEFAULT`](crate::variants::DUAL_WRITE_CRASH_EVERY_DEFAULT)-th
    /// Postgres write, and the writer variants' writer crashes at its variant's point
    /// every [`VARIANT_WRITER_CRASH_EVERY_MS`] and restarts.
    BuiltIn,
    /// Someone else, through [`Service::crash_between_writes`] and [`Service::writer`]
    /// (`stockproof run`'s fault injection, so each crash is on the run's timeline).
    Injected,
}

impl ServiceConfig {
    /// The defaults: loopback on a free port, the engine's and sweeper's defaults.
    pub fn new(redis_url: &str, database_url: &str, shop: &str) -> ServiceConfig {
        ServiceConfig {
            redis_url: redis_url.to_owned(),
            database_url: database_url.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            shop: shop.to_owned(),
            engine: RedisLuaConfig::new(shop),
            sweeper: SweeperConfig::default(),
            strategy: Strategy::default(),
            variant: None,
            variant_crashes: VariantCrashes::BuiltIn,
        }
    }
}

/// Why the service could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("connecting to the stores: {0}")]
    Stores(#[from] stores::StoreError),
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("engine: {0}")]
    Engine(#[from] crate::EngineError),
    #[error("listening on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("strategy {strategy}: {reason}")]
    Strategy { strategy: Strategy, reason: String },
    #[error("the HTTP server failed: {0}")]
    Server(String),
}

/// What an orderly shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// The ledger writer's counters; after a clean drain Postgres holds every event.
    /// `None` for the Postgres strategies (no writer: nothing to drain).
    pub writer: Option<WriterStats>,
    /// Reservations the sweeper expired while the service ran.
    pub expired: u64,
    /// `pg-optimistic`'s conflicts and exhausted retry budgets.
    pub optimistic: Option<OptimisticCountersSnapshot>,
}

/// A running service. Dropping it without [`Service::shutdown`] aborts the tasks.
#[derive(Debug)]
pub struct Service {
    local_addr: SocketAddr,
    engine: Arc<dyn InventoryEngine>,
    metrics: Arc<ServiceMetrics>,
    stop_http: watch::Sender<bool>,
    server: AbortOnDrop<std::io::Result<()>>,
    monitor: AbortOnDrop<()>,
    /// The built-in writer crashes of a writer variant ([`VariantCrashes::BuiltIn`]).
    crasher: Option<AbortOnDrop<()>>,
    writer: Option<Arc<WriterSupervisor>>,
    crash_between_writes: Option<Arc<CrashBetweenWrites>>,
    optimistic: Option<Arc<OptimisticCounters>>,
    sweeper: Sweeper,
    recovery: RecoveryReport,
}

impl Service {
    /// Migrates; for `redis-lua`, recovers and starts the ledger writer; then starts
    /// the sweeper and the HTTP server. Returns once the socket is bound and
    /// `/readyz` would answer 200. The Postgres strategies have no stream, writer or
    /// recovery: only what they need is started, and Redis is never connected.
    pub async fn start(config: ServiceConfig) -> Result<Service, ServiceError> {
        let pool = stores::connect_postgres(&config.database_url).await?;
        ledger::migrate(&pool).await?;
        let metrics = Arc::new(ServiceMetrics::new());
        let parts = match config.strategy {
            Strategy::RedisLua => start_redis_lua(&config, &pool, &metrics).await?,
            Strategy::PgRowLock | Strategy::PgOptimistic => {
                start_postgres_only(&config, &metrics).await?
            }
        };
        let engine = Arc::clone(&parts.engine);
        let sweeper = Sweeper::spawn(Arc::clone(&engine), config.sweeper)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServiceError::Listen {
                    address: config.listen,
                    source,
                })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServiceError::Listen {
                address: config.listen,
                source,
            })?;
        let ledger_reachable = Arc::new(AtomicBool::new(true));
        let pool_for_probes = pool.clone();
        let state = AppState {
            engine: Arc::clone(&engine),
            engine_store: if config.strategy.uses_redis() {
                "redis"
            } else {
                "postgres"
            },
            database: pool,
            recovered: Arc::new(AtomicBool::new(true)),
            ledger_reachable: Arc::clone(&ledger_reachable),
            metrics: Arc::clone(&metrics),
        };
        let (stop_http, stop_rx) = watch::channel(false);
        let crasher = match &parts.writer {
            Some(writer) => config
                .variant
                .and_then(Variant::writer_crash)
                .filter(|_| config.variant_crashes == VariantCrashes::BuiltIn)
                .map(|point| {
                    let crashes =
                        crash_writer_periodically(Arc::clone(writer), point, stop_http.subscribe());
                    AbortOnDrop::new(tokio::spawn(crashes))
                }),
            None => None,
        };
        let server = AbortOnDrop::new(tokio::spawn(serve(listener, http::router(state), stop_rx)));
        let monitor = AbortOnDrop::new(tokio::spawn(monitor(
            Probes {
                redis_url: config
                    .strategy
                    .uses_redis()
                    .then(|| config.redis_url.clone()),
                keys: crate::ShopKeys::new(&config.shop),
                database: pool_for_probes,
                ledger_reachable,
                optimistic: parts.optimistic.clone(),
            },
            Arc::clone(&metrics),
            sweeper.counters(),
            stop_http.subscribe(),
        )));
        tracing::info!(%local_addr, shop = %config.shop, strategy = %config.strategy, "serving");
        Ok(Service {
            local_addr,
            engine,
            metrics,
            stop_http,
            server,
            monitor,
            crasher,
            writer: parts.writer,
            crash_between_writes: parts.crash_between_writes,
            optimistic: parts.optimistic,
            sweeper,
            recovery: parts.recovery,
        })
    }

    /// The `dual-write` variant's crash hook (`None` for every other engine): arm it
    /// to drop the next Postgres write, as a crash right after the Redis write would.
    pub fn crash_between_writes(&self) -> Option<Arc<CrashBetweenWrites>> {
        self.crash_between_writes.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The engine the server drives (for in-process checks and seeding).
    pub fn engine(&self) -> Arc<dyn InventoryEngine> {
        Arc::clone(&self.engine)
    }

    pub fn metrics(&self) -> Arc<ServiceMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The ledger writer, for fault injection (crash and restart it while serving);
    /// `None` for the Postgres strategies, which have none.
    pub fn writer(&self) -> Option<Arc<WriterSupervisor>> {
        self.writer.clone()
    }

    /// What start-up recovery found and did.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// Stops accepting, lets in-flight requests finish (bounded by
    /// [`SHUTDOWN_REQUESTS_WAIT_MS_MAX`]), stops the sweeper, then drains the writer
    /// (everything already in the stream reaches Postgres).
    pub async fn shutdown(self) -> Result<ShutdownReport, ServiceError> {
        let _ = self.stop_http.send(true);
        let wait = Duration::from_millis(SHUTDOWN_REQUESTS_WAIT_MS_MAX);
        let server_outcome = match self.server.join(wait).await {
            Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(error))) => Err(ServiceError::Server(error.to_string())),
            Some(Err(join_error)) => Err(ServiceError::Server(join_error.to_string())),
            None => Err(ServiceError::Server(format!(
                "in-flight requests still running after {SHUTDOWN_REQUESTS_WAIT_MS_MAX} ms"
            ))),
        };
        if let Some(crasher) = self.crasher {
            // It stops between crashes and always leaves a writer running to drain.
            let wait = Duration::from_millis(ledger::CRASH_WAIT_MS_MAX + PROBE_TIMEOUT_MS);
            let _ = crasher.join(wait).await;
        }
        let expired = self.sweeper.expired();
        self.sweeper.shutdown().await;
        let writer = match &self.writer {
            Some(writer) => Some(writer.shutdown().await?),
            None => None,
        };
        let _ = self
            .monitor
            .join(Duration::from_millis(PROBE_TIMEOUT_MS * 4))
            .await;
        server_outcome?;
        let optimistic = self.optimistic.as_ref().map(|counters| counters.read());
        match (&writer, &optimistic) {
            (Some(writer), _) => {
                tracing::info!(events_written = writer.events_written, expired, "stopped");
            }
            (None, Some(optimistic)) => tracing::info!(
                expired,
                conflicts = optimistic.conflicts,
                exhausted = optimistic.exhausted,
                "stopped"
            ),
            (None, None) => tracing::info!(expired, "stopped"),
        }
        Ok(ShutdownReport {
            writer,
            expired,
            optimistic,
        })
    }
}

/// What a strategy starts beside the HTTP server and the sweeper.
struct Parts {
    engine: Arc<dyn InventoryEngine>,
    /// `redis-lua` only: the stream's writer into the Postgres ledger.
    writer: Option<Arc<WriterSupervisor>>,
    crash_between_writes: Option<Arc<CrashBetweenWrites>>,
    /// `pg-optimistic` only: its conflicts and exhausted budgets.
    optimistic: Option<Arc<OptimisticCounters>>,
    recovery: RecoveryReport,
}

/// The reference: start-up recovery of Redis from the ledger, the engine (or a
/// variant of it) and the ledger writer.
async fn start_redis_lua(
    config: &ServiceConfig,
    pool: &sqlx::PgPool,
    metrics: &ServiceMetrics,
) -> Result<Parts, ServiceError> {
    let keys = crate::ShopKeys::new(&config.shop);
    let recovery = {
        let mut redis = stores::connect_redis(&config.redis_url).await?;
        let recovery_config = RecoveryConfig {
            retention_ms: config.engine.retention_ms,
        };
        recovery::recover(&mut redis, pool, &keys, &recovery_config).await?
    };
    if recovery.rebuilt {
        tracing::warn!(
            events_lost = recovery.events_lost,
            units_lost = recovery.units_lost,
            "redis was behind the ledger and was rebuilt from it"
        );
        metrics.add_recovery();
    }
    let crash_between_writes = (config.variant == Some(Variant::DualWrite)).then(|| {
        Arc::new(CrashBetweenWrites::every(match config.variant_crashes {
            VariantCrashes::BuiltIn => DUAL_WRITE_CRASH_EVERY_DEFAULT,
            VariantCrashes::Injected => 0,
        }))
    });
    let engine: Arc<dyn InventoryEngine> = match config.variant {
        None => Arc::new(RedisLuaEngine::connect(&config.redis_url, config.engine.clone()).await?),
        Some(variant) => {
            tracing::warn!(%variant, "serving a deliberately BROKEN engine: {}", variant.description());
            let crash = crash_between_writes.clone().unwrap_or_default();
            variant
                .connect_with_crash(&config.redis_url, config.engine.clone(), Some(pool), crash)
                .await?
        }
    };
    // The writer's own pool, named so that its backends can be told apart.
    let writer_pool =
        stores::connect_postgres_as(&config.database_url, Some(ledger::WRITER_APPLICATION_NAME))
            .await?;
    let writer = Arc::new(WriterSupervisor::spawn(
        &config.redis_url,
        writer_pool,
        keys,
        WriterConfig {
            flaw: config
                .variant
                .map_or(WriterFlaw::None, Variant::writer_flaw),
            ..WriterConfig::new(format!("serve-{}", std::process::id()))
        },
    )?);
    Ok(Parts {
        engine,
        writer: Some(writer),
        crash_between_writes,
        optimistic: None,
        recovery,
    })
}

/// A Postgres-only strategy (or its variant): the engine alone; its ledger rows are
/// written in each request's transaction, so there is nothing to recover or drain.
async fn start_postgres_only(
    config: &ServiceConfig,
    metrics: &ServiceMetrics,
) -> Result<Parts, ServiceError> {
    let pg_config = PgConfig {
        retention_ms: config.engine.retention_ms,
        ..PgConfig::default()
    };
    if let Some(variant) = config.variant {
        if variant.strategy() != config.strategy {
            return Err(ServiceError::Strategy {
                strategy: config.strategy,
                reason: format!(
                    "variant {variant} breaks strategy {}, not this one",
                    variant.strategy()
                ),
            });
        }
        tracing::warn!(%variant, "serving a deliberately BROKEN engine: {}", variant.description());
        let engine = variant
            .connect_postgres(&config.database_url, pg_config)
            .await?;
        return Ok(Parts::postgres_only(engine, None));
    }
    Ok(match config.strategy {
        Strategy::PgOptimistic => {
            let engine = PgOptimisticEngine::connect(&config.database_url, pg_config).await?;
            let counters = engine.counters();
            metrics.describe_optimistic();
            Parts::postgres_only(Arc::new(engine), Some(counters))
        }
        Strategy::RedisLua | Strategy::PgRowLock => Parts::postgres_only(
            Arc::new(PgRowLockEngine::connect(&config.database_url, pg_config).await?),
            None,
        ),
    })
}

impl Parts {
    fn postgres_only(
        engine: Arc<dyn InventoryEngine>,
        optimistic: Option<Arc<OptimisticCounters>>,
    ) -> Parts {
        Parts {
            engine,
            writer: None,
            crash_between_writes: None,
            optimistic,
            recovery: RecoveryReport::default(),
        }
    }
}

async fn serve(
    listener: TcpListener,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
        .await
}

/// Until stopped: every [`VARIANT_WRITER_CRASH_EVERY_MS`], crashes the writer at
/// `point` and starts a new one (which claims the dead one's pending entries).
async fn crash_writer_periodically(
    writer: Arc<WriterSupervisor>,
    point: CrashPoint,
    mut stop: watch::Receiver<bool>,
) {
    let every = Duration::from_millis(VARIANT_WRITER_CRASH_EVERY_MS);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        match writer.crash_mid_batch(point).await {
            Ok(batch) => {
                tracing::warn!(?batch, "variant: ledger writer crashed {}", point.as_str())
            }
            Err(error) => tracing::warn!(%error, "variant: crashing the ledger writer"),
        }
        if let Err(error) = writer.restart().await {
            tracing::error!(%error, "variant: restarting the ledger writer");
        }
    }
}

/// What the monitor probes.
struct Probes {
    /// `None` for the Postgres strategies: no stream, so no ledger lag to read.
    redis_url: Option<String>,
    keys: crate::ShopKeys,
    database: sqlx::PgPool,
    ledger_reachable: Arc<AtomicBool>,
    optimistic: Option<Arc<OptimisticCounters>>,
}

/// Until stopped, about once a second: probes Postgres (writes are refused while it
/// does not answer, see [`AppState::check_writable`]), and copies the ledger lag and
/// the sweeper's count into the metrics.
async fn monitor(
    probes: Probes,
    metrics: Arc<ServiceMetrics>,
    sweeper: Arc<crate::sweeper::SweeperCounters>,
    mut stop: watch::Receiver<bool>,
) {
    let mut redis = None;
    let mut expired_seen = 0;
    let mut optimistic_seen = OptimisticCountersSnapshot::default();
    let probe_timeout = Duration::from_millis(PROBE_TIMEOUT_MS);
    let mut interval = tokio::time::interval(Duration::from_millis(METRICS_POLL_MS));
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let expired = sweeper.expired();
        metrics.add_expirations(expired - expired_seen);
        expired_seen = expired;
        let query = sqlx::query("SELECT 1").execute(&probes.database);
        let reachable = matches!(tokio::time::timeout(probe_timeout, query).await, Ok(Ok(_)));
        if probes.ledger_reachable.swap(reachable, Ordering::AcqRel) != reachable {
            tracing::warn!(reachable, "postgres reachability changed; writes follow it");
        }
        if let Some(counters) = &probes.optimistic {
            let now = counters.read();
            metrics.add_optimistic(
                now.conflicts - optimistic_seen.conflicts,
                now.exhausted - optimistic_seen.exhausted,
            );
            optimistic_seen = now;
        }
        let Some(redis_url) = &probes.redis_url else {
            continue;
        };
        if redis.is_none() {
            let connect = stores::connect_redis(redis_url);
            redis = tokio::time::timeout(probe_timeout, connect)
                .await
                .ok()
                .and_then(Result::ok);
        }
        let Some(connection) = redis.as_mut() else {
            continue;
        };
        match tokio::time::timeout(probe_timeout, ledger::lag(connection, &probes.keys)).await {
            Ok(Ok(lag)) => metrics.set_ledger_lag(
                lag.unwritten_events(),
                Duration::from_millis(lag.oldest_unwritten_age_ms.unwrap_or(0)),
            ),
            // Redis restarted or slow: reconnect on the next tick.
            Ok(Err(_)) | Err(_) => redis = None,
        }
    }
}

/// A task aborted when its handle is dropped: a `Service` dropped without
/// `shutdown` (a panicking test) leaves no server behind.
#[derive(Debug)]
struct AbortOnDrop<T>(Option<JoinHandle<T>>);

impl<T> AbortOnDrop<T> {
    fn new(task: JoinHandle<T>) -> AbortOnDrop<T> {
        AbortOnDrop(Some(task))
    }

    /// Waits up to `wait` for the task; aborts it and returns `None` past that.
    async fn join(mut self, wait: Duration) -> Option<Result<T, tokio::task::JoinError>> {
        let mut task = self.0.take()?;
        match tokio::time::timeout(wait, &mut task).await {
            Ok(outcome) => Some(outcome),
            Err(_) => {
                task.abort();
                None
            }
        }
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}
