//! The subcommands, one module each (mini-redis's `cmd/`): each parses nothing itself
//! (clap does, from the `*Args` it declares), does its work through the library and
//! returns an exit code. They share flags and exit codes through [`shared`], a leaf, and
//! never import the dispatcher (`crate::cli`) or one another.

pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod engine_bench;
pub(crate) mod infra;
pub(crate) mod merge;
pub(crate) mod probe;
pub(crate) mod reconcile;
pub(crate) mod replay;
pub(crate) mod run;
pub(crate) mod selftest;
pub(crate) mod serve;
pub(crate) mod shared;
