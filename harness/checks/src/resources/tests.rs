use super::*;
use crate::judge::render::verdict_text;
use crate::slo::{Slo, evaluate_with};
use crate::{Verdict, latency::Latencies};

/// `count` samples a second of `name`, the i-th valued `value(i)`.
fn resources(name: &str, count: u64, value: impl Fn(u64) -> f64) -> Resources {
    Resources {
        header: ResourcesHeader {
            version: RESOURCES_FORMAT_VERSION,
            source: "test".to_owned(),
            interval_ms: 1_000,
            series: vec![SeriesInfo {
                name: name.to_owned(),
                unit: builtin_unit(name).unwrap_or(Unit::Unknown),
            }],
            absent: vec![AbsentSeries {
                name: "redis.used_memory".to_owned(),
                why: "pg-row-lock has no Redis".to_owned(),
            }],
            probe_errors: BTreeMap::new(),
        },
        samples: (0..count)
            .map(|i| ResourceSample {
                t_ms: i * 1_000,
                values: BTreeMap::from([(name.to_owned(), value(i))]),
            })
            .collect(),
    }
}

fn judged(slo: &str, resources: Option<&Resources>) -> crate::slo::SloResult {
    let slo: Slo = slo.parse().expect("slo");
    evaluate_with(&[slo], &Latencies::default(), resources).remove(0)
}

// Goal: a series that keeps growing fails its growth SLO; a flat one with one wild
// sample at an end of the second half passes.
// Method: 100 samples growing 1% a sample; 100 flat samples with one spike in the
// last tenth; judge `growth <= 5%` on each.
#[test]
fn growth_fails_a_leak_and_shrugs_off_one_spike() {
    let leak = resources("harness.rss", 100, |i| 100e6 * (1.0 + 0.01 * i as f64));
    let result = judged("harness.rss growth <= 5%", Some(&leak));
    assert_eq!(result.verdict, Verdict::Fail, "{result:?}");
    let steady = resources("harness.rss", 100, |i| if i == 97 { 900e6 } else { 100e6 });
    let result = judged("harness.rss growth <= 5%", Some(&steady));
    assert_eq!(
        (result.verdict, result.observed),
        (Verdict::Pass, Some(0.0)),
        "{result:?}"
    );
}

// Goal: `.max` compares the largest sample in the series' unit.
// Method: a lag peaking at 3 s against `<= 2s` and `<= 5s`.
#[test]
fn max_compares_in_the_series_unit() {
    let lag = resources("ledger.lag", 20, |i| if i == 10 { 3.0 } else { 0.1 });
    assert_eq!(
        judged("ledger.lag.max <= 2s", Some(&lag)).verdict,
        Verdict::Fail
    );
    assert_eq!(
        judged("ledger.lag.max <= 5s", Some(&lag)).verdict,
        Verdict::Pass
    );
}

// Goal: a series that was not sampled is never a silent pass.
// Method: judge a series the header marks absent, one no sample holds, a run without
// resources and a run too short for a growth; each is unknown with its reason, and the
// verdict text prints it.
#[test]
fn absent_series_are_not_judged_and_say_why() {
    let run = resources("harness.rss", 5, |_| 1.0);
    let cases = [
        (
            "redis.used_memory.max <= 1GB",
            Some(&run),
            "pg-row-lock has no Redis",
        ),
        (
            "postgres.db_size growth <= 5%",
            Some(&run),
            "no sample holds",
        ),
        ("harness.rss.max <= 1GB", None, "no resources.jsonl"),
        ("harness.rss growth <= 5%", Some(&run), "too few samples"),
    ];
    for (slo, resources, why) in cases {
        let result = judged(slo, resources);
        assert_eq!(result.verdict, Verdict::Unknown, "{slo}");
        let note = result.note.clone().unwrap_or_default();
        assert!(
            note.starts_with("not judged") && note.contains(why),
            "{slo}: {note}"
        );
        let verdict = crate::RunVerdict {
            checks: Vec::new(),
            slos: vec![result],
            coverage: Vec::new(),
            cut_short: None,
        };
        let history = crate::history::History::new(
            crate::history::HistoryHeader::new("t", 1, 0, 0),
            Vec::new(),
        );
        let text = verdict_text(&verdict, &history, 3);
        assert!(text.contains("unknown (not judged"), "{text}");
    }
}

// Goal: resources.jsonl reads back what was written.
// Method: write and read a small run.
#[test]
fn jsonl_round_trips() {
    let run = resources("ledger.lag_events", 3, |i| i as f64);
    let read = Resources::from_jsonl(&run.to_jsonl()).expect("read back");
    assert_eq!(read, run);
    assert!(Resources::from_jsonl("").is_err());
}

// Goal: resource SLOs parse with units and refuse what they cannot mean.
// Method: parse good and bad forms.
#[test]
fn resource_slos_parse_with_units() {
    let max: Slo = "redis.used_memory.max <= 512MB".parse().expect("bytes");
    assert_eq!(max.threshold, 512e6);
    let max: Slo = "ledger.lag.max <= 250ms".parse().expect("seconds");
    assert_eq!(max.threshold, 0.25);
    let growth: Slo = "process_resident_memory_bytes growth <= 5%"
        .parse()
        .expect("growth");
    assert_eq!(growth.threshold, 0.05);
    let labelled: Slo = "queue_depth{queue=\"a\"}.max < 1e4"
        .parse()
        .expect("labelled");
    assert_eq!(labelled.threshold, 1e4);
    for bad in [
        "redis.used_mem growth <= 5%",
        "redis.used_memory growth <= 5",
        "ledger.lag.max <= 2MB",
        "redis.used_memory <= 5%",
        "harness.rss.max <= 2s",
    ] {
        assert!(bad.parse::<Slo>().is_err(), "accepted `{bad}`");
    }
}
