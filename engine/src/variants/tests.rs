use super::*;
use crate::lua::{ScriptName, script_source};

#[test]
fn every_variant_parses_from_its_name_and_nothing_else_does() {
    // Goal: `--variant NAME` round-trips and an unknown name lists the known ones.
    for variant in Variant::ALL {
        assert_eq!(variant.name().parse::<Variant>(), Ok(variant));
        assert!(!variant.description().is_empty());
    }
    let error = "reference".parse::<Variant>().unwrap_err();
    assert!(error.to_string().contains("check-then-act"), "{error}");
}

#[test]
fn every_patch_applies_and_changes_the_scripts() {
    // Goal: each variant's patches still match the reference scripts (a patch that no
    // longer matches panics here, not at serve time) and change at least one script,
    // except for the variants whose flaw is in how Postgres is written.
    // Method: build every variant's scripts and compare SHAs with the reference's.
    let reference = Scripts::new(1_000);
    for variant in Variant::ALL {
        let patched = Scripts::patched(1_000, variant.patches());
        let changed: Vec<ScriptName> = ScriptName::ALL
            .into_iter()
            .filter(|name| patched.get(*name).sha() != reference.get(*name).sha())
            .collect();
        // The variants that break how Postgres is written run the reference scripts.
        assert!(
            changed.is_empty() == variant.needs_ledger(),
            "{variant}: changes scripts {changed:?}, needs the ledger: {}",
            variant.needs_ledger()
        );
    }
}

#[test]
fn the_short_marker_ttl_in_lua_matches_the_rust_constant() {
    // Goal: the documented constant is what the script does.
    let source = ScriptPatch::apply(
        &short_idempotency::PATCHES[0],
        ScriptName::Reserve,
        script_source(ScriptName::Reserve, 1),
    );
    assert!(source.contains(&format!(
        "local IDEMPOTENCY_MARKER_TTL_MS = {IDEMPOTENCY_MARKER_TTL_MS}\n"
    )));
}
