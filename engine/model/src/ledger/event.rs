//! One ledger event: a change of one SKU, numbered by the shop's `seq`. The Lua scripts
//! write these as stream entries with the fields below (all strings); the writer parses
//! them back with [`LedgerEvent::from_fields`]. Replaying every event in seq order from
//! zero rebuilds every SKU's stock (DESIGN §4).
//!
//! Stream entry fields: `seq`, `kind`, `sku`, `qty`, `resv`, `key`, `deadline_ms`,
//! `at_ms`. `qty` is positive except for `adjust`, where it is the signed delta; `resv`,
//! `key` and `deadline_ms` are empty / 0 where the kind has none.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SkuStock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// available += qty, total += qty.
    Restock,
    /// available += qty, total += qty (qty signed).
    Adjust,
    /// available -= qty, reserved += qty; carries the reservation, key and deadline.
    Reserve,
    /// reserved -= qty, sold += qty.
    Confirm,
    /// reserved -= qty, available += qty.
    Release,
    /// reserved -= qty, available += qty (the sweeper).
    Expire,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::Restock,
        EventKind::Adjust,
        EventKind::Reserve,
        EventKind::Confirm,
        EventKind::Release,
        EventKind::Expire,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Restock => "restock",
            EventKind::Adjust => "adjust",
            EventKind::Reserve => "reserve",
            EventKind::Confirm => "confirm",
            EventKind::Release => "release",
            EventKind::Expire => "expire",
        }
    }

    /// Applies an event of this kind with `qty` to `stock` (the replay rule).
    pub fn apply(self, stock: &mut SkuStock, qty: i64) {
        match self {
            EventKind::Restock | EventKind::Adjust => {
                stock.available += qty;
                stock.total += qty;
            }
            EventKind::Reserve => {
                stock.available -= qty;
                stock.reserved += qty;
            }
            EventKind::Confirm => {
                stock.reserved -= qty;
                stock.sold += qty;
            }
            EventKind::Release | EventKind::Expire => {
                stock.reserved -= qty;
                stock.available += qty;
            }
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| format!("unknown ledger event kind `{text}`"))
    }
}

/// One event as it stands in the stream and in Postgres' `ledger` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEvent {
    pub seq: i64,
    pub kind: EventKind,
    pub sku: String,
    pub qty: i64,
    /// Reservation id (reserve / confirm / release / expire), else empty.
    pub reservation_id: String,
    /// Idempotency key (reserve), else empty.
    pub idempotency_key: String,
    /// Reservation deadline (reserve), else 0.
    pub deadline_ms: i64,
    /// Redis server time of the change.
    pub at_ms: i64,
}

impl LedgerEvent {
    /// Parses a stream entry's field/value pairs; names the field that is missing or bad.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<LedgerEvent, String> {
        let mut seq = None;
        let mut kind = None;
        let mut sku = None;
        let mut qty = None;
        let mut reservation_id = String::new();
        let mut idempotency_key = String::new();
        let mut deadline_ms = 0;
        let mut at_ms = None;
        let int = |name: &str, value: &str| {
            value
                .parse::<i64>()
                .map_err(|_| format!("field `{name}`: `{value}` is not an integer"))
        };
        for (name, value) in fields {
            match name {
                "seq" => seq = Some(int(name, value)?),
                "kind" => kind = Some(value.parse::<EventKind>()?),
                "sku" => sku = Some(value.to_owned()),
                "qty" => qty = Some(int(name, value)?),
                "resv" => reservation_id = value.to_owned(),
                "key" => idempotency_key = value.to_owned(),
                "deadline_ms" => deadline_ms = int(name, value)?,
                "at_ms" => at_ms = Some(int(name, value)?),
                _ => {} // forward compatible: unknown fields are ignored
            }
        }
        let missing = |name: &str| format!("field `{name}` missing");
        Ok(LedgerEvent {
            seq: seq.ok_or_else(|| missing("seq"))?,
            kind: kind.ok_or_else(|| missing("kind"))?,
            sku: sku.ok_or_else(|| missing("sku"))?,
            qty: qty.ok_or_else(|| missing("qty"))?,
            reservation_id,
            idempotency_key,
            deadline_ms,
            at_ms: at_ms.ok_or_else(|| missing("at_ms"))?,
        })
    }
}

/// Replays events (in any order of arrival; applied in seq order) into per-SKU stock.
pub fn replay<'a>(
    events: impl IntoIterator<Item = &'a LedgerEvent>,
) -> std::collections::BTreeMap<String, SkuStock> {
    let mut sorted: Vec<&LedgerEvent> = events.into_iter().collect();
    sorted.sort_by_key(|event| event.seq);
    let mut stocks = std::collections::BTreeMap::new();
    for event in sorted {
        let stock = stocks
            .entry(event.sku.clone())
            .or_insert_with(SkuStock::default);
        event.kind.apply(stock, event.qty);
    }
    stocks
}
