//! Connections to the two stores with every bound set explicitly: Redis connect and
//! response timeouts (redis-rs 1.x would silently answer "timeout" after 500 ms), and a
//! Postgres pool with a size, an acquire timeout and a statement timeout. What the
//! ledger writer, the reconciler and recovery use; not a connection manager (callers
//! reconnect on error).

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

/// Longest wait for a TCP connection to Redis; a local or same-zone Redis answers in
/// well under a millisecond, so a second means it is down.
pub const REDIS_CONNECT_TIMEOUT_MS: u64 = 1_000;
/// Longest wait for one Redis reply. Above the writer's blocking read
/// (`LEDGER_BATCH_WAIT_MS_MAX`) with a wide margin, and above a bulk rebuild pipeline.
pub const REDIS_RESPONSE_TIMEOUT_MS: u64 = 5_000;
/// Postgres connections per pool: the writer uses one at a time, the reconciler one;
/// four leaves room for both and a read-back without queueing.
pub const POSTGRES_POOL_CONNECTIONS_MAX: u32 = 4;
/// Longest wait for a pooled Postgres connection (or a new one).
pub const POSTGRES_ACQUIRE_TIMEOUT_MS: u64 = 5_000;
/// Server-side bound on one statement: a batch of 500 events takes milliseconds; a
/// minute is only reached by a stuck lock or a runaway reconcile page.
pub const POSTGRES_STATEMENT_TIMEOUT_MS: u64 = 60_000;

/// Why a store could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis at `{url}`: {source}")]
    Redis {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("postgres: {source}")]
    Postgres {
        #[source]
        source: sqlx::Error,
    },
}

/// A multiplexed Redis connection with explicit connect and response timeouts.
pub async fn connect_redis(url: &str) -> Result<MultiplexedConnection, StoreError> {
    let redis_error = |source| StoreError::Redis {
        url: url.to_owned(),
        source,
    };
    let client = redis::Client::open(url).map_err(redis_error)?;
    client
        .get_multiplexed_async_connection_with_config(&redis_config())
        .await
        .map_err(redis_error)
}

/// The connection settings every engine-side Redis connection uses.
pub fn redis_config() -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(REDIS_CONNECT_TIMEOUT_MS)))
        .set_response_timeout(Some(Duration::from_millis(REDIS_RESPONSE_TIMEOUT_MS)))
}

/// A bounded Postgres pool with a statement timeout on every connection.
pub async fn connect_postgres(url: &str) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = url
        .parse::<PgConnectOptions>()
        .map_err(|source| StoreError::Postgres { source })?
        .options([(
            "statement_timeout",
            POSTGRES_STATEMENT_TIMEOUT_MS.to_string(),
        )])
        .disable_statement_logging();
    PgPoolOptions::new()
        .max_connections(POSTGRES_POOL_CONNECTIONS_MAX)
        .acquire_timeout(Duration::from_millis(POSTGRES_ACQUIRE_TIMEOUT_MS))
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Postgres { source })
}
