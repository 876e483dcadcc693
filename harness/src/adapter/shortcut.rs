//! Templates whose output needs no render: a text with no tag (`/v1/reservations`,
//! `{}`) is sent as it is, and one that is a single value lookup (`{{ key }}`,
//! `{{ sku.id | urlencode }}`) is answered by looking the value up and writing it as
//! minijinja would. A full render costs a template VM per request, and most paths and
//! headers of any adapter have one of these shapes, so this is most of the load's
//! template work. Anything else, and a lookup that finds no value (whose error or
//! default only the render knows), goes through the full render.
//!
//! Not here: compiling or checking templates (`super::compile`).

use minijinja::Value;

/// Words that are literals in a template expression, not names.
const RESERVED_NAMES: [&str; 6] = ["true", "false", "none", "True", "False", "None"];

/// How a template's output is made without a render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Shortcut {
    /// The template has no tag: this is its output.
    Literal(String),
    /// `{{ a.b.c }}` or `{{ a.b.c | urlencode }}`: the value at `path`, written.
    Lookup { path: Vec<String>, urlencode: bool },
}

impl Shortcut {
    /// The shortcut for template `text`, if it has one of the shapes above.
    pub(super) fn of(text: &str) -> Option<Shortcut> {
        if !["{{", "{%", "{#"].iter().any(|tag| text.contains(tag)) {
            return Some(Shortcut::Literal(text.to_owned()));
        }
        let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
        // `{{-`/`-}}` trim around the tag; another tag means more than one expression.
        if inner.starts_with('-') || inner.ends_with('-') || inner.contains("}}") {
            return None;
        }
        let (expression, urlencode) = match inner.split_once('|') {
            Some((expression, filter)) if filter.trim() == "urlencode" => (expression, true),
            Some(_) => return None,
            None => (inner, false),
        };
        let path: Vec<String> = expression
            .trim()
            .split('.')
            .map(|segment| is_name(segment).then(|| segment.to_owned()))
            .collect::<Option<_>>()?;
        Some(Shortcut::Lookup { path, urlencode })
    }

    /// The template's output with `context`; `None`: render it in full (a value is
    /// missing, or is of a kind the shortcut does not write).
    pub(super) fn output(&self, context: &Value) -> Option<String> {
        match self {
            Shortcut::Literal(text) => Some(text.clone()),
            Shortcut::Lookup { path, urlencode } => {
                let mut value = context.clone();
                for segment in path {
                    value = value.get_attr(segment).ok()?;
                    if value.is_undefined() {
                        return None;
                    }
                }
                if *urlencode {
                    minijinja::filters::urlencode(&value).ok()
                } else {
                    Some(value.to_string())
                }
            }
        }
    }
}

/// A plain name (`key`, `sku`, `id`): a letter or `_`, then letters, digits and `_`,
/// not one of the literal words.
fn is_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        && !RESERVED_NAMES.contains(&text)
}
