//! Test support for the ledger, reconciler and recovery tests: real Redis + Postgres
//! from the local provider, migrated, and [`Shop`], which writes Redis state and
//! appends ledger events exactly as the engine's scripts do (same keys, same stream
//! fields, `INCR seq` and XADD in one script), so these tests need no engine.

use std::collections::BTreeMap;

use redis::aio::MultiplexedConnection;
use sqlx::PgPool;
use stockproof_engine::ShopKeys;
use stockproof_engine::ledger::{self, LedgerWriter, WriterConfig, WriterStats};
use stockproof_engine::stores;
use stockproof_infra::{AofPolicy, Infra, InfraConfig, Provider};

/// Bound on every drain wait in these tests: the writer needs milliseconds.
pub(crate) const DRAIN_WAIT_MS: u64 = 15_000;

/// Applies one event to the Redis state and appends it, like the engine's scripts.
/// KEYS[1] seq; ARGV: prefix, kind, sku, qty, reservation id, key, deadline_ms.
const EMIT_LUA: &str = r#"
local p, kind, sku, qty, resv = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local h = p .. 'sku:' .. sku
local rk = p .. 'resv:' .. resv
local key, deadline = '', '0'
if kind == 'restock' or kind == 'adjust' then
  if redis.call('EXISTS', h) == 0 then
    redis.call('HSET', h, 'available', 0, 'reserved', 0, 'sold', 0, 'total', 0)
  end
  redis.call('SADD', p .. 'skus', sku)
  redis.call('HINCRBY', h, 'available', qty)
  redis.call('HINCRBY', h, 'total', qty)
elseif kind == 'reserve' then
  key, deadline = ARGV[6], ARGV[7]
  redis.call('HINCRBY', h, 'available', -qty)
  redis.call('HINCRBY', h, 'reserved', qty)
  if redis.call('EXISTS', rk) == 0 then
    redis.call('HSET', rk, 'key', key, 'state', 'held', 'deadline', deadline, 'items', '',
      'created', string.format('%d', now))
    redis.call('ZADD', p .. 'deadlines', deadline, resv)
    redis.call('SET', p .. 'idem:' .. key, resv, 'PX', tonumber(deadline) - now + 86400000)
  end
  local items = redis.call('HGET', rk, 'items')
  if items ~= '' then items = items .. ' ' end
  redis.call('HSET', rk, 'items', items .. sku .. ' ' .. ARGV[4])
else
  local back_to = 'available'
  local state = kind .. 'd'
  if kind == 'confirm' then back_to, state = 'sold', 'confirmed' end
  if kind == 'expire' then state = 'expired' end
  redis.call('HINCRBY', h, 'reserved', -qty)
  redis.call('HINCRBY', h, back_to, qty)
  redis.call('HSET', rk, 'state', state, 'ended', string.format('%d', now))
  redis.call('PEXPIRE', rk, 86400000)
  local idem = p .. 'idem:' .. redis.call('HGET', rk, 'key')
  if redis.call('GET', idem) == resv then redis.call('PEXPIRE', idem, 86400000) end
  redis.call('ZREM', p .. 'deadlines', resv)
end
local seq = redis.call('INCR', KEYS[1])
redis.call('XADD', p .. 'ledger', '*', 'seq', seq, 'kind', kind, 'sku', sku, 'qty', ARGV[4],
  'resv', resv, 'key', key, 'deadline_ms', deadline, 'at_ms', string.format('%d', now))
return seq
"#;

/// Real servers, connections and a migrated database for one test.
pub(crate) struct Stores {
    pub(crate) infra: Infra,
    pub(crate) redis: MultiplexedConnection,
    pub(crate) pool: PgPool,
    pub(crate) keys: ShopKeys,
}

impl Stores {
    pub(crate) async fn start(aof: AofPolicy) -> Stores {
        // The writer's warnings go to the test's output, shown when a test fails.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn,stockproof_engine=info")
            .with_test_writer()
            .try_init();
        let config = InfraConfig {
            provider: Provider::Local,
            aof,
            ..InfraConfig::with_provider(Provider::Local)
        };
        let infra = Infra::start(&config)
            .await
            .expect("local redis + postgres start");
        let redis = stores::connect_redis(infra.redis_url())
            .await
            .expect("redis connects");
        let pool = stores::connect_postgres(infra.database_url())
            .await
            .expect("postgres connects");
        ledger::migrate(&pool).await.expect("migrations run");
        Stores {
            infra,
            redis,
            pool,
            keys: ShopKeys::new("test"),
        }
    }

    pub(crate) fn shop(&self) -> Shop {
        Shop {
            redis: self.redis.clone(),
            keys: self.keys.clone(),
        }
    }

    pub(crate) fn writer(&self, config: WriterConfig) -> LedgerWriter {
        LedgerWriter::spawn(
            self.infra.redis_url(),
            self.pool.clone(),
            self.keys.clone(),
            config,
        )
        .expect("the writer starts")
    }

    /// Starts a writer, waits until the stream is written, stops it cleanly.
    pub(crate) async fn drain(&self) {
        self.drain_with(self.writer(WriterConfig::new("drainer")))
            .await;
    }

    /// Waits until `writer` has written the whole stream, then stops it cleanly and
    /// returns what it did.
    pub(crate) async fn drain_with(&self, writer: LedgerWriter) -> WriterStats {
        let mut redis = self.redis.clone();
        ledger::wait_drained(&mut redis, &self.keys, DRAIN_WAIT_MS)
            .await
            .unwrap_or_else(|error| panic!("drain at {}: {error}", self.infra.redis_url()));
        writer.shutdown().await.expect("the writer stops cleanly")
    }

    pub(crate) async fn ledger_seqs(&self) -> Vec<i64> {
        sqlx::query_scalar("SELECT seq FROM ledger ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .expect("ledger reads")
    }

    /// The `skus` projection.
    pub(crate) async fn projection(&self) -> BTreeMap<String, [i64; 4]> {
        let rows: Vec<(String, i64, i64, i64, i64)> =
            sqlx::query_as("SELECT sku, available, reserved, sold, total FROM skus")
                .fetch_all(&self.pool)
                .await
                .expect("skus read");
        rows.into_iter()
            .map(|(sku, a, r, s, t)| (sku, [a, r, s, t]))
            .collect()
    }

    /// Every SKU hash in Redis.
    pub(crate) async fn redis_stocks(&self) -> BTreeMap<String, [i64; 4]> {
        let mut redis = self.redis.clone();
        let skus: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.sku_index())
            .query_async(&mut redis)
            .await
            .expect("SMEMBERS");
        let mut stocks = BTreeMap::new();
        for sku in skus {
            let fields: (i64, i64, i64, i64) = redis::cmd("HMGET")
                .arg(self.keys.sku(&sku))
                .arg(&["available", "reserved", "sold", "total"])
                .query_async(&mut redis)
                .await
                .expect("HMGET");
            stocks.insert(sku, [fields.0, fields.1, fields.2, fields.3]);
        }
        stocks
    }

    pub(crate) async fn redis_command<T: redis::FromRedisValue>(
        &self,
        command: &mut redis::Cmd,
    ) -> T {
        let mut redis = self.redis.clone();
        command
            .query_async(&mut redis)
            .await
            .expect("redis command")
    }
}

/// Writes events the way the scripts do (see the module doc).
#[derive(Clone)]
pub(crate) struct Shop {
    redis: MultiplexedConnection,
    keys: ShopKeys,
}

impl Shop {
    async fn emit(
        &mut self,
        kind: &str,
        sku: &str,
        qty: i64,
        resv: &str,
        key: &str,
        deadline_ms: i64,
    ) -> i64 {
        redis::Script::new(EMIT_LUA)
            .key(self.keys.seq())
            .arg(self.keys.prefix())
            .arg(kind)
            .arg(sku)
            .arg(qty)
            .arg(resv)
            .arg(key)
            .arg(deadline_ms)
            .invoke_async(&mut self.redis)
            .await
            .unwrap_or_else(|error| panic!("emit {kind} {sku} {qty}: {error}"))
    }

    pub(crate) async fn restock(&mut self, sku: &str, qty: i64) -> i64 {
        self.emit("restock", sku, qty, "", "", 0).await
    }

    /// Holds `items` (sorted by SKU) under `key` for `ttl_ms`; returns the id `r<seq>`.
    pub(crate) async fn reserve(
        &mut self,
        key: &str,
        items: &[(&str, i64)],
        ttl_ms: i64,
    ) -> String {
        let seq: i64 = redis::cmd("GET")
            .arg(self.keys.seq())
            .query_async::<Option<i64>>(&mut self.redis)
            .await
            .expect("GET seq")
            .unwrap_or(0);
        let id = format!("r{}", seq + 1);
        let (now_s, _): (i64, i64) = redis::cmd("TIME")
            .query_async(&mut self.redis)
            .await
            .expect("TIME");
        let deadline_ms = now_s * 1_000 + ttl_ms;
        for (sku, qty) in items {
            self.emit("reserve", sku, *qty, &id, key, deadline_ms).await;
        }
        id
    }

    /// Ends a Held reservation: `kind` is confirm, release or expire.
    pub(crate) async fn end(&mut self, kind: &str, id: &str, items: &[(&str, i64)]) {
        for (sku, qty) in items {
            self.emit(kind, sku, *qty, id, "", 0).await;
        }
    }

    /// A mixed history over `skus` SKUs: restocks, then `carts` two-line reservations,
    /// of which every third is confirmed, every third released, the rest left Held.
    /// Returns the ids left Held.
    pub(crate) async fn mixed_history(&mut self, skus: usize, carts: usize) -> Vec<String> {
        let names: Vec<String> = (0..skus).map(|index| format!("sku-{index:03}")).collect();
        for name in &names {
            self.restock(name, 1_000).await;
        }
        let mut held = Vec::new();
        for cart in 0..carts {
            let (first, second) = (&names[cart % skus], &names[(cart + 1) % skus]);
            let mut items = vec![(first.as_str(), 2), (second.as_str(), 1)];
            items.sort();
            items.dedup_by(|a, b| a.0 == b.0);
            let id = self.reserve(&format!("cart-{cart}"), &items, 600_000).await;
            match cart % 3 {
                0 => self.end("confirm", &id, &items).await,
                1 => self.end("release", &id, &items).await,
                _ => held.push(id),
            }
        }
        held
    }
}
