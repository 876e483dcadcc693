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
