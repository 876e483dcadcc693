//! Resource SLOs end to end: a run against the reference engine (`stockproof serve`)
//! whose `/metrics` is a tiny exporter in this test, its one gauge growing (a leak) or
//! steady; the growth SLO turns the leak's verdict red (exit 3) and passes the steady
//! one; an SLO naming a series the target does not export is refused before the load.
//! Sampled every 100 ms so a 3 s load has a second half to judge.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::support::{
    FLASH_SALE_SLOS, describe, flash_sale_variant, run_bounded, run_folder, serve, stockproof,
};

/// An exporter on a free loopback port serving `leak_bytes`: 1 MB, plus `step` per
/// scrape. Serves until the test process ends.
fn exporter(step: u64) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/metrics", listener.local_addr().expect("address"));
    let scrapes = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let value = 1_000_000 + step * scrapes.fetch_add(1, Ordering::Relaxed);
            let body = format!("# TYPE leak_bytes gauge\nleak_bytes {value}\n");
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn run_with(dir: &Path, slos: &str, target: &str, metrics: &str) -> Output {
    let scenario = flash_sale_variant(dir, FLASH_SALE_SLOS, slos);
    run_bounded(
        stockproof()
            .arg("run")
            .arg(scenario)
            .args([
                "--users",
                "10",
                "--duration",
                "3s",
                "--sample-interval",
                "100ms",
            ])
            .arg("--report-dir")
            .arg(dir.join("reports"))
            .args(["--target", target, "--metrics", metrics]),
    )
}

// Goal: a service whose memory keeps growing gets a red verdict from its growth SLO,
// and a steady one passes it; both folders hold resources.jsonl and its chart.
// Method: one served engine, two exporters (growing 2 % of its start per scrape, flat),
// a 3 s run against each with `leak_bytes growth <= 5%`.
#[test]
fn a_leak_turns_the_verdict_red_and_a_steady_series_passes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let served = serve(&[], Stdio::null());
    let slos = "slos = [\"leak_bytes growth <= 5%\"]";
    let leak = run_with(dir.path(), slos, &served.url, &exporter(20_000));
    let stdout = String::from_utf8_lossy(&leak.stdout);
    assert_eq!(leak.status.code(), Some(3), "{}", describe(&leak));
    assert!(
        stdout.contains("slo `leak_bytes growth <= 5%`: fail"),
        "{stdout}"
    );
    let steady = run_with(dir.path(), slos, &served.url, &exporter(0));
    let stdout = String::from_utf8_lossy(&steady.stdout);
    assert_eq!(steady.status.code(), Some(0), "{}", describe(&steady));
    assert!(
        stdout.contains("slo `leak_bytes growth <= 5%`: pass (observed 0 %"),
        "{stdout}"
    );
    let folder = run_folder(&stdout);
    let resources = std::fs::read_to_string(folder.join("resources.jsonl")).expect("resources");
    assert!(resources.lines().count() > 20, "{resources}");
    let report = std::fs::read_to_string(folder.join("report.html")).expect("report");
    assert!(report.contains("Resources over time"));
    served.kill();
}

// Goal: an SLO on a series the target does not export is a usage error before any
// load, naming the SLO; so is one on the in-process engine's series.
// Method: run with `missing_bytes.max <= 1MB` and with `redis.used_memory growth`.
#[test]
fn a_series_the_target_lacks_is_refused_before_the_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let served = serve(&[], Stdio::null());
    let metrics = exporter(0);
    for (slo, why) in [
        (
            "missing_bytes.max <= 1MB",
            "is not among the counters and gauges",
        ),
        ("redis.used_memory growth <= 5%", "in-process engine only"),
    ] {
        let slos = format!("slos = [\"{slo}\"]");
        let run = run_with(dir.path(), &slos, &served.url, &metrics);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{}", describe(&run));
        assert!(
            stderr.contains(&format!("resource SLO `{slo}`")) && stderr.contains(why),
            "{stderr}"
        );
        assert!(
            !String::from_utf8_lossy(&run.stdout).contains("load "),
            "loaded"
        );
    }
    served.kill();
}
