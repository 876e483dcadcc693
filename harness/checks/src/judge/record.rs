//! What a run folder records about the run beyond its history (`run.json`): how it was
//! made (seed, target, variant), which checks apply to its target, whether the load
//! was cut short, the faults injected and the loss window of a Redis kill. The judge
//! (`super::judge`) reads these facts, so a folder judged again offline gets the
//! verdict the run gave.
//!
//! Plain data and the loss window's pure rule; the harness's run pipeline fills it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::History;
use crate::{CheckId, CheckReport, Verdict, Violation, ViolationGroup};

/// `run.json`: how the run was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub format_version: u32,
    pub scenario: String,
    pub scenario_file: String,
    pub seed: u64,
    pub stockproof_version: String,
    /// `in-process reference engine (provider local)` or the external URL.
    pub target: String,
    /// The deliberately broken engine variant the run served (`--variant`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The inventory strategy the in-process engine ran (`--strategy`: `redis-lua`,
    /// `pg-row-lock`, `pg-optimistic`); `None` for an external target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    pub checks_ran: Vec<String>,
    pub checks_not_applicable: Vec<String>,
    /// Why a check is not applicable, where the run knows better than "white-box" (a
    /// service without idempotency keys has no C3 to judge).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_applicable_reasons: BTreeMap<String, String>,
    pub interrupted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_silent: Option<String>,
    /// Why the history file ends before its writer finished it (a run killed while
    /// writing): set by whoever read the file, never written to `run.json`.
    #[serde(skip)]
    pub history_cut_short: Option<String>,
    pub quiesce: Vec<String>,
    /// Replies no rule of the target's adapter matched (recorded `unknown`), by step
    /// (`ops.reserve`, `ops.reserve.steps[2]`): a rule the adapter is missing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unmatched_replies: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_error: Option<String>,
    /// Every fault injected (or refused at its trigger), in schedule order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultLine>,
    /// With a Redis kill: what it lost, against the scenario's tolerance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_window: Option<LossWindow>,
    pub load: LoadFigures,
}

impl RunInfo {
    /// The facts of a folder that has no `run.json` (a history another tool wrote):
    /// a complete run, on an unknown target, whose white-box checks apply only when a
    /// snapshot of its stores came with it.
    pub fn without_run_json(history: &History, has_snapshot: bool) -> RunInfo {
        let (checks_ran, checks_not_applicable) = applicable_checks(has_snapshot);
        RunInfo {
            format_version: RUN_INFO_FORMAT_VERSION,
            scenario: history.header.scenario.clone(),
            scenario_file: String::new(),
            seed: history.header.seed,
            stockproof_version: String::new(),
            target: "unknown (the folder has no run.json)".to_owned(),
            variant: None,
            strategy: None,
            checks_ran,
            checks_not_applicable,
            not_applicable_reasons: BTreeMap::new(),
            interrupted: false,
            target_silent: None,
            history_cut_short: None,
            quiesce: Vec::new(),
            unmatched_replies: BTreeMap::new(),
            snapshot_error: None,
            faults: Vec::new(),
            loss_window: None,
            load: LoadFigures::default(),
        }
    }

    /// The faults and the loss window as a summary.md section (empty without faults).
    pub fn faults_markdown(&self) -> String {
        if self.faults.is_empty() {
            return String::new();
        }
        let mut text = String::from("\n## Faults\n\n");
        for fault in &self.faults {
            text.push_str(&format!(
                "- {} ({}): {}\n",
                fault.description,
                fault.state(),
                fault.detail
            ));
        }
        if let Some(loss_window) = &self.loss_window {
            text.push_str(&format!("\n{}\n", loss_window.describe()));
        }
        text
    }
}

/// The names of the checks that apply to a target, and of those that do not: every
/// check when stockproof can read the target's stores (`white_box`), else the
/// black-box ones.
pub fn applicable_checks(white_box: bool) -> (Vec<String>, Vec<String>) {
    let (applicable, not_applicable): (Vec<CheckId>, Vec<CheckId>) = CheckId::ALL
        .into_iter()
        .partition(|id| white_box || !id.white_box());
    let names = |ids: Vec<CheckId>| ids.into_iter().map(|id| id.as_str().to_owned()).collect();
    (names(applicable), names(not_applicable))
}

/// The load's own figures, as the recorder counted them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadFigures {
    pub users: u32,
    pub carts: u64,
    pub ops: u64,
    pub ok: u64,
    pub fail: u64,
    pub unknown: u64,
    pub ops_per_s: f64,
    pub duration_ms: u64,
    pub arrival_rate_per_s: Option<f64>,
    pub late_starts: u64,
    pub dropped_starts: u64,
    pub intended_starts: u64,
}

/// Bumped on any incompatible change of `run.json`.
pub const RUN_INFO_FORMAT_VERSION: u32 = 1;

/// What one Redis kill lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillLoss {
    /// Redis `seq` when the kill came (every event Redis had acknowledged).
    pub redis_seq_at_kill: i64,
    /// Redis `seq` after the restart (what its AOF kept).
    pub redis_seq_after_restart: i64,
    /// The ledger's highest seq when recovery ran.
    pub ledger_max_seq: i64,
    /// Whether recovery rebuilt Redis from the ledger.
    pub rebuilt: bool,
    /// Events acknowledged by Redis and in neither Redis nor Postgres afterwards.
    pub events: i64,
    /// Units those events moved (Σ |qty|), per SKU.
    pub units_by_sku: BTreeMap<String, i64>,
}

impl KillLoss {
    pub fn units(&self) -> i64 {
        self.units_by_sku.values().sum()
    }
}

/// One fault of the run, for `run.json` and summary.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultLine {
    pub description: String,
    pub detail: String,
    pub injected: bool,
    /// The strategy lacks what the fault acts on: nothing was injected, and `detail`
    /// says why.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_applicable: bool,
}

impl FaultLine {
    /// `injected`, `NOT injected` (it failed, or its trigger never came) or `not
    /// applicable`.
    pub fn state(&self) -> &'static str {
        match (self.injected, self.not_applicable) {
            (true, _) => "injected",
            (false, true) => "not applicable",
            (false, false) => "NOT injected",
        }
    }
}

/// The loss window of a run's Redis kills against the scenario's stated tolerance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossWindow {
    pub kills: Vec<KillLoss>,
    pub events: i64,
    pub units: i64,
    pub units_by_sku: BTreeMap<String, i64>,
    pub tolerance_events: u64,
    pub within_tolerance: bool,
}

/// Checks whose failures a loss window explains: lost events leave acknowledged
/// replies without effects (C5), reused reservation ids (C3), reservations that
/// vanished or came back Held (C4), stock that differs from the history (C6, and
/// C7 for reads after the kill) and refusals of units whose return was lost (C8).
/// C1 (oversell) and C2 (Redis = Postgres = ledger) are never excused.
const EXPLAINED_BY_LOSS: [CheckId; 6] = [
    CheckId::C3,
    CheckId::C4,
    CheckId::C5,
    CheckId::C6,
    CheckId::C7,
    CheckId::C8,
];

impl LossWindow {
    pub fn new(kills: Vec<KillLoss>, tolerance_events: u64) -> LossWindow {
        let events: i64 = kills.iter().map(|kill| kill.events).sum();
        let mut units_by_sku = BTreeMap::new();
        for kill in &kills {
            for (sku, units) in &kill.units_by_sku {
                *units_by_sku.entry(sku.clone()).or_default() += units;
            }
        }
        LossWindow {
            units: units_by_sku.values().sum(),
            within_tolerance: u64::try_from(events).unwrap_or(0) <= tolerance_events,
            kills,
            events,
            units_by_sku,
            tolerance_events,
        }
    }

    /// One line: `loss window: N events, M units of SKUs a-01 (3), …`.
    pub fn describe(&self) -> String {
        let skus: Vec<String> = self
            .units_by_sku
            .iter()
            .map(|(sku, units)| format!("{sku} ({units})"))
            .collect();
        format!(
            "loss window: {} events, {} units{}{} (tolerance {} events: {})",
            self.events,
            self.units,
            if skus.is_empty() { "" } else { " of SKUs " },
            skus.join(", "),
            self.tolerance_events,
            if self.within_tolerance {
                "within"
            } else {
                "exceeded"
            }
        )
    }

    /// Beyond the tolerance: C5 fails naming the loss. Within it (and something was
    /// lost): the failures the loss explains are reported as unknown, not violations.
    pub fn judge(&self, mut checks: Vec<CheckReport>) -> Vec<CheckReport> {
        for report in &mut checks {
            if !self.within_tolerance && report.id == CheckId::C5 {
                let violation = Violation {
                    kind: "loss_window".to_owned(),
                    sku: None,
                    reservation: None,
                    ops: Vec::new(),
                    reason: format!(
                        "a Redis kill lost {} acknowledged events ({} units), more than the \
                         scenario tolerates ({} events)",
                        self.events, self.units, self.tolerance_events
                    ),
                    severity: self.events,
                };
                report.groups.push(ViolationGroup {
                    kind: violation.kind.clone(),
                    count: 1,
                    first: violation.clone(),
                    worst: violation.clone(),
                });
                report.violations.insert(0, violation);
                report.verdict = Verdict::Fail;
            } else if self.within_tolerance
                && self.events > 0
                && EXPLAINED_BY_LOSS.contains(&report.id)
                && report.verdict == Verdict::Fail
            {
                report.verdict = Verdict::Unknown;
                report.note = Some(format!(
                    "its violations follow from the {}, which the scenario tolerates",
                    self.describe()
                ));
            }
        }
        checks
    }
}
