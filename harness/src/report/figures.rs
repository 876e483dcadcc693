//! report.html's charts: latency, outcomes, each busy SKU's stock and the sampled
//! resources (`super::resources`) over time on one
//! shared time axis (the load's span), with the run's faults shaded and its violations
//! marked; then the latency percentile curves and their table. Picks the series
//! (`super::series`), colours, captions and scales; `super::chart` draws.
//!
//! Not here: the page around them (`super::html`).

use std::collections::BTreeSet;
use std::fmt::Write;

use hdrhistogram::Histogram;

use super::chart::{Chart, Dot, Line, Scale, Shape, XAxis, percentile_label};
use super::junit::escape;
use super::series::{
    Buckets, LatencyBucket, STOCK_CHARTS_MAX, SkuStockSeries, StockField, ViolationMark,
    chosen_skus, latency_over_time, outcomes_over_time, stock_over_time, violation_marks,
};
use super::summary::Summary;
use super::timeline::FaultBand;
use super::{RunData, units};

/// Points of each percentile curve, evenly spaced on its log axis.
const PERCENTILE_POINTS: usize = 120;
/// Highest percentile drawn: 99.999 % (five nines), as far as HdrHistogram plots go.
const PERCENTILE_DECADES_MAX: f64 = 5.0;
/// Series colours: op kinds on the percentile chart, in turn.
const PALETTE: [&str; 8] = [
    "#0969da", "#bc4c00", "#1a7f37", "#8250df", "#cf222e", "#1b7c83", "#7d4e00", "#59636e",
];

/// Everything the charts over time share.
struct TimeContext<'a> {
    buckets: Buckets,
    /// The end of every time axis (s), so the charts line up one above the other.
    end_s: f64,
    faults: &'a [FaultBand],
    marks: &'a [ViolationMark],
}

/// The charts over time: latency, outcomes, stock.
pub(super) fn time_sections(
    out: &mut String,
    data: &RunData<'_>,
    summary: &Summary,
    faults: &[FaultBand],
) {
    let marks = violation_marks(&summary.checks, data.history);
    let buckets = Buckets::over(data.latencies.seconds());
    // The load's span: the final reads after quiesce would squeeze it to the left.
    let end_s = if buckets.count > 0 {
        buckets.end_s()
    } else {
        data.history.end_us() as f64 / 1e6
    };
    let stock = stock_over_time(data.history, (end_s * 1e6) as u64);
    let context = TimeContext {
        buckets,
        end_s,
        faults,
        marks: &marks,
    };
    latency_section(out, data, &context);
    outcomes_section(out, data, &context);
    stock_section(out, &stock, &context);
    super::resources::section(out, data.resources, &summary.slos, end_s, faults);
}

/// The buckets' middles, or nothing for a run with no shopper op.
fn bucket_xs(buckets: Buckets) -> Vec<f64> {
    (0..buckets.count)
        .map(|bucket| buckets.middle_s(bucket))
        .collect()
}

fn no_ops(out: &mut String) {
    out.push_str("<p class=\"empty\">No shopper op completed: nothing to draw.</p>\n");
}

fn bucket_words(buckets: Buckets) -> String {
    match buckets.width_s {
        1 => "each second".to_owned(),
        width => {
            format!("each {width} s (one point per {width} s keeps a long run's chart readable)")
        }
    }
}

fn latency_section(out: &mut String, data: &RunData<'_>, context: &TimeContext<'_>) {
    out.push_str("<h2 id=\"latency\">Latency over time</h2>\n");
    if context.buckets.count == 0 {
        return no_ops(out);
    }
    let points = latency_over_time(data.latencies, context.buckets);
    let line = |id: &'static str, colour: &'static str, pick: fn(&LatencyBucket) -> u64| Line {
        id,
        label: id.to_owned(),
        colour,
        values: points
            .iter()
            .map(|point| (point.ops > 0).then(|| pick(point) as f64))
            .collect(),
        drawn: true,
    };
    let chart = Chart {
        id: "latency".to_owned(),
        caption: format!(
            "p50, p99 and max latency of the shopper ops completed in {}, all op kinds \
             together, from the per-second HdrHistograms of latency.hlog (corrected for \
             coordinated omission); log scale.",
            bucket_words(context.buckets)
        ),
        x: bucket_xs(context.buckets),
        x_end: context.end_s,
        x_axis: XAxis::Time,
        lines: vec![
            line("p50", PALETTE[0], |point| point.p50_us),
            line("p99", PALETTE[1], |point| point.p99_us),
            line("max", PALETTE[3], |point| point.max_us),
        ],
        shape: Shape::Lines,
        scale: Scale::Log,
        format: units::duration_us,
        faults: context.faults,
        marks: context.marks.iter().collect(),
        dots: Vec::new(),
    };
    out.push_str(&chart.render());
}

fn outcomes_section(out: &mut String, data: &RunData<'_>, context: &TimeContext<'_>) {
    out.push_str("<h2 id=\"outcomes\">Outcomes over time</h2>\n");
    if context.buckets.count == 0 {
        return no_ops(out);
    }
    let rates = outcomes_over_time(data.history, context.buckets);
    let line = |id: &'static str, label: &str, colour: &'static str, values: Vec<f64>| Line {
        id,
        label: label.to_owned(),
        colour,
        values: values.into_iter().map(Some).collect(),
        drawn: true,
    };
    let mut total = line(
        "total",
        "all",
        "#1f2328",
        rates
            .iter()
            .map(|rate| rate.ok_per_s + rate.refused_per_s + rate.unknown_per_s)
            .collect(),
    );
    total.drawn = false;
    let chart = Chart {
        id: "outcomes".to_owned(),
        caption: format!(
            "Shopper ops per second by outcome, counted {}: ok (2xx), refused (4xx or 503: \
             the contract says nothing changed, e.g. insufficient stock) and unknown (no \
             usable reply: the effect may or may not have happened). Stacked: the top is \
             the throughput.",
            bucket_words(context.buckets)
        ),
        x: bucket_xs(context.buckets),
        x_end: context.end_s,
        x_axis: XAxis::Time,
        lines: vec![
            line(
                "ok",
                "ok",
                "#2da44e",
                rates.iter().map(|r| r.ok_per_s).collect(),
            ),
            line(
                "refused",
                "refused",
                "#d4a72c",
                rates.iter().map(|r| r.refused_per_s).collect(),
            ),
            line(
                "unknown",
                "unknown",
                "#8250df",
                rates.iter().map(|r| r.unknown_per_s).collect(),
            ),
            total,
        ],
        shape: Shape::Stacked,
        scale: Scale::Linear,
        format: units::rate_per_s,
        faults: context.faults,
        marks: context.marks.iter().collect(),
        dots: Vec::new(),
    };
    out.push_str(&chart.render());
}

fn stock_colour(field: StockField) -> &'static str {
    match field {
        StockField::Available => "#0969da",
        StockField::Reserved => "#d4a72c",
        StockField::Sold => "#1a7f37",
    }
}

fn stock_section(out: &mut String, series: &[SkuStockSeries], context: &TimeContext<'_>) {
    out.push_str("<h2 id=\"stock\">Stock over time</h2>\n");
    if series.is_empty() {
        out.push_str("<p class=\"empty\">No SKU was stocked, reserved or read.</p>\n");
        return;
    }
    let violated: BTreeSet<String> = context
        .marks
        .iter()
        .flat_map(|mark| mark.skus.iter().cloned())
        .collect();
    let chosen = chosen_skus(series, &violated);
    let _ = writeln!(
        out,
        "<p class=\"muted\">{} of {} SKUs: those a violation concerns, then the most active \
         (ops touching them), at most {STOCK_CHARTS_MAX} so the page shows the busy SKUs \
         rather than a scroll of look-alike lines.</p>",
        chosen.len(),
        series.len()
    );
    for (index, sku) in chosen.into_iter().enumerate() {
        let _ = writeln!(
            out,
            "<h3>{} <span class=\"muted\">({} ops)</span></h3>",
            escape(&sku.sku),
            sku.activity
        );
        out.push_str(&stock_chart(index, sku, context).render());
    }
}

fn stock_chart<'a>(index: usize, sku: &SkuStockSeries, context: &TimeContext<'a>) -> Chart<'a> {
    let lines = StockField::ALL
        .into_iter()
        .map(|field| Line {
            id: field.as_str(),
            label: field.as_str().to_owned(),
            colour: stock_colour(field),
            values: sku
                .samples
                .iter()
                .map(|(_, levels)| Some(field.of(levels) as f64))
                .collect(),
            drawn: true,
        })
        .collect();
    let dots = sku
        .reads
        .iter()
        .map(|read| Dot {
            x: read.at_s,
            y: read.value as f64,
            colour: stock_colour(read.field),
            title: format!(
                "replied at {}: {} {}",
                units::duration_s(read.at_s),
                read.field.as_str(),
                read.value
            ),
        })
        .collect();
    Chart {
        id: format!("stock-{index}"),
        caption: format!(
            "Lines: the levels the acknowledged ops imply, at each reply — restocks and \
             adjusts change available; a reserve moves its units from available to \
             reserved, its first acknowledged confirm to sold, a release back to \
             available; a hold never confirmed or released returns at its deadline (the \
             sweeper's expiry, which no op records). Unknown outcomes are left out, so \
             where they took effect the replies drift from the lines. Dots: what the \
             service replied (SKU reads, restock and adjust replies, the available of \
             insufficient-stock refusals), {} of {} shown.{}",
            sku.reads.len(),
            sku.reads_total,
            sku.read_after_end
                .map_or_else(String::new, |(at_s, levels)| format!(
                    " After the load, at {}, the service read available {}, reserved {}, sold {}.",
                    units::duration_s(at_s),
                    levels.available,
                    levels.reserved,
                    levels.sold
                ))
        ),
        x: sku.samples.iter().map(|(at_s, _)| *at_s).collect(),
        x_end: context.end_s,
        x_axis: XAxis::Time,
        lines,
        shape: Shape::Steps,
        scale: Scale::Linear,
        format: units::count,
        faults: context.faults,
        marks: context
            .marks
            .iter()
            .filter(|mark| mark.skus.contains(&sku.sku))
            .collect(),
        dots,
    }
}

pub(super) fn percentile_section(out: &mut String, data: &RunData<'_>, summary: &Summary) {
    out.push_str("<h2 id=\"percentiles\">Latency by percentile</h2>\n");
    let histograms: Vec<(&'static str, &Histogram<u64>)> = data
        .latencies
        .ops
        .iter()
        .map(|(kind, op)| (kind.as_str(), &op.corrected))
        .filter(|(_, histogram)| !histogram.is_empty())
        .collect();
    if histograms.is_empty() {
        return no_ops(out);
    }
    let most = histograms.iter().map(|(_, h)| h.len()).max().unwrap_or(1);
    // Past log10(count) nines every percentile is the max: the curve would be flat.
    let decades = (most as f64)
        .log10()
        .ceil()
        .clamp(1.0, PERCENTILE_DECADES_MAX);
    let x: Vec<f64> = (0..=PERCENTILE_POINTS)
        .map(|point| decades * point as f64 / PERCENTILE_POINTS as f64)
        .collect();
    let lines = histograms
        .iter()
        .enumerate()
        .map(|(index, (kind, histogram))| Line {
            id: kind,
            label: (*kind).to_owned(),
            colour: PALETTE[index % PALETTE.len()],
            values: x
                .iter()
                .map(|x| Some(histogram.value_at_quantile(1.0 - 10f64.powf(-x)) as f64))
                .collect(),
            drawn: true,
        })
        .collect();
    let chart = Chart {
        id: "percentiles".to_owned(),
        caption: format!(
            "Latency at each percentile per op kind, p0 to {}, corrected for coordinated \
             omission (the .hgrm files hold the same curves); x on a log scale of \
             1/(1-p) as HdrHistogram plots it, y on a log scale.",
            percentile_label(decades)
        ),
        x,
        x_end: decades,
        x_axis: XAxis::Percentile,
        lines,
        shape: Shape::Lines,
        scale: Scale::Log,
        format: units::duration_us,
        faults: &[],
        marks: Vec::new(),
        dots: Vec::new(),
    };
    out.push_str(&chart.render());
    latency_table(out, summary);
}

fn latency_table(out: &mut String, summary: &Summary) {
    out.push_str(
        "<table>\n<tr><th>op</th><th>count</th><th>p50</th><th>p90</th><th>p99</th>\
         <th>p99.9</th><th>max</th><th>mean</th></tr>\n",
    );
    for (op, latency) in &summary.latency {
        let corrected = &latency.corrected;
        let cells: Vec<String> = [
            corrected.p50_us as f64,
            corrected.p90_us as f64,
            corrected.p99_us as f64,
            corrected.p99_9_us as f64,
            corrected.max_us as f64,
            corrected.mean_us,
        ]
        .into_iter()
        .map(|us| format!("<td class=\"num\">{}</td>", units::duration_us(us)))
        .collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td>{}</tr>",
            escape(op),
            latency.count,
            cells.concat()
        );
    }
    out.push_str("</table>\n");
}
