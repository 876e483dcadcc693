//! Each operation's success path, with its ledger events.

use stockproof_engine::ledger::EventKind;
use stockproof_engine::{
    AdjustOutcome, CartLine, InventoryEngine, ReservationState, ReserveOutcome, Transition,
    TransitionOutcome,
};

use crate::support::{assert_ledger_matches, ledger, request, setup, stock};

const RETENTION_MS: i64 = 60_000;

#[tokio::test]
async fn restock_adjust_reserve_confirm_release_and_their_events() {
    // Goal: every operation changes stock as DESIGN §1 says and appends one event per
    // SKU it touched. Method: run each once on two SKUs, compare stock after each step
    // and the ledger's kinds and quantities at the end.
    let mut setup = setup("ops", RETENTION_MS).await;
    let engine = &setup.engine;
    assert_eq!(engine.restock("a", 10).await.unwrap(), stock(10, 0, 0, 10));
    assert_eq!(engine.restock("wh1:b", 5).await.unwrap(), stock(5, 0, 0, 5));
    assert_eq!(
        engine.adjust("a", -2).await.unwrap(),
        AdjustOutcome::Adjusted(stock(8, 0, 0, 8))
    );
    assert_eq!(
        engine.adjust("a", 1).await.unwrap(),
        AdjustOutcome::Adjusted(stock(9, 0, 0, 9))
    );

    let first = match engine
        .reserve(&request("k1", &[("wh1:b", 2), ("a", 3)], 60_000))
        .await
        .unwrap()
    {
        ReserveOutcome::Reserved(reservation) => reservation,
        other => panic!("expected Reserved, got {other:?}"),
    };
    assert_eq!(first.state, ReservationState::Held);
    assert_eq!(first.idempotency_key, "k1");
    assert_eq!(
        first.items,
        vec![
            CartLine {
                sku: "a".into(),
                qty: 3
            },
            CartLine {
                sku: "wh1:b".into(),
                qty: 2
            }
        ],
        "items are merged and sorted by sku"
    );
    assert_eq!(engine.sku("a").await.unwrap(), Some(stock(6, 3, 0, 9)));
    assert_eq!(engine.sku("wh1:b").await.unwrap(), Some(stock(3, 2, 0, 5)));
    let stored = engine
        .reservation(&first.id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored, first);

    let confirmed = engine
        .transition(&first.id, Transition::Confirm)
        .await
        .unwrap();
    let TransitionOutcome::Applied(confirmed) = confirmed else {
        panic!("expected Applied, got {confirmed:?}");
    };
    assert_eq!(confirmed.state, ReservationState::Confirmed);
    assert_eq!(confirmed.items, first.items);
    assert_eq!(engine.sku("a").await.unwrap(), Some(stock(6, 0, 3, 9)));

    let second = match engine
        .reserve(&request("k2", &[("a", 1), ("a", 1)], 60_000))
        .await
        .unwrap()
    {
        ReserveOutcome::Reserved(reservation) => reservation,
        other => panic!("expected Reserved, got {other:?}"),
    };
    assert_eq!(
        second.items,
        vec![CartLine {
            sku: "a".into(),
            qty: 2
        }]
    );
    let released = engine
        .transition(&second.id, Transition::Release)
        .await
        .unwrap();
    assert!(
        matches!(&released, TransitionOutcome::Applied(r) if r.state == ReservationState::Released)
    );
    assert_eq!(engine.sku("a").await.unwrap(), Some(stock(6, 0, 3, 9)));
    assert_eq!(engine.sku("nope").await.unwrap(), None);

    let keys = setup.engine.keys().clone();
    let events = ledger(&mut setup.redis, &keys).await;
    let summary: Vec<(EventKind, &str, i64)> = events
        .iter()
        .map(|event| (event.kind, event.sku.as_str(), event.qty))
        .collect();
    assert_eq!(
        summary,
        vec![
            (EventKind::Restock, "a", 10),
            (EventKind::Restock, "wh1:b", 5),
            (EventKind::Adjust, "a", -2),
            (EventKind::Adjust, "a", 1),
            (EventKind::Reserve, "a", 3),
            (EventKind::Reserve, "wh1:b", 2),
            (EventKind::Confirm, "a", 3),
            (EventKind::Confirm, "wh1:b", 2),
            (EventKind::Reserve, "a", 2),
            (EventKind::Release, "a", 2),
        ]
    );
    let reserve_event = &events[4];
    assert_eq!(reserve_event.reservation_id, first.id.0);
    assert_eq!(
        first.id.0,
        format!("r{}", reserve_event.seq),
        "id is r<first seq>"
    );
    assert_eq!(reserve_event.idempotency_key, "k1");
    assert_eq!(reserve_event.deadline_ms, first.deadline_ms);
    assert!(
        reserve_event.at_ms + 60_000 == first.deadline_ms,
        "deadline = at + ttl"
    );
    assert_eq!(events[6].reservation_id, first.id.0);
    assert_ledger_matches(&mut setup).await;
}

#[tokio::test]
async fn expire_due_expires_only_overdue_reservations() {
    // Goal: the sweeper's call expires Held reservations past their deadline (Redis
    // clock) and leaves the others. Method: one 1 ms and one 60 s reservation, wait,
    // expire, compare states and stock.
    let mut setup = setup("expire", RETENTION_MS).await;
    let engine = &setup.engine;
    engine.restock("a", 5).await.unwrap();
    let ReserveOutcome::Reserved(short) =
        engine.reserve(&request("s", &[("a", 1)], 1)).await.unwrap()
    else {
        panic!("short reserve refused")
    };
    let ReserveOutcome::Reserved(long) = engine
        .reserve(&request("l", &[("a", 2)], 60_000))
        .await
        .unwrap()
    else {
        panic!("long reserve refused")
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let report = engine.expire_due(256).await.unwrap();
    assert_eq!(report.expired, vec![short.id.clone()]);
    assert_eq!(report.still_due, 0);
    let state = |id| async move { engine.reservation(id).await.unwrap().unwrap().state };
    assert_eq!(state(&short.id).await, ReservationState::Expired);
    assert_eq!(state(&long.id).await, ReservationState::Held);
    assert_eq!(engine.sku("a").await.unwrap(), Some(stock(3, 2, 0, 5)));
    assert_eq!(engine.expire_due(256).await.unwrap().expired, vec![]);
    assert_ledger_matches(&mut setup).await;
}

#[tokio::test]
async fn expire_due_respects_its_batch_bound() {
    // Goal: one call expires at most `limit` and says how many are still due.
    // Method: 5 overdue reservations, expire with limit 2, then 3.
    let mut setup = setup("batch", RETENTION_MS).await;
    let engine = &setup.engine;
    engine.restock("a", 5).await.unwrap();
    for index in 0..5 {
        let outcome = engine
            .reserve(&request(&format!("k{index}"), &[("a", 1)], 1))
            .await
            .unwrap();
        assert!(
            matches!(outcome, ReserveOutcome::Reserved(_)),
            "{outcome:?}"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    let first = engine.expire_due(2).await.unwrap();
    assert_eq!((first.expired.len(), first.still_due), (2, 3));
    let second = engine.expire_due(3).await.unwrap();
    assert_eq!((second.expired.len(), second.still_due), (3, 0));
    assert_eq!(engine.sku("a").await.unwrap(), Some(stock(5, 0, 0, 5)));
    assert_ledger_matches(&mut setup).await;
}
