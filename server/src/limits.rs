//! Request body limits, each matching the documented file limits (README, "Limits"): a larger
//! body is answered 413 with the limit, before anything is stored. Routes that take files say
//! theirs with a [`BodyLimit`]; every other body (server functions, JSON) takes at most
//! [`SMALL_BODY_BYTES`].

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::agents::MAX_ARTIFACT_BYTES;
use domain::executions::{MAX_REQUEST_FILES_BYTES, MAX_UPLOAD_BYTES};
use domain::hot_updates::MAX_ARCHIVE_BYTES;
use domain::AppError;
use model::storage::human_bytes;
use model::{ErrorKind, UserError};

/// Room for a form's text fields beside its files.
const FIELDS_BYTES: usize = 1024 * 1024;

/// Server functions and other bodies without files: forms of a few fields.
pub(crate) const SMALL_BODY_BYTES: usize = 1024 * 1024;

/// A local agent's JSON calls: a batch of log lines (at most 1 MiB per stream of a run).
pub(crate) const AGENT_JSON_BYTES: usize = 8 * 1024 * 1024;

/// What a route with files takes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyLimit {
    /// One file, at most.
    pub file: usize,
    /// The files together, at most.
    pub files: usize,
}

/// The run form, the REST API's run request and the assistant's requests.
pub(crate) const RUN_FILES: BodyLimit = BodyLimit {
    file: MAX_UPLOAD_BYTES,
    files: MAX_REQUEST_FILES_BYTES,
};

/// A hot-update submission: one archive.
pub(crate) const SUBMISSION: BodyLimit = BodyLimit {
    file: MAX_ARCHIVE_BYTES,
    files: MAX_ARCHIVE_BYTES,
};

/// A local agent's finished run: its artifacts.
pub(crate) const AGENT_ARTIFACTS: BodyLimit = BodyLimit {
    file: MAX_ARTIFACT_BYTES,
    files: MAX_ARTIFACT_BYTES,
};

impl BodyLimit {
    /// The whole body, at most.
    pub fn body(self) -> usize {
        self.files + FIELDS_BYTES
    }

    /// The layer that stops reading past [`BodyLimit::body`].
    pub fn layer(self) -> DefaultBodyLimit {
        DefaultBodyLimit::max(self.body())
    }

    /// The refusal of a body past the limit.
    pub fn too_large(self) -> AppError {
        AppError::TooLarge(if self.files == self.file {
            format!(
                "The request is larger than this address takes: {} of files at most.",
                human_bytes(self.files as i64)
            )
        } else {
            format!(
                "The request is larger than this address takes: at most {} per file and {} of \
                 files in all.",
                human_bytes(self.file as i64),
                human_bytes(self.files as i64)
            )
        })
    }

    /// The refusal of one file past the limit.
    pub fn file_too_large(self, field: &str) -> AppError {
        AppError::TooLarge(format!(
            "{field}: the file is larger than {}.",
            human_bytes(self.file as i64)
        ))
    }
}

/// Reads a body of at most [`SMALL_BODY_BYTES`] before the handler (server functions read
/// theirs whole, with no limit of their own); a larger one is answered 413 as a server
/// function's error, so forms show the message.
pub(crate) async fn small_bodies(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let bytes = match declared {
        Some(n) if n > SMALL_BODY_BYTES => None,
        // A read error is a body past the limit (or a client gone, who reads no answer).
        _ => axum::body::to_bytes(body, SMALL_BODY_BYTES).await.ok(),
    };
    match bytes {
        Some(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        None => {
            let error = UserError::new(
                ErrorKind::TooLarge,
                format!(
                    "The request is larger than the {} a form without files may send.",
                    human_bytes(SMALL_BODY_BYTES as i64)
                ),
            );
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::to_string(&error).unwrap_or_default(),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_documented_limits() {
        assert_eq!(
            RUN_FILES.too_large().to_string(),
            "The request is larger than this address takes: at most 20.0 MiB per file and 40.0 \
             MiB of files in all."
        );
        assert_eq!(
            SUBMISSION.too_large().to_string(),
            "The request is larger than this address takes: 40.0 MiB of files at most."
        );
        assert_eq!(
            RUN_FILES.file_too_large("data").to_string(),
            "data: the file is larger than 20.0 MiB."
        );
    }
}
