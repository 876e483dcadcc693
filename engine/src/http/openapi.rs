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

/// Adds `/openapi.json` itself, the links between operations, and pins the version to
/// the crate's.
pub(super) fn finish(mut document: Document) -> Document {
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    add_links(&mut document);
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

/// A link's name, its target operation id, and the parameter the response's same-named
/// body field feeds.
type LinkTarget = (&'static str, &'static str, &'static str);

/// OpenAPI links: which response value feeds which operation's parameter (a restocked
/// SKU to its snapshot, a new reservation to confirm / release / read). Clients and
/// schemathesis' stateful phase follow them to reach existing resources.
fn add_links(document: &mut Document) {
    let links: [(&str, &str, &[LinkTarget]); 3] = [
        (
            "/v1/skus/{sku}/restock",
            "200",
            &[("GetSku", "get_sku", "sku"), ("AdjustSku", "adjust", "sku")],
        ),
        (
            "/v1/reservations",
            "201",
            &[
                ("ConfirmReservation", "confirm", "id"),
                ("ReleaseReservation", "release", "id"),
                ("GetReservation", "get_reservation", "id"),
            ],
        ),
        (
            "/v1/reservations",
            "200",
            &[("GetReservation", "get_reservation", "id")],
        ),
    ];
    for (path, status, targets) in links {
        let Some(operation) = document
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
        else {
            continue;
        };
        let Some(utoipa::openapi::RefOr::T(response)) =
            operation.responses.responses.get_mut(status)
        else {
            continue;
        };
        for (name, operation_id, parameter) in targets {
            let link = utoipa::openapi::link::LinkBuilder::new()
                .operation_id(*operation_id)
                .parameter(*parameter, format!("$response.body#/{parameter}"))
                .build();
            response.links.insert((*name).to_owned(), link.into());
        }
    }
}

/// Pretty JSON with a final newline, as committed.
pub fn to_json(document: &Document) -> String {
    let mut value = serde_json::to_value(document).expect("an OpenAPI document always serializes");
    camel_case_links(&mut value);
    let mut text = serde_json::to_string_pretty(&value).expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// utoipa 5 serializes a Link Object's fields in snake case (`operation_id`); OpenAPI
/// names them `operationId`, `operationRef`, `requestBody`. Renamed here so that link
/// followers (schemathesis' stateful phase) understand them.
fn camel_case_links(document: &mut serde_json::Value) {
    let Some(paths) = document
        .get_mut("paths")
        .and_then(|paths| paths.as_object_mut())
    else {
        return;
    };
    let responses = paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses"))
        .filter_map(|responses| responses.as_object_mut())
        .flat_map(|responses| responses.values_mut());
    for response in responses {
        let Some(links) = response
            .get_mut("links")
            .and_then(|links| links.as_object_mut())
        else {
            continue;
        };
        for link in links.values_mut().filter_map(|link| link.as_object_mut()) {
            for (snake, camel) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(value) = link.remove(snake) {
                    link.insert(camel.to_owned(), value);
                }
            }
        }
    }
}

pub(super) async fn serve(document_json: axum::body::Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document_json)
}
