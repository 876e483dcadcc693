//! Parsing a reply for only what one step reads: the JSON pointers of its rules, of
//! what it saves and of its operation's extraction. The reply is parsed into a
//! [`serde_json::Value`] holding just the values those pointers reach (and the objects
//! and arrays on their way), the rest skipped unbuilt, so every pointer finds what it
//! would find in the whole reply while a reply costs a few allocations instead of one
//! per key and value. An array keeps its length up to the last index read (the
//! elements before it that no pointer reads are `null`). Skipped parts are checked
//! for JSON syntax as serde_json skips them (a malformed reply is still refused).
//!
//! Not here: what the pointers are checked against (`super::rules`, `super::exchange`).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The value at RFC 6901 `pointer` in `value`: what [`Value::pointer`] finds, without
/// an allocation per token (serde_json unescapes each token into a new string; this
/// does only for a token with an escape).
pub(super) fn find<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(value);
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/').try_fold(value, |found, token| {
        let token = unescape(token);
        match found {
            Value::Object(map) => map.get(token.as_ref()),
            // As serde_json reads an index: digits, no sign, no leading zero.
            Value::Array(list)
                if !token.starts_with('+') && (token == "0" || !token.starts_with('0')) =>
            {
                token
                    .parse::<usize>()
                    .ok()
                    .and_then(|index| list.get(index))
            }
            _ => None,
        }
    })
}

/// A pointer token with `~1` and `~0` read as `/` and `~`.
fn unescape(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

/// The pointers a step reads, as a tree of their tokens.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Reads {
    /// A pointer ends here: the whole value is read.
    whole: bool,
    /// Tokens below this point that some pointer goes through, each with what it reads.
    below: Vec<(String, Reads)>,
}

impl Reads {
    /// Adds an RFC 6901 pointer (`""`: the whole reply, `/data/id`, `/items/0/sku`).
    pub(super) fn add(&mut self, pointer: &str) {
        let mut node = self;
        // A pointer not starting with `/` finds nothing in serde_json: nothing to read.
        let Some(rest) = pointer.strip_prefix('/') else {
            node.whole |= pointer.is_empty();
            return;
        };
        for token in rest.split('/') {
            let token = unescape(token).into_owned();
            let at = match node.below.iter().position(|(known, _)| *known == token) {
                Some(at) => at,
                None => {
                    node.below.push((token, Reads::default()));
                    node.below.len() - 1
                }
            };
            node = &mut node.below[at].1;
        }
        node.whole = true;
    }

    /// `bytes` parsed for these pointers; `None` when it is not one JSON value.
    pub(super) fn parse(&self, bytes: &[u8]) -> Option<Value> {
        let mut reader = serde_json::Deserializer::from_slice(bytes);
        let value = self.deserialize(&mut reader).ok()?;
        reader.end().ok()?;
        Some(value)
    }

    fn below(&self, token: &str) -> Option<&Reads> {
        self.below
            .iter()
            .find(|(known, _)| known == token)
            .map(|(_, reads)| reads)
    }

    /// The last array index some token below names (a token serde_json would not read
    /// as an index, `01` or `+1`, only keeps a few more `null`s).
    fn last_index(&self) -> Option<usize> {
        self.below
            .iter()
            .filter_map(|(token, _)| token.parse::<usize>().ok())
            .max()
    }
}

impl<'de> DeserializeSeed<'de> for &Reads {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.whole {
            Value::deserialize(deserializer)
        } else if self.below.is_empty() {
            IgnoredAny::deserialize(deserializer).map(|_| Value::Null)
        } else {
            deserializer.deserialize_any(Pruning(self))
        }
    }
}

/// Builds the objects and arrays some pointer goes through; a scalar where one was
/// expected is read as `null` (no pointer finds anything in it either).
struct Pruning<'r>(&'r Reads);

impl<'de> Visitor<'de> for Pruning<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.0.below(&key) {
                Some(reads) => {
                    kept.insert(key.into_owned(), map.next_value_seed(reads)?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let last = self.0.last_index();
        let mut kept = Vec::new();
        let mut index = 0_usize;
        loop {
            match last {
                Some(last) if index <= last => {
                    let reads = self.0.below(&index.to_string()).unwrap_or(&SKIPPED);
                    match seq.next_element_seed(reads)? {
                        Some(element) => kept.push(element),
                        None => break,
                    }
                }
                _ => {
                    if seq.next_element::<IgnoredAny>()?.is_none() {
                        break;
                    }
                }
            }
            index += 1;
        }
        Ok(Value::Array(kept))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// An object's key, borrowed from the reply unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
    }
}

/// What an array element no pointer reads is parsed for: nothing.
static SKIPPED: Reads = Reads {
    whole: false,
    below: Vec::new(),
};
