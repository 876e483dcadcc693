//! `redis-benchmark` rows of `stockproof engine-bench`, on the bench's own Redis: SET, a
//! `return 1` script and the reserve script itself, 50 clients without pipelining, as
//! issue 5 names them. They place the bench's figures against Redis' own client.
//!
//! Not here: the engine and bare-client rows (`engine_bench`).

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, bail};
use redis::aio::MultiplexedConnection;
use stockproof_engine::lua::Script;
use stockproof_engine::{InventoryEngine, RedisLuaConfig, RedisLuaEngine, ShopKeys};

use super::{RESERVE_TTL_MS, SHOP, STOCK_PER_SKU};

/// redis-benchmark runs the issue names: 50 clients, 200,000 requests.
const REDIS_BENCHMARK_CLIENTS: &str = "50";
const REDIS_BENCHMARK_REQUESTS: &str = "200000";
/// redis-benchmark's own bound: it finishes 200,000 requests in seconds.
const REDIS_BENCHMARK_WAIT_MS_MAX: u64 = 120_000;

/// `redis-benchmark` on the same server: SET, a trivial script, and the reserve
/// script itself on the hot SKU (random keys), 50 clients, 200,000 requests each.
pub(super) async fn redis_benchmark_rows(
    url: &str,
    bare: &mut MultiplexedConnection,
    script: &Script,
    flush: bool,
) -> anyhow::Result<String> {
    let Some((host, port)) = url
        .strip_prefix("redis://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|address| address.rsplit_once(':'))
        .filter(|(host, _)| !host.contains('@'))
    else {
        return Ok(
            "# redis-benchmark skipped: only plain redis://host:port URLs are passed to it\n"
                .to_owned(),
        );
    };
    let trivial: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return 1")
        .query_async(bare)
        .await?;
    let engine = RedisLuaEngine::connect(url, RedisLuaConfig::new(SHOP)).await?;
    if flush {
        let _: () = redis::cmd("FLUSHDB").query_async(bare).await?;
    }
    engine.restock("hot", STOCK_PER_SKU).await?;
    script.load(bare).await?;
    let keys = ShopKeys::new(SHOP);
    let (ttl, seq_key) = (RESERVE_TTL_MS.to_string(), keys.seq());
    let reserve: Vec<&str> = vec![
        "-r",
        "1000000000",
        "EVALSHA",
        script.sha(),
        "1",
        &seq_key,
        keys.prefix(),
        "rb:__rand_int__",
        &ttl,
        "1",
        "hot",
        "1",
    ];
    let mut rows = String::from("# redis-benchmark -c 50 -n 200000 -q, same server\n");
    let runs: [(&str, Vec<&str>); 3] = [
        ("SET", vec!["-t", "set"]),
        ("EVALSHA return 1", vec!["EVALSHA", &trivial, "0"]),
        ("EVALSHA reserve.lua, hot sku", reserve),
    ];
    for (label, extra) in runs {
        let line = run_redis_benchmark(host, port, &extra).await?;
        writeln!(rows, "{label:<30} {line}")?;
    }
    Ok(rows)
}

async fn run_redis_benchmark(host: &str, port: &str, extra: &[&str]) -> anyhow::Result<String> {
    let mut command = tokio::process::Command::new("redis-benchmark");
    command
        .args([
            "-h",
            host,
            "-p",
            port,
            "-c",
            REDIS_BENCHMARK_CLIENTS,
            "-n",
            REDIS_BENCHMARK_REQUESTS,
            "-q",
        ])
        .args(extra)
        .kill_on_drop(true);
    let output = match tokio::time::timeout(
        Duration::from_millis(REDIS_BENCHMARK_WAIT_MS_MAX),
        command.output(),
    )
    .await
    {
        Err(_) => bail!("redis-benchmark did not finish within {REDIS_BENCHMARK_WAIT_MS_MAX} ms"),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok("redis-benchmark not installed (Debian package redis-tools)".to_owned());
        }
        Ok(output) => output.context("running redis-benchmark")?,
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    // -q prints progress lines ending in \r, then the result line.
    let last = stdout
        .split(['\r', '\n'])
        .map(str::trim)
        .rfind(|line| line.contains("requests per second"))
        .unwrap_or("no result line");
    Ok(last.to_owned())
}
