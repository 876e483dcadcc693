//! `report.html`: one self-contained page, read top-down — a header with the verdict in
//! its colour, tiles with the run's figures, the checks, SLOs and coverage goals, then
//! the charts (`super::figures`: latency, outcomes and stock over time with faults and
//! violations marked, the percentile curves), the faults and the violations' windows
//! (`super::timeline`). Every figure in human units (`super::units`). Styles and the one
//! small script (the values under the pointer) are inlined from `assets/`: no request
//! leaves the file, so it opens offline and in CI artifact viewers.
//!
//! Not here: the series (`super::series`), drawing a chart (`super::chart`).

use std::fmt::Write;

use hdrhistogram::Histogram;

use super::junit::escape;
use super::summary::Summary;
use super::timeline::{FaultBand, fault_bands, windows_section};
use super::{RunData, figures, units};
use crate::checks::{Overall, Verdict};
use crate::history::{Op, Outcome};
use crate::latency::new_histogram;

pub(super) const STYLE: &str = include_str!("assets/report.css");
pub(super) const SCRIPT: &str = include_str!("assets/report.js");

pub(super) fn render(data: &RunData<'_>, summary: &Summary) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let title = format!(
        "stockproof: {} — {}",
        summary.scenario,
        summary.verdict.as_str()
    );
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>",
        escape(&title)
    );
    header(&mut out, summary);
    tiles(&mut out, data, summary);
    let faults = fault_bands(data.history);
    let windows = windows_section(&summary.checks, data.history);
    nav(&mut out, !faults.is_empty(), !windows.is_empty());
    checks_section(&mut out, summary);
    goals_section(&mut out, summary);
    figures::time_sections(&mut out, data, summary, &faults);
    figures::percentile_section(&mut out, data, summary);
    faults_section(&mut out, &faults);
    out.push_str(&windows);
    let _ = writeln!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>");
    out
}

/// Links to the page's sections; faults and windows only when the page has them.
fn nav(out: &mut String, faults: bool, windows: bool) {
    out.push_str(
        "<nav><a href=\"#checks\">checks</a><a href=\"#goals\">SLOs and coverage</a>\
         <a href=\"#latency\">latency</a><a href=\"#outcomes\">outcomes</a>\
         <a href=\"#stock\">stock</a><a href=\"#percentiles\">percentiles</a>",
    );
    if faults {
        out.push_str("<a href=\"#faults\">faults</a>");
    }
    if windows {
        out.push_str("<a href=\"#windows\">violation windows</a>");
    }
    out.push_str("</nav>\n");
}

fn overall_class(overall: Overall) -> &'static str {
    match overall {
        Overall::Pass => "pass",
        Overall::Violation => "violation",
        Overall::SloMissed => "slo-missed",
        Overall::Inconclusive => "inconclusive",
    }
}

fn header(out: &mut String, summary: &Summary) {
    let _ = writeln!(
        out,
        "<header class=\"verdict {}\" id=\"verdict\"><div class=\"verdict-word\">{}</div><div>\
         <h1>{}</h1><p>{}</p><p>exit code {} · seed {} · started {} · {} · engine {}</p></div></header>",
        overall_class(summary.verdict),
        escape(&summary.verdict.as_str().to_uppercase()),
        escape(&summary.scenario),
        escape(&summary.description),
        summary.exit_code,
        summary.seed,
        escape(&summary.started_at),
        escape(&summary.target),
        escape(&summary.engine)
    );
}

fn tiles(out: &mut String, data: &RunData<'_>, summary: &Summary) {
    let ops = &summary.ops;
    let mut all: Histogram<u64> = new_histogram();
    for op in data.latencies.ops.values() {
        all.add(&op.corrected)
            .expect("auto-resizing histograms add any other histogram");
    }
    let p99 = if all.is_empty() {
        "-".to_owned()
    } else {
        units::duration_us(all.value_at_quantile(0.99) as f64)
    };
    let refused = refused_ops(data);
    let tiles = [
        (units::count(ops.total as f64), "shopper ops".to_owned()),
        (
            units::duration_s(ops.duration_s),
            "load duration".to_owned(),
        ),
        (
            ops.throughput_per_s
                .map_or("-".to_owned(), units::rate_per_s),
            "throughput".to_owned(),
        ),
        (p99, "p99 latency, all ops".to_owned()),
        (
            units::count(refused as f64),
            format!("refused (4xx, 503){}", share(refused, ops.total)),
        ),
        (
            units::count(ops.errors as f64),
            format!("errors (unknown, 5xx){}", share(ops.errors, ops.total)),
        ),
        (
            units::count(ops.late_starts as f64),
            "late starts".to_owned(),
        ),
    ];
    out.push_str("<section class=\"tiles\">");
    for (value, label) in tiles {
        let _ = write!(
            out,
            "<div class=\"tile\"><b>{}</b><span>{}</span></div>",
            escape(&value),
            escape(&label)
        );
    }
    out.push_str("</section>\n");
}

/// ` · 2.77 %`: `part` of `all`, or nothing when there is nothing.
fn share(part: u64, all: u64) -> String {
    if all == 0 {
        return String::new();
    }
    format!(" · {}", units::percent(part as f64 / all as f64))
}

/// Shopper ops refused: in a flash sale most are, by design.
fn refused_ops(data: &RunData<'_>) -> u64 {
    let shopper_ops = data
        .history
        .entries
        .iter()
        .filter(|entry| entry.user.is_some() && !matches!(entry.op, Op::Fault { .. }));
    let refused = shopper_ops
        .filter(|entry| entry.outcome == Outcome::Fail)
        .count();
    (refused + data.history.refusals.len()) as u64
}

fn badge(verdict: Verdict) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", verdict.as_str())
}

fn checks_section(out: &mut String, summary: &Summary) {
    out.push_str(
        "<h2 id=\"checks\">Checks</h2>\n<table class=\"checks\">\n<tr><th>check</th><th>verdict</th>\
         <th>violations</th><th>counts</th><th>note</th></tr>\n",
    );
    for check in &summary.checks {
        let counts: Vec<String> = check
            .counts
            .iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        let _ = writeln!(
            out,
            "<tr id=\"check-{0}\"><td><b>{0}</b> {1}</td><td>{2}</td><td class=\"num\">{3}</td>\
             <td class=\"muted\">{4}</td><td>{5}</td></tr>",
            check.id.as_str(),
            escape(&check.title),
            badge(check.verdict),
            check.violation_count(),
            escape(&counts.join(", ")),
            escape(check.note.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table>\n");
    for check in summary
        .checks
        .iter()
        .filter(|check| !check.groups.is_empty())
    {
        let _ = writeln!(
            out,
            "<h3>{} {}: violations</h3>\n<ul class=\"groups\">",
            check.id.as_str(),
            escape(&check.title)
        );
        for group in &check.groups {
            let _ = writeln!(
                out,
                "<li><b>{}</b> × {}: first: {}; worst: {}</li>",
                escape(&group.kind),
                group.count,
                escape(&group.first.reason),
                escape(&group.worst.reason)
            );
        }
        out.push_str("</ul>\n");
    }
}

fn goals_section(out: &mut String, summary: &Summary) {
    out.push_str("<h2 id=\"goals\">SLOs and coverage goals</h2>\n");
    if summary.slos.is_empty() && summary.coverage.is_empty() {
        out.push_str("<p class=\"empty\">The scenario sets no SLO and no coverage goal.</p>\n");
        return;
    }
    out.push_str(
        "<table>\n<tr><th>goal</th><th>verdict</th><th>observed</th><th>needed</th></tr>\n",
    );
    for slo in &summary.slos {
        let _ = writeln!(
            out,
            "<tr><td>SLO <code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&slo.slo),
            badge(slo.verdict),
            slo_observed(slo),
            units::slo_value(slo.threshold, &slo.unit)
        );
    }
    for goal in &summary.coverage {
        let _ = writeln!(
            out,
            "<tr><td>coverage {} <span class=\"muted\">({})</span></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">≥ {}</td></tr>",
            escape(&goal.goal),
            escape(&goal.description),
            badge(goal.verdict),
            goal.observed,
            goal.min
        );
    }
    out.push_str("</table>\n");
}

/// The observed value, with the SLO's note (a growth's two levels, or why it was not
/// judged).
fn slo_observed(slo: &crate::checks::slo::SloResult) -> String {
    let value = slo.observed.map(|value| units::slo_value(value, &slo.unit));
    match (value, &slo.note) {
        (Some(value), Some(note)) => {
            format!("{value} <span class=\"muted\">({})</span>", escape(note))
        }
        (Some(value), None) => value,
        (None, Some(note)) => escape(note),
        (None, None) => "nothing measured".to_owned(),
    }
}

/// The faults in words (the bands' tooltips say the same).
fn faults_section(out: &mut String, faults: &[FaultBand]) {
    if faults.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"faults\">Faults injected</h2>\n<ul class=\"faults\">\n");
    for fault in faults {
        let _ = writeln!(
            out,
            "<li>{} – {}: {}</li>",
            units::duration_s(fault.from_s),
            units::duration_s(fault.to_s),
            escape(&fault.label)
        );
    }
    out.push_str("</ul>\n");
}
