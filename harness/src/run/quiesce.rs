//! Quiesce: after the load, wait (bounded) until the system has settled before judging
//! it. In process: until no reservation is Held (the sweeper expired the abandoned
//! ones) or the latest Held one is past its deadline plus the grace (then waiting longer
//! cannot help: C4 will say so), and until Postgres's ledger has caught up with Redis's
//! `seq` (the ledger writer drained). Against an external target only the history is
//! known: wait until the latest deadline it was told of (or could have been, for unknown
//! reserves) plus the grace has passed. Either way the wait ends at the scenario's
//! quiesce timeout and says what it was still waiting for; the checks then judge.
//!
//! Not here: the final reads and the snapshot (`super::pipeline`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::stores::Stores;

/// How often the stores are polled while waiting.
pub const QUIESCE_POLL: Duration = Duration::from_millis(50);

/// What the wait saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuiesceReport {
    pub waited: Duration,
    /// False if the timeout ended the wait (or a store could not be read).
    pub settled: bool,
    /// What it waited for, and what was left if it did not settle.
    pub notes: Vec<String>,
}

/// In-process quiesce over the engine's stores.
pub async fn in_process(stores: &Stores, timeout: Duration, grace: Duration) -> QuiesceReport {
    let start = Instant::now();
    let end = start + timeout;
    let mut report = QuiesceReport {
        settled: true,
        ..QuiesceReport::default()
    };
    let expiry = wait_for_expiry(stores, end, grace).await;
    report.notes.push(expiry.1);
    report.settled &= expiry.0;
    if stores.has_redis() {
        let ledger = wait_for_ledger(stores, end).await;
        report.notes.push(ledger.1);
        report.settled &= ledger.0;
    } else {
        report.notes.push(
            "ledger: written in each request's transaction (no Redis, no writer): nothing to drain"
                .to_owned(),
        );
    }
    report.waited = start.elapsed();
    report
}

async fn wait_for_expiry(stores: &Stores, end: Instant, grace: Duration) -> (bool, String) {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    loop {
        let (held, latest) = match stores.held().await {
            Ok(held) => held,
            Err(error) => {
                return (
                    false,
                    format!("expiry: could not count Held reservations: {error}"),
                );
            }
        };
        if held == 0 {
            return (true, "expiry: no reservation left Held".to_owned());
        }
        let now_ms = match stores.time_ms().await {
            Ok(now_ms) => now_ms,
            Err(error) => {
                return (
                    false,
                    format!("expiry: could not read the engine's clock: {error}"),
                );
            }
        };
        let latest = latest.unwrap_or(now_ms);
        if now_ms > latest.saturating_add(grace_ms) {
            return (
                false,
                format!(
                    "expiry: {held} reservations still Held {} ms after the latest deadline \
                     (grace {grace_ms} ms): the sweeper did not expire them",
                    now_ms - latest
                ),
            );
        }
        if Instant::now() >= end {
            return (
                false,
                format!(
                    "expiry: timed out with {held} reservations Held, the latest due in {} ms",
                    latest - now_ms
                ),
            );
        }
        tokio::time::sleep(QUIESCE_POLL).await;
    }
}

async fn wait_for_ledger(stores: &Stores, end: Instant) -> (bool, String) {
    loop {
        let (redis_seq, postgres_seq) = match stores.ledger_positions().await {
            Ok(positions) => positions,
            Err(error) => {
                return (
                    false,
                    format!("ledger: could not compare Redis and Postgres: {error}"),
                );
            }
        };
        if postgres_seq >= redis_seq {
            return (
                true,
                format!("ledger: Postgres has every event (seq {redis_seq})"),
            );
        }
        if Instant::now() >= end {
            return (
                false,
                format!(
                    "ledger: timed out with Postgres at seq {postgres_seq} of Redis's {redis_seq}"
                ),
            );
        }
        tokio::time::sleep(QUIESCE_POLL).await;
    }
}

/// Black-box quiesce: until the latest deadline the load implies (its recorder's
/// `latest_deadline_ms`, ms since the epoch) plus `grace`.
pub async fn black_box(
    latest_deadline_ms: Option<i64>,
    timeout: Duration,
    grace: Duration,
) -> QuiesceReport {
    let start = Instant::now();
    let Some(latest_ms) = latest_deadline_ms else {
        return QuiesceReport {
            waited: Duration::ZERO,
            settled: true,
            notes: vec!["expiry: no hold with a deadline to wait for".to_owned()],
        };
    };
    let until_ms = latest_ms.saturating_add(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
    let wait_ms = until_ms.saturating_sub(unix_ms()).max(0);
    let wait = Duration::from_millis(wait_ms as u64);
    let settled = wait <= timeout;
    tokio::time::sleep(wait.min(timeout)).await;
    let note = if settled {
        "expiry: waited past the latest deadline plus the grace".to_owned()
    } else {
        format!(
            "expiry: timed out {} ms before the latest deadline plus the grace",
            (wait - timeout).as_millis()
        )
    };
    QuiesceReport {
        waited: start.elapsed(),
        settled,
        notes: vec![note],
    }
}

/// The machine's clock, ms since the epoch.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}
