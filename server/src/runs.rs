//! The run path's plain HTTP endpoints, beside the Leptos pages: the run form (multipart, so
//! files upload without JavaScript), artifact downloads, and the live event stream of an
//! execution. Each is behind the host layer and acts as the caller it identified.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use domain::accounts::SignedIn;
use domain::executions::{self, Upload};
use domain::tenancy::Tenant;
use domain::{Actor, AppError, AppResult, Ctx};
use futures::stream::{self, Stream};
use model::ExecutionStatus;

use crate::api::TenantUser;
use crate::limits::{BodyLimit, RUN_FILES};
use crate::percent::encode;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/skills/{slug}/run", post(run).layer(RUN_FILES.layer()))
        .route("/executions/{id}/artifacts/{*path}", get(download))
        .route("/executions/{id}/events", get(events))
}

/// The skill page's form: text fields and files. Success: to the execution's page; refused
/// input: back to the form with the messages.
async fn run(
    State(ctx): State<Ctx>,
    who: TenantUser<AppError>,
    Path(slug): Path<String>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let (tenant, user, caller) = (who.tenant(), who.user(), &who.caller);
    let (mut form, mut files) = read_form(multipart, RUN_FILES).await?;
    // "Run again": files not chosen anew are taken from the earlier execution.
    let rerun_of = form.remove("rerun_of").and_then(|v| v.parse::<i64>().ok());
    let requested = async {
        if let Some(previous) = rerun_of {
            let chosen_anew: Vec<&str> = files.iter().map(|f| f.field.as_str()).collect();
            let earlier =
                executions::previous_uploads(&ctx, tenant, user, previous, &slug, &chosen_anew)
                    .await?;
            files.extend(earlier);
        }
        executions::request(&ctx, tenant, user, &caller.actor(), &slug, &form, &files).await
    };
    match requested.await {
        Ok(id) => Ok(Redirect::to(&format!("/executions/{id}")).into_response()),
        Err(AppError::Invalid(message) | AppError::TooLarge(message)) => {
            let mut back = format!("/skills/{slug}?error={}", encode(&message));
            if let Some(previous) = rerun_of {
                back.push_str(&format!("&rerun={previous}"));
            }
            // What was typed comes back with the form (`typed.<field>`); chosen files cannot.
            for (name, value) in &form {
                back.push_str(&format!("&typed.{}={}", encode(name), encode(value)));
            }
            Ok(Redirect::to(&back).into_response())
        }
        Err(other) => Err(other),
    }
}

/// An artifact, as a download, if the caller may see its execution.
async fn download(
    State(ctx): State<Ctx>,
    who: TenantUser<AppError>,
    Path((id, path)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    artifact_response(
        &ctx,
        who.tenant(),
        who.user(),
        &who.caller.actor(),
        id,
        &path,
    )
    .await
}

/// The artifact's bytes as a download (recorded in the audit log), for the page and the API.
pub(crate) async fn artifact_response(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    id: i64,
    path: &str,
) -> Result<Response, AppError> {
    let (body, size) = match executions::artifact_file(ctx, tenant, user, actor, id, path).await? {
        // Streamed as read, a chunk at a time: a large artifact is never held whole. Its length
        // goes ahead, so that a download cut short by a failed read is seen as incomplete.
        executions::ArtifactBytes::Stored { reader, size } => (
            Body::from_stream(stream::try_unfold(reader, |mut reader| async move {
                let chunk = reader.next_chunk().await?;
                AppResult::Ok(chunk.map(|bytes| (bytes, reader)))
            })),
            size,
        ),
        executions::ArtifactBytes::Local(file) => {
            let bytes = tokio::fs::read(&file).await.map_err(|_| {
                AppError::NotFound(format!("The artifact {path:?} is no longer stored."))
            })?;
            let size = bytes.len() as u64;
            (Body::from(bytes), size)
        }
    };
    let name = path
        .rsplit('/')
        .next()
        .unwrap_or("artifact")
        .replace('"', "");
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        body,
    )
        .into_response())
}

/// Server-sent events: one `change` event whenever the execution's status changes or log lines
/// arrive; the stream ends once the execution has finished.
async fn events(
    State(ctx): State<Ctx>,
    who: TenantUser<AppError>,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let (tenant, user) = (who.tenant().clone(), who.user().clone());
    let first = executions::change_stamp(&ctx, &tenant, &user, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no execution {id} here.")))?;
    let state = (ctx, tenant, user, None::<(String, i64)>, Some(first));
    let stream = stream::unfold(state, move |(ctx, tenant, user, last, first)| async move {
        let ended = last
            .as_ref()
            .and_then(|(s, _)| ExecutionStatus::parse(s))
            .is_some_and(ExecutionStatus::is_final);
        if ended {
            return None;
        }
        let stamp = match first {
            Some(stamp) => stamp,
            // No deadline of its own: the stream lasts as long as the run (or the client).
            None => {
                let far = std::time::Instant::now() + Duration::from_secs(24 * 3600);
                executions::wait_for_change(&ctx, &tenant, &user, id, last.as_ref(), far)
                    .await
                    .ok()
                    .flatten()?
            }
        };
        let event = Event::default().event("change").data(stamp.0.clone());
        Some((Ok(event), (ctx, tenant, user, Some(stamp), None)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A multipart form's text fields and chosen files (file inputs left empty are skipped), read
/// within `limit`: a file or a body past it stops the reading with 413.
pub(crate) async fn read_form(
    mut multipart: Multipart,
    limit: BodyLimit,
) -> Result<(BTreeMap<String, String>, Vec<Upload>), AppError> {
    let mut form = BTreeMap::new();
    let mut files = Vec::new();
    let mut files_bytes = 0;
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            limit.too_large()
        } else {
            AppError::Invalid(format!("The form could not be read: {e}"))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad_form)? {
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            // A file input left empty arrives as a part with an empty name.
            Some(file_name) if !file_name.is_empty() => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                    if bytes.len() + chunk.len() > limit.file {
                        return Err(limit.file_too_large(&name));
                    }
                    files_bytes += chunk.len();
                    if files_bytes > limit.files {
                        return Err(limit.too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                files.push(Upload {
                    field: name,
                    file_name,
                    bytes,
                });
            }
            Some(_) => {}
            None => {
                form.insert(name, field.text().await.map_err(bad_form)?);
            }
        }
    }
    Ok((form, files))
}
