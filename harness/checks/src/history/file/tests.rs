//! The history files: zstd and plain read alike, and a file whose writer stopped
//! before finishing it reads to its last complete entry and says it was cut short.

use super::*;
use crate::history::{Op, Outcome, Response};

fn header() -> HistoryHeader {
    HistoryHeader::new("flash-sale", 7, 1_700_000_000_000, 60_000)
}

/// `count` refusals of one SKU, as a flash sale records most of its ops.
fn entries(count: u64) -> Vec<HistoryEntry> {
    (0..count)
        .map(|id| HistoryEntry {
            id,
            user: Some(1 + (id % 50) as u32),
            op: Op::Reserve {
                key: format!("flash-sale-1-k{id}"),
                items: vec![stockproof_model::CartLine {
                    sku: "drop-001".to_owned(),
                    qty: 1 + (id % 2) as i64,
                }],
                ttl_ms: 2_000,
            },
            intended_us: None,
            invoke_us: 1_000 * id,
            complete_us: 1_000 * id + 400,
            outcome: Outcome::Fail,
            status: Some(409),
            response: Some(Response {
                error: Some("insufficient_stock".to_owned()),
                sku: Some("drop-001".to_owned()),
                available: Some(0),
                ..Response::default()
            }),
            retry_of: None,
        })
        .collect()
}

/// Every op of a history read back, plain refusals unfolded.
fn all_ops(history: &History) -> Vec<HistoryEntry> {
    history.ops().map(std::borrow::Cow::into_owned).collect()
}

fn write(path: &Path, entries: &[HistoryEntry]) -> HistoryWriter {
    let mut writer = HistoryWriter::create(path, &header()).expect("create");
    for entry in entries {
        writer.append(entry).expect("append");
    }
    writer
}

// Goal: a run's history (zstd) and an older folder's (plain) read back identically,
// and the zstd file is a standard frame (`zstdcat` reads it: here, the zstd library's
// one-shot decoder gives the plain file's bytes).
// Method: write the same entries to both formats, compare what is read and the bytes.
#[test]
fn zstd_and_plain_histories_read_identically() {
    let dir = tempfile::tempdir().expect("temp dir");
    let zst = dir.path().join(HISTORY_FILE);
    let plain = dir.path().join(HISTORY_FILE_PLAIN);
    let written = entries(2_000);
    assert_eq!(write(&zst, &written).finish().expect("finish"), 2_000);
    assert_eq!(write(&plain, &written).finish().expect("finish"), 2_000);
    let from_zst = read_history_file(&zst).expect("read zst");
    let from_plain = read_history_file(&plain).expect("read plain");
    assert_eq!(from_zst, from_plain);
    assert_eq!(from_zst.cut_short, None);
    assert_eq!(all_ops(&from_zst.history), written);
    assert!(
        from_zst.history.refusals.len() > 1_000,
        "plain refusals are kept folded"
    );
    let compressed = std::fs::read(&zst).expect("zst bytes");
    let decoded = zstd::decode_all(compressed.as_slice()).expect("one complete frame");
    assert_eq!(decoded, std::fs::read(&plain).expect("plain bytes"));
    assert!(
        compressed.len() * 10 < decoded.len(),
        "{} compressed bytes for {} plain",
        compressed.len(),
        decoded.len()
    );
}

// Goal: a writer that stops without finishing (a killed run) leaves a file readable up
// to its last flush, which says it was cut short; the strict reader refuses it.
// Method: append, flush, append more, drop the writer without `finish`: the frame is
// never ended. What the zstd encoder still buffered is lost, as in a kill.
#[test]
fn a_writer_dropped_unfinished_leaves_its_flushed_entries_and_says_cut_short() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(HISTORY_FILE);
    let written = entries(300);
    let mut writer = write(&path, &written[..200]);
    writer.flush().expect("flush");
    for entry in &written[200..] {
        writer.append(entry).expect("append");
    }
    std::mem::forget(writer);
    let read = read_history_file(&path).expect("a cut-short file still reads");
    let entries = all_ops(&read.history);
    assert!(
        entries.len() >= 200 && written.starts_with(&entries),
        "read {} entries, a prefix of what was written from the 200 flushed",
        entries.len()
    );
    let reason = read.cut_short.expect("the file says it was cut short");
    assert!(reason.contains("cut short"), "{reason}");
    let error = read_history(&path).expect_err("strict read").to_string();
    assert!(error.contains("cut short"), "{error}");
}

// Goal: wherever a file is cut (a kill can stop a write at any byte), the reader
// returns a prefix of the entries, says it was cut short, and never fails on the cut.
// Method: a finished zstd history and a plain one, truncated at many offsets.
#[test]
fn a_history_cut_at_any_byte_reads_a_prefix_and_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let written = entries(400);
    for name in [HISTORY_FILE, HISTORY_FILE_PLAIN] {
        let whole = dir.path().join(name);
        write(&whole, &written).finish().expect("finish");
        let bytes = std::fs::read(&whole).expect("bytes");
        // What `create` writes and flushes: the shortest file a killed run leaves.
        let probe = dir.path().join(format!("probe-{name}"));
        std::mem::forget(HistoryWriter::create(&probe, &header()).expect("create"));
        let header_bytes = std::fs::metadata(&probe).expect("probe").len() as usize;
        let cut = dir.path().join(format!("cut-{name}"));
        for length in (header_bytes..bytes.len()).step_by(bytes.len() / 97 + 1) {
            std::fs::write(&cut, &bytes[..length]).expect("write cut");
            let read = read_history_file(&cut)
                .unwrap_or_else(|error| panic!("{name} cut at {length}: {error}"));
            assert!(
                written.starts_with(&all_ops(&read.history)),
                "{name} cut at {length}: not a prefix"
            );
            // A plain file cut at a line's end looks complete: only zstd can tell.
            let at_line_end = bytes[length - 1] == b'\n' || bytes[length] == b'\n';
            let at_line_end = name == HISTORY_FILE_PLAIN && at_line_end;
            assert_eq!(
                read.cut_short.is_some(),
                !at_line_end,
                "{name} cut at {length}: {:?}",
                read.cut_short
            );
        }
    }
}
