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
    // except for the variants whose flaw is in how Postgres is written or in
    // process-local state in front of the scripts.
    // Method: build every variant's scripts and compare SHAs with the reference's.
    let reference = Scripts::new(1_000);
    let redis_variants = Variant::ALL
        .into_iter()
        .filter(|variant| variant.strategy() == Strategy::RedisLua);
    for variant in redis_variants {
        let patched = Scripts::patched(1_000, variant.patches());
        let changed: Vec<ScriptName> = ScriptName::ALL
            .into_iter()
            .filter(|name| patched.get(*name).sha() != reference.get(*name).sha())
            .collect();
        // The variants that break how Postgres is written, or that put a cache or a
        // flag in front of the scripts, run the reference scripts.
        let in_front = matches!(variant, Variant::StaleRead | Variant::SoldOutFlag);
        assert!(
            changed.is_empty() == (variant.needs_ledger() || in_front),
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

#[test]
fn the_crash_between_writes_fires_every_nth_write_and_once_per_arm() {
    // Goal: `serve`'s built-in crash (every n-th mirrored write) and `run`'s injected
    // one (the next confirm's write after each arm) drop exactly the writes they say.
    // Method: count which of 10 writes die, periodic (every 4th) and armed twice.
    let periodic = CrashBetweenWrites::every(4);
    let dropped: Vec<bool> = (0..10).map(|_| periodic.take(false)).collect();
    let expected = [
        false, false, false, true, false, false, false, true, false, false,
    ];
    assert_eq!(dropped, expected);
    assert_eq!(periodic.crashes(), 2);
    let injected = CrashBetweenWrites::every(0);
    assert!(!injected.take(true));
    injected.arm();
    injected.arm();
    assert!(!injected.take(false), "an armed crash waits for a confirm");
    assert!(injected.take(true));
    assert!(injected.take(true));
    assert!(!injected.take(true));
    assert_eq!(injected.crashes(), 2);
}

#[test]
fn the_ledger_variants_name_their_writer_and_crash() {
    // Goal: each variant whose flaw is in how Postgres is written serves a writer
    // that matches it, and the writer variants say where the crash must fall.
    assert_eq!(
        Variant::DualWrite.writer_flaw(),
        WriterFlaw::SkusWrittenByEngine
    );
    assert_eq!(Variant::DualWrite.writer_crash(), None);
    assert_eq!(
        Variant::LossyLedger.writer_crash(),
        Some(CrashPoint::BeforeCommit)
    );
    assert_eq!(
        Variant::NonIdempotentProjection.writer_crash(),
        Some(CrashPoint::AfterCommit)
    );
    for variant in Variant::ALL.into_iter().filter(|v| !v.needs_ledger()) {
        assert_eq!(variant.writer_flaw(), WriterFlaw::None, "{variant}");
        assert_eq!(variant.writer_crash(), None, "{variant}");
    }
}
