//! A service's own stores declared in its adapter (`[[stores]]`), both kinds read for
//! real: the reference engine served by `stockproof serve`, driven through the
//! contract's adapter plus its Redis hashes (`kind = "redis"`) and its Postgres `skus`
//! table (`kind = "postgres"`) as stores. They agree on an honest run; a store whose
//! fields are read under the wrong names is caught by C2, naming the store.

use std::path::Path;
use std::process::{Output, Stdio};

use crate::support::{describe, flash_sale_without_slos, repo, run_bounded, serve, stockproof};

/// The shop `serve` owns here: its Redis keys are `sp:{own}:…`.
const SHOP: &str = "own";

/// The contract's adapter plus the engine's two stores, with the Redis hash's field
/// names given by `redis_fields` (`available = "available", …`).
fn adapter_with_stores(redis_fields: &str) -> String {
    let contract = std::fs::read_to_string(repo().join("adapters/stockproof.toml"))
        .expect("the contract's adapter");
    format!(
        r#"{contract}

[[stores]]
name = "engine-redis"
kind = "redis"
url = {{ env = "OWN_REDIS_URL" }}
key = "sp:{{{SHOP}}}:sku:{{{{ sku.id }}}}"
fields = {{ {redis_fields} }}

[[stores]]
name = "engine-db"
kind = "postgres"
url = {{ env = "OWN_DATABASE_URL" }}
query = "SELECT sku, available, reserved, sold, total FROM skus"
"#
    )
}

/// A short flash sale against a fresh `stockproof serve`, through `adapter`.
fn run_with(adapter: &str, dir: &Path) -> Output {
    let served = serve(&["--shop", SHOP], Stdio::null());
    let export = |name: &str| {
        let prefix = format!("export {name}=");
        served
            .before
            .iter()
            .find_map(|line| line.strip_prefix(&prefix))
            .map(|url| url.trim_matches('\'').to_owned())
            .unwrap_or_else(|| panic!("serve prints {name}"))
    };
    let (redis_url, database_url) = (export("REDIS_URL"), export("DATABASE_URL"));
    let adapter_path = dir.join("with-stores.toml");
    std::fs::write(&adapter_path, adapter).expect("write the adapter");
    let output = run_bounded(
        stockproof()
            .arg("run")
            .arg(flash_sale_without_slos(dir))
            .args(["--users", "10", "--duration", "2s", "--report-dir"])
            .arg(dir.join("reports"))
            .args(["--target", &served.url, "--adapter"])
            .arg(&adapter_path)
            .env("OWN_REDIS_URL", redis_url)
            .env("OWN_DATABASE_URL", database_url),
    );
    served.kill();
    output
}

// Goal: both kinds of store are read and agree on an honest engine: C2 passes judging
// two stores, and stores.json holds the SKU's four fields from each.
#[test]
fn redis_and_postgres_stores_of_an_honest_engine_agree() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fields =
        r#"available = "available", reserved = "reserved", sold = "sold", total = "total""#;
    let run = run_with(&adapter_with_stores(fields), dir.path());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    assert!(stdout.contains("C2 conservation: pass"), "{stdout}");
    assert!(stdout.contains("stores 2"), "{stdout}");
    let folder = std::fs::read_dir(dir.path().join("reports"))
        .expect("the report dir")
        .next()
        .expect("a run folder")
        .expect("its entry")
        .path();
    let stores: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(folder.join("stores.json")).expect("stores.json"),
    )
    .expect("stores.json is JSON");
    for store in stores["stores"].as_array().expect("a list of stores") {
        let drop = &store["skus"]["drop-001"];
        assert!(
            drop["total"].as_i64().is_some() && drop["available"].as_i64().is_some(),
            "{stores}"
        );
    }
}

// Goal: a Redis store disagreeing with the database and the final read is caught by
// C2, naming the Redis store.
// Method: read the engine's hash with `available` and `sold` swapped.
#[test]
fn a_redis_store_that_disagrees_fails_c2_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fields =
        r#"available = "sold", reserved = "reserved", sold = "available", total = "total""#;
    let run = run_with(&adapter_with_stores(fields), dir.path());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{}", describe(&run));
    assert!(
        stdout.contains("C2 drift: store `engine-redis` has"),
        "{stdout}"
    );
}
