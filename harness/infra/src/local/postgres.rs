//! A local Postgres: `initdb` into the session dir, then `postgres` on a free loopback
//! port, both as an unprivileged account when we are root (they refuse to run as root).
//! Trust authentication on loopback only; no Unix socket (its path length is limited and
//! nothing here needs it). A database named `stockproof` is created once it answers.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sqlx::Connection;

use super::binaries::Account;
use super::process::{ServerProcess, log_excerpt};
use super::{READY_WAIT_MS_MAX, START_ATTEMPTS_MAX, free_loopback_port};
use crate::InfraError;
use crate::readiness::{self, WaitError};

/// `initdb` takes ~1 s here; bounded so a wedged one fails the start instead of hanging.
const INITDB_WAIT_MS_MAX: u64 = 60_000;
/// A fast shutdown (SIGINT) finishes within this unless the disk is stuck.
const POSTGRES_STOP_WAIT_MS: u64 = 10_000;
/// Enough for a load run's pools (engine, writer, reconciler, harness) with headroom.
const POSTGRES_CONNECTIONS_MAX: u32 = 200;
const DATABASE_NAME: &str = "stockproof";
const CREATE_DATABASE_SQL: &str = "CREATE DATABASE stockproof";
const SUPERUSER: &str = "postgres";

#[derive(Debug)]
pub struct LocalPostgres {
    process: ServerProcess,
    port: u16,
    url: String,
    /// What [`LocalPostgres::restart`] needs to start the same server again.
    launch: Launch,
}

/// How the server was started: the same binary, data dir, account and settings.
#[derive(Debug, Clone)]
struct Launch {
    bin_dir: PathBuf,
    dir: PathBuf,
    data_dir: PathBuf,
    account: Option<Account>,
    fsync: bool,
}

impl LocalPostgres {
    pub(crate) async fn start(
        bin_dir: &Path,
        dir: PathBuf,
        account: Option<&Account>,
        fsync: bool,
    ) -> Result<LocalPostgres, InfraError> {
        hand_over(&dir, account)?;
        let data_dir = dir.join("data");
        initdb(bin_dir, &data_dir, &dir.join("initdb.log"), account).await?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS_MAX {
            let port = free_loopback_port()?;
            match Self::start_once(bin_dir, &dir, &data_dir, account, fsync, port).await {
                Ok(postgres) => return Ok(postgres),
                Err(error) if error.to_string().contains("Address already in use") => {
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    async fn start_once(
        bin_dir: &Path,
        dir: &Path,
        data_dir: &Path,
        account: Option<&Account>,
        fsync: bool,
        port: u16,
    ) -> Result<LocalPostgres, InfraError> {
        let launch = Launch {
            bin_dir: bin_dir.to_path_buf(),
            dir: dir.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            account: account.cloned(),
            fsync,
        };
        let process = spawn(&launch, port)?;
        let mut postgres = LocalPostgres {
            process,
            port,
            url: String::new(),
            launch,
        };
        let admin_url = postgres.url_of("postgres");
        postgres.wait_ready(&admin_url).await?;
        create_database(&admin_url).await?;
        postgres.url = postgres.url_of(DATABASE_NAME);
        Ok(postgres)
    }

    fn url_of(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    async fn wait_ready(&mut self, url: &str) -> Result<(), InfraError> {
        let waited = Duration::from_millis(READY_WAIT_MS_MAX);
        let data_dir = self.launch.data_dir.clone();
        let process = &mut self.process;
        let mut exit_status = None;
        let outcome = readiness::wait_until(
            waited,
            || readiness::postgres_cluster_answers(url, Some(data_dir.as_path())),
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
                Err(process.not_ready(url, waited, &last_error))
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

    /// Stops the server (fast shutdown, then SIGKILL after a bound).
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Stops the server (fast shutdown: open transactions roll back, clients are
    /// disconnected) and starts it again on the same port and data dir; returns once it
    /// answers. Committed data survives, as after a real restart.
    pub async fn restart(&mut self) -> Result<(), InfraError> {
        self.process.stop();
        self.process = spawn(&self.launch, self.port)?;
        let admin_url = self.url_of("postgres");
        self.wait_ready(&admin_url).await
    }

    /// `kill -9` of the postmaster and every backend and helper it forked (a crashed
    /// or OOM-killed database host), then a start on the same port and data dir: the
    /// server replays its WAL (crash recovery) and answers with every committed
    /// transaction, as after a real crash of the process (the OS kept what was
    /// written). Returns once it answers.
    pub async fn kill_and_restart(&mut self) -> Result<(), InfraError> {
        self.process.kill_tree_now();
        self.process = spawn(&self.launch, self.port)?;
        let admin_url = self.url_of("postgres");
        self.wait_ready(&admin_url).await
    }

    /// SIGSTOP of the postmaster and every process it forked: the server freezes
    /// whole, connections stay open and queries hang (a stalled VM, a host frozen by
    /// its hypervisor). [`LocalPostgres::resume`] undoes it.
    pub fn pause(&mut self) -> bool {
        self.process.signal_tree(libc::SIGSTOP)
    }

    /// SIGCONT of the postmaster and its processes after [`LocalPostgres::pause`].
    pub fn resume(&mut self) -> bool {
        self.process.signal_tree(libc::SIGCONT)
    }
}

/// Starts `postgres` on `port` as the launch describes (the log is appended to, so a
/// restart keeps the earlier lines).
fn spawn(launch: &Launch, port: u16) -> Result<ServerProcess, InfraError> {
    let log = launch.dir.join("postgres.log");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|error| InfraError::io(format!("opening {}", log.display()), error))?;
    let log_file_err = log_file
        .try_clone()
        .map_err(|error| InfraError::io("duplicating the log handle", error))?;
    let mut command = Command::new(launch.bin_dir.join("postgres"));
    command
        .arg("-D")
        .arg(&launch.data_dir)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "unix_socket_directories="])
        .args(["-c", &format!("max_connections={POSTGRES_CONNECTIONS_MAX}")])
        .args([
            "-c",
            &format!("fsync={}", if launch.fsync { "on" } else { "off" }),
        ])
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_file_err);
    run_as(&mut command, launch.account.as_ref());
    ServerProcess::start(
        "postgres",
        command,
        log,
        libc::SIGINT, // fast shutdown: roll back open transactions, then exit
        Duration::from_millis(POSTGRES_STOP_WAIT_MS),
    )
}

/// Gives `dir` to the account Postgres runs as, and lets it through the session dir.
fn hand_over(dir: &Path, account: Option<&Account>) -> Result<(), InfraError> {
    use std::os::unix::fs::PermissionsExt;
    let Some(account) = account else {
        return Ok(());
    };
    let session = dir
        .parent()
        .expect("the postgres dir lies in the session dir");
    std::fs::set_permissions(session, std::fs::Permissions::from_mode(0o711))
        .map_err(|error| InfraError::io(format!("opening {}", session.display()), error))?;
    std::os::unix::fs::chown(dir, Some(account.uid), Some(account.gid)).map_err(|error| {
        InfraError::io(
            format!("handing {} to account `{}`", dir.display(), account.name),
            error,
        )
    })
}

fn run_as(command: &mut Command, account: Option<&Account>) {
    if let Some(account) = account {
        command.uid(account.uid).gid(account.gid);
    }
}

async fn initdb(
    bin_dir: &Path,
    data_dir: &Path,
    log: &Path,
    account: Option<&Account>,
) -> Result<(), InfraError> {
    let mut command = Command::new(bin_dir.join("initdb"));
    command
        .arg("-D")
        .arg(data_dir)
        .args(["--username", SUPERUSER, "--auth", "trust"])
        .args(["--encoding", "UTF8", "--locale", "C"])
        // Throwaway data: skip the fsyncs of initdb itself (~1 s saved per start).
        .arg("--no-sync")
        .stdin(Stdio::null());
    run_as(&mut command, account);
    let log_file = File::create(log)
        .map_err(|error| InfraError::io(format!("creating {}", log.display()), error))?;
    let log_file_err = log_file
        .try_clone()
        .map_err(|error| InfraError::io("duplicating the log handle", error))?;
    command.stdout(log_file).stderr(log_file_err);
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let status = tokio::time::timeout(Duration::from_millis(INITDB_WAIT_MS_MAX), command.status())
        .await
        .map_err(|_| InfraError::CommandFailed {
            step: format!("initdb {}", data_dir.display()),
            status: format!("no exit within {INITDB_WAIT_MS_MAX} ms"),
            output: log_excerpt(log),
        })?
        .map_err(|error| InfraError::io("running initdb", error))?;
    if status.success() {
        Ok(())
    } else {
        Err(InfraError::CommandFailed {
            step: format!("initdb {}", data_dir.display()),
            status: status.to_string(),
            output: log_excerpt(log),
        })
    }
}

async fn create_database(admin_url: &str) -> Result<(), InfraError> {
    let failed = |error: sqlx::Error| InfraError::CommandFailed {
        step: format!("CREATE DATABASE {DATABASE_NAME}"),
        status: "error".to_owned(),
        output: error.to_string(),
    };
    let mut connection = sqlx::PgConnection::connect(admin_url)
        .await
        .map_err(failed)?;
    sqlx::query(CREATE_DATABASE_SQL)
        .execute(&mut connection)
        .await
        .map_err(failed)?;
    connection.close().await.map_err(failed)
}

#[cfg(test)]
mod tests;
