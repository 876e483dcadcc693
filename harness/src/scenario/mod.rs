//! Scenario files (`scenarios/*.toml`): what load to drive, against which catalogue, and
//! what a run must show to pass. [`load`] reads and validates a file into a
//! [`Scenario`]; every unknown key or bad value is an error naming the file, the key,
//! its line and column, and what was expected. [`Overrides`] apply the command line's
//! `--users` / `--duration` to a parsed scenario.
//!
//! Not here: turning a scenario into per-user operations (`crate::plan`), driving the
//! load, or judging the run (`crate::checks`).

mod file;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use stockproof_infra::AofPolicy;

use crate::faults::{FAULTS_PER_RUN_MAX, FaultSpec};

pub use stockproof_checks::EXPIRY_GRACE_DEFAULT;
pub use stockproof_checks::coverage::CoverageGoal;
pub use stockproof_checks::duration::{SCENARIO_DURATION_MAX, format_duration, parse_duration};
use stockproof_checks::judge::Criteria;
pub use stockproof_checks::slo::{Comparison, Slo, SloMetric, Statistic};
use stockproof_checks::{CLOCK_SKEW_MS_DEFAULT, CheckConfig};

/// Largest scenario file read: scenario files are hand-written, a megabyte is a mistake.
pub const SCENARIO_FILE_BYTES_MAX: u64 = 1024 * 1024;
/// SKUs a catalogue may hold: each is seeded with one restock before the load, and
/// 100k seeds take a few seconds.
pub const SCENARIO_SKUS_MAX: usize = 100_000;
/// Users (goose users, one per shopper): each holds a connection; 2 cores saturate long
/// before 10k.
pub const SCENARIO_USERS_MAX: u32 = 10_000;
/// Default client timeout: the engine answers in ms; 2 s means something is stuck.
pub const CLIENT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(2);
/// Default timeout of sends meant to time out (`retry.after_timeout`): short enough that
/// the reply is usually still in flight.
pub const FORCED_TIMEOUT_DEFAULT: Duration = Duration::from_micros(200);
/// Default bound on waiting for the sweeper and ledger writer to drain after the load.
pub const QUIESCE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// `[A-Za-z0-9._-]+`; names the report folder.
    pub name: String,
    pub description: String,
    /// Default seed (the command line's `--seed` wins).
    pub seed: Option<u64>,
    pub load: Load,
    pub catalogue: Catalogue,
    pub mix: Mix,
    pub reservation_ttl: Duration,
    pub retry: RetryPolicy,
    pub engine: EngineSettings,
    /// Sorted by offset.
    pub restocks: Vec<Restock>,
    pub checks: CheckSettings,
    pub slos: Vec<Slo>,
    pub coverage: Vec<CoverageGoal>,
    /// Injected while the load runs (`[[faults]]`, then the command line's `--fault`).
    pub faults: Vec<FaultSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub users: u32,
    /// Users started per second.
    pub hatch_rate_per_s: f64,
    pub stop: Stop,
    /// Open model: carts started per second across all users, whatever the replies'
    /// latency; `None` is the closed model (each user starts its next cart when the last
    /// one is done).
    pub arrival_rate_per_s: Option<f64>,
}

/// When the load ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Duration(Duration),
    /// Carts per user.
    Iterations(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    /// Every SKU with its initial stock, in file order (explicit ones, then generated).
    pub skus: Vec<SkuSeed>,
    /// Hot-key skew: the SKU of rank k (file order) is picked with weight 1/k^s; 0 is
    /// uniform.
    pub zipf_exponent: f64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuSeed {
    pub sku: String,
    pub stock: i64,
}

/// What each cart looks like and how it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    /// Lines per cart, inclusive.
    pub lines_per_cart: (u32, u32),
    /// Units per line, inclusive.
    pub qty_per_line: (i64, i64),
    /// Share of carts (with ≥ 2 lines) that name one SKU on two lines.
    pub repeat_sku_line: f64,
    /// SKUs carts pick from (a subset of the catalogue, in catalogue order).
    pub skus: Vec<String>,
    /// Shares of carts confirmed / released / abandoned (left to expire); sum to 1.
    pub confirm: f64,
    pub release: f64,
    pub abandon: f64,
    /// Wait between the reserve reply and the confirm or release, uniform in this range.
    pub hold_time: (Duration, Duration),
    /// Share of carts followed by a `GET` of one of their SKUs.
    pub read_sku: f64,
    /// Share of carts that `GET` their reservation after the reserve and again after
    /// the confirm or release.
    pub read_reservation: f64,
}

/// Duplicate sends and retries. Each request (reserve, confirm, release) is re-sent with
/// the same key or to the same reservation with these probabilities, at most one mode
/// per request.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Re-sent while the first is in flight.
    pub concurrent: f64,
    /// Re-sent after the first reply.
    pub after_reply: f64,
    /// First sent with `forced_timeout`, so the client gives up (outcome unknown), then
    /// re-sent with the normal timeout.
    pub after_timeout: f64,
    /// Reserves re-sent once more after the engine's idempotency retention has passed
    /// (a "late retry", which may legitimately create a new reservation).
    pub after_retention: f64,
    pub client_timeout: Duration,
    pub forced_timeout: Duration,
    /// Pause before an `after_reply` or `after_timeout` re-send (a client's backoff);
    /// 0 by default. A backoff past a short idempotency marker's life exposes it.
    pub backoff: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    /// How long the engine keeps terminal reservations and idempotency keys.
    pub idempotency_retention: Duration,
    /// Redis persistence for servers stockproof starts (`None`: the command line's).
    pub redis_aof: Option<AofPolicy>,
}

/// A restock the harness sends mid-run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restock {
    /// Offset from the load's start.
    pub at: Duration,
    pub sku: String,
    pub qty: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSettings {
    /// How long past its deadline a reservation may stay Held before C4 flags it.
    pub expiry_grace: Duration,
    /// Bound on the wait for the sweeper and the ledger writer after the load.
    pub quiesce_timeout: Duration,
    /// Ledger events a Redis kill may lose before the run fails C5: a team running
    /// AOF `everysec` states what it accepts; with `always` it is 0.
    pub loss_tolerance_events: u64,
}

/// Why a scenario file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: crate::toml_source::ReadError,
    },
    /// A key the format does not know, a value of the wrong type, or a value that breaks
    /// a rule (negative stock, shares not summing to 1, an unknown SKU).
    #[error("scenario {0}")]
    Invalid(#[from] crate::toml_source::Located),
    /// An override from the command line breaks a rule.
    #[error("override --{flag}: {reason}")]
    Override { flag: &'static str, reason: String },
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text =
        crate::toml_source::read_bounded(path, SCENARIO_FILE_BYTES_MAX).map_err(|source| {
            ScenarioError::Read {
                path: path.to_owned(),
                source,
            }
        })?;
    parse(&text, path)
}

/// Validates scenario `text`; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    validate::parse(text, path)
}

/// Command-line changes to a parsed scenario, so CI can scale a file down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub users: Option<u32>,
    /// Replaces the scenario's stop condition with this duration.
    pub duration: Option<Duration>,
    /// Replaces the scenario's stop condition with this many carts per user.
    pub iterations: Option<u64>,
    /// Faults added to the scenario's (`--fault`).
    pub faults: Vec<FaultSpec>,
}

impl Scenario {
    /// What a run of this scenario is judged against besides the invariants.
    pub fn criteria(&self) -> Criteria {
        Criteria {
            config: CheckConfig {
                expiry_grace_ms: self.checks.expiry_grace.as_millis() as i64,
                clock_skew_ms: CLOCK_SKEW_MS_DEFAULT,
            },
            slos: self.slos.clone(),
            coverage: self.coverage.clone(),
        }
    }

    /// Applies `overrides`. Mid-run restocks at or past a shortened duration are
    /// dropped (they would never be sent), so the checks' supply matches the load.
    pub fn apply(&mut self, overrides: &Overrides) -> Result<(), ScenarioError> {
        if let Some(users) = overrides.users {
            if !(1..=SCENARIO_USERS_MAX).contains(&users) {
                return Err(ScenarioError::Override {
                    flag: "users",
                    reason: format!("must be between 1 and {SCENARIO_USERS_MAX}, got {users}"),
                });
            }
            self.load.users = users;
        }
        if overrides.duration.is_some() && overrides.iterations.is_some() {
            return Err(ScenarioError::Override {
                flag: "duration",
                reason: "give --duration or --iterations, not both".to_owned(),
            });
        }
        self.faults.extend(overrides.faults.iter().cloned());
        if self.faults.len() > FAULTS_PER_RUN_MAX {
            return Err(ScenarioError::Override {
                flag: "fault",
                reason: format!(
                    "{} faults in all; a run injects at most {FAULTS_PER_RUN_MAX}",
                    self.faults.len()
                ),
            });
        }
        if let Some(iterations) = overrides.iterations {
            if iterations == 0 {
                return Err(ScenarioError::Override {
                    flag: "iterations",
                    reason: "must be at least 1".to_owned(),
                });
            }
            self.load.stop = Stop::Iterations(iterations);
        }
        if let Some(duration) = overrides.duration {
            if duration.is_zero() {
                return Err(ScenarioError::Override {
                    flag: "duration",
                    reason: "must be longer than 0".to_owned(),
                });
            }
            self.load.stop = Stop::Duration(duration);
            self.restocks.retain(|restock| restock.at < duration);
        }
        Ok(())
    }

    /// Initial stock of every SKU, by id.
    pub fn initial_stock(&self) -> impl Iterator<Item = (&str, i64)> {
        self.catalogue
            .skus
            .iter()
            .map(|seed| (seed.sku.as_str(), seed.stock))
    }

    /// Every SKU the run touches with its initial stock, catalogue order first, then
    /// SKUs only restocked during the load (stock 0).
    pub fn sku_stock(&self) -> Vec<(String, i64)> {
        let mut skus: Vec<(String, i64)> = self
            .initial_stock()
            .map(|(sku, stock)| (sku.to_owned(), stock))
            .collect();
        for restock in &self.restocks {
            if !skus.iter().any(|(sku, _)| *sku == restock.sku) {
                skus.push((restock.sku.clone(), 0));
            }
        }
        skus
    }
}

#[cfg(test)]
mod tests;
