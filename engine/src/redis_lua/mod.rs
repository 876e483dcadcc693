//! [`RedisLuaEngine`], the reference [`InventoryEngine`]: every change is one atomic Lua
//! script (`lua/`) that checks, changes the stock and appends its ledger events in one
//! step; time is the Redis server's clock. One multiplexed connection carries every
//! call, so concurrent callers pipeline; scripts are called by SHA.
//!
//! Not here: the Postgres ledger writer, recovery and the sweeper task (which calls
//! [`InventoryEngine::expire_due`] on this engine).

mod connection;
mod reply;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use redis::{Cmd, FromRedisValue, Value};
use tracing::Instrument;

use self::connection::SharedConnection;
use self::reply::{Reply, breaks_connection, call_error};
use crate::engine::InventoryEngine;
use crate::error::EngineError;
use crate::keys::ShopKeys;
use crate::limits::{EXPIRE_BATCH_MAX, RESTOCK_QTY_MAX, RETENTION_MS_DEFAULT};
use crate::lua::{ScriptName, Scripts};
use crate::outcome::{AdjustOutcome, ExpireReport, ReserveOutcome, Transition, TransitionOutcome};
use crate::reservation::validate_sku_id;
use crate::reservation::{CartLine, Reservation, ReservationId, ReservationState, ReserveRequest};
use stockproof_model::SkuStock;

/// How long a call waits for Redis' reply before its outcome is unknown. A script runs
/// in well under a millisecond; seconds cover an fsync-always AOF on a slow disk and a
/// busy server, and a caller rather waits than retries blind.
pub const RESPONSE_TIMEOUT_MS_DEFAULT: u64 = 5_000;
/// How long a (re)connect may take before Redis counts as unavailable.
pub const CONNECT_TIMEOUT_MS_DEFAULT: u64 = 2_000;
/// Retention bounds: any positive time (tests use a few hundred ms; production keeps
/// the default, "longer than your clients retry"), at most 30 days (memory stays bounded).
pub const RETENTION_MS_MIN: i64 = 1;
pub const RETENTION_MS_MAX: i64 = 30 * 86_400_000;
/// Shop names become the keys' hash tag: short, and no braces.
pub const SHOP_BYTES_MAX: usize = 64;

/// How to run a [`RedisLuaEngine`]; every field is explicit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisLuaConfig {
    /// The shop whose keys this engine owns (`sp:{shop}:…`).
    pub shop: String,
    /// How long terminal reservations and idempotency keys are kept: longer than your
    /// clients retry.
    pub retention_ms: i64,
    pub response_timeout_ms: u64,
    pub connect_timeout_ms: u64,
}

impl RedisLuaConfig {
    /// The defaults for `shop`: retention 24 h, response timeout 5 s, connect 2 s.
    pub fn new(shop: &str) -> RedisLuaConfig {
        RedisLuaConfig {
            shop: shop.to_owned(),
            retention_ms: RETENTION_MS_DEFAULT,
            response_timeout_ms: RESPONSE_TIMEOUT_MS_DEFAULT,
            connect_timeout_ms: CONNECT_TIMEOUT_MS_DEFAULT,
        }
    }

    fn validate(&self) -> Result<(), EngineError> {
        let shop_allowed =
            |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-');
        if self.shop.is_empty()
            || self.shop.len() > SHOP_BYTES_MAX
            || !self.shop.bytes().all(shop_allowed)
        {
            return Err(EngineError::invalid(
                "shop",
                format!(
                    "`{}` is not a shop name (1 to {SHOP_BYTES_MAX} characters of A-Z a-z 0-9 . _ -)",
                    self.shop.escape_debug()
                ),
            ));
        }
        if !(RETENTION_MS_MIN..=RETENTION_MS_MAX).contains(&self.retention_ms) {
            return Err(EngineError::invalid(
                "retention_ms",
                format!(
                    "must be between {RETENTION_MS_MIN} and {RETENTION_MS_MAX}, got {}",
                    self.retention_ms
                ),
            ));
        }
        if self.response_timeout_ms == 0 || self.connect_timeout_ms == 0 {
            return Err(EngineError::invalid(
                "timeout_ms",
                "response and connect timeouts must be above 0",
            ));
        }
        Ok(())
    }
}

/// The reference engine: Redis + Lua, one shop.
#[derive(Debug)]
pub struct RedisLuaEngine {
    connection: SharedConnection,
    scripts: Scripts,
    keys: ShopKeys,
    /// `sp:{shop}:seq`, KEYS[1] of every script; built once.
    seq_key: String,
    response_timeout_ms: u64,
}

impl RedisLuaEngine {
    /// Connects, refuses a Redis whose eviction policy could drop the engine's keys,
    /// and loads every script.
    pub async fn connect(
        redis_url: &str,
        config: RedisLuaConfig,
    ) -> Result<RedisLuaEngine, EngineError> {
        let scripts = Scripts::new(config.retention_ms);
        RedisLuaEngine::connect_with_scripts(redis_url, config, scripts).await
    }

    /// [`RedisLuaEngine::connect`] with other scripts: the deliberately broken
    /// variants (`crate::variants`) run patched copies of the reference scripts.
    pub(crate) async fn connect_with_scripts(
        redis_url: &str,
        config: RedisLuaConfig,
        scripts: Scripts,
    ) -> Result<RedisLuaEngine, EngineError> {
        config.validate()?;
        let connection = SharedConnection::connect(
            redis_url,
            Duration::from_millis(config.response_timeout_ms),
            Duration::from_millis(config.connect_timeout_ms),
        )
        .await?;
        let mut live = connection.handle().await?;
        scripts
            .load_all(&mut live.connection)
            .await
            .map_err(|error| call_error("script load", config.response_timeout_ms, &error))?;
        let keys = ShopKeys::new(&config.shop);
        Ok(RedisLuaEngine {
            connection,
            scripts,
            seq_key: keys.seq(),
            keys,
            response_timeout_ms: config.response_timeout_ms,
        })
    }

    /// The key layout of this engine's shop.
    pub fn keys(&self) -> &ShopKeys {
        &self.keys
    }

    /// `EVALSHA` of `name` with the shop's key and prefix; the caller adds arguments.
    pub(crate) fn script_call(&self, name: ScriptName) -> Cmd {
        self.scripts
            .get(name)
            .call(&self.seq_key, self.keys.prefix())
    }

    pub(crate) async fn run_script(
        &self,
        name: ScriptName,
        command: &Cmd,
    ) -> Result<Value, EngineError> {
        let mut live = self.connection.handle().await?;
        match self
            .scripts
            .get(name)
            .invoke(&mut live.connection, command)
            .await
        {
            Ok(value) => Ok(value),
            Err(error) => {
                if breaks_connection(&error) {
                    live.mark_broken();
                }
                Err(call_error(name.as_str(), self.response_timeout_ms, &error))
            }
        }
    }

    /// Calls the reserve script with `sent` as the cart's lines (the reference sends
    /// the merged `items`; the `stale-cart-lines` variant sends the lines as given)
    /// and reads its reply; `items` is the canonical cart the outcome names.
    pub(crate) async fn reserve_lines(
        &self,
        request: &ReserveRequest,
        items: &[CartLine],
        sent: &[CartLine],
    ) -> Result<ReserveOutcome, EngineError> {
        let mut command = self.script_call(ScriptName::Reserve);
        command
            .arg(&request.idempotency_key)
            .arg(request.ttl_ms)
            .arg(sent.len());
        for line in sent {
            command.arg(&line.sku).arg(line.qty);
        }
        let span =
            tracing::debug_span!("reserve", key = %request.idempotency_key, lines = items.len());
        let value = self
            .run_script(ScriptName::Reserve, &command)
            .instrument(span)
            .await?;
        let reply = Reply::new("reserve", &value)?;
        let reservation = |state: ReservationState, deadline_ms: i64| -> Result<_, EngineError> {
            Ok(Reservation {
                id: ReservationId(reply.text(1)?.to_owned()),
                idempotency_key: request.idempotency_key.clone(),
                state,
                items: items.to_vec(),
                deadline_ms,
            })
        };
        match reply.code()? {
            "reserved" => Ok(ReserveOutcome::Reserved(reservation(
                ReservationState::Held,
                reply.int(2)?,
            )?)),
            "replayed" => Ok(ReserveOutcome::Replayed(reservation(
                reply.state(2)?,
                reply.int(3)?,
            )?)),
            "key_reused" => Ok(ReserveOutcome::KeyReused {
                existing: ReservationId(reply.text(1)?.to_owned()),
            }),
            "insufficient" => Ok(ReserveOutcome::Insufficient {
                sku: reply.text(1)?.to_owned(),
                requested: reply.int(2)?,
                available: reply.int(3)?,
            }),
            "unknown_sku" => Ok(ReserveOutcome::UnknownSku {
                sku: reply.text(1)?.to_owned(),
            }),
            "invalid" => Err(reply.invalid()),
            _ => Err(reply.unexpected()),
        }
    }

    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        operation: &'static str,
        command: &Cmd,
    ) -> Result<T, EngineError> {
        let mut live = self.connection.handle().await?;
        match command.query_async::<Value>(&mut live.connection).await {
            Ok(value) => T::from_redis_value(value).map_err(|error| EngineError::Protocol {
                store: "redis",
                reason: format!("{operation}: {error}"),
            }),
            Err(error) => {
                if breaks_connection(&error) {
                    live.mark_broken();
                }
                Err(call_error(operation, self.response_timeout_ms, &error))
            }
        }
    }
}

fn stock_from(reply: &Reply<'_>, first: usize) -> Result<SkuStock, EngineError> {
    Ok(SkuStock {
        available: reply.int(first)?,
        reserved: reply.int(first + 1)?,
        sold: reply.int(first + 2)?,
        total: reply.int(first + 3)?,
    })
}

fn check_stock_qty(field: &'static str, qty: i64, min: i64) -> Result<(), EngineError> {
    if (min..=RESTOCK_QTY_MAX).contains(&qty) {
        return Ok(());
    }
    Err(EngineError::invalid(
        field,
        format!("must be between {min} and {RESTOCK_QTY_MAX}, got {qty}"),
    ))
}

fn reservation_from(reply: &Reply<'_>, id: &ReservationId) -> Result<Reservation, EngineError> {
    Ok(Reservation {
        id: id.clone(),
        state: reply.state(1)?,
        deadline_ms: reply.int(2)?,
        items: reply.items(3)?,
        idempotency_key: reply.text(4)?.to_owned(),
    })
}

#[async_trait]
impl InventoryEngine for RedisLuaEngine {
    async fn restock(&self, sku: &str, qty: i64) -> Result<SkuStock, EngineError> {
        validate_sku_id(sku)?;
        check_stock_qty("qty", qty, 1)?;
        let mut command = self.script_call(ScriptName::Restock);
        command.arg(sku).arg(qty);
        let span = tracing::debug_span!("restock", sku, qty);
        let value = self
            .run_script(ScriptName::Restock, &command)
            .instrument(span)
            .await?;
        let reply = Reply::new("restock", &value)?;
        match reply.code()? {
            "stock" => stock_from(&reply, 1),
            "invalid" => Err(reply.invalid()),
            _ => Err(reply.unexpected()),
        }
    }

    async fn adjust(&self, sku: &str, delta: i64) -> Result<AdjustOutcome, EngineError> {
        validate_sku_id(sku)?;
        check_stock_qty("delta", delta.abs(), 1)?;
        let mut command = self.script_call(ScriptName::Adjust);
        command.arg(sku).arg(delta);
        let span = tracing::debug_span!("adjust", sku, delta);
        let value = self
            .run_script(ScriptName::Adjust, &command)
            .instrument(span)
            .await?;
        let reply = Reply::new("adjust", &value)?;
        match reply.code()? {
            "stock" => Ok(AdjustOutcome::Adjusted(stock_from(&reply, 1)?)),
            "refused" => Ok(AdjustOutcome::Refused {
                available: reply.int(1)?,
            }),
            "unknown_sku" => Ok(AdjustOutcome::UnknownSku),
            "invalid" => Err(reply.invalid()),
            _ => Err(reply.unexpected()),
        }
    }

    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome, EngineError> {
        let items = request.validate()?;
        self.reserve_lines(request, &items, &items).await
    }

    async fn transition(
        &self,
        id: &ReservationId,
        transition: Transition,
    ) -> Result<TransitionOutcome, EngineError> {
        let name = match transition {
            Transition::Confirm => ScriptName::Confirm,
            Transition::Release => ScriptName::Release,
        };
        let mut command = self.script_call(name);
        command.arg(&id.0);
        let span = tracing::debug_span!("transition", id = %id, ?transition);
        let value = self.run_script(name, &command).instrument(span).await?;
        let reply = Reply::new(name.as_str(), &value)?;
        match reply.code()? {
            "applied" => Ok(TransitionOutcome::Applied(reservation_from(&reply, id)?)),
            "already" => Ok(TransitionOutcome::AlreadyApplied(reservation_from(
                &reply, id,
            )?)),
            "not_held" => Ok(TransitionOutcome::NotHeld {
                state: reply.state(1)?,
            }),
            "unknown" => Ok(TransitionOutcome::UnknownReservation),
            _ => Err(reply.unexpected()),
        }
    }

    async fn expire_due(&self, limit: usize) -> Result<ExpireReport, EngineError> {
        if !(1..=EXPIRE_BATCH_MAX).contains(&limit) {
            return Err(EngineError::invalid(
                "limit",
                format!("must be between 1 and {EXPIRE_BATCH_MAX}, got {limit}"),
            ));
        }
        let mut command = self.script_call(ScriptName::Expire);
        command.arg(limit);
        let span = tracing::debug_span!("expire_due", limit);
        let value = self
            .run_script(ScriptName::Expire, &command)
            .instrument(span)
            .await?;
        let reply = Reply::new("expire", &value)?;
        match reply.code()? {
            "expired" => {
                let still_due = u64::try_from(reply.int(1)?).map_err(|_| reply.unexpected())?;
                let expired = (2..reply.len())
                    .map(|index| Ok(ReservationId(reply.text(index)?.to_owned())))
                    .collect::<Result<Vec<_>, EngineError>>()?;
                Ok(ExpireReport { expired, still_due })
            }
            "invalid" => Err(reply.invalid()),
            _ => Err(reply.unexpected()),
        }
    }

    async fn sku(&self, sku: &str) -> Result<Option<SkuStock>, EngineError> {
        validate_sku_id(sku)?;
        let mut command = redis::cmd("HMGET");
        command
            .arg(self.keys.sku(sku))
            .arg(&["available", "reserved", "sold", "total"]);
        let fields: Vec<Option<i64>> = self.query("sku", &command).await?;
        match fields.as_slice() {
            [None, None, None, None] => Ok(None),
            [Some(available), Some(reserved), Some(sold), Some(total)] => Ok(Some(SkuStock {
                available: *available,
                reserved: *reserved,
                sold: *sold,
                total: *total,
            })),
            other => Err(EngineError::Protocol {
                store: "redis",
                reason: format!("sku `{sku}` has a partial hash {other:?}"),
            }),
        }
    }

    async fn reservation(&self, id: &ReservationId) -> Result<Option<Reservation>, EngineError> {
        // `state` twice: field 0 stands where a script's status code would, so the
        // fields line up with a transition reply (state, deadline, items, key).
        let mut command = redis::cmd("HMGET");
        command
            .arg(self.keys.reservation(&id.0))
            .arg(&["state", "state", "deadline", "items", "key"]);
        let value: Value = self.query("reservation", &command).await?;
        let reply = Reply::new("reservation", &value)?;
        if matches!(&value, Value::Array(fields) if fields.iter().all(|field| *field == Value::Nil))
        {
            return Ok(None);
        }
        reservation_from(&reply, id).map(Some)
    }

    async fn snapshot(&self) -> Result<BTreeMap<String, SkuStock>, EngineError> {
        let command = self.script_call(ScriptName::Snapshot);
        let value = self
            .run_script(ScriptName::Snapshot, &command)
            .instrument(tracing::debug_span!("snapshot"))
            .await?;
        let reply = Reply::new_list("snapshot", &value)?;
        let mut stocks = BTreeMap::new();
        for first in (0..reply.len()).step_by(5) {
            stocks.insert(
                reply.text(first)?.to_owned(),
                stock_from(&reply, first + 1)?,
            );
        }
        Ok(stocks)
    }

    async fn ping(&self) -> Result<(), EngineError> {
        let _: String = self.query("ping", &redis::cmd("PING")).await?;
        Ok(())
    }
}
