use super::*;

#[test]
fn a_dead_sessions_dir_is_swept_and_a_live_one_is_kept() {
    // Goal: the sweep removes exactly the dirs nobody holds. Method: a private temp root
    // with one live session (lock held) and one dead one (lock file, no holder).
    let root = tempfile::tempdir().unwrap();
    let live = root.path().join(format!("{SESSION_DIR_PREFIX}1-live"));
    let dead = root.path().join(format!("{SESSION_DIR_PREFIX}2-dead"));
    let other = root.path().join("somebody-else");
    for dir in [&live, &dead, &other] {
        fs::create_dir(dir).unwrap();
    }
    let live_lock = File::create(live.join(LOCK_FILE_NAME)).unwrap();
    live_lock.lock().unwrap();
    File::create(dead.join(LOCK_FILE_NAME)).unwrap();

    sweep_stale_sessions(root.path());

    assert!(live.exists(), "a held session must survive the sweep");
    assert!(!dead.exists(), "an unheld session must be swept");
    assert!(
        other.exists(),
        "dirs that are not sessions are never touched"
    );
}
