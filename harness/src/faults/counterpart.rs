//! A scenario's faults as the served strategy takes them. The fault kinds name parts
//! of the reference design: Redis (the store that holds the stock), the ledger writer,
//! the second write of a `dual-write` engine. A Postgres strategy keeps its stock in
//! Postgres, so a fault on the store that holds the stock falls on its Postgres
//! counterpart (`redis-kill` → `postgres-kill`, `redis-pause` → `postgres-pause`,
//! `redis-client-pause` → `postgres-lock-skus`, a Redis network fault → the same toxics
//! on the Postgres proxy), and the run says so; a fault on a part that has no
//! counterpart is not applicable (nothing is injected, the load and the checks run as
//! written) and the run says why.
//!
//! Not here: injecting (`super::injector`), the strategies (`stockproof_engine::strategy`).

use stockproof_engine::strategy::Strategy;

use super::spec::{FaultAction, FaultSpec, NetworkTarget, Trigger};

/// What the run does at a fault's trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Inject this action (the fault as written, or its counterpart).
    Inject(FaultAction),
    /// Inject nothing, for this reason.
    NotApplicable(String),
}

/// One fault of the scenario, as the served strategy takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFault {
    pub trigger: Trigger,
    pub applied: Applied,
    /// One line for the history, the terminal and summary.md: the fault injected,
    /// headed by the mapping when it is a counterpart
    /// (`redis-kill → postgres-kill: pg-row-lock keeps its stock in Postgres; …`).
    pub description: String,
}

impl PlannedFault {
    /// The fault as written, for a strategy that has every part it acts on.
    pub fn as_written(spec: &FaultSpec) -> PlannedFault {
        PlannedFault {
            trigger: spec.trigger,
            applied: Applied::Inject(spec.action.clone()),
            description: spec.action.describe(),
        }
    }

    /// The action injected, `None` when not applicable.
    pub fn injects(&self) -> Option<&FaultAction> {
        match &self.applied {
            Applied::Inject(action) => Some(action),
            Applied::NotApplicable(_) => None,
        }
    }
}

/// Every fault of `specs` as `strategy` takes it, in the same order.
pub fn plan(specs: &[FaultSpec], strategy: Strategy) -> Vec<PlannedFault> {
    specs
        .iter()
        .map(|spec| on_strategy(spec, strategy))
        .collect()
}

fn on_strategy(spec: &FaultSpec, strategy: Strategy) -> PlannedFault {
    if strategy.uses_redis() {
        return PlannedFault::as_written(spec);
    }
    let written = &spec.action;
    let stock_in_postgres = format!("{strategy} keeps its stock in Postgres");
    let counterpart = match written {
        FaultAction::RedisKill => Ok(FaultAction::PostgresKill),
        FaultAction::RedisPause { duration } => Ok(FaultAction::PostgresPause {
            duration: *duration,
        }),
        FaultAction::RedisClientPause { duration } => Ok(FaultAction::PostgresLockSkus {
            duration: *duration,
        }),
        FaultAction::Network {
            target: NetworkTarget::Redis,
            toxics,
            duration,
        } => Ok(FaultAction::Network {
            target: NetworkTarget::Postgres,
            toxics: toxics.clone(),
            duration: *duration,
        }),
        FaultAction::NetworkCut {
            target: NetworkTarget::Redis,
        } => Ok(FaultAction::NetworkCut {
            target: NetworkTarget::Postgres,
        }),
        FaultAction::WriterCrash { .. } => Err(format!(
            "{} acts on the ledger writer, which {strategy} does not have: it writes its \
             ledger rows in each request's transaction; the load and the checks ran \
             without it",
            written.kind().name()
        )),
        FaultAction::CrashBetweenWrites => Err(format!(
            "{} falls between a Redis write and a Postgres write, and {strategy} makes \
             each change and its ledger rows in one transaction; the load and the checks \
             ran without it",
            written.kind().name()
        )),
        FaultAction::PostgresRestart
        | FaultAction::PostgresKill
        | FaultAction::PostgresPause { .. }
        | FaultAction::PostgresLockSkus { .. }
        | FaultAction::PostgresTerminateWriter
        | FaultAction::Network {
            target: NetworkTarget::Postgres,
            ..
        }
        | FaultAction::NetworkCut {
            target: NetworkTarget::Postgres,
        } => return PlannedFault::as_written(spec),
    };
    match counterpart {
        Ok(action) => PlannedFault {
            trigger: spec.trigger,
            description: format!(
                "{} → {}: {stock_in_postgres}; {}",
                written.kind().name(),
                action.kind().name(),
                action.describe()
            ),
            applied: Applied::Inject(action),
        },
        Err(reason) => PlannedFault {
            trigger: spec.trigger,
            applied: Applied::NotApplicable(reason),
            description: written.describe(),
        },
    }
}

#[cfg(test)]
mod tests;
