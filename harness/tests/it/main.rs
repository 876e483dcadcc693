//! Integration tests of the `stockproof` binary, run as a user runs it: as separate
//! processes, stopped with signals.

mod check_cmd;
mod infra_up;
