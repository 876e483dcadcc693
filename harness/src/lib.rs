//! The stockproof harness as a library: scenario files, the seeded plan, the load, the
//! run pipeline and the reports. The `stockproof` binary (`main.rs`, `cmd/`) drives
//! these. The history format, the checks C1–C8 and the judge are the
//! `stockproof-checks` crate (no I/O, enforced by its dependencies), re-exported here
//! under their old paths: `checks`, `history`, `judge`, `latency`.
//! Pure logic over files and memory, except `load` (goose over HTTP), `run` (the
//! pipeline), `faults` (fault injection) and `replay` (re-sending a recorded run).

pub use stockproof_checks as checks;
pub use stockproof_checks::{history, judge, latency};

pub mod adapter;
pub mod bench;
pub mod capacity;
pub mod faults;
pub mod load;
pub mod merge;
pub mod plan;
pub mod probe;
pub mod replay;
pub mod report;
pub mod run;
pub mod scenario;
pub mod selftest;
pub(crate) mod toml_source;
