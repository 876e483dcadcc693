//! What a caller asks of the provisioning: which provider, which Redis persistence,
//! which images or URLs. Plain data with explicit defaults; no I/O.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The official images, as `name:tag`; `scripts/build-images` builds look-alikes under
/// the same names where no registry can be reached.
pub const DEFAULT_REDIS_IMAGE: &str = "redis:7";
pub const DEFAULT_POSTGRES_IMAGE: &str = "postgres:15";

/// Where Redis and Postgres come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provider {
    /// Containers when a Docker daemon answers and both images exist, else local binaries.
    #[default]
    Auto,
    Local,
    Containers,
    External,
}

impl Provider {
    pub const NAMES: [&'static str; 4] = ["auto", "local", "containers", "external"];
}

impl FromStr for Provider {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Provider::Auto),
            "local" => Ok(Provider::Local),
            "containers" => Ok(Provider::Containers),
            "external" => Ok(Provider::External),
            other => Err(format!(
                "unknown provider `{other}` (expected one of: {})",
                Provider::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Provider::Auto => "auto",
            Provider::Local => "local",
            Provider::Containers => "containers",
            Provider::External => "external",
        };
        formatter.write_str(name)
    }
}

/// Redis persistence. The fault scenarios need each: with `Always` an acknowledged write
/// survives `kill -9`; with `Everysec` up to about a second may be lost; with `No` the OS
/// decides when the AOF reaches the disk; `Off` keeps nothing (no AOF, no RDB), so a
/// restart starts empty. Whatever is chosen is passed explicitly, never left to the
/// server's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AofPolicy {
    Off,
    No,
    /// Redis' own recommended setting, and what production shops usually run.
    #[default]
    Everysec,
    Always,
}

impl AofPolicy {
    pub const NAMES: [&'static str; 4] = ["off", "no", "everysec", "always"];

    /// The `redis-server` arguments that put this policy in force, RDB snapshots off
    /// (the AOF is the only persistence, so what survives a kill is exactly the policy's).
    pub fn redis_args(self) -> Vec<String> {
        let mut args = vec!["--save".to_owned(), String::new()];
        match self {
            AofPolicy::Off => args.extend(["--appendonly".to_owned(), "no".to_owned()]),
            AofPolicy::No | AofPolicy::Everysec | AofPolicy::Always => args.extend([
                "--appendonly".to_owned(),
                "yes".to_owned(),
                "--appendfsync".to_owned(),
                self.appendfsync().to_owned(),
            ]),
        }
        args
    }

    /// The `appendfsync` value in force (`Off` leaves Redis' default, which does not
    /// matter while `appendonly` is `no`).
    pub fn appendfsync(self) -> &'static str {
        match self {
            AofPolicy::Off | AofPolicy::Everysec => "everysec",
            AofPolicy::No => "no",
            AofPolicy::Always => "always",
        }
    }
}

impl FromStr for AofPolicy {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "off" => Ok(AofPolicy::Off),
            "no" => Ok(AofPolicy::No),
            "everysec" => Ok(AofPolicy::Everysec),
            "always" => Ok(AofPolicy::Always),
            other => Err(format!(
                "unknown AOF policy `{other}` (expected one of: {})",
                AofPolicy::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for AofPolicy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            AofPolicy::Off => "off",
            AofPolicy::No => "no",
            AofPolicy::Everysec => "everysec",
            AofPolicy::Always => "always",
        };
        formatter.write_str(name)
    }
}

/// Options of the `local` provider.
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// `redis-server` to run; found on `PATH` when unset.
    pub redis_server: Option<PathBuf>,
    /// Directory holding `initdb` and `postgres`; found with `pg_config --bindir` or
    /// under `/usr/lib/postgresql/*/bin` when unset.
    pub postgres_bin_dir: Option<PathBuf>,
    /// Postgres `fsync`. Off is safe against process crashes (the OS still holds the
    /// writes) but not against a machine crash; on by default so figures are realistic.
    pub postgres_fsync: bool,
}

/// Options of the `containers` provider.
#[derive(Debug, Clone)]
pub struct ContainerOptions {
    pub redis_image: String,
    pub postgres_image: String,
}

impl Default for ContainerOptions {
    fn default() -> Self {
        ContainerOptions {
            redis_image: DEFAULT_REDIS_IMAGE.to_owned(),
            postgres_image: DEFAULT_POSTGRES_IMAGE.to_owned(),
        }
    }
}

/// Options of the `external` provider.
#[derive(Debug, Clone, Default)]
pub struct ExternalOptions {
    pub redis_url: Option<String>,
    pub database_url: Option<String>,
    /// Empty the given Redis database and Postgres schema first. Off unless the user asks:
    /// these may be someone's real servers.
    pub flush: bool,
}

/// Everything [`crate::Infra::start`] needs.
#[derive(Debug, Clone)]
pub struct InfraConfig {
    pub provider: Provider,
    pub aof: AofPolicy,
    pub local: LocalOptions,
    pub containers: ContainerOptions,
    pub external: ExternalOptions,
}

impl Default for InfraConfig {
    fn default() -> Self {
        InfraConfig {
            provider: Provider::Auto,
            aof: AofPolicy::Everysec,
            local: LocalOptions {
                postgres_fsync: true,
                ..LocalOptions::default()
            },
            containers: ContainerOptions::default(),
            external: ExternalOptions::default(),
        }
    }
}

impl InfraConfig {
    /// The defaults with another provider.
    pub fn with_provider(provider: Provider) -> Self {
        InfraConfig {
            provider,
            ..InfraConfig::default()
        }
    }
}

#[cfg(test)]
mod tests;
