//! `/api/v1/submissions`: hot-update submissions by tenant admins (e.g. `execgov-cli push`).

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::hot_updates::{self, Viewer};
use domain::Ctx;
use model::hot_update::SubmissionDetail;
use model::skill::RiskLevel;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiPath, ApiResult, Problem, TenantUser};
use crate::limits::SUBMISSION;
use crate::submissions::read_submission;

pub fn routes() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new()
        .routes(routes!(create_submission))
        .routes(routes!(get_submission))
        .layer(SUBMISSION.layer())
}

/// The submission form, as `multipart/form-data`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the multipart fields; the handler reads them from the stream
pub struct SubmissionForm {
    /// The script folder as a .zip or .tar.gz.
    #[schema(format = Binary, value_type = String)]
    archive: Vec<u8>,
    /// What problem the skill solves and who uses it.
    scenario: String,
    /// Proposed risk.
    risk: RiskLevel,
    /// `true` when people may run it from its form.
    manual_allowed: Option<String>,
    /// `true` when the assistant may call it.
    ai_callable: Option<String>,
    /// `true` when each run waits for a confirmation (always for high risk).
    requires_confirmation: Option<String>,
}

#[utoipa::path(post, path = "/submissions", tag = "submissions",
    request_body(content = SubmissionForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = SubmissionDetail, description = "Submitted for review"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not a tenant admin"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Identical to the live version"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The archive or the form was refused, with the file and reason"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Past the request's size limit or the storage quota (which one, its use and limit)"),
    ))]
async fn create_submission(
    State(ctx): State<Ctx>,
    who: TenantUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let submission = read_submission(multipart?).await?;
    let tenant = who.tenant();
    let id = hot_updates::submit(&ctx, tenant, who.user(), &who.caller.actor(), submission).await?;
    let detail = hot_updates::detail(&ctx, id, Viewer::Tenant(tenant)).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/submissions/{id}"))],
        Json(detail),
    )
        .into_response())
}

#[utoipa::path(get, path = "/submissions/{id}", tag = "submissions",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = SubmissionDetail, description = "With its timeline"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A malformed path, query or body"),
    ))]
async fn get_submission(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<SubmissionDetail>> {
    let (tenant, _) = who.caller.tenant_admin()?;
    Ok(Json(
        hot_updates::detail(&ctx, id, Viewer::Tenant(tenant)).await?,
    ))
}
