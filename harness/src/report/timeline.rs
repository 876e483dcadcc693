//! report.html's timelines: each shown violation's window of history
//! (`crate::checks::window`) as an SVG of one bar per op, invoke to complete, the ops
//! the violation names in red, the injected faults as shaded bands; and the faults of
//! the whole run as bands for the run-long charts (`super::chart`). Each window is a
//! section `#window-N`, N its position in `shown_violations`, which the charts' marks
//! link to.
//!
//! Not here: choosing the ops (`checks::window`), the line charts (`super::html`).

use std::fmt::Write;

use super::junit::escape;
use crate::checks::window::{ViolationWindow, WindowIndex, WindowRow, shown_violations};
use crate::checks::{CheckId, CheckReport, Violation};
use crate::history::{History, HistoryEntry, Op, Outcome};

/// Geometry of a window timeline (px): the op labels take the left column.
const LABEL_WIDTH: f64 = 330.0;
const BARS_WIDTH: f64 = 400.0;
const ROW_HEIGHT: f64 = 16.0;
const AXIS_HEIGHT: f64 = 22.0;
/// Bars are never thinner than this, so an op of a few µs still shows.
const BAR_WIDTH_MIN: f64 = 2.0;
/// Label characters kept (the full op is in the bar's tooltip).
const LABEL_CHARS_MAX: usize = 52;
/// Fill of a fault band, on every chart.
pub(super) const FAULT_FILL: &str = "#ff7f0e";

/// An injected fault, in seconds since the run's start.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FaultBand {
    pub(super) from_s: f64,
    pub(super) to_s: f64,
    pub(super) label: String,
}

/// Every fault recorded in the history.
pub(super) fn fault_bands(history: &History) -> Vec<FaultBand> {
    history
        .entries
        .iter()
        .filter_map(|entry| match &entry.op {
            Op::Fault { description } => Some(FaultBand {
                from_s: entry.invoke_us as f64 / 1e6,
                to_s: entry.complete_us as f64 / 1e6,
                label: match entry.outcome {
                    Outcome::Ok => format!("fault: {description}"),
                    _ => format!("fault NOT injected: {description}"),
                },
            }),
            _ => None,
        })
        .collect()
}

/// The "Violation windows" section: a heading, then per shown violation its reason and
/// timeline. Empty when no check failed.
pub(super) fn windows_section(checks: &[CheckReport], history: &History) -> String {
    let shown = shown_violations(checks);
    if shown.is_empty() {
        return String::new();
    }
    let index = WindowIndex::new(history);
    let mut out = String::from(
        "<h2 id=\"windows\">Violation windows</h2>\n<p>The ops on each violation's SKU or \
         reservation around it, invoke to complete; red: the ops it names; shaded: injected \
         faults. The charts above link each marked violation here.</p>\n",
    );
    for (position, (id, violation)) in shown.into_iter().enumerate() {
        let _ = writeln!(out, "<section class=\"window\" id=\"window-{position}\">");
        window_block(
            &mut out,
            id,
            position,
            violation,
            index.window(violation).as_ref(),
        );
        out.push_str("</section>\n");
    }
    out
}

fn window_block(
    out: &mut String,
    id: CheckId,
    position: usize,
    violation: &Violation,
    window: Option<&ViolationWindow<'_>>,
) {
    let _ = writeln!(
        out,
        "<h3>{} #{} {}</h3>\n<p>{}</p>",
        id.as_str(),
        position + 1,
        escape(&violation.kind),
        escape(&violation.reason)
    );
    match window {
        Some(window) => out.push_str(&window_svg(window)),
        None => out.push_str("<p>It names no op, SKU or reservation of the history.</p>\n"),
    }
}

/// One window as an SVG timeline.
fn window_svg(window: &ViolationWindow<'_>) -> String {
    let entries: Vec<(&HistoryEntry, bool)> = window.entries().collect();
    let from_us = entries.iter().map(|(e, _)| e.invoke_us).min().unwrap_or(0);
    let to_us = entries
        .iter()
        .map(|(e, _)| e.complete_us)
        .max()
        .unwrap_or(0);
    let span_us = (to_us.saturating_sub(from_us)).max(1) as f64;
    let x_of = |us: u64| LABEL_WIDTH + us.saturating_sub(from_us) as f64 / span_us * BARS_WIDTH;
    let width = LABEL_WIDTH + BARS_WIDTH + 10.0;
    let height = window.rows.len() as f64 * ROW_HEIGHT + AXIS_HEIGHT;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg class=\"window\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\">\n<title>window: ops on {}</title>",
        escape(&window.subject)
    );
    for (row_index, row) in window.rows.iter().enumerate() {
        let y = row_index as f64 * ROW_HEIGHT;
        match row {
            WindowRow::Elided(count) => {
                let _ = writeln!(
                    svg,
                    "<text x=\"4\" y=\"{:.1}\" font-size=\"11\" fill=\"#777\">… {count} more related ops</text>",
                    y + 12.0
                );
            }
            WindowRow::Op { entry, named } => {
                op_row(
                    &mut svg,
                    entry,
                    *named,
                    y,
                    x_of(entry.invoke_us),
                    x_of(entry.complete_us),
                );
            }
        }
    }
    let axis_y = height - 6.0;
    // Millisecond precision: a window often spans a few ms of a long run, and three
    // significant digits would give both ends the same label.
    for (x, us, anchor) in [
        (LABEL_WIDTH, from_us, "start"),
        (LABEL_WIDTH + BARS_WIDTH, to_us, "end"),
    ] {
        let _ = writeln!(
            svg,
            "<text x=\"{x:.1}\" y=\"{axis_y:.1}\" font-size=\"10\" text-anchor=\"{anchor}\">{:.3} s</text>",
            us as f64 / 1e6
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn op_row(svg: &mut String, entry: &HistoryEntry, named: bool, y: f64, x_from: f64, x_to: f64) {
    let text = entry.to_string();
    let label: String = text.chars().take(LABEL_CHARS_MAX).collect();
    let ellipsis = if text.chars().count() > LABEL_CHARS_MAX {
        "…"
    } else {
        ""
    };
    let (fill, class) = match (&entry.op, named, entry.outcome) {
        (Op::Fault { .. }, _, _) => (FAULT_FILL, "fault"),
        (_, true, _) => ("#d62728", "named"),
        (_, false, Outcome::Ok) => ("#1f77b4", "op"),
        (_, false, Outcome::Fail) => ("#7f7f7f", "op"),
        (_, false, Outcome::Unknown) => ("#9467bd", "op"),
    };
    let weight = if named { " font-weight=\"bold\"" } else { "" };
    let _ = writeln!(
        svg,
        "<text x=\"4\" y=\"{:.1}\" font-size=\"11\" font-family=\"monospace\"{weight}>{}{ellipsis}</text>",
        y + 12.0,
        escape(&label)
    );
    if matches!(entry.op, Op::Fault { .. }) {
        // A fault shades its whole span, behind the other rows' bars too.
        let _ = writeln!(
            svg,
            "<rect class=\"fault\" x=\"{x_from:.1}\" y=\"0\" width=\"{:.1}\" height=\"100%\" fill=\"{FAULT_FILL}\" fill-opacity=\"0.2\"><title>{}</title></rect>",
            (x_to - x_from).max(BAR_WIDTH_MIN),
            escape(&text)
        );
    }
    let _ = writeln!(
        svg,
        "<rect class=\"{class}\" x=\"{x_from:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"><title>{}</title></rect>",
        y + 3.0,
        (x_to - x_from).max(BAR_WIDTH_MIN),
        ROW_HEIGHT - 6.0,
        escape(&text)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Verdict, Violations};

    fn entry(id: u64, at_ms: u64, op: Op) -> HistoryEntry {
        HistoryEntry {
            id,
            user: Some(1),
            op,
            intended_us: None,
            invoke_us: at_ms * 1000,
            complete_us: at_ms * 1000 + 500,
            outcome: Outcome::Ok,
            status: Some(200),
            response: None,
            retry_of: None,
        }
    }

    #[test]
    fn a_failed_check_gets_a_timeline_with_its_op_and_the_fault_in_its_span() {
        // Goal: report.html draws the window: the named op red, a fault in the span
        // shaded, an unrelated SKU's op left out. Method: restock a, fault, restock b,
        // restock a (named) → render the section.
        let restock = |sku: &str| Op::Restock {
            sku: sku.to_owned(),
            qty: 1,
        };
        let fault = Op::Fault {
            description: "ledger writer crash".to_owned(),
        };
        let history = History::new(
            crate::history::HistoryHeader::new("t", 1, 0, 1_000),
            vec![
                entry(1, 0, restock("a")),
                entry(2, 5, fault),
                entry(3, 6, restock("b")),
                entry(4, 10, restock("a")),
            ],
        );
        let mut violations = Violations::default();
        violations.push(Violation {
            kind: "oversell".to_owned(),
            sku: Some("a".to_owned()),
            reservation: None,
            ops: vec![4],
            reason: "op 4 sold too much".to_owned(),
            severity: 1,
        });
        let check = CheckReport::finish(
            CheckId::C1,
            1,
            "ops",
            Default::default(),
            Vec::new(),
            violations,
        );
        assert_eq!(check.verdict, Verdict::Fail);
        let html = windows_section(&[check], &history);
        assert!(html.contains("op 4 sold too much"), "{html}");
        assert_eq!(html.matches("class=\"named\"").count(), 1, "{html}");
        assert_eq!(
            html.matches("class=\"fault\"").count(),
            2,
            "band and bar: {html}"
        );
        assert!(!html.contains("restock b"), "{html}");
        assert!(
            fault_bands(&history)[0]
                .label
                .contains("ledger writer crash")
        );
        assert_eq!(windows_section(&[], &history), "");
    }
}
