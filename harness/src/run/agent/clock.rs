//! How far this machine's clock may be from true time, as the kernel knows it: while
//! NTP (chrony, ntpd, systemd-timesyncd) keeps the clock synchronised, `adjtimex(2)`'s
//! `maxerror` is the kernel's bound on the clock's error (µs). Two agents whose clocks
//! are each within their bound of true time are within the sum of the bounds of each
//! other, which is what `stockproof merge` takes as the measured skew when no bound was
//! declared. An unsynchronised clock (`TIME_ERROR`, `STA_UNSYNC`) has no bound.
//!
//! Not here: declaring a bound (`--clock-skew`), widening intervals (`crate::merge`).

/// The kernel's error bound of this machine's clock, µs; `None` when the clock is not
/// synchronised (or the platform has no `adjtimex`).
pub fn sync_error_bound_us() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: adjtimex with modes = 0 only reads the kernel's clock state into the
        // zeroed struct it is given.
        let mut state: libc::timex = unsafe { std::mem::zeroed() };
        let clock = unsafe { libc::adjtimex(&mut state) };
        let unsynchronised =
            clock == -1 || clock == libc::TIME_ERROR || state.status & libc::STA_UNSYNC != 0;
        if unsynchronised {
            return None;
        }
        u64::try_from(state.maxerror).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The skew bound between any two of `bounds` (each agent's error bound, µs): the two
/// largest added. `None` unless every agent had one.
pub fn pairwise_skew_bound_us(bounds: &[Option<u64>]) -> Option<u64> {
    let mut known: Vec<u64> = bounds.iter().copied().collect::<Option<_>>()?;
    known.sort_unstable_by(|left, right| right.cmp(left));
    Some(known.iter().take(2).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the measured bound is the worst pair's, and only when every clock had one.
    #[test]
    fn the_two_largest_bounds_add_up() {
        assert_eq!(
            pairwise_skew_bound_us(&[Some(300), Some(5_000), Some(1_200)]),
            Some(6_200)
        );
        assert_eq!(pairwise_skew_bound_us(&[Some(700)]), Some(700));
        assert_eq!(pairwise_skew_bound_us(&[Some(700), None]), None);
    }
}
