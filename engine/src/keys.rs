//! The Redis key layout of one shop (DESIGN §2). Every key carries the hash tag
//! `{shop}` so that a multi-SKU script touches one cluster slot.

/// Keys of one shop, built once from the shop name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopKeys {
    prefix: String,
}

impl ShopKeys {
    /// `shop` becomes the hash tag: `sp:{shop}:…`.
    pub fn new(shop: &str) -> ShopKeys {
        ShopKeys {
            prefix: format!("sp:{{{shop}}}:"),
        }
    }

    /// `sp:{shop}:` — what every key of the shop starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Hash `available reserved sold total`.
    pub fn sku(&self, sku: &str) -> String {
        format!("{}sku:{sku}", self.prefix)
    }

    /// Set of every SKU id of the shop (for snapshots without SCAN).
    pub fn sku_index(&self) -> String {
        format!("{}skus", self.prefix)
    }

    /// Hash `key state deadline items` (items: `sku qty sku qty …`).
    pub fn reservation(&self, id: &str) -> String {
        format!("{}resv:{id}", self.prefix)
    }

    /// String: the reservation id an idempotency key names.
    pub fn idempotency(&self, key: &str) -> String {
        format!("{}idem:{key}", self.prefix)
    }

    /// ZSET reservation id → deadline (ms, Redis clock), Held reservations only.
    pub fn deadlines(&self) -> String {
        format!("{}deadlines", self.prefix)
    }

    /// ZSET reservation id → purge time (ms): terminal reservations kept for retention.
    pub fn retention(&self) -> String {
        format!("{}retention", self.prefix)
    }

    /// Counter: the seq of the last ledger event.
    pub fn seq(&self) -> String {
        format!("{}seq", self.prefix)
    }

    /// Stream: the ledger outbox.
    pub fn ledger(&self) -> String {
        format!("{}ledger", self.prefix)
    }
}
