//! `short-idempotency`: the idempotency marker lives [`IDEMPOTENCY_MARKER_TTL_MS`]
//! from the reserve, whatever happens to the reservation, instead of the reservation's
//! life plus the retention ("longer than your clients retry"). A retry that comes
//! later — a client backing off after a timeout — finds no marker and reserves again.
//!
//! Models idempotency stores with a fixed record expiry (AWS Lambda Powertools'
//! `expires_after_seconds`, caches of request ids with a short `EX`) configured below
//! the clients' retry horizon. The reference keeps the marker for the reservation's
//! life plus the retention.

use crate::lua::{ScriptName, ScriptPatch};

/// How long the variant keeps a key's marker: 1 s, far below any client's backoff.
/// `lua/variants/short-idempotency.lua` sets the same value.
pub const IDEMPOTENCY_MARKER_TTL_MS: u64 = 1_000;

pub(super) const PATCHES: &[ScriptPatch] = &[
    ScriptPatch {
        scripts: &[ScriptName::Reserve],
        find: "redis.call('SET', idem_key, id, 'PX', ttl_ms + RETENTION_MS)\n",
        replace: include_str!("../../../lua/variants/short-idempotency.lua"),
    },
    ScriptPatch {
        scripts: &ScriptName::ALL,
        find: "    redis.call('PEXPIRE', idem_key, RETENTION_MS)\n",
        replace: include_str!("../../../lua/variants/short-idempotency-terminate.lua"),
    },
];
