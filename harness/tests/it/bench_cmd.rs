//! `stockproof bench` as a user runs it: one tiny bench on a local Redis and Postgres
//! (flash-sale with 10 users, low rates, 1 s steps, a lenient SLO: timing is not what
//! this tests) gated with `--compare` against a hand-written bench.json whose knee is
//! far higher, so it must exit 3 and print old vs new, and still write bench.json (read
//! back against its documented fields), bench.md and bench.html (opened in headless
//! Chromium, offline, its curves drawn); and bad flags, which must exit 2 naming the
//! flag before anything starts. And the rule that sizes a step's stock (pure: no
//! server), so a step measures sales, not refusals.

use std::path::Path;
use std::sync::PoisonError;
use std::time::Duration;

use serde_json::Value;
use stockproof_harness::capacity::step::MOSTLY_REFUSED_SHARE;
use stockproof_harness::capacity::stock::{
    STOCK_SAFETY_FACTOR, STOCK_SLACK_UNITS, StockMode, apply, demand_units, sized_units,
};
use stockproof_harness::run::prepare;
use stockproof_harness::scenario::Overrides;

use crate::report_browser::{
    CHARTS_SCRIPT, RenderedCharts, chromium, evaluate_json, launch, open_recorded,
};
use crate::support::{describe, flash_sale_variant, repo, run_bounded, stockproof};

/// flash-sale's load, scaled down so a step's users' period (users / rate) is short.
const FLASH_SALE_LOAD: &str = "users = 200\nhatch_rate = 200";
const TINY_LOAD: &str = "users = 10\nhatch_rate = 100";
/// The knee the hand-written old bench.json claims: no tiny bench reaches it.
const DOCTORED_KNEE: f64 = 1_000_000.0;
/// What bench exits with when a knee fell past the tolerance (the SLO-missed code).
const EXIT_CAPACITY_REGRESSION: i32 = 3;
const EXIT_USAGE: i32 = 2;

/// A bench.json as docs/bench.md documents it, with one strategy's knee at `knee`.
fn old_bench_json(knee: f64) -> String {
    serde_json::json!({
        "format": "stockproof-bench",
        "format_version": 1,
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:09:00Z",
        "scenario": "flash-sale",
        "scenario_file": "scenarios/flash-sale.toml",
        "slo": "reserve.p99<=2s",
        "target": "in process (provider local)",
        "settings": {
            "start_rate_per_s": 20.0, "max_rate_per_s": 40.0, "resolution": 0.1,
            "warmup_s": 0.5, "step_time_s": 1.0, "samples_target": 10000.0,
            "achieved_tolerance": 0.05, "ceiling_time_s": 0.5, "budget_s": 120.0,
            "seed": null
        },
        "interrupted": false,
        "ceilings": { "notes": [] },
        "strategies": [{
            "strategy": "redis-lua",
            "knee_carts_per_s": knee,
            "end": "resolved",
            "ratios": {},
            "steps": []
        }]
    })
    .to_string()
}

// Goal: a bench runs its steps through the run pipeline, finds a knee, writes its
// three files, and `--compare` fails the gate when the old knee was higher.
// Method: flash-sale with 10 users, steps from 20 to at most 40 carts/s of 1 s after a
// 0.5 s warm-up, SLO reserve.p99 <= 2 s, against an old bench.json claiming a knee of
// 1M carts/s with a 10 % tolerance; then bench.html in headless Chromium.
#[test]
fn tiny_bench_writes_its_files_and_the_compare_gate_catches_a_fallen_knee() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = flash_sale_variant(dir.path(), FLASH_SALE_LOAD, TINY_LOAD);
    let old = dir.path().join("old-bench.json");
    std::fs::write(&old, old_bench_json(DOCTORED_KNEE)).unwrap();
    let reports = dir.path().join("reports");
    let output = run_bounded(
        stockproof()
            .args(["bench", "--provider", "local", "--slo", "reserve.p99<=2s"])
            .args([
                "--strategy",
                "redis-lua",
                "--start-rate",
                "20",
                "--max-rate",
                "40",
            ])
            .args([
                "--step-time",
                "1s",
                "--warmup",
                "500ms",
                "--ceiling-time",
                "500ms",
            ])
            .args(["--budget", "2m", "--tolerance", "10%", "--compare"])
            .arg(&old)
            .arg("--report-dir")
            .arg(&reports)
            .arg(&scenario),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(EXIT_CAPACITY_REGRESSION),
        "{}",
        describe(&output)
    );
    assert!(
        stdout.contains("redis-lua: old 1000000 carts/s, new ") && stdout.contains("REGRESSED"),
        "no old vs new line: {}",
        describe(&output)
    );
    let folder = only_bench_folder(&reports);
    for file in ["bench.json", "bench.md", "bench.html"] {
        assert!(
            folder.join(file).is_file(),
            "no {file}: {}",
            describe(&output)
        );
    }
    assert_sane_record(&folder.join("bench.json"));
    let markdown = std::fs::read_to_string(folder.join("bench.md")).unwrap();
    assert!(
        markdown.contains("## Knees") && markdown.contains("## redis-lua"),
        "{markdown}"
    );
    open_in_chromium(&folder.join("bench.html"));
}

fn only_bench_folder(reports: &Path) -> std::path::PathBuf {
    let folders: Vec<_> = std::fs::read_dir(reports)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("bench-"))
        })
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    folders[0].clone()
}

/// The documented fields, a knee for redis-lua and every step's figures in range.
fn assert_sane_record(path: &Path) {
    let record: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(record["format"], "stockproof-bench");
    assert_eq!(record["format_version"], 1);
    assert_eq!(record["slo"], "reserve.p99<=2s");
    assert_eq!(record["interrupted"], false);
    assert!(
        record["ceilings"]["load_generator"]["per_s"].as_f64() > Some(0.0),
        "{record:#}"
    );
    let strategy = &record["strategies"][0];
    assert_eq!(strategy["strategy"], "redis-lua");
    assert!(
        strategy["knee_carts_per_s"].as_f64() >= Some(20.0),
        "{strategy:#}"
    );
    assert_eq!(record["settings"]["stock"], "sized", "{record:#}");
    assert!(
        strategy["knee_refused_share"].as_f64() < Some(MOSTLY_REFUSED_SHARE),
        "{strategy:#}"
    );
    let steps = strategy["steps"].as_array().unwrap();
    assert!(!steps.is_empty(), "{strategy:#}");
    for step in steps {
        // Sized stock outlasts the step: its reserves are sales, not refusals.
        assert!(
            step["refused_share"].as_f64() < Some(MOSTLY_REFUSED_SHARE),
            "{step:#}"
        );
        assert!(
            (0.0..=1.0).contains(&step["unknown_share"].as_f64().unwrap()),
            "{step:#}"
        );
        assert!(step["stock_units_max"].as_i64() > Some(100), "{step:#}");
        assert!(
            step["offered_carts_per_s"].as_f64() >= Some(20.0),
            "{step:#}"
        );
        assert!(step["samples"].as_u64() > Some(0), "{step:#}");
        assert!(
            step["p50_us"].as_u64() <= step["p99_us"].as_u64(),
            "{step:#}"
        );
        assert!(
            step["p99_us"].as_u64() <= step["max_us"].as_u64(),
            "{step:#}"
        );
        assert_eq!(step["violations"], serde_json::json!([]), "{step:#}");
        let verdict = step["verdict"].as_str().unwrap();
        assert!(["pass", "fail"].contains(&verdict), "{step:#}");
    }
}

/// bench.html offline in headless Chromium: no request but the file, no console error,
/// the curves chart with redis-lua's series and the SLO line drawn.
fn open_in_chromium(page: &Path) {
    let Some(chromium) = chromium() else {
        return;
    };
    let url = format!("file://{}", page.display());
    let browser = launch(&chromium);
    let (tab, events) = open_recorded(&browser, &url);
    let charts: RenderedCharts = evaluate_json(&tab, CHARTS_SCRIPT, &url);
    let events = std::mem::take(&mut *events.lock().unwrap_or_else(PoisonError::into_inner));
    assert!(
        events.requests.iter().all(|request| *request == url),
        "requests other than {url}: {:?}",
        events.requests
    );
    assert!(
        events.errors.is_empty(),
        "console errors in {url}: {:#?}",
        events.errors
    );
    assert!(
        charts.script_ready,
        "{url}: the chart script did not finish"
    );
    let curves = charts
        .figures
        .iter()
        .find(|figure| figure.id == "chart-curves")
        .unwrap_or_else(|| panic!("{url}: no chart-curves: {:?}", charts.figures));
    for series in ["redis-lua", "slo"] {
        assert!(
            curves.series.iter().any(|drawn| drawn == series),
            "{url}: {curves:?}"
        );
    }
    assert!(curves.tooltip, "{url}: {curves:?}");
    assert!(
        charts
            .polylines
            .iter()
            .all(|line| line.points >= 2 && line.width > 0.0),
        "{url}: a polyline was not drawn: {charts:?}"
    );
}

// Goal: bad input exits 2 with a message naming the flag, before any server starts.
// Method: one bad flag at a time on an otherwise good command line.
#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let not_bench = dir.path().join("not-bench.json");
    std::fs::write(&not_bench, r#"{"format": "something-else"}"#).unwrap();
    let missing = dir.path().join("missing.json");
    let scenario = repo().join("scenarios/flash-sale.toml");
    let cases: [(&[&str], &str); 6] = [
        (&["--strategy", "pg-rowlock"], "--strategy"),
        (&["--slo", "reserve.p99<=fast"], "--slo"),
        (&["--compare", missing.to_str().unwrap()], "--compare"),
        (
            &["--compare", not_bench.to_str().unwrap()],
            "not a bench.json",
        ),
        (
            &[
                "--compare",
                not_bench.to_str().unwrap(),
                "--tolerance",
                "150%",
            ],
            "--tolerance",
        ),
        (
            &["--compare", not_bench.to_str().unwrap(), "--tolerance", "0"],
            "--tolerance",
        ),
    ];
    for (flags, named) in cases {
        let mut command = stockproof();
        command
            .args(["bench", "--provider", "local"])
            .arg(&scenario);
        if !flags.contains(&"--slo") {
            command.args(["--slo", "reserve.p99<=25ms"]);
        }
        let output = run_bounded(command.args(flags));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(EXIT_USAGE),
            "{flags:?}: {}",
            describe(&output)
        );
        assert!(
            stderr.contains(named),
            "{flags:?} does not name {named}: {stderr}"
        );
    }
}

// Goal: a step's stock outlasts the step at its offered rate, by the documented rule,
// and `--stock scenario` leaves the scenario's stock as it is.
// Method: flash-sale (one SKU, 1 line of 1-2 units) at 1,000 carts/s for 10 s asks for
// 15,000 units on average; wide-catalogue's SKUs share demand by their Zipf weight, and
// the tail keeps its own stock where the sized figure is below it.
#[test]
fn a_step_s_stock_is_sized_to_outlast_it_at_the_offered_rate() {
    let step = Duration::from_secs(10);
    let flash = prepare(
        &repo().join("scenarios/flash-sale.toml"),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(demand_units(&flash, 1_000.0, step), [15_000.0]);
    let expected = (STOCK_SAFETY_FACTOR * 15_000.0 + STOCK_SLACK_UNITS) as i64;
    let mut sized = flash.clone();
    assert_eq!(apply(&mut sized, StockMode::Sized, 1_000.0, step), expected);
    assert_eq!(sized.catalogue.skus[0].stock, expected);
    let mut own = flash.clone();
    assert_eq!(apply(&mut own, StockMode::Scenario, 1_000.0, step), 100);
    assert_eq!(own.catalogue, flash.catalogue);
    assert_eq!(
        sized_units(5_000, 10.0),
        5_000,
        "never below the scenario's"
    );

    let wide = prepare(
        &repo().join("scenarios/wide-catalogue.toml"),
        &Overrides::default(),
    )
    .unwrap();
    let demand = demand_units(&wide, 1_000.0, step);
    let total: f64 = demand.iter().sum();
    // 1-3 lines (mean 2) of 1-2 units (mean 1.5): 3 units a cart.
    assert!((total - 30_000.0).abs() < 1e-6, "{total}");
    assert!(
        demand.windows(2).all(|pair| pair[0] >= pair[1]),
        "Zipf order"
    );
    let mut sized = wide.clone();
    apply(&mut sized, StockMode::Sized, 1_000.0, step);
    assert_eq!(
        sized.catalogue.skus[0].stock,
        sized_units(200, demand[0]),
        "the hottest SKU"
    );
    assert!(sized.catalogue.skus[0].stock > 200);
    assert_eq!(
        sized.catalogue.skus[4_999].stock, 200,
        "the tail keeps its own"
    );
}
