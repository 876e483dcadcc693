//! `<op>.hgrm`: a histogram's percentile distribution in exactly the text layout of
//! HdrHistogram Java's `AbstractHistogram.outputPercentileDistribution(printStream,
//! ticksPerHalfDistance, outputValueUnitScalingRatio)` — the layout wrk2 prints and the
//! public plotters read (the Rust crate has no such printer). Values are recorded in µs
//! and printed in ms (scaling ratio 1000), as wrk2 does.
//!
//! The percentile walk follows Java's `PercentileIterator` step by step (levels in
//! percent, half-distance ticks, one extra line at 100 %), so the same histogram prints
//! the same lines. Also here: a parser of that layout, for tests and for tools that read
//! `.hgrm` files back.

use std::fmt::Write;

use hdrhistogram::Histogram;

/// Reporting ticks per half distance to 100 %: the Java default wrk2 uses.
pub const HGRM_TICKS_PER_HALF_DISTANCE: u32 = 5;
/// Recorded µs are printed as ms.
pub const HGRM_VALUE_SCALING_RATIO: f64 = 1000.0;

/// One percentile line: value (recorded units), percentile level (0..=100), count up to
/// and including the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PercentileLine {
    pub value: u64,
    pub percentile: f64,
    pub total_count: u64,
}

/// The lines Java's `PercentileIterator` yields for `histogram`.
pub fn percentile_lines(
    histogram: &Histogram<u64>,
    ticks_per_half_distance: u32,
) -> Vec<PercentileLine> {
    let total = histogram.len();
    let mut lines = Vec::new();
    if total == 0 {
        return lines;
    }
    let mut level = 0.0_f64;
    let mut cumulative = 0_u64;
    let mut last_value = 0;
    for recorded in histogram.iter_recorded() {
        cumulative += recorded.count_at_value();
        last_value = recorded.value_iterated_to();
        loop {
            let current = 100.0 * cumulative as f64 / total as f64;
            if current < level {
                break;
            }
            lines.push(PercentileLine {
                value: last_value,
                percentile: level,
                total_count: cumulative,
            });
            level = next_level(level, ticks_per_half_distance);
            if cumulative >= total {
                break;
            }
        }
        if cumulative >= total {
            break;
        }
    }
    // Java's "one additional last step to 100%".
    lines.push(PercentileLine {
        value: last_value,
        percentile: 100.0,
        total_count: total,
    });
    lines
}

/// `PercentileIterator.incrementIterationLevel`: the tick size halves with every half
/// of the remaining distance to 100 %.
fn next_level(level: f64, ticks_per_half_distance: u32) -> f64 {
    let halvings = ((100.0 / (100.0 - level)).ln() / 2.0_f64.ln()) as i64;
    let ticks = i64::from(ticks_per_half_distance) * 2.0_f64.powi((halvings + 1) as i32) as i64;
    level + 100.0 / ticks as f64
}

/// Renders `histogram` as Java's `outputPercentileDistribution` does.
pub fn render(
    histogram: &Histogram<u64>,
    ticks_per_half_distance: u32,
    scaling_ratio: f64,
) -> String {
    let digits = usize::from(histogram.sigfig());
    let mut out = String::new();
    // "%12s %14s %10s %14s\n\n"
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for line in percentile_lines(histogram, ticks_per_half_distance) {
        let value = line.value as f64 / scaling_ratio;
        let fraction = line.percentile / 100.0;
        if line.percentile != 100.0 {
            // "%12.{d}f %2.12f %10d %14.2f\n"
            let _ = writeln!(
                out,
                "{value:12.digits$} {fraction:2.12} {:10} {:14.2}",
                line.total_count,
                1.0 / (1.0 - fraction)
            );
        } else {
            let _ = writeln!(
                out,
                "{value:12.digits$} {fraction:2.12} {:10}",
                line.total_count
            );
        }
    }
    let mean = if histogram.is_empty() {
        0.0
    } else {
        histogram.mean() / scaling_ratio
    };
    let deviation = if histogram.is_empty() {
        0.0
    } else {
        histogram.stdev() / scaling_ratio
    };
    let _ = writeln!(
        out,
        "#[Mean    = {mean:12.digits$}, StdDeviation   = {deviation:12.digits$}]"
    );
    let max = histogram.max() as f64 / scaling_ratio;
    let _ = writeln!(
        out,
        "#[Max     = {max:12.digits$}, Total count    = {:12}]",
        histogram.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        histogram.buckets(),
        sub_bucket_count(histogram.sigfig())
    );
    out
}

/// Java's `subBucketCount`: 2^ceil(log2(2 × 10^digits)).
fn sub_bucket_count(significant_digits: u8) -> u64 {
    (2 * 10_u64.pow(u32::from(significant_digits))).next_power_of_two()
}

/// What a `.hgrm` file says: its percentile lines (values in the file's unit) and footer.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedHgrm {
    /// (value, percentile fraction 0..=1, total count).
    pub lines: Vec<(f64, f64, u64)>,
    pub mean: f64,
    pub max: f64,
    pub total_count: u64,
}

impl ParsedHgrm {
    /// The value at `fraction` (0..=1): the first line at or past it.
    pub fn value_at(&self, fraction: f64) -> Option<f64> {
        self.lines
            .iter()
            .find(|(_, level, _)| *level >= fraction)
            .map(|(value, _, _)| *value)
    }
}

/// Parses the layout [`render`] writes (and Java prints).
pub fn parse(text: &str) -> Result<ParsedHgrm, String> {
    let mut parsed = ParsedHgrm {
        lines: Vec::new(),
        mean: 0.0,
        max: 0.0,
        total_count: 0,
    };
    let mut lines = text.lines();
    let header = lines.next().ok_or("empty file")?;
    if header.split_whitespace().collect::<Vec<_>>()
        != ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    {
        return Err(format!("unexpected header `{header}`"));
    }
    for line in lines.filter(|line| !line.trim().is_empty()) {
        if let Some(footer) = line.strip_prefix("#[") {
            let fields = footer
                .trim_end_matches(']')
                .split(',')
                .filter_map(|field| field.split_once('='));
            for (name, value) in fields {
                let value = value.trim();
                match name.trim() {
                    "Mean" => {
                        parsed.mean = value.parse().map_err(|_| format!("bad mean `{value}`"))?
                    }
                    "Max" => {
                        parsed.max = value.parse().map_err(|_| format!("bad max `{value}`"))?
                    }
                    "Total count" => {
                        parsed.total_count =
                            value.parse().map_err(|_| format!("bad total `{value}`"))?
                    }
                    _ => {}
                }
            }
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let number = |at: usize| {
            fields
                .get(at)
                .and_then(|field| field.parse::<f64>().ok())
                .ok_or_else(|| format!("bad line `{line}`"))
        };
        let count = fields
            .get(2)
            .and_then(|field| field.parse::<u64>().ok())
            .ok_or_else(|| format!("bad count in `{line}`"))?;
        parsed.lines.push((number(0)?, number(1)?, count));
    }
    Ok(parsed)
}
