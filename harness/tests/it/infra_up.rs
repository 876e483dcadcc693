//! `stockproof infra up`: two processes at once never collide, and Ctrl-C (SIGINT)
//! or SIGTERM leaves no server and no session dir behind.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::support::{stdout_until, stockproof};

struct Running {
    child: Child,
    redis_url: String,
    database_url: String,
    session_dir: PathBuf,
}

/// Starts `stockproof infra up --provider local` and reads its stdout up to the URLs.
fn start_infra_up() -> Running {
    let mut child = stockproof()
        .args(["infra", "up", "--provider", "local", "--aof", "always"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .unwrap();
    let lines = stdout_until(&mut child, |line| line.starts_with("export DATABASE_URL="));
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

/// The direct children of `owner`: the servers `infra up` forked (Redis rewrites its
/// process title, so the command line cannot be used to find it).
fn server_pids(owner: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_pid(*pid) == Some(owner))
        .collect()
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(1)?.parse().ok()
}

/// Whether `pid` still runs (a zombie counts as gone: it has exited).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let after_name = &stat[stat.rfind(')').unwrap_or(0) + 2..];
            !after_name.starts_with('Z')
        })
        .unwrap_or(false)
}

/// SIGINT goes to the whole process group, as a terminal's Ctrl-C does (the servers
/// must not stop by themselves then); SIGTERM to `infra up` alone, as systemd or
/// `kill` send it.
fn signal_and_wait(running: &mut Running, signal: libc::c_int) {
    let pid = running.child.id() as libc::pid_t;
    let target = if signal == libc::SIGINT { -pid } else { pid };
    // SAFETY: kill(2) on our own child (or its group), not yet reaped.
    unsafe { libc::kill(target, signal) };
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
    let mut servers = Vec::new();
    for running in [&first, &second] {
        assert_eq!(ping(&running.redis_url).await, "PONG");
        assert!(running.session_dir.exists());
        let pids = server_pids(running.child.id());
        assert_eq!(
            pids.len(),
            2,
            "redis and postgres run from {}",
            running.session_dir.display()
        );
        servers.push(pids);
    }

    for ((running, signal), pids) in [(&mut first, libc::SIGINT), (&mut second, libc::SIGTERM)]
        .into_iter()
        .zip(&servers)
    {
        signal_and_wait(running, signal);
        assert!(
            !pids.iter().any(|pid| alive(*pid)),
            "servers {pids:?} left running after signal {signal}"
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
    let pids = server_pids(running.child.id());
    assert_eq!(pids.len(), 2, "redis and postgres run under infra up");
    signal_and_wait_killed(&mut running);
    let mut waited_ms = 0;
    while pids.iter().any(|pid| alive(*pid)) && waited_ms < 10_000 {
        std::thread::sleep(Duration::from_millis(50));
        waited_ms += 50;
    }
    assert!(
        !pids.iter().any(|pid| alive(*pid)),
        "servers {pids:?} outlived their killed owner"
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
