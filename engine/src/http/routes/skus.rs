//! `/v1/skus/{sku}`: restock, adjust and the stock snapshot of one SKU.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};

use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, integer};
use crate::limits::RESTOCK_QTY_MAX;
use crate::outcome::AdjustOutcome;
use crate::reservation::validate_sku_id;
use stockproof_model::SkuStock;

/// `POST /v1/skus/{sku}/restock`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockBody {
    /// Units to add (1 to 1,000,000,000).
    #[schema(minimum = 1, maximum = 1_000_000_000, example = 10)]
    #[serde(deserialize_with = "integer")]
    pub qty: i64,
}

/// `POST /v1/skus/{sku}/adjust`: a correction (count after a stocktake, damage).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustBody {
    /// Units to add (positive) or remove (negative), never 0, at most 1,000,000,000 either
    /// way; refused with 409 if `available` would go below 0.
    #[schema(schema_with = delta_schema)]
    #[serde(deserialize_with = "integer")]
    pub delta: i64,
}

/// A nonzero integer in ±[`RESTOCK_QTY_MAX`] (JSON Schema has no "not 0" on ranges).
fn delta_schema() -> utoipa::openapi::schema::Schema {
    let range = |minimum: i64, maximum: i64| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(minimum as f64))
            .maximum(Some(maximum as f64))
    };
    OneOfBuilder::new()
        .item(range(-RESTOCK_QTY_MAX, -1))
        .item(range(1, RESTOCK_QTY_MAX))
        .build()
        .into()
}

/// One SKU's stock: `available + reserved + sold == total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SkuBody {
    pub sku: String,
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
    /// Units ever supplied: restocks ± adjustments.
    pub total: i64,
}

impl SkuBody {
    fn new(sku: String, stock: SkuStock) -> SkuBody {
        SkuBody {
            sku,
            available: stock.available,
            reserved: stock.reserved,
            sold: stock.sold,
            total: stock.total,
        }
    }
}

fn checked_sku(sku: String) -> Result<String, ApiError> {
    validate_sku_id(&sku).map_err(|error| match error {
        crate::EngineError::InvalidInput { reason, .. } => ApiError::invalid("sku", reason),
        other => ApiError::from(other),
    })?;
    Ok(sku)
}

/// Adds units to a SKU, creating it if new.
#[utoipa::path(
    post,
    path = "/v1/skus/{sku}/restock",
    tag = "skus",
    params(("sku" = String, Path, description = "SKU id", pattern = "^[A-Za-z0-9._:-]{1,128}$", example = "sku-1")),
    request_body = RestockBody,
    responses(
        (status = 200, description = "The SKU's stock after the restock", body = SkuBody),
        (status = 400, description = "Bad input; `field` names it", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body not JSON", body = ErrorBody),
        (status = 503, description = "Store unreachable or server overloaded; nothing changed", body = ErrorBody),
        (status = 504, description = "No reply in time; the effect is unknown", body = ErrorBody),
    )
)]
pub async fn restock(
    State(state): State<AppState>,
    ApiPath(sku): ApiPath,
    ApiJson(body): ApiJson<RestockBody>,
) -> Result<Json<SkuBody>, ApiError> {
    let sku = checked_sku(sku)?;
    ApiError::check_range("qty", body.qty, (1, RESTOCK_QTY_MAX), "")?;
    state.check_writable()?;
    let stock = state.engine.restock(&sku, body.qty).await?;
    Ok(Json(SkuBody::new(sku, stock)))
}

/// Corrects a SKU's count by `delta` units.
#[utoipa::path(
    post,
    path = "/v1/skus/{sku}/adjust",
    tag = "skus",
    params(("sku" = String, Path, description = "SKU id", pattern = "^[A-Za-z0-9._:-]{1,128}$", example = "sku-1")),
    request_body = AdjustBody,
    responses(
        (status = 200, description = "The SKU's stock after the adjustment", body = SkuBody),
        (status = 400, description = "Bad input; `field` names it", body = ErrorBody),
        (status = 404, description = "The SKU was never stocked", body = ErrorBody),
        (status = 409, description = "`available` would go below 0 (`insufficient_stock`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body not JSON", body = ErrorBody),
        (status = 503, description = "Store unreachable or server overloaded; nothing changed", body = ErrorBody),
        (status = 504, description = "No reply in time; the effect is unknown", body = ErrorBody),
    )
)]
pub async fn adjust(
    State(state): State<AppState>,
    ApiPath(sku): ApiPath,
    ApiJson(body): ApiJson<AdjustBody>,
) -> Result<Json<SkuBody>, ApiError> {
    let sku = checked_sku(sku)?;
    if body.delta == 0 || body.delta.unsigned_abs() > RESTOCK_QTY_MAX.unsigned_abs() {
        return Err(ApiError::invalid(
            "delta",
            format!(
                "must be nonzero and between -{RESTOCK_QTY_MAX} and {RESTOCK_QTY_MAX}, got {}",
                body.delta
            ),
        ));
    }
    state.check_writable()?;
    match state.engine.adjust(&sku, body.delta).await? {
        AdjustOutcome::Adjusted(stock) => Ok(Json(SkuBody::new(sku, stock))),
        AdjustOutcome::Refused { available } => Err(ApiError::InsufficientStock { sku, available }),
        AdjustOutcome::UnknownSku => Err(ApiError::UnknownSku { sku }),
    }
}

/// The SKU's stock now.
#[utoipa::path(
    get,
    path = "/v1/skus/{sku}",
    tag = "skus",
    params(("sku" = String, Path, description = "SKU id", pattern = "^[A-Za-z0-9._:-]{1,128}$", example = "sku-1")),
    responses(
        (status = 200, description = "The SKU's stock", body = SkuBody),
        (status = 400, description = "Bad SKU id", body = ErrorBody),
        (status = 404, description = "The SKU was never stocked", body = ErrorBody),
        (status = 503, description = "Store unreachable or server overloaded", body = ErrorBody),
        (status = 504, description = "No reply in time", body = ErrorBody),
    )
)]
pub async fn get_sku(
    State(state): State<AppState>,
    ApiPath(sku): ApiPath,
) -> Result<Json<SkuBody>, ApiError> {
    let sku = checked_sku(sku)?;
    match state.engine.sku(&sku).await? {
        Some(stock) => Ok(Json(SkuBody::new(sku, stock))),
        None => Err(ApiError::UnknownSku { sku }),
    }
}
