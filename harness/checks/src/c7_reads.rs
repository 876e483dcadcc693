//! C7 reads within bounds (black-box, DESIGN §8). Every acknowledged `GET` of a SKU —
//! during the load and the final reads — lies, field by field (available, reserved,
//! sold, total), within the bounds the history implies over that read's interval
//! `[invoke, complete]` (`super::stock_bounds`: Jepsen's counter checker with both
//! signs, unknown outcomes widening, expiry placed with the clock skew and the grace
//! as in C1 and C4, the grace not counting time under a fault: `crate::outages`). Every field is also at least 0 (DESIGN §1). Every acknowledged
//! `GET` of a reservation names a state it could be in then: not Held once a confirm
//! or release was acknowledged before the read was sent, or once deadline + grace +
//! skew had passed with no confirm or release ever sent; not Confirmed (Released)
//! unless a confirm (release) that was not refused had been sent before the read
//! completed, nor once the other transition was acknowledged before it was sent; not
//! Expired before deadline − skew, nor once a confirm or release was acknowledged.
//!
//! Caught: stale reads (a cache showing units surely taken since), phantom holds (a
//! hidden hold lowering `available` below every explanation), lost or invented units.
//! Not caught, by design: anything inside the bounds — a read served a little stale
//! while ops were in flight is indistinguishable from a linearizable one, and a lost
//! reply widens the bounds until the reservation it may have made surely ended. Reads
//! of a SKU no op of the history changed, and of a reservation no acknowledged reserve
//! named, are not judged (nothing to hold them to). The order of replies to one
//! reservation is C4's; the final stock's leak is C6's.

use std::collections::BTreeMap;

use stockproof_model::ReservationState;

use super::coverage::read_while_contended;
use super::index::Index;
use super::report::{Bound, CheckId, CheckReport, VIOLATIONS_KEPT_MAX, Violations, violation};
use super::stock_bounds::{Causes, Field, FieldBound, NEVER_US, StockModel};
use crate::history::{FieldsSeen, HistoryEntry, Op, OpId, Outcome, StockFields};

#[derive(Debug, Default)]
struct Judged {
    sku_reads: u64,
    sku_reads_during_load: u64,
    reads_while_contended: u64,
    reservation_reads: u64,
    fields_seen: FieldsSeen,
    /// Bounds of reads outside them, earliest op first, at most [`VIOLATIONS_KEPT_MAX`].
    broken: BTreeMap<(OpId, usize), Bound>,
}

pub(super) fn check(index: &Index<'_>, model: &StockModel<'_>) -> CheckReport {
    let mut violations = Violations::default();
    let mut judged = Judged::default();
    for entry in &index.history.entries {
        if entry.outcome != Outcome::Ok {
            continue;
        }
        let body = entry.response.as_ref();
        match &entry.op {
            Op::GetSku { sku } => {
                if let Some(stock) = body.and_then(|body| body.read_fields()) {
                    judge_sku_read(model, entry, sku, &stock, &mut judged, &mut violations);
                }
            }
            Op::GetReservation { reservation } => {
                let lifecycle = model.reservations.get(reservation.0.as_str());
                if let (Some(lifecycle), Some(state)) = (lifecycle, body.and_then(|b| b.state)) {
                    judged.reservation_reads += 1;
                    judge_reservation_read(
                        entry,
                        &reservation.0,
                        lifecycle.reserve_op,
                        &lifecycle.causes,
                        state,
                        &mut violations,
                    );
                }
            }
            _ => {}
        }
    }
    let counts = BTreeMap::from([
        ("sku_reads".to_owned(), judged.sku_reads),
        (
            "sku_reads_during_load".to_owned(),
            judged.sku_reads_during_load,
        ),
        (
            "reads_while_contended".to_owned(),
            judged.reads_while_contended,
        ),
        ("reservation_reads".to_owned(), judged.reservation_reads),
        ("unknown_outcomes".to_owned(), index.unknown_outcomes),
    ]);
    let mut report = CheckReport::finish(
        CheckId::C7,
        judged.sku_reads + judged.reservation_reads,
        "no acknowledged read of a SKU or reservation to judge",
        counts,
        judged.broken.into_values().collect(),
        violations,
    );
    if report.note.is_none() {
        report.note = judged.fields_seen.note("the SKU reads");
    }
    report
}

fn judge_sku_read(
    model: &StockModel<'_>,
    entry: &HistoryEntry,
    sku: &str,
    stock: &StockFields,
    judged: &mut Judged,
    violations: &mut Violations,
) {
    let (invoke_us, complete_us) = (entry.invoke_us as i64, entry.complete_us as i64);
    if model
        .bound(sku, Field::Total, invoke_us, complete_us)
        .is_none()
    {
        return;
    }
    judged.sku_reads += 1;
    judged.fields_seen.add(stock);
    judged.sku_reads_during_load += u64::from(entry.user.is_some());
    judged.reads_while_contended += u64::from(read_while_contended(model, entry));
    for (slot, field) in Field::ALL.into_iter().enumerate() {
        let Some(bound) = model.bound(sku, field, invoke_us, complete_us) else {
            continue;
        };
        // No field is ever negative (DESIGN §1), whatever the history says.
        let bound = FieldBound {
            lower: bound.lower.max(0),
            upper: bound.upper,
        };
        // A field the service does not expose is not judged.
        let Some(value) = field.of(stock) else {
            continue;
        };
        if (bound.lower..=bound.upper).contains(&value) {
            continue;
        }
        let above = value > bound.upper;
        let witnesses = model.witnesses(sku, field, invoke_us, above);
        violations.push(out_of_bounds(entry, sku, field, value, bound, &witnesses));
        judged.broken.insert(
            (entry.id, slot),
            Bound {
                subject: format!("op {} {sku} {}", entry.id, field.as_str()),
                lower: bound.lower,
                observed: Some(value),
                upper: bound.upper,
            },
        );
        if judged.broken.len() > VIOLATIONS_KEPT_MAX {
            judged.broken.pop_last();
        }
    }
}

fn out_of_bounds(
    entry: &HistoryEntry,
    sku: &str,
    field: Field,
    value: i64,
    bound: FieldBound,
    witnesses: &[OpId],
) -> super::Violation {
    let (kind, severity) = if value > bound.upper {
        ("read_above_upper_bound", value - bound.upper)
    } else {
        ("read_below_lower_bound", bound.lower - value)
    };
    let ops = if witnesses.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = witnesses.iter().map(ToString::to_string).collect();
        format!(
            "; the last changes surely made before it: ops {}",
            names.join(", ")
        )
    };
    let mut named = vec![entry.id];
    named.extend_from_slice(witnesses);
    violation(
        kind,
        Some(sku),
        None,
        named,
        severity,
        format!(
            "op {} read {} {value} for {sku} at {}, outside what the history allows: [lower, observed, upper] = [{}, {value}, {}]{ops}",
            entry.id,
            field.as_str(),
            interval(entry),
            bound.lower,
            bound.upper,
        ),
    )
}

/// `10.000-10.500 ms`.
fn interval(entry: &HistoryEntry) -> String {
    format!(
        "{:.3}-{:.3} ms",
        entry.invoke_us as f64 / 1000.0,
        entry.complete_us as f64 / 1000.0
    )
}

fn judge_reservation_read(
    entry: &HistoryEntry,
    reservation: &str,
    reserve_op: OpId,
    causes: &Causes,
    state: ReservationState,
    violations: &mut Violations,
) {
    let Some((why, witnesses)) = impossible_state(entry, reserve_op, causes, state) else {
        return;
    };
    let mut ops = vec![entry.id];
    ops.extend(witnesses);
    violations.push(violation(
        "impossible_reservation_state",
        None,
        Some(reservation),
        ops,
        1,
        format!(
            "op {} read reservation {reservation} as {state} at {}, a state it could not be in then: {why}",
            entry.id,
            interval(entry)
        ),
    ));
}

/// Why `state` is impossible over the read's interval, and the ops that show it.
fn impossible_state(
    entry: &HistoryEntry,
    reserve_op: OpId,
    causes: &Causes,
    state: ReservationState,
) -> Option<(String, Vec<OpId>)> {
    let (invoke_us, complete_us) = (entry.invoke_us as i64, entry.complete_us as i64);
    let acknowledged_before = |done: Option<(i64, OpId)>, what: &str| {
        done.filter(|(at, _)| *at < invoke_us).map(|(_, op)| {
            (
                format!("op {op}'s {what} was acknowledged before it was sent"),
                vec![op],
            )
        })
    };
    let confirmed = acknowledged_before(causes.confirm_ok, "confirm");
    let released = acknowledged_before(causes.release_ok, "release");
    let not_sent = |sent_us: i64, what: &str| {
        (sent_us > complete_us).then(|| {
            (
                format!("no {what} was sent before it completed"),
                Vec::new(),
            )
        })
    };
    match state {
        ReservationState::Held => confirmed.or(released).or_else(|| {
            (causes.expired_by_us < invoke_us).then(|| {
                (
                    "its deadline, the grace and the clock skew had passed with no confirm or release sent".to_owned(),
                    vec![reserve_op],
                )
            })
        }),
        ReservationState::Confirmed => not_sent(causes.confirm_sent_us, "confirm").or(released),
        ReservationState::Released => not_sent(causes.release_sent_us, "release").or(confirmed),
        ReservationState::Expired => (causes.expire_from_us > complete_us && causes.expire_from_us < NEVER_US)
            .then(|| {
                (
                    "its deadline less the clock skew had not come".to_owned(),
                    vec![reserve_op],
                )
            })
            .or(confirmed)
            .or(released),
    }
}
