//! Load agents and their merge (issue 15 §3): N agents (two, then four) as separate
//! `stockproof run --agent I/N` processes against one served engine, merged with
//! `stockproof merge`, give the verdict and the op count of one process on the same
//! plan; a broken engine is caught in merged mode; `check` on the merged folder agrees
//! with the merge. Agents stream their history to `history.jsonl.zst` like a run; the
//! merge reads either format, writes the `.zst`, and refuses an agent whose history is
//! cut short.
//!
//! The plan is chosen so that its op count is fixed by the seed: stock far above
//! demand (no reserve is refused, so every planned confirm, release and read is sent),
//! carts counted per user, no retry that depends on timing (no client-timeout or
//! after-retention retries).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, SystemTime};

use stockproof_harness::history::{HISTORY_FILE, HISTORY_FILE_PLAIN, read_history};

use crate::one_verdict::verdict_block;
use crate::support::{RUN_WAIT_MAX, describe, run_bounded, serve, spawn_logged, stockproof};

/// How far ahead the agents' common start is set: a debug binary starts, probes the
/// target and (agent 1) seeds three SKUs in well under a second here; four of them
/// starting at once on two busy cores get the margin.
const START_AHEAD: Duration = Duration::from_secs(6);

/// Four users × six carts, duplicates sent after the reply and concurrently (C3 has
/// keys to judge), reads of SKUs and reservations (C7), abandoned holds (C4, C6).
const PLAN: &str = r#"
name = "agents"
description = "a plan whose op count the seed fixes"
seed = 15
slos = []

[load]
users = 4
hatch_rate = 40
iterations = 6

[catalogue]
skus = [{ id = "a-1", stock = 10000 }, { id = "a-2", stock = 10000 }, { id = "a-3", stock = 10000 }]

[mix]
lines_per_cart = [1, 2]
qty_per_line = [1, 2]
confirm = 0.6
release = 0.2
abandon = 0.2
hold_time = ["0ms", "5ms"]
read_sku = 0.3
read_reservation = 0.3

[reservation]
ttl = "1s"

[retry]
concurrent = 0.2
after_reply = 0.3
client_timeout = "2s"

[checks]
expiry_grace = "500ms"
quiesce_timeout = "10s"
"#;

fn plan(dir: &Path) -> PathBuf {
    let path = dir.join("agents.toml");
    std::fs::write(&path, PLAN).unwrap();
    path
}

/// `--start-at`: now + [`START_AHEAD`], RFC 3339 UTC.
fn start_at() -> String {
    let at = chrono::DateTime::<chrono::Utc>::from(SystemTime::now() + START_AHEAD);
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Runs `count` agents of `scenario` against `url` as separate processes, all at once;
/// returns their folders.
fn agents(scenario: &Path, url: &str, count: u32, reports: &Path) -> Vec<PathBuf> {
    let start = start_at();
    let children: Vec<_> = (1..=count)
        .map(|index| {
            spawn_logged(
                stockproof()
                    .args(["run", "--target", url, "--agent"])
                    .arg(format!("{index}/{count}"))
                    .args(["--start-at", &start, "--report-dir"])
                    .arg(reports)
                    .arg(scenario),
            )
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait(RUN_WAIT_MAX);
            assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
            folder_of(&output)
        })
        .collect()
}

/// The `folder: DIR` an agent prints.
fn folder_of(output: &Output) -> PathBuf {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("folder: "))
        .unwrap_or_else(|| panic!("no `folder:` line: {}", describe(output)));
    PathBuf::from(line.trim())
}

fn merge(folders: &[PathBuf], out: &Path, url: &str, more: &[&str]) -> Output {
    run_bounded(
        stockproof()
            .arg("merge")
            .args(folders)
            .arg("--out")
            .arg(out)
            .args(["--target", url])
            .args(more),
    )
}

/// Ops the shoppers sent (`load.ops` of run.json).
fn shopper_ops(folder: &Path) -> u64 {
    let text = std::fs::read_to_string(folder.join("run.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["load"]["ops"].as_u64().unwrap()
}

/// The `checks:` and `verdict:` lines (the counts between them depend on timing).
fn verdict_lines(stdout: &str) -> (String, String) {
    let block = verdict_block(stdout);
    let lines: Vec<&str> = block.lines().collect();
    (lines[0].to_owned(), lines[lines.len() - 1].to_owned())
}

/// Rewrites an agent's `history.jsonl.zst` as an older folder's plain `history.jsonl`.
fn to_plain_history(folder: &Path) {
    let zst = folder.join(HISTORY_FILE);
    let history = read_history(&zst).unwrap();
    let mut text = serde_json::to_string(&history.header).unwrap() + "\n";
    for entry in history.ops() {
        text += &(serde_json::to_string(&*entry).unwrap() + "\n");
    }
    std::fs::write(folder.join(HISTORY_FILE_PLAIN), text).unwrap();
    std::fs::remove_file(zst).unwrap();
}

/// `check DIR` exits with `merged`'s code and prints its verdict lines.
fn assert_check_agrees_with_merge(merged: &Output, out: &Path) {
    let check = run_bounded(stockproof().arg("check").arg(out));
    let context = format!("merge: {}\ncheck: {}", describe(merged), describe(&check));
    assert_eq!(check.status.code(), merged.status.code(), "{context}");
    assert_eq!(
        verdict_block(&String::from_utf8_lossy(&check.stdout)),
        verdict_block(&String::from_utf8_lossy(&merged.stdout)),
        "{context}"
    );
}

// Goal: two and four agents merged give one process's verdict and op count, `check`
// on the merged folder agrees with the merge, and a declared clock-skew bound raises no
// alarm.
// Method: one `stockproof serve`; the plan once as one process, then as agents 1/2 and
// 2/2 (separate processes, one --start-at), merged with the final reads, and merged
// again with `--clock-skew 50ms`; then as four agents (one user each), merged.
#[test]
fn two_and_four_agents_merged_give_the_verdict_and_op_count_of_one_process() {
    let server = serve(&["--shop", "agents"], Stdio::null());
    let dir = tempfile::tempdir().unwrap();
    let scenario = plan(dir.path());
    let single = run_bounded(
        stockproof()
            .args(["run", "--target", &server.url, "--report-dir"])
            .arg(dir.path().join("single"))
            .arg(&scenario),
    );
    assert_eq!(single.status.code(), Some(0), "{}", describe(&single));
    let folders = agents(&scenario, &server.url, 2, &dir.path().join("agents"));
    for folder in &folders {
        assert!(folder.join(HISTORY_FILE).is_file(), "{}", folder.display());
    }
    // The merge reads an older agent folder's plain history as well as the `.zst`.
    to_plain_history(&folders[1]);
    let out = dir.path().join("merged");
    let merged = merge(&folders, &out, &server.url, &[]);
    // A declared skew bound widens every interval: a bound may loosen, no alarm rises.
    let skew = ["--clock-skew", "50ms"];
    let skewed = merge(&folders, &dir.path().join("skewed"), &server.url, &skew);
    let four = agents(&scenario, &server.url, 4, &dir.path().join("four"));
    let four_out = dir.path().join("merged-four");
    let merged_four = merge(&four, &four_out, &server.url, &[]);
    server.kill();
    assert_merge_agrees_with_one_process(&single, &merged, &out);
    assert_merge_agrees_with_one_process(&single, &merged_four, &four_out);
    assert_eq!(
        verdict_lines(&String::from_utf8_lossy(&skewed.stdout)),
        verdict_lines(&String::from_utf8_lossy(&merged.stdout)),
        "skewed: {}",
        describe(&skewed)
    );
    let refused = run_bounded(stockproof().arg("check").arg(&folders[0]));
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
}

/// The merge into `out` gave `single`'s exit code, verdict and shopper op count, wrote
/// the merged folder's files, and `check` on it agrees.
fn assert_merge_agrees_with_one_process(single: &Output, merged: &Output, out: &Path) {
    let single_folder = crate::support::run_folder(&String::from_utf8_lossy(&single.stdout));
    let context = format!(
        "one process: {}\nmerge: {}",
        describe(single),
        describe(merged)
    );
    assert_eq!(merged.status.code(), single.status.code(), "{context}");
    assert_eq!(
        verdict_lines(&String::from_utf8_lossy(&merged.stdout)),
        verdict_lines(&String::from_utf8_lossy(&single.stdout)),
        "{context}"
    );
    assert_eq!(shopper_ops(out), shopper_ops(&single_folder), "{context}");
    assert!(out.join("latency.hlog").is_file() && out.join("merge.json").is_file());
    assert!(out.join(HISTORY_FILE).is_file() && !out.join(HISTORY_FILE_PLAIN).exists());
    assert_check_agrees_with_merge(merged, out);
}

// Goal: a broken engine is caught in merged mode: an engine without idempotency
// reserves again on a re-sent key, and the merged run says C3 failed.
// Method: `serve --variant no-idempotency`, the plan as two agents, merged.
#[test]
fn a_broken_engine_is_caught_in_merged_mode() {
    let server = serve(
        &["--shop", "agents", "--variant", "no-idempotency"],
        Stdio::null(),
    );
    let dir = tempfile::tempdir().unwrap();
    let scenario = plan(dir.path());
    let folders = agents(&scenario, &server.url, 2, &dir.path().join("agents"));
    let out = dir.path().join("merged");
    let merged = merge(&folders, &out, &server.url, &[]);
    server.kill();
    let stdout = String::from_utf8_lossy(&merged.stdout);
    assert_eq!(merged.status.code(), Some(1), "{}", describe(&merged));
    assert!(
        stdout.contains("C3 idempotency: fail"),
        "{}",
        describe(&merged)
    );
    assert_check_agrees_with_merge(&merged, &out);
}

// Goal: folders that are not the agents of one plan, or an agent that did not finish,
// are refused with a clear error.
// Method: agent 1/2's folder alone, then twice; then both, agent 2/2's history cut to
// half its bytes (as a killed agent leaves it).
#[test]
fn merge_refuses_a_missing_or_repeated_agent() {
    let server = serve(&["--shop", "agents"], Stdio::null());
    let dir = tempfile::tempdir().unwrap();
    let scenario = plan(dir.path());
    let folders = agents(&scenario, &server.url, 2, &dir.path().join("agents"));
    server.kill();
    let alone = merge(
        &folders[..1],
        &dir.path().join("alone"),
        "http://127.0.0.1:9",
        &[],
    );
    assert_eq!(alone.status.code(), Some(2), "{}", describe(&alone));
    assert!(
        String::from_utf8_lossy(&alone.stderr).contains("agents missing: 2/2 of 2"),
        "{}",
        describe(&alone)
    );
    let twice = [folders[0].clone(), folders[0].clone()];
    let twice = merge(&twice, &dir.path().join("twice"), "http://127.0.0.1:9", &[]);
    assert!(
        String::from_utf8_lossy(&twice.stderr).contains("agent 1/2 appears twice"),
        "{}",
        describe(&twice)
    );
    let history = folders[1].join(HISTORY_FILE);
    let bytes = std::fs::read(&history).unwrap();
    std::fs::write(&history, &bytes[..bytes.len() / 2]).unwrap();
    let cut = merge(&folders, &dir.path().join("cut"), "http://127.0.0.1:9", &[]);
    assert_eq!(cut.status.code(), Some(5), "{}", describe(&cut));
    assert!(
        String::from_utf8_lossy(&cut.stderr).contains("agent 2/2's history is cut short"),
        "{}",
        describe(&cut)
    );
}
