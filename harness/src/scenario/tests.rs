use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

const MINIMAL: &str = r#"
name = "tiny"

[load]
users = 2
hatch_rate = 2
iterations = 3

[catalogue]
skus = [{ id = "a-01", stock = 10 }, { id = "a-02", stock = 0 }]

[mix]
lines_per_cart = [1, 2]
qty_per_line = [1, 1]
confirm = 0.5
release = 0.25
abandon = 0.25

[reservation]
ttl = "500ms"
"#;

fn parse_text(text: &str) -> Result<Scenario, ScenarioError> {
    parse(text, Path::new("scenarios/test.toml"))
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Parses MINIMAL with `from` replaced by `to` and returns the error text.
fn error_of(from: &str, to: &str) -> String {
    let text = MINIMAL.replacen(from, to, 1);
    assert_ne!(text, MINIMAL, "`{from}` not found in MINIMAL");
    match parse_text(&text) {
        Ok(scenario) => panic!("accepted a bad scenario: {scenario:?}"),
        Err(error) => error.to_string(),
    }
}

// Goal: every shipped scenario parses and validates, and says what it checks.
// Method: load each file in scenarios/ and look at a few derived values.
#[test]
fn shipped_scenarios_are_valid() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(scenarios_dir()).expect("scenarios dir") {
        let path = entry.expect("dir entry").path();
        if path
            .extension()
            .is_some_and(|extension| extension == "toml")
        {
            let scenario = load(&path).unwrap_or_else(|error| panic!("{error}"));
            assert!(!scenario.description.is_empty(), "{}", path.display());
            assert!(
                !scenario.coverage.is_empty(),
                "{} has no coverage goal",
                path.display()
            );
            names.push(scenario.name);
        }
    }
    names.sort();
    assert_eq!(
        names,
        [
            "expiry",
            "faults-network",
            "faults-postgres",
            "faults-postgres-network",
            "faults-redis-kill",
            "faults-redis-kill-everysec",
            "faults-redis-pause",
            "faults-writer-crash",
            "flash-sale",
            "idempotent-retry",
            "mixed-cart",
            "retry-one-line",
            "vendure-drop",
            "wide-catalogue",
        ]
    );
    let mixed = load(&scenarios_dir().join("mixed-cart.toml")).expect("mixed-cart");
    assert_eq!(mixed.catalogue.skus.len(), 1000);
    assert_eq!(mixed.catalogue.skus[7].sku, "item-007");
    assert_eq!(mixed.engine.idempotency_retention, Duration::from_secs(2));
    assert_eq!(mixed.restocks.len(), 3);
}

// Goal: a minimal file fills in the documented defaults.
// Method: parse MINIMAL and compare a few fields.
#[test]
fn minimal_scenario_gets_defaults() {
    let scenario = parse_text(MINIMAL).expect("minimal");
    assert_eq!(scenario.load.stop, Stop::Iterations(3));
    assert_eq!(scenario.mix.skus, ["a-01", "a-02"]);
    assert_eq!(scenario.retry.client_timeout, CLIENT_TIMEOUT_DEFAULT);
    assert_eq!(scenario.checks.expiry_grace, EXPIRY_GRACE_DEFAULT);
    assert_eq!(scenario.reservation_ttl, Duration::from_millis(500));
    assert_eq!(scenario.catalogue.zipf_exponent, 0.0);
}

// Goal: the C7 / C8 coverage goals and reservation reads parse; the refusals goal
// carries the scenario's expiry grace, so it counts expiries as C8 does.
// Method: MINIMAL with both goals, a grace and a read share.
#[test]
fn read_and_refusal_goals_parse() {
    let text = MINIMAL.replace(
        "abandon = 0.25\n",
        "abandon = 0.25\nread_reservation = 0.2\n",
    ) + "[checks]\nexpiry_grace = \"700ms\"\n[coverage]\nreads_while_contended = 3\nrefusals_after_return = 2\n";
    let scenario = parse_text(&text).expect("scenario");
    assert_eq!(scenario.mix.read_reservation, 0.2);
    assert_eq!(
        scenario.coverage,
        [
            CoverageGoal::ReadsWhileContended { min: 3 },
            CoverageGoal::RefusalsAfterReturn { min: 2 },
        ]
    );
}

// Goal: an unknown key is refused naming the file, the key, its line and the keys expected.
// Method: add `userz` to [load].
#[test]
fn unknown_key_names_file_key_and_line() {
    let error = error_of("users = 2\n", "users = 2\nuserz = 3\n");
    assert!(error.contains("scenarios/test.toml:6:1"), "{error}");
    assert!(error.contains("`load.userz`"), "{error}");
    assert!(
        error.contains("unknown field `userz`, expected one of"),
        "{error}"
    );
}

// Goal: each semantic rule names its key and line.
// Method: break one value at a time and look for the key, line and reason.
#[test]
fn semantic_errors_name_the_key() {
    let cases = [
        (
            "stock = 10",
            "stock = -5",
            "catalogue.skus[0].stock",
            ":10:",
            "got -5",
        ),
        (
            "skus = [{ id = \"a-01\"",
            "skus = [{ id = \"a 01\"",
            "catalogue.skus[0].id",
            ":10:",
            "not a sku id",
        ),
        (
            "abandon = 0.25",
            "abandon = 0.3\nskus = [\"a-03\"]",
            "mix.skus[0]",
            ":18:",
            "unknown sku `a-03` (known: a-01, a-02)",
        ),
        (
            "abandon = 0.25",
            "abandon = 0.3",
            "mix.confirm",
            ":15:",
            "expected 1",
        ),
        (
            "confirm = 0.5",
            "confirm = 1.5",
            "mix.confirm",
            ":15:",
            "between 0 and 1",
        ),
        (
            "lines_per_cart = [1, 2]",
            "lines_per_cart = [3, 2]",
            "mix.lines_per_cart",
            ":13:",
            "min <= max",
        ),
        (
            "iterations = 3",
            "iterations = 3\nduration = \"5s\"",
            "load.duration",
            ":8:",
            "not both",
        ),
        (
            "ttl = \"500ms\"",
            "ttl = \"0ms\"",
            "reservation.ttl",
            ":20:",
            "expected between 1 ms",
        ),
        (
            "abandon = 0.25",
            "abandon = 0.25\nread_reservation = 1.5",
            "mix.read_reservation",
            ":18:",
            "between 0 and 1",
        ),
        (
            "ttl = \"500ms\"",
            "ttl = \"500ms\"\n[coverage]\nreads_while_contended = 0",
            "coverage.reads_while_contended",
            ":22:",
            "at least 1",
        ),
        (
            "ttl = \"500ms\"",
            "ttl = \"500ms\"\n[coverage]\nrefusals_after_return = 0",
            "coverage.refusals_after_return",
            ":22:",
            "at least 1",
        ),
    ];
    for (from, to, key, line, reason) in cases {
        let error = error_of(from, to);
        assert!(error.contains(&format!("`{key}`")), "{to}: {error}");
        assert!(error.contains(line), "{to}: {error}");
        assert!(error.contains(reason), "{to}: {error}");
    }
}

// Goal: a bad duration or SLO is refused by the parser with its line and the syntax.
// Method: replace the TTL by `10 parsecs`; add a malformed SLO.
#[test]
fn bad_duration_and_slo_syntax_are_refused() {
    let error = error_of("ttl = \"500ms\"", "ttl = \"10 parsecs\"");
    assert!(
        error.contains("`reservation.ttl`") && error.contains(":20:"),
        "{error}"
    );
    assert!(error.contains("`10 parsecs` is not a duration"), "{error}");

    let error = error_of(
        "name = \"tiny\"\n",
        "name = \"tiny\"\nslos = [\"reserve.p99 =< 25ms\"]\n",
    );
    assert!(error.contains("`slos`") && error.contains(":3:"), "{error}");
    assert!(error.contains("SLO `reserve.p99 =< 25ms`"), "{error}");

    let error = error_of(
        "name = \"tiny\"\n",
        "name = \"tiny\"\nslos = [\"checkout.p99 <= 25ms\"]\n",
    );
    assert!(error.contains("unknown operation `checkout`"), "{error}");
}

// Goal: SLO strings become typed objectives with thresholds in base units.
// Method: parse the four forms the docs show.
#[test]
fn slos_parse_into_typed_objectives() {
    let reserve: Slo = "reserve.p99 <= 25ms".parse().expect("reserve");
    assert_eq!(
        reserve.metric,
        SloMetric::Latency {
            op: crate::history::OpKind::Reserve,
            statistic: Statistic::Percentile(99.0)
        }
    );
    assert_eq!(
        (reserve.comparison, reserve.threshold),
        (Comparison::LessOrEqual, 25_000.0)
    );
    let confirm: Slo = "confirm.p99.9 < 5ms".parse().expect("confirm");
    assert_eq!(
        confirm.metric,
        SloMetric::Latency {
            op: crate::history::OpKind::Confirm,
            statistic: Statistic::Percentile(99.9)
        }
    );
    assert_eq!(confirm.comparison, Comparison::Less);
    let errors: Slo = "error_rate <= 0.1%".parse().expect("error rate");
    assert_eq!(errors.metric, SloMetric::ErrorRate);
    assert!((errors.threshold - 0.001).abs() < 1e-12);
    let throughput: Slo = "throughput >= 500/s".parse().expect("throughput");
    assert_eq!(
        (
            throughput.metric,
            throughput.comparison,
            throughput.threshold
        ),
        (SloMetric::Throughput, Comparison::GreaterOrEqual, 500.0)
    );
    for bad in [
        "reserve.p99",
        "error_rate <= 0.1",
        "throughput >= 500",
        "reserve.p0 < 1ms",
        "reserve.p99 <= fast",
    ] {
        assert!(bad.parse::<Slo>().is_err(), "accepted `{bad}`");
    }
}

// Goal: durations accept the documented units and refuse everything else.
// Method: parse good and bad strings.
#[test]
fn durations_parse_with_units() {
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("2 m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("200us"), Ok(Duration::from_micros(200)));
    for bad in ["10", "10 parsecs", "ms", "-1s", "1e3ms", "9999h"] {
        assert!(parse_duration(bad).is_err(), "accepted `{bad}`");
    }
    assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    assert_eq!(format_duration(Duration::from_secs(3)), "3s");
}

// Goal: command-line overrides replace users and the stop condition, and drop restocks
// that a shorter run would never send.
// Method: load mixed-cart, override to 5 users and 6 s.
#[test]
fn overrides_scale_a_scenario_down() {
    let mut scenario = load(&scenarios_dir().join("mixed-cart.toml")).expect("mixed-cart");
    scenario
        .apply(&Overrides {
            users: Some(5),
            duration: Some(Duration::from_secs(6)),
            iterations: None,
            faults: Vec::new(),
        })
        .expect("apply");
    assert_eq!(scenario.load.users, 5);
    assert_eq!(scenario.load.stop, Stop::Duration(Duration::from_secs(6)));
    assert_eq!(scenario.restocks.len(), 1);
    let error = scenario
        .apply(&Overrides {
            users: Some(0),
            ..Overrides::default()
        })
        .expect_err("0 users");
    assert!(error.to_string().contains("--users"), "{error}");
}
