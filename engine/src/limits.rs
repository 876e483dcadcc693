//! Named bounds on every input the engine accepts. The Lua scripts check the same
//! bounds (they receive them as arguments from [`crate::lua`]), so a caller that skips
//! the Rust-side validation still cannot write a bad value. Numbers in Lua are doubles:
//! every count stays far below 2^53 so integer arithmetic there is exact.

/// Units on one cart line. A flash sale sells single units; a wholesale cart a few
/// thousand. A million leaves room without nearing float precision limits.
pub const LINE_QTY_MAX: i64 = 1_000_000;
/// Lines in one cart. Real carts hold tens; the bound keeps one script call short
/// (Redis runs one script at a time).
pub const CART_LINES_MAX: usize = 100;
/// Units of one restock or adjust.
pub const RESTOCK_QTY_MAX: i64 = 1_000_000_000;
/// Units a SKU may ever hold (`total`): 2^50, well inside Lua's exact integers.
pub const SKU_TOTAL_MAX: i64 = 1 << 50;
/// Reservation time-to-live. 1 ms lets tests race confirms against expiry; a day is
/// longer than any checkout.
pub const TTL_MS_MIN: i64 = 1;
pub const TTL_MS_MAX: i64 = 86_400_000;
/// SKU ids: 1..=128 bytes of `[A-Za-z0-9._:-]` (`1001`, `wh1:1001`).
pub const SKU_ID_BYTES_MAX: usize = 128;
/// Idempotency keys: 1..=255 bytes of visible ASCII (the IETF draft leaves the form to
/// the server; UUIDs and ULIDs fit).
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;
/// How long terminal reservations and idempotency keys are kept: "longer than your
/// clients retry". A retry after this may reserve again.
pub const RETENTION_MS_DEFAULT: i64 = 24 * 3_600_000;
/// Reservations expired per sweeper call: one script call stays short.
pub const EXPIRE_BATCH_MAX: usize = 256;

const _: () = assert!(LINE_QTY_MAX * CART_LINES_MAX as i64 <= SKU_TOTAL_MAX);
const _: () = assert!(RESTOCK_QTY_MAX <= SKU_TOTAL_MAX);
