//! [`Infra`]: a running Redis + Postgres pair from whichever provider the config names,
//! with its URLs, stopped on drop. The one entry point callers use.

use std::fmt;
use std::time::{Duration, Instant};

use crate::auto::{self, probe_docker};
use crate::containers::ContainerServers;
use crate::external::ExternalServers;
use crate::local::{self, LocalServers};
use crate::{InfraConfig, InfraError, Provider};

/// The provider that actually runs the servers (`auto` resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedProvider {
    Local,
    Containers,
    External,
}

impl fmt::Display for ResolvedProvider {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ResolvedProvider::Local => "local",
            ResolvedProvider::Containers => "containers",
            ResolvedProvider::External => "external",
        })
    }
}

#[derive(Debug)]
enum Servers {
    // Boxed: the handles are hundreds of bytes and `Infra` is moved around.
    Local(Box<LocalServers>),
    Containers(Box<ContainerServers>),
    External(ExternalServers),
}

/// A running Redis and Postgres. Dropping it stops what it started (servers,
/// containers, session dir); external servers are left as they were.
#[derive(Debug)]
pub struct Infra {
    servers: Servers,
    /// From the call to both servers answering a real request.
    ready_in: Duration,
}

impl Infra {
    /// Starts (or connects to) Redis and Postgres and returns once both answer.
    pub async fn start(config: &InfraConfig) -> Result<Infra, InfraError> {
        let started = Instant::now();
        let provider = match config.provider {
            Provider::Auto => {
                let images = [
                    config.containers.redis_image.as_str(),
                    config.containers.postgres_image.as_str(),
                ];
                let docker = probe_docker(&images).await;
                let local = local::binaries_available(&config.local);
                let chosen = auto::choose(&docker, &local)?;
                tracing::info!(provider = %chosen, docker = ?docker, "auto chose a provider");
                chosen
            }
            explicit => explicit,
        };
        let servers = match provider {
            Provider::Local => Servers::Local(Box::new(
                LocalServers::start(&config.local, config.aof).await?,
            )),
            Provider::Containers => Servers::Containers(Box::new(
                ContainerServers::start(&config.containers, config.aof).await?,
            )),
            Provider::External => {
                Servers::External(ExternalServers::connect(&config.external).await?)
            }
            Provider::Auto => unreachable!("auto resolves to a concrete provider above"),
        };
        Ok(Infra {
            servers,
            ready_in: started.elapsed(),
        })
    }

    pub fn provider(&self) -> ResolvedProvider {
        match self.servers {
            Servers::Local(_) => ResolvedProvider::Local,
            Servers::Containers(_) => ResolvedProvider::Containers,
            Servers::External(_) => ResolvedProvider::External,
        }
    }

    pub fn redis_url(&self) -> &str {
        match &self.servers {
            Servers::Local(local) => local.redis.url(),
            Servers::Containers(containers) => containers.redis_url(),
            Servers::External(external) => &external.redis_url,
        }
    }

    pub fn database_url(&self) -> &str {
        match &self.servers {
            Servers::Local(local) => local.postgres.url(),
            Servers::Containers(containers) => containers.database_url(),
            Servers::External(external) => &external.database_url,
        }
    }

    /// How long the start took, until both servers answered.
    pub fn ready_in(&self) -> Duration {
        self.ready_in
    }

    /// The local servers, for what needs their processes (fault injection, tests).
    pub fn local(&self) -> Option<&LocalServers> {
        match &self.servers {
            Servers::Local(local) => Some(local),
            _ => None,
        }
    }

    pub fn local_mut(&mut self) -> Option<&mut LocalServers> {
        match &mut self.servers {
            Servers::Local(local) => Some(local),
            _ => None,
        }
    }

    /// The containers, when the `containers` provider runs them.
    pub fn containers(&self) -> Option<&ContainerServers> {
        match &self.servers {
            Servers::Containers(containers) => Some(containers),
            _ => None,
        }
    }

    /// Shell lines that hand the URLs to other tools.
    pub fn export_lines(&self) -> String {
        format!(
            "export REDIS_URL='{}'\nexport DATABASE_URL='{}'\n",
            self.redis_url(),
            self.database_url()
        )
    }

    /// Stops everything now, reporting failures (drop does the same, silently).
    pub async fn shutdown(self) -> Result<(), InfraError> {
        match self.servers {
            Servers::Local(local) => {
                drop(local);
                Ok(())
            }
            Servers::Containers(containers) => (*containers).shutdown().await,
            Servers::External(_) => Ok(()),
        }
    }
}
