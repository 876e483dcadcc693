//! Confirm racing expiry: exactly one wins each reservation, and the loser learns which.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use stockproof_engine::{
    InventoryEngine, ReservationId, ReservationState, ReserveOutcome, Transition, TransitionOutcome,
};
use tokio_util::sync::CancellationToken;

use crate::support::{assert_ledger_matches, request, setup};

const RETENTION_MS: i64 = 60_000;
const RESERVATIONS: usize = 200;
const TTL_MS: i64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_racing_expiry_has_exactly_one_winner() {
    // Goal: for each reservation either the confirm or the expiry wins, never both,
    // and a confirm that lost is told `Expired`. Method: 200 reservations with a 10 ms
    // TTL; each confirm is sent after a staggered 0..20 ms pause while two loops call
    // expire_due; compare confirm outcomes, sweeper reports and final states.
    let mut setup = setup("race", RETENTION_MS).await;
    setup
        .engine
        .restock("a", RESERVATIONS as i64)
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let sweepers: Vec<_> = (0..2)
        .map(|_| {
            let engine = Arc::clone(&setup.engine);
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let mut expired = Vec::new();
                while !cancel.is_cancelled() {
                    expired.extend(engine.expire_due(16).await.expect("expire_due").expired);
                    tokio::task::yield_now().await;
                }
                expired
            })
        })
        .collect();
    let confirms: Vec<_> = (0..RESERVATIONS)
        .map(|index| {
            let engine = Arc::clone(&setup.engine);
            tokio::spawn(async move {
                let outcome = engine
                    .reserve(&request(&format!("k{index}"), &[("a", 1)], TTL_MS))
                    .await
                    .unwrap();
                let ReserveOutcome::Reserved(reservation) = outcome else {
                    panic!("reserve {index}: {outcome:?}");
                };
                tokio::time::sleep(Duration::from_millis(index as u64 % 20)).await;
                let confirm = engine
                    .transition(&reservation.id, Transition::Confirm)
                    .await
                    .unwrap();
                (reservation.id, confirm)
            })
        })
        .collect();
    let mut confirmed = BTreeSet::new();
    let mut lost = BTreeSet::new();
    for handle in confirms {
        let (id, outcome) = handle.await.unwrap();
        match outcome {
            TransitionOutcome::Applied(reservation) => {
                assert_eq!(reservation.state, ReservationState::Confirmed);
                confirmed.insert(id);
            }
            TransitionOutcome::NotHeld {
                state: ReservationState::Expired,
            } => {
                lost.insert(id);
            }
            other => panic!("{id}: unexpected {other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(2 * TTL_MS as u64)).await;
    cancel.cancel();
    let mut swept: Vec<ReservationId> = Vec::new();
    for sweeper in sweepers {
        swept.extend(sweeper.await.unwrap());
    }
    let swept_set: BTreeSet<ReservationId> = swept.iter().cloned().collect();
    assert_eq!(swept.len(), swept_set.len(), "a reservation expired twice");
    assert!(
        swept_set.is_disjoint(&confirmed),
        "expired and confirmed: {:?}",
        swept_set.intersection(&confirmed)
    );
    // A lost confirm either met the sweeper's expiry or expired the overdue
    // reservation itself; either way it is Expired now, and every one ended once.
    assert_eq!(confirmed.len() + lost.len(), RESERVATIONS);
    assert!(swept_set.is_subset(&lost));
    assert!(
        !confirmed.is_empty() && !lost.is_empty(),
        "no race happened: {} confirmed",
        confirmed.len()
    );
    for id in confirmed.iter().chain(&lost) {
        let state = setup.engine.reservation(id).await.unwrap().unwrap().state;
        let expected = if confirmed.contains(id) {
            ReservationState::Confirmed
        } else {
            ReservationState::Expired
        };
        assert_eq!(state, expected, "{id}");
    }
    let stock = setup.engine.sku("a").await.unwrap().unwrap();
    assert_eq!((stock.sold, stock.reserved), (confirmed.len() as i64, 0));
    assert_ledger_matches(&mut setup).await;
}

#[tokio::test]
async fn an_overdue_confirm_expires_the_reservation_itself() {
    // Goal: the deadline is authoritative even when no sweeper runs: a confirm after
    // the deadline expires the reservation and reports Expired. Method: 1 ms TTL, wait,
    // confirm, then check the stock went back and a repeat says Expired too.
    let mut setup = setup("overdue", RETENTION_MS).await;
    setup.engine.restock("a", 2).await.unwrap();
    let ReserveOutcome::Reserved(reservation) = setup
        .engine
        .reserve(&request("k", &[("a", 2)], 1))
        .await
        .unwrap()
    else {
        panic!("reserve refused")
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    for transition in [
        Transition::Confirm,
        Transition::Release,
        Transition::Confirm,
    ] {
        assert_eq!(
            setup
                .engine
                .transition(&reservation.id, transition)
                .await
                .unwrap(),
            TransitionOutcome::NotHeld {
                state: ReservationState::Expired
            }
        );
    }
    assert_eq!(setup.engine.expire_due(10).await.unwrap().expired, vec![]);
    let stock = setup.engine.sku("a").await.unwrap().unwrap();
    assert_eq!((stock.available, stock.reserved), (2, 0));
    assert_ledger_matches(&mut setup).await;
}
