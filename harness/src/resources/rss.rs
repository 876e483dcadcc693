//! This process's resident memory, from `/proc/self/status` (`VmRSS`): the harness's
//! own, which in process includes the engine it serves. Linux only; elsewhere `None`.
//!
//! Not here: the target's memory (`super::engine`, `super::metrics`).

/// Resident set size of this process in bytes, if the kernel tells.
pub fn process_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_rss_bytes(&status)
}

/// `VmRSS:  123456 kB` → 123456 × 1024.
fn status_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the RSS line of /proc/self/status is read in bytes.
    // Method: a fixed status text, then the live one (this test process has memory).
    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tx\nVmRSS:\t  2048 kB\nThreads:\t1\n";
        assert_eq!(status_rss_bytes(status), Some(2 * 1024 * 1024));
        assert!(process_rss_bytes().is_some_and(|bytes| bytes > 0));
    }
}
