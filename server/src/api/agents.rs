//! Local agents over the REST API. `/agent/…` is the agent's own protocol (`execgov-cli agent
//! start` speaks it): register, describe, long-poll claim, lease renewal, logs, the job's bundle,
//! finish. An agent authenticates with an agent token as the bearer plus its machine id and key
//! in two headers. `/agents` is for the tenant's admins: list and revoke.

use std::time::Duration;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::agents::{self, Agent};
use domain::caller::Caller;
use domain::tenancy::Tenant;
use domain::{AppError, Ctx};
use model::agent::{
    AgentDescription, AgentJob, AgentLogBatch, AgentRegistration, AgentReport, AgentView,
    AGENT_ID_HEADER, AGENT_KEY_HEADER,
};
use model::ExecutionStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{tenant_caller, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Problem, TenantUser};
use crate::bearer_token;
use crate::limits::{AGENT_ARTIFACTS, AGENT_JSON_BYTES};

pub fn routes() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new()
        .routes(routes!(register_agent))
        .routes(routes!(describe_agent))
        .routes(routes!(claim_execution))
        .routes(routes!(renew_lease))
        .routes(routes!(append_logs))
        .routes(routes!(job_bundle))
        .routes(routes!(list_agents))
        .routes(routes!(revoke_agent))
        .layer(DefaultBodyLimit::max(AGENT_JSON_BYTES))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(finish_execution))
                .layer(AGENT_ARTIFACTS.layer()),
        )
}

fn agent_token(parts: &Parts) -> Result<String, ApiError> {
    bearer_token(&parts.headers)
        .map(str::to_string)
        .ok_or_else(|| {
            AppError::Unauthenticated("Send the agent token as 'Authorization: Bearer …'.".into())
                .into()
        })
}

/// A registered agent of the tenant whose host the request came to.
pub struct AgentCaller {
    tenant: Tenant,
    agent: Agent,
}

impl FromRequestParts<Ctx> for AgentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, Self::Rejection> {
        let (_, tenant) = tenant_caller(parts)?;
        let token = agent_token(parts)?;
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let agent = agents::authenticate(
            ctx,
            &tenant,
            &token,
            &header(AGENT_ID_HEADER),
            &header(AGENT_KEY_HEADER),
        )
        .await?;
        Ok(AgentCaller { tenant, agent })
    }
}

/// The agent token, for registering (the machine is not known yet).
pub struct AgentToken {
    caller: Caller,
    tenant: Tenant,
    token: String,
}

impl<S: Send + Sync> FromRequestParts<S> for AgentToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (caller, tenant) = tenant_caller(parts)?;
        Ok(AgentToken {
            caller,
            tenant,
            token: agent_token(parts)?,
        })
    }
}

#[utoipa::path(post, path = "/agent/register", tag = "agents",
    request_body = AgentRegistration,
    responses(
        (status = 200, body = AgentView, description = "Registered (first start) or updated"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "Not a live agent token of this tenant"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "The agent was revoked"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The machine id is registered with another key"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid identity, name or labels"),
    ))]
async fn register_agent(
    State(ctx): State<Ctx>,
    who: AgentToken,
    ApiJson(registration): ApiJson<AgentRegistration>,
) -> ApiResult<Json<AgentView>> {
    Ok(Json(
        agents::register(
            &ctx,
            &who.tenant,
            &who.token,
            &registration,
            &who.caller.meta,
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/agent/me", tag = "agents",
    responses(
        (status = 200, body = AgentDescription, description = "The calling agent and the skills it can serve"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "The agent was revoked"),
    ))]
async fn describe_agent(
    State(ctx): State<Ctx>,
    who: AgentCaller,
) -> ApiResult<Json<AgentDescription>> {
    Ok(Json(agents::describe(&ctx, &who.tenant, &who.agent).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ClaimQuery {
    /// Seconds to wait for work (0 to 30, default 25).
    #[param(minimum = 0, maximum = 30)]
    wait: Option<u64>,
}

#[utoipa::path(post, path = "/agent/claim", tag = "agents",
    params(ClaimQuery),
    responses(
        (status = 200, body = AgentJob, description = "An execution is now this agent's to run"),
        (status = 204, description = "Nothing to run within the wait"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "The agent was revoked"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn claim_execution(
    State(ctx): State<Ctx>,
    who: AgentCaller,
    ApiQuery(q): ApiQuery<ClaimQuery>,
) -> ApiResult<Response> {
    let wait = q.wait.unwrap_or(25);
    if wait > agents::MAX_WAIT.as_secs() {
        return Err(AppError::Invalid(format!(
            "wait: 0 to {} seconds",
            agents::MAX_WAIT.as_secs()
        ))
        .into());
    }
    Ok(
        match agents::claim(&ctx, &who.tenant, &who.agent, Duration::from_secs(wait)).await? {
            Some(job) => Json(job).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

#[utoipa::path(post, path = "/agent/executions/{id}/lease", tag = "agents",
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Renewed"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The lease is gone: stop the run"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn renew_lease(
    State(ctx): State<Ctx>,
    who: AgentCaller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    agents::renew(&ctx, &who.tenant, &who.agent, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/agent/executions/{id}/logs", tag = "agents",
    params(("id" = i64, Path)),
    request_body = AgentLogBatch,
    responses(
        (status = 204, description = "Stored"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Not held by this agent"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn append_logs(
    State(ctx): State<Ctx>,
    who: AgentCaller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(batch): ApiJson<AgentLogBatch>,
) -> ApiResult<StatusCode> {
    agents::append_logs(&ctx, &who.tenant, &who.agent, id, batch.lines).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/agent/executions/{id}/bundle", tag = "agents",
    params(("id" = i64, Path)),
    responses(
        (status = 200, content_type = "application/x-tar", body = Vec<u8>, description = "script/ (the skill's folder) and files/ (the uploaded inputs)"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Not held by this agent"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn job_bundle(
    State(ctx): State<Ctx>,
    who: AgentCaller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let tar = agents::bundle(&ctx, &who.tenant, &who.agent, id).await?;
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], tar).into_response())
}

/// How a run ended, as `multipart/form-data`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the multipart fields; the handler reads them from the stream
pub struct FinishForm {
    /// The [`AgentReport`] as JSON.
    report: String,
    /// Each artifact as a file part named `artifact`, its file name the path under `output/`.
    #[schema(format = Binary, value_type = Vec<String>)]
    artifact: Vec<Vec<u8>>,
}

#[derive(Serialize, ToSchema)]
pub struct Finished {
    pub status: ExecutionStatus,
}

#[utoipa::path(post, path = "/agent/executions/{id}/finish", tag = "agents",
    params(("id" = i64, Path)),
    request_body(content = FinishForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, body = Finished, description = "Recorded; the execution's status now"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Not held by this agent"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Past the 50 MiB of artifacts a run may hand back"),
    ))]
async fn finish_execution(
    State(ctx): State<Ctx>,
    who: AgentCaller,
    ApiPath(id): ApiPath<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<Finished>> {
    let (mut fields, files) = crate::runs::read_form(multipart?, AGENT_ARTIFACTS).await?;
    let report = fields.remove("report").ok_or_else(|| {
        AppError::Invalid("The form needs a 'report' part with the JSON report.".into())
    })?;
    let report: AgentReport = serde_json::from_str(&report)
        .map_err(|e| AppError::Invalid(format!("The 'report' part is not a valid report: {e}")))?;
    let artifacts = files.into_iter().map(|f| (f.file_name, f.bytes)).collect();
    let status = agents::finish(&ctx, &who.tenant, &who.agent, id, report, artifacts).await?;
    Ok(Json(Finished { status }))
}

#[utoipa::path(get, path = "/agents", tag = "agents",
    responses(
        (status = 200, body = Vec<AgentView>, description = "The tenant's agents, newest first"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not a tenant admin"),
    ))]
async fn list_agents(State(ctx): State<Ctx>, who: TenantUser) -> ApiResult<Json<Vec<AgentView>>> {
    Ok(Json(agents::list(&ctx, who.tenant(), who.user()).await?))
}

#[utoipa::path(delete, path = "/agents/{id}", tag = "agents",
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Revoked; what it was running goes back to the queue"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not a tenant admin"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke_agent(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    agents::revoke(&ctx, who.tenant(), who.user(), &who.caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
