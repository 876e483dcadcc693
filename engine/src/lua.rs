//! The Lua scripts of `lua/`, assembled and called by SHA. Each script is built once
//! from three parts: the bound constants (from [`crate::limits`] and the engine's
//! retention, so the scripts check the same bounds as the Rust side), `common.lua`, and
//! the operation's own file. Scripts are loaded once at connect (`SCRIPT LOAD`) and
//! called with `EVALSHA`; a `NOSCRIPT` reply (after `SCRIPT FLUSH` or a Redis restart)
//! reloads the script and sends the same call again, which is safe because a
//! `NOSCRIPT` call never ran.
//!
//! Not here: connections and reply parsing (see `redis_lua`).

use std::fmt::Write as _;

use redis::aio::MultiplexedConnection;
use redis::{Cmd, ErrorKind, RedisError, ServerErrorKind, Value};

use crate::limits::{
    CART_LINES_MAX, EXPIRE_BATCH_MAX, IDEMPOTENCY_KEY_BYTES_MAX, LINE_QTY_MAX, RESTOCK_QTY_MAX,
    SKU_ID_BYTES_MAX, SKU_TOTAL_MAX, TTL_MS_MAX, TTL_MS_MIN,
};

/// Reservation ids are `r<seq>`: `r` and at most 20 decimal digits of a u64.
pub const RESERVATION_ID_BYTES_MAX: usize = 21;
/// Reloads per call after `NOSCRIPT`: one suffices unless the script cache is flushed
/// again between the reload and the retry, which a second reload covers.
const NOSCRIPT_RELOADS_MAX: usize = 2;

const COMMON: &str = include_str!("../../lua/common.lua");
const RESERVE: &str = include_str!("../../lua/reserve.lua");
const TRANSITION: &str = include_str!("../../lua/transition.lua");
const EXPIRE: &str = include_str!("../../lua/expire.lua");
const RESTOCK: &str = include_str!("../../lua/restock.lua");
const ADJUST: &str = include_str!("../../lua/adjust.lua");
const SNAPSHOT: &str = include_str!("../../lua/snapshot.lua");

/// The operations, one script each (confirm and release share `transition.lua`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptName {
    Restock,
    Adjust,
    Reserve,
    Confirm,
    Release,
    Expire,
    Snapshot,
}

impl ScriptName {
    pub const ALL: [ScriptName; 7] = [
        ScriptName::Restock,
        ScriptName::Adjust,
        ScriptName::Reserve,
        ScriptName::Confirm,
        ScriptName::Release,
        ScriptName::Expire,
        ScriptName::Snapshot,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ScriptName::Restock => "restock",
            ScriptName::Adjust => "adjust",
            ScriptName::Reserve => "reserve",
            ScriptName::Confirm => "confirm",
            ScriptName::Release => "release",
            ScriptName::Expire => "expire",
            ScriptName::Snapshot => "snapshot",
        }
    }

    fn body(self) -> &'static str {
        match self {
            ScriptName::Restock => RESTOCK,
            ScriptName::Adjust => ADJUST,
            ScriptName::Reserve => RESERVE,
            ScriptName::Confirm | ScriptName::Release => TRANSITION,
            ScriptName::Expire => EXPIRE,
            ScriptName::Snapshot => SNAPSHOT,
        }
    }
}

/// The full source of one script as the engine loads it, for an engine whose terminal
/// reservations and idempotency keys are kept `retention_ms`. Public so that benchmarks
/// can call the very same script through a bare client.
pub fn script_source(name: ScriptName, retention_ms: i64) -> String {
    let mut source = String::with_capacity(8_192);
    let constants: [(&str, i64); 10] = [
        ("LINE_QTY_MAX", LINE_QTY_MAX),
        ("CART_LINES_MAX", CART_LINES_MAX as i64),
        ("RESTOCK_QTY_MAX", RESTOCK_QTY_MAX),
        ("SKU_TOTAL_MAX", SKU_TOTAL_MAX),
        ("TTL_MS_MIN", TTL_MS_MIN),
        ("TTL_MS_MAX", TTL_MS_MAX),
        ("SKU_ID_BYTES_MAX", SKU_ID_BYTES_MAX as i64),
        (
            "IDEMPOTENCY_KEY_BYTES_MAX",
            IDEMPOTENCY_KEY_BYTES_MAX as i64,
        ),
        ("EXPIRE_BATCH_MAX", EXPIRE_BATCH_MAX as i64),
        ("RESERVATION_ID_BYTES_MAX", RESERVATION_ID_BYTES_MAX as i64),
    ];
    for (constant, value) in constants {
        writeln!(source, "local {constant} = {value}").expect("writing to a String");
    }
    writeln!(source, "local RETENTION_MS = {retention_ms}").expect("writing to a String");
    // The same bound as text, for redis.call (common.lua says why scripts pass text).
    writeln!(source, "local RETENTION_MS_TEXT = '{retention_ms}'").expect("writing to a String");
    match name {
        ScriptName::Confirm => {
            source.push_str("local TARGET_STATE = 'confirmed'\nlocal EVENT_KIND = 'confirm'\n")
        }
        ScriptName::Release => {
            source.push_str("local TARGET_STATE = 'released'\nlocal EVENT_KIND = 'release'\n")
        }
        _ => {}
    }
    source.push_str(COMMON);
    source.push_str(name.body());
    source
}

/// A textual change to the assembled scripts, for the deliberately broken variants
/// (`crate::variants`): `find` is replaced by `replace` in every script of `scripts`.
/// The reference engine applies none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptPatch {
    pub scripts: &'static [ScriptName],
    pub find: &'static str,
    pub replace: &'static str,
}

impl ScriptPatch {
    /// `source` with the patch applied. `find` must occur exactly once: a patch that
    /// no longer matches the reference script is a programmer error, caught by the
    /// variants' unit tests.
    pub fn apply(&self, name: ScriptName, source: String) -> String {
        if !self.scripts.contains(&name) {
            return source;
        }
        let occurrences = source.matches(self.find).count();
        assert_eq!(
            occurrences,
            1,
            "patch `{}` must match script {} exactly once",
            self.find.escape_debug(),
            name.as_str()
        );
        source.replacen(self.find, self.replace, 1)
    }
}

/// One assembled script and its SHA1.
#[derive(Debug, Clone)]
pub struct Script {
    name: ScriptName,
    source: String,
    sha: String,
}

impl Script {
    pub fn new(name: ScriptName, retention_ms: i64) -> Script {
        Script::from_source(name, script_source(name, retention_ms))
    }

    fn from_source(name: ScriptName, source: String) -> Script {
        let sha = redis::Script::new(&source).get_hash().to_owned();
        Script { name, source, sha }
    }

    pub fn name(&self) -> ScriptName {
        self.name
    }

    pub fn sha(&self) -> &str {
        &self.sha
    }

    /// `EVALSHA <sha> 1 <seq key> <prefix>`: the start of every call; the caller adds
    /// the operation's own arguments.
    pub fn call(&self, seq_key: &str, prefix: &str) -> Cmd {
        let mut command = redis::cmd("EVALSHA");
        command.arg(&self.sha).arg(1).arg(seq_key).arg(prefix);
        command
    }

    /// `SCRIPT LOAD`, checking that Redis computed the same SHA.
    pub async fn load(&self, connection: &mut MultiplexedConnection) -> Result<(), RedisError> {
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(&self.source)
            .query_async(connection)
            .await?;
        if sha != self.sha {
            return Err(RedisError::from((
                ErrorKind::Client,
                "SCRIPT LOAD returned another SHA",
                format!("{}: expected {}, got {sha}", self.name.as_str(), self.sha),
            )));
        }
        Ok(())
    }

    /// Sends `command` (built by [`Script::call`]); on `NOSCRIPT` loads the script and
    /// sends it again.
    pub async fn invoke(
        &self,
        connection: &mut MultiplexedConnection,
        command: &Cmd,
    ) -> Result<Value, RedisError> {
        let mut reloads = 0;
        loop {
            match command.query_async::<Value>(connection).await {
                Err(error)
                    if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
                        && reloads < NOSCRIPT_RELOADS_MAX =>
                {
                    reloads += 1;
                    tracing::debug!(script = self.name.as_str(), "NOSCRIPT: loading again");
                    self.load(connection).await?;
                }
                outcome => return outcome,
            }
        }
    }
}

/// Every script of one engine, indexed by [`ScriptName`].
#[derive(Debug, Clone)]
pub struct Scripts {
    scripts: Vec<Script>,
}

impl Scripts {
    pub fn new(retention_ms: i64) -> Scripts {
        Scripts {
            scripts: ScriptName::ALL
                .into_iter()
                .map(|name| Script::new(name, retention_ms))
                .collect(),
        }
    }

    /// The scripts with `patches` applied in order (a deliberately broken variant).
    pub fn patched(retention_ms: i64, patches: &[ScriptPatch]) -> Scripts {
        let build = |name: ScriptName| {
            let source = patches
                .iter()
                .fold(script_source(name, retention_ms), |source, patch| {
                    patch.apply(name, source)
                });
            Script::from_source(name, source)
        };
        Scripts {
            scripts: ScriptName::ALL.into_iter().map(build).collect(),
        }
    }

    pub fn get(&self, name: ScriptName) -> &Script {
        let script = &self.scripts[name as usize];
        debug_assert_eq!(script.name, name);
        script
    }

    /// Loads every script (at connect; later loads happen on `NOSCRIPT`).
    pub async fn load_all(&self, connection: &mut MultiplexedConnection) -> Result<(), RedisError> {
        for script in &self.scripts {
            script.load(connection).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
