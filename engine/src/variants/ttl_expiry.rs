//! `ttl-expiry`: a reservation is a Redis key with a TTL (`PEXPIRE resv:<id> ttl`) and
//! no entry in the deadline index. When Redis drops the key, nothing returns its units:
//! they stay `reserved` for ever (stock leaks), and a confirm after that finds no
//! reservation.
//!
//! Models the "hold = key with `EXPIRE`" cart design common in Redis inventory
//! tutorials, whose stock is given back by nothing, or by a keyspace-notification
//! listener — which Redis documents as fire-and-forget Pub/Sub (lost while no listener
//! is connected, and sent when Redis gets round to deleting the key, not at the TTL).
//! The reference indexes deadlines and has a sweeper expire them.

use crate::lua::{ScriptName, ScriptPatch};

pub(super) const PATCHES: &[ScriptPatch] = &[ScriptPatch {
    scripts: &[ScriptName::Reserve],
    find: "redis.call('ZADD', DEADLINES_KEY, deadline, id)\n",
    replace: include_str!("../../../lua/variants/ttl-expiry.lua"),
}];
