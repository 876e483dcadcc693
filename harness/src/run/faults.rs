//! Fault injection wired into a run: the proxies in front of Redis and Postgres that the
//! in-process engine talks through, the engine's fault hooks (crash and restart its
//! ledger writer, recover Redis from the ledger after a kill), the refusal of faults
//! the run cannot serve, the fault records as
//! history ops, and the loss window of a Redis kill: events Redis had acknowledged that
//! never reached Postgres, and the units they moved per SKU.
//!
//! Not here: what each fault does (`crate::faults`), judging (`crate::judge`; the
//! loss window itself, `judge::record::LossWindow`, is plain data the judge applies).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use stockproof_engine::ShopKeys;
use stockproof_engine::ledger::{CrashPoint, WriterSupervisor};
use stockproof_engine::recovery::{self, RecoveryConfig};
use stockproof_engine::stores;
use stockproof_engine::strategy::Strategy;
use stockproof_engine::variants::CrashBetweenWrites;
use stockproof_infra::proxy::{FaultProxy, Toxics};
use tokio::sync::Mutex;

use crate::faults::{EngineFaultHooks, FaultAction, FaultRecord, PlannedFault};
use crate::history::{HistoryEntry, Op, OpId, Outcome};
use crate::judge::record::KillLoss;

/// Stream entries read before a kill to measure what it loses: the writer keeps the
/// unwritten tail to a few batches, so this is far above it.
const LOSS_STREAM_ENTRIES_MAX: usize = 100_000;
/// Bound on each read a loss measurement makes (seq, stream tail, ledger max).
const LOSS_READ_TIMEOUT_MS: u64 = 5_000;
/// Longest a `crash-between-writes` fault waits for the engine's next confirm (the
/// crash falls on a confirm: `CrashBetweenWrites::arm`); past this the crash is still
/// armed, and said so.
const CRASH_BETWEEN_WRITES_WAIT_MS_MAX: u64 = 5_000;

/// Why the proxies could not be put in place.
#[derive(Debug, thiserror::Error)]
#[error("putting a fault proxy in front of `{url}`: {reason}")]
pub struct ProxyError {
    pub url: String,
    pub reason: String,
}

/// A proxy in front of the server at `url`, and `url` rewritten to go through it.
pub async fn proxy_in_front(url: &str) -> Result<(Arc<FaultProxy>, String), ProxyError> {
    let error = |reason: String| ProxyError {
        url: url.to_owned(),
        reason,
    };
    let mut parsed = reqwest::Url::parse(url).map_err(|e| error(e.to_string()))?;
    let upstream = parsed
        .socket_addrs(|| None)
        .map_err(|e| error(e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| error("no address".to_owned()))?;
    let proxy = FaultProxy::start(upstream)
        .await
        .map_err(|e| error(e.to_string()))?;
    let listen = proxy.listen_address();
    parsed
        .set_ip_host(listen.ip())
        .map_err(|()| error("cannot set the host".to_owned()))?;
    parsed
        .set_port(Some(listen.port()))
        .map_err(|()| error("cannot set the port".to_owned()))?;
    Ok((Arc::new(proxy), parsed.to_string()))
}

/// The refusal of a fault the run cannot serve, said before any load is sent.
/// `actions` are what the run would inject (for a strategy without Redis, the
/// counterparts: `crate::faults::plan`).
pub fn refusal<'a>(
    actions: impl IntoIterator<Item = &'a FaultAction>,
    in_process: bool,
    local: bool,
) -> Option<String> {
    actions.into_iter().find_map(|action| {
        let fault = action.describe();
        if !in_process {
            Some(format!(
                "fault `{fault}` needs the engine served in-process by stockproof, on \
                 servers it can reach (drop `--target URL`)"
            ))
        } else if action.needs_local_servers() && !local {
            Some(format!(
                "fault `{fault}` needs servers started by stockproof (`--provider local`): \
                 it signals or restarts their processes"
            ))
        } else {
            None
        }
    })
}

/// One unwritten stream entry read before a kill: seq, SKU, qty.
type TailEvent = (i64, String, i64);
/// Redis `seq` and the unwritten stream tail, read just before a kill.
type BeforeKill = (i64, Vec<TailEvent>);

/// The in-process engine as fault injection sees it.
#[derive(Debug)]
pub struct InProcessHooks {
    /// `None` for a Postgres strategy (no writer; its writer faults are not
    /// applicable, see `crate::faults::plan`).
    pub writer: Option<Arc<WriterSupervisor>>,
    /// The design served: whose connections write the ledger.
    pub strategy: Strategy,
    /// The `dual-write` variant's crash hook (`None`: an engine with one write).
    pub crash_between_writes: Option<Arc<CrashBetweenWrites>>,
    /// Direct URLs (not through the proxies): recovery and loss reads.
    pub redis_url: String,
    pub database_url: String,
    pub keys: ShopKeys,
    pub retention_ms: i64,
    pub redis_proxy: Option<Arc<FaultProxy>>,
    /// Seq and unwritten stream tail (seq, sku, qty) read just before a kill.
    pending_kill: Mutex<Option<BeforeKill>>,
    pub losses: Mutex<Vec<KillLoss>>,
}

impl InProcessHooks {
    pub fn new(
        (writer, strategy): (Option<Arc<WriterSupervisor>>, Strategy),
        crash_between_writes: Option<Arc<CrashBetweenWrites>>,
        redis_url: &str,
        database_url: &str,
        shop: &str,
        retention_ms: i64,
        redis_proxy: Option<Arc<FaultProxy>>,
    ) -> InProcessHooks {
        InProcessHooks {
            writer,
            strategy,
            crash_between_writes,
            redis_url: redis_url.to_owned(),
            database_url: database_url.to_owned(),
            keys: ShopKeys::new(shop),
            retention_ms,
            redis_proxy,
            pending_kill: Mutex::new(None),
            losses: Mutex::new(Vec::new()),
        }
    }

    fn writer(&self) -> Result<&WriterSupervisor, String> {
        self.writer.as_deref().ok_or_else(|| {
            "no ledger writer: this strategy writes its ledger in each request's transaction"
                .to_owned()
        })
    }

    async fn read_before_kill(&self) -> Result<BeforeKill, String> {
        let mut redis = stores::connect_redis(&self.redis_url)
            .await
            .map_err(|e| e.to_string())?;
        let seq: Option<i64> = redis::cmd("GET")
            .arg(self.keys.seq())
            .query_async(&mut redis)
            .await
            .map_err(|e| e.to_string())?;
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.keys.ledger())
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(LOSS_STREAM_ENTRIES_MAX)
            .query_async(&mut redis)
            .await
            .map_err(|e| e.to_string())?;
        let tail = reply
            .ids
            .iter()
            .filter_map(|entry| {
                let seq: i64 = entry.get("seq")?;
                let sku: String = entry.get("sku")?;
                let qty: i64 = entry.get("qty")?;
                Some((seq, sku, qty))
            })
            .collect();
        Ok((seq.unwrap_or(0), tail))
    }

    async fn run_recovery(&self) -> Result<recovery::RecoveryReport, String> {
        let mut redis = stores::connect_redis(&self.redis_url)
            .await
            .map_err(|e| e.to_string())?;
        let pool = stores::connect_postgres(&self.database_url)
            .await
            .map_err(|e| e.to_string())?;
        let config = RecoveryConfig {
            retention_ms: self.retention_ms,
        };
        let report = recovery::recover(&mut redis, &pool, &self.keys, &config)
            .await
            .map_err(|e| e.to_string());
        pool.close().await;
        report
    }

    fn hold_redis_traffic(&self, held: bool) {
        if let Some(proxy) = &self.redis_proxy {
            proxy.set_toxics(Toxics {
                blackhole: held,
                refuse_connections: held,
                ..Toxics::default()
            });
        }
    }
}

#[async_trait]
impl EngineFaultHooks for InProcessHooks {
    async fn crash_writer(&self, point: CrashPoint) -> Result<(), String> {
        self.writer()?
            .crash_mid_batch(point)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn crash_between_writes(&self) -> Result<String, String> {
        let Some(crash) = &self.crash_between_writes else {
            return Ok(
                "no effect: this engine makes each change and its ledger event in \
                       one Redis script call, so no crash can fall between two writes"
                    .to_owned(),
            );
        };
        let before = crash.crashes();
        crash.arm();
        let started = Instant::now();
        while crash.crashes() == before {
            if started.elapsed() >= Duration::from_millis(CRASH_BETWEEN_WRITES_WAIT_MS_MAX) {
                return Err(format!(
                    "no confirm came within {CRASH_BETWEEN_WRITES_WAIT_MS_MAX} ms (the \
                     crash falls on a confirm's write); it stays armed for the next one"
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok("a confirm reached Redis and its Postgres write was never made".to_owned())
    }

    fn ledger_application_name(&self) -> &'static str {
        self.strategy.ledger_application_name()
    }

    async fn start_writer(&self) -> Result<(), String> {
        self.writer()?.restart().await.map_err(|e| e.to_string())
    }

    async fn before_redis_kill(&self) -> Result<(), String> {
        // The engine and its writer reach Redis through the proxy: holding it freezes
        // what Redis has acknowledged, so the seq read here is the kill's.
        self.hold_redis_traffic(true);
        let timeout = Duration::from_millis(LOSS_READ_TIMEOUT_MS);
        let read = tokio::time::timeout(timeout, self.read_before_kill())
            .await
            .map_err(|_| format!("no answer from Redis within {timeout:?}"))
            .and_then(|read| read);
        match read {
            Ok(read) => {
                *self.pending_kill.lock().await = Some(read);
                Ok(())
            }
            Err(error) => {
                self.hold_redis_traffic(false);
                Err(error)
            }
        }
    }

    async fn recover(&self) -> Result<String, String> {
        let timeout = Duration::from_millis(LOSS_READ_TIMEOUT_MS * 6);
        let report = tokio::time::timeout(timeout, self.run_recovery())
            .await
            .map_err(|_| format!("recovery did not finish within {timeout:?}"))
            .and_then(|report| report);
        self.hold_redis_traffic(false);
        let report = report?;
        let Some((seq_at_kill, tail)) = self.pending_kill.lock().await.take() else {
            return Ok(format!("recovery: {report:?}"));
        };
        let kept = report.redis_seq_before.max(report.ledger_max_seq);
        let mut loss = KillLoss {
            redis_seq_at_kill: seq_at_kill,
            redis_seq_after_restart: report.redis_seq_before,
            ledger_max_seq: report.ledger_max_seq,
            rebuilt: report.rebuilt,
            events: (seq_at_kill - kept).max(0),
            units_by_sku: BTreeMap::new(),
        };
        for (seq, sku, qty) in tail {
            if seq > kept && seq <= seq_at_kill {
                *loss.units_by_sku.entry(sku).or_default() += qty.abs();
            }
        }
        let detail = format!(
            "redis seq {seq_at_kill} at the kill, {} after the restart, ledger at {}; {}; \
             loss window: {} events, {} units",
            loss.redis_seq_after_restart,
            loss.ledger_max_seq,
            if loss.rebuilt {
                "rebuilt from the ledger"
            } else {
                "not rebuilt (redis level with or ahead of the ledger)"
            },
            loss.events,
            loss.units()
        );
        self.losses.lock().await.push(loss);
        Ok(detail)
    }
}

/// Each fault as a history op: invoke and complete in µs since `zero`, ok when injected.
pub fn fault_entries(records: &[FaultRecord], zero: Instant, first_id: OpId) -> Vec<HistoryEntry> {
    let micros = |at: tokio::time::Instant| {
        u64::try_from(at.into_std().saturating_duration_since(zero).as_micros()).unwrap_or(0)
    };
    records
        .iter()
        .filter(|record| !record.not_applicable)
        .enumerate()
        .map(|(offset, record)| HistoryEntry {
            id: first_id + offset as OpId,
            user: None,
            op: Op::Fault {
                description: format!("{}: {}", record.description, record.detail),
            },
            intended_us: None,
            invoke_us: micros(record.started),
            complete_us: micros(record.ended),
            outcome: if record.injected {
                Outcome::Ok
            } else {
                Outcome::Fail
            },
            status: None,
            response: None,
            retry_of: None,
        })
        .collect()
}

/// Whether any fault of the run kills Redis (the loss window applies).
pub fn kills_redis(planned: &[PlannedFault]) -> bool {
    planned
        .iter()
        .any(|fault| matches!(fault.injects(), Some(FaultAction::RedisKill)))
}
