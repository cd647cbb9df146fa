//! Local agents over the REST API. `/agent/…` is the agent's own protocol (`execgov-cli agent
//! start` speaks it): register, describe, long-poll claim, lease renewal, logs, the job's bundle,
//! finish. An agent authenticates with an agent token as the bearer, and signs every request with
//! its machine key (`X-Execgov-Agent-Id`, `-Timestamp`, `-Nonce`, `-Signature`: see
//! `domain::agent_auth`). `/agents` is for the tenant's admins: list and revoke.

use std::time::Duration;

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::agent_auth::{body_sha256, SignedRequest};
use domain::agents::{self, Agent};
use domain::caller::Caller;
use domain::tenancy::Tenant;
use domain::{AppError, Ctx};
use model::agent::{
    AgentDescription, AgentJob, AgentLogBatch, AgentRegistration, AgentReport, AgentView,
};
use model::ExecutionStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{tenant_caller, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Problem, TenantUser};
use crate::bearer_token;
use crate::limits::{AGENT_ARTIFACTS, AGENT_JSON_BYTES};

/// The largest request an agent sends: a finish with its artifacts.
const BODY_LIMIT: usize = AGENT_ARTIFACTS.files + 1024 * 1024;

pub fn routes() -> OpenApiRouter<Ctx> {
    let protocol = OpenApiRouter::new()
        .routes(routes!(register_agent))
        .routes(routes!(describe_agent))
        .routes(routes!(claim_execution))
        .routes(routes!(renew_lease))
        .routes(routes!(append_logs))
        .routes(routes!(job_bundle))
        .layer(DefaultBodyLimit::max(AGENT_JSON_BYTES))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(finish_execution))
                .layer(AGENT_ARTIFACTS.layer()),
        )
        .layer(middleware::from_fn(digest_body));
    OpenApiRouter::new()
        .merge(protocol)
        .routes(routes!(list_agents))
        .routes(routes!(revoke_agent))
        .layer(DefaultBodyLimit::max(AGENT_JSON_BYTES))
}

/// The SHA-256 of an agent request's body, which its signature covers.
#[derive(Clone)]
struct BodyDigest(String);

/// Reads an agent request's body once to hash it, then hands it on unchanged.
async fn digest_body(request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => {
            parts.extensions.insert(BodyDigest(body_sha256(&bytes)));
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => ApiError::from(AppError::Invalid(format!(
            "The request body is over {} MiB, or broke off.",
            BODY_LIMIT / (1024 * 1024)
        )))
        .into_response(),
    }
}

/// The request as its signature must cover it: method, path and query as sent (before the
/// router strips `/api/v1`), Host, the signing headers and the body's digest.
fn signed_request(parts: &Parts) -> Result<SignedRequest, ApiError> {
    let digest = parts
        .extensions
        .get::<BodyDigest>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("an agent request was not digested")))?;
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    // The Host as the tenant layer read it.
    let host = header(header::HOST.as_str())
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    Ok(SignedRequest::new(
        parts.method.as_str(),
        path,
        &host,
        &digest.0,
        header,
    )?)
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
        let proof = signed_request(parts)?;
        let agent = agents::authenticate(ctx, &tenant, &token, &proof).await?;
        Ok(AgentCaller { tenant, agent })
    }
}

/// The agent token and the signed request, for registering (the machine's key comes in the
/// body).
pub struct AgentToken {
    caller: Caller,
    tenant: Tenant,
    token: String,
    proof: SignedRequest,
}

impl<S: Send + Sync> FromRequestParts<S> for AgentToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (caller, tenant) = tenant_caller(parts)?;
        Ok(AgentToken {
            caller,
            tenant,
            token: agent_token(parts)?,
            proof: signed_request(parts)?,
        })
    }
}

#[utoipa::path(post, path = "/agent/register", tag = "agents",
    request_body = AgentRegistration,
    responses(
        (status = 200, body = AgentView, description = "Registered (first start) or updated"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "Not a live agent token of this tenant, or not signed with the registered key, fresh and never seen before"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "The agent was revoked, or labels its token does not allow"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The machine id is registered with another key, or the token belongs to another machine"),
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
            &who.proof,
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
