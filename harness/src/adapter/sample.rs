//! Sample values for checking an adapter when it is loaded: every template is rendered
//! once against values of exactly the names its place may use (strict undefined values
//! turn a misspelt or missing name into an error naming the key), never against a
//! service.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::Value;

use super::RunLabel;

use super::compile::Scope;
use crate::history::OpKind;

/// The stock fields an `expr` field may name.
const STOCK_FIELDS: [&str; 5] = ["available", "reserved", "sold", "total", "on_hand"];

/// Sample values of exactly the names `scope` allows, to render every template once
/// when the adapter is loaded (strict undefined values turn a misspelt name into an
/// error there).
pub(super) fn sample_context(
    scope: Scope,
    vars: &BTreeMap<String, String>,
    setup_names: &BTreeSet<String>,
    sku_names: &BTreeSet<String>,
    session_names: &BTreeSet<String>,
    saved: &BTreeSet<String>,
) -> Value {
    let sample = |names: &BTreeSet<String>| -> Value {
        names
            .iter()
            .map(|name| (name.clone(), Value::from(1)))
            .collect()
    };
    let sku = || -> Value {
        [
            ("name", Value::from("sku-1")),
            ("id", Value::from("1001")),
            ("index", Value::from(0)),
            ("stock", Value::from(10)),
        ]
        .into_iter()
        .chain(sku_names.iter().map(|name| (name.as_str(), Value::from(1))))
        .collect()
    };
    if scope == Scope::Expr {
        return STOCK_FIELDS
            .into_iter()
            .map(|name| (name, Value::from(1)))
            .chain([("saved", sample(saved))])
            .collect();
    }
    let vars: Value = vars
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let mut context: Vec<(&str, Value)> = vec![("vars", vars)];
    match scope {
        Scope::Expr => {}
        Scope::Setup => {
            context.push(("setup", sample(setup_names)));
            context.push(("run", RunLabel::sample().value()));
        }
        Scope::SkuId | Scope::SkuSetup => {
            context.push(("setup", sample(setup_names)));
            context.push(("sku", sku()));
            context.push(("run", RunLabel::sample().value()));
        }
        Scope::Seed => {
            context.push(("setup", sample(setup_names)));
            context.push(("sku", sku()));
            context.push(("qty", Value::from(1)));
        }
        Scope::Op(kind) => {
            context.push(("setup", sample(setup_names)));
            context.push(("session", sample(session_names)));
            context.push(("saved", sample(saved)));
            context.push(("user", Value::from(1)));
            op_sample(kind, sku(), &mut context);
        }
    }
    if scope == Scope::SkuSetup {
        context.push(("saved", sample(saved)));
    }
    context.into_iter().collect()
}

fn op_sample(kind: OpKind, sku: Value, context: &mut Vec<(&str, Value)>) {
    match kind {
        OpKind::Restock => {
            context.push(("sku", sku));
            context.push(("qty", Value::from(1)));
        }
        OpKind::Adjust => {
            context.push(("sku", sku));
            context.push(("delta", Value::from(-1)));
        }
        OpKind::GetSku => context.push(("sku", sku)),
        OpKind::Reserve => {
            let line = |id: &str| {
                Value::from_iter([
                    ("sku", Value::from("sku-1")),
                    ("id", Value::from(id)),
                    ("qty", Value::from(1)),
                ])
            };
            context.push(("key", Value::from("sample-u1-c1")));
            context.push(("items", Value::from(vec![line("1001"), line("1002")])));
            context.push(("ttl_ms", Value::from(2_000)));
            context.push(("ttl_s", Value::from(2)));
        }
        OpKind::Confirm | OpKind::Release | OpKind::GetReservation => {
            context.push(("reservation", Value::from("sample-reservation")));
        }
        OpKind::Fault => {}
    }
}
