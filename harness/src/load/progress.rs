//! The live progress line during the load: elapsed / planned and what remains, ops/s
//! over the last interval, ops, errors (fail and unknown), the p99 so far and the
//! harness's resident memory (a soak's line shows whether it stays flat). On a terminal one line is
//! redrawn in place every second; otherwise (CI logs, pipes) a plain line is printed
//! every few seconds, so a log shows the run's shape without drowning in it.
//!
//! Not here: the final report (`crate::report`).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::recorder::LoadCounts;
use crate::latency::{Latencies, new_histogram};

/// How often a terminal's line is redrawn.
pub const PROGRESS_TERMINAL_INTERVAL: Duration = Duration::from_secs(1);
/// How often a plain line is printed when stdout is not a terminal.
pub const PROGRESS_PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Redraw one line on stdout (stdout is a terminal).
    Terminal,
    /// A plain line every few seconds.
    Plain,
    /// Nothing (tests, calibration).
    Off,
}

impl ProgressMode {
    /// Terminal if stdout is one, else plain.
    pub fn detect() -> ProgressMode {
        if std::io::stdout().is_terminal() {
            ProgressMode::Terminal
        } else {
            ProgressMode::Plain
        }
    }

    fn interval(self) -> Duration {
        match self {
            ProgressMode::Terminal => PROGRESS_TERMINAL_INTERVAL,
            ProgressMode::Plain | ProgressMode::Off => PROGRESS_PLAIN_INTERVAL,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Progress {
    mode: ProgressMode,
    planned: Option<Duration>,
    /// When the load started on the history's clock: the line counts from here, not
    /// from the history's zero (an agent seeds and waits for `--start-at` before).
    load_started_us: u64,
    last_print_us: u64,
    last_ops: u64,
}

impl Progress {
    pub(crate) fn new(
        mode: ProgressMode,
        planned: Option<Duration>,
        load_started_us: u64,
    ) -> Progress {
        Progress {
            mode,
            planned,
            load_started_us,
            last_print_us: load_started_us,
            last_ops: 0,
        }
    }

    /// Prints a line if the interval has passed.
    pub(crate) fn tick(&mut self, now_us: u64, counts: &LoadCounts, latencies: &Latencies) {
        if self.mode == ProgressMode::Off {
            return;
        }
        let since = Duration::from_micros(now_us.saturating_sub(self.last_print_us));
        if since < self.mode.interval() {
            return;
        }
        let rate = (counts.ops - self.last_ops) as f64 / since.as_secs_f64();
        let line = self.line(now_us, rate, counts, latencies);
        let mut stdout = std::io::stdout().lock();
        let _ = match self.mode {
            ProgressMode::Terminal => write!(stdout, "\r\x1b[2K{line}"),
            _ => writeln!(stdout, "{line}"),
        };
        let _ = stdout.flush();
        self.last_print_us = now_us;
        self.last_ops = counts.ops;
    }

    /// Ends the terminal's line so that what follows starts on a fresh one.
    pub(crate) fn finish(&mut self, now_us: u64, counts: &LoadCounts, latencies: &Latencies) {
        if self.mode == ProgressMode::Off {
            return;
        }
        let elapsed = Duration::from_micros(now_us.saturating_sub(self.load_started_us))
            .as_secs_f64()
            .max(1e-3);
        let line = self.line(now_us, counts.ops as f64 / elapsed, counts, latencies);
        let mut stdout = std::io::stdout().lock();
        let _ = match self.mode {
            ProgressMode::Terminal => writeln!(stdout, "\r\x1b[2K{line} (done)"),
            _ => writeln!(stdout, "{line} (done)"),
        };
        let _ = stdout.flush();
    }

    fn line(&self, now_us: u64, rate: f64, counts: &LoadCounts, latencies: &Latencies) -> String {
        progress_line(
            Duration::from_micros(now_us.saturating_sub(self.load_started_us)),
            self.planned,
            rate,
            counts,
            p99_us(latencies),
            crate::resources::rss::process_rss_bytes(),
        )
    }
}

/// The 99th percentile of every shopper op so far, all kinds together (uncorrected: the
/// live line shows what the service answers; the report has both).
fn p99_us(latencies: &Latencies) -> u64 {
    let mut all = new_histogram();
    for op in latencies.ops.values() {
        // Both histograms share bounds and precision, so adding cannot fail.
        let _ = all.add(&op.uncorrected);
    }
    all.value_at_quantile(0.99)
}

/// `load 12.0s/30s (18s left)  4,321 ops/s  51,234 ops  errors: 9 refused, 3 unknown
/// p99 2.1 ms  rss 312 MB` (refused: a 4xx or 503, which the contract says changed
/// nothing, such as a sold-out reserve; unknown: no usable reply; rss: the harness's
/// resident memory, the in-process engine's included).
pub(crate) fn progress_line(
    elapsed: Duration,
    planned: Option<Duration>,
    ops_per_s: f64,
    counts: &LoadCounts,
    p99_us: u64,
    rss_bytes: Option<u64>,
) -> String {
    let planned = match planned {
        Some(planned) => format!(
            "/{}s ({}s left)",
            planned.as_secs(),
            planned.saturating_sub(elapsed).as_secs()
        ),
        None => String::new(),
    };
    let rss = match rss_bytes {
        Some(bytes) => format!("  rss {}", crate::report::units::bytes(bytes as f64)),
        None => String::new(),
    };
    format!(
        "load {:.1}s{planned}  {} ops/s  {} ops  errors: {} refused, {} unknown  p99 {}{rss}",
        elapsed.as_secs_f64(),
        thousands(ops_per_s.round() as u64),
        thousands(counts.ops),
        thousands(counts.fail),
        thousands(counts.unknown),
        crate::report::units::duration_us(p99_us as f64),
    )
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests;
