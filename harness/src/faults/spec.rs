//! What a fault is and when it fires, as written in a scenario's `[[faults]]` tables and
//! on the command line (`--fault`). Parsing and validation only; `super::injector` does
//! the harm.
//!
//! ```toml
//! [[faults]]
//! kind = "redis-pause"   # see FaultKind::NAMES
//! at = "3s"              # or: after_ops = 2000
//! duration = "1500ms"    # pauses, network faults, writer down time
//! ```
//! On the command line: `KIND[,key=value…][@WHEN]` where WHEN is a duration (`@3s`) or
//! `after=N` ops; e.g. `--fault redis-kill@5s`,
//! `--fault redis-latency,latency=50ms,jitter=10ms,duration=3s@after=2000`.

use std::time::Duration;

use serde::Deserialize;
use stockproof_engine::ledger::CrashPoint;
use stockproof_infra::proxy::Toxics;

use crate::scenario::parse_duration;

/// How long a timed fault lasts when the scenario does not say.
pub const FAULT_DURATION_DEFAULT: Duration = Duration::from_secs(2);
/// Longest timed fault: a load run lasts minutes; a fault longer than that is a typo.
pub const FAULT_DURATION_MAX: Duration = Duration::from_secs(600);
/// Faults one run may inject: each is recorded and shown on the timeline.
pub const FAULTS_PER_RUN_MAX: usize = 64;

/// A fault table as written (`[[faults]]`), before validation.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultFile {
    pub kind: String,
    /// Offset from the start of the load, e.g. `3s`.
    pub at: Option<String>,
    /// Fire once this many operations have completed.
    pub after_ops: Option<u64>,
    pub duration: Option<String>,
    pub latency: Option<String>,
    pub jitter: Option<String>,
    pub bandwidth_bytes_per_s: Option<u64>,
}

/// When a fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// This long after the load started.
    At(Duration),
    /// Once this many operations have completed.
    AfterOps(u64),
}

/// Which connection a network fault sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkTarget {
    Redis,
    Postgres,
}

impl NetworkTarget {
    pub const fn as_str(self) -> &'static str {
        match self {
            NetworkTarget::Redis => "redis",
            NetworkTarget::Postgres => "postgres",
        }
    }
}

/// The harm done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// `kill -9` of redis-server, then a restart with the run's AOF policy; the engine
    /// then recovers from the ledger if Redis came back behind it.
    RedisKill,
    /// SIGSTOP for `duration`, then SIGCONT.
    RedisPause { duration: Duration },
    /// `CLIENT PAUSE <ms> ALL`: Redis answers no client for `duration`.
    RedisClientPause { duration: Duration },
    /// Fast shutdown of Postgres and a start on the same port and data.
    PostgresRestart,
    /// `kill -9` of the postmaster and every process it forked, then a start on the
    /// same port and data (crash recovery): the Postgres side of `redis-kill`.
    PostgresKill,
    /// SIGSTOP of the postmaster and its backends for `duration`, then SIGCONT.
    PostgresPause { duration: Duration },
    /// `LOCK TABLE skus IN ACCESS EXCLUSIVE MODE` held for `duration`: every statement
    /// that reads or changes stock waits, while the server runs and answers the rest
    /// (the Postgres side of Redis' `CLIENT PAUSE`, an admin's pause of the store).
    PostgresLockSkus { duration: Duration },
    /// `pg_terminate_backend` of the connections that write the ledger: the ledger
    /// writer's (`redis-lua`), or the engine pool's for a Postgres strategy, which
    /// writes its ledger in each request's transaction.
    PostgresTerminateWriter,
    /// The ledger writer dies mid-batch at `point` (`writer-crash`: after its commit,
    /// before its XACK; `writer-crash-before-commit`: before its commit) and a new one
    /// starts after `down_for`.
    WriterCrash {
        down_for: Duration,
        point: CrashPoint,
    },
    /// The engine dies between its Redis write and its Postgres write of the next
    /// change. Only an engine that makes two writes (`dual-write`) has such a point;
    /// the reference makes each change and its ledger event in one script call.
    CrashBetweenWrites,
    /// Toxics on the proxy in front of `target` for `duration`.
    Network {
        target: NetworkTarget,
        toxics: Toxics,
        duration: Duration,
    },
    /// Every open connection through the proxy in front of `target` is reset.
    NetworkCut { target: NetworkTarget },
}

impl FaultAction {
    /// One line for the history and the report's timeline.
    pub fn describe(&self) -> String {
        match self {
            FaultAction::RedisKill => "redis kill -9 and restart".to_owned(),
            FaultAction::RedisPause { duration } => format!("redis SIGSTOP for {duration:?}"),
            FaultAction::RedisClientPause { duration } => {
                format!("redis CLIENT PAUSE for {duration:?}")
            }
            FaultAction::PostgresRestart => "postgres restart".to_owned(),
            FaultAction::PostgresKill => "postgres kill -9 and restart".to_owned(),
            FaultAction::PostgresPause { duration } => {
                format!("postgres SIGSTOP for {duration:?}")
            }
            FaultAction::PostgresLockSkus { duration } => {
                format!("postgres LOCK TABLE skus for {duration:?}")
            }
            FaultAction::PostgresTerminateWriter => {
                "postgres pg_terminate_backend of the ledger writer".to_owned()
            }
            FaultAction::WriterCrash { down_for, point } => format!(
                "ledger writer crash mid-batch ({}), restarted after {down_for:?}",
                point.as_str()
            ),
            FaultAction::CrashBetweenWrites => {
                "engine crash between its Redis and Postgres writes".to_owned()
            }
            FaultAction::Network {
                target,
                toxics,
                duration,
            } => format!(
                "{} network for {duration:?}: {}",
                target.as_str(),
                describe_toxics(toxics)
            ),
            FaultAction::NetworkCut { target } => {
                format!("{} connections reset", target.as_str())
            }
        }
    }

    /// Whether the fault needs servers this process started (a pid to signal).
    pub const fn needs_local_servers(&self) -> bool {
        matches!(
            self,
            FaultAction::RedisKill
                | FaultAction::RedisPause { .. }
                | FaultAction::PostgresRestart
                | FaultAction::PostgresKill
                | FaultAction::PostgresPause { .. }
        )
    }

    /// What the fault acts on, for messages.
    pub const fn acts_on(&self) -> &'static str {
        match self {
            FaultAction::PostgresTerminateWriter | FaultAction::WriterCrash { .. } => {
                "the ledger writer"
            }
            FaultAction::CrashBetweenWrites => "a Redis write followed by a Postgres write",
            FaultAction::PostgresRestart
            | FaultAction::PostgresKill
            | FaultAction::PostgresPause { .. }
            | FaultAction::PostgresLockSkus { .. } => "Postgres",
            FaultAction::Network { target, .. } | FaultAction::NetworkCut { target } => {
                match target {
                    NetworkTarget::Redis => "Redis",
                    NetworkTarget::Postgres => "Postgres",
                }
            }
            FaultAction::RedisKill
            | FaultAction::RedisPause { .. }
            | FaultAction::RedisClientPause { .. } => "Redis",
        }
    }

    /// The kind as written in files and on the command line.
    pub const fn kind(&self) -> FaultKind {
        match self {
            FaultAction::RedisKill => FaultKind::RedisKill,
            FaultAction::RedisPause { .. } => FaultKind::RedisPause,
            FaultAction::RedisClientPause { .. } => FaultKind::RedisClientPause,
            FaultAction::PostgresRestart => FaultKind::PostgresRestart,
            FaultAction::PostgresKill => FaultKind::PostgresKill,
            FaultAction::PostgresPause { .. } => FaultKind::PostgresPause,
            FaultAction::PostgresLockSkus { .. } => FaultKind::PostgresLockSkus,
            FaultAction::PostgresTerminateWriter => FaultKind::PostgresTerminateWriter,
            FaultAction::WriterCrash { point, .. } => FaultKind::WriterCrash(*point),
            FaultAction::CrashBetweenWrites => FaultKind::CrashBetweenWrites,
            FaultAction::Network { target, toxics, .. } => {
                if toxics.blackhole {
                    FaultKind::Partition(*target)
                } else if toxics.refuse_connections {
                    FaultKind::Refuse(*target)
                } else if toxics.bandwidth_bytes_per_s.is_some() {
                    FaultKind::Bandwidth(*target)
                } else {
                    FaultKind::Latency(*target)
                }
            }
            FaultAction::NetworkCut { target } => FaultKind::Cut(*target),
        }
    }

    /// Whether the fault needs the engine served in-process (its writer, its proxies).
    pub const fn needs_in_process_engine(&self) -> bool {
        matches!(
            self,
            FaultAction::WriterCrash { .. }
                | FaultAction::CrashBetweenWrites
                | FaultAction::Network { .. }
                | FaultAction::NetworkCut { .. }
                | FaultAction::RedisKill
        )
    }
}

fn describe_toxics(toxics: &Toxics) -> String {
    let mut parts = Vec::new();
    if toxics.latency_ms > 0 || toxics.jitter_ms > 0 {
        parts.push(format!(
            "latency {} ms ± {} ms",
            toxics.latency_ms, toxics.jitter_ms
        ));
    }
    if let Some(rate) = toxics.bandwidth_bytes_per_s {
        parts.push(format!("bandwidth {rate} B/s"));
    }
    if toxics.blackhole {
        parts.push("partition (half-open)".to_owned());
    }
    if toxics.refuse_connections {
        parts.push("new connections refused".to_owned());
    }
    parts.join(", ")
}

/// A validated fault: when and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpec {
    pub trigger: Trigger,
    pub action: FaultAction,
}

/// The kinds, as written in files and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    RedisKill,
    RedisPause,
    RedisClientPause,
    PostgresRestart,
    PostgresKill,
    PostgresPause,
    PostgresLockSkus,
    PostgresTerminateWriter,
    WriterCrash(CrashPoint),
    CrashBetweenWrites,
    Latency(NetworkTarget),
    Bandwidth(NetworkTarget),
    Partition(NetworkTarget),
    Refuse(NetworkTarget),
    Cut(NetworkTarget),
}

impl FaultKind {
    pub const NAMES: [&'static str; 21] = [
        "redis-kill",
        "redis-pause",
        "redis-client-pause",
        "postgres-restart",
        "postgres-kill",
        "postgres-pause",
        "postgres-lock-skus",
        "postgres-terminate-writer",
        "writer-crash",
        "writer-crash-before-commit",
        "crash-between-writes",
        "redis-latency",
        "postgres-latency",
        "redis-bandwidth",
        "postgres-bandwidth",
        "redis-partition",
        "postgres-partition",
        "redis-refuse",
        "postgres-refuse",
        "redis-cut",
        "postgres-cut",
    ];

    pub fn parse(name: &str) -> Result<FaultKind, String> {
        use NetworkTarget::{Postgres, Redis};
        Ok(match name {
            "redis-kill" => FaultKind::RedisKill,
            "redis-pause" => FaultKind::RedisPause,
            "redis-client-pause" => FaultKind::RedisClientPause,
            "postgres-restart" => FaultKind::PostgresRestart,
            "postgres-kill" => FaultKind::PostgresKill,
            "postgres-pause" => FaultKind::PostgresPause,
            "postgres-lock-skus" => FaultKind::PostgresLockSkus,
            "postgres-terminate-writer" => FaultKind::PostgresTerminateWriter,
            "writer-crash" => FaultKind::WriterCrash(CrashPoint::AfterCommit),
            "writer-crash-before-commit" => FaultKind::WriterCrash(CrashPoint::BeforeCommit),
            "crash-between-writes" => FaultKind::CrashBetweenWrites,
            "redis-latency" => FaultKind::Latency(Redis),
            "postgres-latency" => FaultKind::Latency(Postgres),
            "redis-bandwidth" => FaultKind::Bandwidth(Redis),
            "postgres-bandwidth" => FaultKind::Bandwidth(Postgres),
            "redis-partition" => FaultKind::Partition(Redis),
            "postgres-partition" => FaultKind::Partition(Postgres),
            "redis-refuse" => FaultKind::Refuse(Redis),
            "postgres-refuse" => FaultKind::Refuse(Postgres),
            "redis-cut" => FaultKind::Cut(Redis),
            "postgres-cut" => FaultKind::Cut(Postgres),
            other => {
                return Err(format!(
                    "unknown fault kind `{other}` (expected one of: {})",
                    FaultKind::NAMES.join(", ")
                ));
            }
        })
    }
}

impl FaultKind {
    /// The name as written in files and on the command line (one of
    /// [`FaultKind::NAMES`]).
    pub const fn name(self) -> &'static str {
        use NetworkTarget::{Postgres, Redis};
        match self {
            FaultKind::RedisKill => "redis-kill",
            FaultKind::RedisPause => "redis-pause",
            FaultKind::RedisClientPause => "redis-client-pause",
            FaultKind::PostgresRestart => "postgres-restart",
            FaultKind::PostgresKill => "postgres-kill",
            FaultKind::PostgresPause => "postgres-pause",
            FaultKind::PostgresLockSkus => "postgres-lock-skus",
            FaultKind::PostgresTerminateWriter => "postgres-terminate-writer",
            FaultKind::WriterCrash(CrashPoint::AfterCommit) => "writer-crash",
            FaultKind::WriterCrash(CrashPoint::BeforeCommit) => "writer-crash-before-commit",
            FaultKind::CrashBetweenWrites => "crash-between-writes",
            FaultKind::Latency(Redis) => "redis-latency",
            FaultKind::Latency(Postgres) => "postgres-latency",
            FaultKind::Bandwidth(Redis) => "redis-bandwidth",
            FaultKind::Bandwidth(Postgres) => "postgres-bandwidth",
            FaultKind::Partition(Redis) => "redis-partition",
            FaultKind::Partition(Postgres) => "postgres-partition",
            FaultKind::Refuse(Redis) => "redis-refuse",
            FaultKind::Refuse(Postgres) => "postgres-refuse",
            FaultKind::Cut(Redis) => "redis-cut",
            FaultKind::Cut(Postgres) => "postgres-cut",
        }
    }
}

impl FaultSpec {
    /// Validates a `[[faults]]` table; the error names the key and the value.
    pub fn from_file(file: &FaultFile) -> Result<FaultSpec, String> {
        let kind = FaultKind::parse(&file.kind)?;
        let trigger = match (&file.at, file.after_ops) {
            (Some(at), None) => Trigger::At(field_duration("at", at)?),
            (None, Some(ops)) => Trigger::AfterOps(ops),
            (None, None) => return Err("a fault needs `at` (a duration) or `after_ops`".into()),
            (Some(_), Some(_)) => {
                return Err("a fault takes `at` or `after_ops`, not both".into());
            }
        };
        let duration = file
            .duration
            .as_deref()
            .map(|text| field_duration("duration", text))
            .transpose()?;
        let timed = || duration.unwrap_or(FAULT_DURATION_DEFAULT);
        let untimed = |name: &str| match duration {
            Some(_) => Err(format!("`duration` does not apply to fault `{name}`")),
            None => Ok(()),
        };
        let network_keys_used =
            file.latency.is_some() || file.jitter.is_some() || file.bandwidth_bytes_per_s.is_some();
        let network = matches!(kind, FaultKind::Latency(_) | FaultKind::Bandwidth(_));
        if network_keys_used && !network {
            return Err(format!(
                "`latency`, `jitter` and `bandwidth_bytes_per_s` apply to latency and \
                 bandwidth faults, not to `{}`",
                file.kind
            ));
        }
        let action = match kind {
            FaultKind::RedisKill => {
                untimed(&file.kind)?;
                FaultAction::RedisKill
            }
            FaultKind::RedisPause => FaultAction::RedisPause { duration: timed() },
            FaultKind::RedisClientPause => FaultAction::RedisClientPause { duration: timed() },
            FaultKind::PostgresRestart => {
                untimed(&file.kind)?;
                FaultAction::PostgresRestart
            }
            FaultKind::PostgresKill => {
                untimed(&file.kind)?;
                FaultAction::PostgresKill
            }
            FaultKind::PostgresPause => FaultAction::PostgresPause { duration: timed() },
            FaultKind::PostgresLockSkus => FaultAction::PostgresLockSkus { duration: timed() },
            FaultKind::PostgresTerminateWriter => {
                untimed(&file.kind)?;
                FaultAction::PostgresTerminateWriter
            }
            FaultKind::WriterCrash(point) => FaultAction::WriterCrash {
                down_for: timed(),
                point,
            },
            FaultKind::CrashBetweenWrites => {
                untimed(&file.kind)?;
                FaultAction::CrashBetweenWrites
            }
            FaultKind::Latency(target) => {
                let latency = file.latency.as_deref().ok_or_else(|| {
                    format!("fault `{}` needs `latency` (e.g. `50ms`)", file.kind)
                })?;
                let toxics = Toxics {
                    latency_ms: field_duration("latency", latency)?.as_millis() as u64,
                    jitter_ms: file
                        .jitter
                        .as_deref()
                        .map(|text| field_duration("jitter", text))
                        .transpose()?
                        .map_or(0, |jitter| jitter.as_millis() as u64),
                    ..Toxics::default()
                };
                network_action(target, toxics, timed())
            }
            FaultKind::Bandwidth(target) => {
                let rate = file
                    .bandwidth_bytes_per_s
                    .filter(|rate| *rate > 0)
                    .ok_or_else(|| {
                        format!("fault `{}` needs `bandwidth_bytes_per_s` > 0", file.kind)
                    })?;
                let toxics = Toxics {
                    bandwidth_bytes_per_s: Some(rate),
                    ..Toxics::default()
                };
                network_action(target, toxics, timed())
            }
            FaultKind::Partition(target) => {
                let toxics = Toxics {
                    blackhole: true,
                    ..Toxics::default()
                };
                network_action(target, toxics, timed())
            }
            FaultKind::Refuse(target) => {
                let toxics = Toxics {
                    refuse_connections: true,
                    ..Toxics::default()
                };
                network_action(target, toxics, timed())
            }
            FaultKind::Cut(target) => {
                untimed(&file.kind)?;
                FaultAction::NetworkCut { target }
            }
        };
        Ok(FaultSpec { trigger, action })
    }

    /// Parses `KIND[,key=value…][@WHEN]` from `--fault`.
    pub fn parse_cli(text: &str) -> Result<FaultSpec, String> {
        let (body, when) = match text.rsplit_once('@') {
            Some((body, when)) => (body, Some(when)),
            None => (text, None),
        };
        let mut parts = body.split(',');
        let mut file = FaultFile {
            kind: parts.next().unwrap_or_default().trim().to_owned(),
            ..FaultFile::default()
        };
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` in --fault `{text}` is not key=value"))?;
            let value = value.trim().to_owned();
            match key.trim() {
                "duration" => file.duration = Some(value),
                "latency" => file.latency = Some(value),
                "jitter" => file.jitter = Some(value),
                "bandwidth_bytes_per_s" => {
                    file.bandwidth_bytes_per_s = Some(value.parse().map_err(|_| {
                        format!("bandwidth_bytes_per_s `{value}` is not a whole number")
                    })?);
                }
                other => {
                    return Err(format!(
                        "unknown key `{other}` in --fault `{text}` (expected duration, \
                         latency, jitter, bandwidth_bytes_per_s)"
                    ));
                }
            }
        }
        match when.map(str::trim) {
            None => file.at = Some("0s".to_owned()),
            Some(when) => match when.strip_prefix("after=") {
                Some(ops) => {
                    file.after_ops = Some(ops.parse().map_err(|_| {
                        format!("`after={ops}` in --fault `{text}`: expected a number of ops")
                    })?);
                }
                None => file.at = Some(when.to_owned()),
            },
        }
        FaultSpec::from_file(&file).map_err(|reason| format!("--fault `{text}`: {reason}"))
    }
}

fn network_action(target: NetworkTarget, toxics: Toxics, duration: Duration) -> FaultAction {
    FaultAction::Network {
        target,
        toxics,
        duration,
    }
}

fn field_duration(field: &str, text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text).map_err(|reason| format!("`{field}`: {reason}"))?;
    if duration > FAULT_DURATION_MAX && field != "at" {
        return Err(format!(
            "`{field}` = `{text}` is longer than {} s",
            FAULT_DURATION_MAX.as_secs()
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests;
