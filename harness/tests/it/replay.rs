//! `stockproof replay <RUN_DIR>` on a real recorded run: a short run of the selftest's
//! rush scenario, then its history re-sent one op at a time to a fresh engine; and a
//! folder that is not a run is refused with exit 2.

use std::process::Output;

use crate::support::{run_bounded, run_folder};

/// `stockproof ARGS…`, bounded.
fn stockproof(args: &[&str]) -> Output {
    run_bounded(crate::support::stockproof().args(args))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_recorded_run_replays_op_by_op_against_a_fresh_engine() {
    // Goal: the replay re-sends every recorded op in invoke order (the seeding restocks
    // first, so the fresh engine starts with the scenario's stock), prints recorded and
    // replayed outcomes per op, and `--until` stops after the op named. Method: a 1 s
    // run of selftest/rush with 4 users on local servers, then replays of its folder.
    let reports = tempfile::tempdir().expect("temp dir");
    let run = stockproof(&[
        "run",
        "scenarios/selftest/rush.toml",
        "--provider",
        "local",
        "--users",
        "4",
        "--duration",
        "1s",
        "--report-dir",
        reports.path().to_str().expect("utf-8 path"),
    ]);
    let run_stdout = text(&run.stdout);
    assert!(run.status.code().is_some(), "{run_stdout}");
    let folder = run_folder(&run_stdout);
    let folder_text = folder.to_str().expect("utf-8 path");
    let history = stockproof_harness::history::read_history(&folder.join("history.jsonl.zst"))
        .expect("history");
    let recorded_ops = history.len();

    let replay = stockproof(&["replay", folder_text, "--provider", "local"]);
    let stdout = text(&replay.stdout);
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&replay.stderr)
    );
    assert!(
        stdout.contains(&format!("replay: {recorded_ops} ops sent")),
        "{recorded_ops} recorded ops:\n{stdout}"
    );
    let first_op = stdout
        .lines()
        .find(|line| line.starts_with("  ") || line.starts_with("! "))
        .unwrap_or_default();
    assert!(
        first_op.contains(" restock "),
        "the seeding comes first:\n{stdout}"
    );
    assert_eq!(
        stdout.matches("      recorded: ").count(),
        recorded_ops,
        "{stdout}"
    );
    assert!(stdout.contains("      replayed: ok 200"), "{stdout}");

    // Op ids carry the user in their high bits: take a real one from the history.
    let op = history.op_at(2).expect("three ops").id.to_string();
    let until = stockproof(&["replay", folder_text, "--provider", "local", "--until", &op]);
    let stdout = text(&until.stdout);
    assert_eq!(until.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("replay: stopped after op {op} (--until)")),
        "{stdout}"
    );
    let missing = stockproof(&["replay", folder_text, "--until", "999999999999"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("no op 999999999999"));
}

#[test]
fn a_folder_that_is_not_a_run_exits_2_naming_the_problem() {
    // Goal: a bad RUN_DIR is a usage error with a clear message, before any server
    // starts. Method: a missing path, and an empty directory.
    let missing = stockproof(&["replay", "/nonexistent/run", "--provider", "local"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("is not a directory"),
        "{}",
        text(&missing.stderr)
    );
    let empty = tempfile::tempdir().expect("temp dir");
    let replay = stockproof(&[
        "replay",
        empty.path().to_str().expect("utf-8 path"),
        "--provider",
        "local",
    ]);
    assert_eq!(replay.status.code(), Some(2));
    assert!(
        text(&replay.stderr).contains("no history.jsonl.zst or history.jsonl: not a run folder"),
        "{}",
        text(&replay.stderr)
    );
}
