//! PLACEHOLDER for `stockproof_engine::strategy::Strategy` (issue 14 item 1, built on
//! another branch): the names `--strategy` takes, so `bench` can thread a strategy to
//! where the run pipeline starts its in-process engine. At merge this file goes: the
//! engine's enum replaces [`Strategy`] (same names, `ALL`, `FromStr`, `Display`) and
//! [`ensure_served`] becomes the `strategy` field of the engine's service config.
//!
//! Not here: any engine. This tree serves only the reference (`redis-lua`).

use std::fmt;
use std::str::FromStr;

/// An inventory design, named as `--strategy` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Strategy {
    /// The reference engine: Redis + Lua with the Postgres ledger.
    #[default]
    RedisLua,
    /// Postgres only, a guarded `UPDATE … WHERE available >= q` per operation.
    PgRowLock,
    /// Postgres only, a version check and a bounded retry on conflict.
    PgOptimistic,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [
        Strategy::RedisLua,
        Strategy::PgRowLock,
        Strategy::PgOptimistic,
    ];

    /// The name users pass to `--strategy`.
    pub const fn name(self) -> &'static str {
        match self {
            Strategy::RedisLua => "redis-lua",
            Strategy::PgRowLock => "pg-row-lock",
            Strategy::PgOptimistic => "pg-optimistic",
        }
    }

    /// Every strategy's name, in [`Strategy::ALL`] order.
    pub fn names() -> Vec<&'static str> {
        Strategy::ALL
            .iter()
            .map(|strategy| strategy.name())
            .collect()
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A `--strategy` name that names no strategy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown strategy `{name}` (known: {known})", known = Strategy::names().join(", "))]
pub struct UnknownStrategy {
    pub name: String,
}

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    fn from_str(name: &str) -> Result<Strategy, UnknownStrategy> {
        Strategy::ALL
            .into_iter()
            .find(|strategy| strategy.name() == name)
            .ok_or_else(|| UnknownStrategy {
                name: name.to_owned(),
            })
    }
}

/// THE TOUCH POINT: whether this build can serve `strategy` in process. Until the
/// strategies merge only the reference can; the merge replaces this check with the
/// strategy handed to `Target::start_in_process`.
pub fn ensure_served(strategy: Strategy) -> Result<(), String> {
    match strategy {
        Strategy::RedisLua => Ok(()),
        other => Err(format!(
            "strategy {other} is not served by this build (only redis-lua is, until the \
             strategies of issue 14 merge)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::Strategy;

    #[test]
    fn every_name_parses_back_and_unknown_names_list_the_known() {
        for strategy in Strategy::ALL {
            assert_eq!(strategy.to_string().parse::<Strategy>(), Ok(strategy));
        }
        let error = "pg-rowlock".parse::<Strategy>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown strategy `pg-rowlock` (known: redis-lua, pg-row-lock, pg-optimistic)"
        );
    }
}
