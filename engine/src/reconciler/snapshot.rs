//! What the reconciler reads: the Postgres side in one REPEATABLE READ transaction (the
//! `skus` projection, Held reservations with items, the ledger folded from zero, page
//! by page) and the Redis side in one MULTI/EXEC (seq, SKU hashes, Held reservations,
//! the stream). Reads only; the comparison lives in `reconciler.rs`.

use std::collections::{BTreeMap, BTreeSet};

use redis::Value;
use redis::aio::MultiplexedConnection;
use sqlx::{PgPool, Row};

use crate::keys::ShopKeys;
use crate::ledger::stream_ops::parse_entries;
use crate::ledger::{LedgerError, LedgerEvent, LedgerFold, ledger_page};
use crate::reservation::CartLine;
use stockproof_model::SkuStock;

/// Ledger rows per page while folding: bounds memory per round trip.
pub const LEDGER_PAGE_EVENTS_MAX: i64 = 10_000;
/// Stream entries read in one snapshot. The writer trims behind itself, so the stream
/// holds only its lag; past this bound the snapshot says so instead of growing.
pub const STREAM_TAIL_EVENTS_MAX: usize = 500_000;

/// A Held reservation as a store shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldView {
    pub idempotency_key: String,
    pub deadline_ms: i64,
    /// Sorted by SKU.
    pub items: Vec<CartLine>,
}

/// The Postgres side, read in one transaction.
#[derive(Debug, Clone)]
pub struct PostgresSnapshot {
    pub projection: BTreeMap<String, SkuStock>,
    pub held: BTreeMap<String, HeldView>,
    /// The ledger folded from seq 1 (Held reservations only).
    pub ledger: LedgerFold,
}

/// The Redis side, read in one MULTI/EXEC.
#[derive(Debug, Clone)]
pub struct RedisSnapshot {
    pub seq: i64,
    /// SKUs in the `skus` set, with their hash (`None`: in the set, no hash).
    pub stocks: BTreeMap<String, Option<SkuStock>>,
    /// Members of the deadlines ZSET, with their score and their hash fields.
    pub held: BTreeMap<String, RedisHeld>,
    /// Every event still in the stream, in stream order.
    pub stream: Vec<LedgerEvent>,
    /// Whether the stream held more than [`STREAM_TAIL_EVENTS_MAX`] entries.
    pub stream_truncated: bool,
}

/// A member of the deadlines ZSET and what its hash says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisHeld {
    pub zset_deadline_ms: i64,
    /// `state` field (`None`: no hash).
    pub state: Option<String>,
    pub view: HeldView,
}

pub(crate) async fn read_postgres(pool: &PgPool) -> Result<PostgresSnapshot, LedgerError> {
    let mut transaction = pool
        .begin()
        .await
        .map_err(|error| LedgerError::postgres("BEGIN", error))?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *transaction)
        .await
        .map_err(|error| LedgerError::postgres("SET TRANSACTION", error))?;
    let projection = sqlx::query("SELECT sku, available, reserved, sold, total FROM skus")
        .fetch_all(&mut *transaction)
        .await
        .map_err(|error| LedgerError::postgres("SELECT skus", error))?
        .iter()
        .map(|row| Ok((row.try_get("sku")?, stock_from_row(row)?)))
        .collect::<Result<BTreeMap<String, SkuStock>, sqlx::Error>>()
        .map_err(|error| LedgerError::postgres("reading skus", error))?;
    let held = read_postgres_held(&mut transaction).await?;
    let mut ledger = LedgerFold::held_only();
    loop {
        let page = ledger_page(&mut transaction, ledger.max_seq, LEDGER_PAGE_EVENTS_MAX).await?;
        for event in &page {
            ledger.apply(event);
        }
        if (page.len() as i64) < LEDGER_PAGE_EVENTS_MAX {
            break;
        }
    }
    transaction
        .commit()
        .await
        .map_err(|error| LedgerError::postgres("COMMIT", error))?;
    Ok(PostgresSnapshot {
        projection,
        held,
        ledger: ledger.finish(),
    })
}

fn stock_from_row(row: &sqlx::postgres::PgRow) -> Result<SkuStock, sqlx::Error> {
    Ok(SkuStock {
        available: row.try_get("available")?,
        reserved: row.try_get("reserved")?,
        sold: row.try_get("sold")?,
        total: row.try_get("total")?,
    })
}

async fn read_postgres_held(
    connection: &mut sqlx::PgConnection,
) -> Result<BTreeMap<String, HeldView>, LedgerError> {
    let rows = sqlx::query(
        "SELECT r.id, r.idempotency_key, r.deadline_ms, i.sku, i.qty
         FROM reservations r JOIN reservation_items i ON i.reservation_id = r.id
         WHERE r.state = 'held' ORDER BY r.id, i.sku",
    )
    .fetch_all(connection)
    .await
    .map_err(|error| LedgerError::postgres("SELECT held reservations", error))?;
    let mut held: BTreeMap<String, HeldView> = BTreeMap::new();
    for row in &rows {
        let read = |row: &sqlx::postgres::PgRow| -> Result<_, sqlx::Error> {
            Ok((
                row.try_get::<String, _>("id")?,
                row.try_get::<String, _>("idempotency_key")?,
                row.try_get::<i64, _>("deadline_ms")?,
                row.try_get::<String, _>("sku")?,
                row.try_get::<i64, _>("qty")?,
            ))
        };
        let (id, key, deadline_ms, sku, qty) =
            read(row).map_err(|error| LedgerError::postgres("reading held reservations", error))?;
        held.entry(id)
            .or_insert_with(|| HeldView {
                idempotency_key: key,
                deadline_ms,
                items: Vec::new(),
            })
            .items
            .push(CartLine { sku, qty });
    }
    Ok(held)
}

/// Reads the Redis side atomically. The SKU and Held sets are read first to know which
/// hashes to read; if they changed before the MULTI ran, the caller retries.
pub(crate) async fn read_redis(
    redis: &mut MultiplexedConnection,
    keys: &ShopKeys,
) -> Result<Option<RedisSnapshot>, LedgerError> {
    let (skus, held_ids): (BTreeSet<String>, Vec<String>) = redis::pipe()
        .cmd("SMEMBERS")
        .arg(keys.sku_index())
        .cmd("ZRANGE")
        .arg(keys.deadlines())
        .arg(0)
        .arg(-1)
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("SMEMBERS + ZRANGE", error))?;
    let mut pipe = redis::pipe();
    pipe.atomic();
    pipe.cmd("GET").arg(keys.seq());
    pipe.cmd("SMEMBERS").arg(keys.sku_index());
    pipe.cmd("ZRANGE")
        .arg(keys.deadlines())
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES");
    pipe.cmd("XRANGE")
        .arg(keys.ledger())
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(STREAM_TAIL_EVENTS_MAX + 1);
    for sku in &skus {
        pipe.cmd("HMGET")
            .arg(keys.sku(sku))
            .arg(&["available", "reserved", "sold", "total"]);
    }
    for id in &held_ids {
        pipe.cmd("HMGET")
            .arg(keys.reservation(id))
            .arg(&["key", "state", "deadline", "items"]);
    }
    let replies: Vec<Value> = pipe
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("MULTI snapshot", error))?;
    parse_redis_snapshot(replies, &skus, &held_ids)
}

fn parse_redis_snapshot(
    replies: Vec<Value>,
    skus: &BTreeSet<String>,
    held_ids: &[String],
) -> Result<Option<RedisSnapshot>, LedgerError> {
    let mut replies = replies.into_iter();
    let mut next = || replies.next().unwrap_or(Value::Nil);
    let seq = optional_integer(&next(), "seq")?.unwrap_or(0);
    let skus_now: BTreeSet<String> = redis::from_redis_value(next())
        .map_err(|error| LedgerError::protocol(format!("SMEMBERS: {error}")))?;
    let deadlines: Vec<(String, f64)> = redis::from_redis_value(next())
        .map_err(|error| LedgerError::protocol(format!("ZRANGE: {error}")))?;
    let held_now: Vec<&String> = deadlines.iter().map(|(id, _)| id).collect();
    if &skus_now != skus || held_now != held_ids.iter().collect::<Vec<_>>() {
        return Ok(None);
    }
    let mut stream: Vec<LedgerEvent> = Vec::new();
    for entry in parse_entries(next())? {
        let event = entry
            .event
            .ok_or_else(|| LedgerError::bad_entry(entry.id, "entry without fields"))?;
        stream.push(event);
    }
    let stream_truncated = stream.len() > STREAM_TAIL_EVENTS_MAX;
    stream.truncate(STREAM_TAIL_EVENTS_MAX);
    let mut stocks = BTreeMap::new();
    for sku in skus {
        let fields: Vec<Option<String>> = redis::from_redis_value(next())
            .map_err(|error| LedgerError::protocol(format!("HMGET sku {sku}: {error}")))?;
        stocks.insert(sku.clone(), stock_from_fields(sku, &fields)?);
    }
    let mut held = BTreeMap::new();
    for (id, score) in &deadlines {
        let fields: Vec<Option<String>> = redis::from_redis_value(next())
            .map_err(|error| LedgerError::protocol(format!("HMGET resv {id}: {error}")))?;
        held.insert(id.clone(), held_from_fields(id, *score, &fields)?);
    }
    Ok(Some(RedisSnapshot {
        seq,
        stocks,
        held,
        stream,
        stream_truncated,
    }))
}

fn optional_integer(value: &Value, what: &str) -> Result<Option<i64>, LedgerError> {
    redis::from_redis_value_ref::<Option<i64>>(value)
        .map_err(|error| LedgerError::protocol(format!("{what}: {error}")))
}

fn stock_from_fields(
    sku: &str,
    fields: &[Option<String>],
) -> Result<Option<SkuStock>, LedgerError> {
    if fields.iter().all(Option::is_none) {
        return Ok(None);
    }
    let field = |index: usize| -> Result<i64, LedgerError> {
        let text = fields.get(index).cloned().flatten().unwrap_or_default();
        text.parse().map_err(|_| {
            LedgerError::protocol(format!(
                "sku `{sku}` field {index}: `{text}` is not an integer"
            ))
        })
    };
    Ok(Some(SkuStock {
        available: field(0)?,
        reserved: field(1)?,
        sold: field(2)?,
        total: field(3)?,
    }))
}

fn held_from_fields(
    id: &str,
    score: f64,
    fields: &[Option<String>],
) -> Result<RedisHeld, LedgerError> {
    let text = |index: usize| fields.get(index).cloned().flatten();
    let deadline_ms = text(2)
        .and_then(|deadline| deadline.parse().ok())
        .unwrap_or(-1);
    Ok(RedisHeld {
        zset_deadline_ms: score as i64,
        state: text(1),
        view: HeldView {
            idempotency_key: text(0).unwrap_or_default(),
            deadline_ms,
            items: parse_items(id, &text(3).unwrap_or_default())?,
        },
    })
}

/// `sku qty sku qty …` → lines sorted by SKU.
pub fn parse_items(id: &str, text: &str) -> Result<Vec<CartLine>, LedgerError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err(LedgerError::protocol(format!(
            "reservation `{id}` items `{text}`: not `sku qty` pairs"
        )));
    }
    let mut items = words
        .chunks(2)
        .map(|pair| {
            let qty = pair[1].parse().map_err(|_| {
                LedgerError::protocol(format!("reservation `{id}` items: bad qty `{}`", pair[1]))
            })?;
            Ok(CartLine {
                sku: pair[0].to_owned(),
                qty,
            })
        })
        .collect::<Result<Vec<_>, LedgerError>>()?;
    items.sort_by(|a, b| a.sku.cmp(&b.sku));
    Ok(items)
}

/// Lines → `sku qty sku qty …` (the Redis `items` field).
pub fn format_items(items: &[CartLine]) -> String {
    items
        .iter()
        .map(|line| format!("{} {}", line.sku, line.qty))
        .collect::<Vec<_>>()
        .join(" ")
}
