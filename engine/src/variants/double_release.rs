//! `double-release`: confirm leaves the reservation in the deadline index, and the
//! sweeper ends whatever the index lists without checking its state. A confirmed
//! reservation is expired as well once its deadline passes: its units are sold *and*
//! returned to `available` (`reserved` goes negative, the units sell again), and an
//! acknowledged confirm ends Expired.
//!
//! Models the order-timeout design where a delayed job or delay queue (a scheduled
//! "release hold" message per reservation) fires at the deadline and releases the hold
//! without re-reading whether it was paid in the meantime. The reference's sweeper
//! expires only Held reservations, in the same script that checks the state.

use crate::lua::{ScriptName, ScriptPatch};

pub(super) const PATCHES: &[ScriptPatch] = &[
    ScriptPatch {
        scripts: &ScriptName::ALL,
        find: "  redis.call('ZREM', DEADLINES_KEY, id)\n  local idem_key",
        replace: concat!(
            include_str!("../../../lua/variants/double-release-terminate.lua"),
            "  local idem_key"
        ),
    },
    ScriptPatch {
        scripts: &[ScriptName::Expire],
        find: "  if resv[1] == 'held' then\n",
        replace: include_str!("../../../lua/variants/double-release-expire.lua"),
    },
];
