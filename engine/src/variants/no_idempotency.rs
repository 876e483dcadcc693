//! `no-idempotency`: reserve stores the idempotency key but never looks it up, so a
//! client that retries a reserve (after a timeout, or a duplicate send) holds the
//! units twice and gets two reservation ids for one key.
//!
//! Models a `POST /reservations` with no idempotency support — the case the IETF
//! `Idempotency-Key` header draft (draft-ietf-httpapi-idempotency-key-header) and
//! Stripe's idempotent-requests design exist to fix: POST is not idempotent, and
//! networks make clients retry. The reference replays the key's first reservation.

use crate::lua::{ScriptName, ScriptPatch};

pub(super) const PATCHES: &[ScriptPatch] = &[ScriptPatch {
    scripts: &[ScriptName::Reserve],
    find: "local existing = redis.call('GET', idem_key)\n",
    replace: include_str!("../../../lua/variants/no-idempotency.lua"),
}];
