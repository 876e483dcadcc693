//! The `external` provider: given URLs are used as they are and only flushed on request.
//! The "external" servers here are a local pair started for the test.

use sqlx::Connection;
use stockproof_infra::{ExternalOptions, Infra, InfraConfig, Provider, ResolvedProvider};

use crate::support::redis_connection;

async fn leave_marks(redis_url: &str, database_url: &str) {
    let mut redis = redis_connection(redis_url).await;
    redis::cmd("SET")
        .arg("user:data")
        .arg("keep me")
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    let mut postgres = sqlx::PgConnection::connect(database_url).await.unwrap();
    sqlx::raw_sql("CREATE TABLE user_data (id int)")
        .execute(&mut postgres)
        .await
        .unwrap();
}

async fn marks_present(redis_url: &str, database_url: &str) -> (bool, bool) {
    let mut redis = redis_connection(redis_url).await;
    let exists: bool = redis::cmd("EXISTS")
        .arg("user:data")
        .query_async(&mut redis)
        .await
        .unwrap();
    let mut postgres = sqlx::PgConnection::connect(database_url).await.unwrap();
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('user_data')::text")
        .fetch_one(&mut postgres)
        .await
        .unwrap();
    (exists, table.is_some())
}

fn external(redis_url: &str, database_url: &str, flush: bool) -> InfraConfig {
    InfraConfig {
        external: ExternalOptions {
            redis_url: Some(redis_url.to_owned()),
            database_url: Some(database_url.to_owned()),
            flush,
        },
        ..InfraConfig::with_provider(Provider::External)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_urls_are_used_and_never_flushed_without_the_flag() {
    // Goal: the URLs given are the URLs used; existing data survives unless flush is
    // asked for, and then both stores are emptied; dropping stops nothing.
    let servers = Infra::start(&InfraConfig::with_provider(Provider::Local))
        .await
        .unwrap();
    let (redis_url, database_url) = (servers.redis_url(), servers.database_url());
    leave_marks(redis_url, database_url).await;

    let kept = Infra::start(&external(redis_url, database_url, false))
        .await
        .unwrap();
    assert_eq!(kept.provider(), ResolvedProvider::External);
    assert_eq!(
        (kept.redis_url(), kept.database_url()),
        (redis_url, database_url)
    );
    drop(kept);
    assert_eq!(marks_present(redis_url, database_url).await, (true, true));

    let flushed = Infra::start(&external(redis_url, database_url, true))
        .await
        .unwrap();
    drop(flushed);
    assert_eq!(marks_present(redis_url, database_url).await, (false, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_without_urls_or_with_a_dead_one_is_a_clear_error() {
    // Goal: a missing URL names the variable to set; a URL nobody answers is reported
    // with the URL, without its password.
    let message = Infra::start(&InfraConfig::with_provider(Provider::External))
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("REDIS_URL"), "{message}");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = external(
        &format!("redis://:secret@127.0.0.1:{dead_port}/0"),
        "postgres://postgres:secret@127.0.0.1:1/x",
        false,
    );
    let message = Infra::start(&config).await.unwrap_err().to_string();
    assert!(message.contains(&dead_port.to_string()), "{message}");
    assert!(
        !message.contains("secret"),
        "passwords must not be printed: {message}"
    );
}
