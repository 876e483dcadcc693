//! The history of a run (DESIGN §7): one [`HistoryEntry`] per operation the harness
//! sent (and per fault it injected), with its arguments, invoke and complete times in
//! µs since the run started, its outcome (`ok | fail | unknown`), HTTP status and the
//! parsed response body. Stored as `history.jsonl.zst` (zstd; older folders and other
//! tools: plain `history.jsonl`, see `file`): a header line
//! `{"format":"stockproof-history","version":1,...}` then one entry per line, in the
//! order the harness recorded them (completion order, roughly).
//!
//! This module is the data and its file format only: the harness's load driver (or any
//! other load tool) fills it, the checks read it. It does no HTTP and knows nothing of
//! goose. In memory a [`History`] folds its plain refusals compactly (`refusals`);
//! [`History::ops`] gives every op back.

use std::borrow::Cow;
use std::path::PathBuf;

use rustc_hash::FxHashSet;

use serde::{Deserialize, Serialize};
use stockproof_model::{CartLine, ReservationId, ReservationState, SkuStock};

/// The `format` field of the header line.
pub const HISTORY_FORMAT: &str = "stockproof-history";
/// The version this build writes and reads. Bumped on any incompatible change.
pub const HISTORY_VERSION: u32 = 1;

/// Op ids are unique within a run and increase in the order ops were invoked by one user.
pub type OpId = u64;

/// The first line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryHeader {
    pub format: String,
    pub version: u32,
    /// The scenario's `name`.
    pub scenario: String,
    pub seed: u64,
    /// Wall clock (ms since the Unix epoch) at the run's time zero, so that reservation
    /// deadlines (Redis server time, epoch ms) can be placed on the history's time axis.
    /// The harness and a local Redis share the machine's clock.
    pub started_at_unix_ms: i64,
    /// The engine's idempotency retention for this run (a retry later than this may
    /// legitimately create a new reservation).
    pub idempotency_retention_ms: i64,
    /// Whether the target's replies tell a replayed reserve from a fresh one (its
    /// adapter has a `replayed` rule for reserve): then every acknowledged reserve that
    /// is not marked [`Response::replayed`] took a fresh hold, and C3 holds a retained
    /// key to one fresh hold. Absent in older histories: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replays_told_apart: bool,
    /// Whether the target ignores the TTL a reserve sends (its adapter lacks `ttl`):
    /// then a hold whose reply was lost may last to the end of the run, not only for
    /// its TTL. Absent in older histories: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ttl_ignored: bool,
}

impl HistoryHeader {
    pub fn new(
        scenario: &str,
        seed: u64,
        started_at_unix_ms: i64,
        idempotency_retention_ms: i64,
    ) -> HistoryHeader {
        HistoryHeader {
            format: HISTORY_FORMAT.to_owned(),
            version: HISTORY_VERSION,
            scenario: scenario.to_owned(),
            seed,
            started_at_unix_ms,
            idempotency_retention_ms,
            replays_told_apart: false,
            ttl_ignored: false,
        }
    }

    /// How long (µs) a hold taken by a reserve sent with `ttl_ms` may last, unless
    /// confirmed or released: its TTL, or for ever where the target ignores TTLs.
    pub fn hold_lasts_us(&self, ttl_ms: i64) -> i64 {
        match self.ttl_ignored {
            true => i64::MAX / 4,
            false => ttl_ms.max(0).saturating_mul(1000),
        }
    }
}

/// What was asked: the operation and its arguments, tagged by `kind` (read by
/// `op_fields`, in one pass).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Op {
    Restock {
        sku: String,
        qty: i64,
    },
    Adjust {
        sku: String,
        delta: i64,
    },
    Reserve {
        key: String,
        /// The cart as sent (lines naming one SKU twice are kept as sent).
        items: Vec<CartLine>,
        ttl_ms: i64,
    },
    Confirm {
        reservation: ReservationId,
    },
    Release {
        reservation: ReservationId,
    },
    GetSku {
        sku: String,
    },
    GetReservation {
        reservation: ReservationId,
    },
    /// A fault the harness injected (kill, pause, partition); not an HTTP call.
    Fault {
        description: String,
    },
}

/// The kinds of [`Op`], for histograms, SLOs and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Restock,
    Adjust,
    Reserve,
    Confirm,
    Release,
    GetSku,
    GetReservation,
    Fault,
}

impl OpKind {
    pub const ALL: [OpKind; 8] = [
        OpKind::Restock,
        OpKind::Adjust,
        OpKind::Reserve,
        OpKind::Confirm,
        OpKind::Release,
        OpKind::GetSku,
        OpKind::GetReservation,
        OpKind::Fault,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            OpKind::Restock => "restock",
            OpKind::Adjust => "adjust",
            OpKind::Reserve => "reserve",
            OpKind::Confirm => "confirm",
            OpKind::Release => "release",
            OpKind::GetSku => "get_sku",
            OpKind::GetReservation => "get_reservation",
            OpKind::Fault => "fault",
        }
    }

    pub fn parse(text: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Op {
    pub const fn kind(&self) -> OpKind {
        match self {
            Op::Restock { .. } => OpKind::Restock,
            Op::Adjust { .. } => OpKind::Adjust,
            Op::Reserve { .. } => OpKind::Reserve,
            Op::Confirm { .. } => OpKind::Confirm,
            Op::Release { .. } => OpKind::Release,
            Op::GetSku { .. } => OpKind::GetSku,
            Op::GetReservation { .. } => OpKind::GetReservation,
            Op::Fault { .. } => OpKind::Fault,
        }
    }
}

/// What the harness learnt of an op's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A 2xx reply: the effect happened (or had happened: a replay).
    Ok,
    /// A reply the contract says changed nothing (4xx, 503).
    Fail,
    /// No usable reply (timeout, connection reset, 5xx other than 503): the effect may or
    /// may not have happened.
    Unknown,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        }
    }
}

/// The parsed response body; every field is optional because each endpoint returns a
/// different subset (DESIGN §6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// The reservation id (`id` in reservation bodies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<ReservationId>,
    /// Reservation state (replies to reserve / confirm / release / get, and `not_held`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ReservationState>,
    /// Reservation deadline, Redis server time in ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<i64>,
    /// The service answered this reserve as a replay of an earlier one (its adapter's
    /// `replayed` rule), not as a fresh hold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
    /// The reservation's merged items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<CartLine>>,
    /// A SKU's stock (`GET /v1/skus/{sku}`, restock, adjust).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<SkuStock>,
    /// A SKU read from a service that exposes only some of the four fields (its adapter
    /// declares the others absent); `None` when `stock` has them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_fields: Option<StockFields>,
    /// The `error` of a refusal (`insufficient_stock`, `not_held`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The SKU a refusal names (`insufficient_stock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Units available of `sku` when refused (`insufficient_stock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<i64>,
}

/// Some or all of a SKU's stock fields, as a read or a store carries them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sold: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Units on the shelf, held or not: available + reserved = total − sold. What many
    /// services call their "total" when they keep no `sold` (units leave the stock when
    /// an order is paid or shipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_hand: Option<i64>,
}

impl StockFields {
    /// `(field, value)` of every field present.
    pub fn present(&self) -> impl Iterator<Item = (&'static str, i64)> {
        [
            ("available", self.available),
            ("reserved", self.reserved),
            ("sold", self.sold),
            ("total", self.total),
            ("on_hand", self.on_hand),
        ]
        .into_iter()
        .filter_map(|(field, value)| Some((field, value?)))
    }

    pub fn is_empty(&self) -> bool {
        self.present().next().is_none()
    }
}

/// Which stock fields the judged reads (or stores) carried, so that a check can say
/// which it could not judge: a service that does not expose `sold`, say.
#[derive(Debug, Clone, Copy, Default)]
pub struct FieldsSeen {
    /// A read with any field at all was judged.
    any: bool,
    seen: StockFields,
}

impl FieldsSeen {
    pub fn add(&mut self, stock: &StockFields) {
        self.any = true;
        let seen = &mut self.seen;
        for (slot, value) in [
            (&mut seen.available, stock.available),
            (&mut seen.reserved, stock.reserved),
            (&mut seen.sold, stock.sold),
            (&mut seen.total, stock.total),
            (&mut seen.on_hand, stock.on_hand),
        ] {
            if value.is_some() {
                *slot = Some(0);
            }
        }
    }

    /// `"… carry no sold, total: those fields were not judged"`, when some were never
    /// seen in what was judged; `None` when every field was (or nothing was judged).
    pub fn note(&self, what: &str) -> Option<String> {
        let seen: Vec<&str> = self.seen.present().map(|(field, _)| field).collect();
        let missing: Vec<&str> = ["available", "reserved", "sold", "total"]
            .into_iter()
            .filter(|field| !seen.contains(field))
            .collect();
        let how = match seen.contains(&"on_hand") {
            true => "judged only through on_hand (= total − sold)",
            false => "not judged (the service does not expose them)",
        };
        (self.any && !missing.is_empty()).then(|| {
            format!(
                "{what} carry no {}: those fields were {how}",
                missing.join(", ")
            )
        })
    }
}

impl From<SkuStock> for StockFields {
    fn from(stock: SkuStock) -> StockFields {
        StockFields {
            available: Some(stock.available),
            reserved: Some(stock.reserved),
            sold: Some(stock.sold),
            total: Some(stock.total),
            on_hand: None,
        }
    }
}

impl Response {
    /// The stock fields a SKU read carries: all four, or those a partial read has.
    pub fn read_fields(&self) -> Option<StockFields> {
        self.stock.map(StockFields::from).or(self.stock_fields)
    }
}

/// One recorded operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    pub id: OpId,
    /// The shopper (goose user, from 1) that sent it; `None` for the harness itself
    /// (seeding, scheduled restocks, final reads after quiesce, faults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<u32>,
    pub op: Op,
    /// When the op should have started (open model: its slot in the arrival schedule);
    /// equals `invoke_us` in the closed model. Latency corrected for coordinated
    /// omission is measured from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended_us: Option<u64>,
    /// µs since run start when the request was sent.
    pub invoke_us: u64,
    /// µs since run start when the reply arrived (or the client gave up).
    pub complete_us: u64,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    /// This op re-sends the request of op `retry_of` (same idempotency key or same
    /// transition): a duplicate or a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<OpId>,
}

impl HistoryEntry {
    /// The reservation this op names or was told about.
    pub fn reservation(&self) -> Option<&ReservationId> {
        match &self.op {
            Op::Confirm { reservation }
            | Op::Release { reservation }
            | Op::GetReservation { reservation } => Some(reservation),
            _ => self.response.as_ref()?.reservation.as_ref(),
        }
    }

    pub fn latency_us(&self) -> u64 {
        self.complete_us.saturating_sub(self.invoke_us)
    }

    /// Latency from the intended start (coordinated omission corrected).
    pub fn corrected_latency_us(&self) -> u64 {
        self.complete_us
            .saturating_sub(self.intended_us.unwrap_or(self.invoke_us))
    }
}

/// One line, the compact form the check tests use:
/// `812 u3 10.000-10.500ms ok reserve k1 a-01:1 ttl=1000 -> 201 id=r1 state=held`.
impl std::fmt::Display for HistoryEntry {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self
            .user
            .map_or_else(|| "-".to_owned(), |user| format!("u{user}"));
        write!(
            formatter,
            "{} {user} {:.3}-{:.3}ms {} {}",
            self.id,
            self.invoke_us as f64 / 1000.0,
            self.complete_us as f64 / 1000.0,
            self.outcome.as_str(),
            self.op
        )?;
        if let Some(retry_of) = self.retry_of {
            write!(formatter, " retry={retry_of}")?;
        }
        if self.status.is_some() || self.response.is_some() {
            formatter.write_str(" ->")?;
        }
        write_reply(formatter, self.status, self.response.as_ref())
    }
}

/// The op and its arguments: `reserve k1 a-01:1,b:2 ttl=1000`.
impl std::fmt::Display for Op {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.kind().as_str())?;
        match self {
            Op::Restock { sku, qty } => write!(formatter, " {sku} {qty}"),
            Op::Adjust { sku, delta } => write!(formatter, " {sku} {delta}"),
            Op::Reserve { key, items, ttl_ms } => {
                let lines: Vec<String> = items
                    .iter()
                    .map(|line| format!("{}:{}", line.sku, line.qty))
                    .collect();
                write!(formatter, " {key} {} ttl={ttl_ms}", lines.join(","))
            }
            Op::Confirm { reservation }
            | Op::Release { reservation }
            | Op::GetReservation { reservation } => write!(formatter, " {reservation}"),
            Op::GetSku { sku } => write!(formatter, " {sku}"),
            Op::Fault { description } => write!(formatter, " {description}"),
        }
    }
}

/// ` 201 id=r1 state=held …`: a reply's status and the response fields present.
pub fn write_reply(
    formatter: &mut impl std::fmt::Write,
    status: Option<u16>,
    response: Option<&Response>,
) -> std::fmt::Result {
    if let Some(status) = status {
        write!(formatter, " {status}")?;
    }
    if let Some(body) = response {
        let fields = [
            body.reservation.as_ref().map(|id| format!("id={id}")),
            body.state.map(|state| format!("state={state}")),
            body.replayed.then(|| "replayed".to_owned()),
            body.deadline_ms
                .map(|deadline| format!("deadline={deadline}")),
            body.error.as_ref().map(|error| format!("error={error}")),
            body.sku.as_ref().map(|sku| format!("sku={sku}")),
            body.available
                .map(|available| format!("available={available}")),
            body.stock.map(|stock| {
                format!(
                    "stock={}/{}/{}/{}",
                    stock.available, stock.reserved, stock.sold, stock.total
                )
            }),
            body.stock_fields.map(|fields| {
                let shown: Vec<String> = fields
                    .present()
                    .map(|(field, value)| format!("{field}:{value}"))
                    .collect();
                format!("fields={}", shown.join(","))
            }),
        ];
        for field in fields.into_iter().flatten() {
            write!(formatter, " {field}")?;
        }
    }
    Ok(())
}

/// A whole history in memory: its entries, except the plain refusals a history read
/// from a file keeps compactly in `refusals` (most of a flash sale's ops). Code that
/// needs every op iterates [`History::ops`]; `entries` alone suits code that looks only
/// at acknowledged ops, unknown outcomes, reads, retries or harness ops, which are
/// never folded.
#[derive(Debug, Clone)]
pub struct History {
    pub header: HistoryHeader,
    pub entries: Vec<HistoryEntry>,
    pub refusals: Refusals,
}

impl History {
    /// A history holding every entry as it is (nothing folded).
    pub fn new(header: HistoryHeader, entries: Vec<HistoryEntry>) -> History {
        History {
            header,
            entries,
            refusals: Refusals::default(),
        }
    }

    /// The same ops, every one an entry (for code that edits entries in place).
    pub fn into_unfolded(self) -> History {
        if self.refusals.is_empty() {
            return self;
        }
        let entries = self.ops().map(Cow::into_owned).collect();
        History::new(self.header, entries)
    }

    /// How many ops it records, plain refusals included.
    pub fn len(&self) -> usize {
        self.entries.len() + self.refusals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the last op completed (0 for none).
    pub fn end_us(&self) -> u64 {
        let entries = self.entries.iter().map(|entry| entry.complete_us).max();
        entries.max(self.refusals.last_complete_us()).unwrap_or(0)
    }

    /// When the last op a shopper sent completed (0 for none): the load's end.
    pub fn load_end_us(&self) -> u64 {
        let entries = self
            .entries
            .iter()
            .filter(|entry| entry.user.is_some())
            .map(|entry| entry.complete_us)
            .max();
        // Every plain refusal is a shopper's.
        entries.max(self.refusals.last_complete_us()).unwrap_or(0)
    }

    /// The op at `position` in recorded order, rebuilt if it is a plain refusal.
    pub fn op_at(&self, position: usize) -> Option<Cow<'_, HistoryEntry>> {
        let before = self.refusals.count_before(position);
        match self.refusals.record(before) {
            Some(refusal) if refusal.position as usize == position => {
                Some(Cow::Owned(self.refusals.entry(refusal)))
            }
            _ => self.entries.get(position - before).map(Cow::Borrowed),
        }
    }

    /// Every entry in recorded order, plain refusals rebuilt as they were read.
    pub fn ops(&self) -> Ops<'_> {
        Ops {
            history: self,
            next_entry: 0,
            next_refusal: 0,
            position: 0,
        }
    }
}

/// Two histories are equal when they record the same ops in the same order, however
/// they keep them.
impl PartialEq for History {
    fn eq(&self, other: &History) -> bool {
        self.header == other.header && self.len() == other.len() && self.ops().eq(other.ops())
    }
}

impl Eq for History {}

/// [`History::ops`].
#[derive(Debug, Clone)]
pub struct Ops<'h> {
    history: &'h History,
    next_entry: usize,
    next_refusal: usize,
    position: usize,
}

impl<'h> Iterator for Ops<'h> {
    type Item = Cow<'h, HistoryEntry>;

    fn next(&mut self) -> Option<Cow<'h, HistoryEntry>> {
        let refusals = &self.history.refusals;
        let refusal = refusals.record(self.next_refusal);
        let op = match refusal {
            Some(refusal) if refusal.position as usize == self.position => {
                self.next_refusal += 1;
                Cow::Owned(refusals.entry(refusal))
            }
            _ => {
                let entry = self.history.entries.get(self.next_entry)?;
                self.next_entry += 1;
                Cow::Borrowed(entry)
            }
        };
        self.position += 1;
        Some(op)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.history.len() - self.position.min(self.history.len());
        (left, Some(left))
    }
}

/// Builds a history entry by entry, folding plain refusals into [`Refusals`]; a
/// refusal whose key a kept entry also sends stays an entry (C3 judges every reserve
/// of a key).
#[derive(Debug)]
pub struct HistoryBuilder {
    history: History,
}

impl HistoryBuilder {
    pub fn new(header: HistoryHeader) -> HistoryBuilder {
        HistoryBuilder {
            history: History::new(header, Vec::new()),
        }
    }

    pub fn push(&mut self, entry: HistoryEntry) {
        let position = self.history.len();
        if !self.history.refusals.try_push(position, &entry) {
            self.history.entries.push(entry);
        }
    }

    pub fn finish(mut self) -> History {
        let history = &mut self.history;
        let shared_keys: FxHashSet<&str> = history
            .entries
            .iter()
            .filter_map(|entry| match &entry.op {
                Op::Reserve { key, .. } => Some(key.as_str()),
                _ => None,
            })
            .collect();
        let mut key = String::new();
        let unfold: Vec<u32> = history
            .refusals
            .records()
            .filter(|refusal| {
                history.refusals.write_key(refusal, &mut key);
                shared_keys.contains(key.as_str())
            })
            .map(|refusal| refusal.position)
            .collect();
        drop(shared_keys);
        if !unfold.is_empty() {
            self.unfold(&unfold);
        }
        self.history
    }

    /// Turns the refusals at `positions` (ascending) back into entries, in recorded
    /// order, rebuilding only those.
    fn unfold(&mut self, positions: &[u32]) {
        let history = &mut self.history;
        let total = history.len();
        let mut entries = Vec::with_capacity(history.entries.len() + positions.len());
        let mut kept_entries = std::mem::take(&mut history.entries).into_iter();
        let mut refusals = history.refusals.records().peekable();
        let mut unfolded = positions.iter().peekable();
        for position in 0..total {
            match refusals.next_if(|refusal| refusal.position as usize == position) {
                Some(refusal) => {
                    if unfolded.next_if(|at| **at as usize == position).is_some() {
                        entries.push(history.refusals.entry(refusal));
                    }
                }
                None => entries.extend(kept_entries.next()),
            }
        }
        drop(refusals);
        history.entries = entries;
        history
            .refusals
            .retain(|refusal| positions.binary_search(&refusal.position).is_err());
    }
}

/// Why a history could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("history {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("history {path}:{line}: {reason}")]
    Format {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("history {path}: {reason}")]
    CutShort { path: PathBuf, reason: String },
}

fn parse_header(line: &[u8]) -> Result<HistoryHeader, String> {
    let header: HistoryHeader =
        serde_json::from_slice(line).map_err(|error| format!("header line: {error}"))?;
    if header.format != HISTORY_FORMAT {
        return Err(format!(
            "header names format `{}`, expected `{HISTORY_FORMAT}`",
            header.format
        ));
    }
    if header.version != HISTORY_VERSION {
        return Err(format!(
            "history version {} is not supported (this build reads version {HISTORY_VERSION})",
            header.version
        ));
    }
    Ok(header)
}

mod chunked;
mod file;
mod op_fields;
mod refusals;

pub use refusals::{RefusalView, Refusals};

pub use file::{
    HISTORY_FILE, HISTORY_FILE_PLAIN, HISTORY_FLUSH_INTERVAL, HISTORY_LINE_BYTES_MAX,
    HISTORY_WRITE_BUFFER_BYTES, HISTORY_ZSTD_LEVEL, HistoryFile, HistoryReader, HistoryWriter,
    find_history_file, read_history, read_history_file,
};

#[cfg(test)]
mod tests;
