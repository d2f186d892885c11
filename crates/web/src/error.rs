//! The one error type of the HTTP API: a status and a stable code, written
//! as `{"error": {"code": "…", "message": "…"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use userimport::sink::Error as SinkError;

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code (`bad_options`, `store_moved` …).
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

/// The body of an error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's code and message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The stable code.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the options cannot be used.
    pub fn bad_options(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_options", message)
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: nobody is signed in.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in, or send an API token (Authorization: Bearer TOKEN)",
        )
    }

    /// 403: signed in, but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 403: a state-changing request without the session's CSRF token.
    pub fn csrf() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "the request lacks this session's anti-forgery token (X-CSRF-Token header or csrf field)",
        )
    }

    /// 404: no such thing (or not the caller's).
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// 409: another import is being applied to the store.
    pub fn busy() -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            "busy",
            "an import is running: try again when it is done",
        )
    }

    /// 409: the store changed since the file was checked.
    pub fn store_moved(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "store_moved", message)
    }

    /// 413: the upload is larger than allowed.
    pub fn too_large(limit: u64) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the file is larger than the limit of {limit} bytes"),
        )
    }

    /// 422: the file cannot be imported as a whole.
    pub fn file(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "file", message)
    }

    /// 429: too many failed sign-ins.
    pub fn throttled(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", message)
    }

    /// 500: the server's own failure (never a client's mistake).
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// 503: the store cannot be reached.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            message,
        )
    }

    /// A server configuration problem (a store URL that cannot work).
    pub fn config(message: impl Into<String>) -> Self {
        ApiError::internal(message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl From<SinkError> for ApiError {
    fn from(e: SinkError) -> Self {
        match &e {
            SinkError::Drift { .. } => ApiError::store_moved(e.to_string()),
            SinkError::Busy(_) => ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()),
            SinkError::Refused(_) | SinkError::RowErrors(_) => ApiError::file(e.to_string()),
            SinkError::Cancelled => ApiError::new(StatusCode::CONFLICT, "cancelled", e.to_string()),
            SinkError::Postgres(_) => ApiError::unavailable(e.to_string()),
            _ => ApiError::internal(e.to_string()),
        }
    }
}

impl From<userimport::Error> for ApiError {
    fn from(e: userimport::Error) -> Self {
        match e {
            userimport::Error::File(_) | userimport::Error::Refused(_) => {
                ApiError::file(e.to_string())
            }
            userimport::Error::StoreMoved { .. } => ApiError::store_moved(e.to_string()),
            userimport::Error::Edit(m) => ApiError::bad_request(m),
            userimport::Error::Sink(inner) => inner.into(),
            userimport::Error::Settings(m) => ApiError::bad_options(m),
            userimport::Error::Open { .. } => ApiError::unavailable(e.to_string()),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::internal(format!("i/o: {e}"))
    }
}

impl From<userimport::WriteError> for ApiError {
    fn from(e: userimport::WriteError) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// Runs blocking library work off the async threads.
pub async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("a worker stopped: {e}")))?
}
