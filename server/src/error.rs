//! The API's one error type. Handlers return `Result<_, ApiError>`; every variant becomes a JSON body
//! `{"error": {"code", "message"}}` with its status. Internal details (database text, IO errors) go to the
//! log, never to the client. Off the request path (startup, the CLI) errors are `anyhow`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, bad parameter).
    BadRequest(String),
    /// 401: writes need the server's token.
    Unauthorized,
    /// 404: no such resource.
    NotFound(String),
    /// 409: the resource is in a state that forbids this.
    Conflict(String),
    /// 413: the body or the result would be too large.
    TooLarge(String),
    /// 422: the content is understood but invalid (a malformed checkpoint, an impossible configuration).
    Unprocessable(String),
    /// 500: a fault on our side; the message is generic, the detail is logged.
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::TooLarge(_) => "too_large",
            Self::Unprocessable(_) => "unprocessable",
            Self::Internal(_) => "internal",
        }
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
    /// A file the readers refused: 413 when it is over a limit, 422 when it is malformed or unsupported.
    pub fn unreadable(e: lowbit_core::Error) -> Self {
        match e.kind {
            lowbit_core::ErrorKind::LimitExceeded => {
                Self::TooLarge(format!("reading this file would go past a limit: {e}"))
            }
            _ => Self::Unprocessable(format!("not a checkpoint lowbit can read: {e}")),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<crate::jobs::JobError> for ApiError {
    fn from(e: crate::jobs::JobError) -> Self {
        use crate::jobs::JobError;
        match e {
            JobError::Invalid(m) => Self::BadRequest(m),
            JobError::TooLarge(m) => Self::TooLarge(m),
            JobError::NotFound(m) => Self::NotFound(m),
            JobError::Failed(m) => Self::Unprocessable(m),
            JobError::Store(e) => e.into(),
        }
    }
}

impl From<crate::catalog::OpenError> for ApiError {
    fn from(e: crate::catalog::OpenError) -> Self {
        use crate::catalog::OpenError;
        match e {
            OpenError::NotFound(id) => Self::NotFound(format!("no checkpoint {id}")),
            OpenError::Store(e) => e.into(),
            OpenError::Files(m) => Self::Internal(m),
            OpenError::Read(e) => Self::unreadable(e),
        }
    }
}

impl From<lowbit_core::Error> for ApiError {
    fn from(e: lowbit_core::Error) -> Self {
        use lowbit_core::ErrorKind;
        match e.kind {
            ErrorKind::InvalidParameter => Self::BadRequest(e.message),
            ErrorKind::LimitExceeded => Self::TooLarge(e.message),
            _ => Self::Unprocessable(e.message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match &self {
            Self::Internal(detail) => {
                eprintln!("lowbit: internal error: {detail}");
                "internal error; the server log has the details".to_string()
            }
            Self::Unauthorized => "this server needs its token for writes (Authorization: Bearer …)".to_string(),
            Self::BadRequest(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::TooLarge(m)
            | Self::Unprocessable(m) => m.clone(),
        };
        (self.status(), Json(json!({"error": {"code": self.code(), "message": message}}))).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
