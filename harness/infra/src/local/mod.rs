//! The `local` provider: `redis-server` and `initdb` + `postgres` from this machine's
//! binaries, in a private session dir, on free loopback ports, started side by side.
//! Stopped and removed on drop; tied to this process by the parent-death signal, so
//! even `kill -9` of the owner leaves no server running (see `process`).

mod binaries;
mod postgres;
mod process;
mod redis;

use std::net::TcpListener;

pub use self::postgres::LocalPostgres;
pub use self::redis::LocalRedis;
use crate::session::SessionDir;
use crate::{AofPolicy, InfraError, LocalOptions};

/// Longest wait for a started server to answer (Postgres recovery after a crash
/// included); beyond it the error quotes the server's log.
pub(crate) const READY_WAIT_MS_MAX: u64 = 30_000;
/// Starts retried when another process took our free port before the server bound it.
pub(crate) const START_ATTEMPTS_MAX: usize = 3;

/// A running local Redis + Postgres pair. Fields drop in order: servers first, then
/// the session dir they live in.
#[derive(Debug)]
pub struct LocalServers {
    pub redis: LocalRedis,
    pub postgres: LocalPostgres,
    session: SessionDir,
}

impl LocalServers {
    pub async fn start(options: &LocalOptions, aof: AofPolicy) -> Result<LocalServers, InfraError> {
        let redis_server = binaries::find_redis_server(
            options.redis_server.as_deref(),
            std::env::var_os("PATH").as_deref(),
        )?;
        let postgres_bin_dir =
            binaries::find_postgres_bin_dir(options.postgres_bin_dir.as_deref())?;
        let account = binaries::postgres_account()?;
        let session = SessionDir::create()?;
        let redis_dir = session.subdir("redis")?;
        let postgres_dir = session.subdir("postgres")?;
        let (redis, postgres) = tokio::join!(
            LocalRedis::start(&redis_server, redis_dir, aof),
            LocalPostgres::start(
                &postgres_bin_dir,
                postgres_dir,
                account.as_ref(),
                options.postgres_fsync
            ),
        );
        Ok(LocalServers {
            redis: redis?,
            postgres: postgres?,
            session,
        })
    }

    /// Where the servers keep their data and logs (removed on drop).
    pub fn session_dir(&self) -> &std::path::Path {
        self.session.path()
    }
}

/// What `auto` needs to know: can the local provider work here, and if not, why.
pub fn binaries_available(options: &LocalOptions) -> Result<(), InfraError> {
    binaries::find_redis_server(
        options.redis_server.as_deref(),
        std::env::var_os("PATH").as_deref(),
    )?;
    binaries::find_postgres_bin_dir(options.postgres_bin_dir.as_deref())?;
    Ok(())
}

/// A loopback port nobody listens on now. The kernel picks it; the caller retries if
/// someone else binds it before the server does.
pub(crate) fn free_loopback_port() -> Result<u16, InfraError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|error| InfraError::io("finding a free loopback port", error))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| InfraError::io("reading the free port", error))
}
