//! The `local` provider with the machine's real redis-server and postgres.

use sqlx::Connection;
use stockproof_infra::{AofPolicy, Infra, InfraConfig, LocalOptions, Provider, ResolvedProvider};

use crate::support::{assert_gone, config_get, ping, select_one};

fn local_config(aof: AofPolicy) -> InfraConfig {
    InfraConfig {
        aof,
        ..InfraConfig::with_provider(Provider::Local)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_servers_answer_and_are_gone_after_drop() {
    // Goal: one call gives a Redis and a Postgres that answer, on loopback, and drop
    // removes both processes and the session dir.
    let infra = Infra::start(&local_config(AofPolicy::Everysec))
        .await
        .unwrap();
    assert_eq!(infra.provider(), ResolvedProvider::Local);
    assert!(
        infra.redis_url().starts_with("redis://127.0.0.1:"),
        "{}",
        infra.redis_url()
    );
    assert!(
        infra
            .database_url()
            .starts_with("postgres://postgres@127.0.0.1:"),
        "{}",
        infra.database_url()
    );
    assert_eq!(ping(infra.redis_url()).await, "PONG");
    assert_eq!(select_one(infra.database_url()).await, 1);
    assert_eq!(
        config_get(infra.redis_url(), "maxmemory-policy").await,
        "noeviction"
    );

    let local = infra.local().unwrap();
    let pids = [local.redis.pid().unwrap(), local.postgres.pid().unwrap()];
    let dir = local.session_dir().to_owned();
    assert!(dir.exists());
    drop(infra);
    assert_gone(&pids, &dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_aof_policy_is_in_force() {
    // Goal: the policy asked for is what Redis runs with (CONFIG GET), for every policy.
    for aof in [
        AofPolicy::Off,
        AofPolicy::No,
        AofPolicy::Everysec,
        AofPolicy::Always,
    ] {
        let options = LocalOptions::default();
        let redis = stockproof_infra::local::LocalServers::start(&options, aof)
            .await
            .unwrap_or_else(|error| panic!("aof {aof}: {error}"));
        let url = redis.redis.url();
        let appendonly = config_get(url, "appendonly").await;
        let expected_appendonly = if aof == AofPolicy::Off { "no" } else { "yes" };
        assert_eq!(appendonly, expected_appendonly, "aof {aof}");
        if aof != AofPolicy::Off {
            assert_eq!(
                config_get(url, "appendfsync").await,
                aof.to_string(),
                "aof {aof}"
            );
        }
        assert_eq!(
            config_get(url, "save").await,
            "",
            "aof {aof}: RDB snapshots must be off"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_providers_side_by_side_never_collide() {
    // Goal: two pairs started at once get different ports and dirs and both work.
    let config = local_config(AofPolicy::No);
    let (first, second) = tokio::join!(Infra::start(&config), Infra::start(&config));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_ne!(first.redis_url(), second.redis_url());
    assert_ne!(first.database_url(), second.database_url());
    assert_ne!(
        first.local().unwrap().session_dir(),
        second.local().unwrap().session_dir()
    );
    for infra in [&first, &second] {
        assert_eq!(ping(infra.redis_url()).await, "PONG");
        assert_eq!(select_one(infra.database_url()).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_still_stops_the_servers() {
    // Goal: a caller that panics while holding the pair leaves nothing running.
    // Method: start inside a task that panics; the unwinding drops the Infra.
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let infra = Infra::start(&local_config(AofPolicy::No)).await.unwrap();
        let local = infra.local().unwrap();
        let pids = [local.redis.pid().unwrap(), local.postgres.pid().unwrap()];
        sender.send((pids, local.session_dir().to_owned())).unwrap();
        panic!("deliberate panic while holding the servers");
    });
    let join_error = task.await.unwrap_err();
    assert!(join_error.is_panic());
    let (pids, dir) = receiver.await.unwrap();
    assert_gone(&pids, &dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_binary_names_the_package_to_install() {
    // Goal: pointing the provider at a machine without Postgres says what to install,
    // and starts nothing.
    let empty = tempfile::tempdir().unwrap();
    let config = InfraConfig {
        local: LocalOptions {
            postgres_bin_dir: Some(empty.path().to_owned()),
            ..LocalOptions::default()
        },
        ..local_config(AofPolicy::No)
    };
    let message = Infra::start(&config).await.unwrap_err().to_string();
    assert!(message.contains("apt-get install postgresql"), "{message}");

    let config = InfraConfig {
        local: LocalOptions {
            redis_server: Some(empty.path().join("redis-server")),
            ..LocalOptions::default()
        },
        ..local_config(AofPolicy::No)
    };
    let message = Infra::start(&config).await.unwrap_err().to_string();
    assert!(
        message.contains("apt-get install redis-server"),
        "{message}"
    );
}

/// Commits a row over a connection that stays open, restarts Postgres (`kill`: with
/// `kill_and_restart`, else `restart`), and asserts the server is a new process on the
/// same port, the old connection is broken, and the row is read back on a new one.
async fn postgres_comes_back_with_its_rows(kill: bool) {
    let mut infra = Infra::start(&local_config(AofPolicy::No)).await.unwrap();
    let url = infra.database_url().to_owned();
    let mut before = sqlx::PgConnection::connect(&url).await.unwrap();
    for statement in ["CREATE TABLE kept (n int)", "INSERT INTO kept VALUES (42)"] {
        sqlx::query(statement).execute(&mut before).await.unwrap();
    }
    let postgres = &mut infra.local_mut().unwrap().postgres;
    let (port, pid) = (postgres.port(), postgres.pid().unwrap());
    if kill {
        postgres.kill_and_restart().await.unwrap();
    } else {
        postgres.restart().await.unwrap();
    }
    assert_eq!(postgres.port(), port);
    assert_ne!(postgres.pid().unwrap(), pid, "the server was not restarted");
    assert!(
        sqlx::query("SELECT 1").execute(&mut before).await.is_err(),
        "a connection (its backend) survived (kill: {kill})"
    );
    let mut after = sqlx::PgConnection::connect(&url).await.unwrap();
    let kept: i32 = sqlx::query_scalar("SELECT n FROM kept")
        .fetch_one(&mut after)
        .await
        .unwrap();
    assert_eq!(kept, 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_keeps_committed_rows_and_drops_connections() {
    // Goal: `LocalPostgres::restart` brings the same server back on the same port with
    // its committed data; a connection from before the restart is broken (as in a real
    // restart), a new one works.
    postgres_comes_back_with_its_rows(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_kill_keeps_committed_rows_and_leaves_no_backend() {
    // Goal: `LocalPostgres::kill_and_restart` is a crash, not a shutdown: the whole
    // server (postmaster and backends) is killed, a new postmaster starts on the same
    // port after crash recovery, and every committed row is there. The open
    // connection's backend must die too, or the new postmaster could not attach the
    // data.
    postgres_comes_back_with_its_rows(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_port_and_aof_data() {
    // Goal: `LocalRedis::restart` brings the same server back on the same port with
    // what its AOF kept. Method: write with AOF always, restart, read it back; the pid
    // must change (a real restart).
    let mut infra = Infra::start(&local_config(AofPolicy::Always))
        .await
        .unwrap();
    let url = infra.redis_url().to_owned();
    let mut connection = crate::support::redis_connection(&url).await;
    let _: () = redis::cmd("SET")
        .arg("kept")
        .arg("yes")
        .query_async(&mut connection)
        .await
        .unwrap();
    let redis = &mut infra.local_mut().unwrap().redis;
    let (port, pid) = (redis.port(), redis.pid().unwrap());
    redis.restart().await.unwrap();
    assert_eq!(redis.port(), port);
    assert_ne!(redis.pid().unwrap(), pid, "the server was not restarted");
    assert_eq!(infra.redis_url(), url);
    let mut connection = crate::support::redis_connection(&url).await;
    let kept: String = redis::cmd("GET")
        .arg("kept")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(kept, "yes", "on port {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_aof_always_keeps_every_acknowledged_write() {
    // Goal: `kill_and_restart` is a real crash (SIGKILL, no shutdown flush), yet with
    // `appendfsync always` every acknowledged write is back after the restart; with AOF
    // off the server comes back empty. Method: 200 INCRs, kill -9, read the counter.
    for (aof, expected) in [(AofPolicy::Always, Some(200)), (AofPolicy::Off, None)] {
        let mut infra = Infra::start(&local_config(aof)).await.unwrap();
        let url = infra.redis_url().to_owned();
        let mut connection = crate::support::redis_connection(&url).await;
        for _ in 0..200 {
            let _: i64 = redis::cmd("INCR")
                .arg("counter")
                .query_async(&mut connection)
                .await
                .unwrap();
        }
        let redis = &mut infra.local_mut().unwrap().redis;
        let pid = redis.pid().unwrap();
        redis.kill_and_restart().await.unwrap();
        assert_ne!(redis.pid().unwrap(), pid);
        let mut connection = crate::support::redis_connection(&url).await;
        let counter: Option<i64> = redis::cmd("GET")
            .arg("counter")
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(counter, expected, "aof {aof}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_answers_nothing_until_resumed() {
    // Goal: SIGSTOP freezes the server (a request hangs), SIGCONT lets the held request
    // complete. The hang is shown by a request that does not finish within 300 ms,
    // which a frozen process cannot beat.
    let mut infra = Infra::start(&local_config(AofPolicy::No)).await.unwrap();
    let url = infra.redis_url().to_owned();
    let mut connection = crate::support::redis_connection(&url).await;
    assert!(infra.local_mut().unwrap().redis.pause());
    let ping = redis::cmd("PING");
    let mut request = Box::pin(ping.query_async::<String>(&mut connection));
    let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut request).await;
    assert!(early.is_err(), "a paused server answered");
    assert!(infra.local_mut().unwrap().redis.resume());
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), request)
        .await
        .expect("the held request completes after resume")
        .unwrap();
    assert_eq!(answer, "PONG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_postgres_answers_nothing_until_resumed() {
    // Goal: `LocalPostgres::pause` freezes the whole server, backends included (a query
    // on a connection opened before the pause hangs), and `resume` lets the held query
    // complete. The hang is shown by a query that does not finish within 300 ms, which
    // a frozen backend cannot beat.
    let mut infra = Infra::start(&local_config(AofPolicy::No)).await.unwrap();
    let url = infra.database_url().to_owned();
    let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
    assert!(infra.local_mut().unwrap().postgres.pause());
    let answer = {
        let mut request =
            Box::pin(sqlx::query_scalar::<_, i32>("SELECT 7").fetch_one(&mut connection));
        let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut request).await;
        assert!(early.is_err(), "a paused server answered");
        assert!(infra.local_mut().unwrap().postgres.resume());
        tokio::time::timeout(std::time::Duration::from_secs(10), request)
            .await
            .expect("the held query completes after resume")
            .unwrap()
    };
    assert_eq!(answer, 7);
}
