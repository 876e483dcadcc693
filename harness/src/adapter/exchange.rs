//! Sending an op through an adapter: render each step's request from the op, the
//! shopper's session, the setup's values and the SKU's id; send it; classify the reply
//! by the step's rules; keep what the step saves; and turn the last reply into the
//! history's [`Reply`]. No rule matching, a 5xx no rule claims, a timeout or a reset
//! is `unknown`, and an unmatched reply is counted by step.
//!
//! [`Bound`] is an adapter bound to one target (`super::prepare` binds it).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use minijinja::Value;
use reqwest::Client;
use stockproof_engine::{ReservationId, ReservationState, SkuStock};

use super::pruned::find;
use super::rules::{RuleOutcome, classify};
use super::target_url::TargetUrl;
use super::{Adapter, Field, FieldSource, Identity, Step, ValueSource};
use crate::history::{Op, Outcome, Response, StockFields};
use crate::load::wire::{Reply, no_reply};

/// Largest reply body read through an adapter: GraphQL replies are larger than the
/// contract's, a megabyte is not a reply to one op.
pub(crate) const ADAPTER_REPLY_BYTES_MAX: usize = 1024 * 1024;

/// Most names an op's context holds (`vars`, `setup`, `user` and a reserve's four).
const OP_CONTEXT_NAMES_MAX: usize = 7;

/// Values one shopper keeps across its carts (`session` on a step). Shared by the
/// shopper's concurrent sends (a duplicate in flight beside its original), hence the
/// lock; it is held only to copy or store values, never across a request.
#[derive(Debug, Default)]
pub struct Session {
    /// The shopper's number, 1…users (0: the harness itself: seeding, final reads).
    pub user: u32,
    values: Mutex<BTreeMap<String, Value>>,
}

impl Session {
    pub fn new(user: u32) -> Session {
        Session {
            user,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    fn snapshot(&self) -> BTreeMap<String, Value> {
        self.values.lock().map_or_else(
            |poisoned| poisoned.into_inner().clone(),
            |values| values.clone(),
        )
    }

    fn keep(&self, sources: &[(String, ValueSource)], reply: &Received) {
        if sources.is_empty() {
            return;
        }
        let mut values = self
            .values
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        keep(sources, reply, &mut values);
    }
}

/// An adapter bound to a target: setup done, every SKU's id and saved values known.
#[derive(Debug)]
pub struct Bound {
    pub adapter: Adapter,
    /// The target's base URL (`http://host:port`), parsed once for every request.
    pub(super) target: TargetUrl,
    pub(super) vars: Value,
    pub(super) setup: Value,
    /// Scenario SKU name → its template object (`{name, id, index, …}`).
    pub(super) skus: HashMap<String, Value>,
    /// Service SKU id → scenario name, to name refusals in the history's terms.
    pub(super) names: HashMap<String, String>,
    /// Replies no rule matched, by step.
    pub(super) unmatched: Mutex<BTreeMap<String, u64>>,
    /// An empty map, shared by every step with nothing saved.
    pub(super) empty: Value,
    /// `run` in the setup's and SKU ids' templates ([`super::RunLabel`]).
    pub(super) run: Value,
}

/// The outcome of one step's reply.
pub(super) struct StepReply {
    pub(super) outcome: RuleOutcome,
    pub(super) status: u16,
    /// The reply parsed for the pointers the step reads (`super::pruned`).
    pub(super) body: Option<serde_json::Value>,
}

impl Bound {
    /// `http://host:port`, no trailing slash.
    pub fn base_url(&self) -> &str {
        self.target.as_str()
    }

    /// Counts of replies no rule matched, by step (`ops.reserve`, `ops.reserve.steps[2]`).
    pub fn unmatched(&self) -> BTreeMap<String, u64> {
        self.unmatched.lock().map_or_else(
            |poisoned| poisoned.into_inner().clone(),
            |counts| counts.clone(),
        )
    }

    /// Sends `op` (an HTTP op, never [`Op::Fault`]) and waits at most `timeout` per
    /// request.
    pub async fn send(
        &self,
        client: &Client,
        op: &Op,
        timeout: Duration,
        session: &Session,
    ) -> Reply {
        self.send_inner(client, op, timeout, session, None).await
    }

    /// [`Bound::send`], also returning each request sent and its reply as `probe`
    /// prints them (header values left out: they may carry secrets).
    pub async fn send_traced(
        &self,
        client: &Client,
        op: &Op,
        timeout: Duration,
        session: &Session,
    ) -> (Reply, Vec<StepTrace>) {
        let mut trace = Vec::new();
        let reply = self
            .send_inner(client, op, timeout, session, Some(&mut trace))
            .await;
        (reply, trace)
    }

    async fn send_inner(
        &self,
        client: &Client,
        op: &Op,
        timeout: Duration,
        session: &Session,
        mut trace: Option<&mut Vec<StepTrace>>,
    ) -> Reply {
        let kind = op.kind();
        let Some(spec) = self.adapter.ops.get(&kind) else {
            return Reply {
                outcome: Outcome::Fail,
                status: None,
                response: None,
                transport_error: Some("operation not in the adapter"),
            };
        };
        let base = Arc::new(self.op_context(op, session.user));
        let mut saved: BTreeMap<String, Value> = BTreeMap::new();
        let mut last = None;
        for step in &spec.steps {
            let context = Value::from_object(StepScope {
                op: Arc::clone(&base),
                session: self.values_of(&session.snapshot()),
                saved: self.values_of(&saved),
            });
            let traced = trace.as_deref_mut();
            let reply = match self.exchange(client, step, &context, timeout, traced).await {
                Ok(reply) => reply,
                Err(failed) => return failed,
            };
            keep(&step.save, &reply, &mut saved);
            session.keep(&step.session, &reply);
            let outcome = reply.step.outcome;
            last = Some(reply.step);
            if outcome != RuleOutcome::Continue {
                break;
            }
        }
        let Some(reply) = last else {
            return no_reply_named("no steps");
        };
        self.reply_of(op, spec, reply, &saved)
    }

    /// Renders, sends and classifies one step.
    pub(super) async fn exchange(
        &self,
        client: &Client,
        step: &Step,
        context: &Value,
        timeout: Duration,
        trace: Option<&mut Vec<StepTrace>>,
    ) -> Result<Received, Reply> {
        let request = self.render(step, context);
        // A value a template needs is missing (an earlier reply lacked it): the op may
        // have half happened, so it is unknown, and counted.
        let mut request = request.map_err(|_| {
            self.count_unmatched(&step.name);
            no_reply_named("template")
        })?;
        let builder = match &request.url {
            Ok(url) => client.request(step.method.clone(), url.clone()),
            Err(text) => client.request(step.method.clone(), text.as_str()),
        };
        let mut builder = builder.timeout(timeout);
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (header, value) in &request.headers {
            builder = builder.header(header, value);
        }
        // Only a trace shows the body after the send.
        let body = if trace.is_some() {
            request.body.clone()
        } else {
            request.body.take()
        };
        if let Some(body) = body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let received = match builder.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Only a step that saves a header needs them after the body is read.
                let headers = if step.reads_headers() {
                    response.headers().clone()
                } else {
                    reqwest::header::HeaderMap::new()
                };
                response.bytes().await.map(|bytes| (status, headers, bytes))
            }
            Err(error) => Err(error),
        };
        let (status, headers, bytes) = match received {
            Ok(received) => received,
            Err(error) => {
                let failed = no_reply(&error);
                if let Some(trace) = trace {
                    trace.push(StepTrace::of(
                        step,
                        &request,
                        None,
                        failed.transport_error,
                        None,
                    ));
                }
                return Err(failed);
            }
        };
        let body = (!bytes.is_empty() && bytes.len() <= ADAPTER_REPLY_BYTES_MAX)
            .then(|| step.reads.parse(&bytes))
            .flatten();
        let rule = classify(&step.replies, status, body.as_ref());
        let outcome = match rule {
            Some(rule) => rule.outcome,
            None if step.replies.is_empty() && (200..300).contains(&status) => RuleOutcome::Ok,
            None => {
                if status < 500 {
                    self.count_unmatched(&step.name);
                }
                RuleOutcome::Unknown
            }
        };
        if let Some(trace) = trace {
            let reply = String::from_utf8_lossy(&bytes);
            let mut traced = StepTrace::of(
                step,
                &request,
                Some(status),
                Some(outcome.as_str()),
                Some(&reply),
            );
            traced.rule = rule.map(|rule| rule.name.clone());
            trace.push(traced);
        }
        Ok(Received {
            step: StepReply {
                outcome,
                status,
                body,
            },
            headers,
            raw: bytes,
        })
    }

    /// A step's request with its templates rendered.
    fn render(&self, step: &Step, context: &Value) -> Result<Rendered, minijinja::Error> {
        let render = |name: &str| self.adapter.render(name, context);
        let path = render(&step.path)?;
        let mut query = Vec::with_capacity(step.query.len());
        for (param, template) in &step.query {
            query.push((param.clone(), render(template)?));
        }
        let mut headers = Vec::with_capacity(step.headers.len());
        for (header, template) in &step.headers {
            headers.push((header.clone(), render(template)?));
        }
        let body = step.body.as_deref().map(render).transpose()?;
        Ok(Rendered {
            url: self.target.join(&path),
            query,
            headers,
            body,
        })
    }

    fn count_unmatched(&self, step: &str) {
        if let Ok(mut counts) = self.unmatched.lock() {
            *counts.entry(step.to_owned()).or_insert(0) += 1;
        }
    }
}

/// A step's request, rendered.
struct Rendered {
    /// `Err`: the text that is not a URL, for the client to report.
    url: Result<reqwest::Url, String>,
    query: Vec<(String, String)>,
    headers: Vec<(reqwest::header::HeaderName, String)>,
    body: Option<String>,
}

/// One request of an op as sent and answered, for `probe`.
#[derive(Debug, Clone)]
pub struct StepTrace {
    /// `ops.reserve`, `ops.reserve.steps[2]`.
    pub step: String,
    /// `POST http://…/path?query` (header values left out).
    pub request: String,
    pub body: Option<String>,
    pub status: Option<u16>,
    /// The rule that matched (`ops.reserve.replies[1]`), if one did.
    pub rule: Option<String>,
    /// The step's classification, or why no reply came.
    pub outcome: Option<&'static str>,
    pub reply: Option<String>,
}

impl StepTrace {
    fn of(
        step: &Step,
        request: &Rendered,
        status: Option<u16>,
        outcome: Option<&'static str>,
        reply: Option<&str>,
    ) -> StepTrace {
        let query: Vec<String> = request
            .query
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let url = match &request.url {
            Ok(url) => url.as_str(),
            Err(text) => text.as_str(),
        };
        let url = if query.is_empty() {
            url.to_owned()
        } else {
            format!("{url}?{}", query.join("&"))
        };
        StepTrace {
            step: step.name.clone(),
            request: format!("{} {url}", step.method),
            body: request.body.clone(),
            status,
            rule: None,
            outcome,
            reply: reply.map(excerpt),
        }
    }
}

/// A step's classified reply with the headers `save` may read.
pub(super) struct Received {
    pub(super) step: StepReply,
    headers: reqwest::header::HeaderMap,
    /// The reply's body as it came (its parsed `step.body` holds only what the step
    /// reads).
    pub(super) raw: axum::body::Bytes,
}

/// Keeps the values `sources` name from `reply` in `into`.
pub(super) fn keep(
    sources: &[(String, ValueSource)],
    reply: &Received,
    into: &mut BTreeMap<String, Value>,
) {
    for (name, source) in sources {
        let value = match source {
            ValueSource::Pointer(pointer) => reply
                .step
                .body
                .as_ref()
                .and_then(|body| find(body, pointer))
                .filter(|value| !value.is_null())
                .map(Value::from_serialize),
            ValueSource::Header(header) => reply
                .headers
                .get(header)
                .and_then(|value| value.to_str().ok())
                .map(Value::from),
        };
        if let Some(value) = value {
            into.insert(name.clone(), value);
        }
    }
}

/// A JSON value as text: strings as they are (borrowed), numbers and booleans written.
fn text_of(value: &serde_json::Value) -> Option<Cow<'_, str>> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) => Some(Cow::Borrowed(text)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

fn no_reply_named(reason: &'static str) -> Reply {
    Reply {
        outcome: Outcome::Unknown,
        status: None,
        response: None,
        transport_error: Some(reason),
    }
}

impl Bound {
    /// The values every step of `op` sees, without the session and saved values.
    fn op_context(&self, op: &Op, user: u32) -> Vec<(&'static str, Value)> {
        let mut context = Vec::with_capacity(OP_CONTEXT_NAMES_MAX);
        context.extend([
            ("vars", self.vars.clone()),
            ("setup", self.setup.clone()),
            ("user", Value::from(user)),
        ]);
        match op {
            Op::Restock { sku, qty } => {
                context.push(("sku", self.sku_value(sku)));
                context.push(("qty", Value::from(*qty)));
            }
            Op::Adjust { sku, delta } => {
                context.push(("sku", self.sku_value(sku)));
                context.push(("delta", Value::from(*delta)));
            }
            Op::GetSku { sku } => context.push(("sku", self.sku_value(sku))),
            Op::Reserve { key, items, ttl_ms } => {
                let lines: Vec<Value> = items
                    .iter()
                    .map(|line| {
                        Value::from_object(LineScope {
                            sku: Value::from(line.sku.as_str()),
                            id: self.sku_value(&line.sku).get_attr("id").unwrap_or_default(),
                            qty: Value::from(line.qty),
                        })
                    })
                    .collect();
                context.push(("key", Value::from(key.as_str())));
                context.push(("items", Value::from(lines)));
                context.push(("ttl_ms", Value::from(*ttl_ms)));
                context.push(("ttl_s", Value::from((ttl_ms + 999) / 1000)));
            }
            Op::Confirm { reservation }
            | Op::Release { reservation }
            | Op::GetReservation { reservation } => {
                context.push(("reservation", Value::from(reservation.0.as_str())));
            }
            Op::Fault { .. } => {}
        }
        context
    }

    /// A map of values as a template value; the shared empty one when there are none.
    fn values_of(&self, values: &BTreeMap<String, Value>) -> Value {
        if values.is_empty() {
            self.empty.clone()
        } else {
            map_value(values)
        }
    }

    /// The scenario names of the SKUs this binding knows.
    pub(super) fn sku_names(&self) -> impl Iterator<Item = &str> {
        self.skus.keys().map(String::as_str)
    }

    pub(super) fn sku_value(&self, sku: &str) -> Value {
        self.skus.get(sku).cloned().unwrap_or_else(|| {
            Value::from_iter([("name", Value::from(sku)), ("id", Value::from(sku))])
        })
    }
}

/// What a template of one step sees: the op's values (a short list, scanned) and the
/// shopper's session and the op's saved values. Names resolve on lookup, so no map is
/// built per request; a name not there is undefined (strict: an error).
#[derive(Debug)]
struct StepScope {
    op: Arc<Vec<(&'static str, Value)>>,
    session: Value,
    saved: Value,
}

impl minijinja::value::Object for StepScope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "session" => Some(self.session.clone()),
            "saved" => Some(self.saved.clone()),
            name => self
                .op
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, value)| value.clone()),
        }
    }
}

/// A cart line as templates see it (`line.sku`, `line.id`, `line.qty`): a map of three
/// values, without building one per line.
#[derive(Debug)]
struct LineScope {
    sku: Value,
    id: Value,
    qty: Value,
}

impl minijinja::value::Object for LineScope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "sku" => Some(self.sku.clone()),
            "id" => Some(self.id.clone()),
            "qty" => Some(self.qty.clone()),
            _ => None,
        }
    }

    /// In key order, as a map of them would list them.
    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(&["id", "qty", "sku"])
    }
}

impl Bound {
    /// The history's reply for `op` from its last step's reply.
    fn reply_of(
        &self,
        op: &Op,
        spec: &super::OpSpec,
        reply: StepReply,
        saved: &BTreeMap<String, Value>,
    ) -> Reply {
        let (outcome, error) = reply.outcome.recorded();
        if outcome == Outcome::Unknown {
            return Reply {
                outcome,
                status: Some(reply.status),
                response: None,
                transport_error: None,
            };
        }
        let fields = self.fields(spec, reply.body.as_ref(), saved);
        let text = |field: Field| fields.text(field);
        let int = |field: Field| fields.int(field);
        let mut response = Response {
            error: error.map(str::to_owned),
            ..Response::default()
        };
        response.state = text(Field::State).and_then(|name| self.state_of(&name));
        response.deadline_ms = int(Field::DeadlineMs);
        match (op, reply.outcome) {
            (Op::Reserve { key, .. }, RuleOutcome::Ok | RuleOutcome::Replayed) => {
                response.reservation = match self.adapter.identity {
                    Identity::Key => Some(ReservationId(key.clone())),
                    Identity::Reply => {
                        text(Field::Reservation).map(|id| ReservationId(id.into_owned()))
                    }
                };
                response.state.get_or_insert(ReservationState::Held);
                response.replayed = reply.outcome == RuleOutcome::Replayed;
            }
            (Op::Confirm { .. }, RuleOutcome::Ok) => {
                response.state.get_or_insert(ReservationState::Confirmed);
            }
            (Op::Release { .. }, RuleOutcome::Ok) => {
                response.state.get_or_insert(ReservationState::Released);
            }
            (Op::GetSku { .. } | Op::Restock { .. } | Op::Adjust { .. }, RuleOutcome::Ok) => {
                response.stock = fields.stock();
                // A service exposing only some fields: keep those it has.
                if response.stock.is_none() {
                    let partial = StockFields {
                        available: int(Field::Available),
                        reserved: int(Field::Reserved),
                        sold: int(Field::Sold),
                        total: int(Field::Total),
                        on_hand: int(Field::OnHand),
                    };
                    response.stock_fields = (!partial.is_empty()).then_some(partial);
                }
            }
            (Op::Reserve { items, .. }, RuleOutcome::InsufficientStock) => {
                response.sku = text(Field::Sku)
                    .map(|id| {
                        self.names
                            .get(id.as_ref())
                            .cloned()
                            .unwrap_or_else(|| id.into_owned())
                    })
                    .or_else(|| (items.len() == 1).then(|| items[0].sku.clone()));
                response.available = int(Field::Available);
            }
            _ => {}
        }
        Reply {
            outcome,
            status: Some(reply.status),
            response: Some(response),
            transport_error: None,
        }
    }

    /// Every declared field found in `body`, derived ones computed from the others.
    fn fields<'b>(
        &self,
        spec: &super::OpSpec,
        body: Option<&'b serde_json::Value>,
        saved: &BTreeMap<String, Value>,
    ) -> Fields<'b> {
        let mut found = Fields::default();
        for (field, source) in &spec.extract {
            if let FieldSource::Pointer(pointer) = source
                && let Some(value) = body.and_then(|body| find(body, pointer))
                && !value.is_null()
            {
                found.0[*field as usize] = Some(Found::Json(value));
            }
        }
        let derives = spec
            .extract
            .iter()
            .any(|(_, source)| matches!(source, FieldSource::Expr(_)));
        if !derives {
            return found;
        }
        // What an `expr` sees: the integer fields found, and the op's saved values.
        let stock: Value = Field::ALL
            .into_iter()
            .filter_map(|field| Some((field.as_str(), Value::from(found.int(field)?))))
            .chain([("saved", map_value(saved))])
            .collect();
        for (field, source) in &spec.extract {
            if let FieldSource::Expr(template) = source
                && let Some(value) = self
                    .adapter
                    .render(template, &stock)
                    .ok()
                    .and_then(|text| text.trim().parse::<i64>().ok())
            {
                found.0[*field as usize] = Some(Found::Int(value));
            }
        }
        found
    }

    fn state_of(&self, name: &str) -> Option<ReservationState> {
        self.adapter.state(name).or_else(|| name.parse().ok())
    }
}

/// An integer from a JSON number or a numeric string (`"100"`).
fn integer_of(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(number) => number.as_i64(),
        serde_json::Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A result field of a reply: found at its pointer, or derived.
#[derive(Debug, Clone, Copy)]
enum Found<'b> {
    Json(&'b serde_json::Value),
    Int(i64),
}

/// The result fields of one reply, by [`Field`] (borrowed from the reply's body).
#[derive(Debug, Default)]
struct Fields<'b>([Option<Found<'b>>; Field::ALL.len()]);

impl<'b> Fields<'b> {
    fn text(&self, field: Field) -> Option<Cow<'b, str>> {
        match self.0[field as usize]? {
            Found::Json(value) => text_of(value),
            Found::Int(value) => Some(Cow::Owned(value.to_string())),
        }
    }

    fn int(&self, field: Field) -> Option<i64> {
        match self.0[field as usize]? {
            Found::Json(value) => integer_of(value),
            Found::Int(value) => Some(value),
        }
    }

    /// A SKU's stock when every field is there (found or derived).
    fn stock(&self) -> Option<SkuStock> {
        Some(SkuStock {
            available: self.int(Field::Available)?,
            reserved: self.int(Field::Reserved)?,
            sold: self.int(Field::Sold)?,
            total: self.int(Field::Total)?,
        })
    }
}

/// A map of saved values as one template value.
pub(super) fn map_value(values: &BTreeMap<String, Value>) -> Value {
    values
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// The first 300 characters of a reply, for errors.
pub(super) fn excerpt(text: &str) -> String {
    const EXCERPT_CHARS: usize = 300;
    let mut shown: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().count() > EXCERPT_CHARS {
        shown.push('…');
    }
    shown
}
