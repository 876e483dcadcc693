//! `stockproof check <RUN_DIR>`: re-judges a recorded run folder and exits with its
//! verdict's code, printing violations with the history around them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use stockproof_engine::ledger::{EventKind, LedgerEvent, replay};
use stockproof_engine::{CartLine, ReservationId, ReservationState};
use stockproof_harness::checks::{SNAPSHOT_FORMAT_VERSION, WhiteBoxSnapshot};
use stockproof_harness::history::{
    HistoryEntry, HistoryHeader, HistoryWriter, Op, Outcome, Response,
};

const SKU: &str = "drop-001";

/// The binary under test: this build's, or the one `STOCKPROOF_BIN` names (to run these
/// tests against another build, e.g. an installed release).
fn binary() -> std::path::PathBuf {
    std::env::var_os("STOCKPROOF_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_stockproof").into(), Into::into)
}

fn check(dir: &Path) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(binary())
        .arg("check")
        .arg(dir)
        .output()
        .expect("run stockproof check");
    (
        status.code().expect("exit code"),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn entry(
    id: u64,
    user: Option<u32>,
    at_ms: u64,
    op: Op,
    outcome: Outcome,
    response: Response,
) -> HistoryEntry {
    HistoryEntry {
        id,
        user,
        op,
        intended_us: None,
        invoke_us: at_ms * 1000,
        complete_us: at_ms * 1000 + 400,
        outcome,
        status: Some(if outcome == Outcome::Ok { 200 } else { 409 }),
        response: Some(response),
        retry_of: None,
    }
}

fn reserve(id: u64, at_ms: u64, reservation: &str) -> HistoryEntry {
    let op = Op::Reserve {
        key: format!("k{id}"),
        items: vec![CartLine {
            sku: SKU.to_owned(),
            qty: 1,
        }],
        ttl_ms: 2_000,
    };
    let response = Response {
        reservation: Some(ReservationId(reservation.to_owned())),
        state: Some(ReservationState::Held),
        deadline_ms: Some(at_ms as i64 + 2_000),
        ..Response::default()
    };
    entry(id, Some(1), at_ms, op, Outcome::Ok, response)
}

/// Writes scenario.toml (the `check-cmd` fixture), history.jsonl and run.json into `dir`.
fn run_dir(dir: &Path, entries: &[HistoryEntry]) {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check-cmd.toml");
    std::fs::copy(scenario, dir.join("scenario.toml")).expect("copy scenario");
    let mut writer = HistoryWriter::create(
        &dir.join("history.jsonl"),
        &HistoryHeader::new("check-cmd", 1, 0, 60_000),
    )
    .expect("history");
    for entry in entries {
        writer.append(entry).expect("append");
    }
    writer.finish().expect("finish");
    // run.json as `stockproof run` writes it for an in-process run on local servers.
    let run_json = serde_json::json!({
        "format_version": 1,
        "scenario": "check-cmd",
        "scenario_file": "harness/tests/fixtures/check-cmd.toml",
        "seed": 1,
        "stockproof_version": "test",
        "target": "in-process reference engine (provider local)",
        "checks_ran": ["C1", "C2", "C3", "C4", "C5", "C6"],
        "checks_not_applicable": [],
        "interrupted": false,
        "quiesce": [],
        "load": {
            "users": 2, "carts": 3, "ops": 5, "ok": 4, "fail": 1, "unknown": 0,
            "ops_per_s": 100.0, "duration_ms": 50, "arrival_rate_per_s": null,
            "late_starts": 0, "dropped_starts": 0, "intended_starts": 0
        }
    });
    std::fs::write(dir.join("run.json"), run_json.to_string()).expect("run.json");
}

// Goal: a recorded oversell exits 1 and prints the violation with the history around it.
// Method: 2 units, three acknowledged holds; run `stockproof check`.
#[test]
fn check_exits_1_on_a_recorded_oversell() {
    let dir = tempfile::tempdir().expect("temp dir");
    let restock = entry(
        1,
        None,
        0,
        Op::Restock {
            sku: SKU.to_owned(),
            qty: 2,
        },
        Outcome::Ok,
        Response::default(),
    );
    run_dir(
        dir.path(),
        &[
            restock,
            reserve(2, 10, "r1"),
            reserve(3, 11, "r2"),
            reserve(4, 12, "r3"),
        ],
    );
    let (code, stdout, stderr) = check(dir.path());
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("C1 no oversell: fail"), "{stdout}");
    assert!(
        stdout.contains("op 4 was given 1 units of drop-001 (reservation r3) while 2 of at most 2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  > 4 u1 12.000-12.400ms ok reserve k4 drop-001:1 ttl=2000"),
        "{stdout}"
    );
    assert!(stdout.contains("verdict: violation (exit 1)"), "{stdout}");
}

// Goal: a clean recorded run with its white-box snapshot passes (exit 0); without the
// snapshot the white-box checks cannot judge and the run is inconclusive (exit 5).
// Method: one reserve + confirm of 1 of 1 unit, a refused reserve at 0 available, the
// final read, and the ledger those ops imply.
#[test]
fn check_exits_0_on_a_clean_run_and_5_without_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let restock = entry(
        1,
        None,
        0,
        Op::Restock {
            sku: SKU.to_owned(),
            qty: 1,
        },
        Outcome::Ok,
        Response::default(),
    );
    let confirm = entry(
        3,
        Some(1),
        20,
        Op::Confirm {
            reservation: ReservationId("r2".to_owned()),
        },
        Outcome::Ok,
        Response {
            state: Some(ReservationState::Confirmed),
            ..Response::default()
        },
    );
    let refused_op = Op::Reserve {
        key: "k4".to_owned(),
        items: vec![CartLine {
            sku: SKU.to_owned(),
            qty: 1,
        }],
        ttl_ms: 2_000,
    };
    let refused = entry(
        4,
        Some(2),
        30,
        refused_op,
        Outcome::Fail,
        Response {
            error: Some("insufficient_stock".to_owned()),
            sku: Some(SKU.to_owned()),
            available: Some(0),
            ..Response::default()
        },
    );
    let stock = stockproof_engine::SkuStock {
        available: 0,
        reserved: 0,
        sold: 1,
        total: 1,
    };
    let read = entry(
        5,
        None,
        40,
        Op::GetSku {
            sku: SKU.to_owned(),
        },
        Outcome::Ok,
        Response {
            stock: Some(stock),
            ..Response::default()
        },
    );
    run_dir(
        dir.path(),
        &[restock, reserve(2, 10, "r2"), confirm, refused, read],
    );
    let (code, stdout, _) = check(dir.path());
    assert_eq!(code, 5, "{stdout}");
    assert!(stdout.contains("C2 conservation: unknown"), "{stdout}");

    let event =
        |seq: i64, kind: EventKind, reservation: &str, key: &str, deadline_ms: i64| LedgerEvent {
            seq,
            kind,
            sku: SKU.to_owned(),
            qty: 1,
            reservation_id: reservation.to_owned(),
            idempotency_key: key.to_owned(),
            deadline_ms,
            at_ms: 10,
        };
    let ledger = vec![
        event(1, EventKind::Restock, "", "", 0),
        event(2, EventKind::Reserve, "r2", "k2", 2_010),
        event(3, EventKind::Confirm, "r2", "", 0),
    ];
    let stocks: BTreeMap<String, stockproof_engine::SkuStock> = replay(&ledger);
    let snapshot = WhiteBoxSnapshot {
        format_version: SNAPSHOT_FORMAT_VERSION,
        taken_at_ms: 50,
        redis_stocks: stocks.clone(),
        postgres_stocks: stocks,
        redis_seq: 3,
        ledger,
        reservations: Vec::new(),
        postgres_only: false,
    };
    snapshot
        .write(&dir.path().join("snapshot.json"))
        .expect("snapshot");
    let (code, stdout, _) = check(dir.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("coverage stock_reached_zero >= 1: pass (observed 2)"),
        "{stdout}"
    );
    assert!(stdout.contains("verdict: pass (exit 0)"), "{stdout}");
}

// Goal: an unreadable run folder exits 2 and names what is wrong.
// Method: an empty folder; then a folder whose scenario has an unknown key.
#[test]
fn check_exits_2_on_a_bad_run_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, _, stderr) = check(dir.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("scenario.toml"), "{stderr}");
    run_dir(dir.path(), &[]);
    let text = std::fs::read_to_string(dir.path().join("scenario.toml")).expect("read");
    std::fs::write(
        dir.path().join("scenario.toml"),
        text.replace("users = 200", "users = 200\nusres = 3"),
    )
    .expect("write");
    let (code, _, stderr) = check(dir.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("`load.usres`") && stderr.contains("unknown field"),
        "{stderr}"
    );
}
