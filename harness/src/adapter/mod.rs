//! Adapters (`docs/adapters.md`): how stockproof speaks one service's HTTP API. An
//! adapter file maps each operation of the history (restock, adjust, reserve, confirm,
//! release, read a SKU, read a reservation) to one request or a sequence of them, and
//! classifies each reply by ordered rules into the outcomes the checks understand; a
//! reply no rule matches, a 5xx, a timeout or a reset is `unknown`. The reference
//! engine's contract is itself an adapter ([`builtin`], `adapters/stockproof.toml`), so
//! every target is driven through one code path.
//!
//! [`load`] reads and checks a file ([`compile`]: templates rendered once against sample
//! values, rules that can never match refused), [`exchange`] sends an op through it.
//!
//! Not here: what to send when (`crate::load::shopper`), recording, judging.

mod compile;
mod exchange;
mod file;
mod prepare;
mod pruned;
mod rules;
mod sample;
mod seeding;
mod shortcut;
mod stores;
mod target_url;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::Environment;
use stockproof_engine::ReservationState;

pub use exchange::{Bound, Session, StepTrace};
pub use prepare::PrepareError;
pub use rules::{RuleOutcome, StatusSpec};

use crate::history::OpKind;
use rules::Rule;

/// How a store's URL from the environment is named among the secrets to resolve.
const STORE_URL_PREFIX: &str = "store url of ";

/// Largest adapter file read: adapters are hand-written, a megabyte is a mistake.
pub const ADAPTER_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// The reference engine's contract (DESIGN §6), as an adapter.
pub const BUILTIN_SOURCE: &str = include_str!("../../../adapters/stockproof.toml");

/// A checked adapter, ready to send ops.
#[derive(Debug)]
pub struct Adapter {
    pub name: String,
    pub description: String,
    /// Where it was read from (`built-in` for [`builtin`]).
    pub source: String,
    pub identity: Identity,
    /// Lines a cart may have; `None`: any.
    pub cart_lines_max: Option<usize>,
    pub lacks: Vec<Capability>,
    pub seed: Seed,
    /// A path that answers 2xx when the service is up (`/healthz`); `None`: any answer.
    pub health: Option<String>,
    /// How long one request may take (`adapter.client_timeout`); a scenario with a
    /// shorter `retry.client_timeout` gets this one (see `run::fit_to`).
    pub client_timeout: Option<std::time::Duration>,
    states: Vec<(String, ReservationState)>,
    /// `[vars]`; environment values once [`Adapter::resolve_secrets`] has read them
    /// (they are never written to a run folder).
    vars: BTreeMap<String, String>,
    /// `[vars]` still to read from the environment, with the error naming each one.
    secrets: Vec<(String, String, AdapterError)>,
    templates: Environment<'static>,
    /// Templates that need no render per request (no tag, or one value looked up), by
    /// name.
    shortcuts: std::collections::HashMap<String, shortcut::Shortcut>,
    ops: BTreeMap<OpKind, OpSpec>,
    setup: Vec<Step>,
    sku_setup: Vec<Step>,
    /// Template of a SKU's id in the service (`[skus] id`).
    sku_id: Option<String>,
    /// The service's own stores, read after the load (`[[stores]]`).
    pub stores: Vec<Store>,
}

/// What a run is called in templates (`run.id`, `run.in_process`), so that an adapter can
/// give each run SKUs of its own on a service that outlives runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLabel {
    /// Unique per run: `serial` in base 36 (8 chars), for names.
    pub id: String,
    /// Unique per run: its start, ms since the Unix epoch, for services whose ids are
    /// numbers (`run.serial * 1000 + sku.index`).
    pub serial: u64,
    /// The target is the reference engine this run serves on stores it started: they
    /// are fresh, and the white-box checks need SKU ids to be the scenario's names.
    pub in_process: bool,
}

impl RunLabel {
    /// A label for a run starting now.
    pub fn now(in_process: bool) -> RunLabel {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        RunLabel::at(unix_ms, in_process)
    }

    /// The label of a run that starts at `unix_ms`: what every agent of one plan shares
    /// (`--start-at`), so that their keys and SKU ids are one run's.
    pub fn at(unix_ms: u64, in_process: bool) -> RunLabel {
        RunLabel {
            id: base36(unix_ms),
            serial: unix_ms,
            in_process,
        }
    }

    /// The label templates are checked against when an adapter is loaded.
    pub fn sample() -> RunLabel {
        RunLabel {
            id: "sample00".to_owned(),
            serial: 1_796_000_000_000,
            in_process: false,
        }
    }

    /// `run` as a template sees it.
    pub fn value(&self) -> minijinja::Value {
        minijinja::Value::from_iter([
            ("id", minijinja::Value::from(self.id.as_str())),
            ("serial", minijinja::Value::from(self.serial)),
            ("in_process", minijinja::Value::from(self.in_process)),
        ])
    }
}

fn base36(mut number: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut text = Vec::new();
    loop {
        text.push(DIGITS[(number % 36) as usize]);
        number /= 36;
        if number == 0 {
            break;
        }
    }
    text.reverse();
    String::from_utf8(text).unwrap_or_default()
}

/// One of the service's stores, read-only.
#[derive(Debug)]
pub struct Store {
    pub name: String,
    pub kind: StoreKind,
    /// The connection URL (an environment value once resolved).
    url: String,
}

/// How a store is read.
#[derive(Debug)]
pub enum StoreKind {
    /// A query returning one row per SKU; `sku_key` is the template of a SKU's value in
    /// the `sku` column.
    Postgres { query: String, sku_key: String },
    /// A hash per SKU at the rendered `key`; `fields` maps stock fields to hash fields.
    Redis {
        key: String,
        fields: Vec<(String, String)>,
    },
}

/// What names a reservation across its ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// The service hands out an id (extracted from the reserve reply).
    Reply,
    /// The client's key (an order number) is the identity.
    Key,
}

/// Something a service does not do; the checks that need it are not applicable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    Idempotency,
    Ttl,
    Release,
}

impl Capability {
    pub const ALL: [Capability; 3] = [
        Capability::Idempotency,
        Capability::Ttl,
        Capability::Release,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Capability::Idempotency => "idempotency",
            Capability::Ttl => "ttl",
            Capability::Release => "release",
        }
    }
}

/// How the scenario's stock gets into the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seed {
    /// Through `ops.restock`.
    Restock,
    /// A program run per SKU; each argument a template.
    Command(Vec<String>),
    /// Already there: read back with `ops.get_sku` before the load.
    OutOfBand,
}

/// One operation: its steps in order and where its result fields are.
#[derive(Debug)]
struct OpSpec {
    steps: Vec<Step>,
    extract: Vec<(Field, FieldSource)>,
}

/// One request.
#[derive(Debug)]
struct Step {
    /// Names the step in errors and counters: `ops.reserve.steps[1]`.
    name: String,
    method: reqwest::Method,
    /// Template names in [`Adapter::templates`].
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(reqwest::header::HeaderName, String)>,
    body: Option<String>,
    replies: Vec<Rule>,
    save: Vec<(String, ValueSource)>,
    session: Vec<(String, ValueSource)>,
    /// The JSON pointers of its rules, saves and (last step) its operation's
    /// extraction: all a reply is parsed for.
    reads: pruned::Reads,
}

impl Step {
    /// Whether a value this step saves comes from a reply header.
    fn reads_headers(&self) -> bool {
        self.save
            .iter()
            .chain(&self.session)
            .any(|(_, source)| matches!(source, ValueSource::Header(_)))
    }
}

/// Where a saved value is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ValueSource {
    Pointer(String),
    Header(reqwest::header::HeaderName),
}

/// A result field an op's reply may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Reservation,
    State,
    DeadlineMs,
    Sku,
    Available,
    Reserved,
    Sold,
    Total,
    /// available + reserved: what a service without `sold` often calls its total.
    OnHand,
}

impl Field {
    const ALL: [Field; 9] = [
        Field::Reservation,
        Field::State,
        Field::DeadlineMs,
        Field::Sku,
        Field::Available,
        Field::Reserved,
        Field::Sold,
        Field::Total,
        Field::OnHand,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Field::Reservation => "reservation",
            Field::State => "state",
            Field::DeadlineMs => "deadline_ms",
            Field::Sku => "sku",
            Field::Available => "available",
            Field::Reserved => "reserved",
            Field::Sold => "sold",
            Field::Total => "total",
            Field::OnHand => "on_hand",
        }
    }
}

/// Where a field comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FieldSource {
    Pointer(String),
    /// The service does not expose it.
    Absent,
    /// A template over the stock fields, rendered to an integer.
    Expr(String),
}

/// Why an adapter file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("cannot read adapter {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: crate::toml_source::ReadError,
    },
    /// A key the format does not know, a value of the wrong type, a template that does
    /// not compile or names a value that does not exist, a rule that can never match.
    #[error("adapter {0}")]
    Invalid(#[from] crate::toml_source::Located),
}

/// Reads and checks an adapter file.
pub fn load(path: &Path) -> Result<Adapter, AdapterError> {
    let text =
        crate::toml_source::read_bounded(path, ADAPTER_FILE_BYTES_MAX).map_err(|source| {
            AdapterError::Read {
                path: path.to_owned(),
                source,
            }
        })?;
    compile::compile(&text, path, &path.display().to_string())
}

/// Checks adapter `text`; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Adapter, AdapterError> {
    compile::compile(text, path, &path.display().to_string())
}

/// The reference engine's contract as an adapter (the default of `--target`).
pub fn builtin() -> Adapter {
    compile::compile(
        BUILTIN_SOURCE,
        Path::new("adapters/stockproof.toml"),
        "built-in",
    )
    .unwrap_or_else(|error| panic!("the built-in adapter is invalid: {error}"))
}

impl Adapter {
    /// Reads the `[vars]` that come from environment variables; an unset one is an
    /// error naming the file, the line and the key. Call before a run.
    pub fn resolve_secrets(&mut self) -> Result<(), AdapterError> {
        for (name, env, missing) in std::mem::take(&mut self.secrets) {
            let value = std::env::var(&env).map_err(|_| missing)?;
            match name.strip_prefix(STORE_URL_PREFIX) {
                Some(store) => {
                    if let Some(store) = self.stores.iter_mut().find(|each| each.name == store) {
                        store.url = value;
                    }
                }
                None => {
                    self.vars.insert(name, value);
                }
            }
        }
        Ok(())
    }

    /// Whether the adapter has `op`.
    pub fn supports(&self, op: OpKind) -> bool {
        self.ops.contains_key(&op)
    }

    /// Whether the service's replies tell a replayed reserve from a fresh one: some
    /// rule of its reserve classifies a reply as `replayed`.
    pub fn tells_replays_apart(&self) -> bool {
        self.ops.get(&OpKind::Reserve).is_some_and(|op| {
            op.steps
                .iter()
                .flat_map(|step| &step.replies)
                .any(|rule| rule.outcome == RuleOutcome::Replayed)
        })
    }

    /// How long one request may wait for its reply: `default`, or the adapter's
    /// `client_timeout` when that is longer.
    pub fn request_timeout(&self, default: std::time::Duration) -> std::time::Duration {
        self.client_timeout
            .map_or(default, |needed| needed.max(default))
    }

    /// Whether the service lacks `capability`.
    pub fn lacks(&self, capability: Capability) -> bool {
        self.lacks.contains(&capability)
    }

    /// Renders the template `name` with `context` (through its shortcut if it has one).
    fn render(&self, name: &str, context: &minijinja::Value) -> Result<String, minijinja::Error> {
        if let Some(output) = self
            .shortcuts
            .get(name)
            .and_then(|shortcut| shortcut.output(context))
        {
            return Ok(output);
        }
        self.templates
            .get_template(name)
            .and_then(|template| template.render(context))
    }

    /// The contract's state a service's state name maps to.
    fn state(&self, name: &str) -> Option<ReservationState> {
        self.states
            .iter()
            .find(|(service, _)| service == name)
            .map(|(_, state)| *state)
    }
}

#[cfg(test)]
mod tests;
