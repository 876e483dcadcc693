//! The hand-written TOML files stockproof reads (scenarios, adapters): reading one with
//! a size bound, and turning a byte span into a [`Located`] refusal that names the file,
//! the line, the column and the dotted key.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// A refusal at a place in a file: `path:line:column: `key`: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: `{key}`: {reason}", path.display())]
pub struct Located {
    pub path: PathBuf,
    /// Dotted path of the key (`mix.confirm`, `ops.reserve.replies[2]`).
    pub key: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

/// A file's text and name, to place refusals.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub(crate) text: &'a str,
    pub(crate) path: &'a Path,
}

impl Source<'_> {
    /// A refusal of `key`, whose value starts at `span`.
    pub(crate) fn locate(
        &self,
        key: impl Into<String>,
        span: Range<usize>,
        reason: impl Into<String>,
    ) -> Located {
        let (line, column) = line_column(self.text, span.start);
        Located {
            path: self.path.to_owned(),
            key: key.into(),
            line,
            column,
            reason: reason.into(),
        }
    }

    /// A `toml` error (an unknown key, a value of the wrong type) naming the key on the
    /// error's line.
    pub(crate) fn syntax(&self, error: &toml::de::Error) -> Located {
        let span = error.span().unwrap_or(0..0);
        let key = key_at(self.text, span.start);
        self.locate(key, span, error.message().trim().to_owned())
    }
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("larger than {0} bytes")]
    TooLarge(u64),
}

/// Reads a hand-written file, refusing one larger than `max_bytes` (a mistake, not a
/// scenario or adapter).
pub(crate) fn read_bounded(path: &Path, max_bytes: u64) -> Result<String, ReadError> {
    if std::fs::metadata(path)?.len() > max_bytes {
        return Err(ReadError::TooLarge(max_bytes));
    }
    Ok(std::fs::read_to_string(path)?)
}

/// 1-based line and column (in characters) of byte `offset`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The dotted key whose line holds `offset`: `table.key` for `key = …` inside `[table]`.
pub(crate) fn key_at(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with('['))
        .map(|header| {
            header
                .trim_matches(|character| character == '[' || character == ']')
                .trim()
                .to_owned()
        });
    let trimmed = line.trim();
    if trimmed.starts_with('[') {
        return trimmed
            .trim_matches(|character| character == '[' || character == ']')
            .trim()
            .to_owned();
    }
    let key = trimmed.split('=').next().unwrap_or("").trim();
    match table {
        Some(table) if !key.is_empty() => format!("{table}.{key}"),
        Some(table) => table,
        None => key.to_owned(),
    }
}
