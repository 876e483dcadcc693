//! The reconciler (DESIGN §4): compares, per SKU, four accounts of the same stock and
//! reports every disagreement as a typed [`Drift`]:
//! - the Redis hash (live state);
//! - the Postgres `skus` projection;
//! - the Postgres ledger replayed from seq 1 (compared with the projection, which the
//!   writer updates in the same transaction);
//! - the ledger plus the events still only in the stream (compared with Redis), so a
//!   lagging or stopped writer is not a drift: the reconciler does not wait for the
//!   writer to drain; it reads the stream tail instead;
//!
//! and the sum of Held reservation items (= `reserved`, in Redis and in Postgres). It
//! also checks the seqs (ledger gap-free from 1; ledger + stream reaching Redis `seq`),
//! the invariant of every stock it reads, and the Held reservations themselves
//! (Redis and ledger agree on which are Held, with which items and deadline).
//!
//! Postgres is read before Redis: the writer only moves events from the stream into
//! the ledger, so no event falls between the two reads unless it was also trimmed;
//! that race shows up as a hole between ledger and stream, and the snapshot is retried
//! ([`SNAPSHOT_ATTEMPTS_MAX`]). Under load, events after the Redis snapshot are simply
//! not in it. Not checked here: terminal reservations (kept in Redis only for the
//! retention) and the history of operations (the harness's checks do that).
//! [`Reconciler::repair`] (in `reconciler/repair.rs`) fixes what can be fixed.

mod postgres_only;
mod repair;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use redis::aio::MultiplexedConnection;
use sqlx::PgPool;

use crate::keys::ShopKeys;
use crate::ledger::{LedgerError, LedgerFold};
use stockproof_model::SkuStock;

pub use repair::{Adjustment, RepairReport};
pub use snapshot::{
    HeldView, LEDGER_PAGE_EVENTS_MAX, PostgresSnapshot, RedisHeld, RedisSnapshot,
    STREAM_TAIL_EVENTS_MAX, format_items, parse_items,
};

/// Snapshots taken before reporting a hole between ledger and stream: a hole can be a
/// batch committed, acked and trimmed between the Postgres and the Redis read.
pub const SNAPSHOT_ATTEMPTS_MAX: usize = 3;

/// Where a value was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The SKU hash / reservation hashes in Redis.
    Redis,
    /// The Postgres `skus` / `reservations` tables.
    Projection,
    /// The Postgres ledger replayed from seq 1.
    Ledger,
    /// The ledger plus the events still only in the stream.
    LedgerAndStream,
    /// Σ items of Held reservations in Redis.
    RedisHeldItems,
    /// Σ items of Held reservations in Postgres.
    ProjectionHeldItems,
}

impl fmt::Display for Source {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Source::Redis => "redis",
            Source::Projection => "projection",
            Source::Ledger => "ledger",
            Source::LedgerAndStream => "ledger+stream",
            Source::RedisHeldItems => "redis held items",
            Source::ProjectionHeldItems => "projection held items",
        })
    }
}

/// One disagreement. Each names what it is about and the value of every source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// Sources disagree on one field of one SKU (`None`: the source has no such SKU).
    Stock {
        sku: String,
        field: &'static str,
        values: Vec<(Source, Option<i64>)>,
    },
    /// A source's stock breaks `available + reserved + sold = total` or goes negative.
    Invariant {
        sku: String,
        source: Source,
        violation: String,
    },
    /// Sources disagree about a Held reservation (`field`: `held`, `items`,
    /// `deadline_ms`, `idempotency_key`, `state`).
    Reservation {
        id: String,
        field: &'static str,
        values: Vec<(Source, String)>,
    },
    /// Seqs `first..=last` are in no source that should hold them.
    SeqGap {
        source: Source,
        first: i64,
        last: i64,
    },
    /// Redis `seq` is not the highest event seq of ledger + stream.
    Seq {
        redis_seq: i64,
        ledger_max_seq: i64,
        stream_max_seq: i64,
    },
    /// The stream holds more than the snapshot reads; Redis was not compared.
    StreamTooLong { entries_read: usize },
}

impl fmt::Display for Drift {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Stock { sku, field, values } => {
                write!(formatter, "sku `{sku}` {field}:")?;
                for (source, value) in values {
                    match value {
                        Some(value) => write!(formatter, " {source}={value}")?,
                        None => write!(formatter, " {source}=missing")?,
                    }
                }
                Ok(())
            }
            Drift::Invariant {
                sku,
                source,
                violation,
            } => write!(formatter, "sku `{sku}` in {source}: {violation}"),
            Drift::Reservation { id, field, values } => {
                write!(formatter, "reservation `{id}` {field}:")?;
                for (source, value) in values {
                    write!(formatter, " {source}=`{value}`")?;
                }
                Ok(())
            }
            Drift::SeqGap {
                source,
                first,
                last,
            } => write!(formatter, "{source} is missing seqs {first}..={last}"),
            Drift::Seq {
                redis_seq,
                ledger_max_seq,
                stream_max_seq,
            } => write!(
                formatter,
                "redis seq is {redis_seq}, but the ledger ends at {ledger_max_seq} and the \
                 stream at {stream_max_seq}"
            ),
            Drift::StreamTooLong { entries_read } => write!(
                formatter,
                "the stream holds more than {entries_read} unwritten entries; redis was not \
                 compared (is the ledger writer running?)"
            ),
        }
    }
}

/// What one reconciliation found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReconcileReport {
    pub drifts: Vec<Drift>,
    pub skus_compared: usize,
    pub held_reservations: usize,
    pub redis_seq: i64,
    pub ledger_max_seq: i64,
    /// Events still only in the stream (the writer's lag at the snapshot).
    pub stream_only_events: usize,
}

impl ReconcileReport {
    pub fn is_clean(&self) -> bool {
        self.drifts.is_empty()
    }
}

/// Compares one shop's Redis and Postgres.
#[derive(Debug, Clone)]
pub struct Reconciler {
    redis: MultiplexedConnection,
    pool: PgPool,
    keys: ShopKeys,
}

/// Both sides, read for one comparison.
pub(crate) struct Snapshots {
    pub(crate) postgres: PostgresSnapshot,
    pub(crate) redis: RedisSnapshot,
    /// `postgres.ledger` plus the stream events after it.
    pub(crate) full: LedgerFold,
}

impl Reconciler {
    pub fn new(redis: MultiplexedConnection, pool: PgPool, keys: ShopKeys) -> Reconciler {
        Reconciler { redis, pool, keys }
    }

    /// A Postgres-only strategy's stores (`pg-row-lock`, `pg-optimistic`): no Redis,
    /// no stream (see `postgres_only`).
    pub async fn reconcile_postgres_only(pool: &PgPool) -> Result<ReconcileReport, LedgerError> {
        let postgres = snapshot::read_postgres(pool).await?;
        Ok(postgres_only::compare(&postgres))
    }

    /// Reads both stores and reports every drift.
    pub async fn reconcile(&mut self) -> Result<ReconcileReport, LedgerError> {
        let snapshots = self.snapshots().await?;
        Ok(compare(&snapshots))
    }

    pub(crate) async fn snapshots(&mut self) -> Result<Snapshots, LedgerError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let postgres = snapshot::read_postgres(&self.pool).await?;
            let Some(redis) = snapshot::read_redis(&mut self.redis, &self.keys).await? else {
                if attempt >= SNAPSHOT_ATTEMPTS_MAX {
                    return Err(LedgerError::GaveUp {
                        what: "a Redis snapshot while SKUs and reservations kept changing"
                            .to_owned(),
                        waited_ms: 0,
                    });
                }
                continue;
            };
            let full = fold_stream(&postgres.ledger, &redis);
            let hole = full.gaps.len() > postgres.ledger.gaps.len() || full.max_seq < redis.seq;
            if !hole || attempt >= SNAPSHOT_ATTEMPTS_MAX {
                return Ok(Snapshots {
                    postgres,
                    redis,
                    full,
                });
            }
        }
    }
}

/// The ledger fold continued with the stream events after the ledger's end.
fn fold_stream(ledger: &LedgerFold, redis: &RedisSnapshot) -> LedgerFold {
    let mut full = ledger.clone();
    let mut tail: Vec<_> = redis
        .stream
        .iter()
        .filter(|event| event.seq > ledger.max_seq)
        .collect();
    tail.sort_by_key(|event| event.seq);
    for event in tail {
        full.apply(event);
    }
    full.finish()
}

/// Every drift between the snapshots.
pub(crate) fn compare(snapshots: &Snapshots) -> ReconcileReport {
    let Snapshots {
        postgres,
        redis,
        full,
    } = snapshots;
    let ledger = &postgres.ledger;
    let mut drifts = seq_drifts(ledger, full, redis);
    let redis_stocks: BTreeMap<String, SkuStock> = redis
        .stocks
        .iter()
        .filter_map(|(sku, stock)| stock.map(|stock| (sku.clone(), stock)))
        .collect();
    let redis_held_units = held_units(redis.held.values().map(|held| &held.view));
    let postgres_held_units = held_units(postgres.held.values());
    let skus: BTreeSet<&String> = redis
        .stocks
        .keys()
        .chain(postgres.projection.keys())
        .chain(full.stocks.keys())
        .collect();
    for sku in &skus {
        let accounts = [
            (Source::Redis, redis_stocks.get(*sku)),
            (Source::Projection, postgres.projection.get(*sku)),
            (Source::Ledger, ledger.stocks.get(*sku)),
            (Source::LedgerAndStream, full.stocks.get(*sku)),
        ];
        if !redis.stream_truncated {
            stock_drifts(sku, &accounts, &mut drifts);
        }
        for (source, stock) in accounts {
            invariant_drifts(sku, source, stock, &mut drifts);
        }
        let held_pairs = [
            (
                Source::Redis,
                redis_stocks.get(*sku),
                Source::RedisHeldItems,
                &redis_held_units,
            ),
            (
                Source::Projection,
                postgres.projection.get(*sku),
                Source::ProjectionHeldItems,
                &postgres_held_units,
            ),
        ];
        for (source, stock, items_source, units) in held_pairs {
            held_drift(sku, (source, stock), (items_source, units), &mut drifts);
        }
    }
    for sku in redis
        .stocks
        .iter()
        .filter(|(_, stock)| stock.is_none())
        .map(|(sku, _)| sku)
    {
        let values = vec![(Source::Redis, None)];
        drifts.push(Drift::Stock {
            sku: sku.clone(),
            field: "hash",
            values,
        });
    }
    reservation_drifts(snapshots, &mut drifts);
    if redis.stream_truncated {
        drifts.push(Drift::StreamTooLong {
            entries_read: redis.stream.len(),
        });
    }
    ReconcileReport {
        drifts,
        skus_compared: skus.len(),
        held_reservations: full.held().count(),
        redis_seq: redis.seq,
        ledger_max_seq: ledger.max_seq,
        stream_only_events: (full.max_seq - ledger.max_seq).max(0) as usize,
    }
}

/// `reserved` of one SKU against the sum of its Held reservation items.
fn held_drift(
    sku: &str,
    (source, stock): (Source, Option<&SkuStock>),
    (items_source, units): (Source, &BTreeMap<String, i64>),
    drifts: &mut Vec<Drift>,
) {
    let reserved = stock.map_or(0, |stock| stock.reserved);
    let held = units.get(sku).copied().unwrap_or(0);
    if reserved != held {
        drifts.push(Drift::Stock {
            sku: sku.to_owned(),
            field: "reserved",
            values: vec![(source, Some(reserved)), (items_source, Some(held))],
        });
    }
}

fn seq_drifts(ledger: &LedgerFold, full: &LedgerFold, redis: &RedisSnapshot) -> Vec<Drift> {
    let mut drifts: Vec<Drift> = ledger
        .gaps
        .iter()
        .map(|&(first, last)| Drift::SeqGap {
            source: Source::Ledger,
            first,
            last,
        })
        .collect();
    for &(first, last) in &full.gaps[ledger.gaps.len().min(full.gaps.len())..] {
        drifts.push(Drift::SeqGap {
            source: Source::LedgerAndStream,
            first,
            last,
        });
    }
    if full.max_seq < redis.seq && !redis.stream_truncated {
        drifts.push(Drift::SeqGap {
            source: Source::LedgerAndStream,
            first: full.max_seq + 1,
            last: redis.seq,
        });
    }
    if redis.seq != full.max_seq {
        drifts.push(Drift::Seq {
            redis_seq: redis.seq,
            ledger_max_seq: ledger.max_seq,
            stream_max_seq: redis
                .stream
                .iter()
                .map(|event| event.seq)
                .max()
                .unwrap_or(0),
        });
    }
    drifts
}

/// Reads one field of a stock.
type StockField = fn(&SkuStock) -> i64;
/// The fields every account of a SKU is compared on.
const STOCK_FIELDS: [(&str, StockField); 4] = [
    ("available", |stock| stock.available),
    ("reserved", |stock| stock.reserved),
    ("sold", |stock| stock.sold),
    ("total", |stock| stock.total),
];
/// Reads one field of a Held reservation, as text.
type HeldField = fn(&HeldView) -> String;

/// Projection vs ledger (Postgres, one transaction) and Redis vs ledger + stream; on a
/// disagreement every source's value is listed.
fn stock_drifts(sku: &str, accounts: &[(Source, Option<&SkuStock>); 4], drifts: &mut Vec<Drift>) {
    let [redis, projection, ledger, full] = accounts.map(|(_, stock)| stock);
    for (field, read) in STOCK_FIELDS {
        let value = |stock: Option<&SkuStock>| stock.map(read);
        let projection_drifts = value(projection) != value(ledger);
        let redis_drifts = value(redis) != value(full);
        if projection_drifts || redis_drifts {
            drifts.push(Drift::Stock {
                sku: sku.to_owned(),
                field,
                values: accounts
                    .iter()
                    .map(|(source, stock)| (*source, value(*stock)))
                    .collect(),
            });
        }
    }
}

fn invariant_drifts(sku: &str, source: Source, stock: Option<&SkuStock>, drifts: &mut Vec<Drift>) {
    let Some(stock) = stock else { return };
    for violation in stock.violations() {
        drifts.push(Drift::Invariant {
            sku: sku.to_owned(),
            source,
            violation: violation.to_string(),
        });
    }
}

fn held_units<'a>(held: impl Iterator<Item = &'a HeldView>) -> BTreeMap<String, i64> {
    let mut units = BTreeMap::new();
    for view in held {
        for line in &view.items {
            *units.entry(line.sku.clone()).or_insert(0) += line.qty;
        }
    }
    units
}

/// Held reservations: Redis (deadlines ZSET + hashes) vs ledger + stream, and the
/// Postgres `reservations` table vs the ledger.
fn reservation_drifts(snapshots: &Snapshots, drifts: &mut Vec<Drift>) {
    let redis_held: BTreeMap<&String, &HeldView> = snapshots
        .redis
        .held
        .iter()
        .map(|(id, held)| (id, &held.view))
        .collect();
    let full_held: BTreeMap<&String, HeldView> = fold_held(&snapshots.full);
    if !snapshots.redis.stream_truncated {
        compare_held(
            Source::Redis,
            &redis_held,
            Source::LedgerAndStream,
            &full_held,
            drifts,
        );
    }
    let projection_held: BTreeMap<&String, &HeldView> = snapshots.postgres.held.iter().collect();
    let ledger_held = fold_held(&snapshots.postgres.ledger);
    compare_held(
        Source::Projection,
        &projection_held,
        Source::Ledger,
        &ledger_held,
        drifts,
    );
    for (id, held) in &snapshots.redis.held {
        if held.state.as_deref() != Some("held") {
            drifts.push(Drift::Reservation {
                id: id.clone(),
                field: "state",
                values: vec![(Source::Redis, held.state.clone().unwrap_or_default())],
            });
        }
        if held.zset_deadline_ms != held.view.deadline_ms {
            drifts.push(Drift::Reservation {
                id: id.clone(),
                field: "deadline_ms",
                values: vec![
                    (Source::Redis, format!("zset {}", held.zset_deadline_ms)),
                    (Source::Redis, format!("hash {}", held.view.deadline_ms)),
                ],
            });
        }
    }
}

fn fold_held(fold: &LedgerFold) -> BTreeMap<&String, HeldView> {
    fold.held()
        .map(|(id, reservation)| {
            (
                id,
                HeldView {
                    idempotency_key: reservation.idempotency_key.clone(),
                    deadline_ms: reservation.deadline_ms,
                    items: reservation.items.clone(),
                },
            )
        })
        .collect()
}

fn compare_held<A: std::borrow::Borrow<HeldView>, B: std::borrow::Borrow<HeldView>>(
    a_source: Source,
    a: &BTreeMap<&String, A>,
    b_source: Source,
    b: &BTreeMap<&String, B>,
    drifts: &mut Vec<Drift>,
) {
    let ids: BTreeSet<&&String> = a.keys().chain(b.keys()).collect();
    for id in ids {
        let (a_view, b_view) = (
            a.get(*id).map(|v| v.borrow()),
            b.get(*id).map(|v| v.borrow()),
        );
        let (Some(a_view), Some(b_view)) = (a_view, b_view) else {
            let held = |view: Option<&HeldView>| if view.is_some() { "held" } else { "not held" };
            drifts.push(Drift::Reservation {
                id: (*id).to_string(),
                field: "held",
                values: vec![
                    (a_source, held(a_view).to_owned()),
                    (b_source, held(b_view).to_owned()),
                ],
            });
            continue;
        };
        let fields: [(&'static str, HeldField); 3] = [
            ("items", |view| format_items(&view.items)),
            ("deadline_ms", |view| view.deadline_ms.to_string()),
            ("idempotency_key", |view| view.idempotency_key.clone()),
        ];
        for (field, read) in fields {
            if read(a_view) != read(b_view) {
                drifts.push(Drift::Reservation {
                    id: (*id).to_string(),
                    field,
                    values: vec![(a_source, read(a_view)), (b_source, read(b_view))],
                });
            }
        }
    }
}
