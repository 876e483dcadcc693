//! Every shipped scenario (`scenarios/*.toml`) on both Postgres strategies, through the
//! binary as a user runs it (`stockproof run --strategy`), exits 0: the checks hold and
//! each fault either falls on its Postgres counterpart
//! (said on its line: `redis-kill → postgres-kill: pg-row-lock keeps its stock in
//! Postgres`) or is reported not applicable with its reason while the load and the
//! checks still run.
//!
//! Not here: `soak` (an hour, and its resource SLOs name Redis series, which a Postgres
//! strategy refuses before the load), `vendure-drop` (a Vendure storefront through its
//! adapter, `scripts/vendure`) and, until its expiry lag is fixed, `mixed-cart`
//! ([`EXCLUDED`] says why). The scenarios run without their latency and error
//! SLOs and coverage goals: timing on a shared CI machine is not what this tests
//! (`stockproof bench` is). Fault scenarios keep their own 8 s (their last trigger is at
//! 7 s) with 4 users; the others are shortened to what met their coverage goals in
//! trial runs, so the checks still see contended reads and expiries.

use std::path::{Path, PathBuf};

use crate::support::{describe, only_run_folder, repo, run_bounded, stockproof};

const STRATEGIES: [&str; 2] = ["pg-row-lock", "pg-optimistic"];

/// Each scenario this module runs, with its CI users and `--duration` (`None`: its own
/// length). The others of `scenarios/` are in [`EXCLUDED`].
const CI_RUNS: [(&str, u32, Option<&str>); 13] = [
    ("expiry", 25, Some("10s")),
    ("faults-network", 4, None),
    ("faults-postgres", 4, None),
    ("faults-postgres-network", 4, None),
    ("faults-redis-kill", 4, None),
    ("faults-redis-kill-everysec", 4, None),
    ("faults-redis-pause", 4, None),
    ("faults-writer-crash", 4, None),
    ("flash-sale", 50, Some("3s")),
    ("idempotent-retry", 60, Some("12s")),
    ("mixed-cart", 40, Some("10s")),
    ("retry-one-line", 60, Some("12s")),
    ("wide-catalogue", 50, Some("10s")),
];

/// Shipped scenarios not run here, and why.
const EXCLUDED: [(&str, &str); 2] = [
    ("soak", "an hour, with resource SLOs on Redis series"),
    ("vendure-drop", "a Vendure storefront through its adapter"),
];

/// The scenario's file copied into `dir` without its `slos = […]` line and its
/// `[coverage]` table. Coverage goals ("was this check exercised": contended reads,
/// stock at zero) depend on timing that a CI-length run on a shared machine cannot
/// promise (`expiry` saw 16 of its 20 contended reads once, `wide-catalogue` 0 on 5,000
/// SKUs), so here they would make a flaky test; the checks themselves still run and
/// must pass. Full-length runs judge coverage (`stockproof run --strategy …`).
fn without_slos(name: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join(format!("scenarios/{name}.toml"))).unwrap();
    let mut in_coverage = false;
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| {
            if line.starts_with('[') {
                in_coverage = line.trim() == "[coverage]";
            }
            !in_coverage
        })
        .filter(|line| !(line.starts_with("slos = [") && line.ends_with(']')))
        .collect();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    path
}

/// Runs scenario `name` on each Postgres strategy with its [`CI_RUNS`] users and
/// length, asserts exit 0, and returns each run's stdout and summary.md.
fn passes_on_both(name: &str) -> Vec<(String, String)> {
    let (_, users, duration) = CI_RUNS
        .iter()
        .find(|(scenario, ..)| *scenario == name)
        .unwrap_or_else(|| panic!("{name} is not in CI_RUNS"));
    let dir = tempfile::tempdir().unwrap();
    let scenario = without_slos(name, dir.path());
    STRATEGIES
        .iter()
        .map(|strategy| {
            let reports = dir.path().join(format!("reports-{strategy}"));
            let mut command = stockproof();
            command
                .arg("run")
                .arg(&scenario)
                .args(["--provider", "local", "--strategy", strategy])
                .args(["--users", &users.to_string(), "--report-dir"])
                .arg(&reports);
            if let Some(duration) = duration {
                command.args(["--duration", *duration]);
            }
            let output = run_bounded(&mut command);
            let context = format!("scenario {name} on {strategy}\n{}", describe(&output));
            assert_eq!(output.status.code(), Some(0), "{context}");
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(!stdout.contains("NOT injected"), "{context}");
            let summary =
                std::fs::read_to_string(only_run_folder(&reports, &output).join("summary.md"))
                    .expect("summary.md");
            (stdout, summary)
        })
        .collect()
}

/// Asserts each run printed `line` (with `{strategy}` replaced) and summary.md has it.
fn each_says(runs: &[(String, String)], line: &str) {
    for ((stdout, summary), strategy) in runs.iter().zip(STRATEGIES) {
        let line = line.replace("{strategy}", strategy);
        assert!(stdout.contains(&line), "no `{line}` in:\n{stdout}");
        assert!(
            summary.contains(&line),
            "no `{line}` in summary.md:\n{summary}"
        );
    }
}

// Goal: the Postgres strategies pass the non-fault scenarios as shipped (without SLOs).
// Method: each shortened to users and seconds that met its coverage goals on a loaded
// 2-core machine (debug build, load average 8-10): expiry 43 contended reads at 25
// users for 10 s (19 at 20 users for 8 s), idempotent-retry 42 and retry-one-line 57
// (4 at 10 users for 3 s), wide-catalogue 15 (10 s at 50 users).
#[test]
fn flash_sale_passes_on_both_postgres_strategies() {
    passes_on_both("flash-sale");
}

#[test]
fn expiry_passes_on_both_postgres_strategies() {
    passes_on_both("expiry");
}

#[test]
fn idempotent_retry_passes_on_both_postgres_strategies() {
    passes_on_both("idempotent-retry");
}

// Once failed here (C7: holds read Held 0.3 s past deadline + grace) while the expiry
// sweep borrowed the requests' pool and queued behind 40 shoppers; it has its own now.
#[test]
fn mixed_cart_passes_on_both_postgres_strategies() {
    passes_on_both("mixed-cart");
}

#[test]
fn retry_one_line_passes_on_both_postgres_strategies() {
    passes_on_both("retry-one-line");
}

#[test]
fn wide_catalogue_passes_on_both_postgres_strategies() {
    passes_on_both("wide-catalogue");
}

// Goal: a Redis kill -9 becomes a Postgres kill -9 (postmaster and backends) on a
// strategy that keeps its stock in Postgres; committed transactions survive crash
// recovery, so nothing acknowledged is lost (no loss window: C5 is strict).
#[test]
fn redis_kill_falls_on_postgres_on_both_postgres_strategies() {
    let runs = passes_on_both("faults-redis-kill");
    each_says(
        &runs,
        "redis-kill → postgres-kill: {strategy} keeps its stock in Postgres; postgres kill -9 \
         and restart (injected)",
    );
}

#[test]
fn redis_kill_everysec_passes_on_both_postgres_strategies() {
    passes_on_both("faults-redis-kill-everysec");
}

// Goal: SIGSTOP of Redis becomes SIGSTOP of the whole Postgres, and CLIENT PAUSE an
// exclusive lock on `skus` for as long.
#[test]
fn redis_pause_falls_on_postgres_on_both_postgres_strategies() {
    let runs = passes_on_both("faults-redis-pause");
    each_says(
        &runs,
        "redis-pause → postgres-pause: {strategy} keeps its stock in Postgres",
    );
    each_says(
        &runs,
        "redis-client-pause → postgres-lock-skus: {strategy} keeps its stock in Postgres",
    );
}

// Goal: the Redis network faults fall on the Postgres proxy, overlapping Postgres' own
// without lifting them early.
#[test]
fn network_faults_fall_on_postgres_on_both_postgres_strategies() {
    let runs = passes_on_both("faults-network");
    each_says(
        &runs,
        "redis-partition → postgres-partition: {strategy} keeps its stock in Postgres",
    );
}

// Goal: the Postgres faults pass as written (restart, terminated backends, and the
// network faults on Postgres alone).
#[test]
fn postgres_network_faults_pass_on_both_postgres_strategies() {
    passes_on_both("faults-postgres-network");
}

#[test]
fn postgres_faults_pass_on_both_postgres_strategies() {
    passes_on_both("faults-postgres");
}

// Goal: a ledger writer crash is not applicable to a strategy without a writer: it is
// said with the reason, and the scenario's load and checks still run and pass.
#[test]
fn writer_crash_is_not_applicable_on_both_postgres_strategies() {
    let runs = passes_on_both("faults-writer-crash");
    each_says(
        &runs,
        "(not applicable): writer-crash acts on the ledger writer, which {strategy} does not \
         have",
    );
    for (stdout, _) in &runs {
        assert!(stdout.contains("checks: C1 pass, C2 pass"), "{stdout}");
    }
}

// Goal: no shipped scenario is left out by accident: each file is one this module runs
// or one it names as excluded, with the reason.
#[test]
fn every_shipped_scenario_is_run_or_named_excluded() {
    for entry in std::fs::read_dir(repo().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .extension()
            .filter(|ext| *ext == "toml")
            .and_then(|_| path.file_stem()?.to_str())
        else {
            continue;
        };
        let known = CI_RUNS.iter().any(|(run, ..)| *run == name)
            || EXCLUDED.iter().any(|(excluded, _)| *excluded == name);
        assert!(
            known,
            "scenarios/{name}.toml is neither run on the Postgres strategies nor excluded"
        );
    }
}
