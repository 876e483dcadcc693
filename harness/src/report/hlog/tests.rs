use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{AgentLog, decode, merge, render};
use crate::history::{HistoryEntry, Op, Outcome};
use crate::latency::{INTERVAL_US, Latencies, new_histogram};

const STARTED_AT_UNIX_MS: i64 = 1_796_000_000_000;
/// Percentiles compared between the merged log and the single histogram.
const QUANTILES: [f64; 8] = [0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1.0];

fn read(id: u64, user: u32, invoke_us: u64, latency_us: u64) -> HistoryEntry {
    HistoryEntry {
        id,
        user: Some(user),
        op: Op::GetSku {
            sku: "a-1".to_owned(),
        },
        intended_us: None,
        invoke_us,
        complete_us: invoke_us + latency_us,
        outcome: Outcome::Ok,
        status: Some(200),
        response: None,
        retry_of: None,
    }
}

/// Every tag's intervals of a log, added up.
fn totals(log: &str) -> Histogram<u64> {
    let mut total = new_histogram();
    for item in IntervalLogIterator::new(log.as_bytes()) {
        if let LogEntry::Interval(interval) = item.unwrap() {
            total
                .add(decode(interval.encoded_histogram()).unwrap())
                .unwrap();
        }
    }
    total
}

// Goal: merging agents' interval logs equals recording every op in one histogram:
// counts and every percentile identical (histograms added, never percentiles averaged).
// Method: 20k seeded latencies (a long tail) split between two agents, one of which
// started 2.3 s after the other; each agent's log rendered, the logs merged, the merged
// intervals summed and compared with one histogram of all the latencies.
#[test]
fn merged_agent_logs_equal_one_histogram_of_everything() {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let offset_us = 2_300_000;
    let (mut first, mut second) = (Latencies::default(), Latencies::default());
    let mut everything = new_histogram();
    for id in 0..20_000_u64 {
        let latency_us = if rng.random::<f64>() < 0.01 {
            rng.random_range(100_000..3_000_000)
        } else {
            rng.random_range(200..20_000)
        };
        let invoke_us = rng.random_range(0..10 * INTERVAL_US);
        let agent = if id % 2 == 0 { &mut first } else { &mut second };
        agent.record(&read(id, 1 + (id % 2) as u32, invoke_us, latency_us));
        everything.record(latency_us).unwrap();
    }
    let first_log = render(&first, STARTED_AT_UNIX_MS).unwrap();
    let second_log = render(&second, STARTED_AT_UNIX_MS + 2_300).unwrap();
    let merged = merge(
        &[
            AgentLog {
                text: &first_log,
                offset_us: 0,
            },
            AgentLog {
                text: &second_log,
                offset_us,
            },
        ],
        STARTED_AT_UNIX_MS,
    )
    .unwrap();
    let merged = totals(&merged);
    assert_eq!(merged.len(), everything.len());
    assert_eq!(merged.len(), 20_000);
    for quantile in QUANTILES {
        assert_eq!(
            merged.value_at_quantile(quantile),
            everything.value_at_quantile(quantile),
            "p{quantile}"
        );
    }
    assert_eq!(merged.max(), everything.max());
    assert_eq!(merged.min(), everything.min());
    assert_eq!(merged.mean(), everything.mean());
}

// Goal: an agent's interval lands in the merged second its start falls in.
// Method: one op completing in the agent's second 1, the agent 2.3 s behind: second 3.
#[test]
fn an_agents_interval_moves_by_its_offset() {
    let mut agent = Latencies::default();
    agent.record(&read(1, 2, 1_100_000, 1_000));
    let log = render(&agent, STARTED_AT_UNIX_MS).unwrap();
    let merged = merge(
        &[AgentLog {
            text: &log,
            offset_us: 2_300_000,
        }],
        STARTED_AT_UNIX_MS,
    )
    .unwrap();
    let starts: Vec<u64> = IntervalLogIterator::new(merged.as_bytes())
        .filter_map(|item| match item.unwrap() {
            LogEntry::Interval(interval) => Some(interval.start_timestamp().as_secs()),
            _ => None,
        })
        .collect();
    assert_eq!(starts, vec![3]);
}
