//! Shared setup: real servers, an engine per test, and raw views of the shop's Redis
//! state (ledger stream, seq, key count) that the engine API does not expose.

use std::collections::BTreeMap;
use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use stockproof_engine::ledger::{LedgerEvent, replay};
use stockproof_engine::{
    CartLine, InventoryEngine, RedisLuaConfig, RedisLuaEngine, ReserveRequest, ShopKeys, SkuStock,
};
use stockproof_infra::{AofPolicy, Infra, InfraConfig, Provider};

/// Starts local Redis (+ Postgres) with the given persistence.
pub(crate) async fn start_infra(aof: AofPolicy) -> Infra {
    Infra::start(&InfraConfig {
        provider: Provider::Local,
        aof,
        ..InfraConfig::with_provider(Provider::Local)
    })
    .await
    .expect("local infra starts")
}

/// A test's servers and engine.
pub(crate) struct Setup {
    pub(crate) infra: Infra,
    pub(crate) engine: Arc<RedisLuaEngine>,
    pub(crate) redis: MultiplexedConnection,
}

pub(crate) async fn setup(shop: &str, retention_ms: i64) -> Setup {
    let infra = start_infra(AofPolicy::Off).await;
    let engine = Arc::new(connect(&infra, shop, retention_ms).await);
    let redis = raw_connection(infra.redis_url()).await;
    Setup {
        infra,
        engine,
        redis,
    }
}

pub(crate) async fn connect(infra: &Infra, shop: &str, retention_ms: i64) -> RedisLuaEngine {
    let config = RedisLuaConfig {
        retention_ms,
        ..RedisLuaConfig::new(shop)
    };
    RedisLuaEngine::connect(infra.redis_url(), config)
        .await
        .unwrap_or_else(|error| panic!("engine connects to {}: {error}", infra.redis_url()))
}

/// Replies of the raw test connection: set explicitly (redis-rs defaults to 500 ms,
/// shorter than the busy scripts some tests run).
const RAW_RESPONSE_TIMEOUT_MS: u64 = 10_000;

pub(crate) async fn raw_connection(url: &str) -> MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(
        std::time::Duration::from_millis(RAW_RESPONSE_TIMEOUT_MS),
    ));
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap_or_else(|error| panic!("raw redis connection to {url}: {error}"))
}

pub(crate) fn request(key: &str, items: &[(&str, i64)], ttl_ms: i64) -> ReserveRequest {
    ReserveRequest {
        idempotency_key: key.to_owned(),
        items: items
            .iter()
            .map(|(sku, qty)| CartLine {
                sku: (*sku).to_owned(),
                qty: *qty,
            })
            .collect(),
        ttl_ms,
    }
}

/// Every event of the shop's ledger stream, in stream order.
pub(crate) async fn ledger(redis: &mut MultiplexedConnection, keys: &ShopKeys) -> Vec<LedgerEvent> {
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(keys.ledger())
        .arg("-")
        .arg("+")
        .query_async(redis)
        .await
        .expect("XRANGE");
    entries
        .iter()
        .map(|(id, fields)| {
            LedgerEvent::from_fields(
                fields
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
            )
            .unwrap_or_else(|error| panic!("stream entry {id}: {error}"))
        })
        .collect()
}

pub(crate) async fn seq(redis: &mut MultiplexedConnection, keys: &ShopKeys) -> i64 {
    let seq: Option<i64> = redis::cmd("GET")
        .arg(keys.seq())
        .query_async(redis)
        .await
        .expect("GET seq");
    seq.unwrap_or(0)
}

pub(crate) async fn stream_len(redis: &mut MultiplexedConnection, keys: &ShopKeys) -> i64 {
    redis::cmd("XLEN")
        .arg(keys.ledger())
        .query_async(redis)
        .await
        .expect("XLEN")
}

/// Keys of the shop, the ledger stream excluded (the writer trims it).
pub(crate) async fn key_count(redis: &mut MultiplexedConnection, keys: &ShopKeys) -> usize {
    let all: Vec<String> = redis::cmd("KEYS")
        .arg(format!(
            "{}*",
            keys.prefix().replace('{', "\\{").replace('}', "\\}")
        ))
        .query_async(redis)
        .await
        .expect("KEYS");
    all.iter().filter(|key| **key != keys.ledger()).count()
}

/// What a refusal must leave untouched: every SKU's stock, the stream length and seq.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub(crate) stocks: BTreeMap<String, SkuStock>,
    pub(crate) stream_len: i64,
    pub(crate) seq: i64,
}

pub(crate) async fn fingerprint(setup: &mut Setup) -> Fingerprint {
    let keys = setup.engine.keys().clone();
    Fingerprint {
        stocks: setup.engine.snapshot().await.expect("snapshot"),
        stream_len: stream_len(&mut setup.redis, &keys).await,
        seq: seq(&mut setup.redis, &keys).await,
    }
}

/// The ledger is gap-free (seq 1..=N in stream order, N = the `seq` counter) and its
/// replay equals the engine's stock, SKU by SKU, with the invariant holding.
pub(crate) async fn assert_ledger_matches(setup: &mut Setup) {
    let keys = setup.engine.keys().clone();
    let events = ledger(&mut setup.redis, &keys).await;
    let numbers: Vec<i64> = events.iter().map(|event| event.seq).collect();
    let expected: Vec<i64> = (1..=events.len() as i64).collect();
    assert_eq!(numbers, expected, "ledger seq has gaps or is out of order");
    assert_eq!(seq(&mut setup.redis, &keys).await, events.len() as i64);
    let snapshot = setup.engine.snapshot().await.expect("snapshot");
    assert_eq!(
        replay(&events),
        snapshot,
        "ledger replay differs from Redis"
    );
    for (sku, stock) in &snapshot {
        assert!(
            stock.violations().is_empty(),
            "sku {sku}: {:?}",
            stock.violations()
        );
    }
}

/// A stock in the order the contract's reads show it.
pub(crate) fn stock(available: i64, reserved: i64, sold: i64, total: i64) -> SkuStock {
    SkuStock {
        available,
        reserved,
        sold,
        total,
    }
}
