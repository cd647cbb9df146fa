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
    /// Refused for now: the message says when to try again, and so does `Retry-After`.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_seconds: u64,
    },
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
/// (SQLSTATE 22021; 22P05 inside JSON): it is the user's mistake, not a server error. Inputs are
/// checked before they get here; this catches whatever text path was not.
///
/// A database that cannot be reached (connection refused or broken, no connection within the
/// pool's timeout, PostgreSQL shutting down or starting up) is a passing condition: 503, so that
/// clients try again, never a 500.
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22021" | "22P05")) =>
            {
                AppError::Invalid(model::skill::NUL_REFUSED.into())
            }
            _ if unreachable_database(&err) => AppError::Unavailable(DATABASE_UNAVAILABLE.into()),
            _ => AppError::Database(err),
        }
    }
}

/// What people are told while the database cannot be reached.
pub const DATABASE_UNAVAILABLE: &str =
    "The database is unreachable for the moment; try again in a few seconds.";
/// The `Retry-After` (seconds) of every 503.
pub const RETRY_AFTER_SECONDS: &str = "5";

/// Marks a response that failed because the database is unreachable (a response extension), so
/// that the server answers the next requests 503 at once until the database answers again.
#[derive(Clone, Copy, Debug)]
pub struct DatabaseUnreachable;

/// Errors that say the database is down or out of reach rather than that a statement failed.
pub fn unreachable_database(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // 08: connection exception; 57P01-03: shutting down, crashed, starting up.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
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
            AppError::TooManyRequests { .. } => ErrorKind::TooManyRequests,
            AppError::TooLarge(_) => ErrorKind::TooLarge,
            AppError::Unavailable(_) => ErrorKind::Unavailable,
            AppError::Database(_) | AppError::Migration(_) | AppError::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }

    /// Turns a unique violation the user caused into a `Conflict`; everything else as `From`.
    pub fn from_db(err: sqlx::Error) -> AppError {
        if let sqlx::Error::Database(db) = &err {
            if let Some(constraint) = db.constraint() {
                if let Some((_, msg)) = UNIQUE_MESSAGES.iter().find(|(c, _)| *c == constraint) {
                    return AppError::Conflict((*msg).to_string());
                }
            }
        }
        AppError::from(err)
    }

    /// Whether this is the database being out of reach (see [`DatabaseUnreachable`]).
    pub fn is_database_unreachable(&self) -> bool {
        matches!(self, AppError::Unavailable(m) if m == DATABASE_UNAVAILABLE)
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

impl AppError {
    /// The `Retry-After` (seconds) of its answer: on a 429, when the refusal ends; on a 503,
    /// [`RETRY_AFTER_SECONDS`].
    pub fn retry_after(&self) -> Option<axum::http::HeaderValue> {
        match self {
            AppError::TooManyRequests {
                retry_after_seconds,
                ..
            } => Some((*retry_after_seconds).max(1).into()),
            AppError::Unavailable(_) => {
                Some(axum::http::HeaderValue::from_static(RETRY_AFTER_SECONDS))
            }
            _ => None,
        }
    }

    /// What every answer of this error carries besides its body: its `Retry-After`, and the
    /// [`DatabaseUnreachable`] mark.
    pub fn mark_response(&self, response: &mut Response) {
        if let Some(value) = self.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        if self.is_database_unreachable() {
            response.extensions_mut().insert(DatabaseUnreachable);
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
        let mut response = (status, user.message).into_response();
        self.mark_response(&mut response);
        response
    }
}
