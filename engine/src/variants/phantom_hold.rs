//! `phantom-hold`: a replayed reserve (same idempotency key, same items) answers with
//! the key's first reservation — same id, same state, so every reply names one
//! reservation per key — but first holds the same items a second time under a hidden
//! reservation: `available -= qty, reserved += qty`, with the replay's TTL and an entry
//! in the deadline index. No reply names it, so no client confirms or releases it; only
//! the sweeper returns its units, at its deadline. Until then every retry takes units
//! off the shelf: reads show fewer available than the history allows, and buyers are
//! refused while the units it can account for are there.
//!
//! The hidden hold appends its ledger events (one `reserve` per SKU, under its own id
//! and the same key) and its expiry appends `expire` events, like any hold. That is the
//! bug as services ship it: the retry path really books the stock again, through the
//! same write path, so the service's own books balance — Redis = Postgres = ledger
//! replay, Σ Held = reserved (C2 passes) — and after quiesce everything has come back
//! (C6 passes). A hidden hold without ledger events would be another bug (a write that
//! bypasses the outbox), and its expiry would take units the Postgres projection never
//! held, stopping the ledger writer at a CHECK constraint instead of showing this one.
//! Against a black-box target only the reads (C7) and refusals (C8) during the run can
//! see it; in process, the ledger's white-box halves of C3 (two reservations for one
//! key) and C5 (events no op named) see it too.
//!
//! Models the order service whose retry path re-runs the "lock stock" call before (or
//! instead of) looking up the order it already created for the request id — a
//! duplicate-submit that returns the first order but leaves a second stock lock that
//! only the lock's timeout releases. The reference replays without touching stock.

use crate::lua::{ScriptName, ScriptPatch};

pub(super) const PATCHES: &[ScriptPatch] = &[ScriptPatch {
    scripts: &[ScriptName::Reserve],
    find: "    if held[3] == items then\n",
    replace: include_str!("../../../lua/variants/phantom-hold.lua"),
}];
