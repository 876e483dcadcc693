//! bench.md: the knees side by side with their ratios to the ceilings, the ceilings,
//! then a table per strategy with every step. Every figure in human units
//! (`crate::report::units`).
//!
//! Not here: bench.json (`super::output`), the chart (`crate::report::bench_page`).

use std::fmt::Write;

use super::ceilings::Ceiling;
use super::step::StepRecord;
use super::stock::StockMode;
use super::{BenchRecord, StrategyRecord};
use crate::report::units;

/// bench.md's text.
pub fn render(record: &BenchRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# stockproof bench: {}, SLO `{}`\n",
        record.scenario, record.slo
    );
    let _ = writeln!(
        out,
        "Target: {}. Started {}, finished {}{}. Steps: {} s warm-up, then up to {} s measured \
         (aiming at {} carts); resolution {} %; achieved rate within {} % of offered. \
         Stock: {}.\n",
        record.target,
        record.started_at,
        record.finished_at,
        if record.interrupted {
            " (INTERRUPTED: what was measured)"
        } else {
            ""
        },
        record.settings.warmup_s,
        record.settings.step_time_s,
        record.settings.samples_target,
        record.settings.resolution * 100.0,
        record.settings.achieved_tolerance * 100.0,
        stock_text(record),
    );
    knees(&mut out, record);
    ceilings(&mut out, record);
    for strategy in &record.strategies {
        steps(&mut out, strategy);
    }
    out
}

fn stock_text(record: &BenchRecord) -> String {
    match record.settings.stock {
        StockMode::Sized => format!(
            "sized per step, {} × the step's mean demand per SKU + {} units (never below the scenario's)",
            record.settings.stock_safety_factor, record.settings.stock_slack_units
        ),
        StockMode::Scenario => "the scenario's own, as it is".to_owned(),
    }
}

fn knees(out: &mut String, record: &BenchRecord) {
    out.push_str("## Knees\n\n");
    out.push_str(
        "| strategy | knee | reserves/s at knee | refused at knee | first fail | ÷ load generator | ÷ Redis script | ÷ Postgres UPDATE | search ended | note |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|---|---|\n",
    );
    for strategy in &record.strategies {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            strategy.strategy,
            carts(strategy.knee_carts_per_s),
            strategy
                .knee_reserves_per_s
                .map_or("-".to_owned(), units::rate_per_s),
            strategy.knee_refused_share.map_or("-".to_owned(), percent),
            carts(strategy.first_fail_carts_per_s),
            ratio(strategy.ratios.load_generator),
            ratio(strategy.ratios.redis_reserve_script),
            ratio(strategy.ratios.postgres_guarded_update),
            strategy.end.as_str(),
            strategy.note.as_deref().unwrap_or(""),
        );
    }
    out.push('\n');
}

fn ceilings(out: &mut String, record: &BenchRecord) {
    out.push_str("## Ceilings\n\n| ceiling | rate | callers | seconds |\n|---|--:|--:|--:|\n");
    let rows: [(&str, &Option<Ceiling>, &str); 3] = [
        (
            "load generator (no-op target, open model, highest rate achieved)",
            &record.ceilings.load_generator,
            "carts/s",
        ),
        (
            "bare Redis client, reserve script",
            &record.ceilings.redis_reserve_script,
            "calls/s",
        ),
        (
            "Postgres guarded UPDATE, one pool",
            &record.ceilings.postgres_guarded_update,
            "calls/s",
        ),
    ];
    for (name, ceiling, unit) in rows {
        match ceiling {
            Some(ceiling) => {
                let _ = writeln!(
                    out,
                    "| {name} | {} {unit} | {} | {:.1} |",
                    units::count(ceiling.per_s),
                    ceiling.callers,
                    ceiling.seconds
                );
            }
            None => {
                let _ = writeln!(out, "| {name} | not measured | | |");
            }
        }
    }
    for note in &record.ceilings.notes {
        let _ = writeln!(out, "\n- {note}");
    }
    out.push('\n');
}

fn steps(out: &mut String, strategy: &StrategyRecord) {
    let _ = writeln!(out, "## {}\n", strategy.strategy);
    out.push_str(
        "| step | phase | offered | achieved | ops/s | op | samples | p50 | p99 | p99.9 | max | stock max | refused reserves | unknown ops | dropped | violations | verdict | why |\n\
         |--:|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|---|\n",
    );
    for step in &strategy.steps {
        step_row(out, step);
    }
    out.push('\n');
}

fn step_row(out: &mut String, step: &StepRecord) {
    let latency = |us: Option<u64>| us.map_or("-".to_owned(), |us| units::duration_us(us as f64));
    let violations: Vec<String> = step
        .violations
        .iter()
        .map(|violation| format!("{} ×{}", violation.check, violation.count))
        .collect();
    let _ = writeln!(
        out,
        "| {} | {} | {:.0} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        step.index,
        step.phase.as_str(),
        step.offered_carts_per_s,
        step.achieved_carts_per_s,
        units::count(step.ops_per_s),
        step.latency_op,
        step.samples,
        latency(step.p50_us),
        latency(step.p99_us),
        latency(step.p999_us),
        latency(step.max_us),
        step.stock_units_max
            .map_or("-".to_owned(), |units| units::count(units as f64)),
        percent(step.refused_share),
        percent(step.unknown_share),
        step.dropped_starts,
        if violations.is_empty() {
            "none".to_owned()
        } else {
            violations.join(", ")
        },
        step.verdict.as_str(),
        step.reasons
            .iter()
            .chain(&step.notes)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
            .replace('|', "\\|"),
    );
}

fn carts(rate: Option<f64>) -> String {
    rate.map_or_else(|| "none".to_owned(), |rate| format!("{rate:.0} carts/s"))
}

fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// A knee over a ceiling to three significant digits, however small: a knee of
/// 25 carts/s over a 15.6k calls/s ceiling reads `0.0016`, never `0.00`.
fn ratio(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), units::count)
}

#[cfg(test)]
mod tests;
