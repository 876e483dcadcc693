//! Integration tests of the engine against a real Redis and Postgres from
//! `stockproof-infra`'s local provider; no mocks. One module per area.

mod concurrency;
mod expiry;
mod http_bad_input;
mod http_openapi;
mod http_outage;
mod http_recovery;
mod http_routes;
mod http_shutdown;
mod http_support;
mod ledger;
mod ledger_e2e;
mod ledger_support;
mod model;
mod operations;
mod reconciler;
mod recovery;
mod refusals;
mod resilience;
mod retention;
mod strategies;
mod support;
mod sweeper;
mod variants;
