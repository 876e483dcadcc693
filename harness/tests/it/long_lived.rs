//! Runs against a service that outlives them: every run gets SKUs and keys of its own
//! (`run.id` in the contract adapter's SKU ids, the run's id in every key), so stock and
//! reservations an earlier run left are never counted as this one's; an adapter whose
//! SKU ids repeat across runs is refused before the load, naming the SKU and what it
//! holds.

use std::path::Path;
use std::process::{Output, Stdio};

use crate::support::{describe, flash_sale_without_slos, repo, run_bounded, serve, stockproof};

fn short_run(dir: &Path, target: &str, adapter: Option<&Path>) -> Output {
    let mut command = stockproof();
    command
        .arg("run")
        .arg(flash_sale_without_slos(dir))
        .args(["--users", "10", "--duration", "2s", "--report-dir"])
        .arg(dir.join("reports"))
        .args(["--target", target]);
    if let Some(adapter) = adapter {
        command.arg("--adapter").arg(adapter);
    }
    run_bounded(&mut command)
}

// Goal: two runs in a row against one long-lived service both pass, and a third with
// SKU ids that repeat across runs is refused (exit 4) before the load, naming the SKU.
#[test]
fn runs_on_a_long_lived_service_never_count_stock_an_earlier_run_left() {
    let dir = tempfile::tempdir().expect("temp dir");
    let served = serve(&[], Stdio::null());
    for _ in 0..2 {
        let run = short_run(dir.path(), &served.url, None);
        assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    }
    let contract = std::fs::read_to_string(repo().join("adapters/stockproof.toml"))
        .expect("the contract's adapter");
    let fixed = contract
        .lines()
        .map(|line| match line.starts_with("id = ") {
            true => "id = \"{{ sku.name }}\"",
            false => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let fixed_path = dir.path().join("fixed-ids.toml");
    std::fs::write(&fixed_path, fixed).expect("write the adapter");
    let first = short_run(dir.path(), &served.url, Some(&fixed_path));
    assert_eq!(first.status.code(), Some(0), "{}", describe(&first));
    let again = short_run(dir.path(), &served.url, Some(&fixed_path));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(4), "{}", describe(&again));
    assert!(
        stderr.contains("`drop-001`") && stderr.contains("already holds stock before the run"),
        "{stderr}"
    );
    served.kill();
}
