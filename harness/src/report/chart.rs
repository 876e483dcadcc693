//! report.html's line charts as inline SVG: series drawn as lines, steps or stacked
//! areas on a linear or log scale, axes labelled in human units (`super::units`), the
//! run's faults shaded, violations marked (each a link to its window section or to
//! its check), reads drawn as dots. Beside each SVG, the values under the pointer as
//! JSON, already formatted, for the page's small script (`report.js`) to show in a
//! tooltip: one formatter, in Rust, for every figure on the page.
//!
//! Not here: what the series are (`super::series`), the page (`super::html`), the
//! violation windows' timelines (`super::timeline`).

use std::fmt::Write;

use serde::Serialize;

use super::junit::escape;
use super::series::{ViolationMark, thin};
use super::timeline::{FAULT_FILL, FaultBand};
use super::units;

/// Chart geometry (px, scaled to the page's width by the viewBox): the plot area sits
/// inside margins that hold the axis labels.
const CHART_WIDTH: f64 = 960.0;
const CHART_HEIGHT: f64 = 260.0;
const MARGIN_LEFT: f64 = 72.0;
const MARGIN_RIGHT: f64 = 16.0;
const MARGIN_TOP: f64 = 14.0;
const MARGIN_BOTTOM: f64 = 28.0;
/// Ticks aimed at on each axis; the 1-2-5 rounding gives between half and all of these.
const X_TICKS_TARGET: usize = 8;
const Y_TICKS_TARGET: usize = 5;
/// Half the width of the longest x label (`p99.999`, `2.5 min`) at 11 px.
const X_LABEL_HALF_WIDTH: f64 = 24.0;
/// Violation ticks drawn per chart besides the ones with a window: a run keeps up to
/// `checks::VIOLATIONS_KEPT_MAX` per check, and hundreds of lines would hide the data.
const VIOLATION_TICKS_MAX: usize = 60;
/// Rows the labels of violation marks are staggered over.
const MARK_LABEL_ROWS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Lines,
    /// A step per sample: a level that holds until the next sample.
    Steps,
    /// Areas stacked in series order (counts that add up).
    Stacked,
    /// One line through each series' points, gaps skipped: series sampled at different
    /// x (each strategy's steps in bench.html).
    Joined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scale {
    Linear,
    /// Powers of ten: a latency's p50 and max differ by orders of magnitude.
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum XAxis {
    /// Seconds since the run started.
    Time,
    /// log10(1 / (1 - p)), as HdrHistogram's plotter draws percentiles.
    Percentile,
    /// Carts per second offered (bench.html).
    Rate,
}

/// One series; `None` values are gaps.
pub(super) struct Line {
    /// Stable id for the page's tests and styles (`p99`, `ok`, `available`).
    pub(super) id: &'static str,
    pub(super) label: String,
    pub(super) colour: &'static str,
    pub(super) values: Vec<Option<f64>>,
    /// Only in the tooltip (a total beside stacked areas).
    pub(super) drawn: bool,
}

/// A reply of the service drawn as a dot.
pub(super) struct Dot {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) colour: &'static str,
    pub(super) title: String,
}

pub(super) struct Chart<'a> {
    /// The figure's id, `chart-<id>`.
    pub(super) id: String,
    pub(super) caption: String,
    /// X of each point; the axis runs from 0 to `x_end`.
    pub(super) x: Vec<f64>,
    pub(super) x_end: f64,
    pub(super) x_axis: XAxis,
    pub(super) lines: Vec<Line>,
    pub(super) shape: Shape,
    pub(super) scale: Scale,
    pub(super) format: fn(f64) -> String,
    pub(super) faults: &'a [FaultBand],
    pub(super) marks: Vec<&'a ViolationMark>,
    pub(super) dots: Vec<Dot>,
}

/// What the script shows under the pointer, already formatted.
#[derive(Serialize)]
struct TooltipData<'a> {
    /// Pixel x of each point (SVG user units).
    x: Vec<f64>,
    /// Each point's x in words (`1.5 s`, `p99.9`).
    at: Vec<String>,
    series: Vec<TooltipSeries<'a>>,
}

#[derive(Serialize)]
struct TooltipSeries<'a> {
    label: &'a str,
    colour: &'a str,
    values: Vec<Option<String>>,
}

/// The plot's mapping from data to pixels.
struct Frame {
    x_end: f64,
    y_low: f64,
    y_high: f64,
    scale: Scale,
}

impl Frame {
    fn plot_width() -> f64 {
        CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    }

    fn plot_bottom() -> f64 {
        CHART_HEIGHT - MARGIN_BOTTOM
    }

    fn x(&self, x: f64) -> f64 {
        MARGIN_LEFT + x.clamp(0.0, self.x_end) / self.x_end * Frame::plot_width()
    }

    fn y(&self, y: f64) -> f64 {
        let height = Frame::plot_bottom() - MARGIN_TOP;
        let fraction = match self.scale {
            Scale::Linear => (y - self.y_low) / (self.y_high - self.y_low),
            Scale::Log => {
                (y.max(self.y_low).log10() - self.y_low.log10())
                    / (self.y_high.log10() - self.y_low.log10())
            }
        };
        Frame::plot_bottom() - fraction.clamp(0.0, 1.0) * height
    }
}

impl Chart<'_> {
    /// The chart as a `<figure>`: SVG, legend, caption and the tooltip's data.
    pub(super) fn render(&self) -> String {
        let drawn = self.drawn_values();
        let frame = self.frame(&drawn);
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            "<svg viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" width=\"100%\" role=\"img\" \
             aria-label=\"{}\">",
            escape(&self.caption)
        );
        self.axes(&mut svg, &frame);
        self.fault_bands(&mut svg, &frame);
        self.series(&mut svg, &frame, &drawn);
        self.dots(&mut svg, &frame);
        self.violation_marks(&mut svg, &frame);
        let _ = writeln!(
            svg,
            "<line class=\"crosshair\" x1=\"0\" x2=\"0\" y1=\"{MARGIN_TOP}\" y2=\"{}\"/>\n</svg>",
            Frame::plot_bottom()
        );
        let mut out = format!("<figure class=\"chart\" id=\"chart-{}\">\n", self.id);
        out.push_str(&svg);
        out.push_str(&self.legend());
        let _ = writeln!(
            out,
            "<figcaption>{}</figcaption>\n<div class=\"tooltip\" hidden></div>",
            escape(&self.caption)
        );
        let _ = writeln!(
            out,
            "<script type=\"application/json\" class=\"chart-data\">{}</script>\n</figure>",
            self.tooltip_json(&frame)
        );
        out
    }

    /// The values as drawn: cumulative for stacked areas, gaps where a log scale has
    /// nothing above zero.
    fn drawn_values(&self) -> Vec<Vec<Option<f64>>> {
        let mut running = vec![0.0; self.x.len()];
        self.lines
            .iter()
            .filter(|line| line.drawn)
            .map(|line| match (self.shape, self.scale) {
                (Shape::Stacked, _) => (0..self.x.len())
                    .map(|index| {
                        running[index] += line.values.get(index).copied().flatten().unwrap_or(0.0);
                        Some(running[index])
                    })
                    .collect(),
                (_, Scale::Log) => line
                    .values
                    .iter()
                    .map(|value| value.filter(|v| *v > 0.0))
                    .collect(),
                (_, Scale::Linear) => line.values.clone(),
            })
            .collect()
    }

    fn frame(&self, drawn: &[Vec<Option<f64>>]) -> Frame {
        let values = drawn
            .iter()
            .flatten()
            .flatten()
            .copied()
            .chain(self.dots.iter().map(|dot| dot.y));
        let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), y| {
            (low.min(y), high.max(y))
        });
        let x_end = if self.x_end > 0.0 { self.x_end } else { 1.0 };
        let (y_low, y_high) = match self.scale {
            Scale::Log if low.is_finite() => {
                let low = 10f64.powf(low.log10().floor());
                let high = 10f64.powf(high.log10().ceil());
                (low, if high > low { high } else { low * 10.0 })
            }
            Scale::Log => (1.0, 10.0),
            Scale::Linear if low.is_finite() => {
                let low = low.min(0.0);
                let high = high.max(low + 1.0);
                let step = nice_step(high - low, Y_TICKS_TARGET);
                ((low / step).floor() * step, (high / step).ceil() * step)
            }
            Scale::Linear => (0.0, 1.0),
        };
        Frame {
            x_end,
            y_low,
            y_high,
            scale: self.scale,
        }
    }

    fn axes(&self, svg: &mut String, frame: &Frame) {
        let bottom = Frame::plot_bottom();
        let right = CHART_WIDTH - MARGIN_RIGHT;
        for (y, label) in y_ticks(frame, self.format) {
            let pixel = frame.y(y);
            let _ = writeln!(
                svg,
                "<line class=\"grid\" x1=\"{MARGIN_LEFT}\" x2=\"{right}\" y1=\"{pixel:.1}\" y2=\"{pixel:.1}\"/>\
                 <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                MARGIN_LEFT - 6.0,
                pixel + 4.0,
                escape(&label)
            );
        }
        for (x, label) in x_ticks(self.x_axis, frame.x_end) {
            // A label at the right edge would be cut in half by the viewBox.
            let pixel = frame.x(x);
            let anchor = if pixel > right - X_LABEL_HALF_WIDTH {
                "end"
            } else {
                "middle"
            };
            let _ = writeln!(
                svg,
                "<text class=\"tick\" x=\"{pixel:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
                bottom + 18.0,
                escape(&label)
            );
        }
        let _ = writeln!(
            svg,
            "<line class=\"axis\" x1=\"{MARGIN_LEFT}\" x2=\"{right}\" y1=\"{bottom}\" y2=\"{bottom}\"/>"
        );
    }

    fn fault_bands(&self, svg: &mut String, frame: &Frame) {
        for fault in self.faults {
            let from = frame.x(fault.from_s);
            let _ = writeln!(
                svg,
                "<rect class=\"fault\" x=\"{from:.1}\" y=\"{MARGIN_TOP}\" width=\"{:.1}\" height=\"{:.1}\" \
                 fill=\"{FAULT_FILL}\"><title>{} ({}–{})</title></rect>",
                (frame.x(fault.to_s) - from).max(2.0),
                Frame::plot_bottom() - MARGIN_TOP,
                escape(&fault.label),
                units::duration_s(fault.from_s),
                units::duration_s(fault.to_s)
            );
        }
    }

    fn series(&self, svg: &mut String, frame: &Frame, drawn: &[Vec<Option<f64>>]) {
        let lines: Vec<&Line> = self.lines.iter().filter(|line| line.drawn).collect();
        for (index, (line, values)) in lines.iter().zip(drawn).enumerate().rev() {
            let points: Vec<(f64, Option<f64>)> =
                self.x.iter().copied().zip(values.iter().copied()).collect();
            if self.shape == Shape::Stacked {
                let below = index.checked_sub(1).map(|below| drawn[below].as_slice());
                let _ = writeln!(
                    svg,
                    "<path class=\"series area\" data-series=\"{}\" fill=\"{}\" d=\"{}\"/>",
                    line.id,
                    line.colour,
                    area_path(frame, &points, below)
                );
                continue;
            }
            let runs = if self.shape == Shape::Joined {
                let present: Vec<(f64, f64)> = points
                    .iter()
                    .filter_map(|(x, y)| y.map(|y| (*x, y)))
                    .collect();
                vec![present]
                    .into_iter()
                    .filter(|run| !run.is_empty())
                    .collect()
            } else {
                runs(&points)
            };
            for run in runs {
                let pixels = pixel_points(frame, &run, self.shape == Shape::Steps);
                match pixels.as_slice() {
                    [(x, y)] => {
                        let _ = writeln!(
                            svg,
                            "<circle class=\"series\" data-series=\"{}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{}\"/>",
                            line.id, line.colour
                        );
                    }
                    _ => {
                        let text: Vec<String> = pixels
                            .iter()
                            .map(|(x, y)| format!("{x:.1},{y:.1}"))
                            .collect();
                        let _ = writeln!(
                            svg,
                            "<polyline class=\"series\" data-series=\"{}\" stroke=\"{}\" points=\"{}\"/>",
                            line.id,
                            line.colour,
                            text.join(" ")
                        );
                    }
                }
            }
        }
    }

    fn dots(&self, svg: &mut String, frame: &Frame) {
        for dot in &self.dots {
            let _ = writeln!(
                svg,
                "<circle class=\"read\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" stroke=\"{}\"><title>{}</title></circle>",
                frame.x(dot.x),
                frame.y(dot.y),
                dot.colour,
                escape(&dot.title)
            );
        }
    }

    /// Violations with a window section: a labelled line linking to it. The others: a
    /// short tick on the axis linking to their check, at most [`VIOLATION_TICKS_MAX`].
    fn violation_marks(&self, svg: &mut String, frame: &Frame) {
        let bottom = Frame::plot_bottom();
        let ticks: Vec<&ViolationMark> = self
            .marks
            .iter()
            .copied()
            .filter(|mark| mark.window.is_none())
            .collect();
        for mark in thin(&ticks, VIOLATION_TICKS_MAX) {
            let _ = writeln!(
                svg,
                "<a href=\"#check-{0}\"><line class=\"violation-tick\" x1=\"{1:.1}\" x2=\"{1:.1}\" y1=\"{2:.1}\" y2=\"{bottom}\"/>\
                 <title>{0} at {3}: {4}</title></a>",
                mark.check.as_str(),
                frame.x(mark.at_s),
                bottom - 8.0,
                units::duration_s(mark.at_s),
                escape(&mark.reason)
            );
        }
        let shown = self
            .marks
            .iter()
            .filter_map(|mark| mark.window.map(|window| (mark, window)));
        for (index, (mark, window)) in shown.enumerate() {
            let x = frame.x(mark.at_s);
            // Marks close in time would write their labels over each other: stagger.
            let label_y = MARGIN_TOP + 10.0 + 12.0 * (index % MARK_LABEL_ROWS) as f64;
            let _ = writeln!(
                svg,
                "<a href=\"#window-{window}\" class=\"violation\"><line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{MARGIN_TOP}\" y2=\"{bottom}\"/>\
                 <text x=\"{:.1}\" y=\"{label_y:.1}\">{} #{}</text><title>{} at {}: {} (click for its window)</title></a>",
                x + 3.0,
                mark.check.as_str(),
                window + 1,
                mark.check.as_str(),
                units::duration_s(mark.at_s),
                escape(&mark.reason)
            );
        }
    }

    fn legend(&self) -> String {
        let mut out = String::from("<div class=\"legend\">");
        for line in self.lines.iter().filter(|line| line.drawn) {
            let _ = write!(
                out,
                "<span><i style=\"background:{}\"></i>{}</span>",
                line.colour,
                escape(&line.label)
            );
        }
        if !self.dots.is_empty() {
            out.push_str("<span><i class=\"read-swatch\"></i>replied by the service</span>");
        }
        if !self.faults.is_empty() {
            out.push_str("<span><i class=\"fault-swatch\"></i>fault injected</span>");
        }
        if !self.marks.is_empty() {
            out.push_str(
                "<span><i class=\"violation-swatch\"></i>violation (click: its window)</span>",
            );
        }
        out.push_str("</div>\n");
        out
    }

    /// The tooltip's data as JSON safe inside a `<script>` element.
    fn tooltip_json(&self, frame: &Frame) -> String {
        let data = TooltipData {
            x: self
                .x
                .iter()
                .map(|x| (frame.x(*x) * 10.0).round() / 10.0)
                .collect(),
            at: self
                .x
                .iter()
                .map(|x| match self.x_axis {
                    XAxis::Time => units::duration_s(*x),
                    XAxis::Percentile => percentile_label(*x),
                    XAxis::Rate => format!("{} carts/s", units::count(*x)),
                })
                .collect(),
            series: self
                .lines
                .iter()
                .map(|line| TooltipSeries {
                    label: &line.label,
                    colour: line.colour,
                    values: line
                        .values
                        .iter()
                        .map(|value| value.map(self.format))
                        .collect(),
                })
                .collect(),
        };
        serde_json::to_string(&data)
            .unwrap_or_else(|_| "{}".to_owned())
            .replace("</", "<\\/")
    }
}

/// Consecutive points with a value.
fn runs(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for (x, y) in points {
        match y {
            Some(y) => current.push((*x, *y)),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

fn pixel_points(frame: &Frame, run: &[(f64, f64)], steps: bool) -> Vec<(f64, f64)> {
    let mut pixels = Vec::with_capacity(run.len() * 2);
    for (index, (x, y)) in run.iter().enumerate() {
        if steps && index > 0 {
            pixels.push((frame.x(*x), frame.y(run[index - 1].1)));
        }
        pixels.push((frame.x(*x), frame.y(*y)));
    }
    pixels
}

/// A stacked layer: along its top, back along the layer below (or the zero line).
fn area_path(
    frame: &Frame,
    points: &[(f64, Option<f64>)],
    below: Option<&[Option<f64>]>,
) -> String {
    let mut path = String::new();
    for (index, (x, y)) in points.iter().enumerate() {
        let command = if index == 0 { 'M' } else { 'L' };
        let _ = write!(
            path,
            "{command}{:.1},{:.1} ",
            frame.x(*x),
            frame.y(y.unwrap_or(0.0))
        );
    }
    for (index, (x, _)) in points.iter().enumerate().rev() {
        let base = below
            .and_then(|below| below.get(index).copied().flatten())
            .unwrap_or(frame.y_low.max(0.0));
        let _ = write!(path, "L{:.1},{:.1} ", frame.x(*x), frame.y(base));
    }
    path.push('Z');
    path
}

/// 1, 2 or 5 times a power of ten, near `range / ticks`.
pub(super) fn nice_step(range: f64, ticks: usize) -> f64 {
    let raw = (range / ticks.max(1) as f64).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    let nice = match raw / magnitude {
        fraction if fraction <= 1.0 => 1.0,
        fraction if fraction <= 2.0 => 2.0,
        fraction if fraction <= 5.0 => 5.0,
        _ => 10.0,
    };
    nice * magnitude
}

/// Y ticks at 1-2-5 steps (linear) or powers of ten (log; with 2 and 5 between when
/// the range spans two decades or fewer), labelled by the chart's formatter.
fn y_ticks(frame: &Frame, format: fn(f64) -> String) -> Vec<(f64, String)> {
    let values: Vec<f64> = match frame.scale {
        Scale::Linear => {
            let step = nice_step(frame.y_high - frame.y_low, Y_TICKS_TARGET);
            let count = ((frame.y_high - frame.y_low) / step).round() as i64;
            (0..=count)
                .map(|tick| frame.y_low + tick as f64 * step)
                .collect()
        }
        Scale::Log => {
            let low = frame.y_low.log10().round() as i32;
            let high = frame.y_high.log10().round() as i32;
            let multiples: &[f64] = if high - low <= 2 {
                &[1.0, 2.0, 5.0]
            } else {
                &[1.0]
            };
            (low..=high)
                .flat_map(|decade| multiples.iter().map(move |m| m * 10f64.powi(decade)))
                .filter(|y| *y <= frame.y_high * 1.0001)
                .collect()
        }
    };
    values.into_iter().map(|y| (y, format(y))).collect()
}

fn x_ticks(axis: XAxis, x_end: f64) -> Vec<(f64, String)> {
    match axis {
        XAxis::Time => {
            let (unit_s, _) = units::time_axis_unit(x_end);
            let step = nice_step(x_end / unit_s, X_TICKS_TARGET) * unit_s;
            let count = (x_end / step + 1e-9).floor() as i64;
            (0..=count)
                .map(|tick| tick as f64 * step)
                .map(|x| (x, units::time_tick(x, x_end)))
                .collect()
        }
        XAxis::Percentile => (0..=x_end.floor() as i32)
            .map(|decade| (f64::from(decade), percentile_label(f64::from(decade))))
            .collect(),
        XAxis::Rate => {
            let step = nice_step(x_end, X_TICKS_TARGET);
            let count = (x_end / step + 1e-9).floor() as i64;
            (0..=count)
                .map(|tick| tick as f64 * step)
                .map(|x| (x, units::count(x)))
                .collect()
        }
    }
}

/// `p99.9` for x = 3 (log10 of 1 / (1 - 0.999)).
pub(super) fn percentile_label(x: f64) -> String {
    let percentile = 100.0 - 100.0 / 10f64.powf(x);
    let rounded = (percentile * 1000.0).round() / 1000.0;
    format!("p{rounded}")
}

#[cfg(test)]
mod tests;
