//! The adapter file exactly as written (`docs/adapters.md`): serde types with
//! `deny_unknown_fields` on every table, so an unknown key is refused by `toml` with its
//! line. Values checked against other keys keep their position (`toml::Spanned`) for
//! `super::compile`, which turns this into a [`super::Adapter`].

use std::collections::BTreeMap;

use serde::Deserialize;
use stockproof_checks::duration::FileDuration;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdapterFile {
    pub(crate) adapter: HeaderFile,
    #[serde(default)]
    pub(crate) vars: BTreeMap<String, Spanned<VarFile>>,
    #[serde(default)]
    pub(crate) setup: Vec<Spanned<StepFile>>,
    #[serde(default)]
    pub(crate) skus: SkusFile,
    #[serde(default)]
    pub(crate) ops: BTreeMap<Spanned<String>, StepFile>,
    #[serde(default)]
    pub(crate) stores: Vec<Spanned<StoreFile>>,
}

/// A store of the service, read once after the load (read-only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreFile {
    pub(crate) name: String,
    /// `postgres` or `redis`.
    pub(crate) kind: String,
    pub(crate) url: VarFile,
    /// Postgres: one row per SKU, a text column `sku` and any of `available`,
    /// `reserved`, `sold`, `total`.
    pub(crate) query: Option<String>,
    /// Postgres: the value of the `sku` column for a scenario SKU (default its id).
    pub(crate) skus: Option<String>,
    /// Redis: the key of a SKU's hash.
    pub(crate) key: Option<String>,
    /// Redis: stock field → the hash's field name.
    #[serde(default)]
    pub(crate) fields: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderFile {
    pub(crate) name: Spanned<String>,
    #[serde(default)]
    pub(crate) description: String,
    pub(crate) identity: Spanned<String>,
    pub(crate) cart_lines_max: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) lacks: Vec<Spanned<String>>,
    pub(crate) seed: Option<Spanned<SeedFile>>,
    pub(crate) health: Option<Spanned<String>>,
    /// The service's Prometheus `/metrics`: a path on the target or a URL.
    pub(crate) metrics: Option<Spanned<String>>,
    /// How long one request may take before its outcome is unknown, when the service
    /// needs longer than a scenario's `retry.client_timeout`.
    pub(crate) client_timeout: Option<Spanned<FileDuration>>,
    #[serde(default)]
    pub(crate) states: BTreeMap<Spanned<String>, Vec<String>>,
}

/// `"restock"`, `"out_of_band"` or `{ command = [...] }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum SeedFile {
    Named(String),
    Command { command: Vec<String> },
}

/// A literal value, or `{ env = "NAME" }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum VarFile {
    Literal(String),
    Env { env: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkusFile {
    pub(crate) id: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) setup: Vec<Spanned<StepFile>>,
}

/// One request of a setup or per-SKU setup, a step of an operation, or an operation
/// itself: `[ops.NAME]` holds the keys of its one request directly, or `steps` (and
/// `extract` either way). One type for all, since serde cannot refuse unknown keys
/// through `flatten`; `super::compile` refuses `steps` and `extract` where they do not
/// belong and a missing `method` or `path`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepFile {
    pub(crate) method: Option<Spanned<String>>,
    pub(crate) path: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) query: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, Spanned<String>>,
    pub(crate) body: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) replies: Vec<Spanned<RuleFile>>,
    #[serde(default)]
    pub(crate) save: BTreeMap<String, Spanned<SourceFile>>,
    #[serde(default)]
    pub(crate) session: BTreeMap<String, Spanned<SourceFile>>,
    #[serde(default)]
    pub(crate) steps: Vec<Spanned<StepFile>>,
    #[serde(default)]
    pub(crate) extract: BTreeMap<Spanned<String>, Spanned<FieldFile>>,
}

/// Where a saved value comes from: a JSON pointer into the reply, or a header.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum SourceFile {
    Pointer(String),
    Header { header: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFile {
    pub(crate) status: Option<StatusFile>,
    #[serde(default)]
    pub(crate) when: BTreeMap<String, ExpectFile>,
    pub(crate) outcome: String,
}

/// `409`, `[200, 201]` or `"2xx"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum StatusFile {
    Code(u16),
    Codes(Vec<u16>),
    Class(String),
}

/// The value a pointer must equal, or `{ exists = bool }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ExpectFile {
    Exists { exists: bool },
    Value(toml::Value),
}

/// An extracted field: a JSON pointer or `"absent"`, or `{ expr = "..." }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum FieldFile {
    Pointer(String),
    Expr { expr: String },
}
