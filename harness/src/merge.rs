//! `stockproof merge RUN_DIR… --out DIR`: the folders of the load agents of one plan
//! (`stockproof run --agent I/N`, `crate::run::agent`) become one run folder, which the
//! one judge turns into one verdict — here, and again with `stockproof check DIR`.
//!
//! - **One plan**: every folder must hold `agent.json` with the same scenario, seed, N,
//!   start time and run label, the same `scenario.toml`, and each I in 1…N exactly once.
//! - **One time origin**: the earliest agent's wall-clock start (whole ms, UTC); each
//!   agent's times move by its own start's offset from it. Op ids are kept as recorded:
//!   agents' ids are disjoint by construction (`crate::plan::agent`), so `retry_of`
//!   links stay true.
//! - **Clock skew**: a declared bound (`--clock-skew`, else the largest an agent
//!   declared, else measured: the two largest of the agents' clock error bounds when
//!   every clock was NTP-synchronised, else 0 stated and said) widens every op's
//!   interval: invoke − bound,
//!   complete + bound. A check's bound over a wider interval is looser, never tighter,
//!   so skew can hide a violation shorter than it but never raise a false alarm;
//!   latencies are measured as each agent timed them
//!   (`Latencies::from_widened_history`).
//! - **Final reads**: taken once, here, after a black-box quiesce, when `--target` is
//!   given (an agent cannot know when the others are done); without it C6 has nothing
//!   to judge and says so.
//! - **Latency logs**: the agents' `latency.hlog` intervals are added
//!   (`crate::report::hlog::merge`), never their percentiles averaged.
//!
//! Not here: the agents' load (`crate::run::agent`), judging (`crate::judge`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::adapter::{self, AdapterError, Bound, PrepareError, RunLabel};
use crate::checks::stores::StoresSnapshot;
use crate::checks::{EXIT_INCONCLUSIVE, EXIT_INFRA, EXIT_USAGE, RunVerdict};
use crate::history::{HISTORY_FILE, History, HistoryEntry, HistoryError, OpId};
use crate::judge::RecordedRun;
use crate::judge::record::RunInfo;
use crate::latency::Latencies;
use crate::load::recorder::hold_deadline_ms;
use crate::report::hlog::{self, AgentLog};
use crate::run::agent::{AgentError, AgentRecord, clock, read_record, unix_us};
use crate::run::folder::{self, FolderError, ReadFolderError};
use crate::run::quiesce::{self, QuiesceReport};
use crate::run::target::{self, TargetError};
use crate::run::{FINAL_READ_TIMEOUT, SETUP_TIMEOUT, final_reads};
use crate::scenario::Scenario;

/// The merged folder's record of how it was made.
pub const MERGE_FILE: &str = "merge.json";
pub const MERGE_FORMAT_VERSION: u32 = 1;
const _: () = assert!(FINAL_READ_TIMEOUT.as_secs() > 0);

/// `merge.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    pub format_version: u32,
    /// Each agent's `agent.json`, in agent order.
    pub agents: Vec<AgentRecord>,
    /// The agents' folders as given, in agent order.
    pub folders: Vec<String>,
    /// The merged history's time zero: wall clock, UTC, µs since the Unix epoch.
    pub origin_unix_us: u64,
    /// How much every op's interval was widened on each side, µs.
    pub clock_skew_us: u64,
    /// Where the bound came from, in words.
    pub clock_skew_source: String,
    /// Who took the final reads, in words.
    pub final_reads: String,
}

/// How to merge.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    pub folders: Vec<PathBuf>,
    pub out: PathBuf,
    /// Overrides the agents' declared bounds.
    pub clock_skew: Option<Duration>,
    /// Where to take the final reads (the agents' target); `None`: no final reads.
    pub target: Option<String>,
    /// How to speak to `target` (the agents' `--adapter`).
    pub adapter: Option<PathBuf>,
}

/// Why the folders could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{}: {source}", folder.display())]
    Read {
        folder: PathBuf,
        source: ReadFolderError,
    },
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error(
        "not agents of one plan: {} has {what} `{other}`, {} has `{first}`",
        other_folder.display(), first_folder.display()
    )]
    Mismatch {
        what: &'static str,
        first_folder: PathBuf,
        first: String,
        other_folder: PathBuf,
        other: String,
    },
    #[error("agent {agent}/{agents} appears twice: {} and {}", first.display(), second.display())]
    Twice {
        agent: u32,
        agents: u32,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("agents missing: {missing} of {agents} (pass every agent's folder)")]
    Missing { missing: String, agents: u32 },
    /// An agent that did not finish (killed mid-run): its share is incomplete, and a
    /// merged history cannot say so once written whole, so it is not merged.
    #[error(
        "{}: agent {agent}/{agents}'s history is cut short ({reason}): the agent did not \
         finish, so its share of the load is incomplete; run the agents again",
        folder.display()
    )]
    CutShort {
        folder: PathBuf,
        agent: u32,
        agents: u32,
        reason: String,
    },
    #[error("--out {}: {reason}", path.display())]
    Out { path: PathBuf, reason: String },
    #[error("{}: latency.hlog: {reason}", folder.display())]
    Hlog { folder: PathBuf, reason: String },
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error(transparent)]
    Prepare(#[from] PrepareError),
}

impl MergeError {
    pub fn exit_code(&self) -> u8 {
        match self {
            MergeError::Target(_) | MergeError::Prepare(_) | MergeError::Folder(_) => EXIT_INFRA,
            MergeError::Agent(error) => error.exit_code(),
            MergeError::CutShort { .. } => EXIT_INCONCLUSIVE,
            _ => EXIT_USAGE,
        }
    }
}

/// One agent's folder, read.
#[derive(Debug)]
struct AgentFolder {
    path: PathBuf,
    record: AgentRecord,
    scenario: Scenario,
    scenario_text: String,
    info: RunInfo,
    history: History,
}

/// The merged run and its verdict.
#[derive(Debug)]
pub struct MergeOutcome {
    pub folder: PathBuf,
    pub record: MergeRecord,
    pub scenario: Scenario,
    pub info: RunInfo,
    pub history: History,
    pub verdict: RunVerdict,
    pub exit_code: u8,
}

/// Merges the agents' folders into `options.out`, judges it and writes its reports.
pub async fn merge(options: &MergeOptions) -> Result<MergeOutcome, MergeError> {
    let mut agents = options
        .folders
        .iter()
        .map(|path| read_agent(path))
        .collect::<Result<Vec<_>, _>>()?;
    agents.sort_by_key(|agent| agent.record.agent);
    let records: Vec<(PathBuf, AgentRecord, String)> = agents
        .iter()
        .map(|agent| {
            (
                agent.path.clone(),
                agent.record.clone(),
                agent.scenario_text.clone(),
            )
        })
        .collect();
    check_one_plan(&records)?;
    prepare_out(&options.out)?;
    let records: Vec<&AgentRecord> = agents.iter().map(|agent| &agent.record).collect();
    let (skew_us, skew_source) = clock_skew(options.clock_skew, &records);
    let origin_us = origin_unix_us(agents.iter().map(|agent| &agent.record));
    let parts: Vec<(u64, &History)> = agents
        .iter()
        .map(|agent| (agent.record.started_at_unix_us - origin_us, &agent.history))
        .collect();
    let mut entries = merge_entries(&parts, skew_us);
    let first = &agents[0];
    let scenario = first.scenario.clone();
    let FinalReads {
        entries: finals,
        quiesce,
        stores,
        said: final_reads,
    } = match &options.target {
        Some(url) => take_final_reads(url, options, first, &entries, origin_us).await?,
        None => FinalReads {
            entries: Vec::new(),
            quiesce: QuiesceReport::default(),
            stores: None,
            said: "none: no --target given, so C6 has no final reads to judge".to_owned(),
        },
    };
    entries.extend(widen(finals, skew_us));
    let mut header = first.history.header.clone();
    header.started_at_unix_ms = i64::try_from(origin_us / 1_000).unwrap_or(i64::MAX);
    let history = History::new(header, entries);
    let info = merged_info(&agents, &quiesce, stores.is_some());
    let record = MergeRecord {
        format_version: MERGE_FORMAT_VERSION,
        agents: agents.iter().map(|agent| agent.record.clone()).collect(),
        folders: agents
            .iter()
            .map(|agent| agent.path.display().to_string())
            .collect(),
        origin_unix_us: origin_us,
        clock_skew_us: skew_us,
        clock_skew_source: skew_source,
        final_reads,
    };
    let verdict = write_and_judge(
        &options.out,
        &agents,
        &scenario,
        (&info, &history),
        stores.as_ref(),
        &record,
    )?;
    let exit_code = verdict.exit_code();
    Ok(MergeOutcome {
        folder: options.out.clone(),
        record,
        scenario,
        info,
        history,
        verdict,
        exit_code,
    })
}

/// Writes the merged folder, judges it with the one judge, writes its reports (the
/// agents' latency logs added, the "Agents" section in summary.md).
fn write_and_judge(
    out: &Path,
    agents: &[AgentFolder],
    scenario: &Scenario,
    (info, history): (&RunInfo, &History),
    stores: Option<&StoresSnapshot>,
    record: &MergeRecord,
) -> Result<RunVerdict, MergeError> {
    write_history(out, &agents[0].path.join("scenario.toml"), history)?;
    folder::write(out, info, None, stores)?;
    write_json(&out.join(MERGE_FILE), record)?;
    let latencies = Latencies::from_widened_history(history, record.clock_skew_us);
    let verdict = crate::judge::judge(&RecordedRun {
        criteria: &scenario.criteria(),
        info,
        history,
        snapshot: None,
        stores,
        latencies: &latencies,
        // Agents sample no resources: each would see only its own share's effect.
        resources: None,
    });
    let judged = crate::run::Judged {
        verdict: &verdict,
        latencies: &latencies,
        resources: None,
    };
    crate::run::write_reports(out, scenario, info.seed, info, &judged, history);
    write_merged_hlog(out, agents, record.origin_unix_us)?;
    append_summary(out, record);
    Ok(verdict)
}

/// `scenario.toml` (a copy of the agents') and the merged history, written as a run
/// writes its own (`history.jsonl.zst`).
fn write_history(out: &Path, scenario_file: &Path, history: &History) -> Result<(), MergeError> {
    let mut writer = folder::start(out, scenario_file, &history.header)?;
    let failed = |error: HistoryError| FolderError {
        path: out.join(HISTORY_FILE),
        reason: error.to_string(),
    };
    for entry in history.ops() {
        writer.append(&entry).map_err(failed)?;
    }
    writer.finish().map_err(failed)?;
    Ok(())
}

/// Reads an agent's folder (its history through the history reader: a `.zst` or an
/// older plain `history.jsonl`); refuses one whose history is cut short.
fn read_agent(path: &Path) -> Result<AgentFolder, MergeError> {
    let record = read_record(path)?;
    let read = folder::read(path).map_err(|source| MergeError::Read {
        folder: path.to_owned(),
        source,
    })?;
    if let Some(reason) = read.info.history_cut_short {
        return Err(MergeError::CutShort {
            folder: path.to_owned(),
            agent: record.agent,
            agents: record.agents,
            reason,
        });
    }
    let scenario_path = path.join("scenario.toml");
    let scenario_text =
        std::fs::read_to_string(&scenario_path).map_err(|error| MergeError::Read {
            folder: path.to_owned(),
            source: ReadFolderError::File {
                path: scenario_path,
                reason: error.to_string(),
            },
        })?;
    Ok(AgentFolder {
        path: path.to_owned(),
        record,
        scenario: read.scenario,
        scenario_text,
        info: read.info,
        history: read.history,
    })
}

/// The folders are the agents of one plan: same scenario (name and file), seed, N,
/// start time and run label, and each agent exactly once.
pub fn check_one_plan(agents: &[(PathBuf, AgentRecord, String)]) -> Result<(), MergeError> {
    let Some((first_folder, first, first_text)) = agents.first() else {
        return Err(MergeError::Missing {
            missing: "all".to_owned(),
            agents: 0,
        });
    };
    for (folder, record, text) in &agents[1..] {
        let facts: [(&'static str, String, String); 7] = [
            ("scenario", first.scenario.clone(), record.scenario.clone()),
            ("seed", first.seed.to_string(), record.seed.to_string()),
            (
                "users (all agents)",
                first.users_total.to_string(),
                record.users_total.to_string(),
            ),
            (
                "agents (N)",
                first.agents.to_string(),
                record.agents.to_string(),
            ),
            (
                "--start-at",
                first.start_at.clone(),
                record.start_at.clone(),
            ),
            (
                "run label",
                first.run_label.clone(),
                record.run_label.clone(),
            ),
            (
                "a scenario.toml",
                "the other text".to_owned(),
                if text == first_text {
                    "the other text".to_owned()
                } else {
                    "a different text".to_owned()
                },
            ),
        ];
        if let Some((what, expected, found)) = facts.into_iter().find(|(_, a, b)| a != b) {
            return Err(MergeError::Mismatch {
                what,
                first_folder: first_folder.clone(),
                first: expected,
                other_folder: folder.clone(),
                other: found,
            });
        }
    }
    let mut seen: BTreeMap<u32, &PathBuf> = BTreeMap::new();
    for (folder, record, _) in agents {
        if let Some(earlier) = seen.insert(record.agent, folder) {
            return Err(MergeError::Twice {
                agent: record.agent,
                agents: record.agents,
                first: earlier.clone(),
                second: folder.clone(),
            });
        }
    }
    let missing: Vec<String> = (1..=first.agents)
        .filter(|index| !seen.contains_key(index))
        .map(|index| format!("{index}/{}", first.agents))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing {
            missing: missing.join(", "),
            agents: first.agents,
        });
    }
    Ok(())
}

/// `--out` must be new or empty: a merge never mixes its files with another run's.
fn prepare_out(out: &Path) -> Result<(), MergeError> {
    let error = |reason: String| MergeError::Out {
        path: out.to_owned(),
        reason,
    };
    if out.exists() {
        let mut entries = std::fs::read_dir(out).map_err(|io| error(io.to_string()))?;
        if entries.next().is_some() {
            return Err(error("exists and is not empty".to_owned()));
        }
    }
    std::fs::create_dir_all(out).map_err(|io| error(io.to_string()))
}

/// The bound and where it came from.
fn clock_skew(flag: Option<Duration>, agents: &[&AgentRecord]) -> (u64, String) {
    if let Some(flag) = flag {
        let us = u64::try_from(flag.as_micros()).unwrap_or(u64::MAX);
        return (us, "declared by `stockproof merge --clock-skew`".to_owned());
    }
    let declared = agents
        .iter()
        .filter(|agent| agent.clock_skew_declared)
        .map(|agent| agent.clock_skew_us)
        .max();
    if let Some(us) = declared {
        let source = "the largest bound the agents declared (--clock-skew)";
        return (us, source.to_owned());
    }
    let measured: Vec<Option<u64>> = agents
        .iter()
        .map(|agent| agent.clock_error_bound_us)
        .collect();
    if let Some(us) = clock::pairwise_skew_bound_us(&measured) {
        let source = "measured: the two largest of the agents' clock error bounds (the \
                      kernel's adjtimex maxerror while NTP keeps the clock synchronised), added";
        return (us, source.to_owned());
    }
    let unsynchronised: Vec<String> = agents
        .iter()
        .filter(|agent| agent.clock_error_bound_us.is_none())
        .map(|agent| agent.agent.to_string())
        .collect();
    let source = format!(
        "stated 0, not measured: no agent declared a bound and the clock of agent(s) {} was \
         not synchronised (adjtimex); agents on one machine share its clock, on several \
         machines pass the bound your clock sync guarantees",
        unsynchronised.join(", ")
    );
    (0, source)
}

/// The earliest agent's start, down to a whole ms (the history header counts ms).
pub fn origin_unix_us<'a>(records: impl Iterator<Item = &'a AgentRecord>) -> u64 {
    let earliest = records
        .map(|record| record.started_at_unix_us)
        .min()
        .unwrap_or(0);
    earliest / 1_000 * 1_000
}

/// Every agent's entries on the merged origin (`offset_us` = its start after the
/// origin), widened by `skew_us` on each side, ids unchanged; ordered by completion
/// (then id) like a single recorder receives them.
pub fn merge_entries(parts: &[(u64, &History)], skew_us: u64) -> Vec<HistoryEntry> {
    let mut entries: Vec<HistoryEntry> = Vec::new();
    for (offset_us, history) in parts {
        entries.extend(history.ops().map(Cow::into_owned).map(|mut entry| {
            entry.invoke_us += offset_us;
            entry.complete_us += offset_us;
            entry.intended_us = entry.intended_us.map(|intended| intended + offset_us);
            entry
        }));
    }
    let mut entries = widen(entries, skew_us);
    entries.sort_by_key(|entry| (entry.complete_us, entry.id));
    entries
}

/// Widens each entry's interval by `skew_us` on each side (the intended start moves
/// with the invoke).
fn widen(entries: Vec<HistoryEntry>, skew_us: u64) -> Vec<HistoryEntry> {
    entries
        .into_iter()
        .map(|mut entry| {
            entry.invoke_us = entry.invoke_us.saturating_sub(skew_us);
            entry.intended_us = entry
                .intended_us
                .map(|intended| intended.saturating_sub(skew_us));
            entry.complete_us = entry.complete_us.saturating_add(skew_us);
            entry
        })
        .collect()
}

/// What the merge read of the target after every agent was done.
struct FinalReads {
    /// One read of every supplied SKU, on the merged origin.
    entries: Vec<HistoryEntry>,
    quiesce: QuiesceReport,
    /// The service's own stores, when its adapter declares them.
    stores: Option<StoresSnapshot>,
    /// Who took the final reads, in words (`merge.json`).
    said: String,
}

/// After a black-box quiesce over the merged history, one read of every supplied SKU
/// and the service's own stores (when its adapter declares them), on the merged origin.
async fn take_final_reads(
    url: &str,
    options: &MergeOptions,
    first: &AgentFolder,
    entries: &[HistoryEntry],
    origin_us: u64,
) -> Result<FinalReads, MergeError> {
    let scenario = &first.scenario;
    let mut adapter = match &options.adapter {
        Some(file) => adapter::load(file)?,
        None => adapter::builtin(),
    };
    adapter.resolve_secrets()?;
    target::probe(url, adapter.health.as_deref()).await?;
    // The agents' label: the same SKU ids as theirs.
    let label = RunLabel::at(first.record.start_at_unix_ms, false);
    let bound = Bound::prepare(
        adapter,
        &crate::load::wire::op_client(None),
        url.trim_end_matches('/'),
        &scenario.sku_stock(),
        SETUP_TIMEOUT,
        &label,
    )
    .await?;
    let origin_ms = i64::try_from(origin_us / 1_000).unwrap_or(i64::MAX);
    let latest_deadline_ms = entries
        .iter()
        .filter_map(|entry| hold_deadline_ms(entry, origin_ms))
        .max();
    let quiesce = quiesce::black_box(
        latest_deadline_ms,
        scenario.checks.quiesce_timeout,
        scenario.checks.expiry_grace,
    )
    .await;
    let since_origin = Duration::from_micros(unix_us(SystemTime::now()).saturating_sub(origin_us));
    let zero = Instant::now()
        .checked_sub(since_origin)
        .unwrap_or_else(Instant::now);
    let finals = final_reads(&bound, scenario, first_harness_id_after(entries), zero).await;
    let stores = bound.read_stores().await;
    Ok(FinalReads {
        entries: finals,
        quiesce,
        stores,
        said: format!(
            "taken once by `stockproof merge` from {url} after every agent was done and a \
             black-box quiesce"
        ),
    })
}

/// The first harness op id above every harness op the agents recorded.
fn first_harness_id_after(entries: &[HistoryEntry]) -> OpId {
    entries
        .iter()
        .filter(|entry| entry.user.is_none())
        .map(|entry| entry.id + 1)
        .max()
        .unwrap_or(0)
}

/// Agent 1's facts, with the load figures of all agents added up and every agent's
/// notes kept.
fn merged_info(agents: &[AgentFolder], quiesce: &QuiesceReport, read_stores: bool) -> RunInfo {
    let mut info = agents[0].info.clone();
    let load_start = |agent: &AgentFolder| agent.record.load_started_at_unix_us;
    let started = agents.iter().map(load_start).min().unwrap_or(0);
    let ended = agents
        .iter()
        .map(|agent| load_start(agent) + agent.info.load.duration_ms * 1_000)
        .max()
        .unwrap_or(started);
    let figures = &mut info.load;
    figures.users = agents.iter().map(|agent| agent.record.users).sum();
    figures.duration_ms = (ended - started) / 1_000;
    for agent in &agents[1..] {
        let other = &agent.info.load;
        figures.carts += other.carts;
        figures.ops += other.ops;
        figures.ok += other.ok;
        figures.fail += other.fail;
        figures.unknown += other.unknown;
        figures.late_starts += other.late_starts;
        figures.dropped_starts += other.dropped_starts;
        figures.intended_starts += other.intended_starts;
        info.interrupted |= agent.info.interrupted;
        if info.target_silent.is_none() {
            info.target_silent.clone_from(&agent.info.target_silent);
        }
        for (step, count) in &agent.info.unmatched_replies {
            *info.unmatched_replies.entry(step.clone()).or_default() += count;
        }
    }
    figures.ops_per_s = figures.ops as f64 / (figures.duration_ms as f64 / 1e3).max(1e-3);
    info.quiesce = quiesce.notes.clone();
    for agent in agents {
        for note in &agent.record.notes {
            info.quiesce.push(format!(
                "agent {}/{}: {note}",
                agent.record.agent, agent.record.agents
            ));
        }
    }
    if read_stores {
        let c2 = crate::checks::CheckId::C2.as_str().to_owned();
        info.checks_not_applicable.retain(|check| *check != c2);
        if !info.checks_ran.contains(&c2) {
            info.checks_ran.push(c2);
        }
    }
    info
}

/// The agents' interval logs added into the merged `latency.hlog` (replacing the one
/// the reports rendered from the history: the same values, bucketed by each agent).
fn write_merged_hlog(out: &Path, agents: &[AgentFolder], origin_us: u64) -> Result<(), MergeError> {
    let mut texts = Vec::with_capacity(agents.len());
    for agent in agents {
        let path = agent.path.join("latency.hlog");
        let text = std::fs::read_to_string(&path).map_err(|error| MergeError::Hlog {
            folder: agent.path.clone(),
            reason: error.to_string(),
        })?;
        texts.push((text, agent.record.started_at_unix_us - origin_us));
    }
    let logs: Vec<AgentLog<'_>> = texts
        .iter()
        .map(|(text, offset_us)| AgentLog {
            text,
            offset_us: *offset_us,
        })
        .collect();
    let origin_ms = i64::try_from(origin_us / 1_000).unwrap_or(i64::MAX);
    let merged = hlog::merge(&logs, origin_ms).map_err(|reason| MergeError::Hlog {
        folder: out.to_owned(),
        reason,
    })?;
    let path = out.join("latency.hlog");
    std::fs::write(&path, merged).map_err(|error| {
        MergeError::Folder(FolderError {
            path,
            reason: error.to_string(),
        })
    })
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), FolderError> {
    let failed = |reason: String| FolderError {
        path: path.to_owned(),
        reason,
    };
    let text = serde_json::to_string_pretty(value).map_err(|error| failed(error.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|error| failed(error.to_string()))
}

/// The "Agents" section of summary.md: who ran what, the origin, the skew bound and
/// what it does, who took the final reads.
pub fn summary_section(record: &MergeRecord) -> String {
    let mut text = format!(
        "\n## Agents\n\nMerged from {} load agents of one plan (`stockproof merge`), \
         started at {}:\n\n",
        record.agents.len(),
        record
            .agents
            .first()
            .map_or("?", |agent| agent.start_at.as_str())
    );
    for (agent, folder) in record.agents.iter().zip(&record.folders) {
        text.push_str(&format!(
            "- agent {}/{}: {} users, wall-clock start {} µs after the origin, clock-skew \
             bound {} µs{} (`{folder}`)\n",
            agent.agent,
            agent.agents,
            agent.users,
            agent.started_at_unix_us - record.origin_unix_us,
            agent.clock_skew_us,
            if agent.clock_skew_declared {
                ""
            } else {
                " (not declared)"
            },
        ));
    }
    text.push_str(&format!(
        "\nTime origin: the earliest agent's start ({} µs since the Unix epoch, UTC). \
         Clock-skew bound: {} µs, {}. Every op's interval was widened by it on each side \
         (invoke − bound, complete + bound): skew can loosen a check's bound but never \
         raise a false alarm; latencies are as each agent measured them. `latency.hlog` \
         holds the agents' interval histograms added, never percentiles averaged. Final \
         reads: {}.\n",
        record.origin_unix_us, record.clock_skew_us, record.clock_skew_source, record.final_reads
    ));
    text
}

fn append_summary(out: &Path, record: &MergeRecord) {
    let path = out.join("summary.md");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(&summary_section(record));
    if let Err(error) = std::fs::write(&path, text) {
        tracing::warn!(%error, "appending the agents to summary.md");
    }
}

/// For `stockproof check`: the widening of a merged folder (0 for any other), or the
/// record of a lone agent's folder, which must be merged before it is judged.
pub fn folder_kind(folder: &Path) -> Result<FolderKind, MergeError> {
    let merged = folder.join(MERGE_FILE);
    if merged.exists() {
        let text = std::fs::read_to_string(&merged).map_err(|error| MergeError::Out {
            path: merged.clone(),
            reason: error.to_string(),
        })?;
        let record: MergeRecord = serde_json::from_str(&text).map_err(|error| MergeError::Out {
            path: merged.clone(),
            reason: error.to_string(),
        })?;
        return Ok(FolderKind::Merged {
            widening_us: record.clock_skew_us,
        });
    }
    if folder.join(crate::run::agent::AGENT_FILE).exists() {
        return Ok(FolderKind::Agent(read_record(folder)?));
    }
    Ok(FolderKind::Run)
}

/// What `stockproof check` was given.
#[derive(Debug)]
pub enum FolderKind {
    /// A run of one process.
    Run,
    /// A merged run; intervals widened by this much on each side.
    Merged { widening_us: u64 },
    /// One agent's share: not judged alone.
    Agent(AgentRecord),
}

#[cfg(test)]
mod tests;
