use super::*;

fn event(seq: i64, kind: EventKind, sku: &str, qty: i64, resv: &str, at_ms: i64) -> LedgerEvent {
    LedgerEvent {
        seq,
        kind,
        sku: sku.to_owned(),
        qty,
        reservation_id: resv.to_owned(),
        idempotency_key: if resv.is_empty() {
            String::new()
        } else {
            format!("key-{resv}")
        },
        deadline_ms: if kind == EventKind::Reserve {
            at_ms + 1_000
        } else {
            0
        },
        at_ms,
    }
}

#[test]
fn fold_tracks_stock_held_reservations_and_gaps() {
    // Goal: stock follows the replay rule, Held reservations keep their items, a
    // terminal one leaves a held-only fold, and missing seqs are reported as ranges.
    let mut fold = LedgerFold::held_only();
    fold.apply(&event(1, EventKind::Restock, "b", 10, "", 1));
    fold.apply(&event(2, EventKind::Restock, "a", 5, "", 2));
    fold.apply(&event(3, EventKind::Reserve, "a", 2, "r3", 3));
    fold.apply(&event(4, EventKind::Reserve, "b", 1, "r3", 3));
    fold.apply(&event(5, EventKind::Reserve, "a", 1, "r5", 4));
    fold.apply(&event(8, EventKind::Confirm, "a", 1, "r5", 9));
    fold.apply(&event(8, EventKind::Confirm, "a", 1, "r5", 9));
    let fold = fold.finish();
    assert_eq!(fold.gaps, vec![(6, 7)]);
    assert_eq!(fold.out_of_order, vec![8]);
    assert_eq!((fold.max_seq, fold.events), (8, 6));
    let a = fold.stocks["a"];
    assert_eq!((a.available, a.reserved, a.sold, a.total), (2, 2, 1, 5));
    assert_eq!(fold.reservations.keys().collect::<Vec<_>>(), vec!["r3"]);
    assert_eq!(
        fold.held_units(),
        BTreeMap::from([("a".to_owned(), 2), ("b".to_owned(), 1)])
    );
}

#[test]
fn fold_keeps_terminal_reservations_within_retention() {
    // Goal: with a retention cut-off, terminal reservations ended at or after it stay
    // (with their state and end time); earlier ones go.
    let mut fold = LedgerFold::keeping_terminal_since(50);
    fold.apply(&event(1, EventKind::Restock, "a", 5, "", 1));
    fold.apply(&event(2, EventKind::Reserve, "a", 1, "r2", 10));
    fold.apply(&event(3, EventKind::Reserve, "a", 1, "r3", 11));
    fold.apply(&event(4, EventKind::Release, "a", 1, "r2", 40));
    fold.apply(&event(5, EventKind::Expire, "a", 1, "r3", 60));
    assert!(!fold.reservations.contains_key("r2"));
    let r3 = &fold.reservations["r3"];
    assert_eq!(
        (r3.state, r3.terminal_at_ms),
        (ReservationState::Expired, Some(60))
    );
    assert_eq!(fold.held().count(), 0);
}
