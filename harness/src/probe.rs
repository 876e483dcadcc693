//! `stockproof probe`: the onboarding path for an adapter. A short scripted sequence on a
//! fresh SKU — seed, read, reserve, the same reserve again, the same key with other
//! items, a reserve that cannot be met, confirm, confirm again, release after confirm,
//! read the reservation and the SKU, an expiry — each op sent through the adapter and its
//! classification compared with what the contract means. A mismatch says what the
//! service did and which rule to look at ("replay answered 201 with a new id: …").
//!
//! Not here: printing (`cmd::probe`), the adapter machinery (`crate::adapter`).

use std::time::Duration;

use reqwest::Client;
use stockproof_engine::{CartLine, ReservationId, ReservationState};

use crate::adapter::{Bound, Capability, Session, StepTrace};
use crate::history::{Op, OpKind, Outcome};
use crate::load::wire::Reply;

/// Units the probe SKU is seeded with: one to sell, one to expire.
pub const PROBE_STOCK: i64 = 2;
/// Timeout of each probe request: onboarding, not load.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// TTL of the hold the probe lets expire, and how long past it the probe waits for the
/// service's sweeper.
pub const PROBE_TTL: Duration = Duration::from_secs(1);
pub const PROBE_EXPIRY_WAIT: Duration = Duration::from_secs(4);

/// What one step of the probe showed.
#[derive(Debug)]
pub struct ProbeStep {
    pub title: String,
    pub traces: Vec<StepTrace>,
    pub verdict: StepVerdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepVerdict {
    /// The reply means what the contract means.
    AsContract(String),
    /// It does not: what the service did, and what to fix.
    Mismatch(String),
    /// Not tried, and why (the adapter lacks the op or the capability).
    Skipped(String),
}

impl ProbeStep {
    pub fn is_mismatch(&self) -> bool {
        matches!(self.verdict, StepVerdict::Mismatch(_))
    }
}

/// The probe, run against `target` on `sku` (a name the binding knows, fresh in the
/// service), with keys prefixed by `key_prefix`.
pub async fn run(target: &Bound, sku: &str, key_prefix: &str) -> Vec<ProbeStep> {
    let probe = Probe {
        target,
        client: Client::new(),
        session: Session::new(1),
        sku: sku.to_owned(),
        key_prefix: key_prefix.to_owned(),
    };
    probe.run().await
}

struct Probe<'t> {
    target: &'t Bound,
    client: Client,
    session: Session,
    sku: String,
    key_prefix: String,
}

impl Probe<'_> {
    async fn run(&self) -> Vec<ProbeStep> {
        let mut steps = vec![
            self.seed().await,
            self.read_sku(PROBE_STOCK, "after seeding").await,
        ];
        let (reserve, first) = self.reserve_first().await;
        steps.push(reserve);
        steps.extend(self.idempotency(first.as_ref()).await);
        steps.push(self.cannot_be_met().await);
        match &first {
            Some(reservation) => steps.extend(self.lifecycle(reservation).await),
            None => steps.push(skipped(
                "confirm, release, read the reservation",
                "the first reserve did not succeed",
            )),
        }
        steps.push(self.read_sku(PROBE_STOCK - 1, "after one unit sold").await);
        steps.push(self.expiry().await);
        steps
    }

    fn key(&self, name: &str) -> String {
        format!("{}-{name}", self.key_prefix)
    }

    fn reserve_op(&self, key: &str, qty: i64, ttl: Duration) -> Op {
        Op::Reserve {
            key: key.to_owned(),
            items: vec![CartLine {
                sku: self.sku.clone(),
                qty,
            }],
            ttl_ms: ttl.as_millis() as i64,
        }
    }

    fn timeout(&self) -> Duration {
        self.target.adapter.request_timeout(PROBE_TIMEOUT)
    }

    async fn send(&self, op: &Op) -> (Reply, Vec<StepTrace>) {
        self.target
            .send_traced(&self.client, op, self.timeout(), &self.session)
            .await
    }

    async fn seed(&self) -> ProbeStep {
        let reply = self
            .target
            .seed(&self.client, &self.sku, PROBE_STOCK, self.timeout())
            .await;
        let verdict = if reply.outcome == Outcome::Ok {
            StepVerdict::AsContract(format!("{PROBE_STOCK} units seeded"))
        } else {
            StepVerdict::Mismatch(format!(
                "seeding was {}: check `adapter.seed` and the rules of the op it uses",
                describe(&reply)
            ))
        };
        ProbeStep {
            title: format!("seed {PROBE_STOCK} units of {}", self.sku),
            traces: Vec::new(),
            verdict,
        }
    }

    async fn read_sku(&self, expected: i64, when: &str) -> ProbeStep {
        let title = format!("read {} {when}: {expected} available", self.sku);
        if !self.target.adapter.supports(OpKind::GetSku) {
            return skipped(&title, "the adapter has no `ops.get_sku`");
        }
        let (reply, traces) = self
            .send(&Op::GetSku {
                sku: self.sku.clone(),
            })
            .await;
        let available = reply
            .response
            .as_ref()
            .and_then(|body| body.read_fields().and_then(|fields| fields.available));
        let verdict = match (reply.outcome, available) {
            (Outcome::Ok, Some(found)) if found == expected => {
                StepVerdict::AsContract(format!("available {found}"))
            }
            (Outcome::Ok, Some(found)) => StepVerdict::Mismatch(format!(
                "available {found}, expected {expected}: the service's count differs, or `ops.get_sku.extract.available` points at another field"
            )),
            (Outcome::Ok, None) => StepVerdict::Mismatch(
                "read ok, but no `available` extracted: check `ops.get_sku.extract.available`"
                    .to_owned(),
            ),
            _ => StepVerdict::Mismatch(format!("the read was {}: expected ok", describe(&reply))),
        };
        ProbeStep {
            title,
            traces,
            verdict,
        }
    }

    async fn reserve_first(&self) -> (ProbeStep, Option<ReservationId>) {
        let op = self.reserve_op(&self.key("k1"), 1, Duration::from_secs(600));
        let (reply, traces) = self.send(&op).await;
        let id = reply
            .response
            .as_ref()
            .and_then(|body| body.reservation.clone());
        let verdict = match (&reply.outcome, &id) {
            (Outcome::Ok, Some(id)) => StepVerdict::AsContract(format!("reserved, reservation {id}")),
            (Outcome::Ok, None) => StepVerdict::Mismatch("reserved, but no reservation id: set `ops.reserve.extract.reservation` (or `identity = \"key\"`)".to_owned()),
            _ => StepVerdict::Mismatch(format!("the reserve was {}: expected ok (the rule for a successful reserve in `ops.reserve.replies`)", describe(&reply))),
        };
        (
            ProbeStep {
                title: "reserve 1 unit with key k1".to_owned(),
                traces,
                verdict,
            },
            id,
        )
    }

    async fn idempotency(&self, first: Option<&ReservationId>) -> Vec<ProbeStep> {
        if self.target.adapter.lacks(Capability::Idempotency) {
            return vec![skipped(
                "replay of k1, k1 with other items",
                "the adapter declares `lacks = [\"idempotency\"]`",
            )];
        }
        let op = self.reserve_op(&self.key("k1"), 1, Duration::from_secs(600));
        let (reply, traces) = self.send(&op).await;
        let again = reply
            .response
            .as_ref()
            .and_then(|body| body.reservation.clone());
        let verdict = match (&reply.outcome, &again, first) {
            (Outcome::Ok, Some(again), Some(first)) if again == first => {
                StepVerdict::AsContract("the same reservation answered".to_owned())
            }
            (Outcome::Ok, Some(again), Some(first)) => StepVerdict::Mismatch(format!(
                "replay answered {} with a new id {again} (first: {first}): this service is not idempotent on the key, or the rule `replayed` does not match its replay",
                status_of(&reply)
            )),
            _ => StepVerdict::Mismatch(format!(
                "the replay was {}: expected the first reservation again (`replayed` or `ok`)",
                describe(&reply)
            )),
        };
        let replay = ProbeStep {
            title: "the same reserve again (key k1)".to_owned(),
            traces,
            verdict,
        };
        let other = self.reserve_op(&self.key("k1"), 2, Duration::from_secs(600));
        let (reply, traces) = self.send(&other).await;
        let verdict = expect_refusal(
            &reply,
            "idempotency_key_reused",
            "key_reused",
            "the service took a reused key for another cart",
        );
        vec![
            replay,
            ProbeStep {
                title: "key k1 with other items".to_owned(),
                traces,
                verdict,
            },
        ]
    }

    async fn cannot_be_met(&self) -> ProbeStep {
        let op = self.reserve_op(&self.key("k2"), 100, Duration::from_secs(600));
        let (reply, traces) = self.send(&op).await;
        let verdict = expect_refusal(
            &reply,
            "insufficient_stock",
            "insufficient_stock",
            "the service reserved more than it holds",
        );
        ProbeStep {
            title: "reserve 100 units (more than there are)".to_owned(),
            traces,
            verdict,
        }
    }

    async fn lifecycle(&self, reservation: &ReservationId) -> Vec<ProbeStep> {
        let mut steps = Vec::new();
        let confirm = Op::Confirm {
            reservation: reservation.clone(),
        };
        steps.push(
            self.transition(
                &confirm,
                "confirm",
                OpKind::Confirm,
                &[(Outcome::Ok, ReservationState::Confirmed)],
            )
            .await,
        );
        steps.push(
            self.transition(
                &confirm,
                "confirm again",
                OpKind::Confirm,
                &[
                    (Outcome::Ok, ReservationState::Confirmed),
                    (Outcome::Fail, ReservationState::Confirmed),
                ],
            )
            .await,
        );
        let release = Op::Release {
            reservation: reservation.clone(),
        };
        steps.push(
            self.transition(
                &release,
                "release after confirm",
                OpKind::Release,
                &[(Outcome::Fail, ReservationState::Confirmed)],
            )
            .await,
        );
        let read = Op::GetReservation {
            reservation: reservation.clone(),
        };
        steps.push(
            self.transition(
                &read,
                "read the reservation",
                OpKind::GetReservation,
                &[(Outcome::Ok, ReservationState::Confirmed)],
            )
            .await,
        );
        steps
    }

    /// An op on the first reservation whose reply must be one of `allowed` (outcome,
    /// state); a refusal must be `not_held`.
    async fn transition(
        &self,
        op: &Op,
        title: &str,
        kind: OpKind,
        allowed: &[(Outcome, ReservationState)],
    ) -> ProbeStep {
        if !self.target.adapter.supports(kind) {
            return skipped(
                title,
                &format!("the adapter has no `ops.{}`", kind.as_str()),
            );
        }
        let (reply, traces) = self.send(op).await;
        let body = reply.response.as_ref();
        let state = body.and_then(|body| body.state);
        let error = body.and_then(|body| body.error.as_deref());
        let refusal_ok = reply.outcome != Outcome::Fail || error == Some("not_held");
        let matched =
            state.is_some_and(|state| allowed.contains(&(reply.outcome, state))) && refusal_ok;
        let expected: Vec<String> = allowed
            .iter()
            .map(|(outcome, state)| match outcome {
                Outcome::Fail => format!("not_held with state {state}"),
                _ => format!("ok with state {state}"),
            })
            .collect();
        let verdict = if matched {
            StepVerdict::AsContract(format!(
                "{} with state {}",
                describe(&reply),
                state.map_or("?".to_owned(), |state| state.to_string())
            ))
        } else {
            StepVerdict::Mismatch(format!(
                "{} (state {}): expected {}; check `ops.{}.replies` and `adapter.states`",
                describe(&reply),
                state.map_or("none extracted".to_owned(), |state| state.to_string()),
                expected.join(" or "),
                kind.as_str()
            ))
        };
        ProbeStep {
            title: title.to_owned(),
            traces,
            verdict,
        }
    }

    async fn expiry(&self) -> ProbeStep {
        let title = format!("a hold of {} ms expires", PROBE_TTL.as_millis());
        if self.target.adapter.lacks(Capability::Ttl) {
            return skipped(&title, "the adapter declares `lacks = [\"ttl\"]`");
        }
        if !self.target.adapter.supports(OpKind::GetReservation) {
            return skipped(&title, "the adapter has no `ops.get_reservation` to see it");
        }
        let op = self.reserve_op(&self.key("k3"), 1, PROBE_TTL);
        let (reply, mut traces) = self.send(&op).await;
        let Some(id) = reply
            .response
            .as_ref()
            .and_then(|body| body.reservation.clone())
        else {
            return ProbeStep {
                title,
                traces,
                verdict: StepVerdict::Mismatch(format!(
                    "the short hold was {}: expected ok",
                    describe(&reply)
                )),
            };
        };
        tokio::time::sleep(PROBE_TTL + PROBE_EXPIRY_WAIT).await;
        let (read, more) = self.send(&Op::GetReservation { reservation: id }).await;
        traces.extend(more);
        let state = read.response.as_ref().and_then(|body| body.state);
        let verdict = if state == Some(ReservationState::Expired) {
            StepVerdict::AsContract("expired".to_owned())
        } else {
            StepVerdict::Mismatch(format!(
                "{} s after its TTL the hold reads {}: expected expired (the service does not expire holds on the TTL it is given: declare `lacks = [\"ttl\"]`, or map its state in `adapter.states`)",
                PROBE_EXPIRY_WAIT.as_secs(),
                state.map_or("no state".to_owned(), |state| state.to_string())
            ))
        };
        ProbeStep {
            title,
            traces,
            verdict,
        }
    }
}

/// A refusal with the contract's `error`, or a mismatch naming the outcome to add a
/// rule for.
fn expect_refusal(reply: &Reply, error: &str, outcome: &str, when_ok: &str) -> StepVerdict {
    let found = reply
        .response
        .as_ref()
        .and_then(|body| body.error.as_deref());
    match reply.outcome {
        Outcome::Fail if found == Some(error) => {
            StepVerdict::AsContract(format!("refused: {outcome}"))
        }
        Outcome::Ok => StepVerdict::Mismatch(format!(
            "answered ok: {when_ok}, or a rule classifies its refusal as ok; the refusal should match a rule with outcome `{outcome}`"
        )),
        _ => StepVerdict::Mismatch(format!(
            "{}: expected a refusal classified `{outcome}` (add or fix that rule)",
            describe(reply)
        )),
    }
}

fn skipped(title: &str, reason: &str) -> ProbeStep {
    ProbeStep {
        title: title.to_owned(),
        traces: Vec::new(),
        verdict: StepVerdict::Skipped(reason.to_owned()),
    }
}

fn status_of(reply: &Reply) -> String {
    reply
        .status
        .map_or_else(|| "no status".to_owned(), |status| status.to_string())
}

/// `ok (201)`, `refused: insufficient_stock (409)`, `unknown: no rule matched (418)`.
fn describe(reply: &Reply) -> String {
    let status = status_of(reply);
    match reply.outcome {
        Outcome::Ok => format!("ok ({status})"),
        Outcome::Fail => {
            let error = reply
                .response
                .as_ref()
                .and_then(|body| body.error.clone())
                .or(reply.transport_error.map(str::to_owned))
                .unwrap_or_default();
            format!("refused: {error} ({status})")
        }
        Outcome::Unknown => match reply.transport_error {
            Some(reason) => format!("unknown: {reason}"),
            None => format!("unknown: no rule matched ({status})"),
        },
    }
}
