use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::checks::{CheckReport, Violation, Violations};
use crate::history::{HistoryEntry, HistoryHeader, Op, Outcome};

/// A history of `n` restocks; op `i` (from 1) completes at `i` ms.
fn history(n: u64) -> History {
    History::new(
        HistoryHeader::new("test", 1, 0, 1_000),
        (1..=n)
            .map(|id| HistoryEntry {
                id,
                user: Some(1),
                op: Op::Restock {
                    sku: "a".to_owned(),
                    qty: 1,
                },
                intended_us: None,
                invoke_us: id * 1_000 - 500,
                complete_us: id * 1_000,
                outcome: Outcome::Ok,
                status: Some(200),
                response: None,
                retry_of: None,
            })
            .collect(),
    )
}

/// A verdict where `failing` checks fail, each with one violation naming `ops`.
fn verdict(failing: &[(CheckId, &[u64])]) -> RunVerdict {
    let checks = CheckId::ALL
        .into_iter()
        .map(|id| {
            let mut violations = Violations::default();
            if let Some((_, ops)) = failing.iter().find(|(check, _)| *check == id) {
                violations.push(Violation {
                    kind: "test".to_owned(),
                    sku: None,
                    reservation: None,
                    ops: ops.to_vec(),
                    reason: "a test violation".to_owned(),
                    severity: 1,
                });
            }
            CheckReport::finish(id, 1, "nothing", BTreeMap::new(), Vec::new(), violations)
        })
        .collect();
    RunVerdict {
        checks,
        slos: Vec::new(),
        coverage: Vec::new(),
        cut_short: None,
    }
}

#[test]
fn every_selftest_scenario_parses() {
    // Goal: the embedded scenarios are valid scenario files (a typo would only show
    // when the selftest runs). Method: parse each with the scenario parser.
    for scenario in scenarios() {
        let parsed = crate::scenario::parse(scenario.toml, Path::new(scenario.file));
        assert!(parsed.is_ok(), "{}: {:?}", scenario.file, parsed.err());
    }
}

#[test]
fn the_late_retry_scenario_backs_off_past_the_short_marker() {
    // Goal: selftest/late-retry can expose `short-idempotency`: its retries wait past
    // the variant's marker TTL and well inside the engine's retention.
    let scenario = crate::scenario::parse(LATE_RETRY.toml, Path::new(LATE_RETRY.file)).unwrap();
    let marker =
        std::time::Duration::from_millis(stockproof_engine::variants::IDEMPOTENCY_MARKER_TTL_MS);
    assert!(scenario.retry.backoff > marker);
    assert!(scenario.engine.idempotency_retention > scenario.retry.backoff * 10);
    assert_eq!(scenario.retry.after_reply, 1.0);
}

#[test]
fn the_comeback_scenario_leaves_room_for_a_sure_refusal() {
    // Goal: selftest/comeback can expose `sold-out-flag` through C8, which counts
    // every concurrent take as taken: with at most one unit per cart, the other
    // shoppers can hold at most users − 1 units, so the stock must reach 0 (fewer
    // units than shoppers) and nothing may be sold (units must come back).
    let scenario = crate::scenario::parse(COMEBACK.toml, Path::new(COMEBACK.file)).unwrap();
    let stock: i64 = scenario.initial_stock().map(|(_, qty)| qty).sum();
    assert_eq!(scenario.mix.qty_per_line, (1, 1));
    assert_eq!(scenario.mix.lines_per_cart, (1, 1));
    assert!(i64::from(scenario.load.users) > stock);
    assert_eq!(scenario.mix.confirm, 0.0);
    assert!(scenario.restocks.is_empty(), "a restock clears the flag");
}

#[test]
fn the_read_scenarios_read_after_every_cart() {
    // Goal: selftest/reads and selftest/replays read each cart's SKU (C7 judges reads,
    // and their coverage goal counts reads that overlapped a change).
    for selftest in [READS, REPLAYS] {
        let scenario = crate::scenario::parse(selftest.toml, Path::new(selftest.file)).unwrap();
        assert_eq!(scenario.mix.read_sku, 1.0, "{}", selftest.file);
    }
}

#[test]
fn every_variant_has_an_exposure_with_expected_checks() {
    // Goal: the selftest covers every variant, each with at least one check to fire.
    let exposures = Exposure::all();
    assert_eq!(exposures.len(), Variant::ALL.len());
    for exposure in exposures {
        assert!(!exposure.expected.is_empty(), "{}", exposure.variant);
    }
}

#[test]
fn every_fault_parses_and_the_reference_runs_every_case() {
    // Goal: the faults the selftest injects are valid `--fault` specs, each variant
    // that needs a crash gets one, and the reference engine runs each scenario with
    // and without the faults the variants get (the same runs they are caught in).
    for exposure in Exposure::all() {
        if let Some(fault) = exposure.fault {
            let parsed = crate::faults::FaultSpec::parse_cli(fault);
            assert!(parsed.is_ok(), "{}: {parsed:?}", exposure.variant);
        }
        assert_eq!(
            exposure.fault.is_some(),
            exposure.variant.needs_ledger(),
            "{}",
            exposure.variant
        );
        assert!(cases().contains(&exposure.case()), "{}", exposure.variant);
    }
    let faulted = cases().iter().filter(|case| case.fault.is_some()).count();
    assert_eq!(faulted, 3);
}

#[test]
fn detection_is_the_earliest_violation_dated_by_the_last_op_it_names() {
    // Goal: "ops and seconds to detection" count up to the first evidence, and a
    // violation is evidence only once all its ops completed (a read out of bounds
    // names the earlier ops that set the bound). Method: 10 ops completing at 1..10
    // ms; C1 names ops 7 and 9 (evident at 9), C3 names 4: detected at op 4; C7 names
    // 6 and the witnesses 1 and 2, C8 names 8: detected at op 6.
    let detected = detection(
        &verdict(&[(CheckId::C1, &[9, 7]), (CheckId::C3, &[4])]),
        &history(10),
    )
    .expect("two checks failed");
    assert_eq!(detected.fired, vec![CheckId::C1, CheckId::C3]);
    assert_eq!(detected.ops, 4);
    assert!(
        (detected.seconds - 0.004).abs() < 1e-9,
        "{}",
        detected.seconds
    );
    let witnessed = detection(
        &verdict(&[(CheckId::C7, &[6, 2, 1]), (CheckId::C8, &[8])]),
        &history(10),
    )
    .expect("two checks failed");
    assert_eq!(witnessed.ops, 6);
    assert_eq!(detection(&verdict(&[]), &history(10)), None);
}

#[test]
fn a_violation_naming_no_op_dates_from_the_end_of_the_history() {
    // Goal: a white-box drift found after quiesce is detected at the end, not at 0.
    let detected = detection(&verdict(&[(CheckId::C2, &[])]), &history(5)).unwrap();
    assert_eq!(
        (detected.ops, detected.fired.clone()),
        (5, vec![CheckId::C2])
    );
}

#[test]
fn a_variant_row_is_ok_only_when_an_expected_check_fired() {
    // Goal: a variant caught by the wrong check, or not caught, fails the selftest;
    // the reference must pass. Method: rows for each case, then the table verdict.
    let exposure = Exposure::of(Variant::NoIdempotency);
    let caught = Row::finished(
        Some(&exposure),
        exposure.case(),
        Strategy::RedisLua,
        1,
        &verdict(&[(CheckId::C3, &[2])]),
        &history(3),
        "run",
    );
    let wrong_check = Row::finished(
        Some(&exposure),
        exposure.case(),
        Strategy::RedisLua,
        1,
        &verdict(&[(CheckId::C1, &[2])]),
        &history(3),
        "run",
    );
    let missed = Row::finished(
        Some(&exposure),
        exposure.case(),
        Strategy::RedisLua,
        0,
        &verdict(&[]),
        &history(3),
        "run",
    );
    let retry = Case {
        scenario: RETRY,
        fault: None,
    };
    let reference = Row::finished(
        None,
        retry,
        Strategy::RedisLua,
        0,
        &verdict(&[]),
        &history(3),
        "run",
    );
    let reference_failed = Row::failed(None, retry, Strategy::RedisLua, 4, "redis did not start");
    assert!(caught.ok);
    assert!(!wrong_check.ok);
    assert!(!missed.ok);
    assert!(reference.ok);
    assert!(!reference_failed.ok);
    assert!(Table::new(true, vec![caught.clone(), reference.clone()]).passed);
    assert!(!Table::new(true, vec![caught, missed, reference]).passed);
    assert!(!Table::new(true, Vec::new()).passed);
}

#[test]
fn the_markdown_table_names_engine_scenario_and_check() {
    // Goal: the table a user reads has one line per run with the check that fired.
    let exposure = Exposure::of(Variant::CheckThenAct);
    let row = Row::finished(
        Some(&exposure),
        exposure.case(),
        Strategy::RedisLua,
        1,
        &verdict(&[(CheckId::C1, &[3])]),
        &history(8),
        "run",
    );
    let text = Table::new(false, vec![row]).markdown();
    assert!(
        text.contains(
            "| check-then-act | redis-lua | rush.toml | none | C1 | 3 of 8 | 0.00 | 1 | yes |"
        ),
        "{text}"
    );
    assert!(text.contains("1 of 1 variants caught"), "{text}");
}
