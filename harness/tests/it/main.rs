//! Integration tests of the `stockproof` binary, run as a user runs it: as separate
//! processes, stopped with signals.

mod engine_bench;
mod infra_up;
mod reconcile;
mod serve;
