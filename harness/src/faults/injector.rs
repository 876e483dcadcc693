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
use stockproof_infra::proxy::{FaultProxy, Toxics};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::spec::{FaultAction, FaultSpec, NetworkTarget, Trigger};

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
        FaultAction::RedisPause { duration } => {
            signal_redis(targets, &fault, true).await?;
            tokio::time::sleep(*duration).await;
            signal_redis(targets, &fault, false).await?;
            Ok(format!("paused for {duration:?}"))
        }
        FaultAction::RedisClientPause { duration } => {
            let url = targets.infra.lock().await.redis_url().to_owned();
            client_pause(&url, *duration).await.map_err(failed)?;
            // CLIENT PAUSE returns at once; the harm lasts `duration` from now.
            tokio::time::sleep(*duration).await;
            Ok(format!("CLIENT PAUSE {} ms ALL", duration.as_millis()))
        }
        FaultAction::PostgresRestart => {
            let mut infra = targets.infra.lock().await;
            let postgres = &mut local_servers(&mut infra, &fault)?.postgres;
            postgres
                .restart()
                .await
                .map_err(|error| failed(error.to_string()))?;
            Ok("postgres restarted".to_owned())
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
            proxy.set_toxics(toxics.clone());
            tokio::time::sleep(*duration).await;
            proxy.set_toxics(Toxics::default());
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
/// way finishes (a paused Redis must be resumed).
pub async fn run_schedule(
    specs: &[FaultSpec],
    targets: &FaultTargets,
    load_started: Instant,
    ops_completed: &AtomicU64,
    load_over: &CancellationToken,
) -> Vec<FaultRecord> {
    let fire = |spec: &FaultSpec| {
        let spec = spec.clone();
        async move {
            let description = spec.action.describe();
            tokio::select! {
                () = wait_for_trigger(spec.trigger, load_started, ops_completed) => {}
                () = load_over.cancelled() => {
                    let now = Instant::now();
                    return FaultRecord {
                        description,
                        detail: "not injected: the load ended before its trigger".to_owned(),
                        injected: false,
                        started: now,
                        ended: now,
                    };
                }
            }
            let started = Instant::now();
            let (detail, injected) = match inject(&spec.action, targets).await {
                Ok(detail) => (detail, true),
                Err(error) => (error.to_string(), false),
            };
            FaultRecord {
                description,
                detail,
                injected,
                started,
                ended: Instant::now(),
            }
        }
    };
    futures_util::future::join_all(specs.iter().map(fire)).await
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

async fn signal_redis(targets: &FaultTargets, fault: &str, pause: bool) -> Result<(), FaultError> {
    let mut infra = targets.infra.lock().await;
    let redis = &mut local_servers(&mut infra, fault)?.redis;
    let delivered = if pause { redis.pause() } else { redis.resume() };
    if delivered {
        Ok(())
    } else {
        Err(FaultError::Failed {
            fault: fault.to_owned(),
            reason: "redis-server is not running".to_owned(),
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
