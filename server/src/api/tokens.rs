//! `/api/v1/tokens`: personal access tokens of the calling user (admins: the tenant's).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use domain::tokens::{NewToken as NewTokenKind, TokenKind};
use domain::{AppError, Ctx};
use model::api::{ApiToken, CreatedApiToken};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiPath, ApiQuery, ApiResult, Problem, TenantUser};

pub fn routes() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

#[derive(Deserialize, ToSchema)]
pub struct NewToken {
    /// What uses it, e.g. the machine or pipeline.
    #[schema(
        min_length = 1,
        max_length = 80,
        pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"
    )]
    pub name: String,
    /// How many days it lives (default 90).
    #[schema(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
    /// `personal` (default) or `agent` (for registering local agents; tenant admins only).
    pub kind: Option<Kind>,
    /// An agent token's labels (required for `agent`, none for `personal`): the only skill
    /// `agent_label`s its agent may serve.
    #[schema(max_items = 32, value_type = Option<Vec<String>>)]
    pub labels: Option<Vec<String>>,
}

/// What a token is for.
#[derive(Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    Personal,
    Agent,
}

impl From<Kind> for TokenKind {
    fn from(kind: Kind) -> TokenKind {
        match kind {
            Kind::Personal => TokenKind::Personal,
            Kind::Agent => TokenKind::Agent,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct KindQuery {
    /// Which tokens: `personal` (default) or `agent`.
    kind: Option<Kind>,
}

#[utoipa::path(get, path = "/tokens", tag = "tokens",
    params(KindQuery),
    responses(
        (status = 200, body = Vec<ApiToken>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A malformed query"),
    ))]
async fn list_tokens(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiQuery(q): ApiQuery<KindQuery>,
) -> ApiResult<Json<Vec<ApiToken>>> {
    let kind = q.kind.unwrap_or_default().into();
    Ok(Json(
        domain::tokens::list(&ctx, who.tenant(), who.user(), kind).await?,
    ))
}

#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewToken,
    responses(
        (status = 201, body = CreatedApiToken, description = "The secret is shown this once"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Agent tokens are for tenant admins"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_token(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiJson(new): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedApiToken>)> {
    let labels = new.labels.unwrap_or_default();
    let kind = match new.kind.unwrap_or_default() {
        Kind::Personal if !labels.is_empty() => {
            return Err(AppError::Invalid(
                "labels: only agent tokens have labels (\"kind\": \"agent\")".into(),
            )
            .into())
        }
        Kind::Personal => NewTokenKind::Personal,
        Kind::Agent => NewTokenKind::Agent { labels },
    };
    let created = domain::tokens::create(
        &ctx,
        who.tenant(),
        who.user(),
        &who.caller.actor(),
        &new.name,
        new.days,
        &kind,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens",
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A malformed path, query or body"),
    ))]
async fn revoke_token(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    domain::tokens::revoke(&ctx, who.tenant(), who.user(), &who.caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
