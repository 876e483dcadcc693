//! Adapters proven on services that do not speak stockproof's contract: the test-tree
//! facades (`stockproof-facades`, two API shapes of their own in front of a real
//! `stockproof serve`, each keeping a Postgres copy of the stock) driven through
//! `adapters/order-no.toml` and `adapters/product-rest.toml`. Honest facades pass the
//! probe and a flash sale; each planted bug is caught by the check that names it.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use stockproof_facades::{FacadeConfig, HOLD_TTL_MS_DEFAULT, Plant, Shape};

use crate::support::{
    Served, describe, flash_sale_without_slos, repo, run_bounded, serve, stockproof,
};

/// A facade served in process on a free port, in front of a `stockproof serve` whose
/// Postgres also holds the facade's copy (table `inventory`).
struct Stack {
    engine: Served,
    database_url: String,
    facade_url: String,
    _runtime: tokio::runtime::Runtime,
}

impl Stack {
    fn start(shape: Shape, plants: &[Plant]) -> Stack {
        let engine = serve(&[], Stdio::null());
        let database_url = engine
            .before
            .iter()
            .find_map(|line| line.strip_prefix("export DATABASE_URL="))
            .map(|url| url.trim_matches('\'').to_owned())
            .expect("serve prints DATABASE_URL");
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let config = FacadeConfig {
            shape,
            engine_url: engine.url.clone(),
            listen: "127.0.0.1:0".parse().expect("an address"),
            database_url: Some(database_url.clone()),
            plants: plants.to_vec(),
            hold_ttl_ms: HOLD_TTL_MS_DEFAULT,
        };
        let bound = runtime
            .block_on(stockproof_facades::bind(config))
            .expect("the facade starts");
        let address = bound.listener.local_addr().expect("its address");
        runtime.spawn(async move { axum::serve(bound.listener, bound.router).await });
        Stack {
            engine,
            database_url,
            facade_url: format!("http://{address}"),
            _runtime: runtime,
        }
    }

    /// `stockproof ARGS… --target FACADE --adapter ADAPTER`, with the store's URL set.
    fn stockproof(&self, args: &[&str], adapter: &str) -> Output {
        run_bounded(
            stockproof()
                .args(args)
                .args(["--target", &self.facade_url, "--adapter"])
                .arg(repo().join("adapters").join(adapter))
                .env("INVENTORY_DATABASE_URL", &self.database_url),
        )
    }

    fn stop(self) {
        self.engine.kill();
    }
}

/// A short flash sale without SLOs (debug builds miss them; timing is not what is tested).
fn flash_sale(dir: &Path) -> PathBuf {
    flash_sale_without_slos(dir)
}

fn short_flash_sale(stack: &Stack, adapter: &str, dir: &Path) -> Output {
    flash_sale_for(stack, adapter, dir, "3s")
}

/// The flash sale of [`short_flash_sale`] for `duration`.
fn flash_sale_for(stack: &Stack, adapter: &str, dir: &Path, duration: &str) -> Output {
    let scenario = flash_sale(dir);
    let reports = dir.join("reports");
    let scenario = scenario.to_string_lossy().into_owned();
    let reports = reports.to_string_lossy().into_owned();
    stack.stockproof(
        &[
            "run",
            &scenario,
            "--users",
            "20",
            "--duration",
            duration,
            "--report-dir",
            &reports,
        ],
        adapter,
    )
}

// Goal: through its adapter, the honest order-no facade answers every probe step as
// the contract means, and a flash sale on it passes every check that applies (C4 is
// not applicable: the API has no TTL; C2 judges its Postgres copy).
#[test]
fn order_no_facade_passes_probe_and_the_flash_sale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = Stack::start(Shape::OrderNo, &[]);
    let probe = stack.stockproof(&["probe"], "order-no.toml");
    assert_eq!(probe.status.code(), Some(0), "{}", describe(&probe));
    let run = short_flash_sale(&stack, "order-no.toml", dir.path());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    assert!(
        stdout.contains("C2 conservation: pass") && stdout.contains("C4 expiry: not applicable"),
        "{stdout}"
    );
    stack.stop();
}

// Goal: the product-rest facade with `release-leaks` (a release answered as cancelled
// that keeps the hold) is caught: buyers are refused while units are surely on the
// shelf (C8), and reads show them held (C7) when a read lands in such a window.
// Method: 6 s, so that enough releases happen on a busy machine.
#[test]
fn release_leaks_fail_c8_on_product_rest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = Stack::start(Shape::ProductRest, &[Plant::ReleaseLeaks]);
    let run = short_flash_sale(&stack, "product-rest.toml", dir.path());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{}", describe(&run));
    assert!(
        stdout.contains("C7 reads within bounds: fail") && stdout.contains("C8 no undersell: fail"),
        "{stdout}"
    );
    stack.stop();
}

// Goal: the order-no facade with `ignore-order-no` (a replayed orderNo holds again under
// a fresh engine key, answered as a normal success) is caught on a scenario that fits a
// one-line API and re-sends: C3 names the replay answered as a fresh hold (the adapter
// tells replays apart by their message), and the hidden holds leave fewer units than
// the history allows (C7).
#[test]
fn ignore_order_no_is_caught_on_one_line_retries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = Stack::start(Shape::OrderNo, &[Plant::IgnoreOrderNo]);
    let reports = dir.path().join("reports").to_string_lossy().into_owned();
    let scenario = repo().join("scenarios/retry-one-line.toml");
    let scenario = scenario.to_string_lossy().into_owned();
    let run = stack.stockproof(
        &[
            "run",
            &scenario,
            "--users",
            "20",
            "--duration",
            "4s",
            "--report-dir",
            &reports,
        ],
        "order-no.toml",
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{}", describe(&run));
    assert!(
        stdout.contains("C3 idempotency: fail") && stdout.contains("a replay held the units again"),
        "{stdout}"
    );
    assert!(stdout.contains("C7 reads within bounds: fail"), "{stdout}");
    stack.stop();
}

// Goal: a drift between the facade's Postgres copy and what it serves is caught by C2
// on the declared store, naming the store and the field.
#[test]
fn a_drifting_copy_fails_c2_naming_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = Stack::start(Shape::OrderNo, &[Plant::Drift]);
    let run = short_flash_sale(&stack, "order-no.toml", dir.path());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{}", describe(&run));
    assert!(
        stdout.contains("C2 drift: store `inventory-db` has reserved"),
        "{stdout}"
    );
    stack.stop();
}
