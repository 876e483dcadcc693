use super::*;

#[test]
fn a_missing_redis_server_names_the_package_to_install() {
    // Goal: on a machine without Redis the error says what to install. Method: search
    // an empty directory as PATH, and a given path that does not exist.
    let empty = tempfile::tempdir().unwrap();
    let error = find_redis_server(None, Some(empty.path().as_os_str())).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("apt-get install redis-server"),
        "{message}"
    );
    assert!(
        message.contains(&empty.path().display().to_string()),
        "{message}"
    );

    let error = find_redis_server(Some(&empty.path().join("redis-server")), None).unwrap_err();
    assert!(
        error.to_string().contains("apt-get install redis-server"),
        "{error}"
    );
}

#[test]
fn a_missing_postgres_names_the_package_to_install() {
    // Goal: a bin dir without initdb/postgres gives the package name, not a spawn error.
    let empty = tempfile::tempdir().unwrap();
    let message = find_postgres_bin_dir(Some(empty.path()))
        .unwrap_err()
        .to_string();
    assert!(message.contains("apt-get install postgresql"), "{message}");
    assert!(message.contains("initdb and postgres"), "{message}");
}

#[test]
fn debian_bin_dirs_come_newest_first() {
    // Goal: with several majors installed the newest wins, and non-version dirs are ignored.
    let root = tempfile::tempdir().unwrap();
    for name in ["13", "15", "9", "common"] {
        std::fs::create_dir(root.path().join(name)).unwrap();
    }
    let dirs = debian_postgres_bin_dirs(root.path());
    let majors: Vec<_> = dirs
        .iter()
        .map(|dir| dir.parent().unwrap().file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(majors, ["15", "13", "9"]);
}
