use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{parse_start_at, rfc3339};

fn at(unix_s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix_s)
}

/// 2026-12-03T21:00:00Z.
const START_S: u64 = 1_796_331_600;

#[test]
fn start_at_reads_rfc3339_in_any_offset_as_utc() {
    let now = at(START_S - 30);
    assert_eq!(
        parse_start_at("2026-12-03T21:00:00Z", now).unwrap(),
        at(START_S)
    );
    assert_eq!(
        parse_start_at("2026-12-03T22:00:00+01:00", now).unwrap(),
        at(START_S)
    );
    assert_eq!(rfc3339(at(START_S)), "2026-12-03T21:00:00.000000Z");
}

#[test]
fn start_at_refuses_bad_text_the_past_and_the_far_future_naming_the_flag() {
    let now = at(START_S);
    for (text, reason) in [
        ("21:00", "not an RFC 3339 instant"),
        ("2026-12-03T20:59:50Z", "10.0 s in the past"),
        ("2026-12-05T21:00:00Z", "48 h ahead"),
    ] {
        let error = parse_start_at(text, now).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("--start-at `{text}`")),
            "{error}"
        );
        assert!(error.contains(reason), "{error}");
    }
    // Within the grace: taken, the agent starts at once.
    assert!(parse_start_at("2026-12-03T20:59:59Z", now).is_ok());
}
