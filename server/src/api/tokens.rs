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

/// A new token as the handler reads it; [`NewTokenBody`] documents it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    pub days: Option<i64>,
    pub kind: Option<Kind>,
    /// Given at all (even `null`): a personal token refuses it.
    #[serde(default, deserialize_with = "given")]
    pub labels: Option<Option<Vec<String>>>,
}

fn given<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Vec<String>>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map(Some)
}

/// A new token: a personal access token, or an agent token naming the labels its agent may
/// serve (tenant admins only).
#[derive(ToSchema)]
#[schema(as = NewToken)]
#[serde(untagged)]
#[allow(dead_code)] // documents the body; the handler reads it as `NewToken`
enum NewTokenBody {
    Personal(PersonalTokenBody),
    Agent(AgentTokenBody),
}

/// A personal access token, for the REST API and the CLI.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PersonalTokenBody {
    #[schema(inline)]
    name: TokenName,
    #[schema(inline)]
    days: Option<TokenDays>,
    kind: Option<PersonalKind>,
}

/// An agent token: one machine registers with it, and serves these labels only.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AgentTokenBody {
    #[schema(inline)]
    name: TokenName,
    #[schema(inline)]
    days: Option<TokenDays>,
    kind: AgentKind,
    /// The skill `agent_label`s its agent may serve.
    #[schema(min_items = 1, max_items = 32, inline)]
    labels: Vec<AgentLabel>,
}

/// What uses it, e.g. the machine or pipeline.
#[derive(ToSchema)]
#[schema(
    value_type = String,
    min_length = 1,
    max_length = 80,
    pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"
)]
#[allow(dead_code)]
struct TokenName(String);

/// How many days it lives (default 90).
#[derive(ToSchema)]
#[schema(value_type = i64, minimum = 1, maximum = 366)]
#[allow(dead_code)]
struct TokenDays(i64);

#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum PersonalKind {
    Personal,
}

#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum AgentKind {
    Agent,
}

/// A skill's `agent_label`.
#[derive(ToSchema)]
#[schema(value_type = String, pattern = "^[a-z0-9._-]{1,64}$")]
#[allow(dead_code)]
struct AgentLabel(String);

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
    #[param(inline)]
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

#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewTokenBody,
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
    let kind = match (new.kind.unwrap_or_default(), new.labels) {
        (Kind::Personal, None) => NewTokenKind::Personal,
        (Kind::Personal, Some(_)) => {
            return Err(AppError::Invalid(
                "labels: only agent tokens have labels (\"kind\": \"agent\")".into(),
            )
            .into())
        }
        (Kind::Agent, labels) => NewTokenKind::Agent {
            labels: labels.flatten().unwrap_or_default(),
        },
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
