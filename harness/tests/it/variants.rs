//! Each deliberately broken engine variant, run through `stockproof run` as a user
//! runs it (the binary, `--variant NAME`, the selftest scenario that should expose it,
//! a 2 s load on local Redis and Postgres): exit 1, naming the check that catches it,
//! with the variant recorded in `run.json`. The reference engine runs the same
//! scenario with the same seed beside it: every check passes, exit 0.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bound on one run (servers start in ~2 s, the load lasts 2 s, quiesce and checks
/// take a second; a busy 2-core CI machine can triple that).
const RUN_WAIT_MS_MAX: u64 = 120_000;
const RUN_POLL_MS: u64 = 50;

struct Run {
    exit_code: i32,
    stdout: String,
    folder: PathBuf,
}

/// `stockproof run scenarios/selftest/<scenario> --duration 2s [--variant NAME]`.
fn run(scenario: &str, variant: Option<&str>, reports: &Path) -> Run {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/selftest/{scenario}"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_stockproof"));
    command
        .arg("run")
        .arg(&path)
        .args(["--provider", "local", "--duration", "2s", "--report-dir"])
        .arg(reports)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(variant) = variant {
        command.args(["--variant", variant]);
    }
    let mut child = command.spawn().expect("stockproof starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for stockproof") {
            break status;
        }
        if started.elapsed() > Duration::from_millis(RUN_WAIT_MS_MAX) {
            child.kill().expect("killing a stuck run");
            panic!("stockproof run {scenario} {variant:?} took over {RUN_WAIT_MS_MAX} ms");
        }
        std::thread::sleep(Duration::from_millis(RUN_POLL_MS));
    };
    let stdout = reader
        .join()
        .expect("reader thread")
        .expect("stdout is text");
    let folder = stdout
        .lines()
        .find_map(|line| {
            line.split_once(", report ")
                .map(|(_, folder)| PathBuf::from(folder))
        })
        .unwrap_or_else(|| panic!("no report folder in:\n{stdout}"));
    Run {
        exit_code: status.code().expect("exited, not signalled"),
        stdout,
        folder,
    }
}

/// The `checks:` line: `C1 pass, C2 unknown, …`.
fn verdicts(run: &Run) -> Vec<(String, String)> {
    let line = run
        .stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("checks: "))
        .unwrap_or_else(|| panic!("no checks line in:\n{}", run.stdout));
    line.split(", ")
        .map(|pair| {
            let (check, verdict) = pair.split_once(' ').expect("`C1 pass`");
            (check.to_owned(), verdict.to_owned())
        })
        .collect()
}

fn run_json(run: &Run) -> serde_json::Value {
    let text = std::fs::read_to_string(run.folder.join("run.json")).expect("run.json");
    serde_json::from_str(&text).expect("run.json is JSON")
}

/// Runs `variant` and the reference on `scenario`; the variant must exit 1 with one of
/// `expected` failing, and the reference must pass every check (exit 0).
fn assert_caught(variant: &str, scenario: &str, expected: &[&str]) {
    let reports = tempfile::tempdir().expect("temp dir");
    let broken = run(scenario, Some(variant), reports.path());
    assert_eq!(
        broken.exit_code, 1,
        "{variant} on {scenario}:\n{}",
        broken.stdout
    );
    let failed: Vec<String> = verdicts(&broken)
        .into_iter()
        .filter(|(_, verdict)| verdict == "fail")
        .map(|(check, _)| check)
        .collect();
    assert!(
        failed
            .iter()
            .any(|check| expected.contains(&check.as_str())),
        "{variant} on {scenario}: failed {failed:?}, expected one of {expected:?}:\n{}",
        broken.stdout
    );
    assert!(broken.stdout.contains(&format!("BROKEN variant {variant}")));
    assert_eq!(run_json(&broken)["variant"], variant);
    let reference = run(scenario, None, reports.path());
    assert_eq!(
        reference.exit_code, 0,
        "reference on {scenario}:\n{}",
        reference.stdout
    );
    for (check, verdict) in verdicts(&reference) {
        assert_eq!(
            verdict, "pass",
            "reference on {scenario}: {check}:\n{}",
            reference.stdout
        );
    }
    assert!(run_json(&reference).get("variant").is_none());
}

#[test]
fn check_then_act_is_caught_overselling() {
    // Goal: read-then-decrement oversells and C1 says so. Method: selftest/rush (40
    // shoppers, 30 units) against the variant and the reference.
    assert_caught("check-then-act", "rush.toml", &["C1"]);
}

#[test]
fn no_idempotency_is_caught_by_c3() {
    // Goal: a retry with one key that reserves again is a C3 violation. Method:
    // selftest/retry (every reserve sent twice).
    assert_caught("no-idempotency", "retry.toml", &["C3"]);
}

#[test]
fn short_idempotency_is_caught_by_c3() {
    // Goal: a marker shorter than the clients' backoff is a C3 violation. Method:
    // selftest/late-retry (re-sent 1.5 s after the reply, retention 60 s).
    assert_caught("short-idempotency", "late-retry.toml", &["C3"]);
}

#[test]
fn ttl_expiry_is_caught_leaking_stock() {
    // Goal: holds that vanish without returning units leave stock stranded (C6).
    // Method: selftest/expiry (40% of carts abandoned to a 300 ms TTL).
    assert_caught("ttl-expiry", "expiry.toml", &["C6", "C2"]);
}

#[test]
fn double_release_is_caught() {
    // Goal: a confirmed reservation that also expires returns sold units (C6) or ends
    // Expired after an acknowledged confirm (C4). Method: selftest/expiry.
    assert_caught("double-release", "expiry.toml", &["C4", "C6", "C2"]);
}

#[test]
fn stale_cart_lines_are_caught_overselling() {
    // Goal: doubled lines checked against one stale count oversell (C1). Method:
    // selftest/doubled-lines (every cart names one SKU twice, 15 units per SKU).
    assert_caught("stale-cart-lines", "doubled-lines.toml", &["C1"]);
}

/// Bound on `stockproof serve` printing its address.
const SERVE_START_WAIT_MS_MAX: u64 = 60_000;

#[test]
fn serve_with_a_variant_serves_the_broken_engine() {
    // Goal: `stockproof serve --variant NAME` serves that variant over HTTP, and says
    // so. Method: serve `no-idempotency` on a free port, restock 10 units, send one
    // reserve twice with the same Idempotency-Key: the variant creates a second
    // reservation (201 again, 4 units held; the reference answers the retry 200 with
    // the first reservation, see `http_routes` in the engine tests); then SIGTERM.
    let mut child = Command::new(env!("CARGO_BIN_EXE_stockproof"))
        .args(["serve", "--infra", "local", "--listen", "127.0.0.1:0"])
        .args(["--variant", "no-idempotency"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("stockproof serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { return };
            if let Some(rest) = line.strip_prefix("# stockproof serve: listening on http://") {
                let _ = sender.send(rest.to_owned());
                return;
            }
        }
    });
    let banner = receiver
        .recv_timeout(Duration::from_millis(SERVE_START_WAIT_MS_MAX))
        .expect("stockproof serve printed its address");
    assert!(banner.contains("BROKEN variant no-idempotency"), "{banner}");
    let address = banner.split(' ').next().unwrap_or_default();
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
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().expect("serve exits");
    assert!(status.success(), "exit status {status} after SIGTERM");
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
        .set_read_timeout(Some(Duration::from_millis(RUN_WAIT_MS_MAX)))
        .expect("read timeout");
    std::io::Write::write_all(&mut stream, request.as_bytes()).expect("sending");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reading");
    response
}
