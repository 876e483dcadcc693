//! Waiting until a server answers a real request (Redis `PING`, Postgres `SELECT 1`),
//! bounded, retrying while it starts. Shared by every provider, so "ready" means the
//! same whichever one started the server.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::Connection;

/// Longest a single connection attempt may take before it is retried.
const ATTEMPT_TIMEOUT_MS: u64 = 2_000;
/// Pause between attempts: short, since a local server is usually up within ~100 ms.
const RETRY_PAUSE_MS: u64 = 50;

/// Redis answered `PING` with `PONG`.
pub(crate) async fn redis_answers(url: &str) -> Result<(), String> {
    redis_process_answers(url, None).await
}

/// Redis answered PING, and — when `expected_pid` is given — the server that answered is
/// that process (`INFO server`'s `process_id`). A server of ours that failed to bind its
/// port must not pass for ready because another process's Redis took that port.
pub(crate) async fn redis_process_answers(
    url: &str,
    expected_pid: Option<u32>,
) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|error| error.to_string())?;
    let attempt = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        let pong = redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await?;
        let info = match expected_pid {
            Some(_) => {
                redis::cmd("INFO")
                    .arg("server")
                    .query_async::<String>(&mut connection)
                    .await?
            }
            None => String::new(),
        };
        Ok::<_, redis::RedisError>((pong, info))
    };
    match tokio::time::timeout(Duration::from_millis(ATTEMPT_TIMEOUT_MS), attempt).await {
        Ok(Ok((reply, info))) if reply == "PONG" => match expected_pid {
            None => Ok(()),
            Some(pid) => {
                let answering = info
                    .lines()
                    .find_map(|line| line.strip_prefix("process_id:"))
                    .map(str::trim);
                if answering == Some(pid.to_string().as_str()) {
                    Ok(())
                } else {
                    Err(format!(
                        "another redis-server (process_id {}) answers on this port",
                        answering.unwrap_or("unknown")
                    ))
                }
            }
        },
        Ok(Ok((reply, _))) => Err(format!("PING answered `{reply}`")),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {ATTEMPT_TIMEOUT_MS} ms")),
    }
}

/// Postgres answered `SELECT 1` with 1.
pub(crate) async fn postgres_answers(url: &str) -> Result<(), String> {
    postgres_cluster_answers(url, None).await
}

/// Postgres answered `SELECT 1`, and — when `expected_data_dir` is given — the server
/// that answered serves that data dir (`SHOW data_directory`). A postmaster of ours that
/// failed to bind its port must not pass for ready because another run's Postgres took
/// that port (the same race `redis_process_answers` closes for Redis).
pub(crate) async fn postgres_cluster_answers(
    url: &str,
    expected_data_dir: Option<&Path>,
) -> Result<(), String> {
    let attempt = async {
        let mut connection = sqlx::PgConnection::connect(url).await?;
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut connection)
            .await?;
        let data_dir = match expected_data_dir {
            Some(_) => {
                sqlx::query_scalar::<_, String>("SHOW data_directory")
                    .fetch_one(&mut connection)
                    .await?
            }
            None => String::new(),
        };
        connection.close().await?;
        Ok::<_, sqlx::Error>((one, data_dir))
    };
    match tokio::time::timeout(Duration::from_millis(ATTEMPT_TIMEOUT_MS), attempt).await {
        Ok(Ok((1, data_dir))) => match expected_data_dir {
            Some(expected) if !same_dir(Path::new(&data_dir), expected) => Err(format!(
                "another postgres (data directory `{data_dir}`) answers on this port"
            )),
            _ => Ok(()),
        },
        Ok(Ok((other, _))) => Err(format!("SELECT 1 answered {other}")),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {ATTEMPT_TIMEOUT_MS} ms")),
    }
}

/// Whether two paths name one directory (symlinks resolved when both exist).
fn same_dir(reported: &Path, expected: &Path) -> bool {
    match (
        std::fs::canonicalize(reported),
        std::fs::canonicalize(expected),
    ) {
        (Ok(reported), Ok(expected)) => reported == expected,
        _ => reported == expected,
    }
}

/// Calls `probe` until it succeeds or `wait_max` passes; `gave_up` tells early that
/// waiting is pointless (the server process exited). Returns the last error on failure.
pub(crate) async fn wait_until<Probe, Fut, GaveUp>(
    wait_max: Duration,
    mut probe: Probe,
    mut gave_up: GaveUp,
) -> Result<(), WaitError>
where
    Probe: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
    GaveUp: FnMut() -> Option<String>,
{
    let started = Instant::now();
    loop {
        let last_error = match probe().await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        if let Some(reason) = gave_up() {
            return Err(WaitError::GaveUp(reason));
        }
        if started.elapsed() >= wait_max {
            return Err(WaitError::TimedOut(last_error));
        }
        tokio::time::sleep(Duration::from_millis(RETRY_PAUSE_MS)).await;
    }
}

#[derive(Debug)]
pub(crate) enum WaitError {
    TimedOut(String),
    GaveUp(String),
}
