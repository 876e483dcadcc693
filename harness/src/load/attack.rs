//! goose, configured in code from a [`LoadSpec`]: `GooseAttack::initialize_with_config`
//! (never `initialize()`, which would parse stockproof's own command line), one goose
//! user per shopper, the scenario's hatch rate, run time or iterations, the client
//! timeout, one shared connection pool, and everything stockproof does itself turned
//! off: telnet and WebSocket controllers, printed metrics, goose's own request metrics
//! (stockproof times every request in µs) and report files.
//!
//! Not here: what a shopper does (`super::shopper`).

use std::sync::Arc;
use std::time::Duration;

use goose::GooseAttack;
use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::goose::{Scenario, Transaction};

use super::shopper::{self, Shared};
use super::{LoadError, LoadSpec};
use crate::scenario::Stop;

/// The goose scenario every user runs.
const GOOSE_SCENARIO: &str = "shopper";

/// goose's configuration for `spec`: users, hatch rate, stop, timeout; no controllers,
/// no printed metrics, no report files.
pub(crate) fn configuration(spec: &LoadSpec) -> GooseConfiguration {
    let (run_time, iterations) = match spec.stop {
        // goose counts whole seconds after the ramp; the shoppers stop starting carts
        // at the exact deadline themselves.
        Stop::Duration(duration) => (Some(format!("{}s", whole_seconds(duration))), None),
        Stop::Iterations(carts) => (None, Some(usize::try_from(carts).unwrap_or(usize::MAX))),
    };
    // Some fields are private to goose, so the configuration is a default one, filled.
    let mut configuration = GooseConfiguration::default();
    configuration.host = Some(spec.target.base_url().to_owned());
    // An agent hatches its share of the users at its share of the rate: the same ramp.
    let share = f64::from(spec.share_users()) / f64::from(spec.users);
    configuration.users = Some(spec.share_users() as usize);
    configuration.increase_rate = Some(format!("{}", spec.hatch_rate_per_s * share));
    configuration.run_time = run_time;
    configuration.iterations = iterations;
    configuration.timeout = Some(format!("{}", spec.client_timeout.as_secs_f64()));
    configuration.quiet = 1;
    configuration.no_print_metrics = true;
    configuration.no_error_summary = true;
    configuration.no_metrics = true;
    configuration.no_telnet = true;
    configuration
}

/// Runs the attack to its end (or until the killswitch).
pub(crate) async fn execute(spec: &LoadSpec, shared: Arc<Shared>) -> Result<(), LoadError> {
    let on_start = {
        let shared = shared.clone();
        Transaction::new(Arc::new(move |user| {
            let shared = shared.clone();
            Box::pin(async move { shopper::start(user, &shared).await })
        }))
        .set_name("start")
        .set_on_start()
    };
    let cart = {
        let shared = shared.clone();
        Transaction::new(Arc::new(move |user| {
            let shared = shared.clone();
            Box::pin(async move { shopper::cart(user, &shared).await })
        }))
        .set_name("cart")
    };
    let scenario = Scenario::new(GOOSE_SCENARIO)
        .register_transaction(on_start)
        .register_transaction(cart);
    let client = GooseClientBuilder::new()
        .without_cookies()
        .timeout(spec.client_timeout)
        .gzip(false);
    GooseAttack::initialize_with_config(configuration(spec))
        .and_then(|attack| attack.set_client_builder_without_cookies(client))
        .map_err(|error| LoadError::Goose(error.to_string()))?
        .register_scenario(scenario)
        .execute()
        .await
        .map_err(|error| LoadError::Goose(error.to_string()))?;
    Ok(())
}

/// `duration` rounded up to whole seconds, at least 1.
pub(crate) fn whole_seconds(duration: Duration) -> u64 {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    seconds.max(1)
}
