//! Human units for every figure a person reads: durations (`850 µs`, `36.5 ms`, `1.2 s`,
//! `2.5 min`), counts (`950`, `12.3k`, `4.5M`), rates (`12.3k ops/s`) and ratios
//! (`2.77 %`), each to [`SIGNIFICANT_DIGITS`] with trailing zeros trimmed. summary.md,
//! report.html, junit.xml and the terminal of `stockproof run` / `check` all format
//! through here, so one figure reads the same everywhere.
//!
//! Not here: machine-readable files (summary.json, `.hgrm`, latency.hlog), which keep
//! base units and full precision.

/// Digits kept: 36543 µs → `36.5 ms`. Three tell 1.23 ms from 1.24 ms, which is as fine
/// as a percentile of a few thousand ops is worth reading.
pub const SIGNIFICANT_DIGITS: i32 = 3;

/// Shown for a value that is not a number (an empty run's mean, a division by zero).
const NOT_A_NUMBER: &str = "-";

/// A duration given in µs: `850 µs`, `36.5 ms`, `1.2 s`, `2.5 min`, `1.5 h`.
pub fn duration_us(us: f64) -> String {
    if !us.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let rounded = round_significant(us);
    let magnitude = rounded.abs();
    let (value, unit) = if magnitude < 1e3 {
        (rounded, "µs")
    } else if magnitude < 1e6 {
        (rounded / 1e3, "ms")
    } else if magnitude < 60e6 {
        (rounded / 1e6, "s")
    } else if magnitude < 3600e6 {
        (round_significant(us / 60e6), "min")
    } else {
        (round_significant(us / 3600e6), "h")
    };
    format!("{} {unit}", significant(value))
}

/// A duration given in seconds (a chart's time axis): `0 s`, `250 ms`, `1.5 s`, `2 min`.
pub fn duration_s(seconds: f64) -> String {
    if seconds == 0.0 {
        return "0 s".to_owned();
    }
    duration_us(seconds * 1e6)
}

/// A tick of a time axis spanning `span_s` seconds, every tick in the one unit the
/// span calls for (`0 s`, `0.5 s`, `1 s`; `0 min`, `2.5 min`), not `500 ms` beside `1 s`.
pub fn time_tick(seconds: f64, span_s: f64) -> String {
    let (unit_s, unit) = time_axis_unit(span_s);
    format!("{} {unit}", count(seconds / unit_s))
}

/// The unit of a time axis spanning `span_s` seconds: its length in seconds and name.
/// Ticks step by round numbers of it (a 2-hour run's ticks fall on 20 min, not 16.7).
pub fn time_axis_unit(span_s: f64) -> (f64, &'static str) {
    if span_s < 1.0 {
        (1e-3, "ms")
    } else if span_s < 180.0 {
        (1.0, "s")
    } else if span_s < 3.0 * 3600.0 {
        (60.0, "min")
    } else {
        (3600.0, "h")
    }
}

/// A count or any unitless figure: `950`, `12.3k`, `4.5M`, `-3`.
pub fn count(value: f64) -> String {
    if !value.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let rounded = round_significant(value);
    let magnitude = rounded.abs();
    let (scaled, suffix) = if magnitude < 1e3 {
        (rounded, "")
    } else if magnitude < 1e6 {
        (rounded / 1e3, "k")
    } else if magnitude < 1e9 {
        (rounded / 1e6, "M")
    } else {
        (rounded / 1e9, "G")
    };
    format!("{}{suffix}", significant(scaled))
}

/// Operations per second: `12.3k ops/s`.
pub fn rate_per_s(per_s: f64) -> String {
    format!("{} ops/s", count(per_s))
}

/// A fraction as a percentage: 0.02774 → `2.77 %`.
pub fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    format!("{} %", significant(round_significant(fraction * 100.0)))
}

/// A size in bytes, SI prefixes: `950 B`, `12.3 kB`, `512 MB`, `1.2 GB`.
pub fn bytes(value: f64) -> String {
    let counted = count(value);
    match counted.strip_suffix(['k', 'M', 'G']) {
        Some(number) => format!("{number} {}B", &counted[number.len()..]),
        None => format!("{counted} B"),
    }
}

/// An SLO's observed value (or threshold) in its base unit as `checks::slo::SloResult`
/// carries it (`us`, `ratio`, `ops/s`): `36.5 ms`, `2.77 %`, `12.3k ops/s`. Any other
/// unit is kept as given after the number.
pub fn slo_value(value: f64, unit: &str) -> String {
    match unit {
        "us" => duration_us(value),
        "ratio" => percent(value),
        "ops/s" => rate_per_s(value),
        "bytes" => bytes(value),
        "s" => duration_us(value * 1e6),
        "" => count(value),
        unit => format!("{} {unit}", count(value)),
    }
}

/// `value` rounded to [`SIGNIFICANT_DIGITS`] (999.96 → 1000, so units are chosen after
/// rounding and 999.96 µs reads `1 ms`, not `1000 µs`).
fn round_significant(value: f64) -> f64 {
    if value == 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(SIGNIFICANT_DIGITS - 1 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

/// An already rounded value with the decimals its significant digits need, trailing
/// zeros and a trailing point trimmed: 1.20 → `1.2`, 850.0 → `850`.
fn significant(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    let integer_digits = value.abs().log10().floor() as i32 + 1;
    let decimals = (SIGNIFICANT_DIGITS - integer_digits).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests;
