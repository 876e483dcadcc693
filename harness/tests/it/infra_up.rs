//! `stockproof infra up`: two processes at once never collide, and Ctrl-C (SIGINT)
//! or SIGTERM leaves no server and no session dir behind.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Generous: two local pairs start in ~1 s here, but CI machines are shared.
const START_WAIT_MS_MAX: u64 = 60_000;

struct Running {
    child: Child,
    redis_url: String,
    database_url: String,
    session_dir: PathBuf,
}

/// Starts `stockproof infra up --provider local` and reads its stdout up to the URLs.
fn start_infra_up() -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stockproof"))
        .args(["infra", "up", "--provider", "local", "--aof", "always"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("export DATABASE_URL=");
            lines.push(line);
            if done {
                let _ = sender.send(lines);
                return;
            }
        }
    });
    let lines = receiver
        .recv_timeout(Duration::from_millis(START_WAIT_MS_MAX))
        .expect("infra up printed its URLs");
    let value = |prefix: &str| {
        lines
            .iter()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in {lines:?}"))
            .trim_matches('\'')
            .to_owned()
    };
    Running {
        child,
        redis_url: value("export REDIS_URL="),
        database_url: value("export DATABASE_URL="),
        session_dir: PathBuf::from(value("# data and logs in ")),
    }
}

fn server_pids(session_dir: &std::path::Path) -> Vec<u32> {
    // Redis and Postgres are the only processes whose command line names the session dir.
    let needle = session_dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmdline| String::from_utf8_lossy(&cmdline).contains(&needle))
                .unwrap_or(false)
        })
        .collect()
}

fn signal_and_wait(running: &mut Running, signal: libc::c_int) {
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(running.child.id() as libc::pid_t, signal) };
    let status = running.child.wait().unwrap();
    assert!(
        status.success(),
        "infra up exited with {status} after signal {signal}"
    );
}

async fn ping(url: &str) -> String {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_nothing_and_signals_leave_nothing_behind() {
    // Goal: two `infra up` processes at once get their own ports and dirs; SIGINT (what
    // Ctrl-C sends) stops one, SIGTERM the other, each removing its servers and dir.
    let mut first = start_infra_up();
    let mut second = start_infra_up();
    assert_ne!(first.redis_url, second.redis_url);
    assert_ne!(first.database_url, second.database_url);
    assert_ne!(first.session_dir, second.session_dir);
    for running in [&first, &second] {
        assert_eq!(ping(&running.redis_url).await, "PONG");
        assert!(running.session_dir.exists());
        assert_eq!(
            server_pids(&running.session_dir).len(),
            2,
            "redis and postgres run from {}",
            running.session_dir.display()
        );
    }

    for (running, signal) in [(&mut first, libc::SIGINT), (&mut second, libc::SIGTERM)] {
        signal_and_wait(running, signal);
        assert!(
            server_pids(&running.session_dir).is_empty(),
            "servers left running after signal {signal}"
        );
        assert!(
            !running.session_dir.exists(),
            "{} left behind after signal {signal}",
            running.session_dir.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_owner_takes_the_servers_with_it() {
    // Goal: even when the owner cannot clean up (SIGKILL), no server outlives it, and the
    // next session sweeps the dir it left.
    let mut running = start_infra_up();
    assert_eq!(server_pids(&running.session_dir).len(), 2);
    signal_and_wait_killed(&mut running);
    let mut waited_ms = 0;
    while !server_pids(&running.session_dir).is_empty() && waited_ms < 10_000 {
        std::thread::sleep(Duration::from_millis(50));
        waited_ms += 50;
    }
    assert!(
        server_pids(&running.session_dir).is_empty(),
        "servers outlived their killed owner"
    );
    let mut next = start_infra_up();
    assert!(
        !running.session_dir.exists(),
        "the next session did not sweep {}",
        running.session_dir.display()
    );
    signal_and_wait(&mut next, libc::SIGINT);
}

fn signal_and_wait_killed(running: &mut Running) {
    running.child.kill().unwrap();
    let status = running.child.wait().unwrap();
    assert!(!status.success());
}
