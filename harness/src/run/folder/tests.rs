use std::time::{Duration, UNIX_EPOCH};

use super::*;

// Goal: run folders are named by UTC time, to the second.
// Method: format known instants (epoch, a leap day, the end of a year).
#[test]
fn utc_stamps_are_calendar_times() {
    assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
    let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_661);
    assert_eq!(utc_stamp(leap_day), "20000229T010101Z");
    let new_years_eve = UNIX_EPOCH + Duration::from_secs(1_798_761_599);
    assert_eq!(utc_stamp(new_years_eve), "20261231T235959Z");
}

// Goal: two runs of one scenario in the same second get distinct folders.
// Method: create twice in a temp dir and compare.
#[test]
fn folders_never_collide() {
    let dir = tempfile::tempdir().unwrap();
    let first = create(dir.path(), "flash-sale").unwrap();
    let second = create(dir.path(), "flash-sale").unwrap();
    assert_ne!(first, second);
    assert!(first.is_dir() && second.is_dir());
    let name = first.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("flash-sale-") && name.ends_with('Z'),
        "{name}"
    );
}
