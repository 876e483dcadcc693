//! `report.html`: one self-contained page — verdicts, then inline SVG charts of the
//! latency percentile curves (per op kind, corrected for coordinated omission; x axis
//! 1/(1-p) on a log scale as the HdrHistogram plotter draws it), throughput per second,
//! and each watched SKU's available stock over time with violations marked, the injected
//! faults shaded on both; then each shown violation's window of history as a timeline
//! (`super::timeline`). No scripts, no styles or fonts from the network: it opens
//! offline and in CI artifact viewers.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use super::junit::escape;
use super::summary::Summary;
use super::timeline::{FAULT_FILL, FaultBand, fault_bands, windows_section};
use super::{RunData, hgrm};
use crate::checks::Verdict;
use crate::history::{History, Op, OpId};

/// SKUs drawn in the stock timeline: the ones with violations first, then the most
/// observed. More charts would make the page long without saying more.
const STOCK_CHARTS_MAX: usize = 6;
/// Points per drawn series: beyond a few hundred the eye sees no difference and the
/// page grows by megabytes.
const SERIES_POINTS_MAX: usize = 400;
/// Chart geometry (px): plot area inside a margin for the axis labels.
const CHART_WIDTH: f64 = 720.0;
const CHART_HEIGHT: f64 = 260.0;
const MARGIN_LEFT: f64 = 60.0;
const MARGIN_BOTTOM: f64 = 30.0;
const MARGIN_TOP: f64 = 20.0;
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#7f7f7f",
];
/// Highest percentile tick on the latency chart's x axis: 99.999 %.
const PERCENTILE_AXIS_DECADES: f64 = 5.0;

struct Series {
    label: String,
    colour: &'static str,
    points: Vec<(f64, f64)>,
}

/// A vertical marker at x with a tooltip.
struct Marker {
    x: f64,
    label: String,
}

pub(super) fn render(data: &RunData<'_>, summary: &Summary) -> String {
    let mut out = String::new();
    let title = format!(
        "stockproof: {} — {}",
        summary.scenario,
        summary.verdict.as_str()
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n\
         body{{font-family:sans-serif;margin:2em;max-width:60em}} table{{border-collapse:collapse}} \
         td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}} .pass{{color:#2ca02c}} \
         .fail{{color:#d62728;font-weight:bold}} .unknown{{color:#ff7f0e}} svg{{background:#fafafa}}\n\
         </style>\n</head>\n<body>\n<h1>{}</h1>\n<p>{}</p>\n",
        escape(&title),
        escape(&title),
        escape(&summary.description)
    );
    let _ = writeln!(
        out,
        "<p>seed {} · started {} · target {} · {} ops · exit code {}</p>",
        summary.seed,
        escape(&summary.started_at),
        escape(&summary.target),
        summary.ops.total,
        summary.exit_code
    );
    verdict_tables(&mut out, summary);
    let faults = fault_bands(data.history);
    out.push_str("<h2>Latency by percentile (ms, corrected for coordinated omission)</h2>\n");
    out.push_str(&percentile_chart(data));
    out.push_str("<h2>Throughput (ops completed per second)</h2>\n");
    let per_second: Vec<(f64, f64)> = data
        .latencies
        .ops_per_second()
        .iter()
        .enumerate()
        .map(|(second, ops)| (second as f64, *ops as f64))
        .collect();
    out.push_str(&chart(
        &[Series {
            label: "ops/s".to_owned(),
            colour: COLOURS[0],
            points: per_second,
        }],
        &[],
        &faults,
        "s",
        false,
    ));
    if !faults.is_empty() {
        out.push_str(&faults_list(&faults));
    }
    out.push_str("<h2>Available stock over time</h2>\n");
    for (sku, svg) in stock_charts(data.history, summary, &faults) {
        let _ = writeln!(out, "<h3>{}</h3>", escape(&sku));
        out.push_str(&svg);
    }
    out.push_str(&windows_section(&summary.checks, data.history));
    out.push_str("</body>\n</html>\n");
    out
}

/// The faults under the throughput chart, in words (the bands' tooltips say the same).
fn faults_list(faults: &[FaultBand]) -> String {
    let mut out = String::from("<ul class=\"faults\">\n");
    for fault in faults {
        let _ = writeln!(
            out,
            "<li>{:.2}–{:.2} s: {}</li>",
            fault.from_s,
            fault.to_s,
            escape(&fault.label)
        );
    }
    out.push_str("</ul>\n");
    out
}

fn class(verdict: Verdict) -> &'static str {
    verdict.as_str()
}

fn verdict_tables(out: &mut String, summary: &Summary) {
    out.push_str("<h2>Checks</h2>\n<table>\n<tr><th>check</th><th>verdict</th><th>violations</th><th>note</th></tr>\n");
    for check in &summary.checks {
        let _ = writeln!(
            out,
            "<tr><td>{} {}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
            check.id.as_str(),
            escape(&check.title),
            class(check.verdict),
            check.verdict.as_str(),
            check.violation_count(),
            escape(check.note.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table>\n");
    for check in summary
        .checks
        .iter()
        .filter(|check| !check.groups.is_empty())
    {
        let _ = writeln!(out, "<h3>{} violations</h3>\n<ul>", check.id.as_str());
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
    let rows: Vec<(String, Verdict, String)> = summary
        .slos
        .iter()
        .map(|slo| {
            (
                format!("SLO {}", slo.slo),
                slo.verdict,
                slo.observed.map_or_else(
                    || "-".to_owned(),
                    |value| format!("{value:.3} {}", slo.unit),
                ),
            )
        })
        .chain(summary.coverage.iter().map(|goal| {
            (
                format!("coverage {}", goal.goal),
                goal.verdict,
                format!("{} of at least {}", goal.observed, goal.min),
            )
        }))
        .collect();
    if !rows.is_empty() {
        out.push_str("<h2>SLOs and coverage</h2>\n<table>\n<tr><th>goal</th><th>verdict</th><th>observed</th></tr>\n");
        for (name, verdict, observed) in rows {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                escape(&name),
                class(verdict),
                verdict.as_str(),
                escape(&observed)
            );
        }
        out.push_str("</table>\n");
    }
}

fn percentile_chart(data: &RunData<'_>) -> String {
    let series: Vec<Series> = data
        .latencies
        .ops
        .iter()
        .enumerate()
        .map(|(index, (kind, op))| {
            let points = hgrm::percentile_lines(&op.corrected, hgrm::HGRM_TICKS_PER_HALF_DISTANCE)
                .into_iter()
                .filter(|line| line.percentile < 100.0)
                .map(|line| {
                    (
                        (1.0 / (1.0 - line.percentile / 100.0))
                            .log10()
                            .min(PERCENTILE_AXIS_DECADES),
                        line.value as f64 / 1000.0,
                    )
                })
                .collect();
            Series {
                label: kind.as_str().to_owned(),
                colour: COLOURS[index % COLOURS.len()],
                points,
            }
        })
        .collect();
    chart(&series, &[], &[], "percentile", true)
}

/// Observations of each SKU's available units (time s, units) and the violations naming it.
fn stock_charts(
    history: &History,
    summary: &Summary,
    faults: &[FaultBand],
) -> Vec<(String, String)> {
    let mut observed: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    let mut completed: HashMap<OpId, f64> = HashMap::with_capacity(history.entries.len());
    for entry in &history.entries {
        let at_s = entry.complete_us as f64 / 1e6;
        completed.insert(entry.id, at_s);
        let Some(body) = &entry.response else {
            continue;
        };
        let point = match (&entry.op, body.stock, &body.sku, body.available) {
            (
                Op::GetSku { sku } | Op::Restock { sku, .. } | Op::Adjust { sku, .. },
                Some(stock),
                _,
                _,
            ) => Some((sku.as_str(), stock.available)),
            (_, _, Some(sku), Some(available)) => Some((sku.as_str(), available)),
            _ => None,
        };
        if let Some((sku, available)) = point {
            observed
                .entry(sku)
                .or_default()
                .push((at_s, available as f64));
        }
    }
    let mut markers: BTreeMap<String, Vec<Marker>> = BTreeMap::new();
    for violation in summary.checks.iter().flat_map(|check| &check.violations) {
        let (Some(sku), Some(op)) = (&violation.sku, violation.ops.first()) else {
            continue;
        };
        if let Some(at_s) = completed.get(op) {
            markers.entry(sku.clone()).or_default().push(Marker {
                x: *at_s,
                label: violation.reason.clone(),
            });
        }
    }
    let mut chosen: Vec<&str> = observed
        .keys()
        .copied()
        .filter(|sku| markers.contains_key(*sku))
        .collect();
    let mut by_points: Vec<(&str, usize)> = observed
        .iter()
        .map(|(sku, points)| (*sku, points.len()))
        .collect();
    by_points.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(right.0)));
    for (sku, _) in by_points {
        if chosen.len() >= STOCK_CHARTS_MAX {
            break;
        }
        if !chosen.contains(&sku) {
            chosen.push(sku);
        }
    }
    chosen
        .into_iter()
        .take(STOCK_CHARTS_MAX)
        .map(|sku| {
            let series = Series {
                label: format!("{sku} available"),
                colour: COLOURS[0],
                points: observed[sku].clone(),
            };
            let sku_markers = markers.remove(sku).unwrap_or_default();
            let svg = chart(&[series], &sku_markers, faults, "s", false);
            (sku.to_owned(), svg)
        })
        .collect()
}

/// Keeps at most [`SERIES_POINTS_MAX`] points, evenly spaced, always the last.
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= SERIES_POINTS_MAX {
        return points.to_vec();
    }
    let step = points.len().div_ceil(SERIES_POINTS_MAX);
    let mut kept: Vec<(f64, f64)> = points.iter().step_by(step).copied().collect();
    if let Some(last) = points.last() {
        kept.push(*last);
    }
    kept
}

/// An SVG line chart; `percentile_axis` labels x as percentiles (log10 of 1/(1-p));
/// `faults` are shaded (x in seconds: time charts only).
fn chart(
    series: &[Series],
    markers: &[Marker],
    faults: &[FaultBand],
    x_unit: &str,
    percentile_axis: bool,
) -> String {
    let all = series.iter().flat_map(|series| series.points.iter());
    let x_max = all
        .clone()
        .map(|point| point.0)
        .chain(markers.iter().map(|marker| marker.x))
        .chain(faults.iter().map(|fault| fault.to_s))
        .fold(1e-9, f64::max);
    let y_max = all.map(|point| point.1).fold(1e-9, f64::max) * 1.1;
    let plot_width = CHART_WIDTH - MARGIN_LEFT - 10.0;
    let plot_height = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    let x_of = |x: f64| MARGIN_LEFT + x / x_max * plot_width;
    let y_of = |y: f64| MARGIN_TOP + plot_height - y / y_max * plot_height;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\" role=\"img\">"
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{MARGIN_LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#333\"/><line x1=\"{MARGIN_LEFT}\" y1=\"{MARGIN_TOP}\" x2=\"{MARGIN_LEFT}\" y2=\"{0}\" stroke=\"#333\"/>",
        MARGIN_TOP + plot_height,
        MARGIN_LEFT + plot_width
    );
    for tick in 0..=4 {
        let value = y_max / 1.1 * f64::from(tick) / 4.0;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            MARGIN_LEFT - 4.0,
            y_of(value) + 3.0,
            short_number(value)
        );
    }
    let x_ticks: Vec<(f64, String)> = if percentile_axis {
        (0..=x_max.ceil() as i32)
            .map(|decade| (f64::from(decade), percentile_label(decade)))
            .collect()
    } else {
        (0..=4)
            .map(|tick| {
                (
                    x_max * f64::from(tick) / 4.0,
                    format!("{}{x_unit}", short_number(x_max * f64::from(tick) / 4.0)),
                )
            })
            .collect()
    };
    for (x, label) in x_ticks.iter().filter(|(x, _)| *x <= x_max + 1e-9) {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x_of(*x),
            CHART_HEIGHT - 10.0,
            escape(label)
        );
    }
    for fault in faults {
        let _ = writeln!(
            svg,
            "<rect class=\"fault\" x=\"{:.1}\" y=\"{MARGIN_TOP}\" width=\"{:.1}\" height=\"{plot_height:.1}\" fill=\"{FAULT_FILL}\" fill-opacity=\"0.25\"><title>{}</title></rect>",
            x_of(fault.from_s),
            (x_of(fault.to_s) - x_of(fault.from_s)).max(2.0),
            escape(&fault.label)
        );
    }
    for marker in markers {
        let _ = writeln!(
            svg,
            "<line class=\"violation\" x1=\"{0:.1}\" y1=\"{MARGIN_TOP}\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#d62728\" stroke-width=\"2\"><title>{2}</title></line>",
            x_of(marker.x),
            MARGIN_TOP + plot_height,
            escape(&marker.label)
        );
    }
    for (index, line) in series.iter().enumerate() {
        let points: Vec<String> = thin(&line.points)
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", x_of(*x), y_of(*y)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>",
            line.colour,
            points.join(" ")
        );
        if let [(x, y)] = line.points.as_slice() {
            // A polyline of one point draws nothing.
            let _ = writeln!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                x_of(*x),
                y_of(*y),
                line.colour
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{}\">{}</text>",
            MARGIN_LEFT + 8.0,
            MARGIN_TOP + 12.0 * (index as f64 + 1.0),
            line.colour,
            escape(&line.label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn percentile_label(decade: i32) -> String {
    match decade {
        0 => "0%".to_owned(),
        decade => format!("{}%", 100.0 - 100.0 / 10f64.powi(decade)),
    }
}

fn short_number(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}
