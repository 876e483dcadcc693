//! Reserve requests and the validation of every caller-supplied id (DESIGN §1): the
//! engine's input bounds, checked before any I/O. The reservation data types live in
//! `stockproof-model` and are re-exported here.

pub use stockproof_model::{CartLine, Reservation, ReservationId, ReservationState};

use crate::error::EngineError;
use crate::limits::{
    CART_LINES_MAX, IDEMPOTENCY_KEY_BYTES_MAX, LINE_QTY_MAX, SKU_ID_BYTES_MAX, TTL_MS_MAX,
    TTL_MS_MIN,
};

/// A reserve request, validated by [`ReserveRequest::validate`] before any I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    pub idempotency_key: String,
    pub items: Vec<CartLine>,
    pub ttl_ms: i64,
}

impl ReserveRequest {
    /// Checks every bound and merges lines naming one SKU (summing their quantities),
    /// so that a cart is never checked line by line against a stale count. Returns the
    /// merged lines sorted by SKU: the canonical cart an idempotency key is bound to.
    pub fn validate(&self) -> Result<Vec<CartLine>, EngineError> {
        validate_idempotency_key(&self.idempotency_key)?;
        if !(TTL_MS_MIN..=TTL_MS_MAX).contains(&self.ttl_ms) {
            return Err(EngineError::invalid(
                "ttl_ms",
                format!(
                    "must be between {TTL_MS_MIN} and {TTL_MS_MAX} ms, got {}",
                    self.ttl_ms
                ),
            ));
        }
        if self.items.is_empty() {
            return Err(EngineError::invalid(
                "items",
                "a cart needs at least one line",
            ));
        }
        if self.items.len() > CART_LINES_MAX {
            return Err(EngineError::invalid(
                "items",
                format!(
                    "at most {CART_LINES_MAX} lines per cart, got {}",
                    self.items.len()
                ),
            ));
        }
        let mut merged: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
        for line in &self.items {
            validate_sku_id(&line.sku)?;
            if !(1..=LINE_QTY_MAX).contains(&line.qty) {
                return Err(EngineError::invalid(
                    "items.qty",
                    format!(
                        "must be between 1 and {LINE_QTY_MAX}, got {} for sku `{}`",
                        line.qty, line.sku
                    ),
                ));
            }
            let sum = merged.entry(line.sku.as_str()).or_insert(0);
            *sum += line.qty;
            if *sum > LINE_QTY_MAX {
                return Err(EngineError::invalid(
                    "items.qty",
                    format!(
                        "lines naming sku `{}` add up to {}, more than {LINE_QTY_MAX}",
                        line.sku, sum
                    ),
                ));
            }
        }
        Ok(merged
            .into_iter()
            .map(|(sku, qty)| CartLine {
                sku: sku.to_owned(),
                qty,
            })
            .collect())
    }
}

/// SKU ids: 1..=[`SKU_ID_BYTES_MAX`] bytes of `[A-Za-z0-9._:-]`.
pub fn validate_sku_id(sku: &str) -> Result<(), EngineError> {
    let allowed =
        |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-');
    if sku.is_empty() || sku.len() > SKU_ID_BYTES_MAX || !sku.bytes().all(allowed) {
        return Err(EngineError::invalid(
            "sku",
            format!(
                "`{}` is not a sku id (1 to {SKU_ID_BYTES_MAX} characters of A-Z a-z 0-9 . _ : -)",
                sku.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// Idempotency keys: 1..=[`IDEMPOTENCY_KEY_BYTES_MAX`] bytes of visible ASCII.
pub fn validate_idempotency_key(key: &str) -> Result<(), EngineError> {
    if key.is_empty()
        || key.len() > IDEMPOTENCY_KEY_BYTES_MAX
        || !key.bytes().all(|byte| byte.is_ascii_graphic())
    {
        return Err(EngineError::invalid(
            "idempotency_key",
            format!(
                "must be 1 to {IDEMPOTENCY_KEY_BYTES_MAX} visible ASCII characters, got `{}`",
                key.escape_debug()
            ),
        ));
    }
    Ok(())
}
