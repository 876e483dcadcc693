//! Integration tests of the `stockproof` binary, run as a user runs it: as separate
//! processes, stopped with signals.

mod agents;
mod bench_cmd;
mod check_cmd;
mod engine_bench;
mod facades;
mod fault_runs;
mod faults;
mod infra_up;
mod load_driver;
mod long_lived;
mod one_verdict;
mod own_stores;
mod pg_scenarios;
mod probe;
mod reconcile;
mod replay;
mod report_browser;
mod resources;
mod run_cmd;
mod serve;
mod strategies;
mod support;
mod variants;
