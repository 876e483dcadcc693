//! Keys come back exactly, whichever way they are kept.

use super::*;

fn round_trip(keys: &[String]) -> Vec<String> {
    let mut store = Keys::default();
    let refs: Vec<KeyRef> = keys.iter().map(|key| store.push(key).unwrap()).collect();
    refs.into_iter()
        .map(|key| {
            let mut out = String::from("left over");
            store.write(key, &mut out);
            out
        })
        .collect()
}

#[test]
fn keys_split_before_a_plain_trailing_number_only() {
    assert_eq!(split_number("sp-u17-c4031"), Some(("sp-u17-c", 4031)));
    assert_eq!(split_number("c0"), Some(("c", 0)));
    assert_eq!(split_number("42"), Some(("", 42)));
    // Would not come back the same, or does not fit: kept whole.
    for key in [
        "c007",
        "c00",
        "abc",
        "",
        "c4294967295",
        "c99999999999",
        "c-1x",
    ] {
        assert_eq!(split_number(key), None, "{key}");
    }
}

#[test]
fn every_kind_of_key_comes_back_exactly() {
    let keys: Vec<String> = [
        "sp-u1-c0",
        "sp-u1-c1",
        "sp-u2-c1",
        "c007",
        "",
        "ünïcødé-9",
        "abc",
        "c4294967295",
        "sp-u1-c12",
    ]
    .map(str::to_owned)
    .to_vec();
    assert_eq!(round_trip(&keys), keys);
}

#[test]
fn keys_past_the_stem_limit_are_kept_whole_and_still_come_back() {
    let keys: Vec<String> = (0..STEMS_MAX + 10)
        .map(|user| format!("u{user}-c{}", user % 7))
        .chain(["u5-c99".to_owned(), format!("u{}-c1", STEMS_MAX + 3)])
        .collect();
    let mut store = Keys::default();
    for key in &keys {
        store.push(key);
    }
    assert_eq!(store.stems.len(), STEMS_MAX);
    assert_eq!(store.whole_starts.len(), 11);
    assert_eq!(round_trip(&keys), keys);
}
