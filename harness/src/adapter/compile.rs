//! Turns an [`AdapterFile`] into an [`Adapter`], refusing anything that would only fail
//! under load: every template is compiled and rendered once against sample values of
//! exactly the names its operation may use (strict undefined values), bodies must render
//! JSON, pointers must be RFC 6901, a rule shadowed by an earlier one can never match.
//! Each refusal names the key's dotted path and its line.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use reqwest::Method;
use reqwest::header::HeaderName;
use stockproof_engine::ReservationState;
use toml::Spanned;

use super::file::{
    AdapterFile, ExpectFile, FieldFile, HeaderFile, RuleFile, SeedFile, SourceFile, StatusFile,
    StepFile, StoreFile, VarFile,
};
use super::pruned::Reads;
use super::rules::{Expect, Rule, RuleOutcome, StatusSpec};
use super::shortcut::Shortcut;
use super::{
    Adapter, AdapterError, Capability, Field, FieldSource, Identity, OpSpec, STORE_URL_PREFIX,
    Seed, Step, Store, StoreKind, ValueSource, sample,
};
use crate::history::OpKind;
use crate::toml_source::Source as TomlSource;

/// Longest adapter name: it names run folders and reports.
const ADAPTER_NAME_BYTES_MAX: usize = 64;

/// The file being checked, to turn spans into lines.
struct Source<'a>(TomlSource<'a>);

impl Source<'_> {
    fn error(
        &self,
        key: impl Into<String>,
        span: Range<usize>,
        reason: impl Into<String>,
    ) -> AdapterError {
        AdapterError::Invalid(self.0.locate(key, span, reason))
    }
}

pub(super) fn compile(text: &str, path: &Path, shown_as: &str) -> Result<Adapter, AdapterError> {
    let source = Source(TomlSource { text, path });
    let file: AdapterFile =
        toml::from_str(text).map_err(|error| AdapterError::Invalid(source.0.syntax(&error)))?;
    let mut builder = Builder::new(&source);
    let header = builder.header(&file.adapter)?;
    builder.vars(&file);
    builder.session_names = session_names(&file);
    let setup = builder.steps("setup", &file.setup, Saves::Setup)?;
    let sku_setup = builder.steps("skus.setup", &file.skus.setup, Saves::Sku)?;
    // After the per-SKU setup: the id may be what it saved (a created product's id).
    let sku_id = match &file.skus.id {
        Some(template) => Some(builder.template("skus.id", template, Scope::SkuId)?),
        None => None,
    };
    let seed = match header.seed {
        Seed::Command(arguments) => Seed::Command(builder.seed_command(&file, &arguments)?),
        other => other,
    };
    let stores = builder.stores(&file.stores)?;
    let mut ops = BTreeMap::new();
    for (name, op) in &file.ops {
        let kind = OpKind::parse(name.get_ref())
            .filter(|kind| *kind != OpKind::Fault)
            .ok_or_else(|| {
                source.error(
                    format!("ops.{}", name.get_ref()),
                    name.span(),
                    "not an operation: expected restock, adjust, reserve, confirm, release, get_sku or get_reservation",
                )
            })?;
        ops.insert(kind, builder.op(kind, name, op)?);
    }
    let adapter = Adapter {
        name: header.name,
        description: file.adapter.description.clone(),
        source: shown_as.to_owned(),
        identity: header.identity,
        cart_lines_max: header.cart_lines_max,
        lacks: header.lacks,
        seed,
        health: header.health,
        metrics: header.metrics,
        client_timeout: header.client_timeout,
        states: header.states,
        vars: builder.vars.clone(),
        secrets: std::mem::take(&mut builder.secrets),
        templates: builder.env,
        shortcuts: std::mem::take(&mut builder.shortcuts),
        ops,
        setup,
        sku_setup,
        sku_id,
        stores,
    };
    check_needs(&source, &file, &adapter)?;
    Ok(adapter)
}

/// Every name a step keeps per shopper (`session`), wherever it is saved: any template
/// of any op may send it back.
fn session_names(file: &AdapterFile) -> BTreeSet<String> {
    let steps = file
        .setup
        .iter()
        .chain(&file.skus.setup)
        .chain(file.ops.values().flat_map(|op| &op.steps));
    steps
        .flat_map(|step| step.get_ref().session.keys())
        .chain(file.ops.values().flat_map(|op| op.session.keys()))
        .cloned()
        .collect()
}

/// The `[adapter]` table, checked.
struct Header {
    name: String,
    identity: Identity,
    cart_lines_max: Option<usize>,
    lacks: Vec<Capability>,
    seed: Seed,
    health: Option<String>,
    metrics: Option<String>,
    client_timeout: Option<Duration>,
    states: Vec<(String, ReservationState)>,
}

/// `/metrics`, `http://host:9100/metrics` or `https://…`.
fn is_path_or_url(value: &str) -> bool {
    value.starts_with('/') || value.starts_with("http://") || value.starts_with("https://")
}

/// Where a step's `save` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Saves {
    /// `setup.NAME`.
    Setup,
    /// `sku.NAME`.
    Sku,
    /// `saved.NAME` of later steps of the same op.
    Op(OpKind),
}

/// What a template may name (see docs/adapters.md, "Templates").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Setup,
    SkuId,
    SkuSetup,
    Op(OpKind),
    Seed,
    /// A derived field (`{ expr = … }`): the stock fields and the op's saved values.
    Expr,
}

struct Builder<'s> {
    source: &'s Source<'s>,
    env: Environment<'static>,
    vars: BTreeMap<String, String>,
    /// Templates that need no render, by name (see `Adapter::shortcuts`).
    shortcuts: std::collections::HashMap<String, Shortcut>,
    /// `[vars]` read from the environment: name, variable, the error if it is unset.
    secrets: Vec<(String, String, AdapterError)>,
    /// Names saved so far, by where they go.
    setup_names: BTreeSet<String>,
    sku_names: BTreeSet<String>,
    session_names: BTreeSet<String>,
}

impl<'s> Builder<'s> {
    fn new(source: &'s Source<'s>) -> Builder<'s> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        Builder {
            source,
            env,
            vars: BTreeMap::new(),
            shortcuts: std::collections::HashMap::new(),
            secrets: Vec::new(),
            setup_names: BTreeSet::new(),
            sku_names: BTreeSet::new(),
            session_names: BTreeSet::new(),
        }
    }

    fn header(&self, header: &HeaderFile) -> Result<Header, AdapterError> {
        let source = self.source;
        let name = header.name.get_ref().clone();
        let name_ok = (1..=ADAPTER_NAME_BYTES_MAX).contains(&name.len())
            && name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'));
        if !name_ok {
            return Err(source.error("adapter.name", header.name.span(), format!(
                "`{name}` is not an adapter name (1 to {ADAPTER_NAME_BYTES_MAX} letters, digits, `.`, `_`, `-`)"
            )));
        }
        let identity = match header.identity.get_ref().as_str() {
            "reply" => Identity::Reply,
            "key" => Identity::Key,
            other => {
                return Err(source.error("adapter.identity", header.identity.span(), format!(
                    "`{other}`: expected \"reply\" (the service hands out an id) or \"key\" (the client's key is the identity)"
                )));
            }
        };
        let cart_lines_max = match &header.cart_lines_max {
            Some(value) if *value.get_ref() >= 1 => Some(*value.get_ref() as usize),
            Some(value) => {
                return Err(source.error(
                    "adapter.cart_lines_max",
                    value.span(),
                    "expected at least 1",
                ));
            }
            None => None,
        };
        let mut lacks = Vec::new();
        for value in &header.lacks {
            let capability = Capability::ALL
                .into_iter()
                .find(|capability| capability.as_str() == value.get_ref())
                .ok_or_else(|| {
                    source.error(
                        "adapter.lacks",
                        value.span(),
                        format!(
                            "`{}`: expected one of idempotency, ttl, release",
                            value.get_ref()
                        ),
                    )
                })?;
            lacks.push(capability);
        }
        let seed = match header
            .seed
            .as_ref()
            .map(|seed| (seed.get_ref(), seed.span()))
        {
            None => Seed::Restock,
            Some((SeedFile::Named(name), _)) if name == "restock" => Seed::Restock,
            Some((SeedFile::Named(name), _)) if name == "out_of_band" => Seed::OutOfBand,
            Some((SeedFile::Command { command }, _)) if !command.is_empty() => {
                Seed::Command(command.clone())
            }
            Some((_, span)) => {
                return Err(source.error("adapter.seed", span, "expected \"restock\", \"out_of_band\" or { command = [\"program\", \"arg\"…] }"));
            }
        };
        let mut states = Vec::new();
        for (state, names) in &header.states {
            let parsed = state.get_ref().parse::<ReservationState>().map_err(|_| {
                source.error(
                    format!("adapter.states.{}", state.get_ref()),
                    state.span(),
                    "expected held, confirmed, released or expired",
                )
            })?;
            states.extend(names.iter().map(|name| (name.clone(), parsed)));
        }
        let health = match &header.health {
            Some(path) if path.get_ref().starts_with('/') => Some(path.get_ref().clone()),
            Some(path) => {
                return Err(source.error(
                    "adapter.health",
                    path.span(),
                    "expected a path starting with `/`",
                ));
            }
            None => None,
        };
        let metrics = match &header.metrics {
            Some(metrics) if is_path_or_url(metrics.get_ref()) => Some(metrics.get_ref().clone()),
            Some(metrics) => {
                return Err(source.error(
                    "adapter.metrics",
                    metrics.span(),
                    "expected a path starting with `/` (`/metrics`) or an http:// or https:// URL",
                ));
            }
            None => None,
        };
        let client_timeout = match &header.client_timeout {
            Some(value) if !value.get_ref().0.is_zero() => Some(value.get_ref().0),
            Some(value) => {
                return Err(source.error(
                    "adapter.client_timeout",
                    value.span(),
                    "expected more than 0 (e.g. \"30s\")",
                ));
            }
            None => None,
        };
        Ok(Header {
            name,
            identity,
            cart_lines_max,
            lacks,
            seed,
            health,
            metrics,
            client_timeout,
            states,
        })
    }
}

impl Builder<'_> {
    /// `[vars]`, environment values read now: a missing one is an error here, not a
    /// broken request under load.
    /// `[vars]`: literal values as they are; an environment value is only named here
    /// (a sample stands in while templates are checked) and read by
    /// [`Adapter::resolve_secrets`] before a run, so that a file can be checked
    /// without its secrets.
    fn vars(&mut self, file: &AdapterFile) {
        for (name, value) in &file.vars {
            let sample = match value.get_ref() {
                VarFile::Literal(text) => text.clone(),
                VarFile::Env { env } => {
                    let missing = self.source.error(
                        format!("vars.{name}"),
                        value.span(),
                        format!("environment variable `{env}` is not set"),
                    );
                    self.secrets.push((name.clone(), env.clone(), missing));
                    "1".to_owned()
                }
            };
            self.vars.insert(name.clone(), sample);
        }
    }

    /// Compiles `template` under the name `key` and renders it once against sample
    /// values of `scope`; returns its name.
    fn template(
        &mut self,
        key: &str,
        template: &Spanned<String>,
        scope: Scope,
    ) -> Result<String, AdapterError> {
        self.render_sample(key, template, scope, &BTreeSet::new())
            .map(|_| key.to_owned())
    }

    fn render_sample(
        &mut self,
        key: &str,
        template: &Spanned<String>,
        scope: Scope,
        saved: &BTreeSet<String>,
    ) -> Result<String, AdapterError> {
        let error = |reason: String| self.source.error(key, template.span(), reason);
        self.env
            .add_template_owned(key.to_owned(), template.get_ref().clone())
            .map_err(|problem| error(template_error(&problem)))?;
        let context = sample::sample_context(
            scope,
            &self.vars,
            &self.setup_names,
            &self.sku_names,
            &self.session_names,
            saved,
        );
        let rendered = self
            .env
            .get_template(key)
            .and_then(|compiled| compiled.render(&context))
            .map_err(|problem| {
                self.source
                    .error(key, template.span(), template_error(&problem))
            })?;
        // A shortcut is kept only if it writes what the render wrote.
        if let Some(shortcut) = Shortcut::of(template.get_ref())
            && shortcut
                .output(&context)
                .is_none_or(|output| output == rendered)
        {
            self.shortcuts.insert(key.to_owned(), shortcut);
        }
        Ok(rendered)
    }

    /// `[[stores]]`: each a Postgres query or a Redis hash per SKU, read-only.
    fn stores(&mut self, stores: &[Spanned<StoreFile>]) -> Result<Vec<Store>, AdapterError> {
        let mut built: Vec<Store> = Vec::with_capacity(stores.len());
        for (index, spanned) in stores.iter().enumerate() {
            let key = format!("stores[{index}]");
            let store = spanned.get_ref();
            let error = |reason: String| self.source.error(&key, spanned.span(), reason);
            if built.iter().any(|other| other.name == store.name) {
                return Err(error(format!("a second store named `{}`", store.name)));
            }
            let sample = |template: &str| Spanned::new(spanned.span(), template.to_owned());
            let kind = match (store.kind.as_str(), &store.query, &store.key) {
                ("postgres", Some(query), None) if store.fields.is_empty() => {
                    let sku_key = format!("{key}.skus");
                    let template = store.skus.as_deref().unwrap_or("{{ sku.id }}");
                    self.render_sample(
                        &sku_key,
                        &sample(template),
                        Scope::SkuId,
                        &BTreeSet::new(),
                    )?;
                    StoreKind::Postgres {
                        query: query.clone(),
                        sku_key,
                    }
                }
                ("redis", None, Some(template))
                    if store.skus.is_none() && !store.fields.is_empty() =>
                {
                    let hash_key = format!("{key}.key");
                    self.render_sample(
                        &hash_key,
                        &sample(template),
                        Scope::SkuId,
                        &BTreeSet::new(),
                    )?;
                    let fields = store
                        .fields
                        .iter()
                        .map(|(field, hash)| match field.as_str() {
                            "available" | "reserved" | "sold" | "total" | "on_hand" => {
                                Ok((field.clone(), hash.clone()))
                            }
                            other => Err(error(format!(
                                "fields.{other}: expected available, reserved, sold, total or on_hand"
                            ))),
                        })
                        .collect::<Result<_, _>>()?;
                    StoreKind::Redis {
                        key: hash_key,
                        fields,
                    }
                }
                _ => {
                    return Err(error(format!(
                        "kind `{}`: expected kind = \"postgres\" with `query` (and optionally `skus`), or kind = \"redis\" with `key` and `fields`",
                        store.kind
                    )));
                }
            };
            let url = match &store.url {
                VarFile::Literal(url) => url.clone(),
                VarFile::Env { env } => {
                    let missing = error(format!("url: environment variable `{env}` is not set"));
                    self.secrets.push((
                        format!("{STORE_URL_PREFIX}{}", store.name),
                        env.clone(),
                        missing,
                    ));
                    String::new()
                }
            };
            built.push(Store {
                name: store.name.clone(),
                kind,
                url,
            });
        }
        Ok(built)
    }

    /// A seed command's arguments, each a template over the SKU and its quantity.
    fn seed_command(
        &mut self,
        file: &AdapterFile,
        arguments: &[String],
    ) -> Result<Vec<String>, AdapterError> {
        let span = file.adapter.seed.as_ref().map_or(0..0, Spanned::span);
        arguments
            .iter()
            .enumerate()
            .map(|(index, argument)| {
                let key = format!("adapter.seed.command[{index}]");
                let template = Spanned::new(span.clone(), argument.clone());
                self.render_sample(&key, &template, Scope::Seed, &BTreeSet::new())?;
                Ok(key)
            })
            .collect()
    }

    fn steps(
        &mut self,
        key: &str,
        steps: &[Spanned<StepFile>],
        saves: Saves,
    ) -> Result<Vec<Step>, AdapterError> {
        let mut built = Vec::with_capacity(steps.len());
        let mut saved = BTreeSet::new();
        for (index, spanned) in steps.iter().enumerate() {
            let last = index + 1 == steps.len();
            let name = format!("{key}[{index}]");
            let step = spanned.get_ref();
            let extract_allowed = last && matches!(saves, Saves::Op(_));
            if !step.steps.is_empty() || (!step.extract.is_empty() && !extract_allowed) {
                return Err(self.source.error(
                    &name,
                    spanned.span(),
                    "a step holds no `steps`, and only an operation's last step may hold `extract`",
                ));
            }
            built.push(self.step(&name, step, spanned.span(), saves, &saved, last)?);
            for value in step.save.keys() {
                match saves {
                    Saves::Setup => self.setup_names.insert(value.clone()),
                    Saves::Sku => self.sku_names.insert(value.clone()),
                    Saves::Op(_) => saved.insert(value.clone()),
                };
            }
        }
        Ok(built)
    }

    fn step(
        &mut self,
        name: &str,
        parts: &StepFile,
        span: Range<usize>,
        saves: Saves,
        saved: &BTreeSet<String>,
        last: bool,
    ) -> Result<Step, AdapterError> {
        let scope = match saves {
            Saves::Setup => Scope::Setup,
            Saves::Sku => Scope::SkuSetup,
            Saves::Op(kind) => Scope::Op(kind),
        };
        let (Some(method_text), Some(path)) = (&parts.method, &parts.path) else {
            return Err(self
                .source
                .error(name, span, "a request needs `method` and `path`"));
        };
        let method = method_text
            .get_ref()
            .parse::<Method>()
            .ok()
            .filter(|method| {
                [
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ]
                .contains(method)
            });
        let method = method.ok_or_else(|| {
            self.source.error(
                format!("{name}.method"),
                method_text.span(),
                "expected GET, POST, PUT, PATCH or DELETE",
            )
        })?;
        let path_key = format!("{name}.path");
        let rendered = self.render_sample(&path_key, path, scope, saved)?;
        if !rendered.starts_with('/') {
            return Err(self.source.error(
                &path_key,
                path.span(),
                format!("renders `{rendered}`: a path must start with `/`"),
            ));
        }
        let mut query = Vec::new();
        for (param, template) in &parts.query {
            let key = format!("{name}.query.{param}");
            self.render_sample(&key, template, scope, saved)?;
            query.push((param.clone(), key));
        }
        let mut headers = Vec::new();
        for (header, template) in &parts.headers {
            let key = format!("{name}.headers.{header}");
            let parsed = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                self.source.error(
                    &key,
                    template.span(),
                    format!("`{header}` is not an HTTP header name"),
                )
            })?;
            self.render_sample(&key, template, scope, saved)?;
            headers.push((parsed, key));
        }
        let body = match &parts.body {
            Some(template) => {
                let key = format!("{name}.body");
                let rendered = self.render_sample(&key, template, scope, saved)?;
                serde_json::from_str::<serde_json::Value>(&rendered).map_err(|problem| {
                    self.source.error(&key, template.span(), format!(
                        "does not render JSON ({problem}); with sample values it renders:\n{rendered}"
                    ))
                })?;
                Some(key)
            }
            None => None,
        };
        let replies = self.rules(name, &parts.replies, last)?;
        let save = self.sources(&format!("{name}.save"), &parts.save)?;
        let session = self.sources(&format!("{name}.session"), &parts.session)?;
        let mut reads = Reads::default();
        let rule_pointers = replies.iter().flat_map(|rule| &rule.when);
        for (pointer, _) in rule_pointers {
            reads.add(pointer);
        }
        for (_, source) in save.iter().chain(&session) {
            if let ValueSource::Pointer(pointer) = source {
                reads.add(pointer);
            }
        }
        Ok(Step {
            name: name.to_owned(),
            method,
            path: path_key,
            query,
            headers,
            body,
            replies,
            save,
            session,
            reads,
        })
    }

    fn sources(
        &self,
        key: &str,
        sources: &BTreeMap<String, Spanned<SourceFile>>,
    ) -> Result<Vec<(String, ValueSource)>, AdapterError> {
        sources
            .iter()
            .map(|(name, source)| {
                let parsed = match source.get_ref() {
                    SourceFile::Pointer(pointer) => pointer_of(pointer).map(ValueSource::Pointer),
                    SourceFile::Header { header } => HeaderName::from_bytes(header.as_bytes())
                        .map(ValueSource::Header)
                        .map_err(|_| format!("`{header}` is not an HTTP header name")),
                };
                parsed
                    .map(|parsed| (name.clone(), parsed))
                    .map_err(|reason| {
                        self.source
                            .error(format!("{key}.{name}"), source.span(), reason)
                    })
            })
            .collect()
    }

    fn rules(
        &self,
        step: &str,
        rules: &[Spanned<RuleFile>],
        last: bool,
    ) -> Result<Vec<Rule>, AdapterError> {
        let mut built: Vec<Rule> = Vec::with_capacity(rules.len());
        for (index, rule) in rules.iter().enumerate() {
            let key = format!("{step}.replies[{index}]");
            let error = |reason: String| self.source.error(&key, rule.span(), reason);
            let parsed = parse_rule(&key, rule.get_ref()).map_err(&error)?;
            if last && parsed.outcome == RuleOutcome::Continue {
                return Err(error(
                    "`continue` in an operation's last step: there is no next step".to_owned(),
                ));
            }
            if let Some(earlier) = built.iter().find(|earlier| parsed.shadowed_by(earlier)) {
                return Err(error(format!(
                    "can never match: every reply it matches, `{}` matches first",
                    earlier.name
                )));
            }
            built.push(parsed);
        }
        Ok(built)
    }

    fn op(
        &mut self,
        kind: OpKind,
        name: &Spanned<String>,
        op: &StepFile,
    ) -> Result<OpSpec, AdapterError> {
        let key = format!("ops.{}", name.get_ref());
        let mut steps = if op.steps.is_empty() {
            vec![self.step(
                &key,
                op,
                name.span(),
                Saves::Op(kind),
                &BTreeSet::new(),
                true,
            )?]
        } else if request_keys_unused(op) {
            self.steps(&format!("{key}.steps"), &op.steps, Saves::Op(kind))?
        } else {
            return Err(self.source.error(&key, name.span(), "expected either the keys of one request (`method`, `path`, …) or `steps`, not both"));
        };
        let saved: BTreeSet<String> = op
            .save
            .keys()
            .chain(op.steps.iter().flat_map(|step| step.get_ref().save.keys()))
            .cloned()
            .collect();
        // `extract` reads the last reply: written on the operation or on its last step.
        let extract_from = match op.steps.last().map(Spanned::get_ref) {
            Some(last) if !last.extract.is_empty() && !op.extract.is_empty() => {
                return Err(self.source.error(
                    &key,
                    name.span(),
                    "`extract` on the operation and on its last step: keep one",
                ));
            }
            Some(last) if !last.extract.is_empty() => last,
            _ => op,
        };
        let extract = self.extract(&key, extract_from, &saved)?;
        if let Some(last) = steps.last_mut() {
            for (_, source) in &extract {
                if let FieldSource::Pointer(pointer) = source {
                    last.reads.add(pointer);
                }
            }
        }
        Ok(OpSpec { steps, extract })
    }

    fn extract(
        &mut self,
        key: &str,
        op: &StepFile,
        saved: &BTreeSet<String>,
    ) -> Result<Vec<(Field, FieldSource)>, AdapterError> {
        let mut fields = Vec::new();
        for (field, value) in &op.extract {
            let field_key = format!("{key}.extract.{}", field.get_ref());
            let parsed = Field::ALL
                .into_iter()
                .find(|candidate| candidate.as_str() == field.get_ref())
                .ok_or_else(|| self.source.error(&field_key, field.span(), "expected reservation, state, deadline_ms, sku, available, reserved, sold, total or on_hand"))?;
            let source = match value.get_ref() {
                FieldFile::Pointer(text) if text == "absent" => FieldSource::Absent,
                FieldFile::Pointer(text) => FieldSource::Pointer(
                    pointer_of(text)
                        .map_err(|reason| self.source.error(&field_key, value.span(), reason))?,
                ),
                FieldFile::Expr { expr } => {
                    let template = Spanned::new(value.span(), format!("{{{{ ({expr}) }}}}"));
                    self.render_sample(&field_key, &template, Scope::Expr, saved)?;
                    FieldSource::Expr(field_key.clone())
                }
            };
            fields.push((parsed, source));
        }
        Ok(fields)
    }
}

/// Whether an operation with `steps` also has keys of a request of its own.
fn request_keys_unused(op: &StepFile) -> bool {
    op.method.is_none()
        && op.path.is_none()
        && op.query.is_empty()
        && op.headers.is_empty()
        && op.body.is_none()
        && op.replies.is_empty()
        && op.save.is_empty()
        && op.session.is_empty()
}

fn pointer_of(text: &str) -> Result<String, String> {
    if text.is_empty() || text.starts_with('/') {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a JSON pointer (RFC 6901: empty, or starting with `/`, e.g. `/data/id`)"
        ))
    }
}

fn parse_rule(key: &str, rule: &RuleFile) -> Result<Rule, String> {
    let status = match &rule.status {
        None => StatusSpec::Any,
        Some(StatusFile::Code(code)) => StatusSpec::Codes(vec![status_code(*code)?]),
        Some(StatusFile::Codes(codes)) => StatusSpec::Codes(
            codes
                .iter()
                .map(|code| status_code(*code))
                .collect::<Result<_, _>>()?,
        ),
        Some(StatusFile::Class(class)) => {
            let hundred = class
                .strip_suffix("xx")
                .and_then(|digit| digit.parse::<u16>().ok())
                .filter(|digit| (1..=5).contains(digit))
                .ok_or_else(|| {
                    format!(
                        "status `{class}`: expected a code, a list of codes or a class like \"2xx\""
                    )
                })?;
            StatusSpec::Class(hundred)
        }
    };
    let mut when = Vec::new();
    for (pointer, expect) in &rule.when {
        let pointer = pointer_of(pointer)?;
        let expect = match expect {
            ExpectFile::Exists { exists } => Expect::Exists(*exists),
            ExpectFile::Value(value) => Expect::Equals(
                serde_json::to_value(value)
                    .map_err(|problem| format!("when.{pointer}: {problem}"))?,
            ),
        };
        when.push((pointer, expect));
    }
    let outcome = RuleOutcome::parse(&rule.outcome).ok_or_else(|| {
        format!(
            "outcome `{}`: expected one of ok, replayed, insufficient_stock, key_reused, not_held, not_found, bad_input, unavailable, unknown, continue",
            rule.outcome
        )
    })?;
    Ok(Rule {
        name: key.to_owned(),
        status,
        when,
        outcome,
    })
}

fn status_code(code: u16) -> Result<u16, String> {
    if (100..=599).contains(&code) {
        Ok(code)
    } else {
        Err(format!("status {code} is not an HTTP status (100 to 599)"))
    }
}

/// A minijinja error as one line: what went wrong and where in the template.
fn template_error(error: &minijinja::Error) -> String {
    let mut text = error.kind().to_string();
    if let Some(detail) = error.detail() {
        text.push_str(": ");
        text.push_str(detail);
    }
    if let Some(line) = error.line() {
        text.push_str(&format!(" (template line {line})"));
    }
    text
}

/// What the rest of the adapter needs: an identity to extract, a way to seed.
fn check_needs(
    source: &Source<'_>,
    file: &AdapterFile,
    adapter: &Adapter,
) -> Result<(), AdapterError> {
    let header_span = file.adapter.identity.span();
    if adapter.identity == Identity::Reply {
        let extracts_id = adapter.ops.get(&OpKind::Reserve).is_none_or(|reserve| {
            reserve
                .extract
                .iter()
                .any(|(field, _)| *field == Field::Reservation)
        });
        if !extracts_id {
            return Err(source.error(
                "ops.reserve.extract.reservation",
                header_span,
                "identity = \"reply\" needs the reservation id's pointer in the reserve reply",
            ));
        }
    }
    let needed = match adapter.seed {
        Seed::Restock => Some((OpKind::Restock, "seed = \"restock\"")),
        Seed::OutOfBand => Some((
            OpKind::GetSku,
            "seed = \"out_of_band\" (stock is read back)",
        )),
        Seed::Command(_) => None,
    };
    if let Some((op, why)) = needed
        && !adapter.ops.contains_key(&op)
    {
        let span = file
            .adapter
            .seed
            .as_ref()
            .map_or(file.adapter.name.span(), Spanned::span);
        return Err(source.error(
            "adapter.seed",
            span,
            format!("{why} needs `ops.{}`", op.as_str()),
        ));
    }
    Ok(())
}
