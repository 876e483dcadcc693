//! The `containers` provider against a real Docker daemon and the default images (in
//! CI: the look-alikes `scripts/build-images` makes).

use stockproof_infra::{AofPolicy, Infra, InfraConfig, Provider, ResolvedProvider};
use testcontainers::bollard::Docker;

use crate::support::{config_get, docker_skip_reason, ping, select_one};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_answer_on_loopback_and_are_removed_after_drop() {
    // Goal: both containers start from the configured images, answer PING / SELECT 1 on
    // ports published on 127.0.0.1 only, run the AOF policy asked for, and are removed
    // when the Infra is dropped.
    if docker_skip_reason().await.is_some() {
        return;
    }
    let config = InfraConfig {
        aof: AofPolicy::Always,
        ..InfraConfig::with_provider(Provider::Containers)
    };
    let infra = Infra::start(&config).await.unwrap();
    assert_eq!(infra.provider(), ResolvedProvider::Containers);
    assert_eq!(ping(infra.redis_url()).await, "PONG");
    assert_eq!(select_one(infra.database_url()).await, 1);
    assert_eq!(config_get(infra.redis_url(), "appendfsync").await, "always");
    assert_eq!(config_get(infra.redis_url(), "appendonly").await, "yes");

    let docker = Docker::connect_with_defaults().unwrap();
    let ids = infra.containers().unwrap().container_ids();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let details = docker.inspect_container(id, None).await.unwrap();
        let ports = details.network_settings.unwrap().ports.unwrap();
        let bindings: Vec<_> = ports.values().flatten().flatten().collect();
        assert!(!bindings.is_empty(), "container {id} publishes no port");
        for binding in bindings {
            assert_eq!(
                binding.host_ip.as_deref(),
                Some("127.0.0.1"),
                "container {id} publishes beyond loopback: {binding:?}"
            );
        }
    }

    drop(infra);
    for id in &ids {
        assert!(
            docker.inspect_container(id, None).await.is_err(),
            "container {id} still exists after drop"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_says_how_to_get_it() {
    // Goal: an image that is not present is reported with the way to build or pull it,
    // not with a registry error.
    if docker_skip_reason().await.is_some() {
        return;
    }
    let mut config = InfraConfig::with_provider(Provider::Containers);
    config.containers.redis_image = "stockproof-test/absent:0".to_owned();
    let message = Infra::start(&config).await.unwrap_err().to_string();
    assert!(message.contains("stockproof-test/absent:0"), "{message}");
    assert!(message.contains("scripts/build-images"), "{message}");
}
