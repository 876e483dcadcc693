use super::*;

fn stock(available: i64, reserved: i64, sold: i64, total: i64) -> SkuStock {
    SkuStock {
        available,
        reserved,
        sold,
        total,
    }
}

#[test]
fn balanced_stock_has_no_violation_and_each_break_is_named() {
    // Goal: the invariant holds for balanced stock and each break is reported once.
    assert!(stock(90, 7, 3, 100).violations().is_empty());
    assert!(stock(0, 0, 0, 0).violations().is_empty());
    assert_eq!(
        stock(91, 7, 3, 100).violations(),
        [StockViolation::Unbalanced {
            available: 91,
            reserved: 7,
            sold: 3,
            sum: 101,
            total: 100
        }]
    );
    assert_eq!(
        stock(-1, 1, 0, 0).violations(),
        [StockViolation::Negative {
            field: "available",
            value: -1
        }]
    );
    let overflowing = stock(i64::MAX, i64::MAX, 0, 1).violations();
    assert!(matches!(overflowing[0], StockViolation::Unbalanced { .. }));
}
