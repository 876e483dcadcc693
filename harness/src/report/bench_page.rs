//! bench.html: one self-contained page with the latency-vs-throughput curves of every
//! benched strategy on one chart (each step's SLO statistic, corrected, against the
//! rate it offered), the SLO as a line across it, steps that broke an invariant
//! marked, and the knees. Drawn by `super::chart` with report.html's styles and script
//! inlined: no request leaves the file.
//!
//! Not here: the record (`crate::capacity`), bench.md.

use std::fmt::Write;

use super::chart::{Chart, Dot, Line, Scale, Shape, XAxis};
use super::html::{SCRIPT, STYLE};
use super::junit::escape;
use super::units;
use crate::capacity::step::StepVerdict;
use crate::capacity::{BenchRecord, StrategyRecord};
use crate::scenario::{Slo, SloMetric};
use stockproof_engine::strategy::Strategy;

/// One colour per strategy, in bench order, and the SLO line's.
const STRATEGY_COLOURS: [&str; 4] = ["#1f6feb", "#bf5700", "#2da44e", "#8250df"];
const SLO_COLOUR: &str = "#cf222e";
const VIOLATION_COLOUR: &str = "#cf222e";

/// bench.html's text.
pub fn render(record: &BenchRecord) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = format!("stockproof bench: {} — {}", record.scenario, record.slo);
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>",
        escape(&title),
        escape(&title)
    );
    let _ = writeln!(
        out,
        "<p>Target: {}. {} → {}{}.</p>",
        escape(&record.target),
        escape(&record.started_at),
        escape(&record.finished_at),
        if record.interrupted {
            " — INTERRUPTED: what was measured"
        } else {
            ""
        }
    );
    knees(&mut out, record);
    out.push_str("<section id=\"curves\">\n<h2>Latency against offered rate</h2>\n");
    out.push_str(&curves(record).render());
    out.push_str("</section>\n");
    let _ = writeln!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>");
    out
}

fn knees(out: &mut String, record: &BenchRecord) {
    out.push_str(
        "<section id=\"knees\">\n<h2>Knees</h2>\n<table>\n<tr><th>strategy</th><th>knee</th>\
         <th>÷ load generator</th><th>÷ Redis script</th><th>÷ Postgres UPDATE</th><th>note</th></tr>\n",
    );
    let ratio = |ratio: Option<f64>| ratio.map_or("-".to_owned(), |ratio| format!("{ratio:.2}"));
    for strategy in &record.strategies {
        let _ = writeln!(
            out,
            "<tr data-strategy=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&strategy.strategy),
            escape(&strategy.strategy),
            strategy
                .knee_carts_per_s
                .map_or("none".to_owned(), |knee| format!("{knee:.0} carts/s")),
            ratio(strategy.ratios.load_generator),
            ratio(strategy.ratios.redis_reserve_script),
            ratio(strategy.ratios.postgres_guarded_update),
            escape(strategy.note.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</table>\n</section>\n");
}

/// Every strategy's curve over the union of the rates offered, and the SLO line.
fn curves(record: &BenchRecord) -> Chart<'static> {
    let slo: Option<Slo> = record.slo.parse().ok();
    let (format, threshold): (fn(f64) -> String, Option<f64>) = match &slo {
        Some(slo) => match slo.metric {
            SloMetric::Latency { .. } => (units::duration_us, Some(slo.threshold)),
            SloMetric::ErrorRate => (units::percent, Some(slo.threshold)),
            SloMetric::Throughput => (units::rate_per_s, Some(slo.threshold)),
            // A bench's curves are latencies; a resource objective draws no line.
            SloMetric::Resource { .. } => (units::duration_us, None),
        },
        None => (units::duration_us, None),
    };
    let mut x: Vec<f64> = record
        .strategies
        .iter()
        .flat_map(|strategy| strategy.steps.iter().map(|step| step.offered_carts_per_s))
        .collect();
    x.sort_by(f64::total_cmp);
    x.dedup();
    let mut lines: Vec<Line> = record
        .strategies
        .iter()
        .enumerate()
        .map(|(index, strategy)| curve(strategy, index, &x))
        .collect();
    if let Some(threshold) = threshold {
        lines.push(Line {
            id: "slo",
            label: format!("SLO {}", record.slo),
            colour: SLO_COLOUR,
            values: vec![Some(threshold); x.len()],
            drawn: true,
        });
    }
    let dots = violation_dots(record);
    Chart {
        id: "curves".to_owned(),
        caption: format!(
            "{} of each step's measured window (corrected for coordinated omission) against the carts/s it offered; the red line is the SLO",
            slo.as_ref()
                .map_or("the SLO's statistic".to_owned(), |slo| slo.text.clone())
        ),
        x_end: x.last().copied().unwrap_or(1.0) * 1.05,
        x,
        x_axis: XAxis::Rate,
        lines,
        shape: Shape::Joined,
        scale: Scale::Log,
        format,
        faults: &[],
        marks: Vec::new(),
        dots,
    }
}

fn curve(strategy: &StrategyRecord, index: usize, x: &[f64]) -> Line {
    let values = x
        .iter()
        .map(|rate| {
            strategy
                .steps
                .iter()
                .find(|step| step.offered_carts_per_s == *rate)
                .and_then(|step| step.slo_observed)
        })
        .collect();
    Line {
        id: series_id(&strategy.strategy),
        label: match strategy.knee_carts_per_s {
            Some(knee) => format!("{} (knee {knee:.0} carts/s)", strategy.strategy),
            None => format!("{} (no knee)", strategy.strategy),
        },
        colour: STRATEGY_COLOURS[index % STRATEGY_COLOURS.len()],
        values,
        drawn: true,
    }
}

/// The series id: the strategy's name, or `target`.
fn series_id(name: &str) -> &'static str {
    Strategy::ALL
        .iter()
        .map(|strategy| strategy.name())
        .find(|known| *known == name)
        .unwrap_or("target")
}

/// A dot on each step that broke an invariant, titled with the checks.
fn violation_dots(record: &BenchRecord) -> Vec<Dot> {
    record
        .strategies
        .iter()
        .flat_map(|strategy| {
            strategy
                .steps
                .iter()
                .filter(|step| step.verdict == StepVerdict::Violation)
                .filter_map(move |step| {
                    let checks: Vec<&str> = step
                        .violations
                        .iter()
                        .map(|violation| violation.check.as_str())
                        .collect();
                    step.slo_observed.map(|y| Dot {
                        x: step.offered_carts_per_s,
                        y,
                        colour: VIOLATION_COLOUR,
                        title: format!(
                            "{} at {:.0} carts/s broke {}",
                            strategy.strategy,
                            step.offered_carts_per_s,
                            checks.join(", ")
                        ),
                    })
                })
        })
        .collect()
}
