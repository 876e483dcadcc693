//! The facades' integration tests: each shape over the real engine (local Redis +
//! Postgres), its planted bugs, and its answers when the engine is gone.

mod order_no;
mod product_rest;
mod support;
mod unreachable;
