use super::*;

#[test]
fn stream_ids_parse_order_and_step() {
    // Goal: ids parse, order as Redis orders them, and `next` is the smallest id after.
    let id = StreamId::parse("1700000000000-5").expect("a valid id");
    assert_eq!(
        id,
        StreamId {
            ms: 1_700_000_000_000,
            n: 5
        }
    );
    assert_eq!(id.next().to_string(), "1700000000000-6");
    assert!(StreamId::parse("9-0").expect("valid") < StreamId::parse("10-0").expect("valid"));
    let last_of_ms = StreamId { ms: 7, n: u64::MAX };
    assert_eq!(last_of_ms.next(), StreamId { ms: 8, n: 0 });
    assert!(StreamId::parse("12").is_err());
    assert!(StreamId::parse("a-1").is_err());
}

#[test]
fn entries_parse_from_resp2_arrays_and_nil_fields() {
    // Goal: an XRANGE-style reply becomes entries; a nil field list (deleted while
    // pending) becomes an entry without event; a bad field names the entry.
    let bulk = |text: &str| Value::BulkString(text.as_bytes().to_vec());
    let fields = [
        "seq",
        "3",
        "kind",
        "reserve",
        "sku",
        "a-1",
        "qty",
        "2",
        "resv",
        "r3",
        "key",
        "k1",
        "deadline_ms",
        "900",
        "at_ms",
        "100",
    ];
    let entry = Value::Array(vec![
        bulk("5-0"),
        Value::Array(fields.iter().map(|text| bulk(text)).collect()),
    ]);
    let deleted = Value::Array(vec![bulk("6-0"), Value::Nil]);
    let entries = parse_entries(Value::Array(vec![entry, deleted])).expect("parses");
    assert_eq!(entries.len(), 2);
    let event = entries[0].event.as_ref().expect("an event");
    assert_eq!((event.seq, event.qty, event.deadline_ms), (3, 2, 900));
    assert_eq!(event.reservation_id, "r3");
    assert_eq!(entries[1].event, None);
    let bad = Value::Array(vec![Value::Array(vec![
        bulk("7-0"),
        Value::Array(vec![bulk("seq"), bulk("x")]),
    ])]);
    let error = parse_entries(bad).expect_err("seq x is not an integer");
    assert!(error.to_string().contains("7-0"), "{error}");
}
