//! Recovery (DESIGN §3): at start-up, before serving, when Redis is empty or its `seq`
//! is behind the ledger's highest seq (a restart without persistence, an AOF that lost
//! its last second), Redis is rebuilt from the Postgres ledger: the ledger is replayed
//! from seq 1 and the shop's keys are rewritten from that replay alone (SKU hashes and
//! the `skus` set; Held reservations with their hashes, deadlines and idempotency keys;
//! terminal reservations still within the retention, with their keys and remaining
//! retention; `seq`). The projections are never read: they may lag.
//!
//! It never runs when Redis is ahead of or level with the ledger: then Redis holds
//! everything (the writer will catch up). It must run before the engine serves: the
//! rewrite deletes the shop's keys first, and `seq` is written last, so an interrupted
//! recovery is simply run again. The report says what Redis had lost (events and units
//! between its `seq` and the ledger's end) — the loss window the fault scenarios measure.

use redis::aio::MultiplexedConnection;
use sqlx::PgPool;

use crate::keys::ShopKeys;
use crate::ledger::stream_ops::server_time_ms;
use crate::ledger::{CONSUMER_GROUP, FoldedReservation, LedgerError, LedgerFold, ledger_page};
use crate::limits::RETENTION_MS_DEFAULT;
use crate::reconciler::{LEDGER_PAGE_EVENTS_MAX, format_items};

/// Commands per pipeline while rewriting Redis: large enough to amortise round trips,
/// small enough that one reply stays well under the response timeout.
pub const RECOVERY_PIPELINE_COMMANDS_MAX: usize = 1_000;
/// Keys per SCAN step while deleting the shop's old keys.
pub const RECOVERY_SCAN_COUNT: usize = 1_000;

/// How recovery treats retention; must match the engine's scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long terminal reservations and idempotency keys are kept after the end.
    pub retention_ms: i64,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            retention_ms: RETENTION_MS_DEFAULT,
        }
    }
}

/// What recovery found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct RecoveryReport {
    /// Whether Redis was rebuilt (false: it was level with or ahead of the ledger).
    pub rebuilt: bool,
    /// Redis `seq` before recovery (0 when missing: an empty Redis).
    pub redis_seq_before: i64,
    pub ledger_max_seq: i64,
    /// Events the ledger holds beyond Redis's `seq`: what Redis had lost.
    pub events_lost: i64,
    /// Units moved by those events (Σ |qty|).
    pub units_lost: i64,
    /// Shop keys deleted before the rewrite.
    pub keys_deleted: u64,
    pub skus: usize,
    pub held_reservations: usize,
    /// Terminal reservations still within the retention, rewritten with their TTL.
    pub terminal_reservations: usize,
    pub idempotency_keys: usize,
}

/// Rebuilds Redis from the ledger if (and only if) Redis is behind it.
pub async fn recover(
    redis: &mut MultiplexedConnection,
    pool: &PgPool,
    keys: &ShopKeys,
    config: &RecoveryConfig,
) -> Result<RecoveryReport, LedgerError> {
    let redis_seq_before = redis_seq(redis, keys).await?;
    let ledger_max_seq = {
        let mut connection = pool
            .acquire()
            .await
            .map_err(|error| LedgerError::postgres("acquire", error))?;
        crate::ledger::max_seq(&mut connection).await?
    };
    let mut report = RecoveryReport {
        redis_seq_before,
        ledger_max_seq,
        ..RecoveryReport::default()
    };
    if redis_seq_before >= ledger_max_seq {
        return Ok(report);
    }
    let now_ms = server_time_ms(redis).await? as i64;
    let (fold, units_lost) =
        fold_ledger(pool, now_ms - config.retention_ms, redis_seq_before).await?;
    // Re-check: a Redis that moved meanwhile is serving, and must not be overwritten.
    let redis_seq_now = redis_seq(redis, keys).await?;
    if redis_seq_now != redis_seq_before {
        return Err(LedgerError::GaveUp {
            what: format!(
                "a quiet Redis to rebuild: its seq moved from {redis_seq_before} to \
                 {redis_seq_now} during recovery (is an engine serving this shop?)"
            ),
            waited_ms: 0,
        });
    }
    report.keys_deleted = delete_shop_keys(redis, keys).await?;
    let counts = write_state(redis, keys, &fold, now_ms, config.retention_ms).await?;
    report.rebuilt = true;
    report.events_lost = ledger_max_seq - redis_seq_before;
    report.units_lost = units_lost;
    report.skus = fold.stocks.len();
    report.held_reservations = counts.held;
    report.terminal_reservations = counts.terminal;
    report.idempotency_keys = counts.idempotency_keys;
    tracing::warn!(?report, "rebuilt redis from the postgres ledger");
    Ok(report)
}

async fn redis_seq(redis: &mut MultiplexedConnection, keys: &ShopKeys) -> Result<i64, LedgerError> {
    let seq: Option<i64> = redis::cmd("GET")
        .arg(keys.seq())
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("GET seq", error))?;
    Ok(seq.unwrap_or(0))
}

/// The ledger folded from seq 1, keeping terminal reservations ended at or after
/// `keep_terminal_since_ms`; and Σ |qty| of the events after `redis_seq`.
async fn fold_ledger(
    pool: &PgPool,
    keep_terminal_since_ms: i64,
    redis_seq: i64,
) -> Result<(LedgerFold, i64), LedgerError> {
    let mut connection = pool
        .acquire()
        .await
        .map_err(|error| LedgerError::postgres("acquire", error))?;
    let mut fold = LedgerFold::keeping_terminal_since(keep_terminal_since_ms);
    let mut units_lost = 0;
    loop {
        let page = ledger_page(&mut connection, fold.max_seq, LEDGER_PAGE_EVENTS_MAX).await?;
        for event in &page {
            fold.apply(event);
            if event.seq > redis_seq {
                units_lost += event.qty.abs();
            }
        }
        if (page.len() as i64) < LEDGER_PAGE_EVENTS_MAX {
            break;
        }
    }
    Ok((fold.finish(), units_lost))
}

/// UNLINKs every key of the shop (SCAN on the prefix).
async fn delete_shop_keys(
    redis: &mut MultiplexedConnection,
    keys: &ShopKeys,
) -> Result<u64, LedgerError> {
    let pattern = format!("{}*", glob_escape(keys.prefix()));
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(RECOVERY_SCAN_COUNT)
            .query_async(redis)
            .await
            .map_err(|error| LedgerError::redis("SCAN", error))?;
        if !found.is_empty() {
            let unlinked: u64 = redis::cmd("UNLINK")
                .arg(&found)
                .query_async(redis)
                .await
                .map_err(|error| LedgerError::redis("UNLINK", error))?;
            deleted += unlinked;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

/// Escapes Redis glob metacharacters so a shop name matches literally.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[derive(Debug, Default)]
struct WrittenCounts {
    held: usize,
    terminal: usize,
    idempotency_keys: usize,
}

/// Writes the fold into Redis in bounded pipelines; the consumer group, then `seq`,
/// come last.
async fn write_state(
    redis: &mut MultiplexedConnection,
    keys: &ShopKeys,
    fold: &LedgerFold,
    now_ms: i64,
    retention_ms: i64,
) -> Result<WrittenCounts, LedgerError> {
    let mut batch = PipelineBatch::default();
    for (sku, stock) in &fold.stocks {
        batch.pipe.cmd("HSET").arg(keys.sku(sku)).arg(&[
            ("available", stock.available),
            ("reserved", stock.reserved),
            ("sold", stock.sold),
            ("total", stock.total),
        ]);
        batch.pipe.cmd("SADD").arg(keys.sku_index()).arg(sku);
        batch.commands += 2;
        batch.flush_if_full(redis).await?;
    }
    let mut counts = WrittenCounts::default();
    for (id, reservation) in &fold.reservations {
        let keep = write_reservation(&mut batch, keys, id, reservation, now_ms, retention_ms);
        match (keep, reservation.terminal_at_ms) {
            (Kept::No, _) => continue,
            (Kept::Reservation, None) | (Kept::WithKey, None) => counts.held += 1,
            (Kept::Reservation, Some(_)) | (Kept::WithKey, Some(_)) => counts.terminal += 1,
        }
        if keep == Kept::WithKey {
            counts.idempotency_keys += 1;
        }
        batch.flush_if_full(redis).await?;
    }
    batch.flush(redis).await?;
    let created: Result<redis::Value, redis::RedisError> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(keys.ledger())
        .arg(CONSUMER_GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(redis)
        .await;
    if let Err(error) = created
        && error.code() != Some("BUSYGROUP")
    {
        return Err(LedgerError::redis("XGROUP CREATE", error));
    }
    let _: () = redis::cmd("SET")
        .arg(keys.seq())
        .arg(fold.max_seq)
        .query_async(redis)
        .await
        .map_err(|error| LedgerError::redis("SET seq", error))?;
    Ok(counts)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kept {
    No,
    Reservation,
    WithKey,
}

/// Queues one reservation's keys, as the scripts would have left them now: Held ones
/// in full with their deadline; terminal ones with the retention left; the
/// idempotency key with what is left of `ttl + retention` (Held) or the retention
/// after the end (terminal).
fn write_reservation(
    batch: &mut PipelineBatch,
    keys: &ShopKeys,
    id: &str,
    reservation: &FoldedReservation,
    now_ms: i64,
    retention_ms: i64,
) -> Kept {
    let key_expires_at_ms = match reservation.terminal_at_ms {
        None => reservation.deadline_ms + retention_ms,
        Some(ended_ms) => ended_ms + retention_ms,
    };
    let left_ms = key_expires_at_ms - now_ms;
    if reservation.terminal_at_ms.is_some() && left_ms <= 0 {
        return Kept::No;
    }
    let resv_key = keys.reservation(id);
    let mut fields = vec![
        ("key", reservation.idempotency_key.clone()),
        ("state", reservation.state.as_str().to_owned()),
        ("deadline", reservation.deadline_ms.to_string()),
        ("items", format_items(&reservation.items)),
        ("created", reservation.created_ms.to_string()),
    ];
    match reservation.terminal_at_ms {
        None => {
            batch.pipe.cmd("HSET").arg(&resv_key).arg(&fields);
            batch
                .pipe
                .cmd("ZADD")
                .arg(keys.deadlines())
                .arg(reservation.deadline_ms)
                .arg(id);
        }
        Some(ended_ms) => {
            fields.push(("ended", ended_ms.to_string()));
            batch.pipe.cmd("HSET").arg(&resv_key).arg(&fields);
            batch.pipe.cmd("PEXPIRE").arg(&resv_key).arg(left_ms);
        }
    }
    batch.commands += 2;
    if left_ms <= 0 {
        return Kept::Reservation;
    }
    batch
        .pipe
        .cmd("SET")
        .arg(keys.idempotency(&reservation.idempotency_key))
        .arg(id)
        .arg("PX")
        .arg(left_ms);
    batch.commands += 1;
    Kept::WithKey
}

/// A pipeline sent every [`RECOVERY_PIPELINE_COMMANDS_MAX`] commands.
#[derive(Default)]
struct PipelineBatch {
    pipe: redis::Pipeline,
    commands: usize,
}

impl PipelineBatch {
    async fn flush_if_full(
        &mut self,
        redis: &mut MultiplexedConnection,
    ) -> Result<(), LedgerError> {
        if self.commands >= RECOVERY_PIPELINE_COMMANDS_MAX {
            self.flush(redis).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, redis: &mut MultiplexedConnection) -> Result<(), LedgerError> {
        if self.commands == 0 {
            return Ok(());
        }
        let mut pipe = std::mem::take(&mut self.pipe);
        self.commands = 0;
        let _: () = pipe
            .ignore()
            .query_async(redis)
            .await
            .map_err(|error| LedgerError::redis("recovery pipeline", error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
