//! Real Redis and Postgres on demand, for stockproof's tests, benchmarks and runs.
//!
//! One call, [`Infra::start`], gives a running Redis and a running Postgres with their
//! URLs; dropping the [`Infra`] (or awaiting [`Infra::shutdown`]) stops them and removes
//! what they left behind, also when the caller panics. Providers (DESIGN §11):
//! - `local`: `redis-server`, `initdb` and `postgres` from the machine, in a session dir
//!   under the temp dir, on free loopback ports ([`local`]);
//! - `containers`: testcontainers, images configurable ([`containers`]);
//! - `external`: URLs the user gives, never flushed unless asked ([`external`]);
//! - `auto`: containers when a Docker daemon answers and the images exist, else local
//!   ([`auto`]).
//!
//! Not here: anything about inventory. The engine and the harness both depend on this
//! crate (the engine only in its tests); it depends on neither.

pub mod auto;
mod config;
pub mod containers;
mod error;
pub mod external;
mod infra;
pub mod local;
pub mod proxy;
mod readiness;
mod session;

pub use config::{
    AofPolicy, ContainerOptions, DEFAULT_POSTGRES_IMAGE, DEFAULT_REDIS_IMAGE, ExternalOptions,
    InfraConfig, LocalOptions, Provider,
};
pub use error::InfraError;
pub use infra::{Infra, ResolvedProvider};
