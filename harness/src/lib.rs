//! The stockproof harness as a library: scenario files, the seeded plan, the recorded
//! history, the checks C1–C6 and the reports. The `stockproof` binary (`main.rs`,
//! `cli.rs`) drives these; everything here is pure logic over files and memory, with no
//! Redis, Postgres or HTTP,
//! except `load` (goose over HTTP) and `run` (the pipeline), which do the I/O.

pub mod bench;
pub mod checks;
pub mod history;
pub mod latency;
pub mod load;
pub mod plan;
pub mod run;
pub mod scenario;
pub mod selftest;
