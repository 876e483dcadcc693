//! `stockproof serve`: starts its own Redis + Postgres, serves the contract, logs JSON
//! with `--log-format json`, and stops in order on SIGTERM with exit status 0.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use crate::support::serve;

/// Bound on one raw HTTP exchange with the server.
const HTTP_TIMEOUT_MS: u64 = 10_000;

/// One HTTP/1.1 exchange over a fresh connection; returns the whole response text.
pub(crate) fn http(address: &str, method: &str, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(address)
        .unwrap_or_else(|error| panic!("connecting to {address}: {error}"));
    let timeout = Some(Duration::from_millis(HTTP_TIMEOUT_MS));
    stream.set_read_timeout(timeout).unwrap();
    stream.set_write_timeout(timeout).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

// Goal: the command a README user runs works end to end and stops cleanly. Method: run
// `stockproof serve --infra local --listen 127.0.0.1:0 --log-format json`, read the
// address it prints, restock and read a SKU over raw HTTP, send SIGTERM, expect exit 0,
// the "stopped" line, and JSON log lines on stderr.
#[test]
fn serve_answers_and_stops_on_sigterm() {
    let served = serve(
        &[
            "--aof",
            "always",
            "--shop",
            "serve-test",
            "--log-format",
            "json",
        ],
        Stdio::piped(),
    );
    let address = served.address().to_owned();
    let mut child = served.child;
    let mut stderr = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let ready = http(&address, "GET", "/readyz", "");
    assert!(
        ready.starts_with("HTTP/1.1 200"),
        "readyz on {address}: {ready}"
    );
    let restocked = http(&address, "POST", "/v1/skus/s-1/restock", r#"{"qty": 4}"#);
    assert!(
        restocked.starts_with("HTTP/1.1 200"),
        "restock on {address}: {restocked}"
    );
    let read = http(&address, "GET", "/v1/skus/s-1", "");
    assert!(
        read.ends_with(r#"{"sku":"s-1","available":4,"reserved":0,"sold":0,"total":4}"#),
        "snapshot on {address}: {read}"
    );

    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let log = stderr_reader.join().unwrap();
    assert!(
        status.success(),
        "exit status {status} after SIGTERM; stderr:\n{log}"
    );
    assert!(
        log.contains("stockproof serve: stopped"),
        "no stop line in:\n{log}"
    );
    let json_line = log
        .lines()
        .find(|line| line.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON log line in:\n{log}"));
    assert!(
        json_line.contains(r#""level":"#) && json_line.ends_with('}'),
        "not a JSON log line: {json_line}"
    );
}
