//! Helpers shared by the integration tests: probing servers and processes.

use std::path::Path;

use sqlx::Connection;
use stockproof_infra::auto::{DockerProbe, probe_docker};

pub(crate) async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|error| panic!("connecting to {url}: {error}"))
}

pub(crate) async fn ping(url: &str) -> String {
    let mut connection = redis_connection(url).await;
    redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .unwrap()
}

pub(crate) async fn config_get(url: &str, parameter: &str) -> String {
    let mut connection = redis_connection(url).await;
    let pair: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(parameter)
        .query_async(&mut connection)
        .await
        .unwrap();
    pair.get(1).cloned().unwrap_or_default()
}

pub(crate) async fn select_one(url: &str) -> i32 {
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|error| panic!("connecting to {url}: {error}"));
    sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut connection)
        .await
        .unwrap()
}

/// True when no process with this pid exists (our children are reaped on stop, so a
/// stopped server leaves no zombie behind either).
pub(crate) fn process_is_gone(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    let result = unsafe { libc::kill(pid as libc::pid_t, 0) };
    result == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

pub(crate) fn assert_gone(pids: &[u32], dir: &Path) {
    for pid in pids {
        assert!(
            process_is_gone(*pid),
            "server pid {pid} still runs after drop"
        );
    }
    assert!(
        !dir.exists(),
        "session dir {} still exists after drop",
        dir.display()
    );
}

/// `None` when Docker can serve the default images; else the reason to skip. With
/// `STOCKPROOF_REQUIRE_DOCKER=1` (CI) a missing daemon or image fails the test instead.
pub(crate) async fn docker_skip_reason() -> Option<String> {
    let images = [
        stockproof_infra::DEFAULT_REDIS_IMAGE,
        stockproof_infra::DEFAULT_POSTGRES_IMAGE,
    ];
    let reason = match probe_docker(&images).await {
        DockerProbe::Ready => return None,
        DockerProbe::NoDaemon(reason) => reason,
        DockerProbe::ImagesMissing(images) => {
            format!(
                "images {} missing (run scripts/build-images)",
                images.join(", ")
            )
        }
    };
    if std::env::var("STOCKPROOF_REQUIRE_DOCKER").as_deref() == Ok("1") {
        panic!("STOCKPROOF_REQUIRE_DOCKER=1 but Docker cannot run the tests: {reason}");
    }
    eprintln!("skipped: {reason}");
    Some(reason)
}
