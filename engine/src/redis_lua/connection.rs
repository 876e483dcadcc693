//! One multiplexed Redis connection shared by every call, replaced when it breaks.
//! Concurrent calls pipeline over it: each call clones the handle (a few reference
//! counts, no lock held across an await) and sends. The connection speaks RESP3 so that
//! redis-rs tells us, through a push message, when the socket closes; the next call
//! then reconnects *before* sending, so a Redis restart between calls fails no call.
//! A call in flight when the socket dies gets no reply: its outcome is unknown, and the
//! caller is told so.
//!
//! Not here: scripts (see `lua`) and what replies mean (see `reply`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind};

use crate::error::EngineError;

const STORE: &str = "redis";

/// A connection handle and the flag its push channel raises when the socket closes.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub(crate) connection: MultiplexedConnection,
    broken: Arc<AtomicBool>,
}

impl Live {
    /// Marks the connection for replacement before the next call.
    pub(crate) fn mark_broken(&self) {
        self.broken.store(true, Ordering::Release);
    }

    fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }
}

/// The shared connection and how to make a new one.
#[derive(Debug)]
pub(crate) struct SharedConnection {
    client: redis::Client,
    response_timeout: Duration,
    connect_timeout: Duration,
    current: RwLock<Live>,
    /// Held only while reconnecting, so that concurrent callers that all find the
    /// connection broken open one new connection, not one each.
    reconnecting: tokio::sync::Mutex<()>,
}

impl SharedConnection {
    pub(crate) async fn connect(
        redis_url: &str,
        response_timeout: Duration,
        connect_timeout: Duration,
    ) -> Result<SharedConnection, EngineError> {
        let info = redis_url
            .into_connection_info()
            .map_err(|error| EngineError::invalid("redis_url", error.to_string()))?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(settings))
            .map_err(|error| EngineError::invalid("redis_url", error.to_string()))?;
        let live = open(&client, response_timeout, connect_timeout).await?;
        Ok(SharedConnection {
            client,
            response_timeout,
            connect_timeout,
            current: RwLock::new(live),
            reconnecting: tokio::sync::Mutex::new(()),
        })
    }

    /// A handle to send one call on; reconnects first if the socket closed.
    pub(crate) async fn handle(&self) -> Result<Live, EngineError> {
        let live = self.current.read().expect("connection lock").clone();
        if !live.is_broken() {
            return Ok(live);
        }
        self.reconnect().await
    }

    async fn reconnect(&self) -> Result<Live, EngineError> {
        let _reconnecting = self.reconnecting.lock().await;
        let live = self.current.read().expect("connection lock").clone();
        if !live.is_broken() {
            return Ok(live); // another caller reconnected while we waited
        }
        tracing::info!("redis connection closed; reconnecting");
        let fresh = open(&self.client, self.response_timeout, self.connect_timeout).await?;
        *self.current.write().expect("connection lock") = fresh.clone();
        Ok(fresh)
    }
}

/// Opens a connection with both timeouts set explicitly (redis-rs would otherwise time
/// out responses after 500 ms, and a slow script reply is not a failure).
async fn open(
    client: &redis::Client,
    response_timeout: Duration,
    connect_timeout: Duration,
) -> Result<Live, EngineError> {
    let broken = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&broken);
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(Some(response_timeout))
        .set_connection_timeout(Some(connect_timeout))
        .set_push_sender(move |info: PushInfo| {
            if info.kind == PushKind::Disconnection {
                flag.store(true, Ordering::Release);
            }
            Ok::<(), std::convert::Infallible>(())
        });
    // The client's own connection timeout bounds each attempt; this bound also covers
    // the handshake (HELLO) that follows the TCP connect.
    let connecting = client.get_multiplexed_async_connection_with_config(&config);
    let connection = tokio::time::timeout(connect_timeout * 2, connecting)
        .await
        .map_err(|_| EngineError::Unavailable {
            store: STORE,
            reason: format!(
                "no connection within {} ms",
                connect_timeout.as_millis() * 2
            ),
        })?
        .map_err(|error| EngineError::Unavailable {
            store: STORE,
            reason: error.to_string(),
        })?;
    let mut live = Live { connection, broken };
    check_eviction_policy(&mut live.connection).await?;
    Ok(live)
}

/// Refuses a Redis that may evict keys: `volatile-*` policies could drop the reservation
/// hashes and idempotency keys that carry a TTL (a replay would then reserve twice), and
/// `allkeys-*` policies could drop anything, stock included. Only `noeviction` is safe:
/// a full Redis then refuses writes, and the engine reports that as unavailable.
async fn check_eviction_policy(connection: &mut MultiplexedConnection) -> Result<(), EngineError> {
    let config: std::collections::HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query_async(connection)
        .await
        .map_err(|error| {
            EngineError::UnsafeConfig(format!(
                "cannot read `maxmemory-policy` ({error}); the engine needs `noeviction` \
                 and will not run on a Redis it cannot check"
            ))
        })?;
    match config.get("maxmemory-policy").map(String::as_str) {
        Some("noeviction") => Ok(()),
        Some(policy) => Err(EngineError::UnsafeConfig(format!(
            "maxmemory-policy is `{policy}`, which lets Redis evict keys: reservations and \
             idempotency keys carry TTLs (volatile-* policies evict them, so a retried \
             reserve would hold stock twice) and allkeys-* policies evict stock itself; \
             set `maxmemory-policy noeviction`"
        ))),
        None => Err(EngineError::UnsafeConfig(
            "Redis did not report `maxmemory-policy`; the engine needs `noeviction`".to_owned(),
        )),
    }
}
