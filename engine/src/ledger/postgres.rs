//! The SQL of the ledger: one batch written in one transaction (ledger rows inserted
//! with `ON CONFLICT (seq) DO NOTHING`, then only the newly inserted rows applied to
//! `skus`, `reservations` and `reservation_items`, every statement batched with UNNEST),
//! and paged reads of the ledger for replay. Not here: the stream, retries, policy.

use std::collections::BTreeMap;

use sqlx::{PgConnection, PgPool, Row};

use super::error::LedgerError;
use crate::reservation::ReservationState;
use stockproof_model::SkuStock;
use stockproof_model::ledger::{EventKind, LedgerEvent};

/// Advisory lock key held by every batch transaction (and by repair): writers of one
/// shop apply batches one at a time, so "the ledger's max seq" read inside the
/// transaction is exact and a batch can be checked to continue it without a gap.
pub const LEDGER_LOCK_KEY: i64 = 0x5354_4f43_4b4c_4544; // "STOCKLED"

/// What one batch transaction did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchWrite {
    /// Seqs inserted by this transaction (applied to the projections), ascending.
    pub inserted: Vec<i64>,
    /// Events of the batch the ledger already held (a redelivery), identical.
    pub duplicates: usize,
}

/// Writes `events` (seq strictly increasing, checked by the caller) in one transaction.
/// Fails without writing anything when the new events would leave a gap after the
/// ledger's max seq, or when a seq already stored holds another event.
pub async fn write_batch(pool: &PgPool, events: &[LedgerEvent]) -> Result<BatchWrite, LedgerError> {
    write_batch_applying(pool, events, ApplyRows::Inserted).await
}

/// Which rows of a batch reach the projections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyRows {
    /// Only the rows this transaction inserted (the reference: exactly once).
    Inserted,
    /// Every row of the batch, redelivered ones too: the deliberately broken
    /// `non-idempotent-projection` writer (`crate::variants`).
    All,
    /// The inserted rows, to `reservations` only: the `dual-write` variant's engine
    /// writes the `skus` projection itself, in its request path.
    InsertedSkipSkus,
}

/// Begins a transaction that holds the ledger's advisory lock until it ends, so that
/// batch writes and projection rebuilds never interleave.
pub(crate) async fn begin_locked(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, LedgerError> {
    let mut transaction = pool
        .begin()
        .await
        .map_err(|error| LedgerError::postgres("BEGIN", error))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LEDGER_LOCK_KEY)
        .execute(&mut *transaction)
        .await
        .map_err(|error| LedgerError::postgres("pg_advisory_xact_lock", error))?;
    Ok(transaction)
}

/// [`write_batch`], choosing which rows are applied to the projections.
pub async fn write_batch_applying(
    pool: &PgPool,
    events: &[LedgerEvent],
    apply: ApplyRows,
) -> Result<BatchWrite, LedgerError> {
    let mut transaction = begin_locked(pool).await?;
    let ledger_max = max_seq(&mut transaction).await?;
    let mut inserted = insert_ledger_rows(&mut transaction, events).await?;
    inserted.sort_unstable();
    check_continues(ledger_max, &inserted)?;
    let (inserted_events, redelivered): (Vec<&LedgerEvent>, Vec<&LedgerEvent>) = events
        .iter()
        .partition(|event| inserted.binary_search(&event.seq).is_ok());
    check_same_as_stored(&mut transaction, &redelivered).await?;
    let new_events = match apply {
        ApplyRows::All => events.iter().collect(),
        ApplyRows::Inserted | ApplyRows::InsertedSkipSkus => inserted_events,
    };
    if apply != ApplyRows::InsertedSkipSkus {
        apply_skus(&mut transaction, &new_events).await?;
    }
    apply_reservations(&mut transaction, &new_events).await?;
    transaction
        .commit()
        .await
        .map_err(|error| LedgerError::postgres("COMMIT", error))?;
    Ok(BatchWrite {
        duplicates: events.len() - inserted.len(),
        inserted,
    })
}

/// The highest seq in the ledger (0 when empty).
pub async fn max_seq(connection: &mut PgConnection) -> Result<i64, LedgerError> {
    sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(seq), 0) FROM ledger")
        .fetch_one(connection)
        .await
        .map_err(|error| LedgerError::postgres("SELECT max(seq)", error))
}

async fn insert_ledger_rows(
    connection: &mut PgConnection,
    events: &[LedgerEvent],
) -> Result<Vec<i64>, LedgerError> {
    let column = |field: fn(&LedgerEvent) -> i64| events.iter().map(field).collect::<Vec<i64>>();
    let text = |field: fn(&LedgerEvent) -> &str| {
        events
            .iter()
            .map(|event| field(event).to_owned())
            .collect::<Vec<String>>()
    };
    sqlx::query_scalar::<_, i64>(
        "INSERT INTO ledger (seq, kind, sku, qty, reservation_id, idempotency_key, deadline_ms, at_ms)
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[], $5::text[],
                              $6::text[], $7::int8[], $8::int8[])
         ON CONFLICT (seq) DO NOTHING
         RETURNING seq",
    )
    .bind(column(|event| event.seq))
    .bind(text(|event| event.kind.as_str()))
    .bind(text(|event| &event.sku))
    .bind(column(|event| event.qty))
    .bind(text(|event| &event.reservation_id))
    .bind(text(|event| &event.idempotency_key))
    .bind(column(|event| event.deadline_ms))
    .bind(column(|event| event.at_ms))
    .fetch_all(connection)
    .await
    .map_err(|error| LedgerError::postgres("INSERT INTO ledger", error))
}

/// The newly inserted seqs must be exactly `ledger_max + 1 ..= ledger_max + n`.
pub(crate) fn check_continues(ledger_max: i64, inserted: &[i64]) -> Result<(), LedgerError> {
    for (offset, seq) in inserted.iter().enumerate() {
        let expected = ledger_max + 1 + offset as i64;
        if *seq != expected {
            return Err(LedgerError::Order {
                reason: format!(
                    "the ledger ends at seq {ledger_max}; the batch's new events start \
                     {expected} → found {seq} (an earlier event is still unwritten)"
                ),
            });
        }
    }
    Ok(())
}

/// Reads back the batch's events the ledger already held (a redelivery: none in the
/// usual batch, so no query) and compares them field by field: the same seq with other
/// content means Redis reused seqs, and the batch is refused. The second of the paired
/// checks (the first, order and parse, runs before the transaction). Rows this
/// transaction inserted are ours by construction and are not read back.
async fn check_same_as_stored(
    connection: &mut PgConnection,
    redelivered: &[&LedgerEvent],
) -> Result<(), LedgerError> {
    if redelivered.is_empty() {
        return Ok(());
    }
    let seqs: Vec<i64> = redelivered.iter().map(|event| event.seq).collect();
    let rows = sqlx::query(
        "SELECT seq, kind, sku, qty, reservation_id, idempotency_key, deadline_ms, at_ms
         FROM ledger WHERE seq = ANY($1) ORDER BY seq",
    )
    .bind(&seqs)
    .fetch_all(connection)
    .await
    .map_err(|error| LedgerError::postgres("SELECT ledger read-back", error))?;
    let stored: Vec<LedgerEvent> = rows.iter().map(event_from_row).collect::<Result<_, _>>()?;
    if stored.len() != redelivered.len() {
        return Err(LedgerError::Projection {
            reason: format!(
                "read back {} of the batch's {} events already in the ledger",
                stored.len(),
                redelivered.len()
            ),
        });
    }
    for (stored, streamed) in stored.iter().zip(redelivered) {
        if stored != *streamed {
            return Err(LedgerError::Diverged {
                seq: streamed.seq,
                stored: format!("{stored:?}"),
                streamed: format!("{streamed:?}"),
            });
        }
    }
    Ok(())
}

/// Applies the per-SKU sum of the new events' deltas: one row per SKU, so the
/// immediate CHECK constraints see only the batch's end state, which is a state the
/// ledger passed through (the batch continues the ledger in seq order).
pub(crate) async fn apply_skus(
    connection: &mut PgConnection,
    events: &[&LedgerEvent],
) -> Result<(), LedgerError> {
    let mut deltas: BTreeMap<&str, (SkuStock, i64)> = BTreeMap::new();
    for event in events {
        let (delta, last_seq) = deltas.entry(event.sku.as_str()).or_default();
        event.kind.apply(delta, event.qty);
        *last_seq = (*last_seq).max(event.seq);
    }
    if deltas.is_empty() {
        return Ok(());
    }
    let skus: Vec<String> = deltas.keys().map(|sku| (*sku).to_owned()).collect();
    let field = |pick: fn(&(SkuStock, i64)) -> i64| deltas.values().map(pick).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO skus (sku, available, reserved, sold, total, last_seq)
         SELECT sku, 0, 0, 0, 0, 0 FROM UNNEST($1::text[]) AS new(sku)
         ON CONFLICT (sku) DO NOTHING",
    )
    .bind(&skus)
    .execute(&mut *connection)
    .await
    .map_err(|error| LedgerError::postgres("INSERT INTO skus", error))?;
    let updated = sqlx::query(
        "UPDATE skus SET available = skus.available + delta.available,
                         reserved = skus.reserved + delta.reserved,
                         sold = skus.sold + delta.sold,
                         total = skus.total + delta.total,
                         last_seq = GREATEST(skus.last_seq, delta.last_seq)
         FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[])
              AS delta(sku, available, reserved, sold, total, last_seq)
         WHERE skus.sku = delta.sku",
    )
    .bind(&skus)
    .bind(field(|(delta, _)| delta.available))
    .bind(field(|(delta, _)| delta.reserved))
    .bind(field(|(delta, _)| delta.sold))
    .bind(field(|(delta, _)| delta.total))
    .bind(field(|(_, last_seq)| *last_seq))
    .execute(&mut *connection)
    .await
    .map_err(|error| LedgerError::postgres("UPDATE skus", error))?
    .rows_affected();
    if updated != skus.len() as u64 {
        return Err(LedgerError::Projection {
            reason: format!("updated {updated} of {} sku rows", skus.len()),
        });
    }
    Ok(())
}

/// A reservation as the new reserve events of one batch describe it.
#[derive(Debug, Default)]
struct NewReservation {
    idempotency_key: String,
    deadline_ms: i64,
    created_ms: i64,
    last_seq: i64,
}

/// Inserts reservations and items from reserve events, then applies terminal events
/// (after: a reservation's terminal events always follow all its reserve events).
pub(crate) async fn apply_reservations(
    connection: &mut PgConnection,
    events: &[&LedgerEvent],
) -> Result<(), LedgerError> {
    let mut reserved: BTreeMap<&str, NewReservation> = BTreeMap::new();
    let mut items: Vec<(&str, &str, i64)> = Vec::new();
    // Reservation id → (state, at_ms, last_seq) of its latest terminal event.
    let mut terminal: BTreeMap<&str, (&'static str, i64, i64)> = BTreeMap::new();
    for event in events {
        let id = event.reservation_id.as_str();
        match event.kind {
            EventKind::Reserve => {
                let reservation = reserved.entry(id).or_insert_with(|| NewReservation {
                    idempotency_key: event.idempotency_key.clone(),
                    deadline_ms: event.deadline_ms,
                    created_ms: event.at_ms,
                    last_seq: event.seq,
                });
                reservation.last_seq = reservation.last_seq.max(event.seq);
                items.push((id, event.sku.as_str(), event.qty));
            }
            EventKind::Confirm | EventKind::Release | EventKind::Expire => {
                let state = terminal_state(event.kind).as_str();
                let entry = terminal.entry(id).or_insert((state, 0, 0));
                if event.seq > entry.2 {
                    *entry = (state, event.at_ms, event.seq);
                }
            }
            EventKind::Restock | EventKind::Adjust => {}
        }
    }
    insert_reservations(connection, &reserved, &items).await?;
    update_terminal(connection, &terminal).await
}

/// The state a terminal event leaves its reservation in.
fn terminal_state(kind: EventKind) -> ReservationState {
    match kind {
        EventKind::Confirm => ReservationState::Confirmed,
        EventKind::Release => ReservationState::Released,
        _ => ReservationState::Expired,
    }
}

async fn insert_reservations(
    connection: &mut PgConnection,
    reserved: &BTreeMap<&str, NewReservation>,
    items: &[(&str, &str, i64)],
) -> Result<(), LedgerError> {
    if reserved.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = reserved.keys().map(|id| (*id).to_owned()).collect();
    sqlx::query(
        "INSERT INTO reservations
             (id, idempotency_key, state, deadline_ms, created_ms, terminal_at_ms, last_seq)
         SELECT id, key, 'held', deadline_ms, created_ms, NULL, last_seq
         FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[])
              AS new(id, key, deadline_ms, created_ms, last_seq)
         ON CONFLICT (id) DO UPDATE
             SET last_seq = GREATEST(reservations.last_seq, EXCLUDED.last_seq)",
    )
    .bind(&ids)
    .bind(
        reserved
            .values()
            .map(|reservation| reservation.idempotency_key.clone())
            .collect::<Vec<_>>(),
    )
    .bind(reserved.values().map(|r| r.deadline_ms).collect::<Vec<_>>())
    .bind(reserved.values().map(|r| r.created_ms).collect::<Vec<_>>())
    .bind(reserved.values().map(|r| r.last_seq).collect::<Vec<_>>())
    .execute(&mut *connection)
    .await
    .map_err(|error| LedgerError::postgres("INSERT INTO reservations", error))?;
    sqlx::query(
        "INSERT INTO reservation_items (reservation_id, sku, qty)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[])",
    )
    .bind(
        items
            .iter()
            .map(|item| item.0.to_owned())
            .collect::<Vec<_>>(),
    )
    .bind(
        items
            .iter()
            .map(|item| item.1.to_owned())
            .collect::<Vec<_>>(),
    )
    .bind(items.iter().map(|item| item.2).collect::<Vec<_>>())
    .execute(&mut *connection)
    .await
    .map_err(|error| LedgerError::postgres("INSERT INTO reservation_items", error))?;
    Ok(())
}

async fn update_terminal(
    connection: &mut PgConnection,
    terminal: &BTreeMap<&str, (&'static str, i64, i64)>,
) -> Result<(), LedgerError> {
    if terminal.is_empty() {
        return Ok(());
    }
    let updated = sqlx::query(
        "UPDATE reservations SET state = t.state, terminal_at_ms = t.at_ms,
                                 last_seq = GREATEST(reservations.last_seq, t.last_seq)
         FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[]) AS t(id, state, at_ms, last_seq)
         WHERE reservations.id = t.id",
    )
    .bind(terminal.keys().map(|id| (*id).to_owned()).collect::<Vec<_>>())
    .bind(terminal.values().map(|t| t.0.to_owned()).collect::<Vec<_>>())
    .bind(terminal.values().map(|t| t.1).collect::<Vec<_>>())
    .bind(terminal.values().map(|t| t.2).collect::<Vec<_>>())
    .execute(&mut *connection)
    .await
    .map_err(|error| LedgerError::postgres("UPDATE reservations", error))?
    .rows_affected();
    if updated != terminal.len() as u64 {
        return Err(LedgerError::Projection {
            reason: format!(
                "{} terminal events name reservations the ledger never reserved",
                terminal.len() as u64 - updated
            ),
        });
    }
    Ok(())
}

/// Up to `limit` ledger events with seq > `after_seq`, in seq order.
pub async fn ledger_page(
    connection: &mut PgConnection,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<LedgerEvent>, LedgerError> {
    let rows = sqlx::query(
        "SELECT seq, kind, sku, qty, reservation_id, idempotency_key, deadline_ms, at_ms
         FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after_seq)
    .bind(limit)
    .fetch_all(connection)
    .await
    .map_err(|error| LedgerError::postgres("SELECT ledger page", error))?;
    rows.iter().map(event_from_row).collect()
}

fn event_from_row(row: &sqlx::postgres::PgRow) -> Result<LedgerEvent, LedgerError> {
    let get_error = |error| LedgerError::postgres("reading a ledger row", error);
    let seq: i64 = row.try_get("seq").map_err(get_error)?;
    let kind: String = row.try_get("kind").map_err(get_error)?;
    Ok(LedgerEvent {
        seq,
        kind: kind.parse().map_err(|reason| LedgerError::Projection {
            reason: format!("ledger row {seq}: {reason}"),
        })?,
        sku: row.try_get("sku").map_err(get_error)?,
        qty: row.try_get("qty").map_err(get_error)?,
        reservation_id: row.try_get("reservation_id").map_err(get_error)?,
        idempotency_key: row.try_get("idempotency_key").map_err(get_error)?,
        deadline_ms: row.try_get("deadline_ms").map_err(get_error)?,
        at_ms: row.try_get("at_ms").map_err(get_error)?,
    })
}
