//! Does the harm a [`FaultAction`] names, against the servers of the run and the engine
//! served in-process, and reports what happened; [`run_schedule`] fires every fault of a
//! run at its trigger while the load goes on.
//!
//! Not here: deciding whether the run survived the fault (the checks do that from the
//! history, where each fault is recorded as an op).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Connection;
use stockproof_engine::ledger::CrashPoint;
use stockproof_infra::Infra;
use stockproof_infra::proxy::FaultProxy;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::counterpart::{Applied, PlannedFault};
use super::spec::{FaultAction, NetworkTarget, Trigger};

/// Application name the ledger writer's Postgres connections carry, so that
/// `postgres-terminate-writer` hits exactly them.
pub const LEDGER_WRITER_APPLICATION_NAME: &str = stockproof_engine::ledger::WRITER_APPLICATION_NAME;
/// Every admin command of a fault (CLIENT PAUSE, pg_terminate_backend) gives up after
/// this: the fault is then reported as not injected, never hangs the run.
const ADMIN_COMMAND_TIMEOUT_MS: u64 = 10_000;
/// How often an `after_ops` trigger looks at the op counter.
const OPS_TRIGGER_POLL_MS: u64 = 10;

/// What the engine served in-process offers to fault injection.
#[async_trait]
pub trait EngineFaultHooks: Send + Sync + std::fmt::Debug {
    /// Makes the ledger writer die at `point` in its next batch; returns once it is
    /// dead.
    async fn crash_writer(&self, point: CrashPoint) -> Result<(), String>;
    /// Makes the engine die between its Redis and its Postgres write of the next
    /// change, and says what that did (nothing, for an engine with one write).
    async fn crash_between_writes(&self) -> Result<String, String>;
    /// Starts a new ledger writer (which reclaims the dead one's pending entries).
    async fn start_writer(&self) -> Result<(), String>;
    /// Just before Redis is killed: hold the engine's Redis traffic and note what Redis
    /// has acknowledged, so [`EngineFaultHooks::recover`] can measure the loss window.
    async fn before_redis_kill(&self) -> Result<(), String> {
        Ok(())
    }
    /// After Redis came back: rebuild it from the ledger if it is behind; says what was
    /// rebuilt and what was lost.
    async fn recover(&self) -> Result<String, String>;
    /// `application_name` of the Postgres connections that write the engine's ledger
    /// (what `postgres-terminate-writer` terminates): the ledger writer's, unless the
    /// engine writes its ledger in each request's transaction.
    fn ledger_application_name(&self) -> &'static str {
        LEDGER_WRITER_APPLICATION_NAME
    }
}

/// Everything a fault may act on. Process faults need the `local` provider; network
/// faults need the proxies the run put in front of Redis and Postgres.
#[derive(Debug, Clone)]
pub struct FaultTargets {
    pub infra: Arc<Mutex<Infra>>,
    pub redis_proxy: Option<Arc<FaultProxy>>,
    pub postgres_proxy: Option<Arc<FaultProxy>>,
    pub engine: Option<Arc<dyn EngineFaultHooks>>,
}

/// One injected fault, for the history and the report's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRecord {
    pub description: String,
    /// What happened: the recovery report, the backends terminated, or why the fault
    /// could not be injected.
    pub detail: String,
    pub injected: bool,
    /// Nothing was injected because the strategy lacks what the fault acts on
    /// (`detail` says why); the load and the checks ran as written.
    pub not_applicable: bool,
    pub started: Instant,
    pub ended: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("fault `{fault}` needs {needs}")]
    Unsupported { fault: String, needs: &'static str },
    #[error("fault `{fault}` failed: {reason}")]
    Failed { fault: String, reason: String },
}

/// Injects `action` now and returns once its harm is over (a timed fault has been
/// lifted, a killed server answers again).
pub async fn inject(action: &FaultAction, targets: &FaultTargets) -> Result<String, FaultError> {
    let fault = action.describe();
    let failed = |reason: String| FaultError::Failed {
        fault: fault.clone(),
        reason,
    };
    match action {
        FaultAction::RedisKill => {
            if let Some(engine) = &targets.engine {
                engine.before_redis_kill().await.map_err(&failed)?;
            }
            {
                let mut infra = targets.infra.lock().await;
                let redis = &mut local_servers(&mut infra, &fault)?.redis;
                let restarted = redis.kill_and_restart().await;
                if let Err(error) = restarted {
                    drop(infra);
                    // Lift the engine's hold on Redis traffic (recover does) whatever
                    // state Redis is in: the run must go on to a verdict.
                    if let Some(engine) = &targets.engine {
                        let _ = engine.recover().await;
                    }
                    return Err(failed(error.to_string()));
                }
            }
            match &targets.engine {
                Some(engine) => engine.recover().await.map_err(failed),
                None => Ok("redis restarted; no in-process engine to recover".to_owned()),
            }
        }
        FaultAction::RedisPause { duration } | FaultAction::PostgresPause { duration } => {
            let server = if matches!(action, FaultAction::RedisPause { .. }) {
                Server::Redis
            } else {
                Server::Postgres
            };
            signal_server(targets, &fault, server, true).await?;
            tokio::time::sleep(*duration).await;
            signal_server(targets, &fault, server, false).await?;
            Ok(format!("paused for {duration:?}"))
        }
        FaultAction::RedisClientPause { duration } => {
            let url = targets.infra.lock().await.redis_url().to_owned();
            client_pause(&url, *duration).await.map_err(failed)?;
            // CLIENT PAUSE returns at once; the harm lasts `duration` from now.
            tokio::time::sleep(*duration).await;
            Ok(format!("CLIENT PAUSE {} ms ALL", duration.as_millis()))
        }
        FaultAction::PostgresRestart | FaultAction::PostgresKill => {
            let mut infra = targets.infra.lock().await;
            let postgres = &mut local_servers(&mut infra, &fault)?.postgres;
            let (restarted, detail) = if matches!(action, FaultAction::PostgresKill) {
                let killed = postgres.kill_and_restart().await;
                (killed, "postgres killed and restarted (crash recovery)")
            } else {
                (postgres.restart().await, "postgres restarted")
            };
            restarted.map_err(|error| failed(error.to_string()))?;
            Ok(detail.to_owned())
        }
        FaultAction::PostgresLockSkus { duration } => {
            let url = targets.infra.lock().await.database_url().to_owned();
            lock_skus(&url, *duration).await.map_err(failed)?;
            Ok(format!("skus locked for {duration:?}"))
        }
        FaultAction::PostgresTerminateWriter => {
            let url = targets.infra.lock().await.database_url().to_owned();
            let name = targets
                .engine
                .as_ref()
                .map_or(LEDGER_WRITER_APPLICATION_NAME, |engine| {
                    engine.ledger_application_name()
                });
            let terminated = terminate_backends(&url, name).await.map_err(failed)?;
            Ok(if name == LEDGER_WRITER_APPLICATION_NAME {
                format!("{terminated} writer backend(s) terminated")
            } else {
                format!(
                    "{terminated} backend(s) of `{name}` terminated (the engine's pool: it \
                     writes the ledger in each request's transaction)"
                )
            })
        }
        FaultAction::WriterCrash { down_for, point } => {
            let engine = in_process_engine(targets, &fault)?;
            engine.crash_writer(*point).await.map_err(&failed)?;
            tokio::time::sleep(*down_for).await;
            engine.start_writer().await.map_err(failed)?;
            Ok(format!("writer down for {down_for:?}, then restarted"))
        }
        FaultAction::CrashBetweenWrites => {
            let engine = in_process_engine(targets, &fault)?;
            engine.crash_between_writes().await.map_err(failed)
        }
        FaultAction::Network {
            target,
            toxics,
            duration,
        } => {
            let proxy = proxy(targets, *target, &fault)?;
            // A layer, not a replacement: a Redis fault mapped onto the Postgres proxy
            // may overlap Postgres' own, and the end of one must not lift the other.
            let layer = proxy.add_toxics(toxics.clone());
            tokio::time::sleep(*duration).await;
            proxy.remove_toxics(layer);
            Ok(format!("lifted after {duration:?}"))
        }
        FaultAction::NetworkCut { target } => {
            let proxy = proxy(targets, *target, &fault)?;
            let open = proxy.open_connections();
            proxy.cut_connections();
            Ok(format!("{open} connection(s) reset"))
        }
    }
}

/// Fires every fault at its trigger, concurrently with the load. A fault whose trigger
/// has not come when `load_over` is cancelled is reported as not injected; one under
/// way finishes (a paused Redis must be resumed). One not applicable to the strategy is
/// reported at once, with its reason.
pub async fn run_schedule(
    planned: &[PlannedFault],
    targets: &FaultTargets,
    load_started: Instant,
    ops_completed: &AtomicU64,
    load_over: &CancellationToken,
) -> Vec<FaultRecord> {
    let fire = |planned: &PlannedFault| {
        let planned = planned.clone();
        async move {
            let description = planned.description.clone();
            let action = match planned.applied {
                Applied::Inject(action) => action,
                Applied::NotApplicable(reason) => {
                    return FaultRecord {
                        description,
                        detail: reason,
                        injected: false,
                        not_applicable: true,
                        started: load_started,
                        ended: load_started,
                    };
                }
            };
            tokio::select! {
                () = wait_for_trigger(planned.trigger, load_started, ops_completed) => {}
                () = load_over.cancelled() => {
                    let now = Instant::now();
                    return FaultRecord {
                        description,
                        detail: "not injected: the load ended before its trigger".to_owned(),
                        injected: false,
                        not_applicable: false,
                        started: now,
                        ended: now,
                    };
                }
            }
            let started = Instant::now();
            let (detail, injected) = match inject(&action, targets).await {
                Ok(detail) => (detail, true),
                Err(error) => (error.to_string(), false),
            };
            FaultRecord {
                description,
                detail,
                injected,
                not_applicable: false,
                started,
                ended: Instant::now(),
            }
        }
    };
    futures_util::future::join_all(planned.iter().map(fire)).await
}

async fn wait_for_trigger(trigger: Trigger, load_started: Instant, ops_completed: &AtomicU64) {
    match trigger {
        Trigger::At(offset) => tokio::time::sleep_until(load_started + offset).await,
        Trigger::AfterOps(ops) => {
            while ops_completed.load(Ordering::Relaxed) < ops {
                tokio::time::sleep(Duration::from_millis(OPS_TRIGGER_POLL_MS)).await;
            }
        }
    }
}

fn local_servers<'a>(
    infra: &'a mut Infra,
    fault: &str,
) -> Result<&'a mut stockproof_infra::local::LocalServers, FaultError> {
    infra.local_mut().ok_or_else(|| FaultError::Unsupported {
        fault: fault.to_owned(),
        needs: "servers started by stockproof (`--infra local`)",
    })
}

/// Which local server a pause signals.
#[derive(Debug, Clone, Copy)]
enum Server {
    Redis,
    Postgres,
}

/// SIGSTOP (`pause`) or SIGCONT of a local server: Redis' process, or Postgres'
/// postmaster and every process it forked.
async fn signal_server(
    targets: &FaultTargets,
    fault: &str,
    server: Server,
    pause: bool,
) -> Result<(), FaultError> {
    let mut infra = targets.infra.lock().await;
    let servers = local_servers(&mut infra, fault)?;
    let (delivered, name) = match (server, pause) {
        (Server::Redis, true) => (servers.redis.pause(), "redis-server"),
        (Server::Redis, false) => (servers.redis.resume(), "redis-server"),
        (Server::Postgres, true) => (servers.postgres.pause(), "postgres"),
        (Server::Postgres, false) => (servers.postgres.resume(), "postgres"),
    };
    if delivered {
        Ok(())
    } else {
        Err(FaultError::Failed {
            fault: fault.to_owned(),
            reason: format!("{name} is not running"),
        })
    }
}

fn in_process_engine<'a>(
    targets: &'a FaultTargets,
    fault: &str,
) -> Result<&'a Arc<dyn EngineFaultHooks>, FaultError> {
    targets
        .engine
        .as_ref()
        .ok_or_else(|| FaultError::Unsupported {
            fault: fault.to_owned(),
            needs: "the engine served in-process (not `--target URL`)",
        })
}

fn proxy<'a>(
    targets: &'a FaultTargets,
    target: NetworkTarget,
    fault: &str,
) -> Result<&'a Arc<FaultProxy>, FaultError> {
    let proxy = match target {
        NetworkTarget::Redis => targets.redis_proxy.as_ref(),
        NetworkTarget::Postgres => targets.postgres_proxy.as_ref(),
    };
    proxy.ok_or_else(|| FaultError::Unsupported {
        fault: fault.to_owned(),
        needs: "the engine served in-process behind the fault proxies",
    })
}

async fn client_pause(redis_url: &str, duration: Duration) -> Result<(), String> {
    let timeout = Duration::from_millis(ADMIN_COMMAND_TIMEOUT_MS);
    let command = async {
        let client = redis::Client::open(redis_url).map_err(|error| error.to_string())?;
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|error| error.to_string())?;
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(duration.as_millis() as u64)
            .arg("ALL")
            .query_async::<()>(&mut connection)
            .await
            .map_err(|error| error.to_string())
    };
    tokio::time::timeout(timeout, command)
        .await
        .map_err(|_| format!("CLIENT PAUSE got no reply within {timeout:?}"))?
}

/// Holds `LOCK TABLE skus IN ACCESS EXCLUSIVE MODE` for `duration`, then rolls back.
/// Taking the lock waits behind the transactions that hold the table's rows, within
/// the admin bound.
async fn lock_skus(database_url: &str, duration: Duration) -> Result<(), String> {
    let timeout = Duration::from_millis(ADMIN_COMMAND_TIMEOUT_MS);
    let mut connection = tokio::time::timeout(timeout, sqlx::PgConnection::connect(database_url))
        .await
        .map_err(|_| format!("no connection to postgres within {timeout:?}"))?
        .map_err(|error| error.to_string())?;
    let mut transaction = connection
        .begin()
        .await
        .map_err(|error| error.to_string())?;
    tokio::time::timeout(
        timeout,
        sqlx::query("LOCK TABLE skus IN ACCESS EXCLUSIVE MODE").execute(&mut *transaction),
    )
    .await
    .map_err(|_| format!("LOCK TABLE skus was not granted within {timeout:?}"))?
    .map_err(|error| error.to_string())?;
    tokio::time::sleep(duration).await;
    transaction
        .rollback()
        .await
        .map_err(|error| error.to_string())
}

/// `pg_terminate_backend` of every connection whose `application_name` is `name`.
async fn terminate_backends(database_url: &str, name: &str) -> Result<u64, String> {
    let timeout = Duration::from_millis(ADMIN_COMMAND_TIMEOUT_MS);
    let command = async {
        let mut connection = sqlx::PgConnection::connect(database_url)
            .await
            .map_err(|error| error.to_string())?;
        let terminated: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()) AS terminated",
        )
        .bind(name)
        .fetch_one(&mut connection)
        .await
        .map_err(|error| error.to_string())?;
        Ok(terminated as u64)
    };
    tokio::time::timeout(timeout, command)
        .await
        .map_err(|_| format!("pg_terminate_backend got no reply within {timeout:?}"))?
}
