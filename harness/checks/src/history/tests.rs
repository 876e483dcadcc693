use super::*;

fn sample_entries() -> Vec<HistoryEntry> {
    vec![
        HistoryEntry {
            id: 1,
            user: None,
            op: Op::Restock {
                sku: "a-01".to_owned(),
                qty: 100,
            },
            intended_us: None,
            invoke_us: 10,
            complete_us: 250,
            outcome: Outcome::Ok,
            status: Some(200),
            response: Some(Response {
                stock: Some(SkuStock {
                    available: 100,
                    reserved: 0,
                    sold: 0,
                    total: 100,
                }),
                ..Response::default()
            }),
            retry_of: None,
        },
        HistoryEntry {
            id: 2,
            user: Some(3),
            op: Op::Reserve {
                key: "k-1".to_owned(),
                items: vec![CartLine {
                    sku: "a-01".to_owned(),
                    qty: 2,
                }],
                ttl_ms: 500,
            },
            intended_us: Some(300),
            invoke_us: 320,
            complete_us: 900,
            outcome: Outcome::Unknown,
            status: None,
            response: None,
            retry_of: Some(1),
        },
    ]
}

// Goal: a history written by the writer reads back equal, header included.
// Method: write a header and two entries of different kinds to a temp file, read it back.
#[test]
fn history_round_trips_through_jsonl() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.jsonl");
    let header = HistoryHeader::new("flash-sale", 42, 1_700_000_000_000, 60_000);
    let mut writer = HistoryWriter::create(&path, &header).expect("create");
    for entry in sample_entries() {
        writer.append(&entry).expect("append");
    }
    assert_eq!(writer.finish().expect("finish"), 2);
    let text = std::fs::read_to_string(&path).expect("read text");
    assert!(
        text.starts_with(r#"{"format":"stockproof-history","version":1,"#),
        "header line: {text}"
    );
    let history = read_history(&path).expect("read");
    assert_eq!(history.header, header);
    assert_eq!(history.entries, sample_entries());
}

// Goal: a file of another version or format is refused, naming the line.
// Method: write headers by hand and read them.
#[test]
fn history_reader_refuses_other_versions_and_bad_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.jsonl");
    std::fs::write(
        &path,
        r#"{"format":"stockproof-history","version":2,"scenario":"x","seed":1,"started_at_unix_ms":0,"idempotency_retention_ms":0}"#,
    )
    .expect("write");
    let error = read_history(&path).expect_err("version 2").to_string();
    assert!(
        error.contains(":1:") && error.contains("version 2"),
        "{error}"
    );

    let header = HistoryHeader::new("x", 1, 0, 0);
    let mut text = serde_json::to_string(&header).expect("header json");
    text.push_str("\n{\"id\":1,\"op\":{\"kind\":\"teleport\"}}\n");
    std::fs::write(&path, text).expect("write");
    let error = read_history(&path).expect_err("bad entry").to_string();
    assert!(
        error.contains(":2:") && error.contains("teleport"),
        "{error}"
    );
}

// Goal: an entry prints as one readable line (used by `stockproof check`).
// Method: print the sample entries.
#[test]
fn entries_print_in_the_compact_form() {
    let lines: Vec<String> = sample_entries().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "1 - 0.010-0.250ms ok restock a-01 100 -> 200 stock=100/0/0/100",
            "2 u3 0.320-0.900ms unknown reserve k-1 a-01:2 ttl=500 retry=1",
        ]
    );
}

// Goal: every op kind reads back as written, and a line naming a field of another kind,
// or missing one of its own, is refused with the field named.
// Method: serialise one op of each kind and parse it back; parse hand-written ops.
#[test]
fn every_op_kind_reads_back_and_wrong_fields_are_refused() {
    let reservation = || ReservationId("r1".to_owned());
    let ops = [
        Op::Restock {
            sku: "a".to_owned(),
            qty: 3,
        },
        Op::Adjust {
            sku: "a".to_owned(),
            delta: -2,
        },
        Op::Reserve {
            key: "k".to_owned(),
            items: vec![CartLine {
                sku: "a".to_owned(),
                qty: 1,
            }],
            ttl_ms: 5,
        },
        Op::Confirm {
            reservation: reservation(),
        },
        Op::Release {
            reservation: reservation(),
        },
        Op::GetSku {
            sku: "a".to_owned(),
        },
        Op::GetReservation {
            reservation: reservation(),
        },
        Op::Fault {
            description: "kill redis".to_owned(),
        },
    ];
    for op in ops {
        let text = serde_json::to_string(&op).expect("op json");
        assert_eq!(
            serde_json::from_str::<Op>(&text).expect(&text),
            op,
            "{text}"
        );
    }
    let refused = [
        (
            r#"{"kind":"restock","sku":"a","qty":1,"delta":2}"#,
            "unknown field `delta`",
        ),
        (r#"{"kind":"restock","sku":"a"}"#, "missing field `qty`"),
        (
            r#"{"kind":"get_sku","sku":"a","color":"red"}"#,
            "unknown field `color`",
        ),
        (r#"{"sku":"a"}"#, "missing field `kind`"),
    ];
    for (text, reason) in refused {
        let error = serde_json::from_str::<Op>(text)
            .expect_err(text)
            .to_string();
        assert!(error.contains(reason), "{text}: {error}");
    }
}

/// A shopper's reserve of `sku` with `key`, answered as `outcome` (a refusal for stock
/// when `fail`), a retry of `retry_of` if given.
fn reserve(id: u64, key: &str, outcome: Outcome, retry_of: Option<u64>) -> HistoryEntry {
    let refused = outcome == Outcome::Fail;
    HistoryEntry {
        id,
        user: Some(1 + id as u32 % 3),
        op: Op::Reserve {
            key: key.to_owned(),
            items: vec![stockproof_model::CartLine {
                sku: "a-01".to_owned(),
                qty: 1 + id as i64 % 2,
            }],
            ttl_ms: 1_000,
        },
        intended_us: id.is_multiple_of(2).then_some(id * 100),
        invoke_us: id * 100 + 5,
        complete_us: id * 100 + 50,
        outcome,
        status: Some(if refused { 409 } else { 201 }),
        response: Some(Response {
            reservation: (!refused).then(|| ReservationId(format!("r{id}"))),
            error: refused.then(|| "insufficient_stock".to_owned()),
            sku: refused.then(|| "a-01".to_owned()),
            available: refused.then_some(0),
            ..Response::default()
        }),
        retry_of,
    }
}

// Method: build a history through the builder from refusals, acknowledged reserves, a
// refusal whose key a later retry sends and one whose key an acknowledged reserve
// reuses; the plain ones fold, the two sharing keys do not, and every op comes back
// in order, whole, by iteration and by position.
#[test]
fn plain_refusals_fold_and_come_back_whole_in_order() {
    let written = vec![
        reserve(1, "k1", Outcome::Fail, None),
        reserve(2, "k2", Outcome::Ok, None),
        reserve(3, "k3", Outcome::Fail, None),
        reserve(4, "k4", Outcome::Fail, None),
        reserve(5, "k3", Outcome::Fail, Some(3)),
        reserve(6, "k6", Outcome::Fail, None),
        reserve(7, "k4", Outcome::Ok, None),
        reserve(8, "k8", Outcome::Unknown, None),
        reserve(9, "k9", Outcome::Fail, None),
    ];
    let mut builder = HistoryBuilder::new(HistoryHeader::new("t", 1, 0, 1_000));
    written
        .iter()
        .cloned()
        .for_each(|entry| builder.push(entry));
    let history = builder.finish();
    let folded: Vec<u64> = history
        .refusals
        .records()
        .map(|refusal| history.refusals.entry(refusal).id)
        .collect();
    assert_eq!(folded, [1, 6, 9], "k3 is retried and k4 reused: not plain");
    let kept: Vec<u64> = history.entries.iter().map(|entry| entry.id).collect();
    assert_eq!(kept, [2, 3, 4, 5, 7, 8]);
    let read: Vec<HistoryEntry> = history.ops().map(Cow::into_owned).collect();
    assert_eq!(read, written);
    for (position, entry) in written.iter().enumerate() {
        assert_eq!(history.op_at(position).as_deref(), Some(entry));
    }
    assert_eq!(history.op_at(written.len()), None);
    assert_eq!(history, History::new(history.header.clone(), written));
    assert_eq!(history.end_us(), 950);
    assert_eq!(history.load_end_us(), 950);
}
