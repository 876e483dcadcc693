//! `stockproof selftest [--quick]`: proves the checks catch real bugs. Runs every
//! deliberately broken engine variant against the scenario (and fault) that should
//! expose it, and the reference engine against every one of those, faults included,
//! each on fresh servers
//! through the `stockproof run` pipeline; prints the table (variant, scenario, fault,
//! check that fired, ops and seconds to detection) and writes it to
//! `<report-dir>/selftest-<utc time>/` as `selftest.md` and `selftest.json`, beside the
//! scenarios it ran and each run's folder. Exit 0 only when every variant is caught by
//! a check it should trip and the reference passes every scenario; else 1.
//!
//! Not here: what exposes what and how a row is judged (`stockproof_harness::selftest`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Args;
use stockproof_engine::strategy::Strategy;
use stockproof_engine::variants::Variant;
use stockproof_harness::checks::{EXIT_PASS, EXIT_USAGE, EXIT_VIOLATION};
use stockproof_harness::faults::FaultSpec;
use stockproof_harness::load::progress::ProgressMode;
use stockproof_harness::resources::SAMPLE_INTERVAL;
use stockproof_harness::run::folder::utc_stamp;
use stockproof_harness::run::{RunOptions, TargetChoice, run_scenario};
use stockproof_harness::scenario::Overrides;
use stockproof_harness::selftest::{Case, Exposure, Row, Table, cases_of, scenarios};

use crate::cmd::shared::InfraArgs;

/// Load length of each run in `--quick` mode: long enough for every variant's bug to
/// show at the selftest scenarios' rates, short enough that the whole selftest (23
/// runs, each with its own servers) finishes in a few minutes on 2 cores.
const QUICK_DURATION: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub(crate) struct SelftestArgs {
    /// The short CI version: every run's load lasts 2 s.
    #[arg(long)]
    quick: bool,

    /// Only this variant (repeatable), and the reference on its scenarios and faults:
    /// default every variant.
    #[arg(long = "variant", value_name = "NAME")]
    variants: Vec<Variant>,

    /// Only the variants of this strategy (repeatable), and that strategy's own engine
    /// on their scenarios: redis-lua, pg-row-lock, pg-optimistic. Default: every
    /// variant, each on the strategy it breaks.
    #[arg(long = "strategy", value_name = "NAME")]
    strategies: Vec<Strategy>,

    /// Where the selftest folder goes.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    report_dir: PathBuf,

    #[command(flatten)]
    infra: InfraArgs,
}

pub(crate) async fn selftest(args: &SelftestArgs) -> anyhow::Result<u8> {
    let folder = args
        .report_dir
        .join(format!("selftest-{}", utc_stamp(SystemTime::now())));
    let scenario_dir = folder.join("scenarios");
    std::fs::create_dir_all(&scenario_dir)
        .with_context(|| format!("creating {}", scenario_dir.display()))?;
    for scenario in scenarios() {
        let path = scenario_dir.join(scenario.file);
        std::fs::write(&path, scenario.toml)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let base = RunOptions {
        target: TargetChoice::InProcess(args.infra.config()),
        seed: None,
        report_dir: folder.join("runs"),
        overrides: Overrides {
            duration: args.quick.then_some(QUICK_DURATION),
            ..Overrides::default()
        },
        progress: ProgressMode::Off,
        variant: None,
        strategy: Strategy::default(),
        adapter: None,
        metrics: None,
        sample_interval: SAMPLE_INTERVAL,
    };
    let exposures: Vec<Exposure> = Exposure::all()
        .into_iter()
        .filter(|exposure| args.variants.is_empty() || args.variants.contains(&exposure.variant))
        .filter(|exposure| {
            args.strategies.is_empty() || args.strategies.contains(&exposure.variant.strategy())
        })
        .collect();
    let mut rows = Vec::new();
    for exposure in exposures.iter().copied() {
        let options = RunOptions {
            variant: Some(exposure.variant),
            strategy: exposure.variant.strategy(),
            ..base.clone()
        };
        rows.push(run_one(Some(&exposure), exposure.case(), &scenario_dir, &options).await);
    }
    for strategy in Strategy::ALL {
        let of_strategy: Vec<Exposure> = exposures
            .iter()
            .copied()
            .filter(|exposure| exposure.variant.strategy() == strategy)
            .collect();
        let options = RunOptions {
            strategy,
            ..base.clone()
        };
        for case in cases_of(&of_strategy) {
            rows.push(run_one(None, case, &scenario_dir, &options).await);
        }
    }
    let table = Table::new(args.quick, rows);
    let markdown = table.markdown();
    write_table(&folder, &table, &markdown)?;
    println!("\n{markdown}");
    println!("selftest: report {}", folder.display());
    Ok(if table.passed {
        EXIT_PASS
    } else {
        EXIT_VIOLATION
    })
}

/// One run of `case` (its fault added to the scenario's), as a row; a run that ends
/// without a verdict is a row that is not ok.
async fn run_one(
    exposure: Option<&Exposure>,
    case: Case,
    scenario_dir: &Path,
    options: &RunOptions,
) -> Row {
    let engine = exposure.map_or(format!("reference {}", options.strategy), |exposure| {
        exposure.variant.name().to_owned()
    });
    let scenario = case.scenario;
    let mut options = options.clone();
    if let Some(fault) = case.fault {
        match FaultSpec::parse_cli(fault) {
            Ok(spec) => options.overrides.faults.push(spec),
            Err(reason) => {
                return Row::failed(exposure, case, options.strategy, EXIT_USAGE, &reason);
            }
        }
    }
    let row = match run_scenario(&scenario_dir.join(scenario.file), &options).await {
        Ok(outcome) => Row::finished(
            exposure,
            case,
            options.strategy,
            outcome.exit_code,
            &outcome.verdict,
            &outcome.history,
            &outcome.folder.display().to_string(),
        ),
        Err(error) => Row::failed(
            exposure,
            case,
            options.strategy,
            error.exit_code(),
            &error.to_string(),
        ),
    };
    println!(
        "selftest: {engine} on {}{}: exit {} ({})",
        scenario.file,
        case.fault
            .map_or(String::new(), |fault| format!(" with fault {fault}")),
        row.exit_code,
        if row.ok {
            "as expected"
        } else {
            "NOT as expected"
        }
    );
    row
}

fn write_table(folder: &Path, table: &Table, markdown: &str) -> anyhow::Result<()> {
    let heading = format!(
        "# stockproof selftest{}\n\nEach deliberately broken engine variant against the \
         scenario that should expose it, then the reference engine against every such \
         scenario. Reproduce with `stockproof selftest{}`.\n\n",
        if table.quick { " (quick)" } else { "" },
        if table.quick { " --quick" } else { "" },
    );
    let path = folder.join("selftest.md");
    std::fs::write(&path, heading + markdown)
        .with_context(|| format!("writing {}", path.display()))?;
    let path = folder.join("selftest.json");
    let json = serde_json::to_string_pretty(table).context("serialising the selftest table")?;
    std::fs::write(&path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
