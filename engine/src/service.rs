//! The whole reference service, in-process: given Redis and Postgres URLs, runs the
//! migrations and start-up recovery (DESIGN §3), starts the ledger writer, the expiry
//! sweeper and the HTTP server (DESIGN §6), and returns a [`Service`] handle with the
//! bound address and an orderly [`Service::shutdown`]. `stockproof serve` and the
//! harness (serving the engine in-process for its runs) both use it.
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
    Strategy {
        strategy: Strategy,
        reason: &'static str,
    },
    #[error("the HTTP server failed: {0}")]
    Server(String),
}

/// What an orderly shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// The ledger writer's counters; after a clean drain Postgres holds every event.
    pub writer: WriterStats,
    /// Reservations the sweeper expired while the service ran.
    pub expired: u64,
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
    writer: Arc<WriterSupervisor>,
    crash_between_writes: Option<Arc<CrashBetweenWrites>>,
    sweeper: Sweeper,
    recovery: RecoveryReport,
}

impl Service {
    /// Migrates, recovers, then starts the writer, the sweeper and the HTTP server.
    /// Returns once the socket is bound and `/readyz` would answer 200.
    pub async fn start(config: ServiceConfig) -> Result<Service, ServiceError> {
        if config.strategy != Strategy::RedisLua {
            return Err(ServiceError::Strategy {
                strategy: config.strategy,
                reason: "not served yet on this branch",
            });
        }
        let pool = stores::connect_postgres(&config.database_url).await?;
        ledger::migrate(&pool).await?;
        let metrics = Arc::new(ServiceMetrics::new());
        let keys = crate::ShopKeys::new(&config.shop);
        let recovery = {
            let mut redis = stores::connect_redis(&config.redis_url).await?;
            let recovery_config = RecoveryConfig {
                retention_ms: config.engine.retention_ms,
            };
            recovery::recover(&mut redis, &pool, &keys, &recovery_config).await?
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
            None => {
                Arc::new(RedisLuaEngine::connect(&config.redis_url, config.engine.clone()).await?)
            }
            Some(variant) => {
                tracing::warn!(%variant, "serving a deliberately BROKEN engine: {}", variant.description());
                let crash = crash_between_writes.clone().unwrap_or_default();
                variant
                    .connect_with_crash(
                        &config.redis_url,
                        config.engine.clone(),
                        Some(&pool),
                        crash,
                    )
                    .await?
            }
        };
        // The writer's own pool, named so that its backends can be told apart.
        let writer_pool = stores::connect_postgres_as(
            &config.database_url,
            Some(ledger::WRITER_APPLICATION_NAME),
        )
        .await?;
        let writer = Arc::new(WriterSupervisor::spawn(
            &config.redis_url,
            writer_pool,
            keys.clone(),
            WriterConfig {
                flaw: config
                    .variant
                    .map_or(WriterFlaw::None, Variant::writer_flaw),
                ..WriterConfig::new(format!("serve-{}", std::process::id()))
            },
        )?);
        let dyn_engine = Arc::clone(&engine);
        let sweeper = Sweeper::spawn(Arc::clone(&dyn_engine), config.sweeper)?;
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
            engine: dyn_engine,
            database: pool,
            recovered: Arc::new(AtomicBool::new(true)),
            ledger_reachable: Arc::clone(&ledger_reachable),
            metrics: Arc::clone(&metrics),
        };
        let (stop_http, stop_rx) = watch::channel(false);
        let crasher = config
            .variant
            .and_then(Variant::writer_crash)
            .filter(|_| config.variant_crashes == VariantCrashes::BuiltIn)
            .map(|point| {
                let crashes =
                    crash_writer_periodically(Arc::clone(&writer), point, stop_http.subscribe());
                AbortOnDrop::new(tokio::spawn(crashes))
            });
        let server = AbortOnDrop::new(tokio::spawn(serve(listener, http::router(state), stop_rx)));
        let monitor = AbortOnDrop::new(tokio::spawn(monitor(
            Probes {
                redis_url: config.redis_url.clone(),
                keys,
                database: pool_for_probes,
                ledger_reachable,
            },
            Arc::clone(&metrics),
            sweeper.counters(),
            stop_http.subscribe(),
        )));
        tracing::info!(%local_addr, shop = %config.shop, "serving");
        Ok(Service {
            local_addr,
            engine,
            metrics,
            stop_http,
            server,
            monitor,
            crasher,
            writer,
            crash_between_writes,
            sweeper,
            recovery,
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

    /// The ledger writer, for fault injection (crash and restart it while serving).
    pub fn writer(&self) -> Arc<WriterSupervisor> {
        Arc::clone(&self.writer)
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
        let writer = self.writer.shutdown().await?;
        let _ = self
            .monitor
            .join(Duration::from_millis(PROBE_TIMEOUT_MS * 4))
            .await;
        server_outcome?;
        tracing::info!(events_written = writer.events_written, expired, "stopped");
        Ok(ShutdownReport { writer, expired })
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
    redis_url: String,
    keys: crate::ShopKeys,
    database: sqlx::PgPool,
    ledger_reachable: Arc<AtomicBool>,
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
        if redis.is_none() {
            let connect = stores::connect_redis(&probes.redis_url);
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
