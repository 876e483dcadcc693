//! Turns a [`ScenarioFile`] into a [`Scenario`], checking every rule that spans keys or
//! that the types alone cannot express. Each refusal names the key's dotted path and the
//! position `toml` recorded for it.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use stockproof_engine::limits::{
    CART_LINES_MAX, LINE_QTY_MAX, RESTOCK_QTY_MAX, RETENTION_MS_DEFAULT, TTL_MS_MAX, TTL_MS_MIN,
};
use stockproof_engine::validate_sku_id;
use toml::Spanned;

use crate::toml_source::Source as TomlSource;

use super::file::{CatalogueFile, CoverageFile, MixFile, RetryFile, ScenarioFile};
use super::{
    CLIENT_TIMEOUT_DEFAULT, Catalogue, CheckSettings, CoverageGoal, EXPIRY_GRACE_DEFAULT,
    EngineSettings, FORCED_TIMEOUT_DEFAULT, Load, Mix, QUIESCE_TIMEOUT_DEFAULT, Restock,
    RetryPolicy, SCENARIO_SKUS_MAX, SCENARIO_USERS_MAX, Scenario, ScenarioError, SkuSeed, Stop,
};

/// How far shares may be from summing to 1 (decimal fractions in TOML are binary floats).
const SHARE_SUM_TOLERANCE: f64 = 1e-9;
/// Longest scenario name: it prefixes idempotency keys and names the report folder.
const SCENARIO_NAME_BYTES_MAX: usize = 64;

/// The source being validated, to turn byte spans into lines and columns.
struct Source<'a> {
    file: TomlSource<'a>,
}

impl Source<'_> {
    fn error(
        &self,
        key: impl Into<String>,
        span: Range<usize>,
        reason: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Invalid(self.file.locate(key, span, reason))
    }

    fn check<T>(
        &self,
        key: &str,
        value: &Spanned<T>,
        ok: bool,
        reason: impl FnOnce() -> String,
    ) -> Result<(), ScenarioError> {
        if ok {
            Ok(())
        } else {
            Err(self.error(key, value.span(), reason()))
        }
    }

    fn share(&self, key: &str, value: Option<&Spanned<f64>>) -> Result<f64, ScenarioError> {
        let Some(value) = value else { return Ok(0.0) };
        let share = *value.get_ref();
        self.check(key, value, (0.0..=1.0).contains(&share), || {
            format!("expected a share between 0 and 1, got {share}")
        })?;
        Ok(share)
    }
}

pub(super) fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let file_source = TomlSource { text, path };
    let source = Source { file: file_source };
    let file: ScenarioFile =
        toml::from_str(text).map_err(|error| ScenarioError::Invalid(file_source.syntax(&error)))?;
    let name = file.name.get_ref().clone();
    // Bounded so that idempotency keys (`<name>-<seed>-u<user>-c<cart>`) stay far below
    // the engine's 255 bytes.
    let name_ok = (1..=SCENARIO_NAME_BYTES_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'));
    source.check("name", &file.name, name_ok, || {
        format!("`{name}` is not a scenario name (1 to {SCENARIO_NAME_BYTES_MAX} letters, digits, `.`, `_`, `-`)")
    })?;
    let catalogue = catalogue(&source, &file.catalogue)?;
    let known: HashSet<&str> = catalogue
        .skus
        .iter()
        .map(|seed| seed.sku.as_str())
        .collect();
    let mix = mix(&source, &file.mix, &catalogue, &known)?;
    let load = load(&source, &file)?;
    let ttl = file.reservation.ttl.get_ref().0;
    let ttl_ms = ttl.as_millis() as i64;
    source.check(
        "reservation.ttl",
        &file.reservation.ttl,
        (TTL_MS_MIN..=TTL_MS_MAX).contains(&ttl_ms),
        || format!("expected between {TTL_MS_MIN} ms and {TTL_MS_MAX} ms, got {ttl_ms} ms"),
    )?;
    let retry = retry(&source, &file.retry)?;
    let restocks = restocks(&source, &file.restock, &known, load.stop)?;
    let duration_or = |value: &Option<Spanned<stockproof_checks::duration::FileDuration>>,
                       default: Duration| {
        value
            .as_ref()
            .map_or(default, |spanned| spanned.get_ref().0)
    };
    let retention = duration_or(
        &file.engine.idempotency_retention,
        Duration::from_millis(RETENTION_MS_DEFAULT as u64),
    );
    if let Some(value) = &file.engine.idempotency_retention {
        source.check(
            "engine.idempotency_retention",
            value,
            retention >= Duration::from_millis(1),
            || "expected at least 1ms".to_owned(),
        )?;
    }
    let redis_aof = match &file.engine.redis_aof {
        Some(value) => {
            let parsed = value.get_ref().parse::<stockproof_infra::AofPolicy>();
            source.check("engine.redis_aof", value, parsed.is_ok(), || {
                parsed.clone().err().unwrap_or_default()
            })?;
            parsed.ok()
        }
        None => None,
    };
    let faults = faults(&source, &file.faults)?;
    let expiry_grace = duration_or(&file.checks.expiry_grace, EXPIRY_GRACE_DEFAULT);
    Ok(Scenario {
        name,
        description: file.description.trim().to_owned(),
        seed: file.seed,
        load,
        catalogue,
        mix,
        reservation_ttl: ttl,
        retry,
        engine: EngineSettings {
            idempotency_retention: retention,
            redis_aof,
        },
        restocks,
        checks: CheckSettings {
            expiry_grace,
            quiesce_timeout: duration_or(&file.checks.quiesce_timeout, QUIESCE_TIMEOUT_DEFAULT),
            loss_tolerance_events: file
                .checks
                .loss_tolerance_events
                .as_ref()
                .map_or(0, |value| *value.get_ref()),
        },
        slos: file.slos,
        coverage: coverage(&source, &file.coverage)?,
        faults,
    })
}

/// Validates each `[[faults]]` table; an error names the fault's index and the line of
/// its table header (the tables carry no spans of their own).
fn faults(
    source: &Source<'_>,
    files: &[crate::faults::FaultFile],
) -> Result<Vec<crate::faults::FaultSpec>, ScenarioError> {
    if files.len() > crate::faults::FAULTS_PER_RUN_MAX {
        return Err(source.error(
            "faults",
            0..0,
            format!(
                "{} faults; a run injects at most {}",
                files.len(),
                crate::faults::FAULTS_PER_RUN_MAX
            ),
        ));
    }
    let headers: Vec<usize> = source
        .file
        .text
        .match_indices("[[faults]]")
        .map(|(offset, _)| offset)
        .collect();
    files
        .iter()
        .enumerate()
        .map(|(index, file)| {
            crate::faults::FaultSpec::from_file(file).map_err(|reason| {
                let at = headers.get(index).copied().unwrap_or(0);
                source.error(format!("faults[{index}]"), at..at, reason)
            })
        })
        .collect()
}

/// Mid-run restocks, sorted by offset: each names a known SKU, a positive size and an
/// offset inside the load.
fn restocks(
    source: &Source<'_>,
    file: &[super::file::RestockFile],
    known: &HashSet<&str>,
    stop: Stop,
) -> Result<Vec<Restock>, ScenarioError> {
    let mut restocks = Vec::new();
    for (index, restock) in file.iter().enumerate() {
        let key = |field: &str| format!("restock[{index}].{field}");
        let sku = restock.sku.get_ref();
        source.check(
            &key("sku"),
            &restock.sku,
            known.contains(sku.as_str()),
            || format!("unknown sku `{sku}` (not in [catalogue])"),
        )?;
        let qty = *restock.qty.get_ref();
        source.check(
            &key("qty"),
            &restock.qty,
            (1..=RESTOCK_QTY_MAX).contains(&qty),
            || format!("expected between 1 and {RESTOCK_QTY_MAX} units, got {qty}"),
        )?;
        let at = restock.at.get_ref().0;
        if let Stop::Duration(duration) = stop {
            source.check(&key("at"), &restock.at, at < duration, || {
                format!("at {at:?} is not before the end of the load ({duration:?})")
            })?;
        }
        restocks.push(Restock {
            at,
            sku: sku.clone(),
            qty,
        });
    }
    restocks.sort_by_key(|restock| restock.at);
    Ok(restocks)
}

fn load(source: &Source<'_>, file: &ScenarioFile) -> Result<Load, ScenarioError> {
    let load = &file.load;
    let users = *load.users.get_ref();
    source.check(
        "load.users",
        &load.users,
        (1..=SCENARIO_USERS_MAX).contains(&users),
        || format!("expected between 1 and {SCENARIO_USERS_MAX} users, got {users}"),
    )?;
    let hatch = *load.hatch_rate.get_ref();
    source.check(
        "load.hatch_rate",
        &load.hatch_rate,
        hatch.is_finite() && hatch > 0.0,
        || format!("expected users started per second > 0, got {hatch}"),
    )?;
    let stop = match (&load.duration, &load.iterations) {
        (Some(duration), None) => {
            let value = duration.get_ref().0;
            source.check("load.duration", duration, !value.is_zero(), || {
                "expected a duration > 0".to_owned()
            })?;
            Stop::Duration(value)
        }
        (None, Some(iterations)) => {
            let value = *iterations.get_ref();
            source.check("load.iterations", iterations, value >= 1, || {
                "expected at least 1 cart per user".to_owned()
            })?;
            Stop::Iterations(value)
        }
        (Some(duration), Some(_)) => {
            return Err(source.error(
                "load.duration",
                duration.span(),
                "give `duration` or `iterations`, not both",
            ));
        }
        (None, None) => {
            return Err(source.error(
                "load",
                load.users.span(),
                "expected `duration = \"…\"` or `iterations = N`",
            ));
        }
    };
    let arrival_rate_per_s = match &load.arrival_rate {
        Some(rate) => {
            let value = *rate.get_ref();
            source.check(
                "load.arrival_rate",
                rate,
                value.is_finite() && value > 0.0,
                || format!("expected carts per second > 0, got {value}"),
            )?;
            Some(value)
        }
        None => None,
    };
    Ok(Load {
        users,
        hatch_rate_per_s: hatch,
        stop,
        arrival_rate_per_s,
    })
}

fn catalogue(source: &Source<'_>, file: &CatalogueFile) -> Result<Catalogue, ScenarioError> {
    let mut skus: Vec<SkuSeed> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (index, sku) in file.skus.iter().enumerate() {
        let key = |field: &str| format!("catalogue.skus[{index}].{field}");
        let id = sku.id.get_ref();
        source.check(&key("id"), &sku.id, validate_sku_id(id).is_ok(), || {
            format!("`{id}` is not a sku id (1 to 128 characters of A-Z a-z 0-9 . _ : -)")
        })?;
        source.check(&key("id"), &sku.id, seen.insert(id.clone()), || {
            format!("sku `{id}` is listed twice")
        })?;
        let stock = *sku.stock.get_ref();
        source.check(
            &key("stock"),
            &sku.stock,
            (0..=RESTOCK_QTY_MAX).contains(&stock),
            || format!("expected initial stock between 0 and {RESTOCK_QTY_MAX}, got {stock}"),
        )?;
        skus.push(SkuSeed {
            sku: id.clone(),
            stock,
        });
    }
    for (index, generate) in file.generate.iter().enumerate() {
        let key = |field: &str| format!("catalogue.generate[{index}].{field}");
        let count = *generate.count.get_ref();
        source.check(
            &key("count"),
            &generate.count,
            (1..=SCENARIO_SKUS_MAX as i64).contains(&count),
            || format!("expected between 1 and {SCENARIO_SKUS_MAX} skus, got {count}"),
        )?;
        let stock = *generate.stock.get_ref();
        source.check(
            &key("stock"),
            &generate.stock,
            (0..=RESTOCK_QTY_MAX).contains(&stock),
            || format!("expected initial stock between 0 and {RESTOCK_QTY_MAX}, got {stock}"),
        )?;
        let prefix = generate.prefix.get_ref();
        let width = (count - 1).max(1).to_string().len();
        for number in 0..count {
            let id = format!("{prefix}{number:0width$}");
            source.check(
                &key("prefix"),
                &generate.prefix,
                validate_sku_id(&id).is_ok(),
                || format!("`{id}` is not a sku id (1 to 128 characters of A-Z a-z 0-9 . _ : -)"),
            )?;
            source.check(
                &key("prefix"),
                &generate.prefix,
                seen.insert(id.clone()),
                || format!("generated sku `{id}` is already in the catalogue"),
            )?;
            skus.push(SkuSeed { sku: id, stock });
        }
    }
    if skus.is_empty() || skus.len() > SCENARIO_SKUS_MAX {
        return Err(source.error(
            "catalogue",
            0..0,
            format!("expected 1 to {SCENARIO_SKUS_MAX} skus, got {}", skus.len()),
        ));
    }
    let zipf_exponent = match &file.zipf_exponent {
        Some(value) => {
            let exponent = *value.get_ref();
            source.check(
                "catalogue.zipf_exponent",
                value,
                exponent.is_finite() && (0.0..=10.0).contains(&exponent),
                || format!("expected an exponent between 0 (uniform) and 10, got {exponent}"),
            )?;
            exponent
        }
        None => 0.0,
    };
    Ok(Catalogue {
        skus,
        zipf_exponent,
    })
}

fn range(
    source: &Source<'_>,
    key: &str,
    value: &Spanned<[i64; 2]>,
    max: i64,
) -> Result<(i64, i64), ScenarioError> {
    let [low, high] = *value.get_ref();
    source.check(key, value, 1 <= low && low <= high && high <= max, || {
        format!("expected [min, max] with 1 <= min <= max <= {max}, got [{low}, {high}]")
    })?;
    Ok((low, high))
}

fn mix(
    source: &Source<'_>,
    file: &MixFile,
    catalogue: &Catalogue,
    known: &HashSet<&str>,
) -> Result<Mix, ScenarioError> {
    let (lines_low, lines_high) = range(
        source,
        "mix.lines_per_cart",
        &file.lines_per_cart,
        CART_LINES_MAX as i64,
    )?;
    let qty_per_line = range(source, "mix.qty_per_line", &file.qty_per_line, LINE_QTY_MAX)?;
    let mut skus = Vec::new();
    for (index, sku) in file.skus.iter().enumerate() {
        let id = sku.get_ref();
        source.check(
            &format!("mix.skus[{index}]"),
            sku,
            known.contains(id.as_str()),
            || {
                let known: Vec<&str> = catalogue
                    .skus
                    .iter()
                    .take(5)
                    .map(|seed| seed.sku.as_str())
                    .collect();
                format!(
                    "unknown sku `{id}` (known: {}{})",
                    known.join(", "),
                    if catalogue.skus.len() > 5 {
                        ", …"
                    } else {
                        ""
                    }
                )
            },
        )?;
        skus.push(id.clone());
    }
    if skus.is_empty() {
        skus = catalogue.skus.iter().map(|seed| seed.sku.clone()).collect();
    }
    let confirm = source.share("mix.confirm", Some(&file.confirm))?;
    let release = source.share("mix.release", Some(&file.release))?;
    let abandon = source.share("mix.abandon", Some(&file.abandon))?;
    let sum = confirm + release + abandon;
    source.check(
        "mix.confirm",
        &file.confirm,
        (sum - 1.0).abs() <= SHARE_SUM_TOLERANCE,
        || format!("confirm {confirm} + release {release} + abandon {abandon} = {sum}, expected 1"),
    )?;
    let hold_time = match &file.hold_time {
        Some(value) => {
            let [low, high] = *value.get_ref();
            source.check("mix.hold_time", value, low.0 <= high.0, || {
                "expected [min, max] with min <= max".to_owned()
            })?;
            (low.0, high.0)
        }
        None => (Duration::ZERO, Duration::ZERO),
    };
    Ok(Mix {
        lines_per_cart: (lines_low as u32, lines_high as u32),
        qty_per_line,
        repeat_sku_line: source.share("mix.repeat_sku_line", file.repeat_sku_line.as_ref())?,
        skus,
        confirm,
        release,
        abandon,
        hold_time,
        read_sku: source.share("mix.read_sku", file.read_sku.as_ref())?,
        read_reservation: source.share("mix.read_reservation", file.read_reservation.as_ref())?,
    })
}

fn retry(source: &Source<'_>, file: &RetryFile) -> Result<RetryPolicy, ScenarioError> {
    let concurrent = source.share("retry.concurrent", file.concurrent.as_ref())?;
    let after_reply = source.share("retry.after_reply", file.after_reply.as_ref())?;
    let after_timeout = source.share("retry.after_timeout", file.after_timeout.as_ref())?;
    let sum = concurrent + after_reply + after_timeout;
    if sum > 1.0 + SHARE_SUM_TOLERANCE {
        let span = file
            .concurrent
            .as_ref()
            .or(file.after_reply.as_ref())
            .or(file.after_timeout.as_ref())
            .map_or(0..0, Spanned::span);
        return Err(source.error("retry", span, format!("concurrent + after_reply + after_timeout = {sum}, expected at most 1 (one duplicate mode per request)")));
    }
    let client_timeout = file
        .client_timeout
        .as_ref()
        .map_or(CLIENT_TIMEOUT_DEFAULT, |value| value.get_ref().0);
    let forced_timeout = file
        .forced_timeout
        .as_ref()
        .map_or(FORCED_TIMEOUT_DEFAULT, |value| value.get_ref().0);
    if let Some(value) = &file.client_timeout {
        source.check(
            "retry.client_timeout",
            value,
            !client_timeout.is_zero(),
            || "expected a timeout > 0".to_owned(),
        )?;
    }
    if let Some(value) = &file.forced_timeout {
        source.check(
            "retry.forced_timeout",
            value,
            !forced_timeout.is_zero() && forced_timeout < client_timeout,
            || format!("expected more than 0 and less than client_timeout ({client_timeout:?})"),
        )?;
    }
    Ok(RetryPolicy {
        concurrent,
        after_reply,
        after_timeout,
        after_retention: source.share("retry.after_retention", file.after_retention.as_ref())?,
        client_timeout,
        forced_timeout,
        backoff: file
            .backoff
            .as_ref()
            .map_or(Duration::ZERO, |value| value.get_ref().0),
    })
}

/// The `[coverage]` goals.
fn coverage(source: &Source<'_>, file: &CoverageFile) -> Result<Vec<CoverageGoal>, ScenarioError> {
    let mut goals = Vec::new();
    let mut count = |key: &str,
                     value: &Option<Spanned<u64>>,
                     goal: &dyn Fn(u64) -> CoverageGoal|
     -> Result<(), ScenarioError> {
        if let Some(value) = value {
            let min = *value.get_ref();
            source.check(&format!("coverage.{key}"), value, min >= 1, || {
                "expected a count of at least 1 (or leave the goal out)".to_owned()
            })?;
            goals.push(goal(min));
        }
        Ok(())
    };
    count("stock_reached_zero", &file.stock_reached_zero, &|min| {
        CoverageGoal::StockReachedZero { min }
    })?;
    count("duplicate_overlapped", &file.duplicate_overlapped, &|min| {
        CoverageGoal::DuplicateOverlapped { min }
    })?;
    count("retry_after_unknown", &file.retry_after_unknown, &|min| {
        CoverageGoal::RetryAfterUnknown { min }
    })?;
    count(
        "retry_after_retention",
        &file.retry_after_retention,
        &|min| CoverageGoal::RetryAfterRetention { min },
    )?;
    count("repeated_sku_line", &file.repeated_sku_line, &|min| {
        CoverageGoal::RepeatedSkuLine { min }
    })?;
    count(
        "reads_while_contended",
        &file.reads_while_contended,
        &|min| CoverageGoal::ReadsWhileContended { min },
    )?;
    count(
        "refusals_after_return",
        &file.refusals_after_return,
        &|min| CoverageGoal::RefusalsAfterReturn { min },
    )?;
    if let Some(near) = &file.confirm_near_deadline {
        let min = *near.min.get_ref();
        source.check(
            "coverage.confirm_near_deadline.min",
            &near.min,
            min >= 1,
            || "expected a count of at least 1".to_owned(),
        )?;
        goals.push(CoverageGoal::ConfirmNearDeadline {
            within: near.within.get_ref().0,
            min,
        });
    }
    Ok(goals)
}
