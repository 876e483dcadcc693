//! The `containers` provider: Redis and Postgres as Docker containers through
//! testcontainers, from configurable images (default: the official `redis:7` and
//! `postgres:15`, or the look-alikes `scripts/build-images` makes). Ports are published
//! on 127.0.0.1 only, at ports Docker picks. Containers are labelled with the owner's
//! pid and removed on drop or [`ContainerServers::shutdown`].

use std::collections::HashMap;
use std::time::Duration;

use testcontainers::bollard::models::{HostConfig, PortBinding};
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::auto::{DockerProbe, probe_docker};
use crate::readiness::{self, WaitError};
use crate::{AofPolicy, ContainerOptions, InfraError};

const REDIS_PORT: u16 = 6379;
const POSTGRES_PORT: u16 = 5432;
/// The password the postgres image is started with; the server is reachable on
/// loopback only and lives as long as the run.
const POSTGRES_PASSWORD: &str = "stockproof";
const DATABASE_NAME: &str = "stockproof";
/// Log lines of the official images (and of `scripts/build-images`' look-alikes).
const REDIS_READY_LINE: &str = "Ready to accept connections";
const POSTGRES_READY_LINE: &str = "database system is ready to accept connections";
/// First start of the postgres image runs initdb and a temporary server: ~3 s here.
const CONTAINER_START_WAIT_MS_MAX: u64 = 60_000;
/// After the log line, the published port must answer a real request within this.
const PUBLISHED_PORT_WAIT_MS_MAX: u64 = 10_000;

#[derive(Debug)]
pub struct ContainerServers {
    redis: Option<ContainerAsync<GenericImage>>,
    postgres: Option<ContainerAsync<GenericImage>>,
    redis_url: String,
    database_url: String,
}

impl ContainerServers {
    pub async fn start(
        options: &ContainerOptions,
        aof: AofPolicy,
    ) -> Result<ContainerServers, InfraError> {
        let images = [
            options.redis_image.as_str(),
            options.postgres_image.as_str(),
        ];
        match probe_docker(&images).await {
            DockerProbe::Ready => {}
            DockerProbe::NoDaemon(reason) => {
                return Err(InfraError::Containers(format!(
                    "{reason}; start one (as root: `dockerd &`) or use `--provider local`"
                )));
            }
            DockerProbe::ImagesMissing(missing) => {
                return Err(InfraError::Containers(format!(
                    "image(s) {} not present: run `scripts/build-images` (no registry \
                     needed) or `docker pull` them",
                    missing.join(", ")
                )));
            }
        }
        let (redis, postgres) = tokio::join!(
            start_redis(&options.redis_image, aof),
            start_postgres(&options.postgres_image)
        );
        let (redis, redis_url) = redis?;
        let (postgres, database_url) = postgres?;
        Ok(ContainerServers {
            redis: Some(redis),
            postgres: Some(postgres),
            redis_url,
            database_url,
        })
    }

    pub fn redis_url(&self) -> &str {
        &self.redis_url
    }

    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The Docker ids of the Redis and Postgres containers.
    pub fn container_ids(&self) -> Vec<String> {
        [self.redis.as_ref(), self.postgres.as_ref()]
            .into_iter()
            .flatten()
            .map(|container| container.id().to_owned())
            .collect()
    }

    /// Removes both containers, reporting a failure instead of logging it.
    pub async fn shutdown(mut self) -> Result<(), InfraError> {
        for container in [self.redis.take(), self.postgres.take()]
            .into_iter()
            .flatten()
        {
            let id = container.id().to_owned();
            container
                .rm()
                .await
                .map_err(|error| InfraError::Containers(format!("removing {id}: {error}")))?;
        }
        Ok(())
    }
}

impl Drop for ContainerServers {
    fn drop(&mut self) {
        if self.redis.is_none() && self.postgres.is_none() {
            return;
        }
        // testcontainers removes a container in its own Drop, which needs a tokio
        // runtime; give it one when we are dropped outside of any.
        if tokio::runtime::Handle::try_current().is_ok() {
            self.redis.take();
            self.postgres.take();
        } else if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            let _entered = runtime.enter();
            self.redis.take();
            self.postgres.take();
        }
    }
}

async fn start_redis(
    image: &str,
    aof: AofPolicy,
) -> Result<(ContainerAsync<GenericImage>, String), InfraError> {
    let (name, tag) = split_image(image);
    let mut command = vec!["redis-server".to_owned()];
    command.extend(aof.redis_args());
    command.extend(["--maxmemory-policy".to_owned(), "noeviction".to_owned()]);
    let container = GenericImage::new(name, tag)
        .with_exposed_port(REDIS_PORT.tcp())
        .with_wait_for(WaitFor::message_on_stdout(REDIS_READY_LINE))
        .with_cmd(command)
        .with_label("io.stockproof.owner-pid", std::process::id().to_string())
        .with_host_config_modifier(|host_config| publish_on_loopback(host_config, REDIS_PORT))
        .with_startup_timeout(Duration::from_millis(CONTAINER_START_WAIT_MS_MAX))
        .start()
        .await
        .map_err(|error| InfraError::Containers(format!("starting {image}: {error}")))?;
    let port = published_port(&container, REDIS_PORT, image).await?;
    let url = format!("redis://127.0.0.1:{port}/0");
    wait_published("redis", &url, || readiness::redis_answers(&url)).await?;
    Ok((container, url))
}

async fn start_postgres(image: &str) -> Result<(ContainerAsync<GenericImage>, String), InfraError> {
    let (name, tag) = split_image(image);
    let container = GenericImage::new(name, tag)
        .with_exposed_port(POSTGRES_PORT.tcp())
        .with_wait_for(WaitFor::message_on_stderr(POSTGRES_READY_LINE))
        .with_env_var("POSTGRES_PASSWORD", POSTGRES_PASSWORD)
        .with_env_var("POSTGRES_DB", DATABASE_NAME)
        .with_label("io.stockproof.owner-pid", std::process::id().to_string())
        .with_host_config_modifier(|host_config| publish_on_loopback(host_config, POSTGRES_PORT))
        .with_startup_timeout(Duration::from_millis(CONTAINER_START_WAIT_MS_MAX))
        .start()
        .await
        .map_err(|error| InfraError::Containers(format!("starting {image}: {error}")))?;
    let port = published_port(&container, POSTGRES_PORT, image).await?;
    let url = format!("postgres://postgres:{POSTGRES_PASSWORD}@127.0.0.1:{port}/{DATABASE_NAME}");
    wait_published("postgres", &url, || readiness::postgres_answers(&url)).await?;
    Ok((container, url))
}

/// Publishes `port` on 127.0.0.1 at a port Docker picks, instead of testcontainers'
/// default of every interface: load and fault traffic must stay on loopback.
fn publish_on_loopback(host_config: &mut HostConfig, port: u16) {
    host_config.publish_all_ports = Some(false);
    host_config.port_bindings = Some(HashMap::from([(
        format!("{port}/tcp"),
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".to_owned()),
            host_port: Some(String::new()),
        }]),
    )]));
}

async fn published_port(
    container: &ContainerAsync<GenericImage>,
    port: u16,
    image: &str,
) -> Result<u16, InfraError> {
    container.get_host_port_ipv4(port).await.map_err(|error| {
        InfraError::Containers(format!("{image}: published port of {port}: {error}"))
    })
}

async fn wait_published<Probe, Fut>(
    server: &'static str,
    url: &str,
    probe: Probe,
) -> Result<(), InfraError>
where
    Probe: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let waited = Duration::from_millis(PUBLISHED_PORT_WAIT_MS_MAX);
    match readiness::wait_until(waited, probe, || None).await {
        Ok(()) => Ok(()),
        Err(WaitError::TimedOut(last_error) | WaitError::GaveUp(last_error)) => {
            Err(InfraError::Containers(format!(
                "{server} logged ready but {url} did not answer within {waited:?}: {last_error}"
            )))
        }
    }
}

/// `name:tag` → (name, tag); a bare name means `latest`. A colon before the last `/`
/// belongs to a registry address (`host:5000/redis`), not to the tag.
pub(crate) fn split_image(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

#[cfg(test)]
mod tests;
