//! Read-only access to the in-process engine's stores after the load: how many
//! reservations are still Held and when the latest is due (for quiesce), whether the
//! ledger in Postgres has caught up with Redis's `seq`, and the white-box snapshot
//! (Redis stocks, reservations and `seq`; Postgres projection and ledger) that C2 and
//! C5 judge. Every call is bounded by a timeout.
//!
//! Not here: deciding how long to wait (`super::quiesce`), judging (`crate::checks`).

use std::collections::BTreeMap;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use sqlx::PgPool;
use stockproof_engine::ledger::{EventKind, LedgerEvent};
use stockproof_engine::{
    CartLine, Reservation, ReservationId, ReservationState, ShopKeys, SkuStock,
};

use crate::checks::{SNAPSHOT_FORMAT_VERSION, WhiteBoxSnapshot};

/// Bound on one Redis or Postgres call; a snapshot query of a big ledger reads a few
/// hundred thousand rows, which takes well under this.
pub const STORE_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Keys per SCAN step and per pipelined HGETALL batch of reservations.
pub const SCAN_BATCH_KEYS: usize = 1_000;
/// Postgres connections for the snapshot: one query at a time.
const SNAPSHOT_POOL_CONNECTIONS_MAX: u32 = 2;

/// A store that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("{what}: no answer within {} s", STORE_CALL_TIMEOUT.as_secs())]
    Timeout { what: &'static str },
    #[error("{what}: {reason}")]
    Format { what: &'static str, reason: String },
}

/// Connections to one shop's stores.
#[derive(Debug)]
pub struct Stores {
    redis: MultiplexedConnection,
    postgres: PgPool,
    keys: ShopKeys,
}

async fn bounded<T, E: Into<StoreError>>(
    what: &'static str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(STORE_CALL_TIMEOUT, call).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(StoreError::Timeout { what }),
    }
}

impl Stores {
    pub async fn connect(
        redis_url: &str,
        database_url: &str,
        shop: &str,
    ) -> Result<Stores, StoreError> {
        let client = redis::Client::open(redis_url)?;
        let redis = bounded("redis connect", client.get_multiplexed_async_connection()).await?;
        let postgres = sqlx::postgres::PgPoolOptions::new()
            .max_connections(SNAPSHOT_POOL_CONNECTIONS_MAX)
            .acquire_timeout(STORE_CALL_TIMEOUT)
            .connect_lazy(database_url)?;
        Ok(Stores {
            redis,
            postgres,
            keys: ShopKeys::new(shop),
        })
    }

    /// Redis server time in ms since the epoch.
    pub async fn redis_time_ms(&self) -> Result<i64, StoreError> {
        let mut redis = self.redis.clone();
        let (seconds, micros): (i64, i64) =
            bounded("redis TIME", redis::cmd("TIME").query_async(&mut redis)).await?;
        Ok(seconds * 1_000 + micros / 1_000)
    }

    /// Held reservations and the latest deadline among them (ms, Redis time).
    pub async fn held(&self) -> Result<(u64, Option<i64>), StoreError> {
        let mut redis = self.redis.clone();
        let deadlines = self.keys.deadlines();
        let count: u64 = bounded("redis ZCARD", redis.zcard(&deadlines)).await?;
        let latest: Vec<(String, f64)> =
            bounded("redis ZRANGE", redis.zrange_withscores(&deadlines, -1, -1)).await?;
        Ok((count, latest.first().map(|(_, deadline)| *deadline as i64)))
    }

    /// Redis's `seq` (events appended) and the highest seq in Postgres's ledger.
    pub async fn ledger_positions(&self) -> Result<(i64, i64), StoreError> {
        let mut redis = self.redis.clone();
        let redis_seq: Option<i64> = bounded("redis GET seq", redis.get(self.keys.seq())).await?;
        let postgres_seq: (i64,) = bounded(
            "postgres max(seq)",
            sqlx::query_as("SELECT coalesce(max(seq), 0)::bigint FROM ledger")
                .fetch_one(&self.postgres),
        )
        .await?;
        Ok((redis_seq.unwrap_or(0), postgres_seq.0))
    }

    /// The white-box snapshot of the shop.
    pub async fn snapshot(&self) -> Result<WhiteBoxSnapshot, StoreError> {
        let taken_at_ms = self.redis_time_ms().await?;
        let mut redis = self.redis.clone();
        let redis_seq: Option<i64> = bounded("redis GET seq", redis.get(self.keys.seq())).await?;
        Ok(WhiteBoxSnapshot {
            format_version: SNAPSHOT_FORMAT_VERSION,
            taken_at_ms,
            redis_stocks: self.redis_stocks().await?,
            postgres_stocks: self.postgres_stocks().await?,
            ledger: self.ledger().await?,
            redis_seq: redis_seq.unwrap_or(0),
            reservations: self.reservations().await?,
        })
    }

    async fn redis_stocks(&self) -> Result<BTreeMap<String, SkuStock>, StoreError> {
        let mut redis = self.redis.clone();
        let skus: Vec<String> =
            bounded("redis SMEMBERS skus", redis.smembers(self.keys.sku_index())).await?;
        let mut stocks = BTreeMap::new();
        for batch in skus.chunks(SCAN_BATCH_KEYS) {
            let mut pipe = redis::pipe();
            for sku in batch {
                pipe.cmd("HMGET").arg(self.keys.sku(sku)).arg(&[
                    "available",
                    "reserved",
                    "sold",
                    "total",
                ]);
            }
            let rows: Vec<[Option<i64>; 4]> =
                bounded("redis HMGET sku", pipe.query_async(&mut redis)).await?;
            for (sku, row) in batch.iter().zip(rows) {
                let [available, reserved, sold, total] = row.map(Option::unwrap_or_default);
                stocks.insert(
                    sku.clone(),
                    SkuStock {
                        available,
                        reserved,
                        sold,
                        total,
                    },
                );
            }
        }
        Ok(stocks)
    }

    async fn reservations(&self) -> Result<Vec<Reservation>, StoreError> {
        let mut redis = self.redis.clone();
        let pattern = format!("{}resv:*", self.keys.prefix());
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = bounded(
                "redis SCAN resv",
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_BATCH_KEYS)
                    .query_async(&mut redis),
            )
            .await?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        let prefix_len = pattern.len() - 1;
        let mut reservations = Vec::with_capacity(keys.len());
        for batch in keys.chunks(SCAN_BATCH_KEYS) {
            let mut pipe = redis::pipe();
            for key in batch {
                pipe.cmd("HGETALL").arg(key);
            }
            let rows: Vec<BTreeMap<String, String>> =
                bounded("redis HGETALL resv", pipe.query_async(&mut redis)).await?;
            for (key, fields) in batch.iter().zip(rows) {
                // A key that expired between SCAN and HGETALL reads as empty.
                if fields.is_empty() {
                    continue;
                }
                reservations.push(parse_reservation(&key[prefix_len..], &fields)?);
            }
        }
        Ok(reservations)
    }

    async fn postgres_stocks(&self) -> Result<BTreeMap<String, SkuStock>, StoreError> {
        let rows: Vec<(String, i64, i64, i64, i64)> = bounded(
            "postgres skus",
            sqlx::query_as("SELECT sku, available, reserved, sold, total FROM skus")
                .fetch_all(&self.postgres),
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|(sku, available, reserved, sold, total)| {
                (
                    sku,
                    SkuStock {
                        available,
                        reserved,
                        sold,
                        total,
                    },
                )
            })
            .collect())
    }

    async fn ledger(&self) -> Result<Vec<LedgerEvent>, StoreError> {
        type Row = (i64, String, String, i64, String, String, i64, i64);
        let rows: Vec<Row> = bounded(
            "postgres ledger",
            sqlx::query_as(
                "SELECT seq, kind, sku, qty, reservation_id, idempotency_key, deadline_ms, at_ms \
                 FROM ledger ORDER BY seq",
            )
            .fetch_all(&self.postgres),
        )
        .await?;
        rows.into_iter()
            .map(
                |(seq, kind, sku, qty, reservation_id, idempotency_key, deadline_ms, at_ms)| {
                    let kind = kind
                        .parse::<EventKind>()
                        .map_err(|reason| StoreError::Format {
                            what: "postgres ledger",
                            reason: format!("seq {seq}: {reason}"),
                        })?;
                    Ok(LedgerEvent {
                        seq,
                        kind,
                        sku,
                        qty,
                        reservation_id,
                        idempotency_key,
                        deadline_ms,
                        at_ms,
                    })
                },
            )
            .collect()
    }
}

/// A `resv:<id>` hash (DESIGN §2 / `engine/src/keys.rs`): `key state deadline items`.
fn parse_reservation(
    id: &str,
    fields: &BTreeMap<String, String>,
) -> Result<Reservation, StoreError> {
    let bad = |reason: String| StoreError::Format {
        what: "redis reservation",
        reason: format!("resv:{id}: {reason}"),
    };
    let field = |name: &str| {
        fields
            .get(name)
            .ok_or_else(|| bad(format!("field `{name}` missing")))
    };
    let state = field("state")?.parse::<ReservationState>().map_err(bad)?;
    let deadline_ms = field("deadline")?
        .parse::<i64>()
        .map_err(|error| bad(format!("deadline: {error}")))?;
    let words: Vec<&str> = field("items")?.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err(bad("items: odd number of words".to_owned()));
    }
    let items = words
        .chunks(2)
        .map(|pair| {
            let qty = pair[1]
                .parse::<i64>()
                .map_err(|error| bad(format!("items: {error}")))?;
            Ok(CartLine {
                sku: pair[0].to_owned(),
                qty,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Reservation {
        id: ReservationId(id.to_owned()),
        idempotency_key: field("key")?.clone(),
        state,
        items,
        deadline_ms,
    })
}
