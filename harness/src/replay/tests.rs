use stockproof_engine::{ReservationState, SkuStock};

use super::*;
use crate::history::HistoryHeader;

fn entry(id: OpId, invoke_ms: u64, op: Op, outcome: Outcome, response: Response) -> HistoryEntry {
    HistoryEntry {
        id,
        user: Some(1),
        op,
        intended_us: None,
        invoke_us: invoke_ms * 1000,
        complete_us: invoke_ms * 1000 + 300,
        outcome,
        status: Some(if outcome == Outcome::Ok { 201 } else { 409 }),
        response: Some(response),
        retry_of: None,
    }
}

fn reserve(id: OpId, invoke_ms: u64, reservation: &str) -> HistoryEntry {
    let op = Op::Reserve {
        key: format!("k{id}"),
        items: vec![stockproof_engine::CartLine {
            sku: "a".to_owned(),
            qty: 1,
        }],
        ttl_ms: 1_000,
    };
    let response = Response {
        reservation: Some(ReservationId(reservation.to_owned())),
        state: Some(ReservationState::Held),
        ..Response::default()
    };
    entry(id, invoke_ms, op, Outcome::Ok, response)
}

fn reply(outcome: Outcome, status: u16, response: Response) -> Reply {
    Reply {
        outcome,
        status: Some(status),
        response: Some(response),
        transport_error: None,
    }
}

#[test]
fn ops_replay_in_invoke_order_not_in_recorded_order() {
    // Goal: the replay follows when ops were invoked (the history file is in roughly
    // completion order). Method: three ops recorded out of invoke order, one tie.
    let history = History::new(
        HistoryHeader::new("t", 1, 0, 1_000),
        vec![
            reserve(3, 20, "r3"),
            reserve(1, 5, "r1"),
            reserve(2, 5, "r2"),
        ],
    );
    let ids: Vec<OpId> = invoke_order(&history)
        .iter()
        .map(|entry| entry.id)
        .collect();
    assert_eq!(ids, vec![1, 2, 3]);
}

#[test]
fn a_confirm_names_the_reservation_the_replay_made() {
    // Goal: ids recorded in the run are swapped for the replayed ones; an id whose
    // reserve was never replayed (or got no id) is sent as recorded.
    let mut ids = IdMap::default();
    let recorded = reserve(1, 0, "r7");
    let made = Response {
        reservation: Some(ReservationId("r2".to_owned())),
        ..Response::default()
    };
    ids.learn(&recorded, &reply(Outcome::Ok, 201, made));
    let confirm = |id: &str| Op::Confirm {
        reservation: ReservationId(id.to_owned()),
    };
    assert_eq!(ids.rewrite(&confirm("r7")), confirm("r2"));
    assert_eq!(ids.rewrite(&confirm("r9")), confirm("r9"));
    let restock = Op::Restock {
        sku: "a".to_owned(),
        qty: 1,
    };
    assert_eq!(ids.rewrite(&restock), restock);
}

#[test]
fn a_difference_names_what_changed_and_ignores_ids() {
    // Goal: a replayed reply that differs in outcome, status, state or stock is flagged
    // with what differs; another id for the same reservation is not a difference.
    let recorded = reserve(1, 0, "r7");
    let same = Response {
        reservation: Some(ReservationId("r1".to_owned())),
        state: Some(ReservationState::Held),
        ..Response::default()
    };
    assert_eq!(difference(&recorded, &reply(Outcome::Ok, 201, same)), None);
    let refused = Response {
        error: Some("insufficient_stock".to_owned()),
        ..Response::default()
    };
    let text = difference(&recorded, &reply(Outcome::Fail, 409, refused)).unwrap();
    assert!(text.contains("outcome ok → fail"), "{text}");
    assert!(text.contains("status 201 → 409"), "{text}");
    assert!(
        text.contains("error None → Some(\"insufficient_stock\")"),
        "{text}"
    );
    let stock = |available| SkuStock {
        available,
        reserved: 0,
        sold: 10 - available,
        total: 10,
    };
    let read = entry(
        2,
        9,
        Op::GetSku {
            sku: "a".to_owned(),
        },
        Outcome::Ok,
        Response {
            stock: Some(stock(3)),
            ..Response::default()
        },
    );
    let replayed_read = Response {
        stock: Some(stock(4)),
        ..Response::default()
    };
    let text = difference(&read, &reply(Outcome::Ok, 201, replayed_read)).unwrap();
    assert_eq!(text, "stock 3/0/7/10 → 4/0/6/10");
    assert_eq!(
        reply_text(Outcome::Ok, Some(201), recorded.response.as_ref()),
        "ok 201 id=r7 state=held"
    );
}
