//! The service under test: either the reference engine served in process (Redis and
//! Postgres from `stockproof-infra`, the engine's HTTP service on a free loopback port,
//! with its sweeper) or a URL the user gives (`--target`), which only the black-box
//! checks can judge. Also the health probe that tells a down target (exit 4) before any
//! load is sent.
//!
//! Not here: seeding, load, quiesce (`super::pipeline`).

use std::sync::Arc;
use std::time::Duration;

use stockproof_engine::service::{Service, ServiceConfig, VariantCrashes};
use stockproof_engine::strategy::Strategy;
use stockproof_engine::variants::Variant;
use stockproof_infra::proxy::FaultProxy;
use stockproof_infra::{Infra, InfraConfig};
use tokio::sync::Mutex;

use super::faults::{ProxyError, proxy_in_front};

/// Bound on the health probe: a live target answers `/healthz` in a millisecond.
pub const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why there is no target to drive.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("starting Redis and Postgres (provider {provider}): {source}")]
    Infra {
        provider: String,
        source: stockproof_infra::InfraError,
    },
    #[error("starting the engine's HTTP service: {0}")]
    Service(#[from] stockproof_engine::service::ServiceError),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error("the target {url} is down: {reason} (is it running, and does it serve GET /healthz?)")]
    Down { url: String, reason: String },
}

/// Where the load goes.
#[derive(Debug)]
pub enum Target {
    /// The reference engine (or a `--variant`), served by this process; boxed, as it
    /// is far larger than the other variant.
    InProcess(Box<InProcess>),
    /// Someone else's service speaking the contract.
    External { url: String },
}

/// The in-process engine and the servers it runs on.
#[derive(Debug)]
pub struct InProcess {
    /// Shared with the fault injector, which restarts and signals the servers.
    pub infra: Arc<Mutex<Infra>>,
    /// The servers' own URLs (not through the proxies): the harness's white-box reads
    /// and the injector's admin commands.
    pub redis_url: String,
    pub database_url: String,
    pub service: Service,
    pub shop: String,
    pub url: String,
    /// In front of Redis and Postgres when the run injects faults; the engine talks
    /// through them.
    pub proxies: Option<(Arc<FaultProxy>, Arc<FaultProxy>)>,
    /// The deliberately broken engine served instead of the reference, if asked for.
    pub variant: Option<Variant>,
    /// The inventory design the service runs (`--strategy`).
    pub strategy: Strategy,
}

impl Target {
    /// Starts Redis, Postgres and the engine for shop `shop`, with the scenario's
    /// idempotency retention.
    /// With `proxies`, the engine reaches Redis and Postgres through fault proxies.
    /// `strategy` is the inventory design served (a `variant` is broken on top of it).
    pub async fn start_in_process(
        config: &InfraConfig,
        shop: &str,
        retention: Duration,
        proxies: bool,
        variant: Option<Variant>,
        strategy: Strategy,
    ) -> Result<Target, TargetError> {
        let infra = Infra::start(config)
            .await
            .map_err(|source| TargetError::Infra {
                provider: config.provider.to_string(),
                source,
            })?;
        let redis_url = infra.redis_url().to_owned();
        let database_url = infra.database_url().to_owned();
        let (engine_redis_url, engine_database_url, proxies) = if proxies {
            let (redis_proxy, redis_via) = proxy_in_front(&redis_url).await?;
            let (postgres_proxy, postgres_via) = proxy_in_front(&database_url).await?;
            (redis_via, postgres_via, Some((redis_proxy, postgres_proxy)))
        } else {
            (redis_url.clone(), database_url.clone(), None)
        };
        let mut service_config = ServiceConfig::new(&engine_redis_url, &engine_database_url, shop);
        service_config.engine.retention_ms =
            i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        service_config.variant = variant;
        service_config.strategy = strategy;
        // A variant's crash comes from the run's faults, so it is on the timeline.
        service_config.variant_crashes = VariantCrashes::Injected;
        let service = Service::start(service_config).await?;
        let url = format!("http://{}", service.local_addr());
        Ok(Target::InProcess(Box::new(InProcess {
            infra: Arc::new(Mutex::new(infra)),
            redis_url,
            database_url,
            service,
            proxies,
            shop: shop.to_owned(),
            url,
            variant,
            strategy,
        })))
    }

    pub fn url(&self) -> &str {
        match self {
            Target::InProcess(in_process) => &in_process.url,
            Target::External { url } => url.trim_end_matches('/'),
        }
    }

    /// Whether the white-box checks (C2, C5) can run: only with the engine's stores.
    pub fn is_white_box(&self) -> bool {
        matches!(self, Target::InProcess(_))
    }

    /// Stops the service (draining it) and then Redis and Postgres; errors are logged,
    /// since the run's verdict is already decided.
    pub async fn stop(self) {
        if let Target::InProcess(in_process) = self {
            if let Err(error) = in_process.service.shutdown().await {
                tracing::warn!(%error, "stopping the engine's service");
            }
            stop_infra(in_process.infra).await;
        }
    }
}

/// Stops Redis and Postgres once nothing else holds them (the fault schedule is over).
pub async fn stop_infra(infra: Arc<Mutex<Infra>>) {
    match Arc::try_unwrap(infra) {
        Ok(infra) => {
            if let Err(error) = infra.into_inner().shutdown().await {
                tracing::warn!(%error, "stopping Redis and Postgres");
            }
        }
        // Still shared: dropping the last holder stops the servers.
        Err(_) => tracing::warn!("Redis and Postgres still shared at the end of the run"),
    }
}

/// `GET {url}{health}` answers 2xx within [`HEALTH_PROBE_TIMEOUT`] (without a health
/// path: `GET {url}/` answers anything at all), else the target is down.
pub async fn probe(url: &str, health: Option<&str>) -> Result<(), TargetError> {
    let down = |reason: String| TargetError::Down {
        url: url.to_owned(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(HEALTH_PROBE_TIMEOUT)
        .build()
        .map_err(|error| down(error.to_string()))?;
    let path = health.unwrap_or("/");
    let response = client
        .get(format!("{}{path}", url.trim_end_matches('/')))
        .send()
        .await
        .map_err(|error| down(describe(&error)))?;
    if response.status().is_success() || health.is_none() {
        Ok(())
    } else {
        Err(down(format!("GET {path} answered {}", response.status())))
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("no answer within {} s", HEALTH_PROBE_TIMEOUT.as_secs())
    } else if error.is_connect() {
        "connection refused".to_owned()
    } else {
        error.to_string()
    }
}
