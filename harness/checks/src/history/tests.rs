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
