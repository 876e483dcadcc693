//! `stockproof engine-bench` at a tiny size, so the bench cannot rot: it must start its
//! own servers, run every cell and print the full table.

use std::process::Command;

#[test]
fn a_small_engine_bench_prints_every_row() {
    // Goal: the bench runs end to end and prints one row per workload and caller count,
    // with both clients' figures and their ratio. Method: run the binary with 100 ms
    // cells, callers 1 and 4, 20 SKUs, and read its stdout.
    let output = Command::new(env!("CARGO_BIN_EXE_stockproof"))
        .args(["engine-bench", "--provider", "local", "--aof", "off"])
        .args([
            "--cell-ms",
            "100",
            "--callers",
            "1,4",
            "--skus",
            "20",
            "--no-redis-benchmark",
        ])
        .output()
        .expect("stockproof runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        output.status
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("1 hot sku") || line.starts_with("20 skus"))
        .collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    for row in rows {
        let ratio = row.rsplit('|').next().unwrap().trim();
        assert!(ratio.ends_with('%'), "{row}");
        let percent: f64 = ratio.trim_end_matches('%').parse().unwrap();
        assert!(percent > 0.0, "{row}");
    }
}
