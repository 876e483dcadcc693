//! Integration tests of the engine crate against real Redis and Postgres (from
//! `stockproof-infra`'s local provider): one binary, one module per area.
