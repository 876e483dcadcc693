//! One verdict wherever a run is judged (issue 12 §1): for a run folder that `stockproof
//! run` wrote, `stockproof check DIR` exits with exactly the run's code and prints the
//! same verdict lines. [`assert_check_agrees`] is called on every kind of run the suite
//! makes: each shipped scenario on the reference engine (here), a fault run with a
//! tolerated loss window (`fault_runs`), an interrupted run (`run_cmd`'s Ctrl-C test) and
//! runs against an external target (here and `run_cmd`).

use std::process::{Output, Stdio};

use crate::support::{describe, repo, run_bounded, run_folder, serve, short_run, stockproof};

/// The verdict block of `run`'s or `check`'s stdout: from the `checks:` line to the
/// `verdict:` line, both included.
pub(crate) fn verdict_block(stdout: &str) -> String {
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .position(|line| line.starts_with("checks: "))
        .unwrap_or_else(|| panic!("no `checks:` line in:\n{stdout}"));
    let end = lines
        .iter()
        .position(|line| line.starts_with("verdict: "))
        .unwrap_or_else(|| panic!("no `verdict:` line in:\n{stdout}"));
    assert!(start < end, "`checks:` after `verdict:` in:\n{stdout}");
    lines[start..=end].join("\n")
}

/// Runs `stockproof check` on the folder `run_output` names and asserts it exits with
/// the run's code and prints the run's verdict lines.
pub(crate) fn assert_check_agrees(run_output: &Output) {
    let run_stdout = String::from_utf8_lossy(&run_output.stdout);
    let folder = run_folder(&run_stdout);
    let check = run_bounded(stockproof().arg("check").arg(&folder));
    let context = format!(
        "folder {}\nrun: {}\ncheck: {}",
        folder.display(),
        describe(run_output),
        describe(&check)
    );
    assert_eq!(check.status.code(), run_output.status.code(), "{context}");
    let check_stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(
        verdict_block(&check_stdout),
        verdict_block(&run_stdout),
        "{context}"
    );
}

/// `stockproof run SCENARIO` on the reference engine (local servers, 4 users, 3 s),
/// then the agreement.
fn shipped_scenario_agrees(name: &str) {
    let reports = tempfile::tempdir().unwrap();
    let scenario = repo().join(format!("scenarios/{name}.toml"));
    let output = run_bounded(&mut short_run(&scenario, "local", 4, "3s", reports.path()));
    assert!(
        output
            .status
            .code()
            .is_some_and(|code| code != 2 && code != 4),
        "scenario {name} did not reach a verdict: {}",
        describe(&output)
    );
    assert_check_agrees(&output);
}

// Goal: `check` gives each shipped scenario's folder the verdict `run` gave it.
// Method: each shipped (non-fault) scenario, short, on local servers; then `check`.
#[test]
fn check_agrees_with_run_on_the_flash_sale() {
    shipped_scenario_agrees("flash-sale");
}

#[test]
fn check_agrees_with_run_on_idempotent_retry() {
    shipped_scenario_agrees("idempotent-retry");
}

#[test]
fn check_agrees_with_run_on_mixed_cart() {
    shipped_scenario_agrees("mixed-cart");
}

#[test]
fn check_agrees_with_run_on_expiry() {
    shipped_scenario_agrees("expiry");
}

// Goal: against an external target (a served engine in another process), `run` and
// `check` agree, and the white-box checks are "not applicable" in both — the case that
// once exited 0 from `run` and 5 from `check`.
// Method: `stockproof serve`, then idempotent-retry without its SLOs against its URL.
#[test]
fn check_agrees_with_run_against_an_external_target() {
    let server = serve(&["--shop", "flash-sale"], Stdio::null());
    let url = server.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("scenarios/idempotent-retry.toml")).unwrap();
    let without_slos: String = text
        .lines()
        .filter(|line| !line.starts_with("slos"))
        .collect::<Vec<_>>()
        .join("\n");
    let scenario = dir.path().join("idempotent-retry.toml");
    std::fs::write(&scenario, without_slos).unwrap();
    let output = run_bounded(
        stockproof()
            .args(["run", "--users", "4", "--duration", "3s", "--target", &url])
            .arg(&scenario)
            .arg("--report-dir")
            .arg(dir.path().join("reports")),
    );
    server.kill();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("C2 conservation: not applicable"),
        "target {url}: {}",
        describe(&output)
    );
    assert_check_agrees(&output);
}
