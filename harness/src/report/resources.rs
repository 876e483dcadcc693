//! report.html's resource charts: each series sampled during the load
//! (`resources.jsonl`) over the same time axis as the latency and outcome charts, one
//! chart per series in its own unit, the second half's growth window and the
//! scenario's resource SLOs on it in the caption.
//!
//! Not here: sampling (`crate::resources`), judging (`stockproof_checks::slo`), drawing
//! (`super::chart`).

use std::fmt::Write;

use stockproof_checks::resources::{self, Resources, Unit};
use stockproof_checks::slo::SloResult;

use super::chart::{Chart, Line, Scale, Shape, XAxis};
use super::junit::escape;
use super::timeline::FaultBand;
use super::units;

/// The resources section: a chart per series, or why there is none.
pub(super) fn section(
    out: &mut String,
    resources: Option<&Resources>,
    slos: &[SloResult],
    end_s: f64,
    faults: &[FaultBand],
) {
    out.push_str("<h2 id=\"resources\">Resources over time</h2>\n");
    let Some(resources) = resources.filter(|run| !run.samples.is_empty()) else {
        out.push_str("<p class=\"empty\">No resource was sampled during the load.</p>\n");
        return;
    };
    let _ = writeln!(
        out,
        "<p class=\"muted\">Sampled from {} every {} during the load.{}</p>",
        escape(&resources.header.source),
        units::duration_us(resources.header.interval_ms as f64 * 1e3),
        absent_words(resources)
    );
    let last_s = resources
        .samples
        .last()
        .map_or(0.0, |s| s.t_ms as f64 / 1e3);
    for (index, series) in resources.header.series.iter().enumerate() {
        let points = resources.points(&series.name);
        if points.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h3><code>{}</code></h3>", escape(&series.name));
        let chart = Chart {
            id: format!("resource-{index}"),
            caption: caption(&series.name, series.unit, &points, slos),
            x: points.iter().map(|(t_ms, _)| *t_ms as f64 / 1e3).collect(),
            x_end: end_s.max(last_s),
            x_axis: XAxis::Time,
            lines: vec![Line {
                id: "value",
                label: series.name.clone(),
                colour: "#0969da",
                values: points.iter().map(|(_, value)| Some(*value)).collect(),
                drawn: true,
            }],
            shape: Shape::Lines,
            scale: Scale::Linear,
            format: format_of(series.unit),
            faults,
            marks: Vec::new(),
            dots: Vec::new(),
        };
        out.push_str(&chart.render());
    }
}

fn absent_words(resources: &Resources) -> String {
    resources
        .header
        .absent
        .iter()
        .map(|absent| format!(" {} absent: {}.", absent.name, escape(&absent.why)))
        .collect()
}

fn format_of(unit: Unit) -> fn(f64) -> String {
    match unit {
        Unit::Bytes => units::bytes,
        Unit::Seconds => units::duration_s,
        Unit::Count | Unit::Unknown => units::count,
    }
}

/// First, last and largest value, the second half's growth, and the SLOs on it.
fn caption(name: &str, unit: Unit, points: &[(u64, f64)], slos: &[SloResult]) -> String {
    let format = format_of(unit);
    let (first, last) = (points[0].1, points[points.len() - 1].1);
    let mut caption = format!(
        "{} samples: first {}, last {}, max {}.",
        points.len(),
        format(first),
        format(last),
        resources::max(points).map_or_else(String::new, format)
    );
    if let Some(growth) = resources::growth(points) {
        let _ = write!(
            caption,
            " Growth over the second half (median of its last tenth against its first): \
             {} ({} → {}).",
            units::percent(growth.ratio),
            format(growth.first),
            format(growth.last)
        );
    }
    for slo in slos.iter().filter(|slo| names(&slo.slo, name)) {
        let _ = write!(caption, " SLO `{}`: {}.", slo.slo, slo.verdict.as_str());
    }
    caption
}

/// Whether an SLO as written is about `series` (`series growth …`, `series.max …`).
fn names(slo: &str, series: &str) -> bool {
    slo.strip_prefix(series)
        .is_some_and(|rest| rest.starts_with(" growth") || rest.starts_with(".max"))
}
