//! The facades' order book: order number → the engine reservation that holds its
//! stock. A real service keeps this in a table (`orders(order_no primary key,
//! reservation_id, sku, qty, status)`); the facades keep it in memory, so a restarted
//! facade forgets its orders (the engine still holds them, and a replayed reserve finds
//! them again through the engine's idempotency key). Bounded by [`ORDERS_MAX`].
//!
//! Not here: the stock itself (the engine's) or its database copy (`store`).

use std::collections::HashMap;
use std::sync::Mutex;

/// Orders remembered: ~150 bytes each, so about 150 MB at the bound, far above a load
/// run (10,000 reserves a second for a minute is 600,000). Past it new orders are
/// refused with a 5xx, as a full table would refuse them.
pub const ORDERS_MAX: usize = 1_000_000;

/// One order and where its stock is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The engine reservation id.
    pub reservation: String,
    /// The engine SKU id.
    pub sku: String,
    pub qty: i64,
    /// Set only by the `release-leaks` plant: the order says cancelled, while the
    /// engine still holds its units.
    pub cancelled_locally: bool,
}

/// The order book was full.
#[derive(Debug, thiserror::Error)]
#[error("the order book holds {ORDERS_MAX} orders, its bound; order `{order}` was not recorded")]
pub struct OrderBookFull {
    pub order: String,
}

#[derive(Debug, Default)]
pub struct OrderBook {
    orders: Mutex<HashMap<String, Order>>,
}

impl OrderBook {
    /// Records (or replaces) the order's reservation.
    pub fn insert(&self, order_no: &str, order: Order) -> Result<(), OrderBookFull> {
        let mut orders = self.lock();
        if orders.len() >= ORDERS_MAX && !orders.contains_key(order_no) {
            return Err(OrderBookFull {
                order: order_no.to_owned(),
            });
        }
        orders.insert(order_no.to_owned(), order);
        Ok(())
    }

    pub fn get(&self, order_no: &str) -> Option<Order> {
        self.lock().get(order_no).cloned()
    }

    /// Marks the order cancelled here only (the `release-leaks` plant); false when
    /// there is no such order.
    pub fn cancel_locally(&self, order_no: &str) -> bool {
        match self.lock().get_mut(order_no) {
            Some(order) => {
                order.cancelled_locally = true;
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Order>> {
        // A panic while holding the lock leaves a consistent map (every write is one
        // insert or one flag), so a poisoned lock is still usable.
        self.orders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
