//! The run folder's reports (DESIGN §9): `summary.md`, `summary.json`, `report.html`,
//! one `<op>.hgrm` per operation kind, `latency.hlog` and `junit.xml`, all rendered from
//! a [`RunData`] (scenario, seed, verdicts, latencies, history). Rendering only: the
//! history and snapshot files are written by the run pipeline, the verdicts come from
//! `crate::checks`. Every figure a person reads goes through [`units`] (`36.5 ms`,
//! `12.3k ops/s`), the terminal of `stockproof run` and `check` included.

pub mod bench_page;
mod chart;
mod figures;
pub mod hgrm;
pub mod hlog;
mod html;
pub mod junit;
mod resources;
pub mod series;
mod summary;
mod timeline;

pub use stockproof_checks::units;

use std::path::{Path, PathBuf};

pub use summary::{
    OpLatencySummary, OpsSummary, Percentiles, SUMMARY_SCHEMA_VERSION, Summary, markdown, summary,
};

use crate::checks::RunVerdict;
use crate::history::History;
use crate::latency::Latencies;
use crate::scenario::Scenario;

/// Everything the reports are rendered from.
#[derive(Debug, Clone, Copy)]
pub struct RunData<'a> {
    pub scenario: &'a Scenario,
    pub seed: u64,
    /// The run's time zero (ms since the epoch).
    pub started_at_unix_ms: i64,
    /// `in-process engine` or the URL of an external target.
    pub target: &'a str,
    /// The engine served: `reference`, a broken variant's name (`dual-write`), or
    /// `external` for a service stockproof did not start.
    pub engine: &'a str,
    /// Whether C2 and C5 had a white-box snapshot.
    pub white_box: bool,
    pub verdict: &'a RunVerdict,
    pub latencies: &'a Latencies,
    pub history: &'a History,
    /// The target's resources sampled during the load, charted when present.
    pub resources: Option<&'a crate::checks::resources::Resources>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("writing {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rendering {file}: {reason}")]
    Render { file: String, reason: String },
}

/// Writes every report into `dir` (which must exist); returns the files written.
pub fn write_reports(dir: &Path, data: &RunData<'_>) -> Result<Vec<PathBuf>, ReportError> {
    let summary = summary(data);
    let json = serde_json::to_string_pretty(&summary).map_err(|error| ReportError::Render {
        file: "summary.json".to_owned(),
        reason: error.to_string(),
    })?;
    let hlog = hlog::render(data.latencies, data.started_at_unix_ms).map_err(|reason| {
        ReportError::Render {
            file: "latency.hlog".to_owned(),
            reason,
        }
    })?;
    let mut files: Vec<(String, String)> = vec![
        ("summary.json".to_owned(), json + "\n"),
        ("summary.md".to_owned(), markdown(&summary, data.history)),
        ("report.html".to_owned(), html::render(data, &summary)),
        ("latency.hlog".to_owned(), hlog),
        (
            "junit.xml".to_owned(),
            junit::render(&data.scenario.name, &summary.started_at, data.verdict),
        ),
    ];
    for (kind, op) in &data.latencies.ops {
        let text = hgrm::render(
            &op.corrected,
            hgrm::HGRM_TICKS_PER_HALF_DISTANCE,
            hgrm::HGRM_VALUE_SCALING_RATIO,
        );
        files.push((format!("{}.hgrm", kind.as_str()), text));
    }
    let mut written = Vec::with_capacity(files.len());
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| ReportError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
