use std::path::PathBuf;

use std::time::Duration;

use super::{
    MergeError, check_one_plan, clock_skew, merge_entries, origin_unix_us, summary_section,
};
use crate::history::{History, HistoryEntry, HistoryHeader, Op, Outcome};
use crate::run::agent::AgentRecord;

fn record(agent: u32, agents: u32, started_at_unix_us: u64) -> AgentRecord {
    AgentRecord {
        format_version: 1,
        scenario: "flash-sale".to_owned(),
        seed: 7,
        agent,
        agents,
        users: 2,
        users_total: 2 * agents,
        start_at: "2026-12-03T21:00:00.000000Z".to_owned(),
        start_at_unix_ms: 1_796_331_600_000,
        run_label: "mipq1234".to_owned(),
        started_at_unix_us,
        load_started_at_unix_us: started_at_unix_us,
        clock_skew_us: 0,
        clock_skew_declared: false,
        clock_error_bound_us: None,
        notes: Vec::new(),
    }
}

fn folders(records: Vec<AgentRecord>) -> Vec<(PathBuf, AgentRecord, String)> {
    records
        .into_iter()
        .map(|record| {
            (
                PathBuf::from(format!("agent{}", record.agent)),
                record,
                "scenario".to_owned(),
            )
        })
        .collect()
}

#[test]
fn agents_of_one_plan_merge() {
    let agents = folders(vec![record(2, 3, 5), record(1, 3, 0), record(3, 3, 9)]);
    assert!(check_one_plan(&agents).is_ok());
}

#[test]
fn a_missing_or_repeated_agent_or_another_plan_is_refused_clearly() {
    let error = check_one_plan(&folders(vec![record(1, 3, 0), record(3, 3, 0)]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "agents missing: 2/3 of 3 (pass every agent's folder)"
    );
    let error = check_one_plan(&folders(vec![record(1, 2, 0), record(1, 2, 0)]))
        .unwrap_err()
        .to_string();
    assert_eq!(error, "agent 1/2 appears twice: agent1 and agent1");
    let mut other_seed = record(2, 2, 0);
    other_seed.seed = 8;
    let error = check_one_plan(&folders(vec![record(1, 2, 0), other_seed]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "not agents of one plan: agent2 has seed `8`, agent1 has `7`"
    );
    let mut agents = folders(vec![record(1, 2, 0), record(2, 2, 0)]);
    agents[1].2 = "edited".to_owned();
    assert!(matches!(
        check_one_plan(&agents),
        Err(MergeError::Mismatch {
            what: "a scenario.toml",
            ..
        })
    ));
}

fn entry(id: u64, invoke_us: u64, complete_us: u64, retry_of: Option<u64>) -> HistoryEntry {
    HistoryEntry {
        id,
        user: Some(1),
        op: Op::GetSku {
            sku: "a-1".to_owned(),
        },
        intended_us: Some(invoke_us),
        invoke_us,
        complete_us,
        outcome: Outcome::Ok,
        status: Some(200),
        response: None,
        retry_of,
    }
}

fn history(entries: Vec<HistoryEntry>) -> History {
    History::new(HistoryHeader::new("flash-sale", 7, 0, 1_000), entries)
}

/// id, invoke, complete, intended, retry_of.
type Row = (u64, u64, u64, Option<u64>, Option<u64>);

// Goal: agents' entries land on one origin, widened by the skew bound on each side,
// with their ids and retry links untouched.
#[test]
fn entries_move_to_the_origin_and_widen_by_the_skew() {
    let first = history(vec![entry(1 << 32, 1_000, 2_000, None)]);
    let second = history(vec![
        entry((1 << 32) + (1 << 40), 100, 300, None),
        entry(
            (1 << 32) + (1 << 40) + 1,
            400,
            900,
            Some((1 << 32) + (1 << 40)),
        ),
    ]);
    let merged = merge_entries(&[(0, &first), (5_000, &second)], 50);
    let got: Vec<Row> = merged
        .iter()
        .map(|entry| {
            (
                entry.id,
                entry.invoke_us,
                entry.complete_us,
                entry.intended_us,
                entry.retry_of,
            )
        })
        .collect();
    let second_id = (1 << 32) + (1 << 40);
    assert_eq!(
        got,
        vec![
            (1 << 32, 950, 2_050, Some(950), None),
            (second_id, 5_050, 5_350, Some(5_050), None),
            (second_id + 1, 5_350, 5_950, Some(5_350), Some(second_id)),
        ]
    );
}

#[test]
fn the_origin_is_the_earliest_start_in_whole_milliseconds() {
    let records = [record(1, 2, 1_500_999), record(2, 2, 1_400_123)];
    assert_eq!(origin_unix_us(records.iter()), 1_400_000);
}

#[test]
fn the_summary_says_what_the_skew_does() {
    let record = super::MergeRecord {
        format_version: 1,
        agents: vec![record(1, 2, 1_000), record(2, 2, 3_000)],
        folders: vec!["a".to_owned(), "b".to_owned()],
        origin_unix_us: 1_000,
        clock_skew_us: 0,
        clock_skew_source: "stated 0, not measured".to_owned(),
        final_reads: "none".to_owned(),
    };
    let text = summary_section(&record);
    assert!(text.contains("- agent 2/2: 2 users, wall-clock start 2000 µs after the origin"));
    assert!(text.contains("never raise a false alarm"), "{text}");
}

// Goal: the skew bound comes from the merge's flag, else the agents' declared bounds,
// else their measured clock error bounds (every clock synchronised), else a stated 0
// naming the agents whose clocks were not synchronised.
#[test]
fn the_skew_is_declared_measured_or_stated() {
    let mut first = record(1, 2, 0);
    let mut second = record(2, 2, 0);
    let (us, source) = clock_skew(None, &[&first, &second]);
    assert_eq!(us, 0);
    assert!(
        source.contains("stated 0") && source.contains("agent(s) 1, 2"),
        "{source}"
    );
    first.clock_error_bound_us = Some(1_500);
    second.clock_error_bound_us = Some(4_000);
    let (us, source) = clock_skew(None, &[&first, &second]);
    assert_eq!(us, 5_500);
    assert!(source.starts_with("measured"), "{source}");
    second.clock_skew_us = 9_000;
    second.clock_skew_declared = true;
    assert_eq!(clock_skew(None, &[&first, &second]).0, 9_000);
    let flag = Some(Duration::from_millis(20));
    assert_eq!(clock_skew(flag, &[&first, &second]).0, 20_000);
}
