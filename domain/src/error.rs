use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::{ErrorKind, UserError};

/// The one error type of the server side. User-facing variants carry a message meant for people;
/// `Database` and `Internal` are logged and shown only as a generic message.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// A body larger than its route takes, or files the storage quota has no room for: 413 for
    /// both (the content is more than the server will take or keep for this caller), the message
    /// saying which limit; not a 5xx, which clients would retry.
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A NUL character in user text is the one input PostgreSQL refuses for every text column
/// (SQLSTATE 22021); it is the user's mistake, not a server error.
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22021") => {
                AppError::Invalid("Text with a NUL character (\\0) is not accepted.".into())
            }
            _ => AppError::Database(err),
        }
    }
}

/// Files of the managed workspace (scripts, uploads, work dirs) failing is our fault, never the
/// user's: an internal error, so `?` works on file I/O.
impl From<std::io::Error> for AppError {
    fn from(err: std::io::Error) -> Self {
        AppError::Internal(err.into())
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Unique constraints whose violation is the user's doing, with what to tell them.
const UNIQUE_MESSAGES: &[(&str, &str)] = &[
    (
        "tenants_name_unique",
        "A tenant with this name already exists.",
    ),
    ("host_bindings_pkey", "This host is already bound."),
    (
        "users_username_unique",
        "A user with this name already exists.",
    ),
    (
        "platform_users_username_unique",
        "A user with this name already exists.",
    ),
];

impl AppError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::Invalid(_) => ErrorKind::Invalid,
            AppError::Conflict(_) => ErrorKind::Conflict,
            AppError::NotFound(_) => ErrorKind::NotFound,
            AppError::Unauthenticated(_) => ErrorKind::Unauthenticated,
            AppError::Forbidden(_) => ErrorKind::Forbidden,
            AppError::TooManyRequests(_) => ErrorKind::TooManyRequests,
            AppError::TooLarge(_) => ErrorKind::TooLarge,
            AppError::Unavailable(_) => ErrorKind::Unavailable,
            AppError::Database(_) | AppError::Migration(_) | AppError::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }

    /// Turns a unique violation the user caused into a `Conflict`; leaves everything else alone.
    pub fn from_db(err: sqlx::Error) -> AppError {
        if let sqlx::Error::Database(db) = &err {
            if let Some(constraint) = db.constraint() {
                if let Some((_, msg)) = UNIQUE_MESSAGES.iter().find(|(c, _)| *c == constraint) {
                    return AppError::Conflict((*msg).to_string());
                }
            }
        }
        AppError::Database(err)
    }

    pub fn to_user_error(&self) -> UserError {
        match self.kind() {
            ErrorKind::Internal => {
                tracing::error!(error = %self, "internal error");
                UserError::new(
                    ErrorKind::Internal,
                    "Something went wrong on our side; it has been logged.",
                )
            }
            kind => UserError::new(kind, self.to_string()),
        }
    }
}

impl From<AppError> for UserError {
    fn from(err: AppError) -> Self {
        err.to_user_error()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let user = self.to_user_error();
        let status =
            StatusCode::from_u16(user.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, user.message).into_response()
    }
}
