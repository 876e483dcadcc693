//! The bench folder's three files: bench.json (the record, schema in docs/bench.md),
//! bench.md (`super::markdown`) and bench.html (`crate::report::bench_page`).
//!
//! Not here: the step run folders (the run pipeline writes them under `runs/`).

use std::path::Path;

use super::{BenchRecord, markdown};

/// Writes the three files into `folder`.
pub fn write(folder: &Path, record: &BenchRecord) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    let json = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    std::fs::write(folder.join("bench.json"), json + "\n")?;
    std::fs::write(folder.join("bench.md"), markdown::render(record))?;
    std::fs::write(
        folder.join("bench.html"),
        crate::report::bench_page::render(record),
    )?;
    Ok(())
}
