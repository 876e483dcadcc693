//! The run folder `reports/<scenario>-<utc time>/`: what a run leaves behind so that it
//! can be read, re-checked offline (`stockproof check`) and reproduced: the scenario as
//! run (`scenario.toml`, a copy of the file), `run.json` (seed, engine version, target,
//! which checks ran, load figures), `history.jsonl`, `snapshot.json` (white-box runs),
//! and the report files.
//!
//! Not here: rendering the reports (`crate::report`).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

pub use super::faults::{FaultLine, LossWindow};
use crate::checks::WhiteBoxSnapshot;
use crate::history::{History, HistoryWriter};

/// Folders tried when two runs of one scenario start in the same second.
const FOLDER_ATTEMPTS_MAX: u32 = 100;

/// A file of the run folder could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing the run folder {}: {reason}", path.display())]
pub struct FolderError {
    pub path: PathBuf,
    pub reason: String,
}

fn folder_error(path: &Path, reason: impl ToString) -> FolderError {
    FolderError {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Creates `<report_dir>/<scenario>-<YYYYMMDDTHHMMSSZ>` (with `-2`, `-3`… if taken).
pub fn create(report_dir: &Path, scenario: &str) -> Result<PathBuf, FolderError> {
    std::fs::create_dir_all(report_dir).map_err(|error| folder_error(report_dir, error))?;
    let stamp = utc_stamp(SystemTime::now());
    for attempt in 1..=FOLDER_ATTEMPTS_MAX {
        let name = match attempt {
            1 => format!("{scenario}-{stamp}"),
            n => format!("{scenario}-{stamp}-{n}"),
        };
        let path = report_dir.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(folder_error(&path, error)),
        }
    }
    Err(folder_error(
        report_dir,
        format!("{FOLDER_ATTEMPTS_MAX} folders for `{scenario}` at {stamp} already exist"),
    ))
}

/// `run.json`: how the run was made.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub format_version: u32,
    pub scenario: String,
    pub scenario_file: String,
    pub seed: u64,
    pub stockproof_version: String,
    /// `in-process reference engine (provider local)` or the external URL.
    pub target: String,
    /// The deliberately broken engine variant the run served (`--variant`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub checks_ran: Vec<String>,
    pub checks_not_applicable: Vec<String>,
    pub interrupted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_silent: Option<String>,
    pub quiesce: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_error: Option<String>,
    /// Every fault injected (or refused at its trigger), in schedule order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultLine>,
    /// With a Redis kill: what it lost, against the scenario's tolerance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_window: Option<LossWindow>,
    pub load: LoadFigures,
}

impl RunInfo {
    /// The faults and the loss window as a summary.md section (empty without faults).
    pub fn faults_markdown(&self) -> String {
        if self.faults.is_empty() {
            return String::new();
        }
        let mut text = String::from("\n## Faults\n\n");
        for fault in &self.faults {
            let state = if fault.injected {
                "injected"
            } else {
                "NOT injected"
            };
            text.push_str(&format!(
                "- {} ({state}): {}\n",
                fault.description, fault.detail
            ));
        }
        if let Some(loss_window) = &self.loss_window {
            text.push_str(&format!("\n{}\n", loss_window.describe()));
        }
        text
    }
}

/// The load's own figures, as the recorder counted them.
#[derive(Debug, Clone, Default, Serialize)]
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

/// Writes `scenario.toml`, `run.json`, `history.jsonl` and `snapshot.json` (if any).
pub fn write(
    folder: &Path,
    scenario_file: &Path,
    info: &RunInfo,
    history: &History,
    snapshot: Option<&WhiteBoxSnapshot>,
) -> Result<(), FolderError> {
    let scenario_copy = folder.join("scenario.toml");
    std::fs::copy(scenario_file, &scenario_copy)
        .map_err(|error| folder_error(&scenario_copy, error))?;
    let run_json = folder.join("run.json");
    let text =
        serde_json::to_string_pretty(info).map_err(|error| folder_error(&run_json, error))?;
    std::fs::write(&run_json, text + "\n").map_err(|error| folder_error(&run_json, error))?;
    let history_path = folder.join("history.jsonl");
    let mut writer = HistoryWriter::create(&history_path, &history.header)
        .map_err(|error| folder_error(&history_path, error))?;
    for entry in &history.entries {
        writer
            .append(entry)
            .map_err(|error| folder_error(&history_path, error))?;
    }
    writer
        .finish()
        .map_err(|error| folder_error(&history_path, error))?;
    if let Some(snapshot) = snapshot {
        let path = folder.join("snapshot.json");
        snapshot
            .write(&path)
            .map_err(|error| folder_error(&path, error))?;
    }
    Ok(())
}

/// `20261123T150102Z` for a UTC time.
pub fn utc_stamp(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let days = (seconds / 86_400) as i64;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        second_of_day / 3_600,
        second_of_day % 3_600 / 60,
        second_of_day % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
