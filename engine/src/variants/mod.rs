//! Deliberately broken engines (and ledger writers), for proving that stockproof's checks catch the bugs
//! real inventory services ship (issues 8 and 12). Each variant is the reference engine
//! with one documented flaw — a patched Lua script (`lua/variants/`), a reserve path
//! that splits what the reference does atomically, process-local state in front of the
//! scripts (a read cache, a sold-out flag), or a ledger writer that breaks its
//! exactly-once contract — modelled on a design that real services publish (each
//! module's doc says which).
//!
//! One variant breaks a Postgres strategy instead (`pg-no-guard`, of `pg-row-lock`);
//! [`Variant::strategy`] says which strategy each breaks.
//!
//! Never reachable by default: a variant is built only when a caller names it
//! (`stockproof serve --variant NAME`, `stockproof run --variant NAME`, the selftest).
//! Not here: the reference engine itself (`redis_lua`), the checks that catch them.

mod check_then_act;
mod double_release;
mod dual_write;
mod lossy_ledger;
mod no_idempotency;
mod non_idempotent_projection;
mod pg_no_guard;
mod phantom_hold;
mod short_idempotency;
mod sold_out_flag;
mod stale_cart_lines;
mod stale_read;
mod ttl_expiry;
mod wrapper;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::PgPool;

use crate::engine::InventoryEngine;
use crate::error::EngineError;
use crate::ledger::{CrashPoint, WriterFlaw};
use crate::lua::{ScriptPatch, Scripts};
use crate::pg::PgConfig;
use crate::redis_lua::{RedisLuaConfig, RedisLuaEngine};
use crate::strategy::Strategy;

pub use dual_write::{CrashBetweenWrites, DUAL_WRITE_CRASH_EVERY_DEFAULT};
pub use short_idempotency::IDEMPOTENCY_MARKER_TTL_MS;
pub use stale_read::SKU_READ_CACHE_TTL_MS;

/// A deliberately broken engine. [`Variant::ALL`] lists them in a stable order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    CheckThenAct,
    NoIdempotency,
    ShortIdempotency,
    TtlExpiry,
    DoubleRelease,
    StaleCartLines,
    DualWrite,
    LossyLedger,
    NonIdempotentProjection,
    StaleRead,
    SoldOutFlag,
    PhantomHold,
    PgNoGuard,
}

impl Variant {
    pub const ALL: [Variant; 13] = [
        Variant::CheckThenAct,
        Variant::NoIdempotency,
        Variant::ShortIdempotency,
        Variant::TtlExpiry,
        Variant::DoubleRelease,
        Variant::StaleCartLines,
        Variant::DualWrite,
        Variant::LossyLedger,
        Variant::NonIdempotentProjection,
        Variant::StaleRead,
        Variant::SoldOutFlag,
        Variant::PhantomHold,
        Variant::PgNoGuard,
    ];

    /// The name users pass to `--variant`.
    pub const fn name(self) -> &'static str {
        match self {
            Variant::CheckThenAct => "check-then-act",
            Variant::NoIdempotency => "no-idempotency",
            Variant::ShortIdempotency => "short-idempotency",
            Variant::TtlExpiry => "ttl-expiry",
            Variant::DoubleRelease => "double-release",
            Variant::StaleCartLines => "stale-cart-lines",
            Variant::DualWrite => "dual-write",
            Variant::LossyLedger => "lossy-ledger",
            Variant::NonIdempotentProjection => "non-idempotent-projection",
            Variant::StaleRead => "stale-read",
            Variant::SoldOutFlag => "sold-out-flag",
            Variant::PhantomHold => "phantom-hold",
            Variant::PgNoGuard => "pg-no-guard",
        }
    }

    /// One line: what is broken and what it does to stock.
    pub const fn description(self) -> &'static str {
        match self {
            Variant::CheckThenAct => {
                "reads available, then decrements in a separate call: oversells under concurrency"
            }
            Variant::NoIdempotency => {
                "ignores the idempotency key: every retry of a reserve holds the units again"
            }
            Variant::ShortIdempotency => {
                "the idempotency marker expires after 1 s, shorter than clients retry: a late retry reserves twice"
            }
            Variant::TtlExpiry => {
                "a reservation is a key with a Redis TTL: when it vanishes its units are never returned (stock leaks)"
            }
            Variant::DoubleRelease => {
                "confirm leaves the deadline in place and the sweeper trusts it: a confirmed reservation also expires"
            }
            Variant::StaleCartLines => {
                "a cart naming one SKU on two lines checks each line against the same stale count: oversells"
            }
            Variant::DualWrite => {
                "Redis is changed, then Postgres in a separate step with no outbox: a crash between them leaves them apart"
            }
            Variant::LossyLedger => {
                "the ledger writer acks a batch before it commits: a writer crash in between loses the events"
            }
            Variant::NonIdempotentProjection => {
                "the ledger writer applies redelivered rows again: a crash between commit and ack double-applies"
            }
            Variant::StaleRead => {
                "SKU reads come from a cache refreshed every 500 ms: a read can show stock that is already held, or not yet restocked"
            }
            Variant::SoldOutFlag => {
                "a SKU seen at 0 is flagged sold out until its next restock: reserves are refused though releases and expiries brought units back"
            }
            Variant::PhantomHold => {
                "a replayed reserve answers with the first reservation but holds the items again, hidden, until expiry returns them"
            }
            Variant::PgNoGuard => {
                "pg-row-lock without its `available >= q` guard: reads available, then updates unguarded; oversells under concurrency"
            }
        }
    }

    /// Every variant's name, in [`Variant::ALL`] order.
    pub fn names() -> Vec<&'static str> {
        Variant::ALL.iter().map(|variant| variant.name()).collect()
    }

    /// Connects the variant's engine with the reference engine's settings. `database`
    /// (migrated) is needed by `dual-write` only, which writes Postgres itself and then
    /// crashes between its writes every [`DUAL_WRITE_CRASH_EVERY_DEFAULT`]-th time.
    pub async fn connect(
        self,
        redis_url: &str,
        config: RedisLuaConfig,
        database: Option<&PgPool>,
    ) -> Result<Arc<dyn InventoryEngine>, EngineError> {
        let crash = Arc::new(CrashBetweenWrites::every(DUAL_WRITE_CRASH_EVERY_DEFAULT));
        self.connect_with_crash(redis_url, config, database, crash)
            .await
    }

    /// [`Variant::connect`], with `dual-write`'s crashes between its writes decided by
    /// `crash` (ignored by the other variants).
    pub async fn connect_with_crash(
        self,
        redis_url: &str,
        config: RedisLuaConfig,
        database: Option<&PgPool>,
        crash: Arc<CrashBetweenWrites>,
    ) -> Result<Arc<dyn InventoryEngine>, EngineError> {
        if self.strategy() != Strategy::RedisLua {
            return Err(EngineError::invalid(
                "variant",
                format!(
                    "`{self}` breaks strategy {}: connect it with `connect_postgres`",
                    self.strategy()
                ),
            ));
        }
        if self == Variant::DualWrite && database.is_none() {
            return Err(EngineError::invalid(
                "variant",
                "`dual-write` writes Postgres itself and needs a database",
            ));
        }
        let scripts = Scripts::patched(config.retention_ms, self.patches());
        let engine = RedisLuaEngine::connect_with_scripts(redis_url, config, scripts).await?;
        Ok(match self {
            Variant::CheckThenAct => Arc::new(check_then_act::CheckThenActEngine { inner: engine }),
            Variant::StaleCartLines => {
                Arc::new(stale_cart_lines::StaleCartLinesEngine { inner: engine })
            }
            Variant::DualWrite => Arc::new(dual_write::DualWriteEngine::new(
                engine,
                database.cloned().expect("checked above"),
                crash,
            )),
            Variant::StaleRead => Arc::new(stale_read::StaleReadEngine::new(engine)),
            Variant::SoldOutFlag => Arc::new(sold_out_flag::SoldOutFlagEngine::new(engine)),
            Variant::NoIdempotency
            | Variant::ShortIdempotency
            | Variant::TtlExpiry
            | Variant::DoubleRelease
            | Variant::LossyLedger
            | Variant::NonIdempotentProjection
            | Variant::PhantomHold
            | Variant::PgNoGuard => Arc::new(engine),
        })
    }

    /// Connects a variant of a Postgres strategy ([`Variant::strategy`] is not
    /// `redis-lua`) to a migrated database.
    pub async fn connect_postgres(
        self,
        database_url: &str,
        config: PgConfig,
    ) -> Result<Arc<dyn InventoryEngine>, EngineError> {
        match self {
            Variant::PgNoGuard => pg_no_guard::connect(database_url, config).await,
            redis_variant => Err(EngineError::invalid(
                "variant",
                format!("`{redis_variant}` breaks strategy redis-lua: connect it with `connect`"),
            )),
        }
    }

    /// The strategy this variant breaks.
    pub const fn strategy(self) -> Strategy {
        match self {
            Variant::PgNoGuard => Strategy::PgRowLock,
            _ => Strategy::RedisLua,
        }
    }

    /// Whether the variant's flaw is in the way Postgres is written (the ledger
    /// writer, or the engine writing Postgres itself), so it shows only where the
    /// ledger tables exist and a writer runs.
    pub const fn needs_ledger(self) -> bool {
        matches!(
            self,
            Variant::DualWrite | Variant::LossyLedger | Variant::NonIdempotentProjection
        )
    }

    /// How the ledger writer that serves this variant is broken (`WriterFlaw::None`
    /// for the variants whose flaw is in the engine).
    pub const fn writer_flaw(self) -> WriterFlaw {
        match self {
            Variant::LossyLedger => lossy_ledger::FLAW,
            Variant::NonIdempotentProjection => non_idempotent_projection::FLAW,
            Variant::DualWrite => dual_write::WRITER_FLAW,
            Variant::CheckThenAct
            | Variant::NoIdempotency
            | Variant::ShortIdempotency
            | Variant::TtlExpiry
            | Variant::DoubleRelease
            | Variant::StaleCartLines
            | Variant::StaleRead
            | Variant::SoldOutFlag
            | Variant::PhantomHold
            | Variant::PgNoGuard => WriterFlaw::None,
        }
    }

    /// Where the ledger writer serving this variant must crash for its flaw to show:
    /// `lossy-ledger` before its commit (it has acked already), `non-idempotent-projection`
    /// after its commit and before its XACK (the batch is redelivered). `None` for the
    /// rest, including `dual-write`, whose crash falls between its own two writes.
    pub const fn writer_crash(self) -> Option<CrashPoint> {
        match self {
            Variant::LossyLedger => Some(CrashPoint::BeforeCommit),
            Variant::NonIdempotentProjection => Some(CrashPoint::AfterCommit),
            Variant::CheckThenAct
            | Variant::NoIdempotency
            | Variant::ShortIdempotency
            | Variant::TtlExpiry
            | Variant::DoubleRelease
            | Variant::StaleCartLines
            | Variant::DualWrite
            | Variant::StaleRead
            | Variant::SoldOutFlag
            | Variant::PhantomHold
            | Variant::PgNoGuard => None,
        }
    }

    /// The changes this variant makes to the reference scripts.
    fn patches(self) -> &'static [ScriptPatch] {
        match self {
            Variant::CheckThenAct => check_then_act::PATCHES,
            Variant::NoIdempotency => no_idempotency::PATCHES,
            Variant::ShortIdempotency => short_idempotency::PATCHES,
            Variant::TtlExpiry => ttl_expiry::PATCHES,
            Variant::DoubleRelease => double_release::PATCHES,
            Variant::StaleCartLines => stale_cart_lines::PATCHES,
            Variant::PhantomHold => phantom_hold::PATCHES,
            // Their flaw is in the Rust side: a cache or a flag in front of the scripts.
            Variant::StaleRead | Variant::SoldOutFlag => &[],
            Variant::DualWrite | Variant::LossyLedger | Variant::NonIdempotentProjection => &[],
            // A Postgres strategy's variant runs no script.
            Variant::PgNoGuard => &[],
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A `--variant` name that names no variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown variant `{name}` (known: {known})", known = Variant::names().join(", "))]
pub struct UnknownVariant {
    pub name: String,
}

impl FromStr for Variant {
    type Err = UnknownVariant;

    fn from_str(name: &str) -> Result<Variant, UnknownVariant> {
        Variant::ALL
            .into_iter()
            .find(|variant| variant.name() == name)
            .ok_or_else(|| UnknownVariant {
                name: name.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests;
