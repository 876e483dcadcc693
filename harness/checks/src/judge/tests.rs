use super::record::RunInfo;
use super::render::verdict_text;
use super::{Criteria, RecordedRun, judge};
use crate::history::History;
use crate::latency::Latencies;
use crate::synthetic::{Reads, synthetic_over};
use crate::window::WINDOW_CONTEXT_OPS;
use crate::{CheckId, EXIT_INCONCLUSIVE, EXIT_PASS, RunVerdict, Verdict, WhiteBoxSnapshot};

/// A run on a target whose white-box checks apply (in process) or not (external),
/// as run.json would record it.
fn info(history: &History, white_box: bool) -> RunInfo {
    RunInfo::without_run_json(history, white_box)
}

fn judged(info: &RunInfo, history: &History, snapshot: Option<&WhiteBoxSnapshot>) -> RunVerdict {
    let latencies = Latencies::from_history(history);
    judge(&RecordedRun {
        criteria: &Criteria::default(),
        info,
        history,
        snapshot,
        stores: None,
        latencies: &latencies,
        resources: None,
    })
}

fn verdict_of(verdict: &RunVerdict, id: CheckId) -> Verdict {
    verdict
        .checks
        .iter()
        .find(|report| report.id == id)
        .map_or_else(|| panic!("no report for {id:?}"), |report| report.verdict)
}

// Goal: against an external target the white-box checks are shown as not applicable —
// never unknown — and the run passes on its black-box checks; the same history judged
// as an in-process run with its snapshot passes every check.
// Method: the bench's synthetic history of a correct engine, judged both ways.
#[test]
fn white_box_checks_are_not_applicable_to_an_external_target() {
    let (history, snapshot) = synthetic_over(2_000, 4, 3, Reads::DuringLoad);
    let external = judged(&info(&history, false), &history, None);
    assert_eq!(verdict_of(&external, CheckId::C2), Verdict::NotApplicable);
    assert_eq!(verdict_of(&external, CheckId::C5), Verdict::NotApplicable);
    assert_eq!(verdict_of(&external, CheckId::C1), Verdict::Pass);
    assert_eq!(external.exit_code(), EXIT_PASS, "{external:#?}");
    let text = verdict_text(&external, &history, WINDOW_CONTEXT_OPS);
    assert!(
        text.contains("C2 conservation: not applicable: white-box"),
        "{text}"
    );
    assert!(text.ends_with("verdict: pass (exit 0)\n"), "{text}");

    let in_process = judged(&info(&history, true), &history, Some(&snapshot));
    assert_eq!(verdict_of(&in_process, CheckId::C2), Verdict::Pass);
    assert_eq!(in_process.exit_code(), EXIT_PASS, "{in_process:#?}");
}

// Goal: an in-process run whose snapshot was not taken cannot pass on white-box checks
// it could not judge: they are unknown, and the run is inconclusive.
#[test]
fn a_missing_snapshot_makes_an_in_process_run_inconclusive() {
    let (history, _) = synthetic_over(2_000, 4, 3, Reads::DuringLoad);
    let verdict = judged(&info(&history, true), &history, None);
    assert_eq!(verdict_of(&verdict, CheckId::C2), Verdict::Unknown);
    assert_eq!(verdict.exit_code(), EXIT_INCONCLUSIVE);
}

// Goal: a run cut short (Ctrl-C, or a target gone silent) cannot pass, and the verdict
// text says why; a violation would still win (checked in checks::tests' exit codes).
#[test]
fn a_run_cut_short_is_inconclusive_and_says_why() {
    let (history, _) = synthetic_over(2_000, 4, 3, Reads::DuringLoad);
    let mut interrupted = info(&history, false);
    interrupted.interrupted = true;
    let verdict = judged(&interrupted, &history, None);
    assert_eq!(verdict.exit_code(), EXIT_INCONCLUSIVE);
    let text = verdict_text(&verdict, &history, WINDOW_CONTEXT_OPS);
    assert!(
        text.contains("cut short: the load was interrupted"),
        "{text}"
    );
    assert!(text.ends_with("verdict: inconclusive (exit 5)\n"), "{text}");

    let mut silent = info(&history, false);
    silent.target_silent = Some("the target stopped answering".to_owned());
    assert_eq!(
        judged(&silent, &history, None).exit_code(),
        EXIT_INCONCLUSIVE
    );
}

// Goal: run.json round-trips, so what `run` judged is what `check` reads back.
#[test]
fn run_info_round_trips_through_json() {
    let (history, _) = synthetic_over(100, 2, 1, Reads::FinalOnly);
    let mut original = info(&history, false);
    original.interrupted = true;
    original.load.arrival_rate_per_s = Some(12.5);
    let text = serde_json::to_string_pretty(&original).expect("serialises");
    let back: RunInfo = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, original);
}
