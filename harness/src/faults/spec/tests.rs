//! Fault specs from files and from `--fault`: every kind parses, and each mistake is
//! refused with a message naming the key or value.

use std::time::Duration;

use super::{FaultAction, FaultFile, FaultKind, FaultSpec, NetworkTarget, Trigger};

fn file(kind: &str) -> FaultFile {
    FaultFile {
        kind: kind.to_owned(),
        at: Some("1s".to_owned()),
        ..FaultFile::default()
    }
}

#[test]
fn every_kind_parses_with_its_defaults() {
    // Goal: each name in NAMES builds a spec (network kinds with their required keys).
    for name in FaultKind::NAMES {
        let mut fault = file(name);
        if name.ends_with("-latency") {
            fault.latency = Some("20ms".to_owned());
        }
        if name.ends_with("-bandwidth") {
            fault.bandwidth_bytes_per_s = Some(1024);
        }
        let spec = FaultSpec::from_file(&fault).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(spec.trigger, Trigger::At(Duration::from_secs(1)));
        assert!(!spec.action.describe().is_empty());
        // The kind read back from the action names the fault as written (the
        // counterpart of a fault on another strategy is reported by these names).
        assert_eq!(spec.action.kind().name(), name);
    }
}

#[test]
fn the_command_line_form_names_kind_keys_and_trigger() {
    // Goal: `KIND[,k=v…][@WHEN]` with a time or an op count.
    let spec =
        FaultSpec::parse_cli("redis-latency,latency=50ms,jitter=10ms,duration=3s@after=2000")
            .unwrap();
    assert_eq!(spec.trigger, Trigger::AfterOps(2000));
    match spec.action {
        FaultAction::Network {
            target,
            toxics,
            duration,
        } => {
            assert_eq!(target, NetworkTarget::Redis);
            assert_eq!((toxics.latency_ms, toxics.jitter_ms), (50, 10));
            assert_eq!(duration, Duration::from_secs(3));
        }
        other => panic!("parsed as {other:?}"),
    }
    let kill = FaultSpec::parse_cli("redis-kill@5s").unwrap();
    assert_eq!(kill.action, FaultAction::RedisKill);
    assert_eq!(kill.trigger, Trigger::At(Duration::from_secs(5)));
    assert_eq!(
        FaultSpec::parse_cli("writer-crash").unwrap().trigger,
        Trigger::At(Duration::ZERO)
    );
}

#[test]
fn mistakes_are_refused_naming_the_problem() {
    // Goal: each bad spec says what is wrong.
    let cases: [(&str, &str); 8] = [
        ("redis-explode@1s", "unknown fault kind `redis-explode`"),
        ("redis-latency@1s", "needs `latency`"),
        ("redis-kill,duration=1s@1s", "`duration` does not apply"),
        ("redis-pause,duration=ten@1s", "`duration`"),
        ("redis-pause,color=red@1s", "unknown key `color`"),
        ("redis-pause@after=many", "expected a number of ops"),
        (
            "redis-cut,latency=5ms@1s",
            "apply to latency and bandwidth faults",
        ),
        ("postgres-bandwidth@1s", "needs `bandwidth_bytes_per_s`"),
    ];
    for (text, expected) in cases {
        let error = FaultSpec::parse_cli(text).unwrap_err();
        assert!(error.contains(expected), "{text}: {error}");
    }
    let both = FaultFile {
        after_ops: Some(3),
        ..file("redis-kill")
    };
    assert!(
        FaultSpec::from_file(&both)
            .unwrap_err()
            .contains("not both")
    );
    let neither = FaultFile {
        at: None,
        ..file("redis-kill")
    };
    assert!(
        FaultSpec::from_file(&neither)
            .unwrap_err()
            .contains("needs `at`")
    );
}
