//! Human durations in scenario files and SLOs: a number and a unit (`250ms`, `1.5s`, `2m`), so a
//! reader never guesses whether `ttl = 30` means seconds or milliseconds. Parsing only;
//! the values become `std::time::Duration`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The units a duration may carry, with their length in µs.
const UNITS_US: [(&str, f64); 5] = [
    ("us", 1.0),
    ("ms", 1_000.0),
    ("s", 1_000_000.0),
    ("m", 60_000_000.0),
    ("h", 3_600_000_000.0),
];
/// Longest duration a scenario may name: a week is far past any load run or TTL.
pub const SCENARIO_DURATION_MAX: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses `250ms`, `1.5s`, `10 s`, `2m`, `1h`, `500us`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = || {
        format!(
            "`{text}` is not a duration: expected a number and a unit (us, ms, s, m, h), e.g. `250ms`"
        )
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|character: char| !(character.is_ascii_digit() || character == '.'))
        .ok_or_else(expected)?;
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number.parse().map_err(|_| expected())?;
    let unit_us = UNITS_US
        .iter()
        .find(|(name, _)| *name == unit.trim())
        .map(|(_, us)| *us)
        .ok_or_else(expected)?;
    let micros = value * unit_us;
    if !micros.is_finite() || micros > SCENARIO_DURATION_MAX.as_micros() as f64 {
        return Err(format!(
            "`{text}` is longer than {} h",
            SCENARIO_DURATION_MAX.as_secs() / 3600
        ));
    }
    Ok(Duration::from_micros(micros.round() as u64))
}

/// Renders a duration the way a scenario would write it (`250ms`, `1.5s`).
pub fn format_duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros == 0 {
        "0ms".to_owned()
    } else if micros.is_multiple_of(1_000_000) {
        format!("{}s", micros / 1_000_000)
    } else if micros.is_multiple_of(1_000) {
        format!("{}ms", micros / 1_000)
    } else {
        format!("{micros}us")
    }
}

/// A duration as it appears in the file; deserializes from a string via
/// [`parse_duration`], so a bad one is reported by `toml` with its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDuration(pub Duration);

impl<'de> Deserialize<'de> for FileDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(FileDuration)
            .map_err(serde::de::Error::custom)
    }
}
