//! The smallest window of history that explains a violation (issue 8 §3, issue 7 §3):
//! the ops that touch the violation's SKU or reservation (or that it names), from a few
//! before the first op it names to a few after the last, with the faults injected in
//! that span. A violation that names no op (a white-box drift found after quiesce)
//! gets the last ops on its SKU or reservation and every fault of the run, since the
//! drift happened somewhere before the end. Pure: a history and a violation in, the
//! window's rows out; [`ViolationWindow::lines`] renders them for the terminal
//! (`stockproof run`, `stockproof check`) and summary.md, report.html draws them as a
//! timeline.
//!
//! Not here: finding violations (the checks), choosing which ones to show (callers).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use super::{CheckId, CheckReport, Verdict, Violation};
use crate::history::{History, HistoryEntry, Op, OpId};

/// Related ops shown before the first and after the last op a violation names: enough
/// for the restock or reserve that set the scene and the ops racing it.
pub const WINDOW_CONTEXT_OPS: usize = 3;
/// Rows of one window: past this the middle of a long span is elided (a terminal
/// screen, a readable table).
pub const WINDOW_ROWS_MAX: usize = 24;
/// Windows printed per run in the terminal and summary.md beyond the first violation
/// of each failed check, which is always shown (all violations are in summary.json).
pub const WINDOWS_SHOWN_MAX: usize = 3;

/// One row of a window.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a window has at most WINDOW_ROWS_MAX rows: boxing would save nothing"
)]
pub enum WindowRow<'h> {
    Op {
        entry: Cow<'h, HistoryEntry>,
        /// An op the violation names.
        named: bool,
    },
    /// Related ops left out of the middle of a long span.
    Elided(usize),
}

/// The ops that explain one violation, in invoke order.
#[derive(Debug, Clone, PartialEq)]
pub struct ViolationWindow<'h> {
    /// What the ops were chosen by: `sku a-01, reservation r3`.
    pub subject: String,
    pub rows: Vec<WindowRow<'h>>,
    /// Ops of the history related to the violation (and faults chosen), shown or not.
    pub related: usize,
}

impl ViolationWindow<'_> {
    /// One line per row, `>` marking the ops the violation names, indented by `indent`.
    pub fn lines(&self, indent: &str) -> Vec<String> {
        let shown = self
            .rows
            .iter()
            .filter(|row| matches!(row, WindowRow::Op { .. }))
            .count();
        let mut lines = vec![format!(
            "{indent}window: ops on {} ({shown} of {} related)",
            self.subject, self.related
        )];
        for row in &self.rows {
            lines.push(match row {
                WindowRow::Op { entry, named } => {
                    format!("{indent}{} {entry}", if *named { ">" } else { " " })
                }
                WindowRow::Elided(count) => format!("{indent}  … {count} more related ops"),
            });
        }
        lines
    }

    /// The ops shown (not the elided counts).
    pub fn entries(&self) -> impl Iterator<Item = (&HistoryEntry, bool)> {
        self.rows.iter().filter_map(|row| match row {
            WindowRow::Op { entry, named } => Some((&**entry, *named)),
            WindowRow::Elided(_) => None,
        })
    }
}

/// One op's place and span, in invoke order.
#[derive(Debug, Clone, Copy)]
struct Placed {
    invoke_us: u64,
    complete_us: u64,
    id: OpId,
    /// Its position in the history's recorded order ([`History::op_at`]).
    position: usize,
}

/// Who touched what in one history: built once, then one window per violation. It
/// keeps positions, not entries (a long run's plain refusals stay folded): a row's
/// entry is rebuilt when shown.
#[derive(Debug)]
pub struct WindowIndex<'h> {
    history: &'h History,
    /// Ops in invoke order (ties: op id).
    ordered: Vec<Placed>,
    /// Per SKU and per reservation, positions in `ordered`.
    by_sku: HashMap<String, Vec<usize>>,
    by_reservation: HashMap<String, Vec<usize>>,
    faults: Vec<usize>,
    position: HashMap<OpId, usize>,
    /// Related ops shown before the first and after the last named op.
    context: usize,
}

impl<'h> WindowIndex<'h> {
    pub fn new(history: &'h History) -> WindowIndex<'h> {
        let mut ordered: Vec<Placed> = history
            .ops()
            .enumerate()
            .map(|(position, entry)| Placed {
                invoke_us: entry.invoke_us,
                complete_us: entry.complete_us,
                id: entry.id,
                position,
            })
            .collect();
        ordered.sort_by_key(|placed| (placed.invoke_us, placed.id));
        let mut at_of = vec![0_usize; ordered.len()];
        for (at, placed) in ordered.iter().enumerate() {
            at_of[placed.position] = at;
        }
        let mut index = WindowIndex {
            history,
            by_sku: HashMap::new(),
            by_reservation: HashMap::new(),
            faults: Vec::new(),
            position: ordered
                .iter()
                .enumerate()
                .map(|(at, placed)| (placed.id, at))
                .collect(),
            ordered,
            context: WINDOW_CONTEXT_OPS,
        };
        // A reservation's SKUs come from the reserve that made it (its reply's id).
        let mut skus_of: HashMap<String, Vec<String>> = HashMap::new();
        for entry in history.ops() {
            if let (Op::Reserve { items, .. }, Some(id)) = (
                &entry.op,
                entry.response.as_ref().and_then(|r| r.reservation.as_ref()),
            ) {
                let skus = items.iter().map(|line| line.sku.clone()).collect();
                skus_of.insert(id.0.clone(), skus);
            }
        }
        for (position, entry) in history.ops().enumerate() {
            index.add(at_of[position], &entry, &skus_of);
        }
        index
    }

    /// Files the op at `at` (in `ordered`) under its SKUs, reservation or the faults.
    fn add(&mut self, at: usize, entry: &HistoryEntry, skus_of: &HashMap<String, Vec<String>>) {
        let reservation = match &entry.op {
            Op::Confirm { reservation }
            | Op::Release { reservation }
            | Op::GetReservation { reservation } => Some(reservation.0.as_str()),
            Op::Reserve { .. } => entry
                .response
                .as_ref()
                .and_then(|r| r.reservation.as_ref())
                .map(|id| id.0.as_str()),
            _ => None,
        };
        let mut skus: BTreeSet<&str> = match &entry.op {
            Op::Restock { sku, .. } | Op::Adjust { sku, .. } | Op::GetSku { sku } => {
                BTreeSet::from([sku.as_str()])
            }
            Op::Reserve { items, .. } => items.iter().map(|line| line.sku.as_str()).collect(),
            Op::Fault { .. } => {
                self.faults.push(at);
                BTreeSet::new()
            }
            _ => BTreeSet::new(),
        };
        if let Some(id) = reservation {
            push_at(&mut self.by_reservation, id, at);
            skus.extend(skus_of.get(id).into_iter().flatten().map(String::as_str));
        }
        for sku in skus {
            push_at(&mut self.by_sku, sku, at);
        }
    }

    /// Shows `context` related ops (instead of [`WINDOW_CONTEXT_OPS`]) before the first
    /// and after the last op a violation names.
    pub fn with_context(mut self, context: usize) -> WindowIndex<'h> {
        self.context = context;
        self
    }

    /// The window of `violation`; `None` when it names no SKU, reservation or op
    /// found in the history.
    pub fn window(&self, violation: &Violation) -> Option<ViolationWindow<'h>> {
        let mut related: BTreeSet<usize> = BTreeSet::new();
        let mut subject = Vec::new();
        if let Some(sku) = &violation.sku {
            related.extend(self.by_sku.get(sku.as_str()).into_iter().flatten());
            subject.push(format!("sku {sku}"));
        }
        if let Some(reservation) = &violation.reservation {
            related.extend(
                self.by_reservation
                    .get(reservation.as_str())
                    .into_iter()
                    .flatten(),
            );
            subject.push(format!("reservation {reservation}"));
        }
        let named: BTreeSet<usize> = violation
            .ops
            .iter()
            .filter_map(|id| self.position.get(id).copied())
            .collect();
        if !named.is_empty() && subject.is_empty() {
            let ids: Vec<String> = violation.ops.iter().map(u64::to_string).collect();
            subject.push(format!("ops {}", ids.join(", ")));
        }
        related.extend(&named);
        if related.is_empty() {
            return None;
        }
        let related: Vec<usize> = related.into_iter().collect();
        let chosen = self.span(&related, &named);
        let faults = chosen
            .iter()
            .filter(|at| related.binary_search(at).is_err())
            .count();
        Some(ViolationWindow {
            subject: subject.join(", "),
            related: related.len() + faults,
            rows: self.rows(&chosen, &named),
        })
    }

    /// Positions (in `ordered`) of the related ops to show, elision aside: around the
    /// named ops, else the last ones; plus the faults in (or, with nothing named,
    /// anywhere before the end of) that span.
    fn span(&self, related: &[usize], named: &BTreeSet<usize>) -> Vec<usize> {
        let (from, to) = match (named.first(), named.last()) {
            (Some(first), Some(last)) => {
                let first = related.binary_search(first).unwrap_or_else(|at| at);
                let last = related.binary_search(last).unwrap_or_else(|at| at);
                (
                    first.saturating_sub(self.context),
                    (last + self.context + 1).min(related.len()),
                )
            }
            _ => (
                related.len().saturating_sub(2 * self.context + 1),
                related.len(),
            ),
        };
        let mut chosen: BTreeSet<usize> = related[from..to].iter().copied().collect();
        let start_us = self.ordered[related[from]].invoke_us;
        let end_us = self.ordered[related[to - 1]].complete_us;
        for &fault in &self.faults {
            let placed = self.ordered[fault];
            let overlaps = placed.invoke_us <= end_us && placed.complete_us >= start_us;
            if overlaps || named.is_empty() {
                chosen.insert(fault);
            }
        }
        chosen.into_iter().collect()
    }

    /// Rows for `chosen`, the middle elided past [`WINDOW_ROWS_MAX`].
    fn rows(&self, chosen: &[usize], named: &BTreeSet<usize>) -> Vec<WindowRow<'h>> {
        let row = |at: &usize| WindowRow::Op {
            entry: self
                .history
                .op_at(self.ordered[*at].position)
                .expect("a placed op is in its history"),
            named: named.contains(at),
        };
        if chosen.len() <= WINDOW_ROWS_MAX {
            return chosen.iter().map(row).collect();
        }
        // Named ops are kept whatever the length: they are the evidence.
        let half = WINDOW_ROWS_MAX / 2;
        let mut rows = Vec::with_capacity(WINDOW_ROWS_MAX + 2);
        let mut elided = 0;
        for (index, at) in chosen.iter().enumerate() {
            let edge = index < half || index >= chosen.len() - half;
            if edge || named.contains(at) {
                if elided > 0 {
                    rows.push(WindowRow::Elided(elided));
                    elided = 0;
                }
                rows.push(row(at));
            } else {
                elided += 1;
            }
        }
        rows
    }
}

/// Appends `at` to `name`'s list, allocating the name only the first time.
fn push_at(lists: &mut HashMap<String, Vec<usize>>, name: &str, at: usize) {
    match lists.get_mut(name) {
        Some(list) => list.push(at),
        None => drop(lists.insert(name.to_owned(), vec![at])),
    }
}

/// The violations worth a window: the first of every failed check (each shows its
/// evidence, whatever else failed), then their second ones, and so on while fewer
/// than [`WINDOWS_SHOWN_MAX`] are shown.
pub fn shown_violations(checks: &[CheckReport]) -> Vec<(CheckId, &Violation)> {
    let failed: Vec<&CheckReport> = checks
        .iter()
        .filter(|check| check.verdict == Verdict::Fail)
        .collect();
    let mut shown = Vec::new();
    let deepest = failed.iter().map(|check| check.violations.len()).max();
    for depth in 0..deepest.unwrap_or(0) {
        for check in &failed {
            if let Some(violation) = check.violations.get(depth) {
                if depth > 0 && shown.len() >= WINDOWS_SHOWN_MAX {
                    return shown;
                }
                shown.push((check.id, violation));
            }
        }
    }
    shown
}

/// The violations worth a window ([`shown_violations`]), each as `C1 kind: reason`
/// and its window's lines, then how many more there are: the text `stockproof run`
/// and `stockproof check` print and summary.md quotes.
pub fn violations_text(checks: &[CheckReport], history: &History, context: usize) -> String {
    let shown = shown_violations(checks);
    if shown.is_empty() {
        return String::new();
    }
    let index = WindowIndex::new(history).with_context(context);
    let mut out = String::new();
    for (id, violation) in &shown {
        let _ = writeln!(
            out,
            "{} {}: {}",
            id.as_str(),
            violation.kind,
            violation.reason
        );
        match index.window(violation) {
            Some(window) => {
                for line in window.lines("  ") {
                    let _ = writeln!(out, "{line}");
                }
            }
            None => {
                let _ = writeln!(out, "  (it names no op, SKU or reservation of the history)");
            }
        }
    }
    let total: u64 = checks
        .iter()
        .filter(|check| check.verdict == Verdict::Fail)
        .map(CheckReport::violation_count)
        .sum();
    let more = total.saturating_sub(shown.len() as u64);
    if more > 0 {
        let _ = writeln!(out, "… and {more} more violations (see summary.json)");
    }
    out
}

#[cfg(test)]
mod tests;
