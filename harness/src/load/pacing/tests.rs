use std::time::Duration;

use super::*;

// Goal: the users' slots interleave into one even stream of R carts/s.
// Method: 4 users at 100 carts/s; merge each user's first slots and check the gaps.
#[test]
fn slots_of_all_users_interleave_evenly() {
    let mut dues: Vec<Duration> = (0..4)
        .flat_map(|user| {
            let pacing = Pacing::new(100.0, 4, user);
            (0..5).map(move |slot| pacing.slot_due(slot))
        })
        .collect();
    dues.sort();
    for (index, due) in dues.iter().enumerate() {
        let expected = Duration::from_millis(10 * index as u64);
        let error = due.abs_diff(expected);
        assert!(
            error < Duration::from_micros(1),
            "slot {index}: {due:?} != {expected:?}"
        );
    }
}

// Goal: slots_due_before counts the slots strictly before an instant.
// Method: one user at 10 carts/s (period 100 ms, phase 0) probed around slot edges.
#[test]
fn slots_due_before_counts_strictly_earlier_slots() {
    let pacing = Pacing::new(10.0, 1, 0);
    assert_eq!(pacing.period(), Duration::from_millis(100));
    assert_eq!(pacing.slots_due_before(Duration::ZERO), 0);
    assert_eq!(pacing.slots_due_before(Duration::from_millis(1)), 1);
    assert_eq!(pacing.slots_due_before(Duration::from_millis(100)), 1);
    assert_eq!(pacing.slots_due_before(Duration::from_millis(101)), 2);
    assert_eq!(pacing.slots_due_before(Duration::from_secs(1)), 10);
}

// Goal: a user's phase delays its first slot, and nothing is due before it.
// Method: user 1 of 2 at 10 carts/s has period 200 ms and phase 100 ms.
#[test]
fn phase_shifts_a_users_first_slot() {
    let pacing = Pacing::new(10.0, 2, 1);
    assert_eq!(pacing.slot_due(0), Duration::from_millis(100));
    assert_eq!(pacing.slot_due(1), Duration::from_millis(300));
    assert_eq!(pacing.slots_due_before(Duration::from_millis(100)), 0);
    assert_eq!(pacing.slots_due_before(Duration::from_millis(150)), 1);
}

// Goal: the lateness threshold is the timer's resolution, not zero.
// Method: probe either side of LATE_START_TOLERANCE.
#[test]
fn lateness_within_the_timer_tolerance_is_on_time() {
    assert!(!is_late(Duration::ZERO));
    assert!(!is_late(LATE_START_TOLERANCE));
    assert!(is_late(LATE_START_TOLERANCE + Duration::from_micros(1)));
}

// Goal: users that start at different times still interleave into one even stream, and
// none has a slot before its start.
// Method: 4 users at 100 carts/s (period 40 ms) starting 0, 13, 27 and 55 ms after
// zero; merge their slots from 80 ms to 200 ms (every user started, each still has
// slots) and check the gaps.
#[test]
fn users_starting_apart_share_one_even_grid() {
    let starts_ms = [0u64, 13, 27, 55];
    let mut dues: Vec<Duration> = Vec::new();
    for (user, start_ms) in starts_ms.iter().enumerate() {
        let pacing = Pacing::new(100.0, 4, user as u32);
        let start = Duration::from_millis(*start_ms);
        let origin = pacing.grid_origin(start);
        assert!(
            origin + pacing.slot_due(0) >= start,
            "user {user} has a slot before its start"
        );
        assert!(origin + pacing.slot_due(0) < start + pacing.period());
        dues.extend((0..6).map(|slot| origin + pacing.slot_due(slot)));
    }
    dues.retain(|due| (Duration::from_millis(80)..=Duration::from_millis(200)).contains(due));
    dues.sort();
    for pair in dues.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap.abs_diff(Duration::from_millis(10)) < Duration::from_micros(1),
            "{dues:?}"
        );
    }
}
