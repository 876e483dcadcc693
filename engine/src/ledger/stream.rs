//! The ledger stream seen from the consumer side: the `ledger-writer` consumer group,
//! reads of new and of pending entries, acks, claims of a dead consumer's entries,
//! trimming below what is acked, and the writer's lag. Plain Redis commands and reply
//! parsing; what to do with the entries is the writer's business (`writer.rs`).

use redis::Value;
use redis::aio::MultiplexedConnection;

use super::error::LedgerError;
use stockproof_model::ledger::LedgerEvent;

/// The consumer group every ledger writer of a shop joins (DESIGN §3).
pub const CONSUMER_GROUP: &str = "ledger-writer";

/// One stream entry: its id and its event (`None` when the entry was deleted from the
/// stream while still pending, which trimming never does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    pub id: StreamId,
    pub event: Option<LedgerEvent>,
}

/// A stream entry id `ms-n`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub n: u64,
}

impl StreamId {
    pub fn parse(text: &str) -> Result<StreamId, LedgerError> {
        let bad = || LedgerError::protocol(format!("`{text}` is not a stream id"));
        let (ms, n) = text.split_once('-').ok_or_else(bad)?;
        Ok(StreamId {
            ms: ms.parse().map_err(|_| bad())?,
            n: n.parse().map_err(|_| bad())?,
        })
    }

    /// The smallest id after this one.
    pub fn next(self) -> StreamId {
        match self.n.checked_add(1) {
            Some(n) => StreamId { ms: self.ms, n },
            None => StreamId {
                ms: self.ms + 1,
                n: 0,
            },
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}-{}", self.ms, self.n)
    }
}

/// Events the writer has not committed yet, and how old the oldest one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct WriterLag {
    /// Entries delivered to a writer but not acked (in flight or of a dead writer).
    pub pending_events: u64,
    /// Entries after the group's last-delivered id.
    pub undelivered_events: u64,
    /// Redis time now minus the stream-id time of the oldest unwritten entry; `None`
    /// when nothing is unwritten.
    pub oldest_unwritten_age_ms: Option<u64>,
}

impl WriterLag {
    /// Stream entries not yet written to Postgres.
    pub fn unwritten_events(&self) -> u64 {
        self.pending_events + self.undelivered_events
    }
}

/// Creates the consumer group at id 0 (so it reads every entry ever appended),
/// creating the stream if missing. An existing group is left as it is.
pub(crate) async fn ensure_group(
    redis: &mut MultiplexedConnection,
    stream: &str,
) -> Result<(), LedgerError> {
    let created: Result<Value, redis::RedisError> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(CONSUMER_GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(redis)
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
        Err(error) => Err(LedgerError::redis("XGROUP CREATE", error)),
    }
}

/// Reads up to `count` entries: new ones (`>`, blocking up to `block_ms`) or this
/// consumer's own pending ones (`0`, never blocking).
pub(crate) async fn read_group(
    redis: &mut MultiplexedConnection,
    stream: &str,
    consumer: &str,
    count: usize,
    read: ReadFrom,
) -> Result<Vec<StreamEntry>, LedgerError> {
    let mut command = redis::cmd("XREADGROUP");
    command
        .arg("GROUP")
        .arg(CONSUMER_GROUP)
        .arg(consumer)
        .arg("COUNT")
        .arg(count);
    let start = match read {
        ReadFrom::New { block_ms } => {
            // BLOCK 0 would wait forever.
            command.arg("BLOCK").arg(block_ms.max(1));
            ">"
        }
        ReadFrom::OwnPending => "0",
    };
    command.arg("STREAMS").arg(stream).arg(start);
    let reply: Value = command
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("XREADGROUP", error))?;
    parse_read_reply(reply)
}

/// Where [`read_group`] reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadFrom {
    New { block_ms: u64 },
    OwnPending,
}

/// Every entry with an id in `[start, end]` (inclusive), up to `count`.
pub(crate) async fn range(
    redis: &mut MultiplexedConnection,
    stream: &str,
    start: &str,
    end: &str,
    count: usize,
) -> Result<Vec<StreamEntry>, LedgerError> {
    let reply: Value = redis::cmd("XRANGE")
        .arg(stream)
        .arg(start)
        .arg(end)
        .arg("COUNT")
        .arg(count)
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("XRANGE", error))?;
    parse_entries(reply)
}

pub(crate) async fn ack(
    redis: &mut MultiplexedConnection,
    stream: &str,
    ids: &[StreamId],
) -> Result<u64, LedgerError> {
    if ids.is_empty() {
        return Ok(0);
    }
    redis::cmd("XACK")
        .arg(stream)
        .arg(CONSUMER_GROUP)
        .arg(ids.iter().map(ToString::to_string).collect::<Vec<_>>())
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("XACK", error))
}

/// Moves up to `count` entries idle for at least `min_idle_ms` (a dead consumer's, or
/// our own stuck ones) into `consumer`'s pending list, scanning from `cursor`. Returns
/// the next cursor, how many were claimed, and the ids Redis dropped from the pending
/// list because their entries were deleted (events that can no longer be written).
pub(crate) async fn autoclaim(
    redis: &mut MultiplexedConnection,
    stream: &str,
    consumer: &str,
    min_idle_ms: u64,
    cursor: StreamId,
    count: usize,
) -> Result<AutoClaim, LedgerError> {
    let reply: Value = redis::cmd("XAUTOCLAIM")
        .arg(stream)
        .arg(CONSUMER_GROUP)
        .arg(consumer)
        .arg(min_idle_ms)
        .arg(cursor.to_string())
        .arg("COUNT")
        .arg(count)
        .arg("JUSTID")
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("XAUTOCLAIM", error))?;
    let parts = array(reply, "XAUTOCLAIM reply")?;
    let mut parts = parts.into_iter();
    let next = StreamId::parse(&string(parts.next(), "XAUTOCLAIM cursor")?)?;
    let claimed = array(parts.next().unwrap_or(Value::Nil), "XAUTOCLAIM ids")?.len();
    let deleted = match parts.next() {
        Some(value) => array(value, "XAUTOCLAIM deleted ids")?
            .into_iter()
            .map(|id| string(Some(id), "deleted id"))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    Ok(AutoClaim {
        next,
        claimed,
        deleted,
    })
}

/// What one XAUTOCLAIM did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AutoClaim {
    /// Where the next scan starts (`0-0` once the whole pending list was scanned).
    pub next: StreamId,
    pub claimed: usize,
    pub deleted: Vec<String>,
}

/// The group's pending summary and delivery position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupPosition {
    pub pending: u64,
    pub smallest_pending: Option<StreamId>,
    pub last_delivered: StreamId,
    /// Entries after `last_delivered` (Redis' own count; `None` when it cannot tell).
    pub undelivered: Option<u64>,
}

/// Reads the group's pending summary (XPENDING) and position (XINFO GROUPS).
pub(crate) async fn group_position(
    redis: &mut MultiplexedConnection,
    stream: &str,
) -> Result<GroupPosition, LedgerError> {
    let summary: Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(CONSUMER_GROUP)
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("XPENDING", error))?;
    let mut summary = array(summary, "XPENDING reply")?.into_iter();
    let pending = integer(summary.next(), "XPENDING count")?;
    let smallest_pending = match summary.next() {
        Some(Value::Nil) | None => None,
        Some(value) => Some(StreamId::parse(&string(Some(value), "XPENDING min id")?)?),
    };
    let groups: Value = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("XINFO GROUPS", error))?;
    for group in array(groups, "XINFO GROUPS reply")? {
        let fields = pairs(group)?;
        let field = |name: &str| fields.iter().find(|(key, _)| key == name).map(|(_, v)| v);
        if field("name").and_then(value_text).as_deref() != Some(CONSUMER_GROUP) {
            continue;
        }
        let last_delivered = field("last-delivered-id")
            .and_then(value_text)
            .ok_or_else(|| LedgerError::protocol("XINFO GROUPS: no last-delivered-id"))?;
        let undelivered = field("lag").and_then(value_integer);
        return Ok(GroupPosition {
            pending: pending.max(0) as u64,
            smallest_pending,
            last_delivered: StreamId::parse(&last_delivered)?,
            undelivered: undelivered.map(|lag| lag.max(0) as u64),
        });
    }
    Err(LedgerError::protocol(format!(
        "stream `{stream}` has no consumer group `{CONSUMER_GROUP}`"
    )))
}

/// Removes every entry below the smallest one still pending or not yet delivered:
/// only entries the writer committed and acked go. Returns how many were removed.
pub(crate) async fn trim_acked(
    redis: &mut MultiplexedConnection,
    stream: &str,
) -> Result<u64, LedgerError> {
    let position = group_position(redis, stream).await?;
    // Every id below the smallest pending one was acked or never delivered; every id
    // at or below last-delivered was delivered. So below min(smallest pending,
    // last-delivered + 1) everything was acked.
    let keep_from = match position.smallest_pending {
        Some(smallest) => smallest.min(position.last_delivered.next()),
        None => position.last_delivered.next(),
    };
    redis::cmd("XTRIM")
        .arg(stream)
        .arg("MINID")
        .arg("=")
        .arg(keep_from.to_string())
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("XTRIM", error))
}

/// How far the writer is behind, measured on the stream itself.
pub(crate) async fn lag(
    redis: &mut MultiplexedConnection,
    stream: &str,
) -> Result<WriterLag, LedgerError> {
    let position = match group_position(redis, stream).await {
        Ok(position) => position,
        // No writer has created the group yet: every entry is undelivered.
        Err(error) if error.is_no_group() => GroupPosition {
            pending: 0,
            smallest_pending: None,
            last_delivered: StreamId { ms: 0, n: 0 },
            undelivered: None,
        },
        Err(error) => return Err(error),
    };
    let after_delivered = format!("({}", position.last_delivered);
    let first_undelivered = range(redis, stream, &after_delivered, "+", 1).await?;
    let undelivered = match position.undelivered {
        Some(count) => count,
        // Redis cannot tell (entries were deleted): count them, bounded.
        None => range(redis, stream, &after_delivered, "+", LAG_COUNT_MAX)
            .await?
            .len() as u64,
    };
    let oldest = position
        .smallest_pending
        .or(first_undelivered.first().map(|entry| entry.id));
    let oldest_unwritten_age_ms = match oldest {
        Some(id) => Some(server_time_ms(redis).await?.saturating_sub(id.ms)),
        None => None,
    };
    Ok(WriterLag {
        pending_events: position.pending,
        undelivered_events: undelivered,
        oldest_unwritten_age_ms,
    })
}

/// Entries counted one by one when Redis' own lag counter is unavailable.
const LAG_COUNT_MAX: usize = 100_000;

/// Redis server time in ms (the clock the scripts stamp events and stream ids with).
pub(crate) async fn server_time_ms(redis: &mut MultiplexedConnection) -> Result<u64, LedgerError> {
    let (seconds, micros): (u64, u64) = redis::cmd("TIME")
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("TIME", error))?;
    Ok(seconds * 1_000 + micros / 1_000)
}

fn parse_read_reply(reply: Value) -> Result<Vec<StreamEntry>, LedgerError> {
    let streams = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Map(map) => map.into_iter().map(|(_, entries)| entries).collect(),
        other => array(other, "XREADGROUP reply")?
            .into_iter()
            .map(|stream| {
                let mut parts = array(stream, "XREADGROUP stream")?.into_iter();
                Ok(parts.nth(1).unwrap_or(Value::Nil))
            })
            .collect::<Result<Vec<_>, LedgerError>>()?,
    };
    let mut entries = Vec::new();
    for stream_entries in streams {
        entries.extend(parse_entries(stream_entries)?);
    }
    Ok(entries)
}

pub(crate) fn parse_entries(value: Value) -> Result<Vec<StreamEntry>, LedgerError> {
    array(value, "stream entries")?
        .into_iter()
        .map(parse_entry)
        .collect()
}

fn parse_entry(value: Value) -> Result<StreamEntry, LedgerError> {
    let mut parts = array(value, "stream entry")?.into_iter();
    let id = StreamId::parse(&string(parts.next(), "stream entry id")?)?;
    let fields = match parts.next() {
        None | Some(Value::Nil) => return Ok(StreamEntry { id, event: None }),
        Some(fields) => pairs(fields)?,
    };
    let texts: Vec<(String, String)> = fields
        .into_iter()
        .map(|(name, value)| {
            let value = value_text(&value)
                .ok_or_else(|| LedgerError::bad_entry(id, format!("field `{name}` not text")))?;
            Ok((name, value))
        })
        .collect::<Result<_, LedgerError>>()?;
    let event = LedgerEvent::from_fields(texts.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .map_err(|reason| LedgerError::bad_entry(id, reason))?;
    Ok(StreamEntry {
        id,
        event: Some(event),
    })
}

/// A field list (`[name, value, name, value…]` or a RESP3 map) as (name, value) pairs.
fn pairs(value: Value) -> Result<Vec<(String, Value)>, LedgerError> {
    match value {
        Value::Map(map) => map
            .into_iter()
            .map(|(name, value)| Ok((string(Some(name), "field name")?, value)))
            .collect(),
        other => {
            let flat = array(other, "field list")?;
            let mut fields = Vec::with_capacity(flat.len() / 2);
            let mut flat = flat.into_iter();
            while let Some(name) = flat.next() {
                fields.push((
                    string(Some(name), "field name")?,
                    flat.next().unwrap_or_default(),
                ));
            }
            Ok(fields)
        }
    }
}

fn array(value: Value, what: &str) -> Result<Vec<Value>, LedgerError> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => Err(LedgerError::protocol(format!(
            "{what}: expected an array, got {other:?}"
        ))),
    }
}

fn string(value: Option<Value>, what: &str) -> Result<String, LedgerError> {
    value
        .as_ref()
        .and_then(value_text)
        .ok_or_else(|| LedgerError::protocol(format!("{what}: expected a string, got {value:?}")))
}

fn integer(value: Option<Value>, what: &str) -> Result<i64, LedgerError> {
    value
        .as_ref()
        .and_then(value_integer)
        .ok_or_else(|| LedgerError::protocol(format!("{what}: expected an integer, got {value:?}")))
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(number) => Some(number.to_string()),
        _ => None,
    }
}

fn value_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Int(number) => Some(*number),
        other => value_text(other)?.parse().ok(),
    }
}

#[cfg(test)]
mod tests;
