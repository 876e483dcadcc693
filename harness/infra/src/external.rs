//! The `external` provider: Redis and Postgres the user already runs, given as
//! `REDIS_URL` / `DATABASE_URL`. They must answer; they are never flushed unless the
//! user asks (`flush`), since they may hold someone's data. Nothing is stopped on drop.

use std::time::Duration;

use sqlx::Connection;

use crate::readiness::{self, WaitError};
use crate::{ExternalOptions, InfraError};

/// A given server that does not answer within this is reported, not waited on forever.
const EXTERNAL_READY_WAIT_MS_MAX: u64 = 10_000;

#[derive(Debug, Clone)]
pub struct ExternalServers {
    pub redis_url: String,
    pub database_url: String,
}

impl ExternalServers {
    pub async fn connect(options: &ExternalOptions) -> Result<ExternalServers, InfraError> {
        let redis_url = options.redis_url.clone().ok_or_else(|| {
            InfraError::External("no Redis URL: set REDIS_URL or pass --redis-url".to_owned())
        })?;
        let database_url = options.database_url.clone().ok_or_else(|| {
            InfraError::External(
                "no Postgres URL: set DATABASE_URL or pass --database-url".to_owned(),
            )
        })?;
        wait_answers("Redis", &redis_url, || readiness::redis_answers(&redis_url)).await?;
        wait_answers("Postgres", &database_url, || {
            readiness::postgres_answers(&database_url)
        })
        .await?;
        if options.flush {
            flush(&redis_url, &database_url).await?;
        }
        Ok(ExternalServers {
            redis_url,
            database_url,
        })
    }
}

async fn wait_answers<Probe, Fut>(server: &str, url: &str, probe: Probe) -> Result<(), InfraError>
where
    Probe: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let waited = Duration::from_millis(EXTERNAL_READY_WAIT_MS_MAX);
    match readiness::wait_until(waited, probe, || None).await {
        Ok(()) => Ok(()),
        Err(WaitError::TimedOut(error) | WaitError::GaveUp(error)) => {
            Err(InfraError::External(format!(
                "{server} at {} did not answer within {waited:?}: {error}",
                redact(url)
            )))
        }
    }
}

/// `FLUSHDB` on the given Redis database; drops and recreates the `public` schema of
/// the given Postgres database. Only what the URLs name is touched.
async fn flush(redis_url: &str, database_url: &str) -> Result<(), InfraError> {
    let redis_failed =
        |error: redis::RedisError| InfraError::External(format!("flushing Redis: {error}"));
    let client = redis::Client::open(redis_url).map_err(redis_failed)?;
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .map_err(redis_failed)?;
    redis::cmd("FLUSHDB")
        .query_async::<()>(&mut connection)
        .await
        .map_err(redis_failed)?;

    let postgres_failed =
        |error: sqlx::Error| InfraError::External(format!("flushing Postgres: {error}"));
    let mut connection = sqlx::PgConnection::connect(database_url)
        .await
        .map_err(postgres_failed)?;
    sqlx::raw_sql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
        .execute(&mut connection)
        .await
        .map_err(postgres_failed)?;
    connection.close().await.map_err(postgres_failed)
}

/// The URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}
