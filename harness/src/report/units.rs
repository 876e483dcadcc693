//! Values in human units, the one formatter every report and terminal line uses:
//! `850 µs`, `36.5 ms`, `1.25 s`; `0.12 %`; `12.3k ops/s`. Three significant figures are
//! what a reader compares; the exact values stay in `summary.json`.

/// A duration given in µs: µs below 1 ms, ms below 1 s, else s.
pub fn duration_us(us: f64) -> String {
    if us < 1_000.0 {
        format!("{} µs", significant(us))
    } else if us < 1_000_000.0 {
        format!("{} ms", significant(us / 1_000.0))
    } else {
        format!("{} s", significant(us / 1_000_000.0))
    }
}

/// A rate per second: `950 ops/s`, `12.3k ops/s`, `1.20M ops/s`.
pub fn rate_per_s(rate: f64) -> String {
    if rate < 1_000.0 {
        format!("{} ops/s", significant(rate))
    } else if rate < 1_000_000.0 {
        format!("{}k ops/s", significant(rate / 1_000.0))
    } else {
        format!("{}M ops/s", significant(rate / 1_000_000.0))
    }
}

/// A fraction as a percentage: `0.12 %`.
pub fn ratio_percent(ratio: f64) -> String {
    format!("{} %", significant(ratio * 100.0))
}

/// An SLO's observed value in the unit `checks::slo` measures it in (`us`, `ratio`,
/// `ops/s`).
pub fn slo_value(value: f64, unit: &str) -> String {
    match unit {
        "us" => duration_us(value),
        "ratio" => ratio_percent(value),
        "ops/s" => rate_per_s(value),
        other => format!("{} {other}", significant(value)),
    }
}

/// Three significant figures, no trailing zeros past the point (`36.5`, `850`, `1.25`,
/// `0.012`); whole numbers from 1,000 up as they are.
fn significant(value: f64) -> String {
    let magnitude = value.abs();
    let decimals = if magnitude == 0.0 || magnitude >= 100.0 {
        0
    } else if magnitude >= 10.0 {
        1
    } else if magnitude >= 1.0 {
        2
    } else {
        // 0.0123 → 3 decimals after the leading zeros.
        (2 - magnitude.log10().floor() as i32).clamp(2, 9) as usize
    };
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::{duration_us, rate_per_s, ratio_percent, slo_value};

    // Goal: the examples the issue gives read as a person writes them.
    #[test]
    fn values_read_in_human_units() {
        assert_eq!(duration_us(36_543.0), "36.5 ms");
        assert_eq!(duration_us(850.0), "850 µs");
        assert_eq!(duration_us(1_250_000.0), "1.25 s");
        assert_eq!(duration_us(0.0), "0 µs");
        assert_eq!(duration_us(12_000.0), "12 ms");
        assert_eq!(rate_per_s(12_345.0), "12.3k ops/s");
        assert_eq!(rate_per_s(950.0), "950 ops/s");
        assert_eq!(ratio_percent(0.0012), "0.12 %");
        assert_eq!(ratio_percent(0.000_123), "0.0123 %");
        assert_eq!(slo_value(36_543.0, "us"), "36.5 ms");
        assert_eq!(slo_value(2.0, "widgets"), "2 widgets");
    }
}
