use super::*;

fn local_missing() -> Result<(), InfraError> {
    Err(InfraError::BinaryMissing {
        program: "redis-server",
        looked_in: "PATH=/nowhere".to_owned(),
        package: "redis-server",
    })
}

#[test]
fn auto_prefers_ready_containers_then_local_then_explains() {
    // Goal: the documented order, one line per case: (docker, local) → choice.
    let no_daemon = DockerProbe::NoDaemon("no Docker daemon answers at unix:///x".to_owned());
    let no_images = DockerProbe::ImagesMissing(vec!["redis:7".to_owned()]);
    let cases = [
        (DockerProbe::Ready, Ok(()), Some(Provider::Containers)),
        (
            DockerProbe::Ready,
            local_missing(),
            Some(Provider::Containers),
        ),
        (no_images.clone(), Ok(()), Some(Provider::Local)),
        (no_daemon.clone(), Ok(()), Some(Provider::Local)),
        (no_images, local_missing(), None),
        (no_daemon, local_missing(), None),
    ];
    for (docker, local, expected) in cases {
        let chosen = choose(&docker, &local);
        match expected {
            Some(provider) => assert_eq!(chosen.unwrap(), provider, "{docker:?}"),
            None => {
                let message = chosen.unwrap_err().to_string();
                assert!(
                    message.contains("apt-get install redis-server"),
                    "{message}"
                );
                assert!(message.contains("scripts/build-images"), "{message}");
                assert!(message.contains(&docker.describe()), "{message}");
            }
        }
    }
}
