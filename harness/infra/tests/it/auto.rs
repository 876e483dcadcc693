//! `auto` picks as documented on this machine: containers when Docker serves the images,
//! local when it does not. (Every branch of the choice is unit-tested in `auto`.)

use stockproof_infra::{Infra, InfraConfig, Provider, ResolvedProvider};

use crate::support::{docker_skip_reason, ping, select_one};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_falls_back_to_local_when_the_images_are_absent() {
    // Goal: with images nobody has, auto never tries to pull: it runs the local binaries.
    let mut config = InfraConfig::with_provider(Provider::Auto);
    config.containers.redis_image = "stockproof-test/absent-redis:0".to_owned();
    let infra = Infra::start(&config).await.unwrap();
    assert_eq!(infra.provider(), ResolvedProvider::Local);
    assert_eq!(ping(infra.redis_url()).await, "PONG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_uses_containers_when_docker_serves_the_images() {
    // Goal: with a daemon and both default images, auto runs containers.
    if docker_skip_reason().await.is_some() {
        return;
    }
    let infra = Infra::start(&InfraConfig::default()).await.unwrap();
    assert_eq!(infra.provider(), ResolvedProvider::Containers);
    assert_eq!(select_one(infra.database_url()).await, 1);
}
