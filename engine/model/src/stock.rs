//! One SKU's stock and the invariant every state of it must keep (DESIGN §1):
//! `available + reserved + sold == total`, no field negative. Checked wherever a stock
//! is read (Redis hash, Postgres row, ledger replay) so a broken one names its field.

/// Units of one SKU. Signed so that a broken store's negative count is representable
/// and reported rather than wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SkuStock {
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
    /// Units ever supplied: initial stock + restocks ± adjustments.
    pub total: i64,
}

/// How a [`SkuStock`] breaks the invariant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StockViolation {
    #[error("`{field}` is negative ({value})")]
    Negative { field: &'static str, value: i64 },
    #[error(
        "available {available} + reserved {reserved} + sold {sold} = {sum}, but total is {total}"
    )]
    Unbalanced {
        available: i64,
        reserved: i64,
        sold: i64,
        sum: i128,
        total: i64,
    },
}

impl SkuStock {
    /// Every way this stock breaks the invariant (empty when it holds).
    pub fn violations(&self) -> Vec<StockViolation> {
        let mut violations: Vec<StockViolation> = [
            ("available", self.available),
            ("reserved", self.reserved),
            ("sold", self.sold),
            ("total", self.total),
        ]
        .into_iter()
        .filter(|(_, value)| *value < 0)
        .map(|(field, value)| StockViolation::Negative { field, value })
        .collect();
        // i128: the sum of three i64 counts cannot overflow there.
        let sum = i128::from(self.available) + i128::from(self.reserved) + i128::from(self.sold);
        if sum != i128::from(self.total) {
            violations.push(StockViolation::Unbalanced {
                available: self.available,
                reserved: self.reserved,
                sold: self.sold,
                sum,
                total: self.total,
            });
        }
        violations
    }
}

#[cfg(test)]
mod tests;
