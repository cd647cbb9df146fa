//! `/api/v1/executions`: run a skill, follow it, confirm or cancel it, download its artifacts.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::executions::{self, Upload};
use domain::{AppError, Ctx};
use model::{ExecutionFilter, ExecutionStatus, ExecutionSummary, ExecutionView, LogLine};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{OpenApi, RefOr, Required};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::limits::RUN_FILES;

use super::{ApiError, ApiPath, ApiQuery, ApiResult, Problem, TenantUser};

pub fn routes() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new()
        .routes(routes!(create_execution, list_executions))
        .layer(RUN_FILES.layer())
        .routes(routes!(get_execution))
        .routes(routes!(execution_logs))
        .routes(routes!(confirm_execution))
        .routes(routes!(cancel_execution))
        .routes(routes!(download_artifact))
}

/// What to run: the skill and its inputs, typed as the skill's input schema says. File and
/// folder inputs need `multipart/form-data`: a `request` part with this JSON and, per file
/// input, one part named after the input; per folder input, one `.zip`/`.tar.gz` part (unpacked
/// with the same checks as a submitted script folder) or several parts of that name (its files).
#[derive(Deserialize, ToSchema)]
pub struct NewExecution {
    /// The skill's slug.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{1,59}$")]
    pub skill: String,
    #[serde(default)]
    pub inputs: BTreeMap<String, Value>,
}

/// `POST /executions` with files: a `request` part holding the JSON of `NewExecution`, one part
/// per file input named after the input, and per folder input one `.zip`/`.tar.gz` part or several
/// parts (its files) of that name. Read by `ExecutionRequest`; this type only describes it.
pub struct NewExecutionWithFiles;

impl utoipa::PartialSchema for NewExecutionWithFiles {
    fn schema() -> RefOr<Schema> {
        // `format: binary` is what client generators turn into a file upload.
        let file = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some(
                "A file input's file, or one of a folder input's files or its archive.",
            ));
        ObjectBuilder::new()
            .description(Some(
                "The request as JSON in `request`; each other part is a file input's file, named \
                 after the input.",
            ))
            .property(
                "request",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("application/json")
                    .description(Some("The JSON of a NewExecution.")),
            )
            .required("request")
            .additional_properties(Some(file))
            .into()
    }
}

impl ToSchema for NewExecutionWithFiles {}

/// Documents `POST /executions`'s body as optional, though the server refuses a missing one (422):
/// openapi-python-client 0.29.1 writes an `Unset` it does not import for a required body with two
/// content types (openapi-generators/openapi-python-client#1451), and the generated module then
/// fails to load.
pub(super) fn body_optional_for_client_generators(doc: &mut OpenApi) {
    let body = doc
        .paths
        .paths
        .get_mut("/executions")
        .and_then(|path| path.post.as_mut())
        .and_then(|operation| operation.request_body.as_mut());
    if let Some(RefOr::T(body)) = body {
        body.required = Some(Required::False);
    }
}

/// The request, from JSON or from a multipart form with files.
struct ExecutionRequest {
    new: NewExecution,
    files: Vec<Upload>,
}

impl<S: Send + Sync> FromRequest<S> for ExecutionRequest {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let invalid = |m: String| ApiError::from(AppError::Invalid(m));
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if multipart {
            let form = Multipart::from_request(req, state)
                .await
                .map_err(|e| invalid(format!("The form could not be read: {e}")))?;
            let (mut fields, files) = crate::runs::read_form(form, RUN_FILES).await?;
            let json = fields.remove("request").ok_or_else(|| {
                invalid("The multipart form needs a 'request' part with the JSON request.".into())
            })?;
            let new = serde_json::from_str(&json)
                .map_err(|e| invalid(format!("The 'request' part is not a valid request: {e}")))?;
            Ok(ExecutionRequest { new, files })
        } else {
            let Json(new) = Json::<NewExecution>::from_request(req, state)
                .await
                .map_err(|e| invalid(format!("The request body is not a valid request: {e}")))?;
            Ok(ExecutionRequest {
                new,
                files: Vec::new(),
            })
        }
    }
}

/// Typed JSON inputs as the text the form would send; the domain checks them against the schema.
fn inputs_as_form(inputs: &BTreeMap<String, Value>) -> Result<BTreeMap<String, String>, AppError> {
    let mut form = BTreeMap::new();
    for (name, value) in inputs {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Array(_) | Value::Object(_) => {
                return Err(AppError::Invalid(format!(
                    "{name}: expected a single value, not a list or an object."
                )))
            }
        };
        form.insert(name.clone(), text);
    }
    Ok(form)
}

#[utoipa::path(post, path = "/executions", tag = "executions",
    request_body(
        content(
            (NewExecution = "application/json"),
            (NewExecutionWithFiles = "multipart/form-data"),
        ),
        description = "Required. JSON; or, for skills with file or folder inputs, a multipart form."),
    responses(
        (status = 201, body = ExecutionView, description = "Created: queued, or waiting for a confirmation"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such skill for this user"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Bad inputs, one message per field"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Past the request's size limit or the storage quota (which one, its use and limit)"),
    ))]
async fn create_execution(
    State(ctx): State<Ctx>,
    who: TenantUser,
    request: ExecutionRequest,
) -> ApiResult<Response> {
    let form = inputs_as_form(&request.new.inputs)?;
    let (tenant, user) = (who.tenant(), who.user());
    let id = executions::request(
        &ctx,
        tenant,
        user,
        &who.caller.actor(),
        &request.new.skill,
        &form,
        &request.files,
    )
    .await?;
    let view = executions::view(&ctx, tenant, user, id).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/executions/{id}"))],
        Json(view),
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExecutionQuery {
    /// Only this skill (slug).
    #[param(pattern = "^[^\\x00]*$")]
    skill: Option<String>,
    /// Only this user's (admins).
    #[param(pattern = "^[^\\x00]*$")]
    user: Option<String>,
    /// Only this status.
    status: Option<ExecutionStatus>,
    /// From this day (YYYY-MM-DD).
    since: Option<chrono::NaiveDate>,
    /// Up to and including this day (YYYY-MM-DD).
    until: Option<chrono::NaiveDate>,
}

#[utoipa::path(get, path = "/executions", tag = "executions", params(ExecutionQuery),
    responses(
        (status = 200, body = Vec<ExecutionSummary>, description = "Newest first; the user's own, or everyone's for admins"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_executions(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiQuery(q): ApiQuery<ExecutionQuery>,
) -> ApiResult<Json<Vec<ExecutionSummary>>> {
    let filter = ExecutionFilter {
        skill: q.skill.filter(|s| !s.is_empty()),
        user: q.user.filter(|s| !s.is_empty()),
        status: q.status,
        since: q.since,
        until: q.until,
    };
    Ok(Json(
        executions::list(&ctx, who.tenant(), who.user(), &filter).await?,
    ))
}

#[utoipa::path(get, path = "/executions/{id}", tag = "executions",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = ExecutionView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A malformed path, query or body"),
    ))]
async fn get_execution(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ExecutionView>> {
    Ok(Json(
        executions::view(&ctx, who.tenant(), who.user(), id).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Skip the first `after` lines (the `next` of the previous answer).
    #[serde(default)]
    #[param(minimum = 0)]
    after: i32,
    /// Seconds to wait for something new (a line after `after`, or a change of status) before
    /// answering; 0 (the default) answers at once. Following a run live: ask again and again
    /// with `after = next` and a wait.
    #[serde(default)]
    #[param(minimum = 0, maximum = 30)]
    wait: u64,
}

/// A page of an execution's log: at most 5,000 lines from line `after`. Reading it all, or
/// following a run: ask again with `after = next` until `finished`.
#[derive(Serialize, ToSchema)]
pub struct LogPage {
    pub status: ExecutionStatus,
    /// The run has ended and this page reaches the end of its log.
    pub finished: bool,
    pub lines: Vec<LogLine>,
    /// The `after` of the next page.
    pub next: i32,
    /// How many lines the log has stored now.
    pub total: i64,
}

#[utoipa::path(get, path = "/executions/{id}/logs", tag = "executions",
    params(("id" = i64, Path), LogQuery),
    responses(
        (status = 200, body = LogPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A malformed path, query or body"),
    ))]
async fn execution_logs(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<Json<LogPage>> {
    if q.after < 0 {
        return Err(AppError::Invalid("after: must be 0 or more.".into()).into());
    }
    if q.wait > 30 {
        return Err(AppError::Invalid("wait: 0 to 30 seconds.".into()).into());
    }
    let (tenant, user) = (who.tenant(), who.user());
    // Long polling: wait while the status is the one it has now and no line came after `after`.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(q.wait);
    if let Some((status, _)) = executions::change_stamp(&ctx, tenant, user, id).await? {
        let seen = (status, i64::from(q.after));
        executions::wait_for_change(&ctx, tenant, user, id, Some(&seen), deadline).await?;
    }
    let page = executions::log_page(&ctx, tenant, user, id, i64::from(q.after)).await?;
    let next = i64::from(q.after) + page.lines.len() as i64;
    Ok(Json(LogPage {
        status: page.status,
        finished: page.status.is_final() && next >= page.total,
        lines: page.lines,
        next: i32::try_from(next).unwrap_or(i32::MAX),
        total: page.total,
    }))
}

#[utoipa::path(post, path = "/executions/{id}/confirm", tag = "executions",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = ExecutionView, description = "Confirmed and queued"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Not waiting for a confirmation"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A malformed path, query or body"),
    ))]
async fn confirm_execution(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ExecutionView>> {
    let (tenant, user) = (who.tenant(), who.user());
    executions::confirm(&ctx, tenant, user, &who.caller.actor(), id).await?;
    Ok(Json(executions::view(&ctx, tenant, user, id).await?))
}

#[utoipa::path(post, path = "/executions/{id}/cancel", tag = "executions",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = ExecutionView, description = "Cancelled (a running one stops within moments)"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Already finished"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A malformed path, query or body"),
    ))]
async fn cancel_execution(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ExecutionView>> {
    let (tenant, user) = (who.tenant(), who.user());
    executions::cancel(&ctx, tenant, user, &who.caller.actor(), id).await?;
    Ok(Json(executions::view(&ctx, tenant, user, id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArtifactQuery {
    /// The artifact's path as the execution lists it, e.g. `report.md`.
    #[param(pattern = "^[^\\x00]+$")]
    path: String,
}

#[utoipa::path(get, path = "/executions/{id}/artifact", tag = "executions",
    params(("id" = i64, Path), ArtifactQuery),
    responses(
        (status = 200, content_type = "application/octet-stream", body = Vec<u8>, description = "The file"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A malformed path, query or body"),
    ))]
async fn download_artifact(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ArtifactQuery>,
) -> ApiResult<Response> {
    let (tenant, user) = (who.tenant(), who.user());
    Ok(
        crate::runs::artifact_response(&ctx, tenant, user, &who.caller.actor(), id, &q.path)
            .await?,
    )
}
