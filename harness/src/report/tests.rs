use std::path::Path;

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::checks::judge::record::RunInfo;
use crate::checks::judge::{RecordedRun, judge};
use crate::checks::{RunVerdict, WhiteBoxSnapshot};
use crate::history::OpKind;

/// Run start of every test report: 2026-11-23T12:00:00Z.
const STARTED_AT_UNIX_MS: i64 = 1_795_435_200_000;

fn scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/flash-sale.toml");
    crate::scenario::load(&path).unwrap_or_else(|error| panic!("{error}"))
}

/// A deterministic run: the bench's synthetic history (seed 5) with latencies drawn
/// from a long-tailed distribution, its verdicts and latencies.
fn run(scenario: &Scenario) -> (History, RunVerdict, Latencies) {
    let (mut history, snapshot) =
        crate::bench::synthetic_over(3_000, 4, 5, crate::bench::Reads::FinalOnly);
    history = history.into_unfolded();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for entry in &mut history.entries {
        let tail = if rng.random::<f64>() < 0.01 {
            20_000
        } else {
            0
        };
        entry.intended_us = Some(entry.invoke_us.saturating_sub(rng.random_range(0..200)));
        entry.complete_us = entry.invoke_us + rng.random_range(200..3_000) + tail;
    }
    for (position, entry) in history.entries.iter_mut().enumerate() {
        // Spread the run over 4 s so it has several intervals.
        let shift = position as u64 * 1_000;
        entry.invoke_us += shift;
        entry.complete_us += shift;
        entry.intended_us = entry.intended_us.map(|intended| intended + shift);
    }
    let latencies = Latencies::from_history(&history);
    let verdict = judged(scenario, &history, Some(&snapshot), &latencies);
    (history, verdict, latencies)
}

/// The one judge's verdict on `history` run under `scenario`.
fn judged(
    scenario: &Scenario,
    history: &History,
    snapshot: Option<&WhiteBoxSnapshot>,
    latencies: &Latencies,
) -> RunVerdict {
    judge(&RecordedRun {
        criteria: &scenario.criteria(),
        info: &RunInfo::without_run_json(history, snapshot.is_some()),
        history,
        snapshot,
        stores: None,
        latencies,
        resources: None,
    })
}

fn write(dir: &Path) -> Vec<std::path::PathBuf> {
    let scenario = scenario();
    let (history, verdict, latencies) = run(&scenario);
    write_judged(dir, &scenario, (&history, &verdict, &latencies), None)
}

/// The reports of a judged run, with the resources it sampled.
fn write_judged(
    dir: &Path,
    scenario: &Scenario,
    (history, verdict, latencies): (&History, &RunVerdict, &Latencies),
    resources: Option<&crate::checks::resources::Resources>,
) -> Vec<std::path::PathBuf> {
    let data = RunData {
        scenario,
        seed: 5,
        started_at_unix_ms: STARTED_AT_UNIX_MS,
        target: "in-process engine",
        engine: "reference",
        white_box: true,
        verdict,
        latencies,
        history,
        resources,
    };
    write_reports(dir, &data).expect("write reports")
}

// Goal: `.hgrm` output is byte for byte what HdrHistogram Java prints.
// Method: the three-value example whose Java output hdr-histogram-js tests against,
// same histogram bounds (1 to 2^53-1, 3 digits), scaling ratio 1.
#[test]
fn hgrm_matches_the_java_layout_exactly() {
    let mut histogram: Histogram<u64> =
        Histogram::new_with_bounds(1, (1 << 53) - 1, 3).expect("bounds");
    for value in [25, 50, 75] {
        histogram.record(value).expect("record");
    }
    let expected = "       Value     Percentile TotalCount 1/(1-Percentile)

      25.000 0.000000000000          1           1.00
      25.000 0.100000000000          1           1.11
      25.000 0.200000000000          1           1.25
      25.000 0.300000000000          1           1.43
      50.000 0.400000000000          2           1.67
      50.000 0.500000000000          2           2.00
      50.000 0.550000000000          2           2.22
      50.000 0.600000000000          2           2.50
      50.000 0.650000000000          2           2.86
      75.000 0.700000000000          3           3.33
      75.000 1.000000000000          3
#[Mean    =       50.000, StdDeviation   =       20.412]
#[Max     =       75.000, Total count    =            3]
#[Buckets =           43, SubBuckets     =         2048]
";
    assert_eq!(hgrm::render(&histogram, 5, 1.0), expected);
}

// Goal: each written `.hgrm` parses back to the recorded histogram's count, max, mean
// and percentiles (in ms).
// Method: write the reports of a deterministic run, parse reserve.hgrm, compare.
#[test]
fn hgrm_files_parse_back_to_the_recorded_histograms() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path());
    let scenario = scenario();
    let (_, _, latencies) = run(&scenario);
    for (kind, op) in &latencies.ops {
        let text = std::fs::read_to_string(dir.path().join(format!("{}.hgrm", kind.as_str())))
            .expect("hgrm");
        let parsed = hgrm::parse(&text).unwrap_or_else(|error| panic!("{kind}: {error}"));
        let histogram = &op.corrected;
        assert_eq!(parsed.total_count, histogram.len(), "{kind}");
        assert!(
            (parsed.max - histogram.max() as f64 / 1000.0).abs() < 0.0005,
            "{kind} max"
        );
        assert!(
            (parsed.mean - histogram.mean() / 1000.0).abs() < 0.0005,
            "{kind} mean"
        );
        assert_eq!(
            parsed.lines.last().map(|line| line.2),
            Some(histogram.len()),
            "{kind}"
        );
        for fraction in [0.5, 0.9] {
            let value = parsed.value_at(fraction).expect("percentile line");
            let expected = histogram.value_at_quantile(fraction) as f64 / 1000.0;
            assert!(
                (value - expected).abs() < 0.0005,
                "{kind} p{fraction}: {value} vs {expected}"
            );
        }
        for (value, level, _) in parsed.lines.iter().filter(|line| line.1 < 1.0) {
            let expected = histogram.value_at_quantile(*level) as f64 / 1000.0;
            assert!(
                (value - expected).abs() < 0.0005,
                "{kind} line at {level}: {value} vs {expected}"
            );
        }
    }
}

// Goal: latency.hlog is an interval log whose decoded histograms equal the recorded
// per-second histograms, with the Java header lines.
// Method: parse with hdrhistogram's IntervalLogIterator, decode each V2 deflate payload.
#[test]
fn hlog_parses_back_into_the_recorded_intervals() {
    let scenario = scenario();
    let (_, _, latencies) = run(&scenario);
    let text = hlog::render(&latencies, STARTED_AT_UNIX_MS).expect("render");
    assert!(
        text.contains(
            "#[StartTime: 1795435200.000 (seconds since epoch), 2026-11-23T12:00:00.000Z]"
        ),
        "{text}"
    );
    assert!(text.contains(
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    ));
    let mut deserializer = Deserializer::new();
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(text.as_bytes()) {
        let LogEntry::Interval(interval) = entry.expect("log entry") else {
            continue;
        };
        let kind = OpKind::parse(interval.tag().expect("tag").as_str()).expect("op kind tag");
        let second = interval.start_timestamp().as_secs() as usize;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .expect("base64");
        let decoded: Histogram<u64> = deserializer
            .deserialize(&mut bytes.as_slice())
            .expect("histogram");
        let recorded = latencies.ops[&kind].intervals.get(second).expect("second");
        assert_eq!(&decoded, &*recorded, "{kind} second {second}");
        assert!((interval.max() - recorded.max() as f64 / 1000.0).abs() < 0.001);
        intervals += 1;
    }
    let expected: usize = latencies
        .ops
        .values()
        .map(|op| {
            (0..op.intervals.len())
                .filter(|&second| op.intervals.count(second) > 0)
                .count()
        })
        .sum();
    assert_eq!(intervals, expected);
    assert!(intervals > 3, "intervals {intervals}");
}

// Goal: the report's times are UTC calendar times to the millisecond.
// Method: format known instants (epoch, a leap day, before the epoch).
#[test]
fn utc_text_is_a_calendar_time_in_ms() {
    assert_eq!(hlog::utc_text(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(hlog::utc_text(951_786_061_007), "2000-02-29T01:01:01.007Z");
    assert_eq!(hlog::utc_text(-1), "1969-12-31T23:59:59.999Z");
}

// Goal: summary.json validates against the committed schema, and the schema is strict
// enough to reject a summary missing a field.
// Method: validate the written file; remove `verdict` and validate again.
#[test]
fn summary_json_validates_against_its_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path());
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("summary.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("schema"))
            .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let mut summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("summary"),
    )
    .expect("summary json");
    let errors: Vec<String> = validator
        .iter_errors(&summary)
        .map(|error| error.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    summary.as_object_mut().expect("object").remove("verdict");
    assert!(
        !validator.is_valid(&summary),
        "a summary without `verdict` validated"
    );
}

// Goal: report.html is self-contained (no network reference, no script or style
// loaded from anywhere) and holds its charts: latency, outcomes, percentiles and a
// stock chart per SKU, each with its series and the tooltip's data, the violations
// marked with links to their window sections, and figures in human units.
// Method: write the reports of the deterministic run (C4 fails) and inspect the page.
#[test]
fn report_html_is_offline_and_has_the_charts() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path());
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "network reference in report.html"
    );
    assert!(
        !html.contains(" src=") && !html.contains("<link"),
        "a loaded asset in report.html"
    );
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for id in ["latency", "outcomes", "percentiles", "stock-0", "stock-3"] {
        assert!(
            html.contains(&format!("<figure class=\"chart\" id=\"chart-{id}\">")),
            "no chart {id}"
        );
    }
    for series in [
        "p50",
        "p99",
        "max",
        "ok",
        "refused",
        "unknown",
        "available",
        "sold",
    ] {
        assert!(
            html.contains(&format!("data-series=\"{series}\"")),
            "no series {series}"
        );
    }
    assert_eq!(
        html.matches("<script type=\"application/json\" class=\"chart-data\">")
            .count(),
        7,
        "tooltip data per chart"
    );
    let points: Vec<&str> = html
        .split("points=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or(""))
        .collect();
    assert!(
        points.iter().any(|list| list.split(' ').count() >= 20),
        "no series with 20 points"
    );
    assert!(points.iter().flat_map(|list| list.split(' ')).all(|point| {
        point
            .split_once(',')
            .is_some_and(|(x, y)| x.parse::<f64>().is_ok() && y.parse::<f64>().is_ok())
    }));
    assert!(html.contains("<a href=\"#window-0\" class=\"violation\">"));
    assert!(html.contains("<section class=\"window\" id=\"window-0\">"));
    assert!(html.contains("<tr id=\"check-C4\">"));
    assert!(html.contains("<header class=\"verdict violation\""));
    assert!(html.contains(">20.7 ms</td>"), "SLO in human units");
    assert!(!html.contains("NaN"), "NaN in report.html");
}

/// report.html of `history` (checks, SLOs and coverage judged on it).
fn html_of(history: &History) -> String {
    let scenario = scenario();
    let latencies = Latencies::from_history(history);
    let verdict = judged(&scenario, history, None, &latencies);
    let data = RunData {
        scenario: &scenario,
        seed: 5,
        started_at_unix_ms: STARTED_AT_UNIX_MS,
        target: "in-process engine",
        engine: "reference",
        white_box: false,
        verdict: &verdict,
        latencies: &latencies,
        history,
        resources: None,
    };
    html::render(&data, &summary(&data))
}

/// The point lists of the polylines inside the figure `chart-<id>`.
fn polylines_of<'h>(html: &'h str, id: &str) -> Vec<&'h str> {
    let start = html
        .find(&format!("id=\"chart-{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let figure = &html[start..start + html[start..].find("</figure>").expect("figure end")];
    figure
        .split("points=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or(""))
        .collect()
}

// Goal: a run with no op renders a page that says so instead of empty charts, and
// a 2-hour run stays bounded: each series at most SERIES_POINTS_MAX points (one per
// 19 s bucket), the page under a megabyte.
// Method: render an empty history; then the synthetic history with its ops spread
// 360 ms apart (20,000 ops ≈ 2 h).
#[test]
fn report_html_handles_empty_and_long_runs() {
    let empty = History::new(
        crate::history::HistoryHeader::new("flash-sale", 5, STARTED_AT_UNIX_MS, 1_000),
        Vec::new(),
    );
    let html = html_of(&empty);
    assert!(html.contains("No shopper op completed"), "{html}");
    assert!(
        html.contains("No SKU was stocked, reserved or read"),
        "{html}"
    );
    assert!(!html.contains("NaN"), "{html}");

    let (mut history, _) =
        crate::bench::synthetic_over(20_000, 4, 5, crate::bench::Reads::FinalOnly);
    history = history.into_unfolded();
    for (position, entry) in history.entries.iter_mut().enumerate() {
        let shift = position as u64 * 360_000;
        entry.invoke_us += shift;
        entry.complete_us += shift;
    }
    let html = html_of(&history);
    assert!(
        html.len() < 1024 * 1024,
        "report.html is {} bytes",
        html.len()
    );
    assert!(
        html.contains("(one point per 19 s keeps"),
        "bucket width in the caption"
    );
    for id in ["latency", "stock-0"] {
        let lines = polylines_of(&html, id);
        assert!(!lines.is_empty(), "{id}: no line");
        for line in lines {
            let points = line.split(' ').count();
            // Steps draw two points per sample.
            assert!(
                points <= 2 * (series::SERIES_POINTS_MAX + 1),
                "{id}: {points} points"
            );
        }
    }
    assert!(!html.contains("NaN"));
}

// Goal: junit.xml has one testcase per check, SLO and coverage goal, escaped.
// Method: write the reports; count testcases and look for an escaped SLO name.
#[test]
fn junit_has_a_testcase_per_check_slo_and_goal() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path());
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit");
    let scenario = scenario();
    assert_eq!(
        xml.matches("<testcase ").count(),
        crate::checks::CheckId::ALL.len() + scenario.slos.len() + scenario.coverage.len()
    );
    assert!(xml.contains("name=\"reserve.p99 &lt;= 50ms\""), "{xml}");
    assert!(
        xml.contains("classname=\"stockproof.flash-sale.checks\" name=\"C1 no oversell\""),
        "{xml}"
    );
    assert_eq!(
        junit::escape("a<b & \"c\" 'd'>"),
        "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
    );
}

// Goal: summary.md and summary.json keep their shape (snapshot tests; times redacted).
// Method: render a deterministic run and compare with the reviewed snapshots.
#[test]
fn summaries_match_their_snapshots() {
    let scenario = scenario();
    let (history, verdict, latencies) = run(&scenario);
    let data = RunData {
        scenario: &scenario,
        seed: 5,
        started_at_unix_ms: STARTED_AT_UNIX_MS,
        target: "in-process engine",
        engine: "reference",
        white_box: true,
        verdict: &verdict,
        latencies: &latencies,
        history: &history,
        resources: None,
    };
    let summary = summary(&data);
    insta::assert_snapshot!(
        "summary_md",
        markdown(&summary, &history).replace(&summary.started_at, "[time]")
    );
    insta::assert_json_snapshot!("summary_json", summary, { ".started_at" => "[time]" });
}

// Goal: report.html charts each sampled resource series with its figures (first, last,
// max, the second half's growth) and the verdict of the SLO on it.
// Method: the deterministic run's reports with a growing `redis.used_memory` sampled
// 40 times and a failed growth SLO on it; look for its chart and caption.
#[test]
fn report_html_charts_the_sampled_resources() {
    use crate::checks::resources::{ResourceSample, Resources, ResourcesHeader, SeriesInfo, Unit};
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = scenario();
    let (history, mut verdict, latencies) = run(&scenario);
    let resources = Resources {
        header: ResourcesHeader {
            version: 1,
            source: "in-process engine, strategy redis-lua".to_owned(),
            interval_ms: 100,
            series: vec![SeriesInfo {
                name: "redis.used_memory".to_owned(),
                unit: Unit::Bytes,
            }],
            absent: Vec::new(),
            probe_errors: std::collections::BTreeMap::new(),
        },
        samples: (0..40u64)
            .map(|index| ResourceSample {
                t_ms: index * 100,
                values: [("redis.used_memory".to_owned(), 1e6 + index as f64 * 1e4)].into(),
            })
            .collect(),
    };
    let slo: crate::scenario::Slo = "redis.used_memory growth <= 5%".parse().expect("slo");
    verdict.slos = crate::checks::slo::evaluate_with(&[slo], &latencies, Some(&resources));
    write_judged(
        dir.path(),
        &scenario,
        (&history, &verdict, &latencies),
        Some(&resources),
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    assert!(html.contains("id=\"resources\""), "no resources section");
    assert!(html.contains("chart-resource-0"), "no resource chart");
    for figure in [
        "40 samples: first 1 MB, last 1.39 MB",
        "Growth over the second half",
    ] {
        assert!(html.contains(figure), "{figure} missing");
    }
    assert!(
        html.contains("SLO `redis.used_memory growth &lt;= 5%`: fail")
            || html.contains("SLO `redis.used_memory growth <= 5%`: fail"),
        "the SLO's verdict is not in the caption"
    );
}
