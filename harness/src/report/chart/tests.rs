use std::collections::BTreeSet;

use super::*;
use crate::checks::CheckId;

fn line(id: &'static str, values: &[Option<f64>]) -> Line {
    Line {
        id,
        label: id.to_owned(),
        colour: "#000",
        values: values.to_vec(),
        drawn: true,
    }
}

fn chart<'a>(lines: Vec<Line>, shape: Shape, scale: Scale) -> Chart<'a> {
    let points = lines.first().map_or(0, |line| line.values.len());
    Chart {
        id: "test".to_owned(),
        caption: "a </script> caption".to_owned(),
        x: (0..points).map(|index| index as f64 + 0.5).collect(),
        x_end: points as f64,
        x_axis: XAxis::Time,
        lines,
        shape,
        scale,
        format: units::duration_us,
        faults: &[],
        marks: Vec::new(),
        dots: Vec::new(),
    }
}

fn mark(window: Option<usize>) -> ViolationMark {
    ViolationMark {
        at_s: 1.0,
        check: CheckId::C4,
        reason: "held <too> long".to_owned(),
        skus: BTreeSet::new(),
        window,
    }
}

// Goal: ticks fall on 1-2-5 steps and percentiles read as people write them.
// Method: one line per case.
#[test]
fn ticks_and_percentile_labels() {
    assert_eq!(nice_step(10.0, 5), 2.0);
    assert_eq!(nice_step(7.0, 8), 1.0);
    assert_eq!(nice_step(300.0, 8), 50.0);
    assert_eq!(nice_step(0.9, 5), 0.2);
    let labels = |x_end: f64| -> Vec<String> {
        x_ticks(XAxis::Time, x_end)
            .into_iter()
            .map(|(_, label)| label)
            .collect()
    };
    assert_eq!(
        labels(3.0),
        ["0 s", "0.5 s", "1 s", "1.5 s", "2 s", "2.5 s", "3 s"]
    );
    assert_eq!(
        labels(7_500.0),
        [
            "0 min", "20 min", "40 min", "60 min", "80 min", "100 min", "120 min"
        ]
    );
    assert_eq!(percentile_label(0.0), "p0");
    assert_eq!(percentile_label(1.0), "p90");
    assert_eq!(percentile_label(3.0), "p99.9");
    assert_eq!(percentile_label(5.0), "p99.999");
}

// Goal: a gap splits a line, a lone point is a dot, and the tooltip data carries the
// formatted values (a gap as null) inside a script element it cannot close.
// Method: render a log-scale line [1 ms, 2 ms, gap, 40 ms] and inspect the figure.
#[test]
fn gaps_split_lines_and_the_tooltip_has_formatted_values() {
    let html = chart(
        vec![line(
            "p99",
            &[Some(1_000.0), Some(2_000.0), None, Some(40_000.0)],
        )],
        Shape::Lines,
        Scale::Log,
    )
    .render();
    assert!(
        html.starts_with("<figure class=\"chart\" id=\"chart-test\">"),
        "{html}"
    );
    assert_eq!(
        html.matches("<polyline class=\"series\" data-series=\"p99\"")
            .count(),
        1,
        "{html}"
    );
    assert_eq!(
        html.matches("<circle class=\"series\" data-series=\"p99\"")
            .count(),
        1,
        "{html}"
    );
    assert!(
        html.contains(r#""values":["1 ms","2 ms",null,"40 ms"]"#),
        "{html}"
    );
    assert!(
        html.contains(r#""at":["500 ms","1.5 s","2.5 s","3.5 s"]"#),
        "{html}"
    );
    assert_eq!(html.matches("</script>").count(), 1, "{html}");
    assert!(
        html.contains(">10 ms</text>") && html.contains(">100 ms</text>"),
        "{html}"
    );
}

// Goal: stacked series draw one closed area each, the total kept for the tooltip only.
// Method: two stacked series and a tooltip-only total.
#[test]
fn stacked_areas_and_tooltip_only_series() {
    let mut total = line("total", &[Some(3.0), Some(5.0)]);
    total.drawn = false;
    let html = chart(
        vec![
            line("ok", &[Some(1.0), Some(2.0)]),
            line("refused", &[Some(2.0), Some(3.0)]),
            total,
        ],
        Shape::Stacked,
        Scale::Linear,
    )
    .render();
    assert_eq!(
        html.matches("<path class=\"series area\"").count(),
        2,
        "{html}"
    );
    assert!(!html.contains("data-series=\"total\""), "{html}");
    assert!(html.contains(r#""label":"total""#), "{html}");
}

// Goal: a violation with a window links to it with a labelled line; the others are
// ticks linking to their check; text is escaped.
// Method: one mark of each kind on a one-point chart.
#[test]
fn violation_marks_link_to_window_or_check() {
    let marks = [mark(Some(0)), mark(None)];
    let mut one_point = chart(vec![line("p50", &[Some(5.0)])], Shape::Lines, Scale::Linear);
    one_point.marks = marks.iter().collect();
    let html = one_point.render();
    assert!(
        html.contains("<a href=\"#window-0\" class=\"violation\">"),
        "{html}"
    );
    assert!(html.contains(">C4 #1</text>"), "{html}");
    assert!(
        html.contains("<a href=\"#check-C4\"><line class=\"violation-tick\""),
        "{html}"
    );
    assert!(
        html.contains("held &lt;too&gt; long") && !html.contains("<too>"),
        "{html}"
    );
}

// Goal: a chart with no points renders (axes only) without dividing by zero.
// Method: render an empty chart and look for NaN.
#[test]
fn an_empty_chart_renders() {
    let html = chart(vec![line("ok", &[])], Shape::Stacked, Scale::Linear).render();
    assert!(!html.contains("NaN") && !html.contains("inf"), "{html}");
    assert!(html.contains(r#""x":[]"#), "{html}");
}
