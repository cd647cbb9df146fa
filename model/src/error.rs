use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// What went wrong, in the terms a client can act on; maps to an HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    Invalid,
    Conflict,
    NotFound,
    Unauthenticated,
    Forbidden,
    TooManyRequests,
    /// Larger than a request may be, or than the storage quota leaves room for.
    TooLarge,
    Unavailable,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::Invalid => 422,
            ErrorKind::Conflict => 409,
            ErrorKind::NotFound => 404,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::TooLarge => 413,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// The error a user sees: a kind and a human message, never internal details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct UserError {
    pub kind: ErrorKind,
    pub message: String,
}

impl UserError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        UserError {
            kind,
            message: message.into(),
        }
    }
}

impl FromServerFnError for UserError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The caller sent arguments that do not fit the function: their request, not our
            // fault (422, not 500).
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => UserError::new(
                ErrorKind::Invalid,
                format!("The request's arguments are not valid: {value}"),
            ),
            // Transport and decoding failures: the request never reached our code.
            _ => UserError::new(
                ErrorKind::Internal,
                format!("The request could not be completed: {value}"),
            ),
        }
    }
}
