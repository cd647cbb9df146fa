//! `/api/v1/secrets`: the tenant's secrets (tenant admins). Values go in and never come out:
//! answers carry the name and the last 4 characters only.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use domain::secrets::Stored;
use domain::{AppError, Ctx};
use model::secrets::SecretInfo;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiPath, ApiResult, Problem, TenantUser};

pub fn routes() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new()
        .routes(routes!(list_secrets))
        .routes(routes!(set_secret, delete_secret))
}

/// A secret's new value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// 8 to 4096 characters on one line, neither starting nor ending with white space. Never
    /// shown again: answers carry its last 4 characters only.
    #[schema(
        min_length = 8,
        max_length = 4096,
        pattern = "^[^\\s\\x00-\\x1f\\x7f-\\x9f]([^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f])?$"
    )]
    pub value: String,
}

#[utoipa::path(get, path = "/secrets", tag = "secrets",
    responses(
        (status = 200, body = Vec<SecretInfo>, description = "Names and last 4 characters, never values"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Secrets are for tenant admins"),
    ))]
async fn list_secrets(State(ctx): State<Ctx>, who: TenantUser) -> ApiResult<Json<Vec<SecretInfo>>> {
    Ok(Json(
        domain::secrets::list(&ctx, who.tenant(), who.user()).await?,
    ))
}

#[utoipa::path(put, path = "/secrets/{name}", tag = "secrets", request_body = SecretValue,
    params(("name" = String, Path, description = "An upper-case environment variable name the platform, the shell and Python do not use, e.g. CRM_TOKEN", pattern = "^(?!(EXECGOV_|LD_|LC_|PYTHON|BASH_|PIP_|UV_|GLIBC_|MALLOC_)|(PATH|HOME|LANG|LANGUAGE|SHELL|PWD|OLDPWD|IFS|ENV|CDPATH|TMPDIR|TERM|USER|LOGNAME|SHLVL|TZ|HOSTNAME|VIRTUAL_ENV|PS4|HTTP_PROXY|HTTPS_PROXY|ALL_PROXY|NO_PROXY)$)[A-Z][A-Z0-9_]{0,63}$")),
    responses(
        (status = 201, body = SecretInfo, description = "Stored"),
        (status = 200, body = SecretInfo, description = "Its value replaced"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Secrets are for tenant admins"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A name or value that is not allowed"),
    ))]
async fn set_secret(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiPath(name): ApiPath<String>,
    body: Result<Json<SecretValue>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<SecretInfo>)> {
    // The rejection's own text could quote what was sent: only say what is expected.
    let Json(body) = body.map_err(|_| {
        AppError::Invalid(
            "The JSON body must be {\"value\": \"…\"}: the secret's value as a string.".into(),
        )
    })?;
    let (info, stored) = domain::secrets::set(
        &ctx,
        who.tenant(),
        who.user(),
        &who.caller.actor(),
        &name,
        &body.value,
    )
    .await?;
    let status = match stored {
        Stored::Created => StatusCode::CREATED,
        Stored::Replaced => StatusCode::OK,
    };
    Ok((status, Json(info)))
}

#[utoipa::path(delete, path = "/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "The secret's name", pattern = "^(?!(EXECGOV_|LD_|LC_|PYTHON|BASH_|PIP_|UV_|GLIBC_|MALLOC_)|(PATH|HOME|LANG|LANGUAGE|SHELL|PWD|OLDPWD|IFS|ENV|CDPATH|TMPDIR|TERM|USER|LOGNAME|SHLVL|TZ|HOSTNAME|VIRTUAL_ENV|PS4|HTTP_PROXY|HTTPS_PROXY|ALL_PROXY|NO_PROXY)$)[A-Z][A-Z0-9_]{0,63}$")),
    responses(
        (status = 204, description = "Deleted: runs that need it fail until it is set again"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Secrets are for tenant admins"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Not a secret name"),
    ))]
async fn delete_secret(
    State(ctx): State<Ctx>,
    who: TenantUser,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    domain::secrets::delete(&ctx, who.tenant(), who.user(), &who.caller.actor(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    /// The documented pattern says what `model::secrets::name_problem` checks.
    #[test]
    fn the_documented_name_pattern_is_the_rule() {
        let doc = serde_json::to_value(super::super::api().1).expect("the document serialises");
        for method in ["put", "delete"] {
            let parameter = &doc["paths"]["/secrets/{name}"][method]["parameters"][0];
            assert_eq!(
                parameter["schema"]["pattern"].as_str(),
                Some(model::secrets::name_pattern().as_str()),
                "{method}"
            );
        }
    }
}
