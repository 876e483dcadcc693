//! Shared by the facade tests: a local Redis + Postgres pair, the reference engine
//! served in process (`Service`), facades run as the real `stockproof-facade` binary
//! (its first stdout line gives the address), a JSON client, and readers of the
//! engine's stock and of the facade's Postgres copy.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use stockproof_engine::service::{Service, ServiceConfig};
use stockproof_infra::{AofPolicy, Infra, InfraConfig, Provider};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A test's HTTP calls never hang: the facade's engine timeout is 11 s.
const CLIENT_TIMEOUT_MS: u64 = 15_000;
/// Generous: a facade binds and connects to Postgres in well under a second, but CI
/// machines are shared.
const FACADE_START_WAIT_MS_MAX: u64 = 30_000;
/// Bound on waiting for the facade's copy to reach a value: its refresher runs every
/// 250 ms; a loaded CI machine may be slow.
const COPY_WAIT_MS_MAX: u64 = 15_000;
const COPY_POLL_MS: u64 = 100;
/// Bound on one query of the facade's copy.
const COPY_READ_TIMEOUT_MS: u64 = 5_000;

/// One answer: HTTP status and JSON body (`Value::String` when it is not JSON).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
}

impl Answer {
    /// The business code, as text whether the shape sends a string or a number.
    pub(crate) fn code(&self) -> String {
        match &self.body["code"] {
            Value::String(code) => code.clone(),
            other => other.to_string(),
        }
    }
}

/// A facade process, killed (by its own pid) when dropped, and a client of it.
#[derive(Debug)]
pub(crate) struct FacadeProcess {
    _child: Child,
    client: reqwest::Client,
    pub(crate) base: String,
}

impl FacadeProcess {
    pub(crate) async fn get(&self, path: &str) -> Answer {
        get(&self.client, &format!("{}{path}", self.base)).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Answer {
        answer(self.client.post(format!("{}{path}", self.base)).json(body)).await
    }

    /// A POST without a body (the order-no shape's query-string routes).
    pub(crate) async fn post_empty(&self, path: &str) -> Answer {
        answer(self.client.post(format!("{}{path}", self.base))).await
    }
}

/// Runs `stockproof-facade ARGS` and waits for its `listening on` line.
pub(crate) async fn spawn_facade(args: &[&str]) -> FacadeProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stockproof-facade"))
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("spawning stockproof-facade {args:?}: {error}"));
    let stdout = child.stdout.take().expect("facade stdout is piped");
    let mut first_line = String::new();
    let mut reader = BufReader::new(stdout);
    let read = reader.read_line(&mut first_line);
    tokio::time::timeout(Duration::from_millis(FACADE_START_WAIT_MS_MAX), read)
        .await
        .unwrap_or_else(|_| {
            panic!("facade {args:?} printed nothing in {FACADE_START_WAIT_MS_MAX} ms")
        })
        .unwrap_or_else(|error| panic!("reading facade {args:?} stdout: {error}"));
    let base = first_line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("facade {args:?} first line: {first_line:?}"))
        .to_owned();
    FacadeProcess {
        _child: child,
        client: client(),
        base,
    }
}

/// Redis + Postgres, the engine on a free port, and a client.
pub(crate) struct World {
    infra: Infra,
    service: Option<Service>,
    pub(crate) engine: String,
    client: reqwest::Client,
}

impl World {
    pub(crate) async fn start(shop: &str) -> World {
        let config = InfraConfig {
            aof: AofPolicy::Always,
            ..InfraConfig::with_provider(Provider::Local)
        };
        let infra = Infra::start(&config)
            .await
            .expect("starting local redis + postgres");
        let service = Service::start(ServiceConfig::new(
            infra.redis_url(),
            infra.database_url(),
            shop,
        ))
        .await
        .unwrap_or_else(|error| panic!("starting the engine for shop {shop}: {error}"));
        let engine = format!("http://{}", service.local_addr());
        World {
            infra,
            service: Some(service),
            engine,
            client: client(),
        }
    }

    /// The facade's Postgres: the same server as the engine's ledger (its table
    /// `inventory` is its own).
    pub(crate) fn database_url(&self) -> &str {
        self.infra.database_url()
    }

    /// Starts a facade of `shape` in front of this engine, with its Postgres copy.
    pub(crate) async fn facade(&self, shape: &str, plants: &[&str]) -> FacadeProcess {
        let mut args = vec![
            "--shape",
            shape,
            "--engine",
            &self.engine,
            "--database-url",
            self.database_url(),
        ];
        for plant in plants {
            args.extend(["--plant", plant]);
        }
        spawn_facade(&args).await
    }

    /// The engine's own view of a SKU: `{sku, available, reserved, sold, total}`.
    pub(crate) async fn engine_sku(&self, sku: &str) -> Value {
        let answer = get(&self.client, &format!("{}/v1/skus/{sku}", self.engine)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "engine sku {sku}: {answer:?}"
        );
        answer.body
    }

    /// The facade's copy: sku_id → (available_qty, reserved_qty, total_qty).
    pub(crate) async fn copy(&self) -> BTreeMap<String, (i64, i64, i64)> {
        let pool = sqlx::PgPool::connect(self.database_url())
            .await
            .expect("connecting to the facade's postgres");
        let query = sqlx::query_as::<_, (String, i64, i64, i64)>(
            "SELECT sku_id, available_qty, reserved_qty, total_qty FROM inventory",
        )
        .fetch_all(&pool);
        let rows = tokio::time::timeout(Duration::from_millis(COPY_READ_TIMEOUT_MS), query)
            .await
            .expect("reading table inventory in time")
            .expect("reading table inventory");
        pool.close().await;
        rows.into_iter()
            .map(|(sku, available, reserved, total)| (sku, (available, reserved, total)))
            .collect()
    }

    /// Asserts the engine's stock of `sku` as (available, reserved, sold) and the
    /// facade's copy of it as (available_qty, reserved_qty, total_qty).
    pub(crate) async fn assert_stock(
        &self,
        sku: &str,
        engine: (i64, i64, i64),
        copy: (i64, i64, i64),
    ) {
        let stock = self.engine_sku(sku).await;
        let fields = ["available", "reserved", "sold"].map(|field| stock[field].as_i64());
        assert_eq!(
            fields,
            [Some(engine.0), Some(engine.1), Some(engine.2)],
            "engine {stock}"
        );
        let rows = self.copy().await;
        assert_eq!(rows.get(sku), Some(&copy), "copy {rows:?}, engine {stock}");
    }

    /// Waits (bounded) until the facade's copy of `sku` reads `expected`.
    pub(crate) async fn wait_for_copy(&self, sku: &str, expected: (i64, i64, i64)) {
        let mut waited_ms = 0;
        loop {
            let rows = self.copy().await;
            if rows.get(sku) == Some(&expected) {
                return;
            }
            assert!(
                waited_ms < COPY_WAIT_MS_MAX,
                "copy of {sku} is not {expected:?} after {waited_ms} ms: {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(COPY_POLL_MS)).await;
            waited_ms += COPY_POLL_MS;
        }
    }

    pub(crate) async fn shutdown(mut self) {
        if let Some(service) = self.service.take() {
            service.shutdown().await.expect("orderly engine shutdown");
        }
        self.infra
            .shutdown()
            .await
            .expect("stopping redis + postgres");
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(CLIENT_TIMEOUT_MS))
        .build()
        .expect("building the http client")
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("request failed: {error}"));
    let status = response.status();
    let text = response.text().await.expect("reading the body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, body }
}

async fn get(client: &reqwest::Client, url: &str) -> Answer {
    answer(client.get(url)).await
}
