//! The history's files: `history.jsonl.zst` (what a run writes: one zstd frame,
//! streamed as the run records, readable by `zstdcat`) and plain `history.jsonl`
//! (older folders, other load tools). Both hold the same lines: a header, then one
//! entry per line.
//!
//! The writer flushes a complete zstd block at least every [`HISTORY_FLUSH_INTERVAL`],
//! so a process killed mid-run leaves a file readable up to its last flush. The reader
//! ([`HistoryReader`], one entry at a time, or [`read_history_file`]) returns the
//! entries up to the last complete line of such a file and says that it was cut short.
//!
//! Not here: the entries' types (`super`), what is judged on them (the checks).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{History, HistoryBuilder, HistoryEntry, HistoryError, HistoryHeader, parse_header};

/// The history a run writes into its folder.
pub const HISTORY_FILE: &str = "history.jsonl.zst";
/// The uncompressed history of older run folders (and other load tools); still read.
pub const HISTORY_FILE_PLAIN: &str = "history.jsonl";
/// zstd level of the written history: `zstd -3` shrinks a flash sale's history ~13×
/// at ~200 MB/s, far above a run's few MB/s of entries.
pub const HISTORY_ZSTD_LEVEL: i32 = 3;
/// Longest time an appended entry may wait in the writer's buffers before a complete
/// zstd block holding it is written to the file: what a killed run can lose at most.
pub const HISTORY_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Bytes the writer buffers before it writes to the file: 256 KiB holds ~1,000 plain
/// entries, so a busy run makes a few hundred write calls a second, not one per op.
pub const HISTORY_WRITE_BUFFER_BYTES: usize = 256 * 1024;
/// Longest line the reader accepts: a cart of `CART_LINES_MAX` lines with long SKU ids
/// and its response fit in ~40 KiB; anything far larger is a corrupt file, not an op.
pub const HISTORY_LINE_BYTES_MAX: usize = 1024 * 1024;
/// Bytes read from the file at a time; large reads, few system calls.
const HISTORY_READ_BUFFER_BYTES: usize = 1024 * 1024;
/// The first bytes of every zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Where the writer's bytes go: zstd for a `.zst` path, else the plain lines.
enum Output {
    Plain(BufWriter<File>),
    Zstd(zstd::Encoder<'static, BufWriter<File>>),
}

impl std::fmt::Debug for Output {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Output::Plain(_) => "Output::Plain",
            Output::Zstd(_) => "Output::Zstd",
        })
    }
}

/// Appends entries to a history file as they are recorded: compressed when the path
/// ends in `.zst`, flushed at least every [`HISTORY_FLUSH_INTERVAL`] (on an append or
/// [`HistoryWriter::flush_if_due`]). Dropped without [`HistoryWriter::finish`], it
/// leaves a file cut short after its last flush, which the reader says.
#[derive(Debug)]
pub struct HistoryWriter {
    path: PathBuf,
    out: Output,
    entries: u64,
    flushed_at: Instant,
}

impl HistoryWriter {
    /// Creates (truncates) `path` and writes the header line (flushed at once, so that
    /// even a run killed in its first second leaves a readable header).
    pub fn create(path: &Path, header: &HistoryHeader) -> Result<HistoryWriter, HistoryError> {
        let io = |source| HistoryError::Io {
            path: path.to_owned(),
            source,
        };
        let file =
            BufWriter::with_capacity(HISTORY_WRITE_BUFFER_BYTES, File::create(path).map_err(io)?);
        let out = match path.extension().is_some_and(|extension| extension == "zst") {
            true => {
                let mut encoder = zstd::Encoder::new(file, HISTORY_ZSTD_LEVEL).map_err(io)?;
                encoder.include_checksum(true).map_err(io)?;
                Output::Zstd(encoder)
            }
            false => Output::Plain(file),
        };
        let mut writer = HistoryWriter {
            path: path.to_owned(),
            out,
            entries: 0,
            flushed_at: Instant::now(),
        };
        writer.write_line(header)?;
        writer.flush()?;
        Ok(writer)
    }

    pub fn append(&mut self, entry: &HistoryEntry) -> Result<(), HistoryError> {
        self.write_line(entry)?;
        self.entries += 1;
        self.flush_if_due()
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes when the last flush is [`HISTORY_FLUSH_INTERVAL`] old; a recorder calls
    /// it on its timer, so quiet spells are flushed too.
    pub fn flush_if_due(&mut self) -> Result<(), HistoryError> {
        match self.flushed_at.elapsed() >= HISTORY_FLUSH_INTERVAL {
            true => self.flush(),
            false => Ok(()),
        }
    }

    /// Ends the current zstd block and writes everything appended so far to the file.
    pub fn flush(&mut self) -> Result<(), HistoryError> {
        let flushed = match &mut self.out {
            Output::Plain(out) => out.flush(),
            Output::Zstd(encoder) => encoder.flush(),
        };
        self.flushed_at = Instant::now();
        flushed.map_err(|source| self.io(source))
    }

    /// Ends the zstd frame, flushes and syncs the file; returns the entries written.
    pub fn finish(self) -> Result<u64, HistoryError> {
        let io = |source| HistoryError::Io {
            path: self.path.clone(),
            source,
        };
        let mut file = match self.out {
            Output::Plain(out) => out,
            Output::Zstd(encoder) => encoder.finish().map_err(io)?,
        };
        file.flush().map_err(io)?;
        file.get_ref().sync_all().map_err(io)?;
        Ok(self.entries)
    }

    fn write_line<T: Serialize>(&mut self, value: &T) -> Result<(), HistoryError> {
        let written = match &mut self.out {
            Output::Plain(out) => write_json_line(out, value),
            Output::Zstd(encoder) => write_json_line(encoder, value),
        };
        written.map_err(|source| self.io(source))
    }

    fn io(&self, source: std::io::Error) -> HistoryError {
        HistoryError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

fn write_json_line<T: Serialize>(out: &mut impl Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// The history file of a run folder: `history.jsonl.zst`, else an older folder's
/// `history.jsonl`; `None` when it has neither.
pub fn find_history_file(folder: &Path) -> Option<PathBuf> {
    [HISTORY_FILE, HISTORY_FILE_PLAIN]
        .into_iter()
        .map(|name| folder.join(name))
        .find(|path| path.is_file())
}

/// A history read whole, and whether its file was cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryFile {
    pub history: History,
    /// Why the file ends before its writer finished it (a run killed mid-write):
    /// `history` then holds the entries up to the last complete one.
    pub cut_short: Option<String>,
}

/// Reads a whole history file (zstd or plain, told apart by its first bytes), plain
/// refusals folded (`HistoryBuilder`); a file cut short yields its complete entries
/// and says so.
pub fn read_history_file(path: &Path) -> Result<HistoryFile, HistoryError> {
    let mut reader = HistoryReader::open(path)?;
    let mut history = HistoryBuilder::new(reader.header()?);
    while let Some(entry) = reader.next_entry()? {
        history.push(entry);
    }
    Ok(HistoryFile {
        history: history.finish(),
        cut_short: reader.cut_short,
    })
}

/// Reads a whole history file that must be complete: one cut short is an error.
pub fn read_history(path: &Path) -> Result<History, HistoryError> {
    let file = read_history_file(path)?;
    match file.cut_short {
        None => Ok(file.history),
        Some(reason) => Err(HistoryError::CutShort {
            path: path.to_owned(),
            reason,
        }),
    }
}

/// Reads a history file one entry at a time, in one pass, without holding it.
pub struct HistoryReader {
    path: PathBuf,
    lines: Box<dyn BufRead>,
    line: Vec<u8>,
    number: usize,
    /// Set when the file ended before its writer finished it.
    cut_short: Option<String>,
}

impl HistoryReader {
    pub fn open(path: &Path) -> Result<HistoryReader, HistoryError> {
        let io = |source| HistoryError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file =
            BufReader::with_capacity(HISTORY_READ_BUFFER_BYTES, File::open(path).map_err(io)?);
        let compressed = file.fill_buf().map_err(io)?.starts_with(&ZSTD_MAGIC);
        let lines: Box<dyn BufRead> = match compressed {
            true => Box::new(BufReader::with_capacity(
                HISTORY_READ_BUFFER_BYTES,
                zstd::Decoder::with_buffer(file).map_err(io)?,
            )),
            false => Box::new(file),
        };
        Ok(HistoryReader {
            path: path.to_owned(),
            lines,
            line: Vec::new(),
            number: 0,
            cut_short: None,
        })
    }

    /// Reads and checks the header line; call it first.
    pub fn header(&mut self) -> Result<HistoryHeader, HistoryError> {
        match self.next_line()? {
            Some(()) => parse_header(&self.line).map_err(|reason| self.format(reason)),
            None => Err(HistoryError::Format {
                path: self.path.clone(),
                line: 1,
                reason: match &self.cut_short {
                    Some(reason) => format!("no header line: {reason}"),
                    None => "empty file: no header line".to_owned(),
                },
            }),
        }
    }

    /// The next entry; `None` at the end of the file, or where a file cut short stops.
    pub fn next_entry(&mut self) -> Result<Option<HistoryEntry>, HistoryError> {
        if self.next_line()?.is_none() {
            return Ok(None);
        }
        match serde_json::from_slice::<HistoryEntry>(&self.line) {
            Ok(entry) => Ok(Some(entry)),
            // A last line without its newline that stops mid-object: the writer was
            // killed while writing it.
            Err(error) if error.is_eof() && !self.line.ends_with(b"\n") => {
                let complete = self.number.saturating_sub(1);
                self.cut_short = Some(cut_reason(complete, "its last line is incomplete"));
                Ok(None)
            }
            Err(error) => Err(self.format(error.to_string())),
        }
    }

    /// Why the file was cut short, once [`HistoryReader::next_entry`] returned `None`.
    pub fn cut_short(&self) -> Option<&str> {
        self.cut_short.as_deref()
    }

    /// Reads the next non-blank line into `self.line`; `None` at the end, or where a
    /// compressed file cut short stops decoding.
    fn next_line(&mut self) -> Result<Option<()>, HistoryError> {
        if self.cut_short.is_some() {
            return Ok(None);
        }
        loop {
            self.line.clear();
            let read = (&mut self.lines)
                .take(HISTORY_LINE_BYTES_MAX as u64 + 1)
                .read_until(b'\n', &mut self.line);
            let read = match read {
                Ok(read) => read,
                Err(error) => {
                    let what = format!("its compressed data stops ({error})");
                    self.cut_short = Some(cut_reason(self.number, &what));
                    return Ok(None);
                }
            };
            if read == 0 {
                return Ok(None);
            }
            self.number += 1;
            if read > HISTORY_LINE_BYTES_MAX {
                return Err(self.format(format!("line longer than {HISTORY_LINE_BYTES_MAX} bytes")));
            }
            if !self.line.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some(()));
            }
        }
    }

    fn format(&self, reason: String) -> HistoryError {
        HistoryError::Format {
            path: self.path.clone(),
            line: self.number,
            reason,
        }
    }
}

/// Why a file ends early, naming its last complete line.
fn cut_reason(last_complete_line: usize, what: &str) -> String {
    format!(
        "the history file is cut short after line {last_complete_line}: {what}; its writer \
         stopped before finishing it (was the run killed?), so only the entries up to there \
         were read"
    )
}

impl std::fmt::Debug for HistoryReader {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HistoryReader")
            .field("path", &self.path)
            .field("line", &self.number)
            .field("cut_short", &self.cut_short)
            .finish()
    }
}

#[cfg(test)]
mod tests;
