//! `stockproof reconcile`: run as a user runs it against real servers; its exit code is
//! 0 with no drift, 1 with drift (also after a repair that cannot fix it), 4 when a
//! store cannot be reached; for a Postgres-only strategy it needs no Redis, compares
//! the rows with the ledger and refuses `--repair` (exit 2).

use stockproof_engine::pg::{PgConfig, PgRowLockEngine};
use stockproof_engine::{CartLine, InventoryEngine, ReserveRequest, ShopKeys, ledger, stores};
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

/// Local Redis and Postgres, the shop's tables migrated, and a pool on them.
async fn migrated_servers() -> (Infra, sqlx::PgPool) {
    let infra = Infra::start(&InfraConfig::with_provider(Provider::Local))
        .await
        .expect("local servers start");
    let pool = stores::connect_postgres(infra.database_url())
        .await
        .expect("postgres connects");
    ledger::migrate(&pool).await.expect("migrations run");
    (infra, pool)
}

#[tokio::test]
async fn reconcile_exit_codes_follow_what_it_finds() {
    // Goal: exit 0 on a clean shop, 1 on drift (printed, naming the SKU), 1 after a
    // repair that cannot fix it, 4 when Redis is unreachable. Method: a migrated empty
    // shop; then a SKU hash written in Redis with no ledger event behind it.
    let (infra, _pool) = migrated_servers().await;
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

#[tokio::test]
async fn reconcile_compares_what_a_postgres_strategy_keeps() {
    // Goal: on a pg-row-lock shop, reconcile reads Postgres only (no --redis-url):
    // clean after real operations (seq gaps from rolled-back attempts are not drift),
    // a row changed behind the ledger's back is drift naming the SKU, and --repair is
    // refused as usage. Method: a restock, a hold and a refused cart through the
    // engine, a seq drawn and never used (what a rolled-back attempt leaves), a second
    // restock; then one hand-made UPDATE of `skus`.
    let (infra, pool) = migrated_servers().await;
    let engine = PgRowLockEngine::connect(infra.database_url(), PgConfig::default())
        .await
        .expect("engine connects");
    engine.restock("p-1", 5).await.expect("restock");
    for (key, qty) in [("k-1", 2), ("k-2", 9)] {
        let request = ReserveRequest {
            idempotency_key: key.to_owned(),
            items: vec![CartLine {
                sku: "p-1".to_owned(),
                qty,
            }],
            ttl_ms: 60_000,
        };
        engine.reserve(&request).await.expect("reserve answers");
    }
    sqlx::query("SELECT nextval('ledger_seq_postgres_strategies')")
        .execute(&pool)
        .await
        .expect("a seq drawn and dropped");
    engine.restock("p-1", 1).await.expect("restock");
    let args = [
        "reconcile",
        "--strategy",
        "pg-row-lock",
        "--database-url",
        infra.database_url(),
    ];
    let (code, stdout) = stockproof(&args).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("postgres only") && stdout.contains("1 held reservations"),
        "{stdout}"
    );

    sqlx::query("UPDATE skus SET available = available + 1, total = total + 1 WHERE sku = 'p-1'")
        .execute(&pool)
        .await
        .expect("crafted drift");
    let (code, stdout) = stockproof(&args).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("sku `p-1` available: projection=5 ledger=4"),
        "{stdout}"
    );

    let repair: Vec<&str> = args.iter().copied().chain(["--repair"]).collect();
    let (code, stdout) = stockproof(&repair).await;
    assert_eq!(code, 2, "{stdout}");
}
