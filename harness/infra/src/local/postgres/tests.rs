//! The start-up race of two local runs that drew the same free port: the Postgres whose
//! postmaster could not bind must not take the other run's server for its own.

use super::*;
use crate::local::binaries;
use crate::session::SessionDir;

// Goal: a postmaster that lost its port to another run's Postgres is not reported ready
// because that other server answers there; its start fails with the bind error, which
// `LocalPostgres::start` retries on a new port.
// Method: start a first server; initdb a second one in its own dir and start it on the
// first one's port. Before the data-directory check, the second start returned Ok (or
// failed creating a database that already existed).
#[tokio::test]
async fn a_postmaster_that_lost_its_port_is_not_taken_for_ready() {
    let bin_dir = binaries::find_postgres_bin_dir(None).expect("postgres binaries");
    let account = binaries::postgres_account().expect("postgres account");
    let session = SessionDir::create().expect("session dir");
    let first = LocalPostgres::start(
        &bin_dir,
        session.subdir("first").expect("first dir"),
        account.as_ref(),
        false,
    )
    .await
    .expect("first postgres starts");
    let second_dir = session.subdir("second").expect("second dir");
    hand_over(&second_dir, account.as_ref()).expect("hand over the second dir");
    let second_data_dir = second_dir.join("data");
    initdb(
        &bin_dir,
        &second_data_dir,
        &second_dir.join("initdb.log"),
        account.as_ref(),
    )
    .await
    .expect("initdb of the second server");

    let second = LocalPostgres::start_once(
        &bin_dir,
        &second_dir,
        &second_data_dir,
        account.as_ref(),
        false,
        first.port(),
    )
    .await;

    let port = first.port();
    let Err(error) = second else {
        panic!("a second postgres started on port {port}, held by the first, was taken for ready");
    };
    assert!(
        error.to_string().contains("Address already in use"),
        "port {port}: the second start failed for another reason: {error}"
    );
    readiness::postgres_cluster_answers(&first.url, Some(first.launch.data_dir.as_path()))
        .await
        .unwrap_or_else(|reason| {
            panic!("the first server on port {port} no longer answers: {reason}")
        });
}
