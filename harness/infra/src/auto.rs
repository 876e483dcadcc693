//! The `auto` provider's choice: containers when a Docker daemon answers and both images
//! are present (nothing is pulled behind the user's back), else local binaries, else an
//! error that says exactly what to install. The choice itself is a pure function over
//! two probes, so every branch is tested without changing the machine.

use std::time::Duration;

use testcontainers::bollard::Docker;

use crate::{InfraError, Provider};

/// A daemon that does not answer `/_ping` within this is treated as absent.
const DOCKER_PROBE_TIMEOUT_MS: u64 = 2_000;

/// What the Docker side can offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerProbe {
    /// No daemon answered; the reason says where we looked.
    NoDaemon(String),
    /// A daemon answered but these images are not present.
    ImagesMissing(Vec<String>),
    Ready,
}

impl DockerProbe {
    fn describe(&self) -> String {
        match self {
            DockerProbe::NoDaemon(reason) => reason.clone(),
            DockerProbe::ImagesMissing(images) => {
                format!(
                    "Docker answers but image(s) {} are not present",
                    images.join(", ")
                )
            }
            DockerProbe::Ready => "Docker is ready".to_owned(),
        }
    }
}

/// Asks the daemon at `DOCKER_HOST` (default: the local socket) whether it answers and
/// which of `images` it has.
pub async fn probe_docker(images: &[&str]) -> DockerProbe {
    let timeout = Duration::from_millis(DOCKER_PROBE_TIMEOUT_MS);
    let where_ =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
    let docker = match Docker::connect_with_defaults() {
        Ok(docker) => docker,
        Err(error) => {
            return DockerProbe::NoDaemon(format!("no Docker daemon at {where_}: {error}"));
        }
    };
    match tokio::time::timeout(timeout, docker.ping()).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => {
            return DockerProbe::NoDaemon(format!("no Docker daemon answers at {where_}: {error}"));
        }
        Err(_) => {
            return DockerProbe::NoDaemon(format!(
                "the Docker daemon at {where_} did not answer within {timeout:?}"
            ));
        }
    }
    let mut missing = Vec::new();
    for image in images {
        let present = matches!(
            tokio::time::timeout(timeout, docker.inspect_image(image)).await,
            Ok(Ok(_))
        );
        if !present {
            missing.push((*image).to_owned());
        }
    }
    if missing.is_empty() {
        DockerProbe::Ready
    } else {
        DockerProbe::ImagesMissing(missing)
    }
}

/// The provider `auto` resolves to, given what Docker offers and whether the local
/// binaries were found (`Err` says which are missing).
pub fn choose(
    docker: &DockerProbe,
    local: &Result<(), InfraError>,
) -> Result<Provider, InfraError> {
    match (docker, local) {
        (DockerProbe::Ready, _) => Ok(Provider::Containers),
        (_, Ok(())) => Ok(Provider::Local),
        (docker, Err(local_error)) => Err(InfraError::NothingAvailable {
            docker: docker.describe(),
            local: local_error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests;
