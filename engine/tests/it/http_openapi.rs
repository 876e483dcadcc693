//! The OpenAPI document a running server serves equals the committed
//! `engine/openapi.json`, so that the committed contract cannot drift from the code.

use reqwest::StatusCode;

use crate::http_support::TestServer;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

// Goal: served document == committed file, and the document declares what clients
// rely on (the required Idempotency-Key header, the error body). Method: GET
// /openapi.json from a real server; with UPDATE_OPENAPI=1 rewrite the file instead of
// failing (then review and commit the diff).
#[tokio::test]
async fn served_openapi_equals_the_committed_file() {
    let server = TestServer::start("http-openapi").await;
    let answer = server
        .send(server.client.get(server.url("/openapi.json")))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/json");
    let served =
        stockproof_engine::http::openapi::to_json(&stockproof_engine::http::openapi_document());
    assert_eq!(
        answer.body,
        serde_json::from_str::<serde_json::Value>(&served).unwrap()
    );
    server.shutdown().await;

    let reserve = &answer.body["paths"]["/v1/reservations"]["post"];
    let header = reserve["parameters"]
        .as_array()
        .and_then(|parameters| {
            parameters
                .iter()
                .find(|parameter| parameter["name"] == "Idempotency-Key")
        })
        .expect("reserve declares the Idempotency-Key header");
    assert_eq!(header["in"], "header");
    assert_eq!(header["required"], true);
    assert!(answer.body["components"]["schemas"]["ErrorBody"].is_object());

    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|value| value == "1") {
        std::fs::write(COMMITTED, &served)
            .unwrap_or_else(|error| panic!("writing {COMMITTED}: {error}"));
        return;
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == served,
        "{COMMITTED} differs from the document the server serves; regenerate it with \
         `UPDATE_OPENAPI=1 cargo nextest run -p stockproof-engine served_openapi`, review \
         the diff and commit it"
    );
}
