//! Plain refusals, kept compactly. Most ops of a flash sale are reserves refused for
//! stock once the shelf is empty; as [`HistoryEntry`] values each costs ~0.5 KB
//! (the entry, its key, its cart, its reply), which made a 10-minute run's history
//! need gigabytes to judge. A plain refusal — a shopper's reserve answered `fail`
//! with an `error` reply and nothing else, not a retry — is kept here as one
//! fixed-size record of 48 bytes: its times as one instant and two offsets, its
//! idempotency key as a shared stem and a number (a load tool's keys are mostly a
//! per-shopper prefix and a counter; other keys go to an arena), its cart and reply
//! interned (a flash sale has a handful of each). Nothing is lost: [`Refusals::entry`]
//! gives back the exact entry that was read; an entry the record cannot hold exactly
//! (times out of order, an offset past 71 minutes) stays an entry.
//!
//! A refusal whose key a kept reserve also sends (a retry of it, or a reserve
//! reusing its key) is not plain: C3 must see every reserve of that key, so
//! `History`'s builder keeps it as an entry (see [`super::HistoryBuilder`]).

use std::fmt::Write as _;
use std::hash::BuildHasherDefault;

use indexmap::IndexSet;
use rustc_hash::FxHasher;
use stockproof_model::CartLine;

use super::chunked::Chunked;
use super::{HistoryEntry, Op, OpId, Outcome, Response};

type Interned<T> = IndexSet<T, BuildHasherDefault<FxHasher>>;

/// A refused reserve's cart as sent: its lines and TTL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Cart {
    items: Vec<CartLine>,
    ttl_ms: i64,
}

/// A plain refusal's reply: status, error, and the SKU and units it may name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Reply {
    status: u16,
    error: String,
    sku: Option<String>,
    available: Option<i64>,
}

/// An offset that is absent (`intended_before` of an entry with no intended time, or
/// `number` of a key kept whole).
const NONE: u32 = u32::MAX;

/// One plain refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    id: OpId,
    invoke_us: u64,
    /// `complete_us - invoke_us`.
    complete_after: u32,
    /// `invoke_us - intended_us`, or [`NONE`].
    intended_before: u32,
    /// Its position among all the history's entries, in recorded order.
    pub(super) position: u32,
    key: KeyRef,
    user: u32,
    cart: u32,
    reply: u32,
}

impl Refusal {
    fn complete_us(&self) -> u64 {
        self.invoke_us + u64::from(self.complete_after)
    }

    fn intended_us(&self) -> Option<u64> {
        (self.intended_before != NONE).then(|| self.invoke_us - u64::from(self.intended_before))
    }
}

/// Where a refusal's key is: stem `at` followed by `number`, or, when `number` is
/// [`NONE`], whole key `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyRef {
    at: u32,
    number: u32,
}

/// Stems interned at most: a stem is meant to be shared (one per shopper); past this
/// many, keys with new stems are kept whole.
const STEMS_MAX: usize = 1 << 16;

/// The refusals' idempotency keys.
#[derive(Debug, Clone, Default)]
struct Keys {
    /// What comes before a key's trailing number.
    stems: Interned<Box<str>>,
    /// Keys kept whole, end to end, and where each starts.
    whole: String,
    whole_starts: Vec<u32>,
}

impl Keys {
    fn push(&mut self, key: &str) -> Option<KeyRef> {
        if let Some((stem, number)) = split_number(key) {
            let at = match self.stems.get_index_of(stem) {
                Some(at) => Some(at),
                None if self.stems.len() < STEMS_MAX => Some(self.stems.insert_full(stem.into()).0),
                None => None,
            };
            if let Some(at) = at {
                return Some(KeyRef {
                    at: at as u32,
                    number,
                });
            }
        }
        let start = u32::try_from(self.whole.len()).ok()?;
        let at = u32::try_from(self.whole_starts.len()).ok()?;
        self.whole_starts.push(start);
        self.whole.push_str(key);
        Some(KeyRef { at, number: NONE })
    }

    /// Writes the key at `key` into `out` (cleared first).
    fn write(&self, key: KeyRef, out: &mut String) {
        out.clear();
        if key.number == NONE {
            let at = key.at as usize;
            let start = self.whole_starts[at] as usize;
            let end = self
                .whole_starts
                .get(at + 1)
                .map_or(self.whole.len(), |end| *end as usize);
            out.push_str(&self.whole[start..end]);
        } else {
            out.push_str(&self.stems[key.at as usize]);
            write!(out, "{}", key.number).expect("writing to a String cannot fail");
        }
    }
}

/// A key split before its trailing decimal number, when that number is written the
/// way `u32`'s `Display` writes it (no leading zero) and is not [`NONE`], so the
/// split gives back the same key.
fn split_number(key: &str) -> Option<(&str, u32)> {
    let stem = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &key[stem.len()..];
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    let number: u32 = digits.parse().ok()?;
    (number != NONE).then_some((stem, number))
}

/// A plain refusal's fields, borrowed ([`Refusals::views`]): a reserve of `items`
/// answered `fail` with `status` and `error` (naming `sku` and its units `available`
/// when the reply did). Its key: [`Refusals::entry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalView<'h> {
    pub id: OpId,
    pub user: u32,
    pub items: &'h [CartLine],
    pub ttl_ms: i64,
    pub intended_us: Option<u64>,
    pub invoke_us: u64,
    pub complete_us: u64,
    pub status: u16,
    pub error: &'h str,
    pub sku: Option<&'h str>,
    pub available: Option<i64>,
}

/// The plain refusals of a history, in recorded order.
#[derive(Debug, Clone, Default)]
pub struct Refusals {
    refusals: Chunked<Refusal>,
    keys: Keys,
    carts: Interned<Cart>,
    replies: Interned<Reply>,
}

impl Refusals {
    pub fn len(&self) -> usize {
        self.refusals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.refusals.is_empty()
    }

    /// Keeps `entry` (at `position` among all entries) compactly if it is a plain
    /// refusal the record holds exactly; false (nothing kept) otherwise.
    pub(super) fn try_push(&mut self, position: usize, entry: &HistoryEntry) -> bool {
        let Some((user, key, cart, reply)) = plain_refusal(entry) else {
            return false;
        };
        let complete_after = entry
            .complete_us
            .checked_sub(entry.invoke_us)
            .and_then(|after| u32::try_from(after).ok());
        let intended_before = match entry.intended_us {
            None => Some(NONE),
            Some(intended_us) => entry
                .invoke_us
                .checked_sub(intended_us)
                .and_then(|before| u32::try_from(before).ok())
                .filter(|before| *before != NONE),
        };
        let (Some(complete_after), Some(intended_before), Ok(position)) =
            (complete_after, intended_before, u32::try_from(position))
        else {
            return false;
        };
        let Some(key) = self.keys.push(key) else {
            return false;
        };
        let cart = self.carts.insert_full(cart).0 as u32;
        let reply = self.replies.insert_full(reply).0 as u32;
        self.refusals.push(Refusal {
            id: entry.id,
            invoke_us: entry.invoke_us,
            complete_after,
            intended_before,
            position,
            key,
            user,
            cart,
            reply,
        });
        true
    }

    /// Every refusal as a borrowed view, in recorded order: what code that reads
    /// fields of many refusals uses instead of rebuilding each entry.
    pub fn views(&self) -> impl Iterator<Item = RefusalView<'_>> {
        self.refusals.iter().map(|refusal| {
            let cart = &self.carts[refusal.cart as usize];
            let reply = &self.replies[refusal.reply as usize];
            RefusalView {
                id: refusal.id,
                user: refusal.user,
                items: &cart.items,
                ttl_ms: cart.ttl_ms,
                intended_us: refusal.intended_us(),
                invoke_us: refusal.invoke_us,
                complete_us: refusal.complete_us(),
                status: reply.status,
                error: &reply.error,
                sku: reply.sku.as_deref(),
                available: reply.available,
            }
        })
    }

    /// When the last refusal completed.
    pub fn last_complete_us(&self) -> Option<u64> {
        self.refusals.iter().map(Refusal::complete_us).max()
    }

    pub(super) fn records(&self) -> impl Iterator<Item = &Refusal> {
        self.refusals.iter()
    }

    /// The `index`-th refusal in recorded order.
    pub(super) fn record(&self, index: usize) -> Option<&Refusal> {
        self.refusals.get(index)
    }

    /// How many refusals come before `position` among all entries.
    pub(super) fn count_before(&self, position: usize) -> usize {
        self.refusals
            .partition_point(|refusal| (refusal.position as usize) < position)
    }

    /// Writes the idempotency key a refusal was sent with into `out`.
    pub(super) fn write_key(&self, refusal: &Refusal, out: &mut String) {
        self.keys.write(refusal.key, out);
    }

    /// Keeps only the refusals `keep` accepts (their keys' bytes stay: they are few).
    pub(super) fn retain(&mut self, keep: impl FnMut(&Refusal) -> bool) {
        self.refusals.retain(keep);
    }

    /// The entry a refusal was read from, exactly.
    pub(super) fn entry(&self, refusal: &Refusal) -> HistoryEntry {
        let cart = &self.carts[refusal.cart as usize];
        let reply = &self.replies[refusal.reply as usize];
        let mut key = String::new();
        self.write_key(refusal, &mut key);
        HistoryEntry {
            id: refusal.id,
            user: Some(refusal.user),
            op: Op::Reserve {
                key,
                items: cart.items.clone(),
                ttl_ms: cart.ttl_ms,
            },
            intended_us: refusal.intended_us(),
            invoke_us: refusal.invoke_us,
            complete_us: refusal.complete_us(),
            outcome: Outcome::Fail,
            status: Some(reply.status),
            response: Some(Response {
                error: Some(reply.error.clone()),
                sku: reply.sku.clone(),
                available: reply.available,
                ..Response::default()
            }),
            retry_of: None,
        }
    }
}

/// The parts of a plain refusal: a shopper's reserve, not a retry, answered `fail`
/// with a status and a reply carrying an error and at most the SKU and units it names.
fn plain_refusal(entry: &HistoryEntry) -> Option<(u32, &str, Cart, Reply)> {
    let Op::Reserve { key, items, ttl_ms } = &entry.op else {
        return None;
    };
    let body = entry.response.as_ref()?;
    let plain_body = body.reservation.is_none()
        && body.state.is_none()
        && body.deadline_ms.is_none()
        && !body.replayed
        && body.items.is_none()
        && body.stock.is_none()
        && body.stock_fields.is_none();
    if entry.outcome != Outcome::Fail || entry.retry_of.is_some() || !plain_body {
        return None;
    }
    let cart = Cart {
        items: items.clone(),
        ttl_ms: *ttl_ms,
    };
    let reply = Reply {
        status: entry.status?,
        error: body.error.clone()?,
        sku: body.sku.clone(),
        available: body.available,
    };
    Some((entry.user?, key, cart, reply))
}

// The record's size is what the memory target rests on.
const _: () = assert!(std::mem::size_of::<Refusal>() == 48);

#[cfg(test)]
mod tests;
