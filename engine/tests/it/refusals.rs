//! Every refusal path, and for each: nothing changed (every SKU's stock, the ledger
//! stream's length and `seq` compared before and after — a refusal appends no event).

use redis::Value;
use stockproof_engine::limits::{
    CART_LINES_MAX, EXPIRE_BATCH_MAX, LINE_QTY_MAX, RESTOCK_QTY_MAX, SKU_TOTAL_MAX, TTL_MS_MAX,
};
use stockproof_engine::lua::{Script, ScriptName};
use stockproof_engine::{
    AdjustOutcome, EngineError, InventoryEngine, ReservationId, ReservationState, ReserveOutcome,
    Transition, TransitionOutcome,
};

use crate::support::{Setup, assert_ledger_matches, fingerprint, request, setup};

const RETENTION_MS: i64 = 60_000;

async fn reserved(setup: &Setup, key: &str, items: &[(&str, i64)]) -> ReservationId {
    match setup
        .engine
        .reserve(&request(key, items, 60_000))
        .await
        .unwrap()
    {
        ReserveOutcome::Reserved(reservation) => reservation.id,
        other => panic!("expected Reserved for {key}, got {other:?}"),
    }
}

#[tokio::test]
async fn refused_reserves_change_nothing_and_name_the_cause() {
    // Goal: insufficient stock, unknown SKU, replay and key reuse change nothing and
    // say why. Method: fingerprint before and after each refusal.
    let mut setup = setup("refuse-reserve", RETENTION_MS).await;
    setup.engine.restock("a", 5).await.unwrap();
    setup.engine.restock("b", 1).await.unwrap();
    let id = reserved(&setup, "k1", &[("a", 2), ("b", 1)]).await;
    let before = fingerprint(&mut setup).await;

    let outcome = setup
        .engine
        .reserve(&request("k2", &[("a", 1), ("b", 1)], 60_000))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReserveOutcome::Insufficient {
            sku: "b".into(),
            requested: 1,
            available: 0
        }
    );
    let outcome = setup
        .engine
        .reserve(&request("k3", &[("a", 1), ("ghost", 1)], 60_000))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReserveOutcome::UnknownSku {
            sku: "ghost".into()
        }
    );
    // Same items, other order and split lines: the canonical cart is the same.
    let outcome = setup
        .engine
        .reserve(&request("k1", &[("b", 1), ("a", 1), ("a", 1)], 60_000))
        .await
        .unwrap();
    let ReserveOutcome::Replayed(replayed) = outcome else {
        panic!("expected Replayed, got {outcome:?}");
    };
    assert_eq!(
        (replayed.id.clone(), replayed.state),
        (id.clone(), ReservationState::Held)
    );
    let outcome = setup
        .engine
        .reserve(&request("k1", &[("a", 2)], 60_000))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReserveOutcome::KeyReused {
            existing: id.clone()
        }
    );
    assert_eq!(fingerprint(&mut setup).await, before);

    // A refused reserve recorded nothing: the same key succeeds once stock is there.
    setup.engine.restock("b", 1).await.unwrap();
    let retried = reserved(&setup, "k2", &[("a", 1), ("b", 1)]).await;
    assert_ne!(retried, id);
    assert_ledger_matches(&mut setup).await;
}

#[tokio::test]
async fn replay_reports_the_current_state() {
    // Goal: a replay after confirm returns the first reservation as it is now.
    let mut setup = setup("replay-state", RETENTION_MS).await;
    setup.engine.restock("a", 5).await.unwrap();
    let id = reserved(&setup, "k", &[("a", 2)]).await;
    setup
        .engine
        .transition(&id, Transition::Confirm)
        .await
        .unwrap();
    let before = fingerprint(&mut setup).await;
    let outcome = setup
        .engine
        .reserve(&request("k", &[("a", 2)], 60_000))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, ReserveOutcome::Replayed(r) if r.id == id && r.state == ReservationState::Confirmed),
        "{outcome:?}"
    );
    assert_eq!(fingerprint(&mut setup).await, before);
}

#[tokio::test]
async fn transitions_from_a_terminal_state_change_nothing() {
    // Goal: confirm after release, confirm after expiry, release after confirm,
    // repeated confirm / release, unknown reservation: each is told the state that won
    // (or success for a repeat) and changes nothing. Method: fingerprint around each.
    let mut setup = setup("refuse-transition", RETENTION_MS).await;
    setup.engine.restock("a", 10).await.unwrap();
    let released = reserved(&setup, "k-released", &[("a", 1)]).await;
    let confirmed = reserved(&setup, "k-confirmed", &[("a", 1)]).await;
    let ReserveOutcome::Reserved(expiring) = setup
        .engine
        .reserve(&request("k-expired", &[("a", 1)], 1))
        .await
        .unwrap()
    else {
        panic!("reserve refused")
    };
    setup
        .engine
        .transition(&released, Transition::Release)
        .await
        .unwrap();
    setup
        .engine
        .transition(&confirmed, Transition::Confirm)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    assert_eq!(
        setup
            .engine
            .expire_due(EXPIRE_BATCH_MAX)
            .await
            .unwrap()
            .expired,
        vec![expiring.id.clone()]
    );
    let before = fingerprint(&mut setup).await;

    let engine = &setup.engine;
    let not_held = |state| TransitionOutcome::NotHeld { state };
    assert_eq!(
        engine
            .transition(&released, Transition::Confirm)
            .await
            .unwrap(),
        not_held(ReservationState::Released)
    );
    assert_eq!(
        engine
            .transition(&expiring.id, Transition::Confirm)
            .await
            .unwrap(),
        not_held(ReservationState::Expired)
    );
    assert_eq!(
        engine
            .transition(&expiring.id, Transition::Release)
            .await
            .unwrap(),
        not_held(ReservationState::Expired)
    );
    assert_eq!(
        engine
            .transition(&confirmed, Transition::Release)
            .await
            .unwrap(),
        not_held(ReservationState::Confirmed)
    );
    let repeat = engine
        .transition(&confirmed, Transition::Confirm)
        .await
        .unwrap();
    assert!(
        matches!(&repeat, TransitionOutcome::AlreadyApplied(r) if r.state == ReservationState::Confirmed && r.id == confirmed),
        "{repeat:?}"
    );
    let repeat = engine
        .transition(&released, Transition::Release)
        .await
        .unwrap();
    assert!(
        matches!(&repeat, TransitionOutcome::AlreadyApplied(r) if r.state == ReservationState::Released),
        "{repeat:?}"
    );
    for unknown in ["r999999", "nope", ""] {
        let outcome = engine
            .transition(&ReservationId(unknown.into()), Transition::Confirm)
            .await
            .unwrap();
        assert_eq!(
            outcome,
            TransitionOutcome::UnknownReservation,
            "id `{unknown}`"
        );
    }
    assert_eq!(
        engine
            .reservation(&ReservationId("r999999".into()))
            .await
            .unwrap(),
        None
    );
    assert_eq!(fingerprint(&mut setup).await, before);
}

#[tokio::test]
async fn adjust_refusals_change_nothing() {
    // Goal: an adjust below zero or of an unknown SKU is refused without a trace.
    let mut setup = setup("refuse-adjust", RETENTION_MS).await;
    setup.engine.restock("a", 3).await.unwrap();
    reserved(&setup, "k", &[("a", 2)]).await;
    let before = fingerprint(&mut setup).await;
    assert_eq!(
        setup.engine.adjust("a", -2).await.unwrap(),
        AdjustOutcome::Refused { available: 1 }
    );
    assert_eq!(
        setup.engine.adjust("ghost", 1).await.unwrap(),
        AdjustOutcome::UnknownSku
    );
    assert_eq!(fingerprint(&mut setup).await, before);
}

fn assert_invalid(outcome: Result<impl std::fmt::Debug, EngineError>, field: &str) {
    match outcome {
        Err(EngineError::InvalidInput { field: got, .. }) => assert_eq!(got, field),
        other => panic!("expected InvalidInput on `{field}`, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_any_write() {
    // Goal: bad quantities, TTLs, carts, SKU ids, keys and limits are InvalidInput and
    // change nothing. Method: fingerprint around a list of bad calls.
    let mut setup = setup("refuse-input", RETENTION_MS).await;
    setup.engine.restock("a", 5).await.unwrap();
    let before = fingerprint(&mut setup).await;
    let engine = &setup.engine;
    let too_many: Vec<(String, i64)> = (0..=CART_LINES_MAX)
        .map(|line| (format!("s{line}"), 1))
        .collect();
    let too_many: Vec<(&str, i64)> = too_many
        .iter()
        .map(|(sku, qty)| (sku.as_str(), *qty))
        .collect();
    let reserves = [
        (request("k", &[("a", 0)], 1_000), "items.qty"),
        (request("k", &[("a", -1)], 1_000), "items.qty"),
        (request("k", &[("a", LINE_QTY_MAX + 1)], 1_000), "items.qty"),
        (
            request("k", &[("a", LINE_QTY_MAX), ("a", 1)], 1_000),
            "items.qty",
        ),
        (request("k", &[("a", 1)], 0), "ttl_ms"),
        (request("k", &[("a", 1)], TTL_MS_MAX + 1), "ttl_ms"),
        (request("k", &[], 1_000), "items"),
        (request("k", &too_many, 1_000), "items"),
        (request("k", &[("a b", 1)], 1_000), "sku"),
        (request("", &[("a", 1)], 1_000), "idempotency_key"),
        (request("k y", &[("a", 1)], 1_000), "idempotency_key"),
    ];
    for (bad, field) in &reserves {
        assert_invalid(engine.reserve(bad).await, field);
    }
    assert_invalid(engine.restock("a", 0).await, "qty");
    assert_invalid(engine.restock("a", RESTOCK_QTY_MAX + 1).await, "qty");
    assert_invalid(engine.restock("", 1).await, "sku");
    assert_invalid(engine.adjust("a", 0).await, "delta");
    assert_invalid(engine.expire_due(0).await, "limit");
    assert_invalid(engine.expire_due(EXPIRE_BATCH_MAX + 1).await, "limit");
    assert_eq!(fingerprint(&mut setup).await, before);
}

/// Calls a script by SHA with raw arguments, skipping the engine's own validation.
async fn raw_call(setup: &mut Setup, name: ScriptName, args: &[&str]) -> Vec<String> {
    let keys = setup.engine.keys().clone();
    let script = Script::new(name, RETENTION_MS);
    let mut command = script.call(&keys.seq(), keys.prefix());
    for arg in args {
        command.arg(*arg);
    }
    let value: Value = command
        .query_async(&mut setup.redis)
        .await
        .expect("EVALSHA");
    let Value::Array(fields) = value else {
        panic!("{value:?}")
    };
    fields
        .into_iter()
        .map(|field| match field {
            Value::BulkString(bytes) => String::from_utf8(bytes).unwrap(),
            Value::Int(value) => value.to_string(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn scripts_validate_their_own_arguments() {
    // Goal: a caller that skips the Rust validation still cannot write a bad value;
    // duplicate lines are merged inside the script before any stock check. Method:
    // EVALSHA with bad raw arguments; fingerprint unchanged after every call.
    let mut setup = setup("script-validation", RETENTION_MS).await;
    setup.engine.restock("a", 5).await.unwrap();
    let before = fingerprint(&mut setup).await;
    let max_plus = (LINE_QTY_MAX + 1).to_string();
    let half = (LINE_QTY_MAX / 2 + 1).to_string();
    let over_total = (SKU_TOTAL_MAX - 4).to_string();
    let cases: Vec<(ScriptName, Vec<&str>, Vec<&str>)> = vec![
        (
            ScriptName::Reserve,
            vec!["k", "1000", "1", "a", "0"],
            vec!["invalid", "items.qty", "range"],
        ),
        (
            ScriptName::Reserve,
            vec!["k", "1000", "1", "a", "1.5"],
            vec!["invalid", "items.qty", "range"],
        ),
        (
            ScriptName::Reserve,
            vec!["k", "1000", "1", "a", "1e2"],
            vec!["invalid", "items.qty", "range"],
        ),
        (
            ScriptName::Reserve,
            vec!["k", "1000", "1", "a", &max_plus],
            vec!["invalid", "items.qty", "range"],
        ),
        (
            ScriptName::Reserve,
            vec!["k", "1000", "2", "a", &half, "a", &half],
            vec!["invalid", "items.qty", "range"],
        ),
        (
            ScriptName::Reserve,
            vec!["k", "0", "1", "a", "1"],
            vec!["invalid", "ttl_ms", "range"],
        ),
        (
            ScriptName::Reserve,
            vec!["k", "1000", "2", "a", "1"],
            vec!["invalid", "items", "count"],
        ),
        (
            ScriptName::Reserve,
            vec!["k", "1000", "1", "a{x}", "1"],
            vec!["invalid", "sku", "format"],
        ),
        (
            ScriptName::Reserve,
            vec!["k k", "1000", "1", "a", "1"],
            vec!["invalid", "idempotency_key", "format"],
        ),
        // Two lines of 3 on a SKU with 5: merged to 6 before the check, so refused.
        (
            ScriptName::Reserve,
            vec!["k", "1000", "2", "a", "3", "a", "3"],
            vec!["insufficient", "a", "6", "5"],
        ),
        (
            ScriptName::Restock,
            vec!["a", "-1"],
            vec!["invalid", "qty", "range"],
        ),
        (
            ScriptName::Restock,
            vec!["a", &over_total],
            vec!["invalid", "qty", "range"],
        ),
        (
            ScriptName::Adjust,
            vec!["a", "0"],
            vec!["invalid", "delta", "range"],
        ),
        (
            ScriptName::Expire,
            vec!["0"],
            vec!["invalid", "limit", "range"],
        ),
    ];
    for (name, args, expected) in cases {
        assert_eq!(
            raw_call(&mut setup, name, &args).await,
            expected,
            "{name:?} {args:?}"
        );
    }
    assert_eq!(fingerprint(&mut setup).await, before);
}
