//! `stockproof reconcile`: run as a user runs it against real servers; its exit code is
//! 0 with no drift, 1 with drift (also after a repair that cannot fix it), 4 when a
//! store cannot be reached.

use stockproof_engine::{ShopKeys, ledger, stores};
use stockproof_infra::{Infra, InfraConfig, Provider};

/// Runs the binary with `args`; returns (exit code, stdout).
async fn stockproof(args: &[&str]) -> (i32, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_stockproof"))
        .args(args)
        .output()
        .await
        .expect("stockproof runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let code = output.status.code().expect("an exit code");
    (code, stdout)
}

#[tokio::test]
async fn reconcile_exit_codes_follow_what_it_finds() {
    // Goal: exit 0 on a clean shop, 1 on drift (printed, naming the SKU), 1 after a
    // repair that cannot fix it, 4 when Redis is unreachable. Method: a migrated empty
    // shop; then a SKU hash written in Redis with no ledger event behind it.
    let infra = Infra::start(&InfraConfig::with_provider(Provider::Local))
        .await
        .expect("local servers start");
    let pool = stores::connect_postgres(infra.database_url())
        .await
        .expect("postgres connects");
    ledger::migrate(&pool).await.expect("migrations run");
    let urls = [
        "--redis-url",
        infra.redis_url(),
        "--database-url",
        infra.database_url(),
    ];
    let args: Vec<&str> = ["reconcile", "--shop", "cli"]
        .into_iter()
        .chain(urls)
        .collect();

    let (code, stdout) = stockproof(&args).await;
    assert_eq!(code, 0, "clean shop at {}: {stdout}", infra.redis_url());
    assert!(stdout.contains("0 drift(s)"), "{stdout}");

    let keys = ShopKeys::new("cli");
    let mut redis = stores::connect_redis(infra.redis_url())
        .await
        .expect("redis connects");
    let _: () = redis::pipe()
        .cmd("HSET")
        .arg(keys.sku("phantom"))
        .arg(&[("available", 3), ("reserved", 0), ("sold", 0), ("total", 3)])
        .ignore()
        .cmd("SADD")
        .arg(keys.sku_index())
        .arg("phantom")
        .ignore()
        .query_async(&mut redis)
        .await
        .expect("crafted drift");
    let (code, stdout) = stockproof(&args).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("sku `phantom` available: redis=3"),
        "{stdout}"
    );

    let repair_args: Vec<&str> = args.iter().copied().chain(["--repair"]).collect();
    let (code, stdout) = stockproof(&repair_args).await;
    assert_eq!(
        code, 1,
        "a SKU without any ledger event is left for a human: {stdout}"
    );
    assert!(stdout.contains("after repair"), "{stdout}");

    let unreachable = [
        "reconcile",
        "--redis-url",
        "redis://127.0.0.1:1/0",
        "--database-url",
        infra.database_url(),
    ];
    let (code, stdout) = stockproof(&unreachable).await;
    assert_eq!(code, 4, "{stdout}");
}
