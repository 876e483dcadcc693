//! The shipped fault scenarios (`scenarios/faults-*.toml`) run end to end through the
//! binary on local Redis and Postgres: each fault is injected, recorded, and every
//! check passes (AOF `always`); a Redis kill without persistence reports its loss
//! window instead of crashing; a fault the run cannot serve is refused before any
//! load. The same scenarios on the Postgres strategies: `pg_scenarios`.

use std::path::Path;
use std::process::Output;

use crate::support::{describe, only_run_folder, repo, run_bounded, stockproof};

/// Users of the CI-sized runs (the scenarios' own length keeps every fault's trigger).
const CI_USERS: &str = "4";

/// `stockproof run SCENARIO --provider local` into a report dir, bounded.
fn run(scenario: &Path, extra: &[&str], reports: &Path) -> Output {
    run_bounded(
        stockproof()
            .arg("run")
            .arg(scenario)
            .args(["--provider", "local", "--users", CI_USERS, "--report-dir"])
            .arg(reports)
            .args(extra),
    )
}

/// Runs a shipped fault scenario (with `extra` flags) and asserts: exit 0, every fault
/// injected, C1–C6 pass, and summary.md lists the faults.
fn shipped_scenario_passes(name: &str, extra: &[&str]) {
    let reports = tempfile::tempdir().unwrap();
    let scenario = repo().join(format!("scenarios/{name}.toml"));
    let output = run(&scenario, extra, reports.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let context = format!("scenario {name} {extra:?}, seed 8\n{}", describe(&output));
    assert_eq!(output.status.code(), Some(0), "{context}");
    assert!(
        stdout.contains("(injected)"),
        "no fault injected: {context}"
    );
    assert!(!stdout.contains("NOT injected"), "{context}");
    assert!(
        stdout.contains("checks: C1 pass, C2 pass, C3 pass, C4 pass, C5 pass, C6 pass"),
        "{context}"
    );
    let summary = summary_md(reports.path(), &output);
    assert!(summary.contains("## Faults"), "summary.md: {summary}");
}

/// summary.md of the one run that printed `output` into `reports`.
fn summary_md(reports: &Path, output: &Output) -> String {
    let folder = only_run_folder(reports, output);
    std::fs::read_to_string(folder.join("summary.md")).expect("summary.md")
}

// Goal: a Redis kill -9 under AOF always loses nothing: every check passes.
// Method: the shipped scenario through the binary, 4 users.
#[test]
fn redis_kill_with_aof_always_passes() {
    shipped_scenario_passes("faults-redis-kill", &[]);
}

// Goal: a Redis kill under AOF everysec is measured (loss window reported) and, within
// the stated tolerance, passes. Method: the shipped scenario; the loss line must show.
#[test]
fn redis_kill_with_aof_everysec_reports_its_loss_window() {
    let reports = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/faults-redis-kill-everysec.toml");
    let output = run(&scenario, &[], reports.path());
    let context = describe(&output);
    assert_eq!(output.status.code(), Some(0), "{context}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("loss window: "),
        "{context}"
    );
    assert!(
        summary_md(reports.path(), &output).contains("loss window: "),
        "{context}"
    );
    crate::one_verdict::assert_check_agrees(&output);
}

// Goal: SIGSTOP and CLIENT PAUSE of Redis leave every invariant intact.
#[test]
fn redis_pause_passes() {
    shipped_scenario_passes("faults-redis-pause", &[]);
}

// Goal: a Postgres restart and terminated writer backends lose and double nothing.
#[test]
fn postgres_faults_pass() {
    shipped_scenario_passes("faults-postgres", &[]);
}

// Goal: a writer crash between commit and XACK is redelivered exactly once.
#[test]
fn writer_crash_passes() {
    shipped_scenario_passes("faults-writer-crash", &[]);
}

// Goal: latency, jitter, bandwidth, partitions and resets on both stores pass.
#[test]
fn network_faults_pass() {
    shipped_scenario_passes("faults-network", &[]);
}

// Goal: a Redis kill with no persistence (AOF off) ends in a verdict with a measured
// loss window, never a harness crash; with tolerance 0 any loss fails C5 by name.
// Method: faults-redis-kill-everysec with `redis_aof = "off"` and tolerance 0.
#[test]
fn redis_kill_with_aof_off_reports_the_loss_instead_of_crashing() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(repo().join("scenarios/faults-redis-kill-everysec.toml")).unwrap();
    assert!(
        text.contains("redis_aof = \"everysec\"") && text.contains("loss_tolerance_events = 500")
    );
    let text = text
        .replace("redis_aof = \"everysec\"", "redis_aof = \"off\"")
        .replace("loss_tolerance_events = 500", "loss_tolerance_events = 0");
    let scenario = dir.path().join("kill-aof-off.toml");
    std::fs::write(&scenario, text).unwrap();
    let reports = dir.path().join("reports");
    let output = run(&scenario, &[], &reports);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let context = describe(&output);
    let events: i64 = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("loss window: "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no loss window line: {context}"));
    if events > 0 {
        assert_eq!(output.status.code(), Some(1), "{context}");
        assert!(stdout.contains("C5 fail"), "{context}");
        assert!(
            stdout.contains("more than the scenario tolerates"),
            "{context}"
        );
    } else {
        assert_eq!(output.status.code(), Some(0), "{context}");
    }
}

// Goal: a process fault against an external target is refused before any load, with
// exit 2 and a message saying what it needs. Method: `--fault redis-kill@1s --target`.
#[test]
fn redis_kill_with_target_url_exits_2() {
    let reports = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/flash-sale.toml");
    let output = run(
        &scenario,
        &["--fault", "redis-kill@1s", "--target", "http://127.0.0.1:9"],
        reports.path(),
    );
    let context = describe(&output);
    assert_eq!(output.status.code(), Some(2), "{context}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("needs the engine served in-process"),
        "{context}"
    );
}
