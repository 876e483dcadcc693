//! `summary.json` (machine-readable, schema `harness/summary.schema.json`, versioned by
//! `schema_version`) and `summary.md` (the same facts for people).

use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{RunData, units};
use crate::checks::coverage::CoverageResult;
use crate::checks::slo::SloResult;
use crate::checks::window::{WINDOW_CONTEXT_OPS, violations_text};
use crate::checks::{CheckReport, Overall, Verdict};
use crate::history::History;

/// Bumped on any incompatible change of [`Summary`] (and of the schema file).
pub const SUMMARY_SCHEMA_VERSION: u32 = 2;
/// Bounds listed in `summary.md` per check (all are in `summary.json`).
const MARKDOWN_BOUNDS_MAX: usize = 12;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub schema_version: u32,
    pub scenario: String,
    pub description: String,
    pub seed: u64,
    /// UTC, RFC 3339.
    pub started_at: String,
    pub target: String,
    /// `reference`, a deliberately broken variant's name, or `external`.
    pub engine: String,
    /// Whether the white-box checks (C2, C5) had Redis, Postgres and the ledger to read.
    pub white_box: bool,
    pub verdict: Overall,
    pub exit_code: u8,
    pub ops: OpsSummary,
    /// Per operation kind.
    pub latency: BTreeMap<String, OpLatencySummary>,
    pub checks: Vec<CheckReport>,
    pub slos: Vec<SloResult>,
    pub coverage: Vec<CoverageResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpsSummary {
    pub total: u64,
    pub errors: u64,
    pub late_starts: u64,
    pub duration_s: f64,
    pub throughput_per_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpLatencySummary {
    pub count: u64,
    /// From the intended start (coordinated omission corrected).
    pub corrected: Percentiles,
    /// From the actual send.
    pub uncorrected: Percentiles,
}

#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p99_9_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

impl Percentiles {
    fn of(histogram: &Histogram<u64>) -> Percentiles {
        Percentiles {
            p50_us: histogram.value_at_percentile(50.0),
            p90_us: histogram.value_at_percentile(90.0),
            p99_us: histogram.value_at_percentile(99.0),
            p99_9_us: histogram.value_at_percentile(99.9),
            max_us: histogram.max(),
            mean_us: (histogram.mean() * 1000.0).round() / 1000.0,
        }
    }
}

pub fn summary(data: &RunData<'_>) -> Summary {
    let latencies = data.latencies;
    let latency = latencies
        .ops
        .iter()
        .map(|(kind, op)| {
            let summary = OpLatencySummary {
                count: op.corrected.len(),
                corrected: Percentiles::of(&op.corrected),
                uncorrected: Percentiles::of(&op.uncorrected),
            };
            (kind.as_str().to_owned(), summary)
        })
        .collect();
    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        scenario: data.scenario.name.clone(),
        description: data.scenario.description.clone(),
        seed: data.seed,
        started_at: super::hlog::utc_text(data.started_at_unix_ms),
        target: data.target.to_owned(),
        engine: data.engine.to_owned(),
        white_box: data.white_box,
        verdict: data.verdict.overall(),
        exit_code: data.verdict.exit_code(),
        ops: OpsSummary {
            total: latencies.completed,
            errors: latencies.errors,
            late_starts: latencies.late_starts,
            duration_s: latencies.duration_us() as f64 / 1e6,
            throughput_per_s: latencies
                .throughput_per_s()
                .map(|rate| (rate * 10.0).round() / 10.0),
        },
        latency,
        checks: data.verdict.checks.clone(),
        slos: data.verdict.slos.clone(),
        coverage: data.verdict.coverage.clone(),
    }
}

fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "**FAIL**",
        Verdict::Unknown => "*unknown*",
        Verdict::NotApplicable => "not applicable",
    }
}

/// Markdown table cells cannot hold `|` or line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// summary.md: the summary, with the windows of history that explain the first
/// violations (`crate::checks::window`).
pub fn markdown(summary: &Summary, history: &History) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# stockproof: {} — {} (exit {})\n",
        summary.scenario,
        summary.verdict.as_str().to_uppercase(),
        summary.exit_code
    );
    if !summary.description.is_empty() {
        let _ = writeln!(out, "{}\n", summary.description);
    }
    let rate = summary
        .ops
        .throughput_per_s
        .map_or_else(|| "- ops/s".to_owned(), units::rate_per_s);
    let _ = writeln!(out, "| run | |\n|---|---|");
    let _ = writeln!(
        out,
        "| seed | {} |\n| started | {} |\n| target | {} |\n| engine | {} |",
        summary.seed,
        summary.started_at,
        cell(&summary.target),
        cell(&summary.engine)
    );
    let _ = writeln!(out, "| checks | {} |", checks_run(summary));
    let _ = writeln!(
        out,
        "| ops | {} in {} ({rate}), {} errors, {} late starts |\n",
        summary.ops.total,
        units::duration_s(summary.ops.duration_s),
        summary.ops.errors,
        summary.ops.late_starts
    );
    checks_markdown(&mut out, &summary.checks);
    let windows = violations_text(&summary.checks, history, WINDOW_CONTEXT_OPS);
    if !windows.is_empty() {
        // `>` marks the ops a violation names; the others touch its SKU or reservation.
        let _ = writeln!(out, "## Violation windows\n\n```text\n{windows}```\n");
    }
    goals_markdown(&mut out, summary);
    latency_markdown(&mut out, summary);
    out
}

/// Which checks ran: all of them with a white-box snapshot, else the black-box ones.
fn checks_run(summary: &Summary) -> String {
    let ids = |white_box: bool| -> Vec<&str> {
        summary
            .checks
            .iter()
            .filter(|check| summary.white_box || check.id.white_box() == white_box)
            .map(|check| check.id.as_str())
            .collect()
    };
    if summary.white_box {
        return format!("white-box and black-box ({})", ids(true).join(", "));
    }
    format!(
        "black-box only ({}; {} need Redis, Postgres and the ledger)",
        ids(false).join(", "),
        ids(true).join(" and ")
    )
}

fn goals_markdown(out: &mut String, summary: &Summary) {
    if !summary.slos.is_empty() {
        let _ = writeln!(
            out,
            "## SLOs\n\n| SLO | observed | verdict |\n|---|---|---|"
        );
        for slo in &summary.slos {
            let observed = match (slo.observed, &slo.note) {
                (Some(value), Some(note)) => {
                    format!("{} ({})", units::slo_value(value, &slo.unit), cell(note))
                }
                (Some(value), None) => units::slo_value(value, &slo.unit),
                (None, Some(note)) => cell(note),
                (None, None) => "-".to_owned(),
            };
            let _ = writeln!(
                out,
                "| `{}` | {observed} | {} |",
                cell(&slo.slo),
                verdict_word(slo.verdict)
            );
        }
        out.push('\n');
    }
    if !summary.coverage.is_empty() {
        let _ = writeln!(
            out,
            "## Coverage\n\n| goal | observed | needed | verdict |\n|---|---|---|---|"
        );
        for goal in &summary.coverage {
            let _ = writeln!(
                out,
                "| {} ({}) | {} | {} | {} |",
                goal.goal,
                cell(&goal.description),
                goal.observed,
                goal.min,
                verdict_word(goal.verdict)
            );
        }
        out.push('\n');
    }
}

fn latency_markdown(out: &mut String, summary: &Summary) {
    let _ = writeln!(
        out,
        "## Latency (corrected for coordinated omission / uncorrected)\n"
    );
    let _ = writeln!(
        out,
        "| op | count | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|"
    );
    for (op, latency) in &summary.latency {
        let (corrected, uncorrected) = (&latency.corrected, &latency.uncorrected);
        let pair = |left: u64, right: u64| {
            format!(
                "{} / {}",
                units::duration_us(left as f64),
                units::duration_us(right as f64)
            )
        };
        let _ = writeln!(
            out,
            "| {op} | {} | {} | {} | {} | {} | {} |",
            latency.count,
            pair(corrected.p50_us, uncorrected.p50_us),
            pair(corrected.p90_us, uncorrected.p90_us),
            pair(corrected.p99_us, uncorrected.p99_us),
            pair(corrected.p99_9_us, uncorrected.p99_9_us),
            pair(corrected.max_us, uncorrected.max_us)
        );
    }
}

fn checks_markdown(out: &mut String, checks: &[CheckReport]) {
    let _ = writeln!(
        out,
        "## Checks\n\n| check | verdict | counts | violations | note |\n|---|---|---|---|---|"
    );
    for check in checks {
        let counts: Vec<String> = check
            .counts
            .iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        let note = check.note.as_deref().unwrap_or("");
        let _ = writeln!(
            out,
            "| {} {} | {} | {} | {} | {} |",
            check.id.as_str(),
            check.title,
            verdict_word(check.verdict),
            counts.join(", "),
            check.violation_count(),
            cell(note)
        );
    }
    out.push('\n');
    for check in checks.iter().filter(|check| !check.groups.is_empty()) {
        let _ = writeln!(
            out,
            "### {} {}: violations\n",
            check.id.as_str(),
            check.title
        );
        for group in &check.groups {
            let _ = writeln!(
                out,
                "- **{}** × {}\n  - first: {}\n  - worst: {}",
                group.kind, group.count, group.first.reason, group.worst.reason
            );
        }
        out.push('\n');
    }
    for check in checks.iter().filter(|check| !check.bounds.is_empty()) {
        let _ = writeln!(
            out,
            "### {} bounds [lower, observed, upper]\n",
            check.id.as_str()
        );
        for bound in check.bounds.iter().take(MARKDOWN_BOUNDS_MAX) {
            let observed = bound
                .observed
                .map_or_else(|| "-".to_owned(), |value| value.to_string());
            let _ = writeln!(
                out,
                "- {}: [{}, {observed}, {}]",
                bound.subject, bound.lower, bound.upper
            );
        }
        if check.bounds.len() > MARKDOWN_BOUNDS_MAX {
            let _ = writeln!(
                out,
                "- … {} more in summary.json",
                check.bounds.len() - MARKDOWN_BOUNDS_MAX
            );
        }
        out.push('\n');
    }
}
