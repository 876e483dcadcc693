//! Finding the server programs on this machine, and the account Postgres runs as.
//! A program that is missing is reported with the Debian package that provides it.

use std::ffi::{CStr, CString, OsStr};
use std::path::{Path, PathBuf};

use crate::InfraError;

pub(crate) const REDIS_PACKAGE: &str = "redis-server";
pub(crate) const POSTGRES_PACKAGE: &str = "postgresql";

/// `redis-server`: the given path, else the first on `search_path` (a `PATH`-style list).
pub(crate) fn find_redis_server(
    given: Option<&Path>,
    search_path: Option<&OsStr>,
) -> Result<PathBuf, InfraError> {
    if let Some(path) = given {
        return is_executable(path).then(|| path.to_owned()).ok_or_else(|| {
            InfraError::BinaryMissing {
                program: "redis-server",
                looked_in: format!("given path {}", path.display()),
                package: REDIS_PACKAGE,
            }
        });
    }
    let search_path = search_path.unwrap_or_default();
    std::env::split_paths(search_path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| InfraError::BinaryMissing {
            program: "redis-server",
            looked_in: format!("PATH={}", search_path.to_string_lossy()),
            package: REDIS_PACKAGE,
        })
}

/// The directory with `initdb` and `postgres`: the given one, else `pg_config --bindir`,
/// else the newest `/usr/lib/postgresql/<version>/bin` (Debian keeps them off `PATH`).
pub(crate) fn find_postgres_bin_dir(given: Option<&Path>) -> Result<PathBuf, InfraError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = given {
        candidates.push(dir.to_owned());
    } else {
        if let Some(dir) = pg_config_bindir() {
            candidates.push(dir);
        }
        candidates.extend(debian_postgres_bin_dirs(Path::new("/usr/lib/postgresql")));
    }
    let looked_in = if candidates.is_empty() {
        "pg_config --bindir gave nothing, /usr/lib/postgresql/*/bin is empty".to_owned()
    } else {
        candidates
            .iter()
            .map(|dir| dir.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    candidates
        .into_iter()
        .find(|dir| is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres")))
        .ok_or(InfraError::BinaryMissing {
            program: "initdb and postgres",
            looked_in,
            package: POSTGRES_PACKAGE,
        })
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    (output.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `<root>/<major>/bin`, highest major version first.
pub(crate) fn debian_postgres_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A Unix account: `initdb` and `postgres` refuse to run as root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) name: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// The account Postgres runs as: this process's own unless it is root; as root, the
/// `postgres` account (Debian's package creates it), else `nobody`.
pub(crate) fn postgres_account() -> Result<Option<Account>, InfraError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    ["postgres", "nobody"]
        .into_iter()
        .find_map(lookup_account)
        .map(Some)
        .ok_or_else(|| {
            InfraError::io(
                "running as root, Postgres needs an unprivileged account",
                std::io::Error::other(
                    "neither `postgres` nor `nobody` exists: create one with `useradd postgres`",
                ),
            )
        })
}

fn lookup_account(name: &str) -> Option<Account> {
    let c_name = CString::new(name).ok()?;
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 4096];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwnam_r writes into `entry` and `buffer`, both live and sized as passed.
    let status = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    if status != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points into `buffer`, NUL-terminated.
    let name = unsafe { CStr::from_ptr(entry.pw_name) }
        .to_string_lossy()
        .into_owned();
    Some(Account {
        name,
        uid: entry.pw_uid,
        gid: entry.pw_gid,
    })
}

#[cfg(test)]
mod tests;
