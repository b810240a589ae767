//! The master's API errors; the HTTP status of each is decided in one place.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request conflicts with the cluster (e.g. quota beyond capacity).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    GatewayTimeout(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Conflict(_) => 409,
            ApiError::NotAcceptable(_) => 406,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::NotImplemented(_) => 501,
            ApiError::Unavailable(_) => 503,
            ApiError::GatewayTimeout(_) => 504,
            ApiError::Internal(_) => 500,
        }
    }
}

impl From<mesos_daemon::files::FilesError> for ApiError {
    fn from(e: mesos_daemon::files::FilesError) -> ApiError {
        use mesos_daemon::files::FilesError as F;
        match e {
            F::BadRequest(m) => ApiError::BadRequest(m),
            F::Forbidden(m) => ApiError::Forbidden(m),
            F::NotFound(m) => ApiError::NotFound(m),
            F::Timeout(m) => ApiError::GatewayTimeout(m),
            F::Internal(m) => ApiError::Internal(m),
        }
    }
}
