//! Each deliberately broken engine variant is caught through the run pipeline, as a
//! user sees it: `stockproof selftest --quick --variant NAME` runs the variant against
//! the selftest scenario (and fault) that should expose it and the reference engine on
//! the same scenario and fault, on local Redis and Postgres; the variant's run exits 1
//! with a check that names its bug, the reference's exit 0. Together these tests are
//! the short selftest CI runs (one test per variant, so nextest runs them side by side
//! and names the one that regressed). One more runs `stockproof run --variant` itself.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{run_folder, serve, spawn_logged};

/// Bound on one selftest of one variant: two or three runs, each ~2 s of servers
/// starting, 2 s of load, quiesce and checks; a busy 2-core CI machine can triple that.
const RUN_WAIT_MAX: Duration = Duration::from_secs(240);

/// `stockproof ARGS… --provider local --report-dir REPORTS`: exit code and stdout.
fn stockproof(args: &[&str], reports: &Path) -> (i32, String) {
    let output = spawn_logged(
        crate::support::stockproof()
            .args(args)
            .args(["--provider", "local", "--report-dir"])
            .arg(reports),
    )
    .wait(RUN_WAIT_MAX);
    let stdout = String::from_utf8(output.stdout).expect("stdout is text");
    (output.status.code().expect("exited, not signalled"), stdout)
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("JSON")
}

/// Runs the selftest of `variant`: the variant's run must exit 1 with one of
/// `expected` failing (and its run.json naming it), every reference run exit 0.
fn assert_caught(variant: &str, expected: &[&str]) {
    let reports = tempfile::tempdir().expect("temp dir");
    let (code, stdout) = stockproof(
        &["selftest", "--quick", "--variant", variant],
        reports.path(),
    );
    let folder = PathBuf::from(
        stdout
            .lines()
            .find_map(|line| line.strip_prefix("selftest: report "))
            .unwrap_or_else(|| panic!("no `selftest: report` in:\n{stdout}")),
    );
    let table = json(&folder.join("selftest.json"));
    assert_eq!(code, 0, "selftest of {variant}:\n{stdout}");
    let rows = table["rows"].as_array().expect("rows");
    let (broken, references): (Vec<_>, Vec<_>) =
        rows.iter().partition(|row| row["engine"] != "reference");
    let [broken] = broken.as_slice() else {
        panic!("one {variant} row expected:\n{stdout}");
    };
    assert_eq!(broken["engine"], variant);
    assert_eq!(broken["exit_code"], 1, "{variant}:\n{stdout}");
    let fired: Vec<&str> = broken["detection"]["fired"]
        .as_array()
        .expect("a detection")
        .iter()
        .filter_map(|check| check.as_str())
        .collect();
    assert!(
        fired.iter().any(|check| expected.contains(check)),
        "{variant}: fired {fired:?}, expected one of {expected:?}:\n{stdout}"
    );
    let run = json(&PathBuf::from(broken["note"].as_str().expect("folder")).join("run.json"));
    assert_eq!(run["variant"], variant);
    assert!(
        run["target"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("BROKEN variant {variant}"))
    );
    if !broken["fault"].is_null() {
        let faults = run["faults"].as_array().expect("faults in run.json");
        assert!(
            !faults.is_empty() && faults.iter().all(|fault| fault["injected"] == true),
            "{variant}: {faults:?}"
        );
    }
    assert!(!references.is_empty());
    for reference in references {
        assert_eq!(
            reference["exit_code"], 0,
            "reference {reference}:\n{stdout}"
        );
        assert_eq!(
            reference["fault"], broken["fault"],
            "the same fault for both"
        );
    }
}

#[test]
fn check_then_act_is_caught_overselling() {
    // Goal: read-then-decrement oversells and C1 says so. Method: selftest/rush (40
    // shoppers, 30 units) against the variant and the reference.
    assert_caught("check-then-act", &["C1"]);
}

#[test]
fn no_idempotency_is_caught_by_c3() {
    // Goal: a retry with one key that reserves again is a C3 violation. Method:
    // selftest/retry (every reserve sent twice).
    assert_caught("no-idempotency", &["C3"]);
}

#[test]
fn short_idempotency_is_caught_by_c3() {
    // Goal: a marker shorter than the clients' backoff is a C3 violation. Method:
    // selftest/late-retry (re-sent 1.5 s after the reply, retention 60 s).
    assert_caught("short-idempotency", &["C3"]);
}

#[test]
fn ttl_expiry_is_caught_leaking_stock() {
    // Goal: holds that vanish without returning units leave stock stranded (C6).
    // Method: selftest/expiry (40% of carts abandoned to a 300 ms TTL).
    assert_caught("ttl-expiry", &["C6", "C2"]);
}

#[test]
fn double_release_is_caught() {
    // Goal: a confirmed reservation that also expires returns sold units (C6) or ends
    // Expired after an acknowledged confirm (C4). Method: selftest/expiry.
    assert_caught("double-release", &["C4", "C6", "C2"]);
}

#[test]
fn stale_cart_lines_are_caught_overselling() {
    // Goal: doubled lines checked against one stale count oversell (C1). Method:
    // selftest/doubled-lines (every cart names one SKU twice, 15 units per SKU).
    assert_caught("stale-cart-lines", &["C1"]);
}

#[test]
fn dual_write_is_caught_by_c2_after_a_crash_between_its_writes() {
    // Goal: a crash between the Redis and the Postgres write leaves the projection
    // apart from Redis, and C2 says so; the reference (one atomic write) is unharmed.
    // Method: selftest/retry with `crash-between-writes` a second into the load.
    assert_caught("dual-write", &["C2"]);
}

#[test]
fn lossy_ledger_is_caught_by_c5_after_a_writer_crash_before_commit() {
    // Goal: a writer that acks before it commits loses the batch it dies on: replies
    // acknowledged with no ledger events (C5), a ledger that stops at a gap (C2). The
    // reference writer, crashed at the same point, redelivers the batch. Method:
    // selftest/retry with `writer-crash-before-commit` a second into the load.
    assert_caught("lossy-ledger", &["C5", "C2"]);
}

#[test]
fn non_idempotent_projection_is_caught_by_c2_after_a_redelivery() {
    // Goal: a batch redelivered after a crash between commit and XACK is applied to
    // the projection twice (Redis ≠ Postgres, C2); the reference skips it. Method:
    // selftest/retry with `writer-crash` (after commit) a second into the load.
    assert_caught("non-idempotent-projection", &["C2"]);
}

#[test]
fn stale_read_is_caught_by_c7() {
    // Goal: SKU reads served from a 500 ms cache fall outside the bounds the history
    // implies over the read (fewer sold, more available than the acknowledged confirms
    // allow), and C7 says so. Method: selftest/reads (every cart followed by a read,
    // 20 shoppers on 2 SKUs).
    assert_caught("stale-read", &["C7"]);
}

#[test]
fn sold_out_flag_is_caught_by_c8() {
    // Goal: a SKU flagged sold out at 0 and never cleared turns buyers away while
    // released units are surely on the shelf (C8). Method: selftest/comeback (4
    // shoppers for 3 units, every hold released or abandoned, nothing sold).
    assert_caught("sold-out-flag", &["C8"]);
}

#[test]
fn phantom_hold_is_caught_by_c7() {
    // Goal: a replay that names the first reservation but holds its items again shows
    // in reads (available below, reserved above what the history allows: C7) though
    // every reply names one reservation per key. Method: selftest/replays (every
    // reserve re-sent after its reply, every cart followed by a read).
    assert_caught("phantom-hold", &["C7", "C8"]);
}

#[test]
fn pg_no_guard_is_caught_overselling() {
    // Goal: pg-row-lock without its `available >= q` guard (read, decide, update
    // unguarded) oversells and C1 says so; pg-row-lock itself passes the same
    // scenario. Method: selftest/rush (40 shoppers, 30 units) on both.
    assert_caught("pg-no-guard", &["C1"]);
}

#[test]
fn run_with_a_variant_and_a_fault_names_the_check_and_shows_the_window() {
    // Goal: `stockproof run --variant NAME --fault SPEC` serves the broken engine,
    // injects the fault, exits 1 naming the check, and prints the window of history
    // that explains the violation (the ops on its SKU and the fault). Method:
    // selftest/retry, dual-write, a crash between its writes a second in.
    let reports = tempfile::tempdir().expect("temp dir");
    let args = [
        "run",
        "scenarios/selftest/retry.toml",
        "--duration",
        "2s",
        "--variant",
        "dual-write",
        "--fault",
        "crash-between-writes@1s",
    ];
    let (code, stdout) = stockproof(&args, reports.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("BROKEN variant dual-write"), "{stdout}");
    assert!(stdout.contains("(injected)"), "{stdout}");
    assert!(stdout.contains("C2 fail"), "{stdout}");
    assert!(stdout.contains("window: ops on sku r-"), "{stdout}");
    assert!(stdout.contains(" fault engine crash between"), "{stdout}");
    let folder = run_folder(&stdout);
    let summary = json(&folder.join("summary.json"));
    assert_eq!(summary["engine"], "dual-write");
    let markdown = std::fs::read_to_string(folder.join("summary.md")).expect("summary.md");
    assert!(markdown.contains("## Violation windows"), "{markdown}");
    let html = std::fs::read_to_string(folder.join("report.html")).expect("report.html");
    assert!(
        html.contains("class=\"fault\""),
        "the fault on the timeline"
    );
    assert!(html.contains("<svg class=\"window\""), "a violation window");
}

#[test]
fn serve_with_a_variant_serves_the_broken_engine() {
    // Goal: `stockproof serve --variant NAME` serves that variant over HTTP, and says
    // so. Method: serve `no-idempotency` on a free port, restock 10 units, send one
    // reserve twice with the same Idempotency-Key: the variant creates a second
    // reservation (201 again, 4 units held; the reference answers the retry 200 with
    // the first reservation, see `http_routes` in the engine tests); then SIGTERM.
    let mut served = serve(&["--variant", "no-idempotency"], Stdio::null());
    let banner = &served.banner;
    assert!(banner.contains("BROKEN variant no-idempotency"), "{banner}");
    let address = served.address();
    let http = crate::serve::http;
    let restocked = http(address, "POST", "/v1/skus/d-1/restock", r#"{"qty": 10}"#);
    assert!(restocked.starts_with("HTTP/1.1 200"), "{restocked}");
    for attempt in 1..=2 {
        let reserved = reserve_with_key(address, "twice-1");
        assert!(
            reserved.starts_with("HTTP/1.1 201"),
            "send {attempt}: {reserved}"
        );
    }
    let read = http(address, "GET", "/v1/skus/d-1", "");
    assert!(
        read.ends_with(r#"{"sku":"d-1","available":6,"reserved":4,"sold":0,"total":10}"#),
        "{read}"
    );
    assert_stops_on_sigterm(&mut served.child);
}

/// Sends SIGTERM to `serve` and asserts it stops with exit status 0.
fn assert_stops_on_sigterm(child: &mut std::process::Child) {
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().expect("serve exits");
    assert!(status.success(), "exit status {status} after SIGTERM");
}

/// Bound on the ledger writer catching up after a few restocks (milliseconds when
/// idle; a loaded CI machine is slower).
const CONVERGE_WAIT_MS_MAX: u64 = 30_000;

/// `stockproof reconcile --shop default` against `urls`: exit code and stdout.
fn reconcile(urls: &(String, String)) -> (i32, String) {
    let output = crate::support::stockproof()
        .args(["reconcile", "--shop", "default", "--redis-url", &urls.0])
        .args(["--database-url", &urls.1])
        .output()
        .expect("stockproof reconcile runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code().expect("an exit code"), stdout)
}

/// Polls `reconcile` until `done` holds for its result (bounded).
fn reconcile_until(urls: &(String, String), what: &str, done: impl Fn(i32, &str) -> bool) {
    let started = Instant::now();
    loop {
        let (code, stdout) = reconcile(urls);
        if done(code, &stdout) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_millis(CONVERGE_WAIT_MS_MAX),
            "reconcile never showed {what} (exit {code}):\n{stdout}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn serve_with_dual_write_skips_every_50th_postgres_write_by_itself() {
    // Goal: `stockproof serve --variant dual-write` crashes between its two writes by
    // itself, so any load tool exposes it. Method: serve on a free port with its own
    // servers; 49 single-unit restocks of d-1 leave Redis and Postgres equal
    // (`stockproof reconcile` exits 0 once the ledger caught up); the 50th is skipped
    // in Postgres: reconcile exits 1 naming d-1, Redis at 50.
    let mut served = serve(&["--variant", "dual-write"], Stdio::null());
    let value = |prefix: &str| {
        served
            .before
            .iter()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in {:?}", served.before))
            .trim_matches('\'')
            .to_owned()
    };
    let urls = (value("export REDIS_URL="), value("export DATABASE_URL="));
    let address = served.address().to_owned();
    let restock = || {
        let reply = crate::serve::http(&address, "POST", "/v1/skus/d-1/restock", r#"{"qty": 1}"#);
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    };
    for _ in 1..stockproof_engine::variants::DUAL_WRITE_CRASH_EVERY_DEFAULT {
        restock();
    }
    reconcile_until(&urls, "no drift after 49 writes", |code, _| code == 0);
    restock();
    reconcile_until(&urls, "the skipped write", |code, stdout| {
        code == 1 && stdout.contains("sku `d-1`") && stdout.contains("redis=50")
    });
    assert_stops_on_sigterm(&mut served.child);
}

/// `POST /v1/reservations` of 2 units of `d-1` with `key`; the whole response.
fn reserve_with_key(address: &str, key: &str) -> String {
    let cart = r#"{"items":[{"sku":"d-1","qty":2}],"ttl_ms":60000}"#;
    let request = format!(
        "POST /v1/reservations HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Idempotency-Key: {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{cart}",
        cart.len()
    );
    let mut stream = std::net::TcpStream::connect(address).expect("connecting");
    stream
        .set_read_timeout(Some(RUN_WAIT_MAX))
        .expect("read timeout");
    std::io::Write::write_all(&mut stream, request.as_bytes()).expect("sending");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reading");
    response
}
