//! `/api/v1/skills`: the skills this user may see and run.

use axum::extract::State;
use axum::Json;
use domain::Ctx;
use model::{SkillPage, SkillSummary};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiPath, ApiResult, Problem, TenantUser};

pub fn routes() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new()
        .routes(routes!(list_skills))
        .routes(routes!(get_skill))
}

#[utoipa::path(get, path = "/skills", tag = "skills",
    responses(
        (status = 200, body = Vec<SkillSummary>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_skills(
    State(ctx): State<Ctx>,
    who: TenantUser,
) -> ApiResult<Json<Vec<SkillSummary>>> {
    Ok(Json(
        domain::skills::list_visible(&ctx, who.tenant(), who.user()).await?,
    ))
}

/// A skill with its input schema (what `POST /executions` takes), README and versions.
#[utoipa::path(get, path = "/skills/{slug}", tag = "skills",
    params(("slug" = String, Path, description = "The skill's slug",
        pattern = "^[a-z0-9][a-z0-9-]{1,59}$")),
    responses(
        (status = 200, body = SkillPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A malformed path, query or body"),
    ))]
async fn get_skill(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Json<SkillPage>> {
    Ok(Json(
        domain::skills::page(&ctx, who.tenant(), who.user(), &slug, None).await?,
    ))
}
