//! The OpenAPI 3.1 document of the contract, generated from the handlers' `#[utoipa::path]`
//! annotations and the wire types' `ToSchema` derives, so it cannot drift from the code.
//! The same document is committed as `engine/openapi.json`; the integration test
//! `http_openapi` fails when they differ and rewrites the file with `UPDATE_OPENAPI=1`.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;

use crate::http::routes::{StateName, ops, reservations, skus};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "stockproof",
        description = "The inventory contract stockproof drives (DESIGN §6): restock, adjust, \
                       reserve (idempotent on the Idempotency-Key header), confirm, release. \
                       Every error answers `{error, message, field?}`.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(
        StateName,
        crate::http::error::ErrorBody,
        skus::SkuBody,
        skus::RestockBody,
        skus::AdjustBody,
        reservations::LineBody,
        reservations::ReserveBody,
        reservations::ReservationBody,
        reservations::TransitionBody,
        ops::StatusBody
    )),
    tags(
        (name = "skus", description = "Stock of one SKU"),
        (name = "reservations", description = "Carts held, then confirmed, released or expired"),
        (name = "ops", description = "Health, readiness, metrics")
    )
)]
struct ApiDoc;

/// The document's fixed parts (info, tags, shared schemas); routes add their paths.
pub(super) fn base() -> Document {
    ApiDoc::openapi()
}

/// Adds `/openapi.json` itself and pins the version to the crate's.
pub(super) fn finish(mut document: Document) -> Document {
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let operation = utoipa::openapi::path::OperationBuilder::new()
        .tag("ops")
        .summary(Some("This document"))
        .response(
            "200",
            utoipa::openapi::ResponseBuilder::new()
                .description("The OpenAPI document")
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::ObjectBuilder::new()))
                        .build(),
                ),
        )
        .build();
    document.paths.add_path_operation(
        "/openapi.json",
        vec![utoipa::openapi::HttpMethod::Get],
        operation,
    );
    document
}

/// Pretty JSON with a final newline, as committed.
pub fn to_json(document: &Document) -> String {
    let mut text = document
        .to_pretty_json()
        .expect("an OpenAPI document always serializes");
    text.push('\n');
    text
}

pub(super) async fn serve(document_json: axum::body::Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document_json)
}
