//! The stockproof harness as a library: scenario files, the seeded plan, the recorded
//! history, the checks C1–C8, the judge and the reports. The `stockproof` binary (`main.rs`,
//! `cli.rs`) drives these; everything here is pure logic over files and memory, with no
//! Redis, Postgres or HTTP,
//! except `load` (goose over HTTP), `run` (the pipeline), `faults` (fault injection)
//! and `replay` (re-sending a recorded run), which do the I/O.

pub mod bench;
pub mod checks;
pub mod faults;
pub mod history;
pub mod judge;
pub mod latency;
pub mod load;
pub mod plan;
pub mod replay;
pub mod report;
pub mod run;
pub mod scenario;
pub mod selftest;
