//! Extractors whose rejections are [`ApiError`]s, so that malformed JSON, wrong types,
//! unknown fields, oversized bodies, non-UTF-8 path segments and a missing
//! `Idempotency-Key` all answer with the one error body, naming what was wrong.
//! axum's own `Json` and `Path` answer plain text; these replace them in every handler.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::http::BODY_BYTES_MAX;
use crate::http::error::ApiError;
use crate::limits::IDEMPOTENCY_KEY_BYTES_MAX;
use crate::reservation::validate_idempotency_key;

/// The request header of the IETF httpapi idempotency-key draft.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// A JSON body of type `T`; a refused body names the JSON path that broke
/// (`items[3].qty`), found with `serde_path_to_error`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(bytes_rejection)?;
        parse_json::<Object<T>>(&bytes).map(|Object(value)| ApiJson(value))
    }
}

fn has_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge {
            limit_bytes: BODY_BYTES_MAX,
        }
    } else {
        ApiError::MalformedJson {
            message: format!("the body could not be read: {}", rejection.body_text()),
        }
    }
}

/// A JSON object deserialized as `T`. serde's derive also accepts a JSON array for a
/// struct (`[5]` as `{"qty": 5}`); the contract says object, so this refuses arrays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object<T>(pub T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for ObjectOnly<T> {
            type Value = T;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(ObjectOnly(std::marker::PhantomData))
            .map(Object)
    }
}

/// An integer field. JSON Schema counts `5.0` as an integer, and JSON clients (JavaScript
/// numbers) may send one, so a float with no fractional part inside ±2^53 (where doubles
/// are exact) is accepted; `1.5` or `1e30` is refused as not an integer.
pub fn integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct Integer;
    /// 2^53: the largest range in which every integer is an exact double.
    const EXACT_DOUBLE_MAX: f64 = 9_007_199_254_740_992.0;
    impl serde::de::Visitor<'_> for Integer {
        type Value = i64;
        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("an integer")
        }
        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<i64, E> {
            Ok(value)
        }
        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<i64, E> {
            i64::try_from(value).map_err(|_| E::custom(format!("{value} is out of range")))
        }
        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<i64, E> {
            if value.fract() == 0.0 && value.abs() <= EXACT_DOUBLE_MAX {
                Ok(value as i64)
            } else {
                Err(E::custom(format!("expected an integer, got {value}")))
            }
        }
    }
    deserializer.deserialize_any(Integer)
}

/// Deserializes `bytes` (a JSON object), mapping a syntax error to `malformed_json` and a type,
/// missing-field or unknown-field error to `invalid_input` naming the JSON path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = match parsed {
        Ok(value) => value,
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            return Err(json_error(&path, &inner));
        }
    };
    deserializer
        .end()
        .map_err(|error| ApiError::MalformedJson {
            message: error.to_string(),
        })?;
    Ok(value)
}

fn json_error(path: &str, error: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::MalformedJson {
            message: error.to_string(),
        },
        Category::Data => {
            let message = error.to_string();
            // serde_path_to_error's path ends at an unknown field itself, but at the
            // enclosing object for a missing one (named only in the message).
            let field = match missing_field(&message) {
                Some(name) if path == "." => name,
                Some(name) => format!("{path}.{name}"),
                None if path == "." => "body".to_owned(),
                None => path.to_owned(),
            };
            ApiError::invalid(field, strip_position(&message))
        }
    }
}

/// `missing field `qty`` → `qty`.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// serde_json appends ` at line L column C`; the field already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// One path parameter, as a string; a non-UTF-8 or missing segment is a 400 naming it.
#[derive(Debug)]
pub struct ApiPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ApiPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(path_rejection(&rejection)),
        }
    }
}

fn path_rejection(rejection: &PathRejection) -> ApiError {
    use axum::extract::path::ErrorKind;
    match rejection {
        PathRejection::FailedToDeserializePathParams(error) => match error.kind() {
            ErrorKind::InvalidUtf8InPathParam { key } => ApiError::invalid(
                key.clone(),
                "the path segment is not valid UTF-8 after percent-decoding",
            ),
            ErrorKind::ParseErrorAtKey { key, .. } => {
                ApiError::invalid(key.clone(), error.body_text())
            }
            _ => ApiError::invalid("path", error.body_text()),
        },
        other => {
            tracing::error!(rejection = %other.body_text(), "path parameters missing");
            ApiError::Internal
        }
    }
}

/// The draft defines the header as a structured-field string (`"abc"`); clients in the
/// wild mostly send the bare token (`abc`). Both name the same key.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|inner| !inner.contains(['"', '\\']))
        .unwrap_or(value)
}

/// The `Idempotency-Key` header: required, 1..=255 visible ASCII characters, bare or
/// as a structured-field string.
#[derive(Debug)]
pub struct IdempotencyKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
        let Some(value) = values.next() else {
            return Err(ApiError::IdempotencyKeyMissing);
        };
        if values.next().is_some() {
            return Err(ApiError::invalid(
                IDEMPOTENCY_KEY_HEADER,
                "the header is given more than once; send exactly one key",
            ));
        }
        let invalid = || {
            ApiError::invalid(
                IDEMPOTENCY_KEY_HEADER,
                format!(
                    "must be 1 to {IDEMPOTENCY_KEY_BYTES_MAX} visible ASCII characters (e.g. a UUID)"
                ),
            )
        };
        let key = unquote(value.to_str().map_err(|_| invalid())?);
        validate_idempotency_key(key).map_err(|_| invalid())?;
        Ok(IdempotencyKey(key.to_owned()))
    }
}
