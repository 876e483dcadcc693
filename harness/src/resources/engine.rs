//! The in-process engine's resources, read the way an operator would: Redis
//! `INFO memory` (`used_memory`), the ledger outbox's length (`XLEN` of the shop's
//! stream), the ledger writer's lag behind it (events not yet in Postgres and the age
//! of the oldest, `stockproof_engine::ledger::writer::lag`), Postgres'
//! `pg_database_size`. A Postgres-only strategy has no Redis: its Redis series are
//! absent, said so in the header.
//!
//! Not here: the loop and the file (`super`), the harness's memory (`super::rss`).

use redis::aio::MultiplexedConnection;
use sqlx::PgPool;
use stockproof_checks::resources::{AbsentSeries, Unit};
use stockproof_engine::keys::ShopKeys;
use stockproof_engine::strategy::Strategy;

use super::{PROBE_TIMEOUT, ProbeValues};
use crate::run::stores::StoreHandles;

/// Series that need Redis (the reference engine's store and outbox).
pub(super) const REDIS_SERIES: [&str; 4] = [
    "redis.used_memory",
    "ledger.stream_length",
    "ledger.lag",
    "ledger.lag_events",
];

/// Connections to the engine's stores, owned by the sampler.
#[derive(Debug)]
pub(super) struct EngineProbe {
    redis: Option<redis::Client>,
    connection: Option<MultiplexedConnection>,
    keys: ShopKeys,
    postgres: PgPool,
}

impl EngineProbe {
    pub(super) fn new(
        redis_url: &str,
        database_url: &str,
        shop: &str,
        strategy: Strategy,
    ) -> Result<EngineProbe, String> {
        // One Postgres connection: a probe asks one question at a time. Redis is
        // connected at the first sample (it may be down at the start of a fault run).
        let StoreHandles { redis, postgres } =
            StoreHandles::open((redis_url, database_url), strategy, 1, PROBE_TIMEOUT)
                .map_err(|error| error.to_string())?;
        Ok(EngineProbe {
            redis,
            connection: None,
            keys: ShopKeys::new(shop),
            postgres,
        })
    }

    /// The series this engine is sampled for, and those it has not (with why).
    pub(super) fn series(strategy: Strategy) -> (Vec<(String, Unit)>, Vec<AbsentSeries>) {
        let mut series = Vec::new();
        let mut absent = Vec::new();
        for (name, unit) in stockproof_checks::resources::BUILTIN_SERIES {
            if REDIS_SERIES.contains(&name) && !strategy.uses_redis() {
                absent.push(AbsentSeries {
                    name: name.to_owned(),
                    why: format!("strategy {strategy} keeps no Redis and no outbox stream"),
                });
            } else {
                series.push((name.to_owned(), unit));
            }
        }
        (series, absent)
    }

    /// One sample of every engine series into `values`; a failed probe is counted in
    /// `values.errors` and its series left out of this sample.
    pub(super) async fn sample(&mut self, values: &mut ProbeValues) {
        if self.redis.is_some() {
            self.sample_redis(values).await;
        }
        let size = tokio::time::timeout(
            PROBE_TIMEOUT,
            sqlx::query_scalar::<_, i64>("SELECT pg_database_size(current_database())")
                .fetch_one(&self.postgres),
        )
        .await;
        match size {
            Ok(Ok(bytes)) => values.set("postgres.db_size", bytes as f64),
            _ => values.failed("postgres.db_size"),
        }
    }

    async fn sample_redis(&mut self, values: &mut ProbeValues) {
        let Some(connection) = self.connection().await else {
            REDIS_SERIES.iter().for_each(|name| values.failed(name));
            return;
        };
        let (mut for_info, mut for_length, mut for_lag) =
            (connection.clone(), connection.clone(), connection);
        let mut info_command = redis::cmd("INFO");
        info_command.arg("memory");
        let mut length_command = redis::cmd("XLEN");
        length_command.arg(self.keys.ledger());
        let (info, length, lag) = tokio::join!(
            bounded(info_command.query_async::<String>(&mut for_info)),
            bounded(length_command.query_async::<u64>(&mut for_length)),
            tokio::time::timeout(
                PROBE_TIMEOUT,
                stockproof_engine::ledger::lag(&mut for_lag, &self.keys)
            ),
        );
        let used = info.as_deref().and_then(used_memory);
        values.set_or_fail("redis.used_memory", used.map(|bytes| bytes as f64));
        values.set_or_fail("ledger.stream_length", length.map(|length| length as f64));
        let lag = lag.ok().and_then(Result::ok);
        values.set_or_fail(
            "ledger.lag_events",
            lag.as_ref().map(|lag| lag.unwritten_events() as f64),
        );
        // Nothing unwritten: no lag.
        values.set_or_fail(
            "ledger.lag",
            lag.as_ref()
                .map(|lag| lag.oldest_unwritten_age_ms.unwrap_or(0) as f64 / 1_000.0),
        );
        if used.is_none() || length.is_none() || lag.is_none() {
            // Redis may have restarted (a fault): connect afresh next time.
            self.connection = None;
        }
    }

    async fn connection(&mut self) -> Option<MultiplexedConnection> {
        if self.connection.is_none() {
            let client = self.redis.as_ref()?;
            self.connection = bounded(client.get_multiplexed_async_connection()).await;
        }
        self.connection.clone()
    }
}

/// A Redis call bounded by [`PROBE_TIMEOUT`]; `None` when it failed or took longer.
async fn bounded<T>(call: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
    tokio::time::timeout(PROBE_TIMEOUT, call).await.ok()?.ok()
}

/// `used_memory:12345` in an `INFO memory` reply.
fn used_memory(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: `used_memory` is read from an INFO reply, not `used_memory_rss` or `_human`.
    // Method: a reply with all three.
    #[test]
    fn used_memory_is_read_from_info() {
        let info =
            "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nused_memory_rss:9\r\n";
        assert_eq!(used_memory(info), Some(1_048_576));
        assert_eq!(used_memory("# Memory\r\n"), None);
    }

    // Goal: a Postgres-only strategy samples what it has and marks Redis' series absent.
    // Method: the series of redis-lua and of pg-row-lock.
    #[test]
    fn postgres_strategies_mark_redis_series_absent() {
        let (series, absent) = EngineProbe::series(Strategy::RedisLua);
        assert_eq!((series.len(), absent.len()), (6, 0));
        let (series, absent) = EngineProbe::series(Strategy::PgRowLock);
        let names: Vec<&str> = series.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["postgres.db_size", "harness.rss"]);
        let absent: Vec<&str> = absent.iter().map(|absent| absent.name.as_str()).collect();
        assert_eq!(absent, REDIS_SERIES);
    }
}
