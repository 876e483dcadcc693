//! `stockproof probe` against a real `stockproof serve`: the contract's own adapter
//! means what the contract means at every step; an adapter whose replay rule is missing
//! is caught at the replay step, naming the rule; a bad adapter file exits 2 with its
//! line and key and sends nothing.

use std::process::Stdio;

use crate::support::{describe, repo, run_bounded, serve, stockproof};

/// The contract's adapter without its rule for replays (a 200 to a repeated key).
fn adapter_without_replay_rule(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo().join("adapters/stockproof.toml"))
        .expect("adapters/stockproof.toml");
    let broken = text.replace("  { status = 200, outcome = \"replayed\" },\n", "");
    assert_ne!(broken, text, "the replay rule is in the contract's adapter");
    let path = dir.join("no-replay.toml");
    std::fs::write(&path, broken).expect("write the adapter");
    path
}

// Goal: probe walks the whole sequence on the reference engine and every step matches
// the contract (exit 0); with the replay rule removed, the replay step is a mismatch
// that says the reply matched no rule (exit 1).
// Method: one `stockproof serve` on local servers, probed twice.
#[test]
fn probe_passes_the_contract_and_names_a_missing_rule() {
    let served = serve(&[], Stdio::null());
    let output = run_bounded(stockproof().args(["probe", "--target", &served.url]));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    for step in [
        "the same reserve again",
        "key k1 with other items",
        "release after confirm",
        "expires",
    ] {
        assert!(stdout.contains(step), "{step} in {stdout}");
    }
    assert!(!stdout.contains("MISMATCH"), "{stdout}");

    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = adapter_without_replay_rule(dir.path());
    let output = run_bounded(
        stockproof()
            .args(["probe", "--target", &served.url, "--adapter"])
            .arg(&adapter),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        stdout.contains("no rule matched -> unknown")
            && stdout.contains("MISMATCH: the replay was unknown"),
        "{stdout}"
    );
    served.kill();
}

// Goal: a bad adapter file is refused before anything is sent: exit 2, the file, line
// and key named.
#[test]
fn probe_refuses_a_bad_adapter_file_with_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[adapter]\nname = \"bad\"\nidentity = \"key\"\nseed = \"out_of_band\"\n\n[ops.get_sku]\nmethod = \"GET\"\npath = \"/s/{{ sku.idd }}\"\n",
    )
    .expect("write");
    let output = run_bounded(
        stockproof()
            .args(["probe", "--target", "http://127.0.0.1:9", "--adapter"])
            .arg(&path),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        stderr.contains("bad.toml:8:") && stderr.contains("`ops.get_sku.path`"),
        "{stderr}"
    );
}
