//! The scenario file exactly as written: serde types with `deny_unknown_fields` on every
//! table, so an unknown key is refused by `toml` with its line and the keys it expected.
//! Values whose meaning depends on other keys (a SKU named by the mix, shares that must
//! sum to 1) keep their position (`toml::Spanned`) for `super::validate`, which turns
//! this into a [`super::Scenario`]. Nothing here is read by the rest of the harness.

use serde::Deserialize;
use toml::Spanned;

use super::Slo;
use stockproof_checks::duration::FileDuration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    pub(crate) name: Spanned<String>,
    #[serde(default)]
    pub(crate) description: String,
    pub(crate) seed: Option<u64>,
    #[serde(default)]
    pub(crate) slos: Vec<Slo>,
    pub(crate) load: LoadFile,
    pub(crate) catalogue: CatalogueFile,
    pub(crate) mix: MixFile,
    pub(crate) reservation: ReservationFile,
    #[serde(default)]
    pub(crate) retry: RetryFile,
    #[serde(default)]
    pub(crate) engine: EngineFile,
    #[serde(default)]
    pub(crate) restock: Vec<RestockFile>,
    #[serde(default)]
    pub(crate) checks: ChecksFile,
    #[serde(default)]
    pub(crate) coverage: CoverageFile,
    #[serde(default)]
    pub(crate) faults: Vec<crate::faults::FaultFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoadFile {
    pub(crate) users: Spanned<u32>,
    /// Users started per second (goose's hatch rate).
    pub(crate) hatch_rate: Spanned<f64>,
    pub(crate) duration: Option<Spanned<FileDuration>>,
    /// Carts per user.
    pub(crate) iterations: Option<Spanned<u64>>,
    /// Open model: carts started per second across all users.
    pub(crate) arrival_rate: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CatalogueFile {
    #[serde(default)]
    pub(crate) skus: Vec<SkuFile>,
    #[serde(default)]
    pub(crate) generate: Vec<GenerateFile>,
    /// Hot-key skew: SKU of rank k is picked with weight 1/k^s; 0 = uniform.
    #[serde(default)]
    pub(crate) zipf_exponent: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkuFile {
    pub(crate) id: Spanned<String>,
    pub(crate) stock: Spanned<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GenerateFile {
    pub(crate) prefix: Spanned<String>,
    pub(crate) count: Spanned<i64>,
    pub(crate) stock: Spanned<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MixFile {
    pub(crate) lines_per_cart: Spanned<[i64; 2]>,
    pub(crate) qty_per_line: Spanned<[i64; 2]>,
    #[serde(default)]
    pub(crate) repeat_sku_line: Option<Spanned<f64>>,
    /// Restricts carts to these SKUs (default: the whole catalogue).
    #[serde(default)]
    pub(crate) skus: Vec<Spanned<String>>,
    pub(crate) confirm: Spanned<f64>,
    pub(crate) release: Spanned<f64>,
    pub(crate) abandon: Spanned<f64>,
    /// Wait between the reserve reply and the confirm / release, drawn uniformly.
    #[serde(default)]
    pub(crate) hold_time: Option<Spanned<[FileDuration; 2]>>,
    /// Share of carts followed by a `GET` of one of their SKUs.
    #[serde(default)]
    pub(crate) read_sku: Option<Spanned<f64>>,
    /// Share of carts that read their reservation back after the reserve and after the
    /// confirm or release.
    #[serde(default)]
    pub(crate) read_reservation: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReservationFile {
    pub(crate) ttl: Spanned<FileDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetryFile {
    pub(crate) concurrent: Option<Spanned<f64>>,
    pub(crate) after_reply: Option<Spanned<f64>>,
    pub(crate) after_timeout: Option<Spanned<f64>>,
    pub(crate) after_retention: Option<Spanned<f64>>,
    pub(crate) client_timeout: Option<Spanned<FileDuration>>,
    pub(crate) forced_timeout: Option<Spanned<FileDuration>>,
    pub(crate) backoff: Option<Spanned<FileDuration>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EngineFile {
    pub(crate) idempotency_retention: Option<Spanned<FileDuration>>,
    /// Redis persistence for servers stockproof starts: off | no | everysec | always.
    pub(crate) redis_aof: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestockFile {
    pub(crate) at: Spanned<FileDuration>,
    pub(crate) sku: Spanned<String>,
    pub(crate) qty: Spanned<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChecksFile {
    pub(crate) expiry_grace: Option<Spanned<FileDuration>>,
    pub(crate) quiesce_timeout: Option<Spanned<FileDuration>>,
    /// Events a Redis kill may lose (acknowledged by Redis, never in Postgres).
    pub(crate) loss_tolerance_events: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CoverageFile {
    pub(crate) stock_reached_zero: Option<Spanned<u64>>,
    pub(crate) duplicate_overlapped: Option<Spanned<u64>>,
    pub(crate) confirm_near_deadline: Option<NearDeadlineFile>,
    pub(crate) retry_after_unknown: Option<Spanned<u64>>,
    pub(crate) retry_after_retention: Option<Spanned<u64>>,
    pub(crate) repeated_sku_line: Option<Spanned<u64>>,
    pub(crate) reads_while_contended: Option<Spanned<u64>>,
    pub(crate) refusals_after_return: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NearDeadlineFile {
    pub(crate) within: Spanned<FileDuration>,
    pub(crate) min: Spanned<u64>,
}
