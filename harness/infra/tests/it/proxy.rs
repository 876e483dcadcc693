//! The fault proxy in front of a real Redis: commands pass, a cut breaks the client's
//! connection, a reconnect works again.

use std::time::Duration;

use stockproof_infra::proxy::FaultProxy;
use stockproof_infra::{Infra, InfraConfig, Provider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_through_the_proxy_survives_a_cut_with_a_reconnect() {
    // Goal: Redis answers through the proxy; after a cut the old connection fails (the
    // client sees an error, not a hang) and a new connection answers again.
    let infra = Infra::start(&InfraConfig::with_provider(Provider::Local))
        .await
        .unwrap();
    let redis_port = infra.local().unwrap().redis.port();
    let proxy = FaultProxy::start(([127, 0, 0, 1], redis_port).into())
        .await
        .unwrap();
    let url = format!("redis://{}/0", proxy.listen_address());
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let pong: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(pong, "PONG");

    proxy.cut_connections();
    let after_cut = tokio::time::timeout(
        Duration::from_secs(10),
        redis::cmd("PING").query_async::<String>(&mut connection),
    )
    .await
    .expect("a cut connection fails fast instead of hanging");
    assert!(after_cut.is_err(), "PING passed a cut connection");

    let mut fresh = client.get_multiplexed_async_connection().await.unwrap();
    let pong: String = redis::cmd("PING").query_async(&mut fresh).await.unwrap();
    assert_eq!(pong, "PONG");
}
