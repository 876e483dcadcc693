//! [`Strategy`]: which inventory design serves the contract (`--strategy` on `stockproof
//! run`, `serve`, `selftest` and `bench`). Every strategy implements
//! [`InventoryEngine`](crate::InventoryEngine) and passes the same checks; they differ
//! in where the stock lives and how concurrent reserves are kept from overselling.
//!
//! Not here: the engines themselves (`redis_lua`, `pg_row_lock`, `pg_optimistic`), or
//! what each strategy starts beside its engine (`service`).

use std::fmt;
use std::str::FromStr;

/// An inventory design. [`Strategy::ALL`] lists them in a stable order; the default is
/// the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Strategy {
    /// The reference: stock in Redis, changed by atomic Lua scripts, each change
    /// appended to a stream that a writer copies into the Postgres ledger.
    #[default]
    RedisLua,
    /// Postgres only: one transaction per operation, a guarded `UPDATE … WHERE
    /// available >= q` holding each SKU row's lock to commit.
    PgRowLock,
    /// Postgres only: a `version` column read, then `UPDATE … WHERE version = v`,
    /// retried on conflict within a bounded budget.
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

    /// One line: the design and where its stock lives.
    pub const fn description(self) -> &'static str {
        match self {
            Strategy::RedisLua => {
                "stock in Redis behind atomic Lua scripts; a stream carries every change to the Postgres ledger"
            }
            Strategy::PgRowLock => {
                "Postgres only: one transaction per operation, a guarded UPDATE takes each SKU's row lock"
            }
            Strategy::PgOptimistic => {
                "Postgres only: read the row's version, UPDATE where the version is unchanged, retry on conflict"
            }
        }
    }

    /// Whether the strategy keeps its stock in Redis (and so has a stream, a ledger
    /// writer and start-up recovery); the Postgres strategies keep everything in
    /// Postgres and never touch Redis.
    pub const fn uses_redis(self) -> bool {
        matches!(self, Strategy::RedisLua)
    }

    /// `application_name` of the Postgres connections that write the strategy's
    /// ledger: the ledger writer's for `redis-lua`, the engine pool's for the Postgres
    /// strategies (which write it in each request's transaction). What
    /// `postgres-terminate-writer` terminates.
    pub const fn ledger_application_name(self) -> &'static str {
        match self {
            Strategy::RedisLua => crate::ledger::WRITER_APPLICATION_NAME,
            Strategy::PgRowLock | Strategy::PgOptimistic => crate::pg::PG_ENGINE_APPLICATION_NAME,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_strategy() {
        for strategy in Strategy::ALL {
            assert_eq!(strategy.to_string().parse::<Strategy>(), Ok(strategy));
        }
        assert_eq!(Strategy::default(), Strategy::RedisLua);
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let error = "pg-rowlock".parse::<Strategy>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown strategy `pg-rowlock` (known: redis-lua, pg-row-lock, pg-optimistic)"
        );
    }
}
