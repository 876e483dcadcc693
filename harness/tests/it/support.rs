//! What the integration tests share to run the `stockproof` binary as a user runs it:
//! the command (from the repository root, without the caller's `REDIS_URL` /
//! `DATABASE_URL`), bounded waits whose output goes to files (a fault run logs every
//! refused request, and a full pipe would block the child), a short run into a report
//! dir, the run folder a run wrote, flash-sale.toml edited for one test, and
//! `stockproof serve` up to the address it prints.
//!
//! Not here: what a test asserts, nor the verdict comparison of `run` and `check`
//! (`one_verdict`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Bound on one `stockproof run` in these tests: infra start (~2 s), a few seconds of
/// load, quiesce and checks; far below it in practice, so a hang fails instead of stalling.
pub(crate) const RUN_WAIT_MAX: Duration = Duration::from_secs(120);
/// Bound on a server (`serve`, `infra up`) printing its addresses: a local pair starts
/// in ~1 s here, but CI machines are shared.
pub(crate) const START_WAIT_MAX: Duration = Duration::from_secs(60);
/// How often a bounded wait looks at the child.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Lines of stderr [`describe`] shows: the end, where the error is.
const STDERR_TAIL_LINES: usize = 40;
/// The SLO line of scenarios/flash-sale.toml, which the tests edit.
pub(crate) const FLASH_SALE_SLOS: &str =
    r#"slos = ["reserve.p99 <= 50ms", "confirm.p99 <= 50ms", "error_rate <= 0.1%"]"#;

/// The repository root, where the binary runs and `scenarios/` is.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The binary under test, run from the repository root and told of no servers.
pub(crate) fn stockproof() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stockproof"));
    command
        .current_dir(repo())
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL");
    command
}

/// `stockproof run --infra INFRA --users USERS --duration DURATION --report-dir
/// REPORTS SCENARIO`: a short run; more flags may follow.
pub(crate) fn short_run(
    scenario: &Path,
    infra: &str,
    users: u32,
    duration: &str,
    reports: &Path,
) -> Command {
    let mut command = stockproof();
    command
        .args(["run", "--infra", infra, "--users", &users.to_string()])
        .args(["--duration", duration, "--report-dir"])
        .arg(reports)
        .arg(scenario);
    command
}

/// A child whose stdout and stderr go to files in a temp dir of its own.
pub(crate) struct Logged {
    pub(crate) child: Child,
    logs: tempfile::TempDir,
}

/// Starts `command` with its output going to files.
pub(crate) fn spawn_logged(command: &mut Command) -> Logged {
    let logs = tempfile::tempdir().expect("a temp dir for the logs");
    let file = |name: &str| std::fs::File::create(logs.path().join(name)).expect("a log file");
    let child = command
        .stdout(Stdio::from(file("stdout")))
        .stderr(Stdio::from(file("stderr")))
        .spawn()
        .expect("stockproof starts");
    Logged { child, logs }
}

impl Logged {
    /// Waits until the child's stdout holds `needle` (bounded by `max`); fails the test
    /// with what it printed if the child exits or the bound passes first.
    pub(crate) fn wait_for_stdout(&mut self, needle: &str, max: Duration) {
        let start = Instant::now();
        loop {
            let stdout = std::fs::read(self.logs.path().join("stdout")).unwrap_or_default();
            if String::from_utf8_lossy(&stdout).contains(needle) {
                return;
            }
            let exited = self.child.try_wait().expect("wait on stockproof").is_some();
            assert!(
                !exited && start.elapsed() < max,
                "no `{needle}` on stdout within {max:?} (exited: {exited}):\n{}",
                String::from_utf8_lossy(&stdout)
            );
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits for the child to exit and returns its output; kills it and fails the test
    /// with what it printed when it runs past `max`.
    pub(crate) fn wait(mut self, max: Duration) -> Output {
        let start = Instant::now();
        loop {
            let status = self.child.try_wait().expect("wait on stockproof");
            let hung = status.is_none() && start.elapsed() > max;
            if hung {
                let _ = self.child.kill();
            }
            if status.is_some() || hung {
                let output = Output {
                    status: status
                        .unwrap_or_else(|| self.child.wait().expect("wait on stockproof")),
                    stdout: std::fs::read(self.logs.path().join("stdout")).unwrap_or_default(),
                    stderr: std::fs::read(self.logs.path().join("stderr")).unwrap_or_default(),
                };
                assert!(
                    !hung,
                    "stockproof (pid {}) hung past {max:?}\n{}",
                    self.child.id(),
                    describe(&output)
                );
                return output;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

/// Runs to completion, failing the test if it takes longer than [`RUN_WAIT_MAX`].
pub(crate) fn run_bounded(command: &mut Command) -> Output {
    spawn_logged(command).wait(RUN_WAIT_MAX)
}

/// Exit code, stdout and the end of stderr, for failure messages.
pub(crate) fn describe(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    format!(
        "exit {:?}\nstdout:\n{}\nstderr (last {STDERR_TAIL_LINES} lines):\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n")
    )
}

/// flash-sale.toml with `from` replaced by `to`, written into `dir`.
pub(crate) fn flash_sale_variant(dir: &Path, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("scenarios/flash-sale.toml")).unwrap();
    assert!(
        text.contains(from),
        "flash-sale.toml no longer has `{from}`"
    );
    let path = dir.join("flash-sale.toml");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    path
}

/// flash-sale.toml without its SLOs (for tests where timing is not what they test),
/// written into `dir`.
pub(crate) fn flash_sale_without_slos(dir: &Path) -> PathBuf {
    flash_sale_variant(dir, FLASH_SALE_SLOS, "slos = []")
}

/// The run folder a `stockproof run` names on its verdict's head line (`…, report
/// DIR`), absolute (a relative one is below the repository root, where it ran).
pub(crate) fn run_folder(run_stdout: &str) -> PathBuf {
    let folder = run_stdout
        .lines()
        .find_map(|line| {
            line.rsplit_once(", report ")
                .map(|(_, folder)| folder.trim())
        })
        .unwrap_or_else(|| panic!("no `, report DIR` line in:\n{run_stdout}"));
    repo().join(folder)
}

/// The one run folder in `reports`, which the run that printed `output` wrote into a
/// fresh report dir.
pub(crate) fn only_run_folder(reports: &Path, output: &Output) -> PathBuf {
    let folders: Vec<PathBuf> = std::fs::read_dir(reports)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    match folders.as_slice() {
        [folder] => folder.clone(),
        _ => panic!(
            "one run folder expected in {}, found {folders:?}: {}",
            reports.display(),
            describe(output)
        ),
    }
}

/// The lines `child` prints on stdout up to and including the first that `last`
/// accepts (bounded by [`START_WAIT_MAX`]). A thread keeps draining stdout after it, as
/// a shell would: the servers survive a closed pipe, but that is not what the tests
/// are about.
pub(crate) fn stdout_until(
    child: &mut Child,
    last: impl Fn(&str) -> bool + Send + 'static,
) -> Vec<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut sender = Some(sender);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let done = last(&line);
            lines.push(line);
            if done && let Some(sender) = sender.take() {
                let _ = sender.send(std::mem::take(&mut lines));
            }
        }
    });
    receiver
        .recv_timeout(START_WAIT_MAX)
        .expect("the line awaited on stdout")
}

/// What `stockproof serve` prints before the address it listens on.
const SERVE_LISTENING: &str = "# stockproof serve: listening on ";

/// A `stockproof serve` that printed its address.
pub(crate) struct Served {
    pub(crate) child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// The rest of the listening line after the URL (names a broken variant).
    pub(crate) banner: String,
    /// The lines printed before it (the servers' `export …_URL=` lines).
    pub(crate) before: Vec<String>,
}

impl Served {
    /// `127.0.0.1:PORT`, for raw HTTP.
    pub(crate) fn address(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Kills the server (SIGKILL, as a crash would) and reaps it.
    pub(crate) fn kill(mut self) {
        self.child.kill().expect("kill the server");
        let _ = self.child.wait();
    }
}

/// `stockproof serve --infra local --listen 127.0.0.1:0 ARGS…` (stderr as `stderr`
/// says), up to the address it prints.
pub(crate) fn serve(args: &[&str], stderr: Stdio) -> Served {
    let mut child = stockproof()
        .args(["serve", "--infra", "local", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("stockproof serve starts");
    let mut before = stdout_until(&mut child, |line| line.starts_with(SERVE_LISTENING));
    let listening = before.pop().expect("the listening line");
    let rest = listening.trim_start_matches(SERVE_LISTENING);
    let (url, banner) = rest.split_once(' ').unwrap_or((rest, ""));
    Served {
        child,
        url: url.to_owned(),
        banner: banner.to_owned(),
        before,
    }
}
