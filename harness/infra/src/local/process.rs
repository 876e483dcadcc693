//! A server process that cannot outlive its owner: stopped gracefully on drop (signal,
//! bounded wait, then SIGKILL), and killed by the kernel if the owning process dies
//! without dropping it (`PR_SET_PDEATHSIG`).
//!
//! The kernel sends the parent-death signal when the *thread* that forked the child
//! exits, not the process. Tokio's blocking threads come and go, so every server is
//! forked from one process-wide spawner thread that lives as long as the process.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

use crate::InfraError;

/// How much of a server's log an error quotes.
const LOG_TAIL_BYTES_MAX: u64 = 4_096;
/// Poll interval while waiting for a stopping server.
const STOP_POLL_MS: u64 = 20;
/// A killed server's children die within milliseconds; bounded so a stuck one (in
/// uninterruptible disk sleep) cannot hang a fault.
const CHILDREN_GONE_WAIT_MS_MAX: u64 = 10_000;

type SpawnRequest = (Command, mpsc::SyncSender<std::io::Result<Child>>);

fn spawner() -> &'static Mutex<mpsc::SyncSender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::SyncSender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (sender, receiver) = mpsc::sync_channel::<SpawnRequest>(0);
        std::thread::Builder::new()
            .name("stockproof-infra-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in receiver {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("the spawner thread starts");
        Mutex::new(sender)
    })
}

/// Spawns `command` from the spawner thread, with the parent-death signal set, in a
/// process group of its own: a terminal's Ctrl-C goes to the whole foreground group,
/// and the servers must not stop by themselves then, but when their owner has drained
/// into them (the writer's last batches, the run's quiesce and checks).
fn spawn_tied_to_this_process(mut command: Command) -> std::io::Result<Child> {
    command.process_group(0);
    let owner_pid = std::process::id() as libc::pid_t;
    // SAFETY: the closure only calls async-signal-safe functions (prctl, getppid, kill).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The owner may have died between fork and prctl: then no signal would come.
            if libc::getppid() != owner_pid {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        });
    }
    let (reply_sender, reply_receiver) = mpsc::sync_channel(1);
    spawner()
        .lock()
        .expect("spawner lock")
        .send((command, reply_sender))
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
    reply_receiver
        .recv()
        .map_err(|_| std::io::Error::other("the spawner thread dropped the request"))?
}

/// A running server and how to stop it.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
    stop_signal: libc::c_int,
    stop_wait: Duration,
}

impl ServerProcess {
    /// Starts `command`; `stop_signal` is the server's own graceful shutdown signal.
    pub(crate) fn start(
        name: &'static str,
        command: Command,
        log: PathBuf,
        stop_signal: libc::c_int,
        stop_wait: Duration,
    ) -> Result<ServerProcess, InfraError> {
        let child = spawn_tied_to_this_process(command)
            .map_err(|error| InfraError::io(format!("starting {name}"), error))?;
        Ok(ServerProcess {
            name,
            child: Some(child),
            log,
            stop_signal,
            stop_wait,
        })
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `Some(status)` once the server has exited.
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// The end of the server's log, headed by its path, for error messages.
    pub(crate) fn log_excerpt(&self) -> String {
        log_excerpt(&self.log)
    }

    pub(crate) fn exited_early(&mut self, status: ExitStatus) -> InfraError {
        InfraError::ExitedEarly {
            server: self.name,
            status: status.to_string(),
            log_excerpt: self.log_excerpt(),
        }
    }

    /// The error for a server that never answered `url` within `waited`.
    pub(crate) fn not_ready(&self, url: &str, waited: Duration, last_error: &str) -> InfraError {
        InfraError::NotReady {
            server: self.name,
            waited_for: format!("{url} for {waited:?}, last error: {last_error}"),
            log_excerpt: self.log_excerpt(),
        }
    }

    /// Graceful stop, then SIGKILL after `stop_wait`; reaps the process either way.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet. SIGCONT
        // after the stop signal, so a paused (SIGSTOP) server can act on it.
        unsafe {
            libc::kill(child.id() as libc::pid_t, self.stop_signal);
            libc::kill(child.id() as libc::pid_t, libc::SIGCONT);
        }
        let started = Instant::now();
        while started.elapsed() < self.stop_wait {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(STOP_POLL_MS));
        }
        tracing::warn!(
            server = self.name,
            "did not stop in {:?}; killing it",
            self.stop_wait
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl ServerProcess {
    /// SIGKILL now, no graceful shutdown (what a crash or an OOM kill does); reaps it.
    pub(crate) fn kill_now(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL to the server and every process it forked, at once (what an OOM kill of
    /// the whole server or a host crash does), then reaps it. A server whose children
    /// outlive it (Postgres' backends hold its shared memory) could not start again on
    /// the same data until they noticed; this waits, bounded, until they are gone.
    pub(crate) fn kill_tree_now(&mut self) {
        let Some(pid) = self.pid() else {
            return;
        };
        // Frozen first, so it forks no child between the listing and the kill.
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) };
        let children = child_pids(pid);
        for child in &children {
            // SAFETY: kill(2) on a pid that was the server's child a moment ago; a
            // server's child is never reaped by anyone but the server, which is frozen.
            unsafe { libc::kill(*child as libc::pid_t, libc::SIGKILL) };
        }
        self.kill_now();
        let started = Instant::now();
        while children.iter().any(|child| alive(*child))
            && started.elapsed() < Duration::from_millis(CHILDREN_GONE_WAIT_MS_MAX)
        {
            std::thread::sleep(Duration::from_millis(STOP_POLL_MS));
        }
    }

    /// Sends `signal` to the server and every process it forked (SIGSTOP freezes a
    /// Postgres whole: the postmaster alone forks, its backends serve). Stops the
    /// server before listing its children, so none appears unsignalled; false if the
    /// server is gone.
    pub(crate) fn signal_tree(&mut self, signal: libc::c_int) -> bool {
        let Some(pid) = self.pid() else {
            return false;
        };
        if !self.send_signal(signal) {
            return false;
        }
        for child in child_pids(pid) {
            // SAFETY: kill(2) on the server's own child, which only the server reaps.
            unsafe { libc::kill(child as libc::pid_t, signal) };
        }
        true
    }

    /// Sends `signal` (SIGSTOP, SIGCONT) to the running server; false if it is gone.
    pub(crate) fn send_signal(&mut self, signal: libc::c_int) -> bool {
        if self.exit_status().is_some() {
            return false;
        }
        let Some(child) = self.child.as_ref() else {
            return false;
        };
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) == 0 }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The pids whose parent is `parent`, from `/proc/<pid>/stat` (its fourth field, read
/// after the command name's closing parenthesis, which may itself hold spaces).
fn child_pids(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` runs (a zombie has released its memory: it counts as gone).
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

/// The end of a log file headed by its path, for error messages.
pub(crate) fn log_excerpt(path: &Path) -> String {
    format!(
        "--- last lines of {} ---\n{}",
        path.display(),
        log_tail(path)
    )
}

fn log_tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let length = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(LOG_TAIL_BYTES_MAX)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).trim_end().to_owned()
}
