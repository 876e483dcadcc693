//! `stockproof run SCENARIO --target URL --agent I/N --start-at TIME`: one load agent's
//! share of the seeded plan (`crate::plan::agent`), for load spread over several
//! machines. Every agent runs the same scenario and seed against the same target and
//! starts its load at the common wall-clock `--start-at`; the run label (keys, SKU ids)
//! derives from that instant, so the agents send one run's keys without talking.
//!
//! Who does what: agent 1 alone seeds the stock (before the start time) and sends the
//! scheduled restocks; the others read every seeded SKU until it exists (at most
//! [`SEEDED_WAIT_MAX`] past the start time) before starting. No agent quiesces or reads
//! the final stock: an agent cannot know when the others are done, so `stockproof
//! merge` takes those reads once, after all of them. An agent's folder is therefore not
//! judged on its own (its checks would miss the other agents' takes): it holds the
//! history (`history.jsonl.zst`, streamed as a run's is), `run.json`, `latency.hlog`
//! and `agent.json` (agent I/N, its wall-clock start in µs, its declared clock-skew
//! bound and its clock's measured error bound, `clock`; written before the load
//! starts) for the merge.
//!
//! Not here: merging (`crate::merge`), the single-process pipeline (`super`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::quiesce::QuiesceReport;
use super::target::Target;
use super::{FINAL_READ_TIMEOUT, RunError, RunOptions, TargetChoice, folder};
use crate::adapter::{self, Bound, Capability, RunLabel, Session};
use crate::history::{HistoryHeader, Op, OpId, OpKind, Outcome};
use crate::load::recorder::LoadCounts;
use crate::load::{LoadError, LoadRecord, LoadSpec, run_load};
use crate::plan::Plan;
use crate::plan::agent::AgentShare;
use crate::scenario::Scenario;

/// A `--start-at` this far in the past is still taken (the agent starts at once): pods
/// of one Job are scheduled a little apart.
pub const START_AT_PAST_GRACE: Duration = Duration::from_secs(2);
/// A `--start-at` further ahead than this is taken for a mistake (a wrong date).
pub const START_AT_AHEAD_MAX: Duration = Duration::from_secs(24 * 3600);
/// How long past the start time agents 2…N wait for agent 1's seeding to show.
pub const SEEDED_WAIT_MAX: Duration = Duration::from_secs(60);
/// Pause between two reads of a SKU that agent 1 has not seeded yet.
const SEEDED_POLL: Duration = Duration::from_millis(200);
/// Longest single sleep before the start time, so that Ctrl-C is noticed.
const START_SLEEP_SLICE: Duration = Duration::from_millis(50);
/// A load that starts later than this after `--start-at` is noted in the folder: the
/// timer wakes a few ms late (seen: 2-4 ms on a loaded machine), which is not worth
/// a note.
const START_LATE_NOTE_AFTER: Duration = Duration::from_millis(20);
/// The agent's file in its run folder.
pub const AGENT_FILE: &str = "agent.json";
pub const AGENT_FORMAT_VERSION: u32 = 1;

/// How this process takes part (the command line's `--agent`, `--start-at`, `--clock-skew`).
#[derive(Debug, Clone, Copy)]
pub struct AgentOptions {
    pub share: AgentShare,
    pub start_at: SystemTime,
    /// The declared bound on how far this machine's clock may be from the others';
    /// `None`: not declared (0 is recorded, and said).
    pub clock_skew: Option<Duration>,
}

/// `agent.json`: what the merge needs to know about one agent's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub format_version: u32,
    pub scenario: String,
    pub seed: u64,
    /// I of I/N (1-based).
    pub agent: u32,
    /// N of I/N.
    pub agents: u32,
    /// The plan's users this agent ran.
    pub users: u32,
    /// The plan's users, all agents together (the scenario's, or `--users`): the
    /// partition depends on it, so every agent must have the same.
    pub users_total: u32,
    /// `--start-at`, RFC 3339 UTC.
    pub start_at: String,
    /// `--start-at` in ms since the Unix epoch: the run label's serial.
    pub start_at_unix_ms: u64,
    /// The run label's id, shared by all agents (it names keys and SKUs).
    pub run_label: String,
    /// Wall-clock time (UTC, µs since the Unix epoch) of this folder's time zero:
    /// every time in its history and `latency.hlog` counts from it.
    pub started_at_unix_us: u64,
    /// Wall-clock time at which this agent's load started.
    pub load_started_at_unix_us: u64,
    /// The declared clock-skew bound, µs.
    pub clock_skew_us: u64,
    /// Whether the bound was declared (`--clock-skew`) or is the unstated 0.
    pub clock_skew_declared: bool,
    /// The kernel's error bound of this machine's clock when the agent started, µs
    /// (`clock::sync_error_bound_us`); `None`: not synchronised, or an older folder.
    #[serde(default)]
    pub clock_error_bound_us: Option<u64>,
    pub notes: Vec<String>,
}

/// Why an agent could not run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("--start-at `{text}`: {reason}")]
    StartAt { text: String, reason: String },
    #[error("--agent needs --target: each agent drives one shared service")]
    InProcess,
    #[error(
        "--agent: scenario `{scenario}` names no seed; every agent must run the same plan: \
         pass the same --seed to each"
    )]
    NoSeed { scenario: String },
    #[error("--agent {share}: scenario `{scenario}` has {users} users, none for this agent")]
    NoUsers {
        share: AgentShare,
        scenario: String,
        users: u32,
    },
    #[error("--agent: scenario `{0}` injects faults; agents do not (run it as one process)")]
    Faults(String),
    #[error(
        "agent {share}: `{sku}` was not seeded {} s after --start-at (agent 1 seeds the stock: \
         is it running, with the same --start-at?)",
        SEEDED_WAIT_MAX.as_secs()
    )]
    NotSeeded { share: AgentShare, sku: String },
    #[error("agent.json in {}: {reason}", folder.display())]
    Record { folder: PathBuf, reason: String },
}

impl AgentError {
    pub fn exit_code(&self) -> u8 {
        match self {
            AgentError::NotSeeded { .. } | AgentError::Record { .. } => crate::checks::EXIT_INFRA,
            _ => crate::checks::EXIT_USAGE,
        }
    }
}

/// What an agent recorded.
#[derive(Debug)]
pub struct AgentOutcome {
    pub folder: PathBuf,
    pub record: AgentRecord,
    pub counts: LoadCounts,
}

/// Parses `--start-at` (RFC 3339; any offset, recorded as UTC) and refuses a time more
/// than [`START_AT_PAST_GRACE`] before `now` or [`START_AT_AHEAD_MAX`] after it.
pub fn parse_start_at(text: &str, now: SystemTime) -> Result<SystemTime, AgentError> {
    let error = |reason: String| AgentError::StartAt {
        text: text.to_owned(),
        reason,
    };
    let time = DateTime::parse_from_rfc3339(text).map_err(|parse| {
        error(format!(
            "not an RFC 3339 instant ({parse}); e.g. 2026-12-03T21:00:00Z"
        ))
    })?;
    let time = SystemTime::from(time.with_timezone(&Utc));
    if let Ok(past) = now.duration_since(time)
        && past > START_AT_PAST_GRACE
    {
        return Err(error(format!(
            "{:.1} s in the past (grace {} s): compute it once, a little ahead of the \
             slowest agent's start, and pass it to every agent",
            past.as_secs_f64(),
            START_AT_PAST_GRACE.as_secs()
        )));
    }
    if let Ok(ahead) = time.duration_since(now)
        && ahead > START_AT_AHEAD_MAX
    {
        return Err(error(format!(
            "{} h ahead (at most {} h)",
            ahead.as_secs() / 3600,
            START_AT_AHEAD_MAX.as_secs() / 3600
        )));
    }
    Ok(time)
}

/// `2026-12-03T21:00:00.000000Z`.
pub fn rfc3339(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn unix_us(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
    })
}

/// Reads `agent.json` from an agent's run folder.
pub fn read_record(folder: &Path) -> Result<AgentRecord, AgentError> {
    let error = |reason: String| AgentError::Record {
        folder: folder.to_owned(),
        reason,
    };
    let path = folder.join(AGENT_FILE);
    let text = std::fs::read_to_string(&path).map_err(|io| {
        error(format!(
            "{io}: not an agent's folder (written by `stockproof run --agent I/N`)"
        ))
    })?;
    let record: AgentRecord =
        serde_json::from_str(&text).map_err(|json| error(json.to_string()))?;
    if record.format_version > AGENT_FORMAT_VERSION {
        return Err(error(format!(
            "format_version {} is newer than this stockproof reads ({AGENT_FORMAT_VERSION})",
            record.format_version
        )));
    }
    Ok(record)
}

/// Runs this agent's share of the scenario in `path` into its folder, which is made
/// before the seeding and whose history the agent streams into (like a run's); a
/// failure before the load ends removes the folder.
pub async fn run_agent(
    path: &Path,
    options: &RunOptions,
    agent: &AgentOptions,
) -> Result<AgentOutcome, RunError> {
    crate::load::interrupt::install().map_err(LoadError::from)?;
    let scenario = super::prepare(path, &options.overrides)?;
    let mut adapter = match &options.adapter {
        Some(file) => adapter::load(file)?,
        None => adapter::builtin(),
    };
    adapter.resolve_secrets()?;
    let scenario = super::fit_to(scenario, &adapter);
    super::check_fit(&scenario, &adapter)?;
    let seed = refusals(&scenario, options, agent)?;
    let label = RunLabel::at(unix_us(agent.start_at) / 1_000, false);
    let target = match &options.target {
        TargetChoice::External(url) => Target::External { url: url.clone() },
        TargetChoice::InProcess(_) => return Err(AgentError::InProcess.into()),
    };
    let bound = super::bind(adapter, &scenario, target.url(), &label).await?;
    let plan = Plan::for_run(&scenario, seed, &label.id);
    let name = format!(
        "{}-agent{}of{}",
        scenario.name, agent.share.index, agent.share.count
    );
    let folder = folder::create(&options.report_dir, &name)?;
    let run = AgentRun {
        path,
        folder: &folder,
        scenario: &scenario,
        plan: &plan,
        label: &label,
    };
    let driven = match drive(&run, &bound, agent, options).await {
        Ok(driven) => driven,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&folder);
            return Err(error);
        }
    };
    let quiesce = QuiesceReport {
        waited: Duration::ZERO,
        settled: true,
        notes: vec![format!(
            "agent {}: no quiesce and no final reads here; `stockproof merge` takes them \
             once every agent is done",
            agent.share
        )],
    };
    let mut info = super::run_info(path, &scenario, seed, &target, &driven.load, &quiesce);
    super::record_capabilities(&mut info, &bound.adapter);
    info.unmatched_replies = bound.unmatched();
    info.load.users = agent.share.users(scenario.load.users);
    folder::write(&folder, &info, None, None)?;
    write_latency_log(&folder, &driven.load.latencies, driven.started_at_unix_ms)?;
    Ok(AgentOutcome {
        folder,
        record: driven.record,
        counts: driven.load.counts,
    })
}

/// What the agent runs and where it writes.
struct AgentRun<'a> {
    path: &'a Path,
    folder: &'a Path,
    scenario: &'a Scenario,
    plan: &'a Plan,
    label: &'a RunLabel,
}

/// What an agent's load left (its history, seeds if agent 1 then its shoppers' ops,
/// is in its folder, finished): the load's record, `agent.json`'s record, and the
/// history's time zero.
struct Driven {
    load: LoadRecord,
    record: AgentRecord,
    started_at_unix_ms: i64,
}

/// Opens the folder's history, seeds (agent 1) or waits for the seeding (the others),
/// waits for the start time, writes `agent.json` (from then on the folder is an
/// agent's, which `check` refuses alone), runs this agent's share of the load with its
/// ops appended as they are recorded, and finishes the history.
async fn drive(
    run: &AgentRun<'_>,
    bound: &Arc<Bound>,
    agent: &AgentOptions,
    options: &RunOptions,
) -> Result<Driven, RunError> {
    let scenario = run.scenario;
    let zero = Instant::now();
    let started_at = SystemTime::now();
    let header = agent_header(scenario, run.plan, bound, started_at);
    let mut history = folder::start(run.folder, run.path, &header)?;
    let mut notes = Vec::new();
    let seeds = if agent.share.seeds() {
        let stock: Vec<(String, i64)> = scenario
            .initial_stock()
            .map(|(sku, qty)| (sku.to_owned(), qty))
            .collect();
        super::seed::seed_stock(bound, &stock, 0, zero).await?
    } else {
        wait_for_seeding(bound, scenario, agent, &mut notes).await?;
        Vec::new()
    };
    super::append(&mut history, &seeds)?;
    wait_until(agent.start_at, &mut notes).await;
    let load_started_at = SystemTime::now();
    let times = (started_at, load_started_at);
    let record = agent_record(scenario, run.plan.seed(), (agent, run.label), times, notes);
    write_agent_record(run.folder, &record)?;
    let mut spec = LoadSpec::new(scenario, Arc::clone(bound), zero);
    spec.progress = options.progress;
    spec.share = agent.share;
    spec.started_at_unix_ms = header.started_at_unix_ms;
    // The start time is every agent's: their users' slots interleave on one grid.
    spec.pacing_zero = Instant::now();
    spec.harness_op_id_first = seeds.len() as OpId;
    if !agent.share.seeds() {
        spec.restocks.clear();
    }
    let mut load = run_load(&spec, run.plan, Some(history)).await?;
    std::mem::replace(&mut load.history, Ok(None))
        .map_err(super::history_failed)?
        .expect("the recorder hands back the writer it was given")
        .finish()
        .map_err(super::history_failed)?;
    Ok(Driven {
        load,
        record,
        started_at_unix_ms: header.started_at_unix_ms,
    })
}

/// The agent's history header: its time zero is its own start (whole ms).
fn agent_header(
    scenario: &Scenario,
    plan: &Plan,
    bound: &Bound,
    started_at: SystemTime,
) -> HistoryHeader {
    let mut header = HistoryHeader::new(
        &scenario.name,
        plan.seed(),
        i64::try_from(unix_us(started_at) / 1_000).unwrap_or(i64::MAX),
        i64::try_from(scenario.engine.idempotency_retention.as_millis()).unwrap_or(i64::MAX),
    );
    header.replays_told_apart = bound.adapter.tells_replays_apart();
    header.ttl_ignored = bound.adapter.lacks(Capability::Ttl);
    header
}

/// `agent.json`: this agent's facts, its start (`times`: the history's time zero and
/// the load's start) and its notes so far.
fn agent_record(
    scenario: &Scenario,
    seed: u64,
    (agent, label): (&AgentOptions, &RunLabel),
    (started_at, load_started_at): (SystemTime, SystemTime),
    notes: Vec<String>,
) -> AgentRecord {
    AgentRecord {
        format_version: AGENT_FORMAT_VERSION,
        scenario: scenario.name.clone(),
        seed,
        agent: agent.share.index,
        agents: agent.share.count,
        users: agent.share.users(scenario.load.users),
        users_total: scenario.load.users,
        start_at: rfc3339(agent.start_at),
        start_at_unix_ms: unix_us(agent.start_at) / 1_000,
        run_label: label.id.clone(),
        started_at_unix_us: unix_us(started_at),
        load_started_at_unix_us: unix_us(load_started_at),
        clock_skew_us: agent.clock_skew.map_or(0, |skew| {
            u64::try_from(skew.as_micros()).unwrap_or(u64::MAX)
        }),
        clock_skew_declared: agent.clock_skew.is_some(),
        clock_error_bound_us: clock::sync_error_bound_us(),
        notes,
    }
}

/// The seed every agent must share; refuses what agents cannot run.
fn refusals(
    scenario: &Scenario,
    options: &RunOptions,
    agent: &AgentOptions,
) -> Result<u64, AgentError> {
    if !scenario.faults.is_empty() {
        return Err(AgentError::Faults(scenario.name.clone()));
    }
    if agent.share.users(scenario.load.users) == 0 {
        return Err(AgentError::NoUsers {
            share: agent.share,
            scenario: scenario.name.clone(),
            users: scenario.load.users,
        });
    }
    options
        .seed
        .or(scenario.seed)
        .ok_or_else(|| AgentError::NoSeed {
            scenario: scenario.name.clone(),
        })
}

fn failed(path: PathBuf, reason: String) -> folder::FolderError {
    folder::FolderError { path, reason }
}

/// Writes `agent.json`.
fn write_agent_record(folder: &Path, record: &AgentRecord) -> Result<(), folder::FolderError> {
    let path = folder.join(AGENT_FILE);
    let text = serde_json::to_string_pretty(record)
        .map_err(|error| failed(path.clone(), error.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(|error| failed(path.clone(), error.to_string()))
}

/// Writes `latency.hlog` (the agent's interval log, for the merge).
fn write_latency_log(
    folder: &Path,
    latencies: &crate::latency::Latencies,
    started_at_unix_ms: i64,
) -> Result<(), folder::FolderError> {
    let path = folder.join("latency.hlog");
    let log = crate::report::hlog::render(latencies, started_at_unix_ms)
        .map_err(|reason| failed(path.clone(), reason))?;
    std::fs::write(&path, log).map_err(|error| failed(path, error.to_string()))
}

/// Agents 2…N: reads every SKU agent 1 seeds until it exists (a SKU exists once its
/// seeding restock is applied), for at most [`SEEDED_WAIT_MAX`] past the start time.
async fn wait_for_seeding(
    bound: &Bound,
    scenario: &Scenario,
    agent: &AgentOptions,
    notes: &mut Vec<String>,
) -> Result<(), AgentError> {
    if !bound.adapter.supports(OpKind::GetSku) {
        notes.push(
            "the adapter cannot read a SKU: the start time alone orders agent 1's seeding \
             before this agent's load"
                .to_owned(),
        );
        return Ok(());
    }
    let deadline = agent.start_at + SEEDED_WAIT_MAX;
    let client = crate::load::wire::op_client(None);
    let session = Session::new(0);
    for (sku, _) in scenario.initial_stock().filter(|(_, qty)| *qty > 0) {
        let op = Op::GetSku {
            sku: sku.to_owned(),
        };
        loop {
            let reply = bound.send(&client, &op, FINAL_READ_TIMEOUT, &session).await;
            if reply.outcome == Outcome::Ok {
                break;
            }
            if SystemTime::now() > deadline || crate::load::interrupt::interrupted() {
                return Err(AgentError::NotSeeded {
                    share: agent.share,
                    sku: sku.to_owned(),
                });
            }
            tokio::time::sleep(SEEDED_POLL).await;
        }
    }
    Ok(())
}

/// Sleeps until `start_at` (wall clock), noting a start that came late.
async fn wait_until(start_at: SystemTime, notes: &mut Vec<String>) {
    loop {
        if crate::load::interrupt::interrupted() {
            return;
        }
        match start_at.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => tokio::time::sleep(left.min(START_SLEEP_SLICE)).await,
            Ok(_) => return,
            Err(late) => {
                let late = late.duration();
                if late > START_LATE_NOTE_AFTER {
                    notes.push(format!(
                        "the load started {} ms after --start-at (set-up or seeding took longer)",
                        late.as_millis()
                    ));
                }
                return;
            }
        }
    }
}

pub mod clock;
#[cfg(test)]
mod tests;
