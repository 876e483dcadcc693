//! Reading a service's own stores after the load, read-only, as its adapter's
//! `[[stores]]` declare them: a Postgres query (in a read-only transaction) returning one
//! row per SKU, or a Redis hash per SKU. Each store becomes a
//! [`StoreReading`] by scenario SKU; one that cannot be read, or returns the wrong shape,
//! is a reading with an error naming the store and the column, which makes C2 unknown.

use std::collections::{BTreeMap, HashMap};

use minijinja::Value;
use sqlx::{Column, Row};

use super::exchange::Bound;
use super::{Store, StoreKind};
use crate::checks::stores::{STORES_FORMAT_VERSION, StoreReading, StoresSnapshot};
use crate::history::StockFields;

/// The stock fields a store row may carry.
const STOCK_COLUMNS: [&str; 5] = ["available", "reserved", "sold", "total", "on_hand"];

impl Bound {
    /// Reads every declared store; `None` when the adapter declares none.
    pub async fn read_stores(&self) -> Option<StoresSnapshot> {
        if self.adapter.stores.is_empty() {
            return None;
        }
        let mut stores = Vec::with_capacity(self.adapter.stores.len());
        for store in &self.adapter.stores {
            let (skus, error) = match self.read_store(store).await {
                Ok(skus) => (skus, None),
                Err(reason) => (BTreeMap::new(), Some(reason)),
            };
            stores.push(StoreReading {
                name: store.name.clone(),
                kind: match store.kind {
                    StoreKind::Postgres { .. } => "postgres",
                    StoreKind::Redis { .. } => "redis",
                }
                .to_owned(),
                error,
                skus,
            });
        }
        Some(StoresSnapshot {
            format_version: STORES_FORMAT_VERSION,
            stores,
        })
    }

    async fn read_store(&self, store: &Store) -> Result<BTreeMap<String, StockFields>, String> {
        match &store.kind {
            StoreKind::Postgres { query, sku_key } => {
                let keys = self.render_per_sku(sku_key)?;
                read_postgres(&store.url, query, &keys).await
            }
            StoreKind::Redis { key, fields } => {
                let keys = self.render_per_sku(key)?;
                read_redis(&store.url, &keys, fields).await
            }
        }
    }

    /// `template` rendered for every SKU of the run: rendered value → scenario name.
    fn render_per_sku(&self, template: &str) -> Result<HashMap<String, String>, String> {
        let compiled = self
            .adapter
            .templates
            .get_template(template)
            .map_err(|error| error.to_string())?;
        self.sku_names()
            .map(|name| {
                let context = Value::from_iter([
                    ("vars", self.vars.clone()),
                    ("setup", self.setup.clone()),
                    ("sku", self.sku_value(name)),
                ]);
                let rendered = compiled
                    .render(&context)
                    .map_err(|error| format!("{template}: {error}"))?;
                Ok((rendered, name.to_owned()))
            })
            .collect()
    }
}

async fn read_postgres(
    url: &str,
    query: &str,
    skus: &HashMap<String, String>,
) -> Result<BTreeMap<String, StockFields>, String> {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .map_err(|error| format!("connecting: {error}"))?;
    let mut transaction = connection
        .begin()
        .await
        .map_err(|error| format!("BEGIN: {error}"))?;
    sqlx::query("SET TRANSACTION READ ONLY")
        .execute(&mut *transaction)
        .await
        .map_err(|error| format!("SET TRANSACTION READ ONLY: {error}"))?;
    // The query is the adapter author's own, run read-only: asserted safe on purpose.
    let rows = sqlx::query(sqlx::AssertSqlSafe(query.to_owned()))
        .fetch_all(&mut *transaction)
        .await
        .map_err(|error| format!("the query failed: {error}"))?;
    let mut stocks = BTreeMap::new();
    for row in &rows {
        let sku: String = row
            .try_get("sku")
            .map_err(|error| format!("column `sku` (text): {error}"))?;
        let Some(name) = skus.get(&sku) else {
            continue;
        };
        let mut stock = StockFields::default();
        for column in row.columns() {
            let field = column.name();
            if !STOCK_COLUMNS.contains(&field) {
                continue;
            }
            let value: Option<i64> = row
                .try_get(field)
                .map_err(|error| format!("column `{field}` (bigint): {error}"))?;
            set_field(&mut stock, field, value);
        }
        stocks.insert(name.clone(), stock);
    }
    Ok(stocks)
}

async fn read_redis(
    url: &str,
    keys: &HashMap<String, String>,
    fields: &[(String, String)],
) -> Result<BTreeMap<String, StockFields>, String> {
    let client = redis::Client::open(url).map_err(|error| format!("the URL: {error}"))?;
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|error| format!("connecting: {error}"))?;
    let mut stocks = BTreeMap::new();
    for (key, name) in keys {
        let hash: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .map_err(|error| format!("HGETALL {key}: {error}"))?;
        if hash.is_empty() {
            continue;
        }
        let mut stock = StockFields::default();
        for (field, hash_field) in fields {
            let value = match hash.get(hash_field) {
                Some(text) => Some(text.trim().parse::<i64>().map_err(|_| {
                    format!("{key} field `{hash_field}` ({field}): `{text}` is not an integer")
                })?),
                None => None,
            };
            set_field(&mut stock, field, value);
        }
        stocks.insert(name.clone(), stock);
    }
    Ok(stocks)
}

fn set_field(stock: &mut StockFields, field: &str, value: Option<i64>) {
    match field {
        "available" => stock.available = value,
        "reserved" => stock.reserved = value,
        "sold" => stock.sold = value,
        "total" => stock.total = value,
        "on_hand" => stock.on_hand = value,
        _ => {}
    }
}
