//! The SQL both Postgres strategies share, one function per statement (or per
//! statement pair): the clock, the idempotency key, a new reservation's rows, a
//! terminal transition's rows, stock movements, restock, adjust and the reads. Each
//! takes the connection (or the open transaction) it runs on; none commits a
//! transaction (restock and adjust, one statement on a bare connection, commit
//! themselves: their lost replies are unknown outcomes, `super::autocommit_failed`).
//!
//! Not here: the order in which a strategy takes its locks or retries its conflicts.

use std::collections::BTreeMap;

use sqlx::PgConnection;

use super::{autocommit_failed, unavailable};
use crate::error::EngineError;
use crate::limits::SKU_TOTAL_MAX;
use crate::outcome::{AdjustOutcome, ReserveOutcome};
use crate::reservation::{CartLine, Reservation, ReservationId, ReservationState};
use stockproof_model::SkuStock;

/// The Postgres server's clock in ms since the epoch, as SQL (a macro, so that
/// statements stay `&'static str`s built by `concat!`).
macro_rules! now_ms {
    () => {
        "floor(extract(epoch from clock_timestamp()) * 1000)::bigint"
    };
}
/// The next ledger seq of the Postgres strategies (migrations/…_postgres_strategies.sql).
macro_rules! next_seq {
    () => {
        "nextval('ledger_seq_postgres_strategies')"
    };
}

/// The canonical cart an idempotency key is bound to: `sku qty` pairs, sorted by SKU
/// (the reference's `items` field, so both compare carts the same way).
pub(crate) fn items_text(items: &[CartLine]) -> String {
    items
        .iter()
        .map(|line| format!("{} {}", line.sku, line.qty))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The server's clock now.
pub(crate) async fn now_ms(connection: &mut PgConnection) -> Result<i64, EngineError> {
    let (now_ms,): (i64,) = sqlx::query_as(concat!("SELECT ", now_ms!()))
        .fetch_one(connection)
        .await
        .map_err(|error| unavailable(&error))?;
    Ok(now_ms)
}

/// A key's reservation and the cart it was made for.
#[derive(Debug)]
pub(crate) struct Binding {
    pub id: ReservationId,
    pub items: String,
}

/// Whom `key` is bound to now: a live binding only (one past its `expires_ms` is
/// free again).
pub(crate) async fn live_binding(
    connection: &mut PgConnection,
    key: &str,
) -> Result<Option<Binding>, EngineError> {
    let bound: Option<(String, String)> = sqlx::query_as(concat!(
        "SELECT reservation_id, items FROM idempotency_keys
          WHERE idempotency_key = $1 AND expires_ms > ",
        now_ms!()
    ))
    .bind(key)
    .fetch_optional(connection)
    .await
    .map_err(|error| unavailable(&error))?;
    Ok(bound.map(|(id, items)| Binding {
        id: ReservationId(id),
        items,
    }))
}

/// Binds `key` to a new reservation id (allocated here) unless a live binding exists.
/// The primary key decides a race: a concurrent claim of the same key waits for the
/// first to commit or roll back, then either claims or sees the binding. Returns
/// `Ok(id)` when claimed, `Err(binding)` when the key is taken.
pub(crate) async fn claim_key(
    connection: &mut PgConnection,
    key: &str,
    items: &str,
    expires_ms: i64,
    now_ms: i64,
) -> Result<Result<ReservationId, Binding>, EngineError> {
    let claimed: Option<(String,)> = sqlx::query_as(concat!(
        "INSERT INTO idempotency_keys AS k (idempotency_key, reservation_id, items, expires_ms)
         VALUES ($1, 'r' || ",
        next_seq!(),
        ", $2, $3)
         ON CONFLICT (idempotency_key) DO UPDATE
            SET reservation_id = EXCLUDED.reservation_id, items = EXCLUDED.items,
                expires_ms = EXCLUDED.expires_ms
          WHERE k.expires_ms <= $4
         RETURNING reservation_id"
    ))
    .bind(key)
    .bind(items)
    .bind(expires_ms)
    .bind(now_ms)
    .fetch_optional(&mut *connection)
    .await
    .map_err(|error| unavailable(&error))?;
    if let Some((id,)) = claimed {
        return Ok(Ok(ReservationId(id)));
    }
    let (id, items): (String, String) = sqlx::query_as(
        "SELECT reservation_id, items FROM idempotency_keys WHERE idempotency_key = $1",
    )
    .bind(key)
    .fetch_one(connection)
    .await
    .map_err(|error| unavailable(&error))?;
    Ok(Err(Binding {
        id: ReservationId(id),
        items,
    }))
}

/// The outcome of a reserve whose key is bound: the same cart replays the
/// reservation as it is now, another cart is a key reused.
pub(crate) async fn bound_outcome(
    connection: &mut PgConnection,
    binding: Binding,
    items: &str,
) -> Result<ReserveOutcome, EngineError> {
    if binding.items != items {
        return Ok(ReserveOutcome::KeyReused {
            existing: binding.id,
        });
    }
    match load_reservation(connection, &binding.id).await? {
        Some(reservation) => Ok(ReserveOutcome::Replayed(reservation)),
        None => Err(EngineError::Protocol {
            store: "postgres",
            reason: format!("key bound to reservation {} that has no row", binding.id),
        }),
    }
}

/// Writes a new Held reservation, its items and one `reserve` ledger event per line
/// in one statement. The stock was already taken by the caller, in this transaction.
pub(crate) async fn write_reservation(
    connection: &mut PgConnection,
    id: &ReservationId,
    key: &str,
    items: &[CartLine],
    deadline_ms: i64,
    now_ms: i64,
) -> Result<Reservation, EngineError> {
    let skus: Vec<&str> = items.iter().map(|line| line.sku.as_str()).collect();
    let qtys: Vec<i64> = items.iter().map(|line| line.qty).collect();
    sqlx::query(concat!(
        "WITH events AS (
             SELECT line.sku, line.qty, ",
        next_seq!(),
        " AS seq
               FROM UNNEST($3::text[], $4::bigint[]) AS line(sku, qty)
         ), reservation AS (
             INSERT INTO reservations
                 (id, idempotency_key, state, deadline_ms, created_ms, terminal_at_ms, last_seq)
             SELECT $1, $2, 'held', $5, $6, NULL, max(seq) FROM events
         ), lines AS (
             INSERT INTO reservation_items (reservation_id, sku, qty)
             SELECT $1, sku, qty FROM events
         )
         INSERT INTO ledger
             (seq, kind, sku, qty, reservation_id, idempotency_key, deadline_ms, at_ms)
         SELECT seq, 'reserve', sku, qty, $1, $2, $5, $6 FROM events"
    ))
    .bind(&id.0)
    .bind(key)
    .bind(&skus)
    .bind(&qtys)
    .bind(deadline_ms)
    .bind(now_ms)
    .execute(connection)
    .await
    .map_err(|error| unavailable(&error))?;
    Ok(Reservation {
        id: id.clone(),
        idempotency_key: key.to_owned(),
        state: ReservationState::Held,
        items: items.to_vec(),
        deadline_ms,
    })
}

/// Moves the Held ones of `ids` to `state`, with one ledger event per item (kind
/// `confirm`, `release` or `expire`), as a compare-and-set on `state = 'held'`:
/// returns the ones that moved; one that another transition won is left as it is.
/// The stock movement is the caller's, in this transaction.
pub(crate) async fn terminate(
    connection: &mut PgConnection,
    ids: &[ReservationId],
    state: ReservationState,
    now_ms: i64,
) -> Result<Vec<ReservationId>, EngineError> {
    let kind = match state {
        ReservationState::Confirmed => "confirm",
        ReservationState::Released => "release",
        ReservationState::Expired => "expire",
        ReservationState::Held => {
            return Err(EngineError::invalid("state", "held is not terminal"));
        }
    };
    let ids: Vec<&str> = ids.iter().map(|id| id.0.as_str()).collect();
    let won: Vec<(String,)> = sqlx::query_as(concat!(
        "WITH won AS (
             UPDATE reservations SET state = $2, terminal_at_ms = $4
              WHERE id = ANY($1) AND state = 'held'
             RETURNING id
         ), events AS (
             SELECT i.reservation_id, i.sku, i.qty, ",
        next_seq!(),
        " AS seq
               FROM reservation_items i JOIN won ON won.id = i.reservation_id
         ), logged AS (
             INSERT INTO ledger (seq, kind, sku, qty, reservation_id, idempotency_key, deadline_ms, at_ms)
             SELECT seq, $3, sku, qty, reservation_id, '', 0, $4 FROM events
         )
         SELECT id FROM won"
    ))
    .bind(&ids)
    .bind(state.as_str())
    .bind(kind)
    .bind(now_ms)
    .fetch_all(connection)
    .await
    .map_err(|error| unavailable(&error))?;
    Ok(won.into_iter().map(|(id,)| ReservationId(id)).collect())
}

/// The items of `ids`, summed per SKU (sorted by SKU: the order locks are taken in).
pub(crate) async fn items_by_sku(
    connection: &mut PgConnection,
    ids: &[ReservationId],
) -> Result<Vec<CartLine>, EngineError> {
    let ids: Vec<&str> = ids.iter().map(|id| id.0.as_str()).collect();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT sku, sum(qty)::bigint FROM reservation_items WHERE reservation_id = ANY($1)
          GROUP BY sku ORDER BY sku",
    )
    .bind(&ids)
    .fetch_all(connection)
    .await
    .map_err(|error| unavailable(&error))?;
    Ok(rows
        .into_iter()
        .map(|(sku, qty)| CartLine { sku, qty })
        .collect())
}

/// Moves `qty` units of `sku` as `movement` says, no guard: for units this
/// transaction already owns (a Held reservation's) or already checked.
pub(crate) async fn move_stock(
    connection: &mut PgConnection,
    sku: &str,
    qty: i64,
    movement: Movement,
) -> Result<bool, EngineError> {
    let updated = sqlx::query(movement.update())
        .bind(sku)
        .bind(qty)
        .execute(connection)
        .await
        .map_err(|error| unavailable(&error))?;
    Ok(updated.rows_affected() == 1)
}

/// Returns `lines` (sorted by SKU, one per SKU) to available in two statements: the
/// rows locked in SKU order (the order every transaction takes them in), then one
/// UPDATE of them all. Returns how many rows changed.
pub(crate) async fn return_sorted(
    connection: &mut PgConnection,
    lines: &[CartLine],
) -> Result<u64, EngineError> {
    let skus: Vec<&str> = lines.iter().map(|line| line.sku.as_str()).collect();
    let qtys: Vec<i64> = lines.iter().map(|line| line.qty).collect();
    sqlx::query("SELECT 1 FROM skus WHERE sku = ANY($1) ORDER BY sku FOR UPDATE")
        .bind(&skus)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| unavailable(&error))?;
    let updated = sqlx::query(
        "UPDATE skus SET reserved = skus.reserved - d.qty, available = skus.available + d.qty,
                         version = skus.version + 1
           FROM UNNEST($1::text[], $2::bigint[]) AS d(sku, qty)
          WHERE skus.sku = d.sku",
    )
    .bind(&skus)
    .bind(&qtys)
    .execute(connection)
    .await
    .map_err(|error| unavailable(&error))?;
    Ok(updated.rows_affected())
}

/// The `SET` lists of the movements, quantity `$2`.
macro_rules! take {
    () => {
        "available = available - $2, reserved = reserved + $2, version = version + 1"
    };
}
macro_rules! give_back {
    () => {
        "reserved = reserved - $2, available = available + $2, version = version + 1"
    };
}
macro_rules! sell {
    () => {
        "reserved = reserved - $2, sold = sold + $2, version = version + 1"
    };
}

/// `pg-row-lock`'s guarded take: the check and the change in one statement.
pub(crate) const GUARDED_TAKE: &str = concat!(
    "UPDATE skus SET ",
    take!(),
    " WHERE sku = $1 AND available >= $2"
);

/// How a stock movement changes a `skus` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Movement {
    /// A reserve: available → reserved.
    Take,
    /// A release or an expiry: reserved → available.
    Return,
    /// A confirm: reserved → sold.
    Sell,
}

impl Movement {
    /// The unguarded UPDATE of SKU `$1` by `$2` units; every change bumps `version`.
    pub(crate) const fn update(self) -> &'static str {
        match self {
            Movement::Take => concat!("UPDATE skus SET ", take!(), " WHERE sku = $1"),
            Movement::Return => concat!("UPDATE skus SET ", give_back!(), " WHERE sku = $1"),
            Movement::Sell => concat!("UPDATE skus SET ", sell!(), " WHERE sku = $1"),
        }
    }

    /// The UPDATE that changes the row only while its `version` is still `$3`.
    pub(crate) const fn versioned(self) -> &'static str {
        match self {
            Movement::Take => {
                concat!(
                    "UPDATE skus SET ",
                    take!(),
                    " WHERE sku = $1 AND version = $3"
                )
            }
            Movement::Return => {
                concat!(
                    "UPDATE skus SET ",
                    give_back!(),
                    " WHERE sku = $1 AND version = $3"
                )
            }
            Movement::Sell => {
                concat!(
                    "UPDATE skus SET ",
                    sell!(),
                    " WHERE sku = $1 AND version = $3"
                )
            }
        }
    }

    /// What a terminal state does to the held units.
    pub(crate) const fn ending_in(state: ReservationState) -> Movement {
        match state {
            ReservationState::Confirmed => Movement::Sell,
            ReservationState::Held | ReservationState::Released | ReservationState::Expired => {
                Movement::Return
            }
        }
    }
}

/// A SKU's available units and version, unlocked (`None`: never stocked).
pub(crate) async fn available_and_version(
    connection: &mut PgConnection,
    sku: &str,
) -> Result<Option<(i64, i64)>, EngineError> {
    sqlx::query_as("SELECT available, version FROM skus WHERE sku = $1")
        .bind(sku)
        .fetch_optional(connection)
        .await
        .map_err(|error| unavailable(&error))
}

/// Why a cart line could not be taken: the refusal a reserve answers with.
pub(crate) async fn refusal(
    connection: &mut PgConnection,
    line: &CartLine,
) -> Result<ReserveOutcome, EngineError> {
    Ok(match available_and_version(connection, &line.sku).await? {
        None => ReserveOutcome::UnknownSku {
            sku: line.sku.clone(),
        },
        Some((available, _)) => ReserveOutcome::Insufficient {
            sku: line.sku.clone(),
            requested: line.qty,
            available,
        },
    })
}

/// available += qty, total += qty (a new SKU starts at qty), with its ledger event;
/// refused (`None`) when `total` would pass [`SKU_TOTAL_MAX`].
pub(crate) async fn restock(
    connection: &mut PgConnection,
    sku: &str,
    qty: i64,
) -> Result<Option<SkuStock>, EngineError> {
    let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(concat!(
        "WITH stock AS (
             INSERT INTO skus AS s (sku, available, reserved, sold, total, last_seq, version)
             VALUES ($1, $2, 0, 0, $2, 0, 0)
             ON CONFLICT (sku) DO UPDATE
                SET available = s.available + $2, total = s.total + $2, version = s.version + 1
              WHERE s.total + $2 <= $3
             RETURNING sku, available, reserved, sold, total
         ), logged AS (
             INSERT INTO ledger (seq, kind, sku, qty, at_ms)
             SELECT ",
        next_seq!(),
        ", 'restock', sku, $2, ",
        now_ms!(),
        " FROM stock
         )
         SELECT available, reserved, sold, total FROM stock"
    ))
    .bind(sku)
    .bind(qty)
    .bind(SKU_TOTAL_MAX)
    .fetch_optional(connection)
    .await
    .map_err(|error| autocommit_failed("restock", &error))?;
    Ok(row.map(stock))
}

/// available += delta, total += delta with its ledger event, unless available would
/// go below 0 or total past [`SKU_TOTAL_MAX`].
pub(crate) async fn adjust(
    connection: &mut PgConnection,
    sku: &str,
    delta: i64,
) -> Result<AdjustOutcome, EngineError> {
    let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(concat!(
        "WITH stock AS (
             UPDATE skus SET available = available + $2, total = total + $2,
                             version = version + 1
              WHERE sku = $1 AND available + $2 >= 0 AND total + $2 <= $3
             RETURNING sku, available, reserved, sold, total
         ), logged AS (
             INSERT INTO ledger (seq, kind, sku, qty, at_ms)
             SELECT ",
        next_seq!(),
        ", 'adjust', sku, $2, ",
        now_ms!(),
        " FROM stock
         )
         SELECT available, reserved, sold, total FROM stock"
    ))
    .bind(sku)
    .bind(delta)
    .bind(SKU_TOTAL_MAX)
    .fetch_optional(&mut *connection)
    .await
    .map_err(|error| autocommit_failed("adjust", &error))?;
    if let Some(row) = row {
        return Ok(AdjustOutcome::Adjusted(stock(row)));
    }
    Ok(match available_and_version(connection, sku).await? {
        None => AdjustOutcome::UnknownSku,
        Some((available, _)) => AdjustOutcome::Refused { available },
    })
}

fn stock((available, reserved, sold, total): (i64, i64, i64, i64)) -> SkuStock {
    SkuStock {
        available,
        reserved,
        sold,
        total,
    }
}

pub(crate) async fn sku(
    connection: &mut PgConnection,
    sku: &str,
) -> Result<Option<SkuStock>, EngineError> {
    let row: Option<(i64, i64, i64, i64)> =
        sqlx::query_as("SELECT available, reserved, sold, total FROM skus WHERE sku = $1")
            .bind(sku)
            .fetch_optional(connection)
            .await
            .map_err(|error| unavailable(&error))?;
    Ok(row.map(stock))
}

pub(crate) async fn snapshot(
    connection: &mut PgConnection,
) -> Result<BTreeMap<String, SkuStock>, EngineError> {
    let rows: Vec<(String, i64, i64, i64, i64)> =
        sqlx::query_as("SELECT sku, available, reserved, sold, total FROM skus")
            .fetch_all(connection)
            .await
            .map_err(|error| unavailable(&error))?;
    Ok(rows
        .into_iter()
        .map(|(sku, available, reserved, sold, total)| {
            (sku, stock((available, reserved, sold, total)))
        })
        .collect())
}

/// A reservation with its items (sorted by SKU); `lock` takes its row lock
/// (`FOR UPDATE`) for the rest of the transaction.
pub(crate) async fn load_reservation_with(
    connection: &mut PgConnection,
    id: &ReservationId,
    lock: bool,
) -> Result<Option<Reservation>, EngineError> {
    let head: Option<(String, String, i64)> = sqlx::query_as(if lock {
        "SELECT idempotency_key, state, deadline_ms FROM reservations WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT idempotency_key, state, deadline_ms FROM reservations WHERE id = $1"
    })
    .bind(&id.0)
    .fetch_optional(&mut *connection)
    .await
    .map_err(|error| unavailable(&error))?;
    let Some((idempotency_key, state, deadline_ms)) = head else {
        return Ok(None);
    };
    let lines: Vec<(String, i64)> = sqlx::query_as(
        "SELECT sku, qty FROM reservation_items WHERE reservation_id = $1 ORDER BY sku",
    )
    .bind(&id.0)
    .fetch_all(connection)
    .await
    .map_err(|error| unavailable(&error))?;
    let state = state
        .parse::<ReservationState>()
        .map_err(|reason| EngineError::Protocol {
            store: "postgres",
            reason: format!("reservation {id}: {reason}"),
        })?;
    Ok(Some(Reservation {
        id: id.clone(),
        idempotency_key,
        state,
        items: lines
            .into_iter()
            .map(|(sku, qty)| CartLine { sku, qty })
            .collect(),
        deadline_ms,
    }))
}

pub(crate) async fn load_reservation(
    connection: &mut PgConnection,
    id: &ReservationId,
) -> Result<Option<Reservation>, EngineError> {
    load_reservation_with(connection, id, false).await
}

/// Held reservations due at `now_ms`, oldest deadline first, at most `limit`.
/// `skip_locked` takes their row locks and passes over rows another transaction
/// holds (a confirm in flight, another sweeper's batch).
pub(crate) async fn due(
    connection: &mut PgConnection,
    now_ms: i64,
    limit: usize,
    skip_locked: bool,
) -> Result<Vec<ReservationId>, EngineError> {
    let sql = if skip_locked {
        "SELECT id FROM reservations WHERE state = 'held' AND deadline_ms <= $1
          ORDER BY deadline_ms LIMIT $2 FOR UPDATE SKIP LOCKED"
    } else {
        "SELECT id FROM reservations WHERE state = 'held' AND deadline_ms <= $1
          ORDER BY deadline_ms LIMIT $2"
    };
    let rows: Vec<(String,)> = sqlx::query_as(sql)
        .bind(now_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(connection)
        .await
        .map_err(|error| unavailable(&error))?;
    Ok(rows.into_iter().map(|(id,)| ReservationId(id)).collect())
}

/// Held reservations due at `now_ms` (after a sweep: what is left for the next).
pub(crate) async fn due_count(
    connection: &mut PgConnection,
    now_ms: i64,
) -> Result<u64, EngineError> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM reservations WHERE state = 'held' AND deadline_ms <= $1",
    )
    .bind(now_ms)
    .fetch_one(connection)
    .await
    .map_err(|error| unavailable(&error))?;
    Ok(u64::try_from(count).unwrap_or(0))
}
