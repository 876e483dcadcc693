//! Resource SLOs as a scenario writes them: `<series> growth <= 5%` (growth over the
//! run's second half, `crate::resources::growth`) and `<series>.max <= 2s` (the largest
//! sample), with the threshold in the series' unit: bytes (`512MB`, `1GiB`), seconds
//! (`2s`, `250ms`) or a plain count. A series is one the in-process engine is sampled
//! for (`crate::resources::BUILTIN_SERIES`, named with a dot) or a Prometheus series of
//! an external target's `/metrics` (no dot; labels as written in the exposition,
//! `http_inflight{route="reserve"}`).
//!
//! Parsing only: `super::evaluate` judges them against `resources.jsonl`.

use crate::duration::parse_duration;
use crate::history::OpKind;
use crate::resources::{BUILTIN_SERIES, Unit, builtin_unit};

use super::ResourceStatistic;

/// Byte suffixes, longest first so `MiB` is not read as `B`: SI (powers of 1000) and
/// IEC (powers of 1024).
const BYTE_SUFFIXES: [(&str, f64); 9] = [
    ("KiB", 1024.0),
    ("MiB", 1024.0 * 1024.0),
    ("GiB", 1024.0 * 1024.0 * 1024.0),
    ("TiB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("kB", 1e3),
    ("KB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("TB", 1e12),
];

/// Whether an SLO's subject names a resource series rather than an op's latency:
/// `<series> growth`, `<series>.max` where `<series>` is no operation, or anything
/// starting with a builtin series' name.
pub(super) fn is_resource(subject: &str) -> bool {
    if subject.split_whitespace().nth(1).is_some() {
        return true;
    }
    if let Some(series) = subject.strip_suffix(".max")
        && OpKind::parse(series).is_none()
    {
        return true;
    }
    BUILTIN_SERIES
        .iter()
        .any(|(name, _)| subject.starts_with(name))
}

/// `(series, statistic, threshold)` of a resource SLO; the threshold in the series'
/// base unit (bytes, seconds, count; a growth as a fraction).
pub(super) fn parse(
    subject: &str,
    value: &str,
) -> Result<(String, ResourceStatistic, f64), String> {
    let mut words = subject.split_whitespace();
    let (series, statistic) = match (words.next(), words.next(), words.next()) {
        (Some(series), Some("growth"), None) => (series, ResourceStatistic::Growth),
        (Some(series), None, None) => match series.strip_suffix(".max") {
            Some(series) => (series, ResourceStatistic::Max),
            None => {
                return Err(format!(
                    "resource series `{series}` needs a statistic: `{series} growth` or `{series}.max`"
                ));
            }
        },
        _ => {
            return Err(format!(
                "unknown resource statistic in `{subject}` (growth, max)"
            ));
        }
    };
    let unit = series_unit(series)?;
    let threshold = match statistic {
        ResourceStatistic::Growth => value
            .strip_suffix('%')
            .and_then(|number| number.trim().parse::<f64>().ok())
            .filter(|percent| percent.is_finite())
            .map(|percent| percent / 100.0)
            .ok_or_else(|| format!("a growth needs a percentage like `5%`, got `{value}`"))?,
        ResourceStatistic::Max => parse_value(value, unit)?,
    };
    Ok((series.to_owned(), statistic, threshold))
}

/// A builtin series' unit, or [`Unit::Unknown`] for a valid Prometheus series name.
fn series_unit(series: &str) -> Result<Unit, String> {
    if let Some(unit) = builtin_unit(series) {
        return Ok(unit);
    }
    let names: Vec<&str> = BUILTIN_SERIES.iter().map(|(name, _)| *name).collect();
    let unknown = || {
        format!(
            "unknown resource series `{series}` ({}; or a Prometheus series of the target's /metrics, which has no dot)",
            names.join(", ")
        )
    };
    if series.contains('.') && !series.contains('{') {
        return Err(unknown());
    }
    let name = series.split('{').next().unwrap_or_default();
    let labels_closed = !series.contains('{') || series.ends_with('}');
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') && labels_closed
    {
        Ok(Unit::Unknown)
    } else {
        Err(unknown())
    }
}

/// A threshold in `unit`: bytes with a suffix, a duration, or a plain number (a
/// Prometheus series takes any of them, converted to its base unit).
fn parse_value(value: &str, unit: Unit) -> Result<f64, String> {
    let number = value
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite());
    let parsed = match unit {
        Unit::Bytes => parse_bytes(value),
        Unit::Seconds => parse_duration(value).ok().map(|d| d.as_secs_f64()),
        Unit::Count => number,
        Unit::Unknown => number
            .or_else(|| parse_bytes(value))
            .or_else(|| parse_duration(value).ok().map(|d| d.as_secs_f64())),
    };
    parsed.ok_or_else(|| {
        let expected = match unit {
            Unit::Bytes => "a size like `512MB` or `1GiB`",
            Unit::Seconds => "a duration like `2s` or `250ms`",
            Unit::Count => "a number like `10000`",
            Unit::Unknown => "a number, a size (`512MB`) or a duration (`2s`)",
        };
        format!("expected {expected}, got `{value}`")
    })
}

/// `512MB` → 512e6, `1GiB` → 2^30, `100B` → 100.
fn parse_bytes(value: &str) -> Option<f64> {
    let (number, scale) = BYTE_SUFFIXES
        .iter()
        .find_map(|(suffix, scale)| value.strip_suffix(suffix).map(|number| (number, *scale)))
        .or_else(|| value.strip_suffix('B').map(|number| (number, 1.0)))?;
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite() && *number >= 0.0)
        .map(|number| number * scale)
}
