//! The ceilings a knee is read against, measured in the same bench run: the load
//! generator's own (the scenario's open-model load against the no-op target, stepped
//! by the knee's own search: `super::generator`), the bare Redis client running the
//! reserve script (`EVALSHA` on one multiplexed connection, as `engine-bench` does),
//! and Postgres's guarded `UPDATE skus SET available = available - 1 … WHERE sku = $1
//! AND available >= 1` on one connection pool. The Redis and Postgres ceilings run on
//! the scenario's SKUs (one hot row for a flash sale) on servers of their own, started
//! and stopped here. Each of those two is a closed loop of [`CEILING_CALLERS`] callers
//! for the ceiling time: they bound what a store does per call, not a schedule.
//!
//! Not here: the engine (`crate::run`), a verdict (a ceiling only scales a knee).

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Value;
use serde::{Deserialize, Serialize};
use stockproof_engine::lua::{Script, ScriptName};
use stockproof_engine::{InventoryEngine, RedisLuaConfig, RedisLuaEngine, ShopKeys, stores};
use stockproof_infra::{Infra, InfraConfig};

use super::generator::{GeneratorRecord, GeneratorSearch, generator_ceiling};
use crate::load::interrupt;
use crate::scenario::Scenario;

/// Concurrent callers of the Redis and Postgres ceilings: enough to keep one
/// multiplexed connection pipelined and every pooled Postgres connection busy.
pub const CEILING_CALLERS: usize = 64;
/// SKUs a store ceiling spreads over (the scenario's first ones): stocking is one call
/// per SKU, and a thousand rows already spread a pool's locks.
const CEILING_SKUS_MAX: usize = 1_000;
/// The ceilings' shop (keys `sp:{bench-ceiling}:…`).
const SHOP: &str = "bench-ceiling";
/// Units stocked per SKU: far above what a ceiling takes, so no call is refused.
const STOCK_PER_SKU: i64 = 100_000_000;
/// Hold of each bare reserve: the whole ceiling; nothing sweeps.
const RESERVE_TTL_MS: i64 = 600_000;
const GUARDED_UPDATE: &str = "UPDATE skus SET available = available - 1, reserved = reserved + 1 \
                              WHERE sku = $1 AND available >= 1";

/// One ceiling: how many calls in how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ceiling {
    /// Carts/s (load generator) or calls/s (Redis, Postgres).
    pub per_s: f64,
    /// The load generator's ops/s (its carts' requests); the calls for the others.
    pub ops_per_s: f64,
    pub seconds: f64,
    pub callers: usize,
    /// The load generator's steps (its ceiling is a search, not one closed loop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<GeneratorRecord>,
}

/// The three ceilings; a ceiling that could not be measured is `None` with a note.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ceilings {
    pub load_generator: Option<Ceiling>,
    pub redis_reserve_script: Option<Ceiling>,
    pub postgres_guarded_update: Option<Ceiling>,
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CeilingError {
    #[error("{0}")]
    Setup(String),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("a caller task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Measures the ceilings; the stores' two only with `infra` (not against `--target`),
/// each for `time`.
pub async fn measure(
    scenario: &Scenario,
    infra: Option<&InfraConfig>,
    time: Duration,
    generator: &GeneratorSearch,
) -> Ceilings {
    let mut ceilings = Ceilings::default();
    match generator_ceiling(scenario, scenario.seed.unwrap_or(1), generator).await {
        Ok(ceiling) => ceilings.load_generator = Some(ceiling),
        Err(error) => ceilings.notes.push(error.to_string()),
    }
    let Some(config) = infra else {
        ceilings.notes.push(
            "Redis and Postgres ceilings not measured: the target is a URL, not stores of ours"
                .to_owned(),
        );
        return ceilings;
    };
    if let Err(error) = stores_ceilings(&mut ceilings, scenario, config, time).await {
        ceilings.notes.push(format!("store ceilings: {error}"));
    }
    ceilings
}

/// The Redis and Postgres ceilings on servers started for them.
async fn stores_ceilings(
    ceilings: &mut Ceilings,
    scenario: &Scenario,
    config: &InfraConfig,
    time: Duration,
) -> Result<(), CeilingError> {
    let infra = Infra::start(config)
        .await
        .map_err(|error| CeilingError::Setup(format!("starting Redis and Postgres: {error}")))?;
    let skus: Arc<Vec<String>> = Arc::new(
        scenario
            .mix
            .skus
            .iter()
            .take(CEILING_SKUS_MAX)
            .cloned()
            .collect(),
    );
    match redis_ceiling(infra.redis_url(), &skus, time).await {
        Ok(ceiling) => ceilings.redis_reserve_script = Some(ceiling),
        Err(error) => ceilings.notes.push(format!("redis ceiling: {error}")),
    }
    match postgres_ceiling(infra.database_url(), &skus, time).await {
        Ok(ceiling) => ceilings.postgres_guarded_update = Some(ceiling),
        Err(error) => ceilings.notes.push(format!("postgres ceiling: {error}")),
    }
    if let Err(error) = infra.shutdown().await {
        tracing::warn!(%error, "stopping the ceilings' Redis and Postgres");
    }
    Ok(())
}

/// The reserve script by `EVALSHA` on a bare multiplexed connection, 1 unit per call.
async fn redis_ceiling(
    url: &str,
    skus: &Arc<Vec<String>>,
    time: Duration,
) -> Result<Ceiling, CeilingError> {
    let config = RedisLuaConfig::new(SHOP);
    let retention_ms = config.retention_ms;
    let engine = RedisLuaEngine::connect(url, config)
        .await
        .map_err(|error| CeilingError::Setup(format!("loading the scripts: {error}")))?;
    for sku in skus.iter() {
        engine
            .restock(sku, STOCK_PER_SKU)
            .await
            .map_err(|error| CeilingError::Setup(format!("stocking {sku}: {error}")))?;
    }
    let connection = stores::connect_redis(url)
        .await
        .map_err(|error| CeilingError::Setup(error.to_string()))?;
    let script = Script::new(ScriptName::Reserve, retention_ms);
    let keys = ShopKeys::new(SHOP);
    let (seq_key, prefix) = (Arc::new(keys.seq()), Arc::new(keys.prefix().to_owned()));
    let started = Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for caller in 0..CEILING_CALLERS {
        let (mut connection, script, skus) = (connection.clone(), script.clone(), Arc::clone(skus));
        let (seq_key, prefix) = (Arc::clone(&seq_key), Arc::clone(&prefix));
        callers.spawn(async move {
            let mut calls = 0u64;
            while started.elapsed() < time && !interrupt::interrupted() {
                let mut command = script.call(&seq_key, &prefix);
                command
                    .arg(format!("ceiling-{caller}-{calls}"))
                    .arg(RESERVE_TTL_MS)
                    .arg(1)
                    .arg(&skus[(caller + calls as usize) % skus.len()])
                    .arg(1);
                let _: Value = command.query_async(&mut connection).await?;
                calls += 1;
            }
            Ok::<u64, CeilingError>(calls)
        });
    }
    collect(callers, started).await
}

/// The guarded `UPDATE` on one pool (the engine's pool settings), 1 unit per call.
async fn postgres_ceiling(
    url: &str,
    skus: &Arc<Vec<String>>,
    time: Duration,
) -> Result<Ceiling, CeilingError> {
    let pool = stores::connect_postgres(url)
        .await
        .map_err(|error| CeilingError::Setup(error.to_string()))?;
    stockproof_engine::ledger::migrate(&pool)
        .await
        .map_err(|error| CeilingError::Setup(format!("migrating: {error}")))?;
    for sku in skus.iter() {
        sqlx::query(
            "INSERT INTO skus (sku, available, reserved, sold, total, last_seq) \
             VALUES ($1, $2, 0, 0, $2, 0)",
        )
        .bind(sku)
        .bind(STOCK_PER_SKU)
        .execute(&pool)
        .await?;
    }
    let started = Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for caller in 0..CEILING_CALLERS {
        let (pool, skus) = (pool.clone(), Arc::clone(skus));
        callers.spawn(async move {
            let mut calls = 0u64;
            while started.elapsed() < time && !interrupt::interrupted() {
                let sku = &skus[(caller + calls as usize) % skus.len()];
                sqlx::query(GUARDED_UPDATE).bind(sku).execute(&pool).await?;
                calls += 1;
            }
            Ok::<u64, CeilingError>(calls)
        });
    }
    let ceiling = collect(callers, started).await;
    pool.close().await;
    ceiling
}

async fn collect(
    mut callers: tokio::task::JoinSet<Result<u64, CeilingError>>,
    started: Instant,
) -> Result<Ceiling, CeilingError> {
    let mut calls = 0;
    while let Some(joined) = callers.join_next().await {
        calls += joined??;
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-6);
    Ok(Ceiling {
        per_s: calls as f64 / seconds,
        ops_per_s: calls as f64 / seconds,
        seconds,
        callers: CEILING_CALLERS,
        search: None,
    })
}
