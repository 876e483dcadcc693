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

#[cfg(test)]
mod tests {
    use super::{CompareError, compare, read_record};
    use crate::capacity::BenchRecord;

    /// A bench.json with one strategy per `(name, knee)`.
    fn record(knees: &[(&str, Option<f64>)]) -> BenchRecord {
        let strategies: Vec<serde_json::Value> = knees
            .iter()
            .map(|(name, knee)| {
                serde_json::json!({
                    "strategy": name, "knee_carts_per_s": knee, "end": "resolved",
                    "ratios": {}, "steps": []
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "format": "stockproof-bench", "format_version": 1,
            "started_at": "t", "finished_at": "t", "scenario": "s", "scenario_file": "f",
            "slo": "reserve.p99<=25ms", "target": "in process",
            "settings": {
                "start_rate_per_s": 100.0, "max_rate_per_s": 1000.0, "resolution": 0.1,
                "warmup_s": 2.0, "step_time_s": 8.0, "samples_target": 10000.0,
                "achieved_tolerance": 0.05, "ceiling_time_s": 3.0, "budget_s": 540.0
            },
            "interrupted": false, "ceilings": { "notes": [] }, "strategies": strategies
        }))
        .unwrap()
    }

    #[test]
    fn a_knee_regresses_past_the_tolerance_or_when_it_is_gone() {
        let old = record(&[
            ("a", Some(1000.0)),
            ("b", Some(1000.0)),
            ("c", Some(1000.0)),
        ]);
        let new = record(&[
            ("a", Some(950.0)),
            ("b", Some(850.0)),
            ("c", None),
            ("d", None),
        ]);
        let changes = compare(&old, &new, 0.1);
        let regressed: Vec<(&str, bool)> = changes
            .iter()
            .map(|change| (change.strategy.as_str(), change.regressed))
            .collect();
        assert_eq!(regressed, [("a", false), ("b", true), ("c", true)]);
        assert_eq!(
            changes[1].line(0.1),
            "b: old 1000 carts/s, new 850 carts/s (-15.0 %): REGRESSED (fell by more than 10 %)"
        );
    }

    #[test]
    fn only_a_bench_json_of_this_version_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.json");
        std::fs::write(
            &path,
            r#"{"format": "stockproof-bench", "format_version": 2}"#,
        )
        .unwrap();
        assert!(matches!(
            read_record(&path),
            Err(CompareError::NotBench { .. })
        ));
        let missing = dir.path().join("missing.json");
        assert!(matches!(
            read_record(&missing),
            Err(CompareError::Unreadable { .. })
        ));
        std::fs::write(
            &path,
            serde_json::to_string(&record(&[("a", None)])).unwrap(),
        )
        .unwrap();
        assert_eq!(read_record(&path).unwrap().strategies[0].strategy, "a");
    }
}
