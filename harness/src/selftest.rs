//! The selftest's plan and table (issue 8 §4): which scenario exposes each broken
//! engine variant (`stockproof_engine::variants`) and which checks should fire, how a
//! run's verdict becomes a table row (the check that fired, ops and seconds to the
//! first evidence), and the table itself as Markdown and JSON. Pure: the runs are done
//! by `stockproof selftest` through the run pipeline.
//!
//! Not here: running anything, fault injection, the checks themselves.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Serialize;
use stockproof_engine::strategy::Strategy;
use stockproof_engine::variants::Variant;

use crate::checks::{CheckId, RunVerdict, Verdict};
use crate::history::History;

/// Version of `selftest.json`; raised on any change a reader could notice.
pub const SELFTEST_JSON_VERSION: u32 = 3;

/// A scenario the selftest ships (`scenarios/selftest/`), embedded in the binary so
/// the selftest runs from any directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SelftestScenario {
    /// File name, also the name shown in the table.
    pub file: &'static str,
    pub toml: &'static str,
}

pub const RUSH: SelftestScenario = SelftestScenario {
    file: "rush.toml",
    toml: include_str!("../../scenarios/selftest/rush.toml"),
};
pub const RETRY: SelftestScenario = SelftestScenario {
    file: "retry.toml",
    toml: include_str!("../../scenarios/selftest/retry.toml"),
};
pub const EXPIRY: SelftestScenario = SelftestScenario {
    file: "expiry.toml",
    toml: include_str!("../../scenarios/selftest/expiry.toml"),
};
pub const LATE_RETRY: SelftestScenario = SelftestScenario {
    file: "late-retry.toml",
    toml: include_str!("../../scenarios/selftest/late-retry.toml"),
};
pub const DOUBLED_LINES: SelftestScenario = SelftestScenario {
    file: "doubled-lines.toml",
    toml: include_str!("../../scenarios/selftest/doubled-lines.toml"),
};
pub const READS: SelftestScenario = SelftestScenario {
    file: "reads.toml",
    toml: include_str!("../../scenarios/selftest/reads.toml"),
};
pub const COMEBACK: SelftestScenario = SelftestScenario {
    file: "comeback.toml",
    toml: include_str!("../../scenarios/selftest/comeback.toml"),
};
pub const REPLAYS: SelftestScenario = SelftestScenario {
    file: "replays.toml",
    toml: include_str!("../../scenarios/selftest/replays.toml"),
};

/// What one selftest run does: a scenario, and the fault injected into it when the
/// bug needs one (a `--fault` spec, see `crate::faults::FaultSpec::parse_cli`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Case {
    pub scenario: SelftestScenario,
    pub fault: Option<&'static str>,
}

/// How one variant is exposed: the scenario (and fault) to run it against and the
/// checks that name its bug (any one of them failing counts as caught).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposure {
    pub variant: Variant,
    pub scenario: SelftestScenario,
    /// A fault injected during the run, when the bug needs one: the crash its flaw
    /// is about. The reference engine runs the same scenario with the same fault.
    pub fault: Option<&'static str>,
    pub expected: &'static [CheckId],
}

impl Exposure {
    /// The exposure of `variant` (every variant has one: adding a variant without one
    /// does not compile).
    pub const fn of(variant: Variant) -> Exposure {
        // Each crash comes a second into the load, when the writer has batches to
        // write; a crashed writer is back after 500 ms (the load goes on meanwhile).
        let fault = match variant {
            Variant::DualWrite => Some("crash-between-writes@1s"),
            Variant::LossyLedger => Some("writer-crash-before-commit,duration=500ms@1s"),
            Variant::NonIdempotentProjection => Some("writer-crash,duration=500ms@1s"),
            _ => None,
        };
        let (scenario, expected): (SelftestScenario, &'static [CheckId]) = match variant {
            Variant::CheckThenAct => (RUSH, &[CheckId::C1, CheckId::C2, CheckId::C6]),
            Variant::NoIdempotency => (RETRY, &[CheckId::C3]),
            Variant::ShortIdempotency => (LATE_RETRY, &[CheckId::C3]),
            Variant::TtlExpiry => (EXPIRY, &[CheckId::C6, CheckId::C2, CheckId::C4]),
            Variant::DoubleRelease => (EXPIRY, &[CheckId::C4, CheckId::C2, CheckId::C6]),
            Variant::StaleCartLines => (DOUBLED_LINES, &[CheckId::C1, CheckId::C2, CheckId::C6]),
            // Postgres's `skus` misses the change Redis has: Redis ≠ projection.
            Variant::DualWrite => (RETRY, &[CheckId::C2]),
            // The acked batch never reaches the ledger: acknowledged replies without
            // ledger events (C5), and a ledger that stops at a gap (C2).
            Variant::LossyLedger => (RETRY, &[CheckId::C5, CheckId::C2]),
            // The redelivered batch lands twice in the projection only; the ledger
            // stays exactly once (C5 passes): Redis ≠ projection.
            Variant::NonIdempotentProjection => (RETRY, &[CheckId::C2]),
            // A read from the cache shows fewer units sold than were confirmed before
            // it was sent: outside the history's bounds.
            Variant::StaleRead => (READS, &[CheckId::C7]),
            // Buyers refused while released units were surely on the shelf.
            Variant::SoldOutFlag => (COMEBACK, &[CheckId::C8]),
            // Reads show units no op holds (C7); refusals of units the history says
            // are there (C8). In process the ledger shows the hidden reservation too:
            // C3 (two reservations for one key) and C5 (events no op caused) fire.
            Variant::PhantomHold => (REPLAYS, &[CheckId::C7, CheckId::C8]),
            // pg-row-lock without its guard: read, decide, write unguarded.
            Variant::PgNoGuard => (RUSH, &[CheckId::C1, CheckId::C2, CheckId::C6]),
        };
        Exposure {
            variant,
            scenario,
            fault,
            expected,
        }
    }

    pub fn all() -> Vec<Exposure> {
        Variant::ALL.into_iter().map(Exposure::of).collect()
    }

    pub const fn case(&self) -> Case {
        Case {
            scenario: self.scenario,
            fault: self.fault,
        }
    }
}

/// Every scenario some variant is exposed by, once each (the files the selftest ships).
pub fn scenarios() -> Vec<SelftestScenario> {
    let unique: BTreeSet<SelftestScenario> = Exposure::all()
        .into_iter()
        .map(|exposure| exposure.scenario)
        .collect();
    unique.into_iter().collect()
}

/// Every scenario-and-fault some variant is exposed by, once each: the reference
/// engine runs all of them, faults included.
pub fn cases() -> Vec<Case> {
    cases_of(&Exposure::all())
}

/// The scenario-and-fault cases of `exposures`, once each.
pub fn cases_of(exposures: &[Exposure]) -> Vec<Case> {
    let unique: BTreeSet<Case> = exposures.iter().map(Exposure::case).collect();
    unique.into_iter().collect()
}

/// When a failing run first showed its bug.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// Every check that failed.
    pub fired: Vec<CheckId>,
    /// Ops completed up to and including the earliest op a violation names.
    pub ops: u64,
    /// When that op completed, in seconds since the run's start.
    pub seconds: f64,
}

/// The checks that failed, and the earliest evidence among their kept violations. A
/// violation is evident once every op it names has completed — a read out of bounds
/// names the read and the earlier ops that set the bound, and is evidence only with
/// the read — so each dates from the last of its ops to complete; the detection is the
/// earliest of them. A violation naming no op (a white-box drift found after quiesce)
/// dates from the end of the history.
pub fn detection(verdict: &RunVerdict, history: &History) -> Option<Detection> {
    let failed: Vec<_> = verdict
        .checks
        .iter()
        .filter(|report| report.verdict == Verdict::Fail)
        .collect();
    if failed.is_empty() {
        return None;
    }
    let complete_us: HashMap<u64, u64> = history
        .ops()
        .map(|entry| (entry.id, entry.complete_us))
        .collect();
    let last_us = history.end_us();
    let first_us = failed
        .iter()
        .flat_map(|report| report.violations.iter())
        .map(|violation| {
            violation
                .ops
                .iter()
                .filter_map(|id| complete_us.get(id).copied())
                .max()
                .unwrap_or(last_us)
        })
        .min()
        .unwrap_or(last_us);
    let ops = history
        .ops()
        .filter(|entry| entry.complete_us <= first_us)
        .count() as u64;
    Some(Detection {
        fired: failed.iter().map(|report| report.id).collect(),
        ops,
        seconds: first_us as f64 / 1e6,
    })
}

/// One run of the selftest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// `reference` or a variant's name.
    pub engine: String,
    /// The strategy served: the reference's own, or the one the variant breaks
    /// (`redis-lua`, `pg-row-lock`, `pg-optimistic`).
    pub strategy: String,
    pub scenario: String,
    pub fault: Option<String>,
    /// Checks that should fire (empty for the reference: none should).
    pub expected: Vec<CheckId>,
    pub exit_code: u8,
    pub detection: Option<Detection>,
    /// Ops in the history and the run's length, for scale.
    pub ops: u64,
    /// Whether this row is what the selftest wants: a variant caught by one of its
    /// expected checks (exit 1), the reference passing (exit 0).
    pub ok: bool,
    /// The run folder, or why the run could not finish.
    pub note: String,
}

impl Row {
    /// A finished run of `engine` (`None`: the reference) on `case`.
    pub fn finished(
        exposure: Option<&Exposure>,
        case: Case,
        strategy: Strategy,
        exit_code: u8,
        verdict: &RunVerdict,
        history: &History,
        folder: &str,
    ) -> Row {
        let detection = detection(verdict, history);
        let expected = exposure.map_or(&[][..], |exposure| exposure.expected);
        let ok = match exposure {
            None => exit_code == 0,
            Some(_) => {
                exit_code == 1
                    && detection.as_ref().is_some_and(|detection| {
                        detection.fired.iter().any(|check| expected.contains(check))
                    })
            }
        };
        Row {
            engine: exposure.map_or("reference".to_owned(), |exposure| {
                exposure.variant.name().to_owned()
            }),
            strategy: strategy.to_string(),
            scenario: case.scenario.file.to_owned(),
            fault: case.fault.map(str::to_owned),
            expected: expected.to_vec(),
            exit_code,
            detection,
            ops: history.len() as u64,
            ok,
            note: folder.to_owned(),
        }
    }

    /// A run that ended without a verdict (infrastructure, scenario error).
    pub fn failed(
        exposure: Option<&Exposure>,
        case: Case,
        strategy: Strategy,
        exit_code: u8,
        reason: &str,
    ) -> Row {
        Row {
            engine: exposure.map_or("reference".to_owned(), |exposure| {
                exposure.variant.name().to_owned()
            }),
            strategy: strategy.to_string(),
            scenario: case.scenario.file.to_owned(),
            fault: case.fault.map(str::to_owned),
            expected: exposure.map_or(Vec::new(), |exposure| exposure.expected.to_vec()),
            exit_code,
            detection: None,
            ops: 0,
            ok: false,
            note: reason.to_owned(),
        }
    }
}

/// The whole selftest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub version: u32,
    pub quick: bool,
    pub rows: Vec<Row>,
    pub passed: bool,
}

impl Table {
    pub fn new(quick: bool, rows: Vec<Row>) -> Table {
        let passed = !rows.is_empty() && rows.iter().all(|row| row.ok);
        Table {
            version: SELFTEST_JSON_VERSION,
            quick,
            rows,
            passed,
        }
    }

    /// The table as Markdown (selftest.md and the terminal).
    pub fn markdown(&self) -> String {
        let mut text = String::new();
        text.push_str(
            "| engine | strategy | scenario | fault | check that fired | ops to detection | seconds to detection | exit | ok |\n",
        );
        text.push_str("|---|---|---|---|---|---|---|---|---|\n");
        for row in &self.rows {
            let fired = row
                .detection
                .as_ref()
                .map_or("none".to_owned(), |detection| {
                    detection
                        .fired
                        .iter()
                        .map(|check| check.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                });
            let (ops, seconds) =
                row.detection
                    .as_ref()
                    .map_or(("-".to_owned(), "-".to_owned()), |detection| {
                        (
                            format!("{} of {}", detection.ops, row.ops),
                            format!("{:.2}", detection.seconds),
                        )
                    });
            writeln!(
                text,
                "| {} | {} | {} | {} | {fired} | {ops} | {seconds} | {} | {} |",
                row.engine,
                row.strategy,
                row.scenario,
                row.fault.as_deref().unwrap_or("none"),
                row.exit_code,
                if row.ok { "yes" } else { "NO" },
            )
            .expect("writing to a String");
        }
        let caught = self
            .rows
            .iter()
            .filter(|row| row.engine != "reference" && row.ok)
            .count();
        let variants = self
            .rows
            .iter()
            .filter(|row| row.engine != "reference")
            .count();
        let reference_passed = self
            .rows
            .iter()
            .filter(|row| row.engine == "reference" && row.ok)
            .count();
        let references = self.rows.len() - variants;
        for row in self.rows.iter().filter(|row| !row.ok) {
            writeln!(
                text,
                "\n- {} ({}) on {}: {}",
                row.engine, row.strategy, row.scenario, row.note
            )
            .expect("writing to a String");
        }
        writeln!(
            text,
            "\n{caught} of {variants} variants caught; the reference engine passed {reference_passed} of {references} scenarios: {}",
            if self.passed { "PASS" } else { "FAIL" }
        )
        .expect("writing to a String");
        text
    }
}

#[cfg(test)]
mod tests;
