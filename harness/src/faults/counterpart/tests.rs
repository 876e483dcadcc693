//! Every fault kind on every strategy: the reference takes each as written; a Postgres
//! strategy gets a fault on Postgres for each fault on the store that holds the stock,
//! and a reason for each fault on a part it lacks.

use stockproof_engine::strategy::Strategy;

use super::{Applied, plan};
use crate::faults::{FaultFile, FaultKind, FaultSpec};

fn every_kind() -> Vec<FaultSpec> {
    FaultKind::NAMES
        .iter()
        .map(|name| {
            let mut fault = FaultFile {
                kind: (*name).to_owned(),
                at: Some("1s".to_owned()),
                ..FaultFile::default()
            };
            if name.ends_with("-latency") {
                fault.latency = Some("20ms".to_owned());
            }
            if name.ends_with("-bandwidth") {
                fault.bandwidth_bytes_per_s = Some(1024);
            }
            FaultSpec::from_file(&fault).unwrap_or_else(|error| panic!("{name}: {error}"))
        })
        .collect()
}

#[test]
fn the_reference_takes_every_fault_as_written() {
    let specs = every_kind();
    for (spec, planned) in specs.iter().zip(plan(&specs, Strategy::RedisLua)) {
        assert_eq!(planned.applied, Applied::Inject(spec.action.clone()));
        assert_eq!(planned.description, spec.action.describe());
    }
}

#[test]
fn a_postgres_strategy_gets_every_fault_on_postgres_or_a_reason() {
    // Goal: no fault on a Postgres strategy acts on Redis; each one on the store that
    // holds the stock is its Postgres counterpart and says so in its description; the
    // writer's and the second write's are not applicable, naming the strategy.
    let specs = every_kind();
    for strategy in [Strategy::PgRowLock, Strategy::PgOptimistic] {
        for (spec, planned) in specs.iter().zip(plan(&specs, strategy)) {
            let written = spec.action.kind().name();
            assert_eq!(planned.trigger, spec.trigger, "{written}");
            match &planned.applied {
                Applied::Inject(action) => {
                    let injected = action.kind().name();
                    assert!(
                        injected.starts_with("postgres-"),
                        "{written} on {strategy} injects {injected}"
                    );
                    if action == &spec.action {
                        assert!(written.starts_with("postgres-"), "{written}");
                    } else {
                        let mapping = format!(
                            "{written} → {}: {strategy} keeps its stock in Postgres; ",
                            action.kind().name()
                        );
                        assert!(
                            planned.description.starts_with(&mapping),
                            "{written}: {}",
                            planned.description
                        );
                    }
                }
                Applied::NotApplicable(reason) => {
                    assert!(
                        matches!(
                            written,
                            "writer-crash" | "writer-crash-before-commit" | "crash-between-writes"
                        ),
                        "{written} is not applicable on {strategy}: {reason}"
                    );
                    assert!(reason.contains(strategy.name()), "{reason}");
                }
            }
        }
    }
}

#[test]
fn redis_faults_map_to_their_postgres_kind() {
    let pairs = [
        ("redis-kill", "postgres-kill"),
        ("redis-pause", "postgres-pause"),
        ("redis-client-pause", "postgres-lock-skus"),
        ("redis-partition", "postgres-partition"),
        ("redis-refuse", "postgres-refuse"),
        ("redis-cut", "postgres-cut"),
    ];
    let specs: Vec<FaultSpec> = pairs
        .iter()
        .map(|(written, _)| FaultSpec::parse_cli(&format!("{written}@1s")).unwrap())
        .collect();
    for (planned, (written, expected)) in plan(&specs, Strategy::PgRowLock).iter().zip(pairs) {
        let action = planned.injects().expect("a counterpart");
        assert_eq!(action.kind().name(), expected, "{written}");
    }
}
