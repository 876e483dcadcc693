//! Integration tests of the providers against real servers: local binaries, real
//! containers (skipped with the reason when no Docker daemon answers, unless
//! `STOCKPROOF_REQUIRE_DOCKER=1`, as in CI), external URLs. Nothing is assumed running.

mod auto;
mod containers;
mod external;
mod local;
mod proxy;
mod support;
