//! Shared by the `http_*` tests: a real `Service` (engine, ledger writer, sweeper,
//! HTTP server on a free loopback port) over a local Redis + Postgres pair, a `reqwest`
//! client, and the state probes every refusal test uses (snapshot, ledger seq).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use stockproof_engine::reconciler::Reconciler;
use stockproof_engine::service::{Service, ServiceConfig};
use stockproof_engine::{ShopKeys, SkuStock, ledger, stores};
use stockproof_infra::{AofPolicy, Infra, InfraConfig, Provider};

/// A test's HTTP calls never hang: the server's own request timeout is 10 s.
const CLIENT_TIMEOUT_MS: u64 = 15_000;
/// The writer commits a batch within ~50 ms; a few seconds covers a loaded CI machine.
const DRAIN_WAIT_MS_MAX: u64 = 10_000;

/// One answer: status, headers, body (JSON, or `Value::String` of the text).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    pub(crate) fn error_code(&self) -> &str {
        self.body["error"].as_str().unwrap_or("<no error field>")
    }
}

pub(crate) struct TestServer {
    pub(crate) infra: Infra,
    pub(crate) service: Option<Service>,
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
    pub(crate) shop: String,
}

impl TestServer {
    /// Local Redis (AOF always, so a restart keeps every acknowledged write) and
    /// Postgres, and the service on a free loopback port.
    pub(crate) async fn start(shop: &str) -> TestServer {
        TestServer::start_with(shop, |_| {}).await
    }

    /// As [`TestServer::start`], with the service's configuration adjusted first.
    pub(crate) async fn start_with(
        shop: &str,
        adjust: impl FnOnce(&mut ServiceConfig),
    ) -> TestServer {
        let config = InfraConfig {
            aof: AofPolicy::Always,
            ..InfraConfig::with_provider(Provider::Local)
        };
        let infra = Infra::start(&config)
            .await
            .expect("starting local redis + postgres");
        let mut service_config = ServiceConfig::new(infra.redis_url(), infra.database_url(), shop);
        adjust(&mut service_config);
        let service = Service::start(service_config)
            .await
            .unwrap_or_else(|error| panic!("starting the service for shop {shop}: {error}"));
        let base = format!("http://{}", service.local_addr());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(CLIENT_TIMEOUT_MS))
            .build()
            .expect("building the http client");
        TestServer {
            infra,
            service: Some(service),
            client,
            base,
            shop: shop.to_owned(),
        }
    }

    /// Stops the service in order (the writer drains), runs `between` on the stores,
    /// then starts a new service (migrations, recovery) over them.
    pub(crate) async fn restart_service<F, Fut>(&mut self, between: F)
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let service = self.service.take().expect("service running");
        service.shutdown().await.expect("orderly shutdown");
        between(self.infra.redis_url().to_owned()).await;
        self.serve_again().await;
    }

    /// Starts a new service (migrations, recovery) over the stores, once the last one
    /// was shut down.
    pub(crate) async fn serve_again(&mut self) {
        assert!(
            self.service.is_none(),
            "shop {}: a service still runs",
            self.shop
        );
        let service = Service::start(ServiceConfig::new(
            self.infra.redis_url(),
            self.infra.database_url(),
            &self.shop,
        ))
        .await
        .unwrap_or_else(|error| panic!("restarting the service for shop {}: {error}", self.shop));
        self.base = format!("http://{}", service.local_addr());
        self.service = Some(service);
    }

    pub(crate) fn service(&self) -> &Service {
        self.service.as_ref().expect("service running")
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("request to {} failed: {error}", self.base));
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("reading the body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.send(self.client.get(self.url(path))).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(self.client.post(self.url(path)).json(body)).await
    }

    /// A raw body with `Content-Type: application/json`.
    pub(crate) async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Answer {
        let request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        self.send(request).await
    }

    pub(crate) async fn reserve(&self, key: &str, body: &Value) -> Answer {
        let request = self
            .client
            .post(self.url("/v1/reservations"))
            .header("Idempotency-Key", key)
            .json(body);
        self.send(request).await
    }

    pub(crate) async fn restock(&self, sku: &str, qty: i64) -> Answer {
        self.post(
            &format!("/v1/skus/{sku}/restock"),
            &serde_json::json!({ "qty": qty }),
        )
        .await
    }

    /// Every SKU's stock, read through the engine.
    pub(crate) async fn snapshot(&self) -> BTreeMap<String, SkuStock> {
        self.service()
            .engine()
            .snapshot()
            .await
            .expect("snapshot through the engine")
    }

    /// The shop's ledger seq in Redis: unchanged means no event was appended.
    pub(crate) async fn seq(&self) -> i64 {
        let client = redis::Client::open(self.infra.redis_url()).expect("redis url");
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .expect("connecting to redis");
        let seq: Option<i64> = redis::cmd("GET")
            .arg(ShopKeys::new(&self.shop).seq())
            .query_async(&mut connection)
            .await
            .expect("GET seq");
        seq.unwrap_or(0)
    }

    /// Snapshot and seq together: what "nothing changed" compares.
    pub(crate) async fn state(&self) -> (BTreeMap<String, SkuStock>, i64) {
        (self.snapshot().await, self.seq().await)
    }

    /// Waits for the ledger writer to drain, then runs the reconciler (Redis vs the
    /// Postgres ledger and projections) and fails on any drift.
    pub(crate) async fn assert_no_drift(&self) {
        let keys = ShopKeys::new(&self.shop);
        let mut redis = stores::connect_redis(self.infra.redis_url())
            .await
            .expect("connecting to redis");
        ledger::wait_drained(&mut redis, &keys, DRAIN_WAIT_MS_MAX)
            .await
            .unwrap_or_else(|error| panic!("shop {}: {error}", self.shop));
        let pool = stores::connect_postgres(self.infra.database_url())
            .await
            .expect("connecting to postgres");
        let report = Reconciler::new(redis, pool, keys)
            .reconcile()
            .await
            .unwrap_or_else(|error| panic!("reconciling shop {}: {error}", self.shop));
        assert!(
            report.is_clean(),
            "shop {}: drift {:?}",
            self.shop,
            report.drifts
        );
    }

    pub(crate) async fn shutdown(mut self) {
        if let Some(service) = self.service.take() {
            service.shutdown().await.expect("orderly shutdown");
        }
    }
}

/// Asserts a refusal: status, error code, and (when given) the field it names.
pub(crate) fn assert_refused(answer: &Answer, status: StatusCode, code: &str, field: Option<&str>) {
    assert_eq!(answer.status, status, "status of {answer:?}");
    assert_eq!(answer.error_code(), code, "error code of {answer:?}");
    assert!(
        answer.body["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "a refusal carries a message: {answer:?}"
    );
    if let Some(field) = field {
        assert_eq!(answer.body["field"], field, "field of {answer:?}");
    }
}
