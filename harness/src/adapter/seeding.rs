//! Getting a scenario SKU's initial stock into a service the way its adapter says: a
//! `restock` op, a seed program run with the SKU and quantity, or stock put there out of
//! band and read back. Each way ends in the [`Reply`] recorded for the harness's seeding
//! restock, so the checks count the stock as supply whichever way it arrived.

use std::process::Stdio;
use std::time::Duration;

use minijinja::Value;
use reqwest::Client;

use super::Seed;
use super::exchange::{Bound, Session};
use crate::history::{Op, OpKind, Outcome};
use crate::load::wire::Reply;

impl Bound {
    /// Seeds `qty` units of `sku` as the adapter's `seed` says.
    pub async fn seed(&self, client: &Client, sku: &str, qty: i64, timeout: Duration) -> Reply {
        let restock = Op::Restock {
            sku: sku.to_owned(),
            qty,
        };
        match &self.adapter.seed {
            Seed::Restock => self.send(client, &restock, timeout, &Session::new(0)).await,
            Seed::Command(arguments) => self.seed_by_command(arguments, sku, qty, timeout).await,
            Seed::OutOfBand => self.read_back(client, sku, qty, timeout).await,
        }
    }

    /// What `sku` already holds in the service before the run, as a reason not to start:
    /// a run on stock an earlier run left (or holds it took) would count that stock as
    /// its own. `None` when the SKU is new or empty, when the adapter cannot read a SKU,
    /// or when the stock is put there out of band (read back instead).
    pub async fn leftover_stock(
        &self,
        client: &Client,
        sku: &str,
        timeout: Duration,
    ) -> Option<String> {
        if !self.adapter.supports(OpKind::GetSku) || matches!(self.adapter.seed, Seed::OutOfBand) {
            return None;
        }
        let read = Op::GetSku {
            sku: sku.to_owned(),
        };
        let reply = self.send(client, &read, timeout, &Session::new(0)).await;
        let fields = match reply.outcome {
            Outcome::Ok => reply.response?.read_fields()?,
            Outcome::Fail | Outcome::Unknown => return None,
        };
        let held: Vec<String> = fields
            .present()
            .filter(|(_, value)| *value != 0)
            .map(|(field, value)| format!("{field} {value}"))
            .collect();
        let id = self.sku_value(sku).get_attr("id").unwrap_or_default();
        (!held.is_empty()).then(|| {
            format!(
                "it already holds stock before the run (id `{id}` in the service: {}); stock an earlier run left would be counted as this run's. Give the adapter's `[skus] id` a value of this run's own (`{{{{ run.id }}}}` or `{{{{ run.serial }}}}`, docs/adapters.md) or start the service on empty stores",
                held.join(", ")
            )
        })
    }

    /// Runs the seed program with its rendered arguments; exit 0 means seeded.
    async fn seed_by_command(
        &self,
        arguments: &[String],
        sku: &str,
        qty: i64,
        timeout: Duration,
    ) -> Reply {
        let context = Value::from_iter([
            ("vars", self.vars.clone()),
            ("setup", self.setup.clone()),
            ("sku", self.sku_value(sku)),
            ("qty", Value::from(qty)),
        ]);
        let rendered: Result<Vec<String>, _> = arguments
            .iter()
            .map(|template| self.adapter.render(template, &context))
            .collect();
        let Ok(rendered) = rendered else {
            return refused("seed command: a template failed");
        };
        let Some((program, rest)) = rendered.split_first() else {
            return refused("seed command: empty");
        };
        let run = tokio::process::Command::new(program)
            .args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output();
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(output)) if output.status.success() => Reply {
                outcome: Outcome::Ok,
                status: None,
                response: None,
                transport_error: None,
            },
            Ok(Ok(output)) => {
                tracing::warn!(
                    program,
                    sku,
                    qty,
                    status = %output.status,
                    stderr = %String::from_utf8_lossy(&output.stderr).trim(),
                    "the seed command failed"
                );
                refused("seed command failed (see the log)")
            }
            Ok(Err(error)) => {
                tracing::warn!(program, %error, "the seed command did not start");
                refused("seed command did not start")
            }
            Err(_) => refused("seed command timed out"),
        }
    }

    /// Stock seeded out of band: the service must hold exactly `qty` available.
    async fn read_back(&self, client: &Client, sku: &str, qty: i64, timeout: Duration) -> Reply {
        let read = Op::GetSku {
            sku: sku.to_owned(),
        };
        let reply = self.send(client, &read, timeout, &Session::new(0)).await;
        if reply.outcome != Outcome::Ok {
            return reply;
        }
        let available = reply
            .response
            .as_ref()
            .and_then(|body| body.read_fields().and_then(|fields| fields.available));
        if available == Some(qty) {
            reply
        } else {
            tracing::warn!(
                sku,
                expected = qty,
                ?available,
                "out-of-band stock differs from the scenario's"
            );
            refused("out-of-band stock differs from the scenario's")
        }
    }
}

fn refused(reason: &'static str) -> Reply {
    Reply {
        outcome: Outcome::Fail,
        status: None,
        response: None,
        transport_error: Some(reason),
    }
}
