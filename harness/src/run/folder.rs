//! The run folder `reports/<scenario>-<utc time>/`: what a run leaves behind so that it
//! can be read, re-checked offline (`stockproof check`) and reproduced: the scenario as
//! run (`scenario.toml`, a copy of the file), `run.json` (seed, engine version, target,
//! which checks ran, load figures), `history.jsonl.zst`, `snapshot.json` (white-box
//! runs), `resources.jsonl` (the target's resources sampled during the load), and the
//! report files. [`start`] writes the scenario and opens the history before the load,
//! which streams into it; [`write`] adds the rest after it. A run killed mid-way leaves
//! `scenario.toml` and a history cut short, which `check` judges as such.
//!
//! [`read`] reads a folder back for `stockproof check` and `replay` (an older folder's
//! plain `history.jsonl` too).
//!
//! Not here: rendering the reports (`crate::report`), judging (`crate::judge`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::checks::resources::Resources;
use crate::checks::stores::StoresSnapshot;
use crate::checks::{SnapshotError, WhiteBoxSnapshot};
use crate::history::{
    HISTORY_FILE, History, HistoryError, HistoryHeader, HistoryWriter, find_history_file,
    read_history_file,
};
use crate::judge::record::{RUN_INFO_FORMAT_VERSION, RunInfo};
use crate::scenario::{Scenario, ScenarioError};

/// The sampled resources' file in a run folder.
pub const RESOURCES_FILE: &str = "resources.jsonl";
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

/// Writes `scenario.toml` (a copy of `scenario_file`) and opens the folder's history
/// (`history.jsonl.zst`, its header written), which the run appends to as it goes.
pub fn start(
    folder: &Path,
    scenario_file: &Path,
    header: &HistoryHeader,
) -> Result<HistoryWriter, FolderError> {
    let scenario_copy = folder.join("scenario.toml");
    std::fs::copy(scenario_file, &scenario_copy)
        .map_err(|error| folder_error(&scenario_copy, error))?;
    let history_path = folder.join(HISTORY_FILE);
    HistoryWriter::create(&history_path, header).map_err(|error| folder_error(&history_path, error))
}

/// Writes `run.json`, `snapshot.json` (in-process runs) and `stores.json` (a service
/// whose adapter declares its stores), after the load.
pub fn write(
    folder: &Path,
    info: &RunInfo,
    snapshot: Option<&WhiteBoxSnapshot>,
    stores: Option<&StoresSnapshot>,
) -> Result<(), FolderError> {
    let run_json = folder.join("run.json");
    let text =
        serde_json::to_string_pretty(info).map_err(|error| folder_error(&run_json, error))?;
    std::fs::write(&run_json, text + "\n").map_err(|error| folder_error(&run_json, error))?;
    if let Some(snapshot) = snapshot {
        let path = folder.join("snapshot.json");
        snapshot
            .write(&path)
            .map_err(|error| folder_error(&path, error))?;
    }
    if let Some(stores) = stores {
        let path = folder.join("stores.json");
        let text =
            serde_json::to_string_pretty(stores).map_err(|error| folder_error(&path, error))?;
        std::fs::write(&path, text + "\n").map_err(|error| folder_error(&path, error))?;
    }
    Ok(())
}

/// Writes `resources.jsonl` (`stockproof_checks::resources`).
pub fn write_resources(folder: &Path, resources: &Resources) -> Result<(), FolderError> {
    let path = folder.join(RESOURCES_FILE);
    std::fs::write(&path, resources.to_jsonl()).map_err(|error| folder_error(&path, error))
}

/// Reads `resources.jsonl` back; `None` when the run sampled none.
fn read_resources(folder: &Path) -> Result<Option<Resources>, ReadFolderError> {
    let path = folder.join(RESOURCES_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let error = |reason: String| ReadFolderError::File {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|io| error(io.to_string()))?;
    Resources::from_jsonl(&text)
        .map(Some)
        .map_err(|bad| error(bad.to_string()))
}

/// A run folder read back: everything the judge needs.
#[derive(Debug)]
pub struct RunFolder {
    pub scenario: Scenario,
    pub info: RunInfo,
    pub history: History,
    pub snapshot: Option<WhiteBoxSnapshot>,
    pub stores: Option<StoresSnapshot>,
    /// `resources.jsonl`, when the run sampled the target's resources.
    pub resources: Option<Resources>,
}

/// A run folder could not be read; names the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ReadFolderError {
    #[error("{} is not a directory (expected a run folder written by `stockproof run`)", .0.display())]
    NotAFolder(PathBuf),
    #[error(
        "{}: no history.jsonl.zst or history.jsonl: not a run folder written by \
         `stockproof run` (it holds scenario.toml, run.json, history.jsonl.zst)",
        .0.display()
    )]
    NoHistory(PathBuf),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
}

/// Reads `scenario.toml`, `run.json`, the history (`history.jsonl.zst`, else
/// `history.jsonl`) and `snapshot.json` (when the run took one) from a run folder. A
/// folder without `run.json` (a history written by another load tool in the documented
/// format, or a run killed mid-way) is judged as a run whose white-box checks apply
/// only if it has a snapshot; a history cut short is recorded in
/// [`RunInfo::history_cut_short`], so that it cannot pass.
pub fn read(folder: &Path) -> Result<RunFolder, ReadFolderError> {
    if !folder.is_dir() {
        return Err(ReadFolderError::NotAFolder(folder.to_owned()));
    }
    let Some(history_path) = find_history_file(folder) else {
        return Err(ReadFolderError::NoHistory(folder.to_owned()));
    };
    let scenario = crate::scenario::load(&folder.join("scenario.toml"))?;
    let history_file = read_history_file(&history_path)?;
    let history = history_file.history;
    let snapshot_path = folder.join("snapshot.json");
    let snapshot = if snapshot_path.exists() {
        Some(WhiteBoxSnapshot::read(&snapshot_path)?)
    } else {
        None
    };
    let stores_path = folder.join("stores.json");
    let stores = if stores_path.exists() {
        Some(read_stores(&stores_path)?)
    } else {
        None
    };
    let run_json = folder.join("run.json");
    let mut info = if run_json.exists() {
        read_run_info(&run_json)?
    } else {
        RunInfo::without_run_json(&history, snapshot.is_some())
    };
    info.history_cut_short = history_file.cut_short;
    let resources = read_resources(folder)?;
    Ok(RunFolder {
        scenario,
        info,
        history,
        snapshot,
        stores,
        resources,
    })
}

fn read_stores(path: &Path) -> Result<StoresSnapshot, ReadFolderError> {
    let text = std::fs::read_to_string(path).map_err(|error| ReadFolderError::File {
        path: path.to_owned(),
        reason: error.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|error| ReadFolderError::File {
        path: path.to_owned(),
        reason: error.to_string(),
    })
}

fn read_run_info(path: &Path) -> Result<RunInfo, ReadFolderError> {
    let error = |reason: String| ReadFolderError::File {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|io| error(io.to_string()))?;
    let info: RunInfo = serde_json::from_str(&text).map_err(|json| error(json.to_string()))?;
    if info.format_version > RUN_INFO_FORMAT_VERSION {
        return Err(error(format!(
            "format_version {} is newer than this stockproof reads ({RUN_INFO_FORMAT_VERSION}): \
             judge it with the version that wrote it",
            info.format_version
        )));
    }
    Ok(info)
}

/// `20261123T150102Z` for a UTC time.
pub fn utc_stamp(time: SystemTime) -> String {
    DateTime::<Utc>::from(time)
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

#[cfg(test)]
mod tests;
