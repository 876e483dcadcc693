//! `stockproof run`, one scenario end to end (DESIGN §7): scenario → seeded plan →
//! target (the reference engine in process on fresh Redis + Postgres, or an external
//! URL) → seed stock → load (goose, recorded) → quiesce → final reads → white-box
//! snapshot (in process only) → checks → run folder → exit code. Every step is bounded;
//! a failure before the load is an error with its exit code (2 scenario, 4 infra), and
//! anything after the load starts ends in a verdict on what was recorded.
//!
//! Not here: the command line (the binary's `run_cmd`), the load itself (`crate::load`),
//! judging (`crate::judge`), rendering (`crate::report`).

pub mod agent;
pub mod calibrate;
pub mod faults;
pub mod folder;
pub mod quiesce;
pub mod seed;
pub mod stores;
pub mod target;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use stockproof_checks::duration::format_duration;
use stockproof_engine::strategy::Strategy;
use stockproof_engine::variants::Variant;
use tokio_util::sync::CancellationToken;

use stockproof_infra::InfraConfig;

use self::quiesce::QuiesceReport;
use self::target::{Target, TargetError};
use crate::adapter::{self, Adapter, AdapterError, Bound, Capability, PrepareError, Session};
use crate::checks::resources::Resources;
use crate::checks::stores::StoresSnapshot;
use crate::checks::{CheckId, EXIT_INFRA, EXIT_USAGE, RunVerdict, WhiteBoxSnapshot};
use crate::history::{
    HISTORY_FILE, History, HistoryEntry, HistoryError, HistoryHeader, HistoryWriter, Op, OpId,
    OpKind, read_history,
};
use crate::judge::RecordedRun;
use crate::judge::record::{
    FaultLine, LoadFigures, LossWindow, RUN_INFO_FORMAT_VERSION, RunInfo, applicable_checks,
};
use crate::latency::Latencies;
use crate::load::progress::ProgressMode;
use crate::load::recorder::micros_since;
use crate::load::{LoadError, LoadRecord, LoadSpec, run_load};
use crate::plan::Plan;
use crate::resources::{Sampler, Source};
use crate::scenario::{self, Overrides, Scenario, ScenarioError, SloMetric};

/// Timeout of each final `GET` of a SKU after quiesce.
pub const FINAL_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Timeout of each request of an adapter's setup (log in, create products).
pub const SETUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Where the load goes.
#[derive(Debug, Clone)]
pub enum TargetChoice {
    /// The reference engine, in process, on Redis and Postgres from this provider.
    InProcess(InfraConfig),
    /// A service speaking the contract; only the black-box checks apply.
    External(String),
}

/// How to run scenarios.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub target: TargetChoice,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    pub report_dir: PathBuf,
    pub overrides: Overrides,
    pub progress: ProgressMode,
    /// Serve this deliberately broken engine instead of the reference (in process
    /// only; never the default).
    pub variant: Option<Variant>,
    /// The inventory design served in process (`--strategy`; ignored for an external
    /// target).
    pub strategy: Strategy,
    /// How to speak to an external target (`--adapter`); `None`: the contract.
    pub adapter: Option<PathBuf>,
    /// An external target's Prometheus `/metrics` URL (`--metrics`), sampled during the
    /// load; `None`: the adapter's `metrics`, if it names one.
    pub metrics: Option<String>,
    /// Time between two samples of the target's resources (`--sample-interval`).
    pub sample_interval: std::time::Duration,
}

/// Why a scenario could not be run to a verdict.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Seed(#[from] seed::SeedError),
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    /// The scenario asks what the adapter cannot do (an op it lacks, longer carts).
    #[error("adapter {adapter} cannot run scenario {scenario}: {reason}")]
    Unfit {
        adapter: String,
        scenario: String,
        reason: String,
    },
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error("the load could not run: {0}")]
    Load(#[from] LoadError),
    #[error(transparent)]
    Folder(#[from] folder::FolderError),
    /// A fault this run cannot inject (said before any load).
    #[error("{0}")]
    Fault(String),
    /// What a load agent (`--agent`) cannot do, or its start that failed.
    #[error(transparent)]
    Agent(#[from] agent::AgentError),
    /// The target's resources cannot be sampled as the scenario's resource SLOs ask.
    #[error(transparent)]
    Resources(#[from] crate::resources::ResourcesError),
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Scenario(_)
            | RunError::Fault(_)
            | RunError::Adapter(_)
            | RunError::Unfit { .. }
            | RunError::Resources(crate::resources::ResourcesError::Unfit { .. }) => EXIT_USAGE,
            RunError::Target(_)
            | RunError::Seed(_)
            | RunError::Load(_)
            | RunError::Folder(_)
            | RunError::Prepare(_)
            | RunError::Resources(_) => EXIT_INFRA,
            RunError::Agent(error) => error.exit_code(),
        }
    }
}

/// A scenario's verdict and where its files are.
#[derive(Debug)]
pub struct RunOutcome {
    pub scenario: Scenario,
    pub seed: u64,
    pub folder: PathBuf,
    pub verdict: RunVerdict,
    pub exit_code: u8,
    pub info: RunInfo,
    pub history: History,
    /// The history's latencies, computed once for the judge and the reports; the
    /// command prints from these rather than computing them again.
    pub latencies: Latencies,
}

/// Reads and validates a scenario file with the command line's overrides applied.
pub fn prepare(path: &Path, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    let mut scenario = scenario::load(path)?;
    scenario.apply(overrides)?;
    Ok(scenario)
}

/// Runs the scenario in `path` end to end.
pub async fn run_scenario(path: &Path, options: &RunOptions) -> Result<RunOutcome, RunError> {
    let scenario = prepare(path, &options.overrides)?;
    run_prepared(path, scenario, options).await
}

/// Runs `scenario`, read from `path` and already changed as the caller needs (`bench`
/// sets each step's arrival rate and length), end to end.
pub async fn run_prepared(
    path: &Path,
    scenario: Scenario,
    options: &RunOptions,
) -> Result<RunOutcome, RunError> {
    // Before anything starts, so that a Ctrl-C while the servers start still ends in a
    // report (of a load that never ran) instead of killing the process.
    crate::load::interrupt::install().map_err(LoadError::from)?;
    let mut adapter = match &options.adapter {
        Some(file) => adapter::load(file)?,
        None => adapter::builtin(),
    };
    adapter.resolve_secrets()?;
    let scenario = fit_to(scenario, &adapter);
    check_fit(&scenario, &adapter)?;
    let seed = options.seed.or(scenario.seed).unwrap_or_else(fresh_seed);
    let in_process = matches!(options.target, TargetChoice::InProcess(_));
    let label = adapter::RunLabel::now(in_process);
    // Keys carry the run's id: on a service that outlives runs, a key an earlier run
    // sent would otherwise be answered as its replay.
    let plan = Plan::for_run(&scenario, seed, &label.id);
    let target = match &options.target {
        TargetChoice::InProcess(config) => {
            let mut config = config.clone();
            if let Some(aof) = scenario.engine.redis_aof {
                config.aof = aof;
            }
            Target::start_in_process(
                &config,
                &scenario.name,
                scenario.engine.idempotency_retention,
                !scenario.faults.is_empty(),
                options.variant,
                options.strategy,
            )
            .await?
        }
        TargetChoice::External(url) => {
            let written = scenario.faults.iter().map(|spec| &spec.action);
            if let Some(refusal) = faults::refusal(written, false, false) {
                return Err(RunError::Fault(refusal));
            }
            Target::External { url: url.clone() }
        }
    };
    if let Target::InProcess(in_process) = &target {
        let local = in_process.infra.lock().await.local().is_some();
        let planned = crate::faults::plan(&scenario.faults, in_process.strategy);
        let injected = planned
            .iter()
            .filter_map(crate::faults::PlannedFault::injects);
        if let Some(refusal) = faults::refusal(injected, true, local) {
            target.stop().await;
            return Err(RunError::Fault(refusal));
        }
    }
    let outcome = drive(path, &scenario, &plan, &target, (adapter, &label), options).await;
    let Driven {
        folder,
        mut info,
        stores,
        resources,
    } = match outcome {
        Ok(driven) => driven,
        Err(error) => {
            target.stop().await;
            return Err(error);
        }
    };
    let snapshot = finish_target(target, &mut info).await;
    let evidence = Evidence {
        snapshot,
        stores,
        resources,
    };
    judge(folder, scenario, seed, evidence, info)
}

/// What [`drive`] leaves: the run folder (scenario and history written), the facts of
/// `run.json`, the service's own stores if its adapter reads them, and the resources
/// sampled during the load.
struct Driven {
    folder: PathBuf,
    info: RunInfo,
    stores: Option<StoresSnapshot>,
    resources: Option<Resources>,
}

/// Probe, then (into a new run folder whose history the run streams into) seed, load
/// (sampling the target's resources), quiesce, final reads. A run that fails after the
/// folder was made removes it.
async fn drive(
    path: &Path,
    scenario: &Scenario,
    plan: &Plan,
    target: &Target,
    (adapter, label): (Adapter, &adapter::RunLabel),
    options: &RunOptions,
) -> Result<Driven, RunError> {
    let resource_source = resource_source(target, options, adapter.metrics.as_deref());
    let bound = bind(adapter, scenario, target.url(), label).await?;
    let zero = Instant::now();
    let started_at_unix_ms = quiesce::unix_ms();
    let mut header = HistoryHeader::new(
        &scenario.name,
        plan.seed(),
        started_at_unix_ms,
        i64::try_from(scenario.engine.idempotency_retention.as_millis()).unwrap_or(i64::MAX),
    );
    header.replays_told_apart = bound.adapter.tells_replays_apart();
    header.ttl_ignored = bound.adapter.lacks(Capability::Ttl);
    let folder = folder::create(&options.report_dir, &scenario.name)?;
    let recorded = match folder::start(&folder, path, &header) {
        Ok(history) => {
            let clock = (zero, started_at_unix_ms);
            let sources = (history, &resource_source);
            record(
                path, scenario, plan, target, &bound, clock, sources, options,
            )
            .await
        }
        Err(error) => Err(error.into()),
    };
    match recorded {
        Ok((info, stores, resources)) => Ok(Driven {
            folder,
            info,
            stores,
            resources,
        }),
        Err(error) => {
            let _ = std::fs::remove_dir_all(&folder);
            Err(error)
        }
    }
}

/// The facts of `run.json`, the service's own stores, the sampled resources.
type Recorded = (RunInfo, Option<StoresSnapshot>, Option<Resources>);

/// Seed, load, quiesce, final reads, every op appended to `history` as it is made
/// (seeds, the load, final reads, then the faults); the history is finished here.
#[allow(clippy::too_many_arguments)]
async fn record(
    path: &Path,
    scenario: &Scenario,
    plan: &Plan,
    target: &Target,
    bound: &Arc<Bound>,
    (zero, started_at_unix_ms): (Instant, i64),
    (mut history, resource_source): (HistoryWriter, &Source),
    options: &RunOptions,
) -> Result<Recorded, RunError> {
    let stock: Vec<(String, i64)> = scenario
        .initial_stock()
        .map(|(sku, qty)| (sku.to_owned(), qty))
        .collect();
    let seeds = seed::seed_stock(bound, &stock, 0, zero).await?;
    append(&mut history, &seeds)?;
    let mut spec = LoadSpec::new(scenario, Arc::clone(bound), zero);
    spec.progress = options.progress;
    spec.harness_op_id_first = seeds.len() as OpId;
    spec.started_at_unix_ms = started_at_unix_ms;
    let (fault_targets, hooks) = fault_targets(target, scenario);
    // The faults as the served strategy takes them (counterparts on Postgres for a
    // strategy without Redis); an external target gets none.
    let planned = match target {
        Target::InProcess(in_process) => crate::faults::plan(&scenario.faults, in_process.strategy),
        Target::External { .. } => Vec::new(),
    };
    let load_over = CancellationToken::new();
    let load_started = tokio::time::Instant::now();
    let schedule = async {
        match &fault_targets {
            Some(fault_targets) if !planned.is_empty() => {
                crate::faults::run_schedule(
                    &planned,
                    fault_targets,
                    load_started,
                    &spec.ops_completed,
                    &load_over,
                )
                .await
            }
            _ => Vec::new(),
        }
    };
    let sampler = Sampler::start(
        resource_source,
        &resource_slos(scenario),
        zero,
        options.sample_interval,
    )
    .await?;
    let load = async {
        let load = run_load(&spec, plan, Some(history)).await;
        load_over.cancel();
        load
    };
    let (load, fault_records) = tokio::join!(load, schedule);
    let resources = sampler.finish().await;
    let mut load = load?;
    let mut history = std::mem::replace(&mut load.history, Ok(None))
        .map_err(history_failed)?
        .expect("the recorder hands back the writer it was given");
    let quiesce = settle(target, scenario, &load).await;
    let final_reads_first = (seeds.len() + scenario.restocks.len()) as OpId;
    let finals = final_reads(bound, scenario, final_reads_first, zero).await;
    append(&mut history, &finals)?;
    let faults_first = final_reads_first + finals.len() as OpId;
    append(
        &mut history,
        &faults::fault_entries(&fault_records, zero, faults_first),
    )?;
    history.finish().map_err(history_failed)?;
    let stores = bound.read_stores().await;
    let mut info = run_info(path, scenario, plan.seed(), target, &load, &quiesce);
    record_capabilities(&mut info, &bound.adapter);
    info.unmatched_replies = bound.unmatched();
    if stores.is_some() {
        // The service's own stores were read: C2 judges them.
        info.checks_not_applicable
            .retain(|check| check != CheckId::C2.as_str());
        info.checks_ran.push(CheckId::C2.as_str().to_owned());
    }
    if let Some(hooks) = hooks {
        let kills = hooks.losses.lock().await.clone();
        if faults::kills_redis(&planned) {
            info.loss_window = Some(LossWindow::new(
                kills,
                scenario.checks.loss_tolerance_events,
            ));
        }
    }
    info.faults = fault_records
        .iter()
        .map(|record| FaultLine {
            description: record.description.clone(),
            detail: record.detail.clone(),
            injected: record.injected,
            not_applicable: record.not_applicable,
        })
        .collect();
    Ok((info, stores, resources))
}

/// What the run samples: the in-process engine's stores, or an external target's
/// `/metrics` (`--metrics`, else the adapter's `metrics`, a path on the target or a
/// URL).
fn resource_source(target: &Target, options: &RunOptions, adapter_metrics: Option<&str>) -> Source {
    match target {
        Target::InProcess(in_process) => Source::InProcess {
            redis_url: in_process.redis_url.clone(),
            database_url: in_process.database_url.clone(),
            shop: in_process.shop.clone(),
            strategy: in_process.strategy,
        },
        Target::External { .. } => {
            let metrics_url = options.metrics.clone().or_else(|| {
                adapter_metrics.map(|metrics| match metrics.starts_with('/') {
                    true => format!("{}{metrics}", target.url()),
                    false => metrics.to_owned(),
                })
            });
            Source::External { metrics_url }
        }
    }
}

/// The scenario's resource SLOs as `(text, series)`.
fn resource_slos(scenario: &Scenario) -> Vec<(String, String)> {
    scenario
        .slos
        .iter()
        .filter_map(|slo| match &slo.metric {
            SloMetric::Resource { series, .. } => Some((slo.text.clone(), series.clone())),
            _ => None,
        })
        .collect()
}

pub(crate) fn append(
    history: &mut HistoryWriter,
    entries: &[HistoryEntry],
) -> Result<(), RunError> {
    entries
        .iter()
        .try_for_each(|entry| history.append(entry))
        .map_err(history_failed)
}

pub(crate) fn history_failed(error: HistoryError) -> RunError {
    let path = match &error {
        HistoryError::Io { path, .. }
        | HistoryError::Format { path, .. }
        | HistoryError::CutShort { path, .. } => path.clone(),
    };
    RunError::Folder(folder::FolderError {
        path,
        reason: error.to_string(),
    })
}

/// Probes the target and runs the adapter's setup for `scenario`'s SKUs.
pub(crate) async fn bind(
    adapter: Adapter,
    scenario: &Scenario,
    url: &str,
    label: &adapter::RunLabel,
) -> Result<Arc<Bound>, RunError> {
    target::probe(url, adapter.health.as_deref()).await?;
    let bound = Bound::prepare(
        adapter,
        &crate::load::wire::op_client(None),
        url,
        &scenario.sku_stock(),
        SETUP_TIMEOUT,
        label,
    )
    .await?;
    Ok(Arc::new(bound))
}

/// What faults act on, for an in-process target; `None` for an external one.
fn fault_targets(
    target: &Target,
    scenario: &Scenario,
) -> (
    Option<crate::faults::FaultTargets>,
    Option<Arc<faults::InProcessHooks>>,
) {
    let Target::InProcess(in_process) = target else {
        return (None, None);
    };
    let (redis_proxy, postgres_proxy) = match &in_process.proxies {
        Some((redis, postgres)) => (Some(Arc::clone(redis)), Some(Arc::clone(postgres))),
        None => (None, None),
    };
    let hooks = Arc::new(faults::InProcessHooks::new(
        (in_process.service.writer(), in_process.strategy),
        in_process.service.crash_between_writes(),
        &in_process.redis_url,
        &in_process.database_url,
        &in_process.shop,
        i64::try_from(scenario.engine.idempotency_retention.as_millis()).unwrap_or(i64::MAX),
        redis_proxy.clone(),
    ));
    let engine: Arc<dyn crate::faults::EngineFaultHooks> = hooks.clone();
    let fault_targets = crate::faults::FaultTargets {
        infra: Arc::clone(&in_process.infra),
        redis_proxy,
        postgres_proxy,
        engine: Some(engine),
    };
    (Some(fault_targets), Some(hooks))
}

async fn settle(target: &Target, scenario: &Scenario, load: &LoadRecord) -> QuiesceReport {
    let timeout = scenario.checks.quiesce_timeout;
    let grace = scenario.checks.expiry_grace;
    match target {
        Target::InProcess(in_process) => {
            match stores::Stores::connect(
                &in_process.redis_url,
                &in_process.database_url,
                &in_process.shop,
                in_process.strategy,
            )
            .await
            {
                Ok(stores) => quiesce::in_process(&stores, timeout, grace).await,
                Err(error) => QuiesceReport {
                    notes: vec![format!("could not reach the stores to quiesce: {error}")],
                    ..QuiesceReport::default()
                },
            }
        }
        Target::External { .. } => {
            quiesce::black_box(load.latest_deadline_ms, timeout, grace).await
        }
    }
}

/// One `GET` of every SKU the run supplied, recorded as the harness's ops.
pub(crate) async fn final_reads(
    target: &Bound,
    scenario: &Scenario,
    first_id: OpId,
    zero: Instant,
) -> Vec<HistoryEntry> {
    if !target.adapter.supports(OpKind::GetSku) {
        return Vec::new();
    }
    let mut skus: Vec<&str> = scenario.initial_stock().map(|(sku, _)| sku).collect();
    skus.extend(scenario.restocks.iter().map(|restock| restock.sku.as_str()));
    skus.sort_unstable();
    skus.dedup();
    let client = crate::load::wire::op_client(None);
    let session = Session::new(0);
    let mut entries = Vec::with_capacity(skus.len());
    for (offset, sku) in skus.into_iter().enumerate() {
        let op = Op::GetSku {
            sku: sku.to_owned(),
        };
        let invoke_us = micros_since(zero);
        let reply = target
            .send(&client, &op, FINAL_READ_TIMEOUT, &session)
            .await;
        entries.push(HistoryEntry {
            id: first_id + offset as OpId,
            user: None,
            op,
            intended_us: None,
            invoke_us,
            complete_us: micros_since(zero),
            outcome: reply.outcome,
            status: reply.status,
            response: reply.response,
            retry_of: None,
        });
    }
    entries
}

/// Stops the target; in process, drains the service first, then takes the snapshot.
async fn finish_target(target: Target, info: &mut RunInfo) -> Option<WhiteBoxSnapshot> {
    let Target::InProcess(in_process) = target else {
        return None;
    };
    if let Err(error) = in_process.service.shutdown().await {
        info.quiesce.push(format!("stopping the service: {error}"));
    }
    let snapshot = match stores::Stores::connect(
        &in_process.redis_url,
        &in_process.database_url,
        &in_process.shop,
        in_process.strategy,
    )
    .await
    {
        Ok(stores) => stores.snapshot().await,
        Err(error) => Err(error),
    };
    drop(in_process.proxies);
    target::stop_infra(in_process.infra).await;
    match snapshot {
        Ok(snapshot) => Some(snapshot),
        Err(error) => {
            info.snapshot_error = Some(error.to_string());
            None
        }
    }
}

/// What the run read of the target's stores after the load: the reference engine's
/// snapshot (in process), or the service's own stores (an adapter's `[[stores]]`).
struct Evidence {
    snapshot: Option<WhiteBoxSnapshot>,
    stores: Option<StoresSnapshot>,
    resources: Option<Resources>,
}

/// Completes the run folder (its history is already written), reads the history back
/// and judges it with the one judge (`crate::judge`), exactly as `stockproof check`
/// judges the folder later.
fn judge(
    folder: PathBuf,
    scenario: Scenario,
    seed: u64,
    evidence: Evidence,
    info: RunInfo,
) -> Result<RunOutcome, RunError> {
    let Evidence {
        snapshot,
        stores,
        resources,
    } = evidence;
    folder::write(&folder, &info, snapshot.as_ref(), stores.as_ref())?;
    if let Some(resources) = &resources {
        folder::write_resources(&folder, resources)?;
    }
    let history = read_history(&folder.join(HISTORY_FILE)).map_err(history_failed)?;
    let latencies = Latencies::from_history(&history);
    let verdict = crate::judge::judge(&RecordedRun {
        criteria: &scenario.criteria(),
        info: &info,
        history: &history,
        snapshot: snapshot.as_ref(),
        stores: stores.as_ref(),
        latencies: &latencies,
        resources: resources.as_ref(),
    });
    let exit_code = verdict.exit_code();
    let judged = Judged {
        verdict: &verdict,
        latencies: &latencies,
        resources: resources.as_ref(),
    };
    write_reports(&folder, &scenario, seed, &info, &judged, &history);
    Ok(RunOutcome {
        scenario,
        seed,
        folder,
        verdict,
        exit_code,
        info,
        history,
        latencies,
    })
}

pub(crate) fn run_info(
    path: &Path,
    scenario: &Scenario,
    seed: u64,
    target: &Target,
    load: &LoadRecord,
    quiesce: &QuiesceReport,
) -> RunInfo {
    let (checks_ran, checks_not_applicable) = applicable_checks(target.is_white_box());
    RunInfo {
        format_version: RUN_INFO_FORMAT_VERSION,
        scenario: scenario.name.clone(),
        scenario_file: path.display().to_string(),
        seed,
        stockproof_version: env!("CARGO_PKG_VERSION").to_owned(),
        target: match target {
            Target::InProcess(in_process) => {
                let provider = in_process
                    .infra
                    .try_lock()
                    .map_or_else(|_| "busy".to_owned(), |infra| infra.provider().to_string());
                describe_in_process(in_process, &provider)
            }
            Target::External { url } => url.clone(),
        },
        variant: match target {
            Target::InProcess(in_process) => in_process.variant.map(|variant| variant.to_string()),
            Target::External { .. } => None,
        },
        strategy: match target {
            Target::InProcess(in_process) => Some(in_process.strategy.to_string()),
            Target::External { .. } => None,
        },
        checks_ran,
        checks_not_applicable,
        not_applicable_reasons: std::collections::BTreeMap::new(),
        interrupted: load.interrupted,
        target_silent: load.target_silent.clone(),
        history_cut_short: None,
        quiesce: quiesce.notes.clone(),
        unmatched_replies: std::collections::BTreeMap::new(),
        snapshot_error: None,
        faults: Vec::new(),
        loss_window: None,
        load: LoadFigures {
            users: scenario.load.users,
            carts: load.counts.carts,
            ops: load.counts.ops,
            ok: load.counts.ok,
            fail: load.counts.fail,
            unknown: load.counts.unknown,
            ops_per_s: load.ops_per_s(),
            duration_ms: load.ended_us.saturating_sub(load.started_us) / 1_000,
            arrival_rate_per_s: scenario.load.arrival_rate_per_s,
            late_starts: load.counts.late_starts,
            dropped_starts: load.counts.dropped_starts,
            intended_starts: load.counts.intended_starts,
        },
    }
}

/// The run header's target line: the reference keeps its historical wording, another
/// strategy is named.
fn describe_in_process(in_process: &target::InProcess, provider: &str) -> String {
    let strategy = in_process.strategy;
    match (in_process.variant, strategy) {
        (None, Strategy::RedisLua) => format!("in-process reference engine (provider {provider})"),
        (None, _) => format!("in-process engine, strategy {strategy} (provider {provider})"),
        (Some(variant), _) => {
            format!("in-process BROKEN variant {variant} of {strategy} (provider {provider})")
        }
    }
}

/// The verdict and what it was judged on, for the reports.
pub(crate) struct Judged<'a> {
    pub(crate) verdict: &'a RunVerdict,
    pub(crate) latencies: &'a Latencies,
    pub(crate) resources: Option<&'a Resources>,
}

/// summary.md / summary.json / report.html and the rest (`crate::report`), then the
/// faults and the loss window appended to summary.md. A report that cannot be written
/// is logged: the verdict is already in `run.json` and the exit code.
pub(crate) fn write_reports(
    folder: &Path,
    scenario: &Scenario,
    seed: u64,
    info: &RunInfo,
    judged: &Judged<'_>,
    history: &History,
) {
    let engine = match (&info.variant, info.checks_not_applicable.is_empty()) {
        (Some(variant), _) => variant.clone(),
        (None, true) => "reference".to_owned(),
        (None, false) => "external".to_owned(),
    };
    let data = crate::report::RunData {
        scenario,
        seed,
        started_at_unix_ms: history.header.started_at_unix_ms,
        target: &info.target,
        engine: &engine,
        white_box: info.checks_not_applicable.is_empty(),
        verdict: judged.verdict,
        latencies: judged.latencies,
        history,
        resources: judged.resources,
    };
    if let Err(error) = crate::report::write_reports(folder, &data) {
        tracing::warn!(%error, "writing the reports");
    }
    let section = info.faults_markdown();
    if section.is_empty() {
        return;
    }
    let path = folder.join("summary.md");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(&section);
    if let Err(error) = std::fs::write(&path, text) {
        tracing::warn!(%error, "appending the faults to summary.md");
    }
}

/// A seed for a scenario that names none: the clock's nanoseconds.
pub fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |since| since.as_nanos() as u64)
}

/// The scenario as a service lacking some capability can run it: without idempotency
/// keys nothing is re-sent (a duplicate would be a second order), without release the
/// carts planned to release are abandoned instead; a service that declares it needs
/// more time per request than the scenario's client timeout gets it (a timed-out
/// request is an unknown outcome, which can only widen the checks' bounds).
pub(crate) fn fit_to(mut scenario: Scenario, adapter: &Adapter) -> Scenario {
    if let Some(needed) = adapter.client_timeout
        && needed > scenario.retry.client_timeout
    {
        eprintln!(
            "stockproof: client timeout {} (adapter {}'s client_timeout; the scenario's is {})",
            format_duration(needed),
            adapter.name,
            format_duration(scenario.retry.client_timeout),
        );
        scenario.retry.client_timeout = needed;
    }
    if adapter.lacks(Capability::Idempotency) {
        let retry = &mut scenario.retry;
        retry.concurrent = 0.0;
        retry.after_reply = 0.0;
        retry.after_timeout = 0.0;
        retry.after_retention = 0.0;
    }
    if adapter.lacks(Capability::Release) {
        scenario.mix.abandon += scenario.mix.release;
        scenario.mix.release = 0.0;
    }
    scenario
}

/// What the service lacks takes the checks that need it out, saying why.
pub(crate) fn record_capabilities(info: &mut RunInfo, adapter: &Adapter) {
    let lacking = [
        (
            Capability::Idempotency,
            CheckId::C3,
            "the service has no idempotency key (its adapter declares lacks = [\"idempotency\"]): nothing was re-sent",
        ),
        (
            Capability::Ttl,
            CheckId::C4,
            "the service does not expire holds on the scenario's TTL (its adapter declares lacks = [\"ttl\"])",
        ),
    ];
    for (capability, check, reason) in lacking {
        if adapter.lacks(capability) {
            let name = check.as_str().to_owned();
            info.checks_ran.retain(|ran| *ran != name);
            if !info.checks_not_applicable.contains(&name) {
                info.checks_not_applicable.push(name.clone());
            }
            info.not_applicable_reasons.insert(name, reason.to_owned());
        }
    }
}

/// Refuses, before anything starts, a scenario that asks what the adapter cannot do:
/// longer carts than the API takes, or an operation the adapter does not have.
pub(crate) fn check_fit(scenario: &Scenario, adapter: &Adapter) -> Result<(), RunError> {
    let unfit = |reason: String| RunError::Unfit {
        adapter: adapter.name.clone(),
        scenario: scenario.name.clone(),
        reason,
    };
    let longest = scenario.mix.lines_per_cart.1 as usize;
    if let Some(max) = adapter.cart_lines_max
        && longest > max
    {
        return Err(unfit(format!(
            "its carts have up to {longest} lines (mix.lines_per_cart), the API takes {max} (adapter.cart_lines_max)"
        )));
    }
    let mix = &scenario.mix;
    let needed = [
        (OpKind::Reserve, true, "every cart"),
        (
            OpKind::Restock,
            !scenario.restocks.is_empty(),
            "[[restock]]",
        ),
        (OpKind::Confirm, mix.confirm > 0.0, "mix.confirm"),
        (OpKind::Release, mix.release > 0.0, "mix.release"),
        (OpKind::GetSku, mix.read_sku > 0.0, "mix.read_sku"),
        (
            OpKind::GetReservation,
            mix.read_reservation > 0.0,
            "mix.read_reservation",
        ),
    ];
    for (op, wanted, by) in needed {
        if wanted && !adapter.supports(op) {
            return Err(unfit(format!(
                "{by} needs `ops.{}`, which the adapter does not have",
                op.as_str()
            )));
        }
    }
    Ok(())
}
