use std::collections::HashSet;
use std::path::Path;

use super::*;
use crate::scenario;

fn shipped(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.toml"));
    scenario::load(&path).unwrap_or_else(|error| panic!("{error}"))
}

fn carts(plan: &Plan, user: u32, count: usize) -> Vec<CartPlan> {
    let mut user_plan = plan.user(user);
    (0..count)
        .map(|_| {
            user_plan
                .next_cart()
                .expect("duration-bounded plans never end")
        })
        .collect()
}

// Goal: a seed reproduces every user's carts; another seed or user gives others.
// Method: draw 200 carts twice with seed 7, once with seed 8, once for another user.
#[test]
fn plan_is_reproducible_from_its_seed() {
    let scenario = shipped("mixed-cart");
    let first = carts(&Plan::new(&scenario, 7), 3, 200);
    assert_eq!(
        first,
        carts(&Plan::new(&scenario, 7), 3, 200),
        "seed 7, user 3"
    );
    assert_ne!(
        first,
        carts(&Plan::new(&scenario, 8), 3, 200),
        "seed 8 vs 7"
    );
    assert_ne!(
        first,
        carts(&Plan::new(&scenario, 7), 4, 200),
        "user 4 vs 3"
    );
    let keys: HashSet<&str> = first
        .iter()
        .map(|cart| cart.idempotency_key.as_str())
        .collect();
    assert_eq!(keys.len(), 200, "keys repeat within one user (seed 7)");
    assert_eq!(first[5].idempotency_key, "mixed-cart-7-u3-c5");
}

// Goal: carts follow the mix: fates near their shares, lines within bounds, hot SKUs
// picked most, some carts with a SKU on two lines, late retries scheduled past retention.
// Method: draw 20,000 carts of mixed-cart with seed 1 and count.
#[test]
fn carts_follow_the_mix() {
    let scenario = shipped("mixed-cart");
    let drawn = carts(&Plan::new(&scenario, 1), 1, 20_000);
    let share =
        |fate: Fate| drawn.iter().filter(|cart| cart.fate == fate).count() as f64 / 20_000.0;
    assert!(
        (share(Fate::Confirm) - 0.6).abs() < 0.02,
        "confirm {} (seed 1)",
        share(Fate::Confirm)
    );
    assert!(
        (share(Fate::Release) - 0.25).abs() < 0.02,
        "release {} (seed 1)",
        share(Fate::Release)
    );
    let mut first_sku = 0;
    let mut last_sku = 0;
    let mut repeated = 0;
    let mut late = 0;
    for cart in &drawn {
        assert!((1..=5).contains(&cart.lines.len()), "{cart:?}");
        assert!(
            cart.lines.iter().all(|line| (1..=3).contains(&line.qty)),
            "{cart:?}"
        );
        assert!(cart.hold <= Duration::from_millis(50), "{cart:?}");
        let distinct: HashSet<&str> = cart.lines.iter().map(|line| line.sku.as_str()).collect();
        repeated += usize::from(distinct.len() < cart.lines.len());
        first_sku += cart
            .lines
            .iter()
            .filter(|line| line.sku == "item-000")
            .count();
        last_sku += cart
            .lines
            .iter()
            .filter(|line| line.sku == "item-999")
            .count();
        if let Some(after) = cart.late_retry_after {
            assert_eq!(
                after,
                Duration::from_millis(2000 + 1000) + LATE_RETRY_MARGIN
            );
            late += 1;
        }
    }
    assert!(
        first_sku > 50 * last_sku.max(1),
        "zipf: item-000 {first_sku}, item-999 {last_sku}"
    );
    assert!(repeated > 500, "repeated-line carts: {repeated} (seed 1)");
    assert!((200..=600).contains(&late), "late retries: {late} (seed 1)");
}

// Goal: the duplicate modes follow the retry policy, and iteration-bounded plans end.
// Method: draw idempotent-retry carts and count send modes; cap a plan at 3 iterations.
#[test]
fn sends_follow_the_retry_policy_and_iterations_end() {
    let scenario = shipped("idempotent-retry");
    let drawn = carts(&Plan::new(&scenario, 1), 1, 3_000);
    let count = |wanted: fn(&Send) -> bool| {
        drawn
            .iter()
            .filter(|cart| wanted(&cart.reserve_send))
            .count()
    };
    assert!(
        count(|send| *send == Send::Concurrent) > 900,
        "concurrent (seed 1)"
    );
    assert!(
        count(|send| *send == Send::AfterReply) > 900,
        "after reply (seed 1)"
    );
    assert!(
        count(|send| *send
            == Send::AfterTimeout {
                timeout: Duration::from_micros(200)
            })
            > 900,
        "after timeout (seed 1)"
    );
    assert_eq!(
        count(|send| *send == Send::Once),
        0,
        "every request is duplicated"
    );

    let mut scenario = shipped("flash-sale");
    scenario.load.stop = Stop::Iterations(3);
    let plan = Plan::new(&scenario, 1);
    let mut user = plan.user(1);
    assert!(user.next_cart().is_some() && user.next_cart().is_some() && user.next_cart().is_some());
    assert_eq!(user.next_cart(), None);
}

// Goal: reservation reads follow their share, and a scenario that asks for none draws
// the carts it drew before the share existed (no extra draw from the stream).
// Method: mixed-cart (share 0) and a copy with share 0.3; 5,000 carts, seed 1.
#[test]
fn reservation_reads_follow_their_share() {
    let scenario = shipped("mixed-cart");
    let none = carts(&Plan::new(&scenario, 1), 1, 5_000);
    assert!(none.iter().all(|cart| !cart.read_reservation));
    let mut reading = scenario.clone();
    reading.mix.read_reservation = 0.3;
    let some = carts(&Plan::new(&reading, 1), 1, 5_000);
    let share = some.iter().filter(|cart| cart.read_reservation).count() as f64 / 5_000.0;
    assert!((share - 0.3).abs() < 0.03, "read share {share} (seed 1)");
    assert_eq!(
        some[0].lines, none[0].lines,
        "the first cart is drawn the same"
    );
}
