//! Unit tests of [`Outages`]: where the expiry grace ends around faults.

use super::Outages;

fn outages(windows: &[(i64, i64)]) -> Outages {
    Outages {
        windows: windows.to_vec(),
    }
}

// Goal: the grace stops during faults and only then. Method: one window before,
// across, inside and after the span, and a chain where the pushed-back end reaches
// a later fault.
#[test]
fn the_span_is_pushed_back_by_the_faults_it_overlaps() {
    assert_eq!(outages(&[]).after(100, 50), 150);
    assert_eq!(outages(&[(0, 90)]).after(100, 50), 150);
    assert_eq!(outages(&[(120, 140)]).after(100, 50), 170);
    assert_eq!(outages(&[(80, 110)]).after(100, 50), 160);
    assert_eq!(outages(&[(200, 300)]).after(100, 50), 150);
    assert_eq!(outages(&[(120, 140), (160, 180)]).after(100, 50), 190);
    assert_eq!(outages(&[(120, 140)]).after(i64::MAX - 10, 50), i64::MAX);
}
