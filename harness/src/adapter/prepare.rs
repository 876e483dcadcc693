//! Binding an adapter to a target ([`Bound::prepare`]): its one-time `[[setup]]`, then
//! per scenario SKU the `[[skus.setup]]` steps and the SKU's id in the service. A setup
//! step whose reply is not `ok` stops the run before any load, naming the step.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use minijinja::Value;
use reqwest::Client;

use super::exchange::{Bound, excerpt, keep, map_value};
use super::rules::RuleOutcome;
use super::target_url::TargetUrl;
use super::{Adapter, RunLabel, Step};

/// Why an adapter could not be bound to its target.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("adapter {adapter}: `{step}`: {reason}")]
    Step {
        adapter: String,
        step: String,
        reason: String,
    },
}

impl Bound {
    /// The built-in contract bound to `base_url`, a target whose stores are fresh (no
    /// setup to run, SKU ids are names).
    pub async fn contract(base_url: &str, skus: &[(String, i64)]) -> Result<Bound, PrepareError> {
        let client = crate::load::wire::op_client(None);
        let run = RunLabel::now(true);
        let timeout = Duration::from_secs(10);
        Bound::prepare(super::builtin(), &client, base_url, skus, timeout, &run).await
    }

    /// Binds `adapter` to `base_url`: runs its `[[setup]]` steps once, then for each of
    /// `skus` (the scenario's names and initial stock, in catalogue order) renders its
    /// id and runs `[[skus.setup]]`. A setup step whose reply is not `ok` (or `continue`) stops here,
    /// naming the step, its status and the start of its reply.
    pub async fn prepare(
        adapter: Adapter,
        client: &Client,
        base_url: &str,
        skus: &[(String, i64)],
        timeout: Duration,
        run: &RunLabel,
    ) -> Result<Bound, PrepareError> {
        let vars: Value = adapter
            .vars
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let mut bound = Bound {
            target: TargetUrl::new(base_url),
            vars: vars.clone(),
            setup: Value::from_iter(std::iter::empty::<(String, String)>()),
            skus: HashMap::with_capacity(skus.len()),
            names: HashMap::with_capacity(skus.len()),
            unmatched: Mutex::new(BTreeMap::new()),
            empty: map_value(&BTreeMap::new()),
            run: run.value(),
            adapter,
        };
        let mut setup = BTreeMap::new();
        for step in &bound.adapter.setup {
            let context = Value::from_iter([
                ("vars", vars.clone()),
                ("setup", map_value(&setup)),
                ("run", bound.run.clone()),
            ]);
            bound
                .prepare_step(client, step, &context, timeout, &mut setup)
                .await?;
        }
        bound.setup = map_value(&setup);
        for (index, (name, stock)) in skus.iter().enumerate() {
            let sku = bound
                .prepare_sku(client, index, name, *stock, timeout)
                .await?;
            let id = sku
                .get("id")
                .map_or_else(|| name.clone(), ToString::to_string);
            bound.names.insert(id, name.clone());
            bound.skus.insert(name.clone(), Value::from(sku));
        }
        Ok(bound)
    }

    /// One SKU's template object: name, index, id, and what its setup saved.
    /// One SKU's template object: name, index, initial stock, what its setup saved,
    /// and its id in the service (`[skus] id`, rendered after the setup; else a saved
    /// `id`, else the name).
    async fn prepare_sku(
        &self,
        client: &Client,
        index: usize,
        name: &str,
        stock: i64,
        timeout: Duration,
    ) -> Result<BTreeMap<String, Value>, PrepareError> {
        let mut sku = BTreeMap::from([
            ("name".to_owned(), Value::from(name)),
            ("index".to_owned(), Value::from(index)),
            ("stock".to_owned(), Value::from(stock)),
            ("id".to_owned(), Value::from(name)),
        ]);
        let mut saved = BTreeMap::new();
        for step in &self.adapter.sku_setup {
            let context = Value::from_iter([
                ("vars", self.vars.clone()),
                ("setup", self.setup.clone()),
                ("sku", Value::from(sku.clone())),
                ("saved", map_value(&saved)),
                ("run", self.run.clone()),
            ]);
            self.prepare_step(client, step, &context, timeout, &mut saved)
                .await?;
            sku.extend(
                saved
                    .iter()
                    .map(|(key, value)| (key.clone(), Value::from(value.as_str()))),
            );
        }
        if let Some(template) = &self.adapter.sku_id {
            let context = Value::from_iter([
                ("vars", self.vars.clone()),
                ("setup", self.setup.clone()),
                ("sku", Value::from(sku.clone())),
                ("run", self.run.clone()),
            ]);
            let id = self.render_for_setup("skus.id", template, &context)?;
            sku.insert("id".to_owned(), Value::from(id));
        }
        Ok(sku)
    }

    fn render_for_setup(
        &self,
        step: &str,
        template: &str,
        context: &Value,
    ) -> Result<String, PrepareError> {
        self.adapter
            .render(template, context)
            .map_err(|error| self.prepare_error(step, format!("template: {error}")))
    }

    async fn prepare_step(
        &self,
        client: &Client,
        step: &Step,
        context: &Value,
        timeout: Duration,
        saved: &mut BTreeMap<String, Value>,
    ) -> Result<(), PrepareError> {
        let received = self
            .exchange(client, step, context, timeout, None)
            .await
            .map_err(|reply| {
                self.prepare_error(
                    &step.name,
                    format!(
                        "no usable reply ({})",
                        reply.transport_error.unwrap_or("unknown")
                    ),
                )
            })?;
        if !matches!(
            received.step.outcome,
            RuleOutcome::Ok | RuleOutcome::Continue
        ) {
            let body = excerpt(&String::from_utf8_lossy(&received.raw));
            return Err(self.prepare_error(
                &step.name,
                format!(
                    "reply {} classified `{}`, expected ok: {body}",
                    received.step.status,
                    received.step.outcome.as_str()
                ),
            ));
        }
        keep(&step.save, &received, saved);
        Ok(())
    }

    fn prepare_error(&self, step: &str, reason: String) -> PrepareError {
        PrepareError::Step {
            adapter: self.adapter.name.clone(),
            step: step.to_owned(),
            reason,
        }
    }
}
