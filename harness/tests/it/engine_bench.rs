//! `stockproof engine-bench` at a tiny size, so the bench cannot rot: it must start its
//! own servers, run every row with the ledger writer beside it and print both tables.

use crate::support::stockproof;

#[test]
fn a_small_engine_bench_prints_every_row() {
    // Goal: the bench runs end to end and prints, per workload and caller count, one
    // reserve row with both clients' figures and their ratio, and one writer row with
    // the row's event rate and a verdict. Method: run the binary with
    // 100 ms cells, callers 1 and 4, 20 SKUs, and read its stdout.
    let output = stockproof()
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
    assert_eq!(rows.len(), 8, "{stdout}");
    let (reserve_rows, writer_rows) = rows.split_at(4);
    for row in reserve_rows {
        let ratio = row.rsplit('|').next().unwrap().trim();
        assert!(ratio.ends_with('%'), "{row}");
        let percent: f64 = ratio.trim_end_matches('%').parse().unwrap();
        assert!(percent > 0.0, "{row}");
    }
    for row in writer_rows {
        let columns: Vec<&str> = row.split('|').map(str::trim).collect();
        let rates: Vec<f64> = columns[1]
            .split_whitespace()
            .map(|rate| rate.parse().unwrap())
            .collect();
        // Events were made; how many the writer wrote within a 200 ms row depends on the
        // machine (the bench itself waits until it has written them all).
        assert!(
            rates[0] > 0.0 && rates[1] >= 0.0,
            "events made and written: {row}"
        );
        let verdict = columns.last().unwrap();
        assert!(
            verdict.starts_with("keeps up") || verdict.starts_with("falls behind"),
            "{row}"
        );
    }
    assert!(stdout.contains("# target writer keeps up:"), "{stdout}");
}
