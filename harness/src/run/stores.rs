//! Read-only access to the in-process engine's stores after the load: how many
//! reservations are still Held and when the latest is due (for quiesce), whether the
//! ledger in Postgres has caught up with Redis's `seq`, and the white-box snapshot
//! (Redis stocks, reservations and `seq`; Postgres projection and ledger) that C2 and
//! C5 judge. Every call is bounded by a timeout.
//!
//! A Postgres-only strategy has no Redis: its clock, Held reservations and stock are
//! read from Postgres, its ledger has no writer to wait for, and its snapshot says
//! `postgres_only` (no Redis stock or seq is made up for it).
//!
//! Not here: deciding how long to wait (`super::quiesce`), judging (`crate::checks`).

use std::collections::BTreeMap;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use sqlx::PgPool;
use stockproof_engine::ledger::{EventKind, LedgerEvent};
use stockproof_engine::strategy::Strategy;
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
    /// `None` for a Postgres-only strategy.
    redis: Option<MultiplexedConnection>,
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

/// The stores of an in-process engine, as its strategy has them, with no connection
/// made yet: a Redis client (`None` for a Postgres-only strategy) and a lazy Postgres
/// pool of `connections_max`, each acquire bounded by `acquire_timeout`. What the
/// white-box reads ([`Stores::connect`]) and the resource sampler open.
#[derive(Debug)]
pub struct StoreHandles {
    pub redis: Option<redis::Client>,
    pub postgres: PgPool,
}

impl StoreHandles {
    pub fn open(
        (redis_url, database_url): (&str, &str),
        strategy: Strategy,
        connections_max: u32,
        acquire_timeout: Duration,
    ) -> Result<StoreHandles, StoreError> {
        let redis = match strategy.uses_redis() {
            true => Some(redis::Client::open(redis_url)?),
            false => None,
        };
        let postgres = sqlx::postgres::PgPoolOptions::new()
            .max_connections(connections_max)
            .acquire_timeout(acquire_timeout)
            .connect_lazy(database_url)?;
        Ok(StoreHandles { redis, postgres })
    }
}

impl Stores {
    pub async fn connect(
        redis_url: &str,
        database_url: &str,
        shop: &str,
        strategy: Strategy,
    ) -> Result<Stores, StoreError> {
        let StoreHandles { redis, postgres } = StoreHandles::open(
            (redis_url, database_url),
            strategy,
            SNAPSHOT_POOL_CONNECTIONS_MAX,
            STORE_CALL_TIMEOUT,
        )?;
        let redis = match redis {
            Some(client) => {
                Some(bounded("redis connect", client.get_multiplexed_async_connection()).await?)
            }
            None => None,
        };
        Ok(Stores {
            redis,
            postgres,
            keys: ShopKeys::new(shop),
        })
    }

    /// Whether the engine keeps Redis (false: a Postgres-only strategy).
    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// The engine's clock in ms since the epoch: Redis's `TIME`, or Postgres's clock
    /// for a Postgres-only strategy.
    pub async fn time_ms(&self) -> Result<i64, StoreError> {
        let Some(mut redis) = self.redis.clone() else {
            let (now_ms,): (i64,) = bounded(
                "postgres clock",
                sqlx::query_as(
                    "SELECT floor(extract(epoch from clock_timestamp()) * 1000)::bigint",
                )
                .fetch_one(&self.postgres),
            )
            .await?;
            return Ok(now_ms);
        };
        let (seconds, micros): (i64, i64) =
            bounded("redis TIME", redis::cmd("TIME").query_async(&mut redis)).await?;
        Ok(seconds * 1_000 + micros / 1_000)
    }

    /// Held reservations and the latest deadline among them (ms, the engine's clock).
    pub async fn held(&self) -> Result<(u64, Option<i64>), StoreError> {
        let Some(mut redis) = self.redis.clone() else {
            let (count, latest): (i64, Option<i64>) = bounded(
                "postgres held",
                sqlx::query_as(
                    "SELECT count(*), max(deadline_ms) FROM reservations WHERE state = 'held'",
                )
                .fetch_one(&self.postgres),
            )
            .await?;
            return Ok((u64::try_from(count).unwrap_or(0), latest));
        };
        let deadlines = self.keys.deadlines();
        let count: u64 = bounded("redis ZCARD", redis.zcard(&deadlines)).await?;
        let latest: Vec<(String, f64)> =
            bounded("redis ZRANGE", redis.zrange_withscores(&deadlines, -1, -1)).await?;
        Ok((count, latest.first().map(|(_, deadline)| *deadline as i64)))
    }

    /// Redis's `seq` (events appended) and the highest seq in Postgres's ledger.
    pub async fn ledger_positions(&self) -> Result<(i64, i64), StoreError> {
        let mut redis = self.redis()?;
        let redis_seq: Option<i64> = bounded("redis GET seq", redis.get(self.keys.seq())).await?;
        let postgres_seq: (i64,) = bounded(
            "postgres max(seq)",
            sqlx::query_as("SELECT coalesce(max(seq), 0)::bigint FROM ledger")
                .fetch_one(&self.postgres),
        )
        .await?;
        Ok((redis_seq.unwrap_or(0), postgres_seq.0))
    }

    fn redis(&self) -> Result<MultiplexedConnection, StoreError> {
        self.redis.clone().ok_or(StoreError::Format {
            what: "redis",
            reason: "this strategy keeps no Redis".to_owned(),
        })
    }

    /// The white-box snapshot of the shop.
    pub async fn snapshot(&self) -> Result<WhiteBoxSnapshot, StoreError> {
        if self.redis.is_none() {
            return self.postgres_only_snapshot().await;
        }
        let taken_at_ms = self.time_ms().await?;
        let mut redis = self.redis()?;
        let redis_seq: Option<i64> = bounded("redis GET seq", redis.get(self.keys.seq())).await?;
        Ok(WhiteBoxSnapshot {
            format_version: SNAPSHOT_FORMAT_VERSION,
            taken_at_ms,
            redis_stocks: self.redis_stocks().await?,
            postgres_stocks: self.postgres_stocks().await?,
            ledger: self.ledger().await?,
            redis_seq: redis_seq.unwrap_or(0),
            reservations: self.reservations().await?,
            postgres_only: false,
        })
    }

    /// A Postgres-only strategy's stores: its `skus` rows, ledger and reservations.
    async fn postgres_only_snapshot(&self) -> Result<WhiteBoxSnapshot, StoreError> {
        Ok(WhiteBoxSnapshot {
            format_version: SNAPSHOT_FORMAT_VERSION,
            taken_at_ms: self.time_ms().await?,
            redis_stocks: BTreeMap::new(),
            postgres_stocks: self.postgres_stocks().await?,
            ledger: self.ledger().await?,
            redis_seq: 0,
            reservations: self.postgres_reservations().await?,
            postgres_only: true,
        })
    }

    /// Every row of `reservations` with its items (a Postgres-only strategy's own).
    async fn postgres_reservations(&self) -> Result<Vec<Reservation>, StoreError> {
        type Row = (String, String, String, i64, String, i64);
        let rows: Vec<Row> = bounded(
            "postgres reservations",
            sqlx::query_as(
                "SELECT r.id, r.idempotency_key, r.state, r.deadline_ms, i.sku, i.qty
                   FROM reservations r JOIN reservation_items i ON i.reservation_id = r.id
                  ORDER BY r.id, i.sku",
            )
            .fetch_all(&self.postgres),
        )
        .await?;
        let mut reservations: Vec<Reservation> = Vec::new();
        for (id, key, state, deadline_ms, sku, qty) in rows {
            let line = CartLine { sku, qty };
            match reservations.last_mut() {
                Some(last) if last.id.0 == id => last.items.push(line),
                _ => reservations.push(Reservation {
                    state: state.parse::<ReservationState>().map_err(|reason| {
                        StoreError::Format {
                            what: "postgres reservation",
                            reason: format!("{id}: {reason}"),
                        }
                    })?,
                    id: ReservationId(id),
                    idempotency_key: key,
                    items: vec![line],
                    deadline_ms,
                }),
            }
        }
        Ok(reservations)
    }

    async fn redis_stocks(&self) -> Result<BTreeMap<String, SkuStock>, StoreError> {
        let mut redis = self.redis()?;
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
        let mut redis = self.redis()?;
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
