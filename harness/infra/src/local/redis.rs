//! A local `redis-server` on a free loopback port, its AOF policy set explicitly, its
//! data and log in the session dir, `maxmemory-policy noeviction` so the engine's keys
//! are never evicted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::ServerProcess;
use super::{READY_WAIT_MS_MAX, START_ATTEMPTS_MAX, free_loopback_port};
use crate::readiness::{self, WaitError};
use crate::{AofPolicy, InfraError};

/// Redis flushes the AOF and exits on SIGTERM well within this.
const REDIS_STOP_WAIT_MS: u64 = 5_000;

#[derive(Debug)]
pub struct LocalRedis {
    process: ServerProcess,
    port: u16,
    url: String,
    /// What [`LocalRedis::restart`] needs to start the same server again.
    redis_server: PathBuf,
    dir: PathBuf,
    aof: AofPolicy,
}

impl LocalRedis {
    pub(crate) async fn start(
        redis_server: &Path,
        dir: PathBuf,
        aof: AofPolicy,
    ) -> Result<LocalRedis, InfraError> {
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS_MAX {
            match Self::start_once(redis_server, &dir, aof).await {
                Ok(redis) => return Ok(redis),
                // Another process took the free port between our probe and the bind.
                Err(error) if error.to_string().contains("Address already in use") => {
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    async fn start_once(
        redis_server: &Path,
        dir: &Path,
        aof: AofPolicy,
    ) -> Result<LocalRedis, InfraError> {
        let port = free_loopback_port()?;
        let process = Self::spawn(redis_server, dir, aof, port)?;
        let mut redis = LocalRedis {
            process,
            port,
            url: format!("redis://127.0.0.1:{port}/0"),
            redis_server: redis_server.to_path_buf(),
            dir: dir.to_path_buf(),
            aof,
        };
        redis.wait_ready().await?;
        Ok(redis)
    }

    fn spawn(
        redis_server: &Path,
        dir: &Path,
        aof: AofPolicy,
        port: u16,
    ) -> Result<ServerProcess, InfraError> {
        let log = dir.join("redis.log");
        let _ = std::fs::remove_file(&log);
        let mut command = Command::new(redis_server);
        command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--dir", &dir.display().to_string()])
            .args(["--logfile", &log.display().to_string()])
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .args(["--maxmemory-policy", "noeviction"])
            .args(aof.redis_args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        ServerProcess::start(
            "redis-server",
            command,
            log,
            libc::SIGTERM,
            Duration::from_millis(REDIS_STOP_WAIT_MS),
        )
    }

    async fn wait_ready(&mut self) -> Result<(), InfraError> {
        let url = self.url.clone();
        let waited = Duration::from_millis(READY_WAIT_MS_MAX);
        let pid = self.process.pid();
        let process = &mut self.process;
        let mut exit_status = None;
        let outcome = readiness::wait_until(
            waited,
            || readiness::redis_process_answers(&url, pid),
            || {
                exit_status = process.exit_status();
                exit_status.map(|status| status.to_string())
            },
        )
        .await;
        match outcome {
            Ok(()) => Ok(()),
            Err(WaitError::GaveUp(_)) => Err(process.exited_early(exit_status.expect("exited"))),
            Err(WaitError::TimedOut(last_error)) => {
                Err(process.not_ready(&url, waited, &last_error))
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after a bound).
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Stops the server gracefully and starts it again on the same port, in the same
    /// dir, with the same AOF policy (so what the AOF kept is loaded again; with
    /// `AofPolicy::Off` it starts empty). Returns once it answers.
    pub async fn restart(&mut self) -> Result<(), InfraError> {
        self.process.stop();
        self.start_again().await
    }

    /// `kill -9`, then a start on the same port and dir: the server loads what its AOF
    /// had on disk, so what is lost depends on the AOF policy (`always`: nothing
    /// acknowledged; `everysec`: up to about a second; `no` / `off`: whatever the OS or
    /// nothing kept). Returns once it answers.
    pub async fn kill_and_restart(&mut self) -> Result<(), InfraError> {
        self.process.kill_now();
        self.start_again().await
    }

    async fn start_again(&mut self) -> Result<(), InfraError> {
        self.process = Self::spawn(&self.redis_server, &self.dir, self.aof, self.port)?;
        self.wait_ready().await
    }

    /// SIGSTOP: the process freezes; connections stay open and requests hang (a GC
    /// pause, a stalled VM). [`LocalRedis::resume`] undoes it.
    pub fn pause(&mut self) -> bool {
        self.process.send_signal(libc::SIGSTOP)
    }

    /// SIGCONT after [`LocalRedis::pause`].
    pub fn resume(&mut self) -> bool {
        self.process.send_signal(libc::SIGCONT)
    }

    /// The AOF policy the server runs with.
    pub fn aof(&self) -> AofPolicy {
        self.aof
    }
}
