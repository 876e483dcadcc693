//! Templates written without a render: a template made only of text, value lookups
//! (`{{ key }}`, `{{ sku.id | urlencode }}`, `{{ line.id | tojson }}`), `for` loops
//! over a list (`{% for line in items %}`) and `if` on `loop.first` / `loop.last`
//! (`{% if not loop.last %}, {% endif %}`) is compiled, from minijinja's own parse, into
//! a list of parts that write its output directly. A full render costs a template VM,
//! a loop object and a keyword-argument map per filter call per request; the paths,
//! headers and cart bodies of most adapters have these shapes, so this is most of the
//! load's template work. Values are written by minijinja's own code (`Value`'s
//! `Display`, its `urlencode` and `tojson` filters), so the output is the render's.
//! Anything else, and a lookup that finds no value or a loop over what is not a list
//! (whose error or output only the render knows), goes through the full render.
//!
//! Not here: compiling or checking templates (`super::compile`, which keeps a
//! shortcut only when it writes what the render wrote).

use std::fmt::Write as _;

use minijinja::machinery::{WhitespaceConfig, ast, parse};
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Value, syntax::SyntaxConfig};

/// Words that are literals in a template expression, not names.
const RESERVED_NAMES: [&str; 6] = ["true", "false", "none", "True", "False", "None"];

/// Room reserved for an output: a path, a header or a cart body of a few lines.
const OUTPUT_BYTES_TYPICAL: usize = 128;

/// Nested loops a shortcut follows; deeper templates render in full.
const LOOP_DEPTH_MAX: usize = 4;

/// How a template's output is made without a render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shortcut {
    parts: Vec<Part>,
}

/// One piece of a template's output.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Text outside tags, as the template has it (whitespace control applied).
    Text(String),
    /// `{{ a.b.c }}`, with at most one filter: the value at `path`, written.
    Lookup { path: Vec<String>, filter: Filter },
    /// `{% for name in a.b %}…{% endfor %}` over a list.
    Loop {
        name: String,
        over: Vec<String>,
        body: Vec<Part>,
    },
    /// `{% if [not] loop.first|loop.last %}…{% else %}…{% endif %}` in a loop.
    IfLoop {
        last: bool,
        negated: bool,
        then: Vec<Part>,
        otherwise: Vec<Part>,
    },
}

/// The filter applied to a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    None,
    Urlencode,
    Tojson,
}

/// A loop being written: its variable's name and value, and where it is in its list.
struct Frame<'p> {
    name: &'p str,
    item: Value,
    index: usize,
    length: usize,
}

impl Shortcut {
    /// The shortcut for template `text`, if every part of it has one of the shapes above.
    pub(super) fn of(text: &str) -> Option<Shortcut> {
        // Parsed as the adapters' environment parses (default delimiters and whitespace).
        let parsed = parse(
            text,
            "<shortcut>",
            SyntaxConfig,
            WhitespaceConfig::default(),
        )
        .ok()?;
        let ast::Stmt::Template(template) = parsed else {
            return None;
        };
        Some(Shortcut {
            parts: parts_of(&template.children, 0)?,
        })
    }

    /// The template's output with `context`; `None`: render it in full (a value is
    /// missing, or is of a kind the shortcut does not write).
    pub(super) fn output(&self, context: &Value) -> Option<String> {
        let mut out = String::with_capacity(OUTPUT_BYTES_TYPICAL);
        let mut frames = Vec::new();
        write_parts(&self.parts, context, &mut frames, &mut out)?;
        Some(out)
    }
}

/// The parts of `statements`, or `None` when one of them has no shortcut.
fn parts_of(statements: &[ast::Stmt<'_>], depth: usize) -> Option<Vec<Part>> {
    statements
        .iter()
        .map(|statement| part_of(statement, depth))
        .collect()
}

fn part_of(statement: &ast::Stmt<'_>, depth: usize) -> Option<Part> {
    match statement {
        ast::Stmt::EmitRaw(raw) => Some(Part::Text(raw.raw.to_owned())),
        ast::Stmt::EmitExpr(emit) => lookup_of(&emit.expr),
        ast::Stmt::ForLoop(each) => {
            let ast::Expr::Var(name) = &each.target else {
                return None;
            };
            let plain = each.filter_expr.is_none() && !each.recursive && each.else_body.is_empty();
            (plain && depth < LOOP_DEPTH_MAX && is_name(name.id) && name.id != "loop")
                .then_some(())?;
            Some(Part::Loop {
                name: name.id.to_owned(),
                over: path_of(&each.iter)?,
                body: parts_of(&each.body, depth + 1)?,
            })
        }
        ast::Stmt::IfCond(condition) if depth > 0 => {
            let (negated, expr) = match &condition.expr {
                ast::Expr::UnaryOp(not) if matches!(not.op, ast::UnaryOpKind::Not) => {
                    (true, &not.expr)
                }
                other => (false, other),
            };
            let last = match path_of(expr)?.as_slice() {
                [name, field] if name == "loop" && field == "last" => true,
                [name, field] if name == "loop" && field == "first" => false,
                _ => return None,
            };
            Some(Part::IfLoop {
                last,
                negated,
                then: parts_of(&condition.true_body, depth)?,
                otherwise: parts_of(&condition.false_body, depth)?,
            })
        }
        _ => None,
    }
}

/// `a.b.c`, `a.b | urlencode` or `a | tojson` (no arguments): a lookup part.
fn lookup_of(expr: &ast::Expr<'_>) -> Option<Part> {
    let (inner, filter) = match expr {
        ast::Expr::Filter(filter) if filter.args.is_empty() => {
            let kind = match filter.name {
                "urlencode" => Filter::Urlencode,
                "tojson" => Filter::Tojson,
                _ => return None,
            };
            (filter.expr.as_ref()?, kind)
        }
        other => (other, Filter::None),
    };
    let path = path_of(inner)?;
    // `loop.index` and the like: only the render knows the loop object.
    (path[0] != "loop").then_some(Part::Lookup { path, filter })
}

/// `a.b.c` as its names, or `None` for any other expression.
fn path_of(expr: &ast::Expr<'_>) -> Option<Vec<String>> {
    match expr {
        ast::Expr::Var(var) if is_name(var.id) => Some(vec![var.id.to_owned()]),
        ast::Expr::GetAttr(attr) => {
            let mut path = path_of(&attr.expr)?;
            path.push(attr.name.to_owned());
            Some(path)
        }
        _ => None,
    }
}

/// Writes `parts` to `out`; `None` as soon as one cannot be written.
fn write_parts<'p>(
    parts: &'p [Part],
    context: &Value,
    frames: &mut Vec<Frame<'p>>,
    out: &mut String,
) -> Option<()> {
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Lookup { path, filter } => {
                let value = lookup(path, context, frames)?;
                match filter {
                    Filter::None => write!(out, "{value}").ok()?,
                    Filter::Urlencode => out.push_str(&minijinja::filters::urlencode(&value).ok()?),
                    Filter::Tojson => {
                        let json = minijinja::filters::tojson(
                            &value,
                            None,
                            Kwargs::from_iter(std::iter::empty::<(&str, Value)>()),
                        )
                        .ok()?;
                        out.push_str(json.as_str()?);
                    }
                }
            }
            Part::Loop { name, over, body } => {
                let list = lookup(over, context, frames)?;
                if list.kind() != ValueKind::Seq {
                    return None;
                }
                let length = list.len()?;
                for (index, item) in list.try_iter().ok()?.enumerate() {
                    frames.push(Frame {
                        name,
                        item,
                        index,
                        length,
                    });
                    let written = write_parts(body, context, frames, out);
                    frames.pop();
                    written?;
                }
            }
            Part::IfLoop {
                last,
                negated,
                then,
                otherwise,
            } => {
                let frame = frames.last()?;
                let holds = if *last {
                    frame.index + 1 == frame.length
                } else {
                    frame.index == 0
                };
                let branch = if holds != *negated { then } else { otherwise };
                write_parts(branch, context, frames, out)?;
            }
        }
    }
    Some(())
}

/// The value at `path`: its first name from the innermost loop that binds it, else
/// from `context`; `None` if any step finds nothing.
fn lookup(path: &[String], context: &Value, frames: &[Frame<'_>]) -> Option<Value> {
    let (first, rest) = path.split_first()?;
    let mut value = match frames.iter().rev().find(|frame| frame.name == first) {
        Some(frame) => frame.item.clone(),
        None => context.get_attr(first).ok()?,
    };
    if value.is_undefined() {
        return None;
    }
    for segment in rest {
        value = value.get_attr(segment).ok()?;
        if value.is_undefined() {
            return None;
        }
    }
    Some(value)
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
