//! `stockproof run`, run as a user runs it: a bad scenario exits 2, a target that is down
//! exits 4, an SLO set impossibly tight exits 3 and names the SLO, and a target killed
//! mid-run gives an honest verdict (unknowns counted, inconclusive), never a hang, and a
//! run killed mid-load leaves a history that `check` reads and calls cut short.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use stockproof_harness::history::read_history_file;

use crate::support::{
    RUN_WAIT_MAX, describe, flash_sale_variant, flash_sale_without_slos, only_run_folder,
    run_bounded, serve, short_run, spawn_logged, stockproof,
};

// Goal: a scenario file with an unknown key is a usage error (exit 2) naming the key.
// Method: flash-sale with a misspelt `[load]` key, run against the in-process engine.
#[test]
fn bad_scenario_exits_2_and_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = flash_sale_variant(dir.path(), "hatch_rate = 200", "hatch_rat = 200");
    let output = run_bounded(
        stockproof()
            .args(["run", "--infra", "local"])
            .arg(&scenario),
    );
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("hatch_rat"), "{}", describe(&output));
}

// Goal: a target that is down before the load is an infrastructure failure (exit 4)
// with a message saying so, and no load is sent.
// Method: --target a loopback port nothing listens on.
#[test]
fn target_down_exits_4() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let output = run_bounded(
        stockproof()
            .args(["run", "scenarios/flash-sale.toml", "--target"])
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("--report-dir")
            .arg(dir.path()),
    );
    assert_eq!(
        output.status.code(),
        Some(4),
        "port {port}: {}",
        describe(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is down"),
        "port {port}: {}",
        describe(&output)
    );
}

// Goal: an SLO nobody can meet exits 3 and the output names it.
// Method: flash-sale with `reserve.p99 <= 1us`, 10 users for 2 s on a local Redis/Postgres.
#[test]
fn impossible_slo_exits_3_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = flash_sale_variant(
        dir.path(),
        crate::support::FLASH_SALE_SLOS,
        r#"slos = ["reserve.p99 <= 1us"]"#,
    );
    let reports = dir.path().join("reports");
    let output = run_bounded(&mut short_run(&scenario, "local", 10, "2s", &reports));
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("slo `reserve.p99 <= 1us`: fail"),
        "{}",
        describe(&output)
    );
}

// Goal: a target that dies mid-run yields an honest verdict, not a hang or a panic: the
// load stops once the target stops answering, unknown outcomes are counted, and the run
// is inconclusive (exit 5) since it could not run the scenario.
// Method: serve the engine in a separate process, run flash-sale (without its SLOs, which
// a dead target also misses) against it for 20 s, SIGKILL the server 2.5 s in.
#[test]
fn target_killed_mid_run_is_inconclusive_not_a_hang() {
    let server = serve(&["--shop", "flash-sale"], Stdio::null());
    let url = server.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let scenario = flash_sale_without_slos(dir.path());
    let run = spawn_logged(
        stockproof()
            .args(["run", "--users", "20", "--duration", "20s"])
            .arg(&scenario)
            .arg("--target")
            .arg(&url)
            .arg("--report-dir")
            .arg(dir.path().join("reports")),
    );
    std::thread::sleep(Duration::from_millis(2_500));
    server.kill();
    // A run that hangs after its target died fails here, with what it printed.
    let output = run.wait(RUN_WAIT_MAX);
    assert_eq!(
        output.status.code(),
        Some(5),
        "target {url}: {}",
        describe(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("stopped answering"),
        "target {url}: {}",
        describe(&output)
    );
    let unknown: u64 = stdout
        .split(" unknown)")
        .next()
        .and_then(|head| head.rsplit(", ").next())
        .and_then(|count| count.parse().ok())
        .unwrap_or(0);
    assert!(
        unknown > 0,
        "unknown outcomes are counted: {}",
        describe(&output)
    );
    crate::one_verdict::assert_check_agrees(&output);
}

// Goal: Ctrl-C stops the load but the run still quiesces, checks and reports what ran,
// marked interrupted, and cannot pass (exit 5 when nothing was violated).
// Method: flash-sale (no SLOs) for 60 s on a local Redis/Postgres; SIGINT once the
// first progress line shows the load running.
#[test]
fn ctrl_c_stops_the_load_and_still_reports() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = flash_sale_without_slos(dir.path());
    let reports = dir.path().join("reports");
    let mut run = spawn_logged(short_run(&scenario, "local", 20, "60s", &reports).process_group(0));
    // The Ctrl-C handler is installed when the load starts, and the first progress line
    // (5 s into the load) shows it has; a fixed 4 s sleep raced the servers' start on a
    // busy machine, and SIGINT then killed the run before it could report.
    run.wait_for_stdout(" ops/s ", RUN_WAIT_MAX);
    let pid = libc::pid_t::try_from(run.child.id()).unwrap();
    // As a terminal does: SIGINT to the whole foreground process group, so Redis and
    // Postgres would get it too if they shared stockproof's group.
    // SAFETY: kill(2) on our own child's process group; no memory is involved.
    assert_eq!(
        unsafe { libc::kill(-pid, libc::SIGINT) },
        0,
        "SIGINT to group {pid}"
    );
    // A run that does not stop after Ctrl-C fails here, with what it printed.
    let output = run.wait(RUN_WAIT_MAX);
    assert_eq!(
        output.status.code(),
        Some(5),
        "pid {pid}: {}",
        describe(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("interrupted"),
        "pid {pid}: {}",
        describe(&output)
    );
    // The servers outlived the Ctrl-C: the run drained the writer into them and took
    // its white-box snapshot.
    assert!(
        stdout.contains("quiesce: ledger: Postgres has every event"),
        "pid {pid}: {}",
        describe(&output)
    );
    crate::one_verdict::assert_check_agrees(&output);
    let folder = only_run_folder(&reports, &output);
    for file in [
        "history.jsonl.zst",
        "run.json",
        "scenario.toml",
        "snapshot.json",
    ] {
        assert!(
            folder.join(file).is_file(),
            "{file} in {}",
            folder.display()
        );
    }
}

/// The containers provider's label on every container, with the owning process's pid.
const OWNER_LABEL: &str = "io.stockproof.owner-pid";

// Goal: a run killed mid-load (SIGKILL: no handler runs, no report is written) leaves
// a folder whose history reads up to its last flushed entry, and `check` says the
// history was cut short and does not pass it (exit 5, nothing else being wrong).
// Method: flash-sale (no SLOs) for 60 s on a local Redis/Postgres; SIGKILL to
// stockproof alone (its servers die with it) once the first progress line shows the
// load running, seconds after the history's first flushes; then read and check it.
#[test]
fn a_run_killed_mid_load_leaves_a_history_check_calls_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = flash_sale_without_slos(dir.path());
    let reports = dir.path().join("reports");
    let mut run = spawn_logged(&mut short_run(&scenario, "local", 20, "60s", &reports));
    run.wait_for_stdout(" ops/s ", RUN_WAIT_MAX);
    let pid = libc::pid_t::try_from(run.child.id()).unwrap();
    // SAFETY: kill(2) on our own child; no memory is involved.
    assert_eq!(
        unsafe { libc::kill(pid, libc::SIGKILL) },
        0,
        "SIGKILL {pid}"
    );
    let output = run.wait(RUN_WAIT_MAX);
    assert_eq!(output.status.code(), None, "killed: {}", describe(&output));
    let folder = only_run_folder(&reports, &output);
    assert!(!folder.join("run.json").exists(), "the run never finished");
    let read = read_history_file(&folder.join("history.jsonl.zst")).expect("history reads");
    assert!(
        !read.history.is_empty() && read.cut_short.is_some(),
        "{} entries, cut short: {:?}",
        read.history.len(),
        read.cut_short
    );
    let check = run_bounded(stockproof().arg("check").arg(&folder));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(5), "{}", describe(&check));
    assert!(
        stdout.contains("cut short") && stdout.contains("was the run killed?"),
        "{}",
        describe(&check)
    );
}

// Goal: a run goes through the `containers` provider end to end and passes, and no
// container it started is left afterwards.
// Method: flash-sale (10 users, 2 s, SLOs off: timing is not what this tests) with
// `--infra containers`; run.json must name the provider; after exit, Docker must list
// no container labelled with the run's pid. Skipped without Docker or its images,
// unless STOCKPROOF_REQUIRE_DOCKER=1 (CI), where that fails the test.
#[test]
fn a_run_through_the_containers_provider_passes_and_removes_them() {
    if let Some(reason) = docker_skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = flash_sale_without_slos(dir.path());
    let reports = dir.path().join("reports");
    let run = spawn_logged(&mut short_run(&scenario, "containers", 10, "2s", &reports));
    let pid = run.child.id();
    let output = run.wait(RUN_WAIT_MAX);
    assert_eq!(
        output.status.code(),
        Some(0),
        "pid {pid}: {}",
        describe(&output)
    );
    let folder = only_run_folder(&reports, &output);
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        run_json["target"],
        "in-process reference engine (provider containers)",
        "{}",
        describe(&output)
    );
    let left = Command::new("docker")
        .args(["ps", "--all", "--quiet", "--filter"])
        .arg(format!("label={OWNER_LABEL}={pid}"))
        .output()
        .expect("docker ps");
    assert!(left.status.success(), "docker ps: {left:?}");
    assert_eq!(
        String::from_utf8_lossy(&left.stdout).trim(),
        "",
        "containers of run {pid} left behind"
    );
}

/// `None` when Docker can serve the containers provider's default images; else why not.
/// With `STOCKPROOF_REQUIRE_DOCKER=1` (CI) a missing daemon or image fails the test.
fn docker_skip_reason() -> Option<String> {
    use stockproof_infra::auto::{DockerProbe, probe_docker};
    let images = [
        stockproof_infra::DEFAULT_REDIS_IMAGE,
        stockproof_infra::DEFAULT_POSTGRES_IMAGE,
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the Docker probe");
    let reason = match runtime.block_on(probe_docker(&images)) {
        DockerProbe::Ready => return None,
        DockerProbe::NoDaemon(reason) => reason,
        DockerProbe::ImagesMissing(images) => format!(
            "images {} missing (run scripts/build-images)",
            images.join(", ")
        ),
    };
    if std::env::var("STOCKPROOF_REQUIRE_DOCKER").as_deref() == Ok("1") {
        panic!("STOCKPROOF_REQUIRE_DOCKER=1 but Docker cannot run the test: {reason}");
    }
    Some(reason)
}

// Goal: `--repeat N --keep-going` runs the scenario N times, repetition r with the
// scenario's seed + r, and closes with a tally that names every run that did not pass.
// Method: flash-sale without SLOs, 4 users for 1 s, twice, on local servers.
#[test]
fn repeat_runs_each_repetition_with_the_next_seed_and_tallies() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = flash_sale_without_slos(dir.path());
    let reports = dir.path().join("reports");
    let output = run_bounded(short_run(&scenario, "local", 4, "1s", &reports).args([
        "--repeat",
        "2",
        "--keep-going",
    ]));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("repeat: 2 of 2 planned runs done"),
        "{}",
        describe(&output)
    );
    for seed in ["seed 1, report", "seed 2, report"] {
        assert!(stdout.contains(seed), "`{seed}`: {}", describe(&output));
    }
    let folders = std::fs::read_dir(&reports).unwrap().count();
    assert_eq!(folders, 2, "{}", describe(&output));
}
