use super::*;

#[test]
fn every_script_carries_the_bounds_and_a_distinct_sha() {
    // Goal: the scripts check the same bounds as the Rust side, and each operation has
    // its own script. Method: assemble all and look at sources and SHAs.
    let scripts = Scripts::new(1_234);
    let mut shas = std::collections::BTreeSet::new();
    for name in ScriptName::ALL {
        let script = scripts.get(name);
        assert_eq!(script.name(), name);
        let source = script_source(name, 1_234);
        assert!(source.contains(&format!("local LINE_QTY_MAX = {LINE_QTY_MAX}\n")));
        assert!(source.contains("local RETENTION_MS = 1234\n"));
        assert!(
            source.contains("local function now_ms()"),
            "{name:?} lacks common.lua"
        );
        assert_eq!(script.sha().len(), 40);
        assert!(
            shas.insert(script.sha().to_owned()),
            "{name:?} shares a SHA"
        );
    }
}

#[test]
fn confirm_and_release_target_their_own_state() {
    // Goal: the shared transition script is specialised per operation.
    assert!(script_source(ScriptName::Confirm, 1).contains("TARGET_STATE = 'confirmed'"));
    assert!(script_source(ScriptName::Release, 1).contains("TARGET_STATE = 'released'"));
}

#[test]
fn retention_changes_the_script() {
    // Goal: two engines with other retentions never share a cached script.
    assert_ne!(
        Script::new(ScriptName::Reserve, 1).sha(),
        Script::new(ScriptName::Reserve, 2).sha()
    );
}
