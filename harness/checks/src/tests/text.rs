//! A compact text form for hand-written histories and ledgers, one op (or event) per
//! line, so that a new test case is one line:
//!
//! ```text
//! # id user start_ms end_ms outcome kind args…              [-> response…] [retry=op]
//! 1 - 0 1 ok restock a 10
//! 2 1 10 12 ok reserve k1 a:3,b:1 ttl=1000 -> id=r1 state=held deadline=1010
//! 3 1 20 21 ok confirm r1
//! 4 2 10 15 unknown reserve k2 a:2 ttl=1000 retry=2
//! 5 2 30 31 fail reserve k3 a:9 ttl=1000 -> error=insufficient_stock sku=a available=0
//! 6 - 90 95 ok get_sku a -> stock=5/0/5/10
//! 7 - 40 45 ok fault writer crash
//! ```
//! Times are ms since the run start (the header's epoch is 0, so deadlines are too).
//! Ledger lines: `seq kind sku qty [resv] [key] [deadline_ms] [at_ms]`.

use stockproof_model::ledger::LedgerEvent;
use stockproof_model::{CartLine, ReservationId, SkuStock};

use crate::history::{History, HistoryBuilder, HistoryEntry, HistoryHeader, Op, Outcome, Response};

/// Idempotency retention of every test history.
pub(super) const RETENTION_MS: i64 = 5_000;

pub(crate) fn history(text: &str) -> History {
    // Folded as a history read from a file is: the checks are tested on what they judge.
    let mut history = HistoryBuilder::new(HistoryHeader::new("test", 1, 0, RETENTION_MS));
    lines(text).map(entry).for_each(|entry| history.push(entry));
    history.finish()
}

pub(super) fn ledger(text: &str) -> Vec<LedgerEvent> {
    lines(text)
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let field = |at: usize| fields.get(at).copied().unwrap_or("");
            let int = |at: usize| field(at).parse::<i64>().unwrap_or(0);
            LedgerEvent {
                seq: int(0),
                kind: field(1)
                    .parse()
                    .unwrap_or_else(|error| panic!("{line}: {error}")),
                sku: field(2).to_owned(),
                qty: int(3),
                reservation_id: field(4).replace('-', ""),
                idempotency_key: field(5).replace('-', ""),
                deadline_ms: int(6),
                at_ms: int(7),
            }
        })
        .collect()
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

fn entry(line: &str) -> HistoryEntry {
    let (call, reply) = line.split_once(" -> ").unwrap_or((line, ""));
    let mut retry_of = None;
    let mut words: Vec<&str> = Vec::new();
    for word in call.split_whitespace().chain(reply.split_whitespace()) {
        match word.strip_prefix("retry=") {
            Some(op) => retry_of = Some(op.parse().expect("retry=<op id>")),
            None => words.push(word),
        }
    }
    let call_words = call
        .split_whitespace()
        .filter(|word| !word.starts_with("retry="))
        .count();
    let (call_words, reply_words) = words.split_at(call_words);
    let int = |at: usize| -> u64 {
        call_words[at]
            .parse()
            .unwrap_or_else(|_| panic!("{line}: field {at}"))
    };
    let outcome = match call_words[4] {
        "ok" => Outcome::Ok,
        "fail" => Outcome::Fail,
        "unknown" => Outcome::Unknown,
        other => panic!("{line}: outcome `{other}`"),
    };
    let response = (!reply_words.is_empty()).then(|| response(reply_words));
    HistoryEntry {
        id: int(0),
        user: (call_words[1] != "-").then(|| call_words[1].parse().expect("user")),
        op: op(line, &call_words[5..]),
        intended_us: None,
        invoke_us: int(2) * 1000,
        complete_us: int(3) * 1000,
        outcome,
        status: match outcome {
            Outcome::Ok => Some(200),
            Outcome::Fail => Some(409),
            Outcome::Unknown => None,
        },
        response,
        retry_of,
    }
}

fn op(line: &str, words: &[&str]) -> Op {
    let arg = |at: usize| {
        words
            .get(at)
            .copied()
            .unwrap_or_else(|| panic!("{line}: argument {at}"))
            .to_owned()
    };
    let number = |at: usize| {
        arg(at)
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("{line}: argument {at}"))
    };
    match words[0] {
        "restock" => Op::Restock {
            sku: arg(1),
            qty: number(2),
        },
        "adjust" => Op::Adjust {
            sku: arg(1),
            delta: number(2),
        },
        "reserve" => Op::Reserve {
            key: arg(1),
            items: arg(2)
                .split(',')
                .map(|line| {
                    let (sku, qty) = line.split_once(':').expect("sku:qty");
                    CartLine {
                        sku: sku.to_owned(),
                        qty: qty.parse().expect("qty"),
                    }
                })
                .collect(),
            ttl_ms: arg(3).trim_start_matches("ttl=").parse().expect("ttl=<ms>"),
        },
        "confirm" => Op::Confirm {
            reservation: ReservationId(arg(1)),
        },
        "release" => Op::Release {
            reservation: ReservationId(arg(1)),
        },
        "get_sku" => Op::GetSku { sku: arg(1) },
        "get_reservation" => Op::GetReservation {
            reservation: ReservationId(arg(1)),
        },
        "fault" => Op::Fault {
            description: words[1..].join(" "),
        },
        other => panic!("{line}: kind `{other}`"),
    }
}

fn response(words: &[&str]) -> Response {
    let mut response = Response::default();
    for word in words {
        if *word == "replayed" {
            response.replayed = true;
            continue;
        }
        let (name, value) = word
            .split_once('=')
            .unwrap_or_else(|| panic!("`{word}` is not name=value"));
        match name {
            "id" => response.reservation = Some(ReservationId(value.to_owned())),
            "state" => response.state = Some(value.parse().expect("state")),
            "deadline" => response.deadline_ms = Some(value.parse().expect("deadline")),
            "error" => response.error = Some(value.to_owned()),
            "sku" => response.sku = Some(value.to_owned()),
            "available" => response.available = Some(value.parse().expect("available")),
            "stock" => {
                let numbers: Vec<i64> = value
                    .split('/')
                    .map(|number| number.parse().expect("stock a/r/s/t"))
                    .collect();
                response.stock = Some(SkuStock {
                    available: numbers[0],
                    reserved: numbers[1],
                    sold: numbers[2],
                    total: numbers[3],
                });
            }
            other => panic!("unknown response field `{other}`"),
        }
    }
    response
}
