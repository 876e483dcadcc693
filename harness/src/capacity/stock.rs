//! The stock a bench step seeds (`--stock`). A bench measures what a target does when
//! it sells; a scenario's own stock is sized for a correctness run (flash-sale: 100
//! units of one SKU), and at a few hundred carts/s it is gone within the warm-up, so
//! nearly every measured reserve would be a cheap `insufficient_stock` refusal and the
//! knee would measure refusals. So by default ([`StockMode::Sized`]) each step stocks
//! every SKU with what the step's own offered load can take from it, with a margin:
//!
//! `stock = max(scenario's stock, ⌈STOCK_SAFETY_FACTOR × demand + STOCK_SLACK_UNITS⌉)`
//!
//! where `demand` = carts/s × the step's whole load time (ramp + warm-up + hold) × mean
//! lines per cart × mean units per line × the SKU's share of line draws (the plan's
//! Zipf weight over the mix's SKUs). It overestimates on purpose: it counts every held
//! unit as gone (releases and expiries give units back), and a hot SKU's share of lines
//! (a cart names a SKU at most once, bar a repeated line) is at most its Zipf weight.
//! [`StockMode::Scenario`] benches the scenario's stock as it is (a sell-out benched
//! as such). Sizing, not restocking: a restock is a write of its own on the hot key,
//! which would add load the scenario does not offer and a rate of its own to tune.
//!
//! Not here: seeding (`crate::run::seed`), what a step measures (`super::step`).

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// Stock over the mean demand of the step: twice covers an achieved rate above the
/// offered one (≤ 5 % passes), the Zipf draws' spread on hot SKUs and retries that
/// reserve anew (`after_retention`, a few %), with room to spare.
pub const STOCK_SAFETY_FACTOR: f64 = 2.0;
/// Units added to every sized SKU: a tail SKU whose mean demand is a handful of units
/// draws a Poisson-like count whose spread is wide relative to its mean; 100 more units
/// put a sell-out out of reach (P(X > 2λ + 100) is negligible for every λ).
pub const STOCK_SLACK_UNITS: f64 = 100.0;

/// Which stock a step seeds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockMode {
    /// Each SKU stocked to outlast the step at its offered rate (the default).
    #[default]
    Sized,
    /// The scenario's own stock, as it is.
    Scenario,
}

impl StockMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            StockMode::Sized => "sized",
            StockMode::Scenario => "scenario",
        }
    }

    /// `sized` or `scenario` (the `--stock` flag).
    pub fn parse(text: &str) -> Option<StockMode> {
        [StockMode::Sized, StockMode::Scenario]
            .into_iter()
            .find(|mode| mode.as_str() == text)
    }
}

/// Mean units each of the mix's SKUs (in the mix's order) is asked for when carts
/// arrive at `rate_per_s` for `load_time`.
pub fn demand_units(scenario: &Scenario, rate_per_s: f64, load_time: Duration) -> Vec<f64> {
    let mix = &scenario.mix;
    let mean_lines = f64::from(mix.lines_per_cart.0 + mix.lines_per_cart.1) / 2.0;
    let mean_qty = (mix.qty_per_line.0 + mix.qty_per_line.1) as f64 / 2.0;
    let units = rate_per_s * load_time.as_secs_f64() * mean_lines * mean_qty;
    let weights: Vec<f64> = (0..mix.skus.len())
        .map(|rank| 1.0 / ((rank + 1) as f64).powf(scenario.catalogue.zipf_exponent))
        .collect();
    let total: f64 = weights.iter().sum();
    weights
        .iter()
        .map(|weight| units * weight / total.max(f64::MIN_POSITIVE))
        .collect()
}

/// The stock a SKU with `demand` mean units and `own` units in the scenario is seeded
/// with: never less than the scenario's.
pub fn sized_units(own: i64, demand: f64) -> i64 {
    let sized = (STOCK_SAFETY_FACTOR * demand + STOCK_SLACK_UNITS).ceil();
    own.max(sized as i64)
}

/// Sets each mixed SKU's stock in `scenario` for a step of `load_time` at `rate_per_s`
/// ([`StockMode::Scenario`]: unchanged). Returns the largest stock seeded.
pub fn apply(
    scenario: &mut Scenario,
    mode: StockMode,
    rate_per_s: f64,
    load_time: Duration,
) -> i64 {
    if mode == StockMode::Sized {
        let demand: HashMap<String, f64> = scenario
            .mix
            .skus
            .iter()
            .cloned()
            .zip(demand_units(scenario, rate_per_s, load_time))
            .collect();
        for seed in &mut scenario.catalogue.skus {
            if let Some(demand) = demand.get(&seed.sku) {
                seed.stock = sized_units(seed.stock, *demand);
            }
        }
    }
    scenario
        .catalogue
        .skus
        .iter()
        .map(|seed| seed.stock)
        .max()
        .unwrap_or(0)
}
