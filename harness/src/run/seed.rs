//! Seeding: before the load, each SKU of the catalogue gets its initial stock the way
//! the target's adapter says (a `restock`, a seed program, or out of band and read
//! back), recorded in the history as the harness's own restock (no user), so that the
//! checks count it as supply. A refused or unanswered seed means the target is not
//! usable: the run stops with an infrastructure error rather than judge a load on stock
//! it does not know.
//!
//! Not here: restocks during the load (`crate::load`).

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use std::sync::Arc;

use crate::adapter::Bound;
use crate::history::{HistoryEntry, Op, OpId, Outcome};
use crate::load::recorder::micros_since;
use crate::load::wire::Reply;

/// Seeds in flight at once: enough to seed 100k SKUs in seconds, few enough that a
/// small target is not flooded before the load even starts.
pub const SEED_CONCURRENCY_MAX: usize = 32;
/// Timeout of one seed: a restock is one Redis script.
pub const SEED_TIMEOUT: Duration = Duration::from_secs(10);

/// A seed the target refused or did not answer.
#[derive(Debug, thiserror::Error)]
#[error("seeding {qty} units of `{sku}` on {url}: {reason}")]
pub struct SeedError {
    pub url: String,
    pub sku: String,
    pub qty: i64,
    pub reason: String,
}

/// Restocks every `(sku, qty)` with qty > 0 (a SKU seeded with 0 units is never
/// created: reserving it is refused as an unknown SKU) and returns the entries, ids from
/// `first_id` in catalogue order.
pub async fn seed_stock(
    target: &Arc<Bound>,
    stock: &[(String, i64)],
    first_id: OpId,
    zero: Instant,
) -> Result<Vec<HistoryEntry>, SeedError> {
    let client = crate::load::wire::op_client(Some(SEED_TIMEOUT));
    let mut entries: Vec<HistoryEntry> = Vec::with_capacity(stock.len());
    let mut in_flight = JoinSet::new();
    let mut pending = stock
        .iter()
        .filter(|(_, qty)| *qty > 0)
        .enumerate()
        .map(|(offset, (sku, qty))| (first_id + offset as OpId, sku.clone(), *qty));
    loop {
        while in_flight.len() < SEED_CONCURRENCY_MAX {
            let Some((id, sku, qty)) = pending.next() else {
                break;
            };
            let client = client.clone();
            let target = Arc::clone(target);
            in_flight.spawn(async move { seed_one(&client, &target, id, sku, qty, zero).await });
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let (entry, failure) = joined.map_err(|error| SeedError {
            url: target.base_url().to_owned(),
            sku: String::new(),
            qty: 0,
            reason: format!("the seeding task failed: {error}"),
        })?;
        if entry.outcome != Outcome::Ok {
            let (sku, qty) = match &entry.op {
                Op::Restock { sku, qty } => (sku.clone(), *qty),
                _ => (String::new(), 0),
            };
            return Err(SeedError {
                url: target.base_url().to_owned(),
                sku,
                qty,
                reason: match (entry.status, failure) {
                    (_, Some(reason)) => reason,
                    (Some(status), None) => format!("the target answered {status}"),
                    (None, None) => "no reply (timeout or connection error)".to_owned(),
                },
            });
        }
        entries.push(entry);
    }
    entries.sort_by_key(|entry| entry.id);
    Ok(entries)
}

async fn seed_one(
    client: &reqwest::Client,
    target: &Bound,
    id: OpId,
    sku: String,
    qty: i64,
    zero: Instant,
) -> (HistoryEntry, Option<String>) {
    let leftover = target.leftover_stock(client, &sku, SEED_TIMEOUT).await;
    let invoke_us = micros_since(zero);
    let (reply, failure) = match leftover {
        Some(reason) => {
            let refused = Reply {
                outcome: Outcome::Fail,
                status: None,
                response: None,
                transport_error: None,
            };
            (refused, Some(reason))
        }
        None => {
            let reply = target.seed(client, &sku, qty, SEED_TIMEOUT).await;
            let failure = reply.transport_error.map(str::to_owned);
            (reply, failure)
        }
    };
    let entry = HistoryEntry {
        id,
        user: None,
        op: Op::Restock { sku, qty },
        intended_us: None,
        invoke_us,
        complete_us: micros_since(zero),
        outcome: reply.outcome,
        status: reply.status,
        response: reply.response,
        retry_of: None,
    };
    (entry, failure)
}
