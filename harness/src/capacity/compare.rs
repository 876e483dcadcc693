//! `--compare OLD/bench.json --tolerance 10%`: the capacity regression gate. Each
//! strategy's knee now against the same strategy's knee in an earlier bench.json; a
//! knee that fell by more than the tolerance (or that is gone) is a regression.
//!
//! Not here: the exit code (`cmd::bench`), running the bench (`super`).

use std::path::{Path, PathBuf};

use super::{BENCH_FORMAT, BENCH_FORMAT_VERSION, BenchRecord};

/// Largest bench.json read: a record of a few hundred steps is tens of kB.
pub const BENCH_JSON_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Why an old bench.json cannot be compared with.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("--compare {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("--compare {}: not a bench.json ({reason})", path.display())]
    NotBench { path: PathBuf, reason: String },
}

/// Reads and checks an old bench.json.
pub fn read_record(path: &Path) -> Result<BenchRecord, CompareError> {
    let unreadable = |reason: String| CompareError::Unreadable {
        path: path.to_owned(),
        reason,
    };
    let size = std::fs::metadata(path)
        .map_err(|error| unreadable(error.to_string()))?
        .len();
    if size > BENCH_JSON_BYTES_MAX {
        return Err(unreadable(format!(
            "{size} bytes, more than a bench.json's {BENCH_JSON_BYTES_MAX}"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|error| unreadable(error.to_string()))?;
    let not_bench = |reason: String| CompareError::NotBench {
        path: path.to_owned(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| not_bench(error.to_string()))?;
    let format = value.get("format").and_then(|format| format.as_str());
    if format != Some(BENCH_FORMAT) {
        return Err(not_bench(format!(
            "`format` is {format:?}, not \"{BENCH_FORMAT}\""
        )));
    }
    let version = value
        .get("format_version")
        .and_then(|version| version.as_u64());
    if version != Some(u64::from(BENCH_FORMAT_VERSION)) {
        return Err(not_bench(format!(
            "`format_version` is {version:?}; this stockproof reads {BENCH_FORMAT_VERSION}"
        )));
    }
    serde_json::from_value(value).map_err(|error| not_bench(error.to_string()))
}

/// One strategy's knee then and now.
#[derive(Debug, Clone, PartialEq)]
pub struct KneeChange {
    pub strategy: String,
    pub old: Option<f64>,
    pub new: Option<f64>,
    pub regressed: bool,
}

impl KneeChange {
    /// `redis-lua: old 800 carts/s, new 700 carts/s (-12.5 %): REGRESSED`.
    pub fn line(&self, tolerance: f64) -> String {
        let knee = |knee: Option<f64>| {
            knee.map_or_else(|| "no knee".to_owned(), |knee| format!("{knee:.0} carts/s"))
        };
        let change = match (self.old, self.new) {
            (Some(old), Some(new)) if old > 0.0 => {
                format!(" ({:+.1} %)", (new - old) / old * 100.0)
            }
            _ => String::new(),
        };
        let verdict = if self.regressed {
            format!("REGRESSED (fell by more than {:.0} %)", tolerance * 100.0)
        } else {
            "ok".to_owned()
        };
        format!(
            "{}: old {}, new {}{change}: {verdict}",
            self.strategy,
            knee(self.old),
            knee(self.new)
        )
    }
}

/// Every strategy of `new` that `old` also benched; `tolerance` is a fraction.
pub fn compare(old: &BenchRecord, new: &BenchRecord, tolerance: f64) -> Vec<KneeChange> {
    new.strategies
        .iter()
        .filter_map(|now| {
            let then = old
                .strategies
                .iter()
                .find(|then| then.strategy == now.strategy)?;
            let regressed = match (then.knee_carts_per_s, now.knee_carts_per_s) {
                (Some(old), Some(new)) => new < old * (1.0 - tolerance),
                (Some(_), None) => true,
                (None, _) => false,
            };
            Some(KneeChange {
                strategy: now.strategy.clone(),
                old: then.knee_carts_per_s,
                new: now.knee_carts_per_s,
                regressed,
            })
        })
        .collect()
}
