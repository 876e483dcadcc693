//! bench.md's figures as a person reads them.

use super::ratio;

// Goal: a knee far below its ceiling keeps its information (issue 14: `0.00` was
// printed for 25 carts/s over 15.6k calls/s).
#[test]
fn tiny_ratios_keep_three_significant_digits() {
    assert_eq!(ratio(Some(25.0 / 15_600.0)), "0.0016");
    assert_eq!(ratio(Some(0.000_123_4)), "0.000123");
    assert_eq!(ratio(Some(0.0344)), "0.0344");
    assert_eq!(ratio(Some(1.0)), "1");
    assert_eq!(ratio(None), "-");
}
