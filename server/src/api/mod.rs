//! REST API v1 under `/api/v1` on each tenant's host, for terminals, pipelines and the CLI.
//! The Host decides the tenant as everywhere; callers authenticate with a personal access token
//! (`Authorization: Bearer egv_…`) or a session cookie. Handlers only gather the caller and call
//! the same `domain` functions as the pages. Errors are `application/problem+json`. The OpenAPI
//! 3.1 document is generated from the handlers' annotations and served at `/api/v1/openapi.json`.

mod agents;
mod executions;
mod secrets;
mod skills;
mod submissions;
mod tokens;

use std::marker::PhantomData;

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use domain::accounts::SignedIn;
use domain::caller::Caller;
use domain::tenancy::Tenant;
use domain::{AppError, Ctx};
use model::Principal;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    servers((url = "/api/v1", description = "On the tenant's own host")),
    info(
        title = "ExecGov REST API",
        version = "1",
        description = "Run governed skills of one tenant: the Host of the request is the tenant."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "account", description = "Who is calling"),
        (name = "skills", description = "Skills this user may run"),
        (name = "executions", description = "Runs of skills"),
        (name = "submissions", description = "Hot-update submissions (tenant admins)"),
        (name = "tokens", description = "Personal access tokens"),
        (name = "secrets", description = "The tenant's secrets (tenant admins): values go in, only names and last 4 characters come out"),
        (name = "agents", description = "Local agents: their own protocol (agent token and machine identity), and their list for admins")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API's routes and the OpenAPI document built from the same list.
fn api() -> (axum::Router<Ctx>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(utoipa_axum::routes!(me))
        .merge(skills::routes())
        .merge(executions::routes())
        .merge(submissions::routes())
        .merge(tokens::routes())
        .merge(secrets::routes())
        .merge(agents::routes())
        .split_for_parts();
    describe_every_response(&mut doc);
    executions::body_optional_for_client_generators(&mut doc);
    (router, doc)
}

/// OpenAPI requires a description on every response, and client generators refuse a document
/// without them. A response its handler does not describe is described by its status's reason
/// ("Unauthorized", "Not Found"): the problem details in its body say the rest.
fn describe_every_response(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &mut operation.responses.responses {
                let RefOr::T(response) = response else {
                    continue;
                };
                if response.description.is_empty() {
                    response.description = status
                        .parse()
                        .ok()
                        .and_then(|code| StatusCode::from_u16(code).ok())
                        .and_then(|code| code.canonical_reason())
                        .unwrap_or("Answer")
                        .to_string();
                }
            }
        }
    }
}

/// The API's routes, with the OpenAPI document at `/api/v1/openapi.json`.
pub fn routes() -> Router<Ctx> {
    let (router, doc) = api();
    let doc = doc
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    Router::new().nest(
        "/api/v1",
        router.route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc) }),
        ),
    )
}

/// An error as RFC 9457 problem details.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind in words (e.g. "Invalid", "NotFound").
    pub title: String,
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
}

/// A domain error answered as `application/problem+json`.
pub struct ApiError(AppError);

impl From<AppError> for ApiError {
    fn from(err: AppError) -> ApiError {
        ApiError(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let user = self.0.to_user_error();
        let title = format!("{:?}", user.kind);
        let status =
            StatusCode::from_u16(user.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let problem = Problem {
            kind: format!("https://execgov.dev/problems/{}", title.to_lowercase()),
            title,
            status: status.as_u16(),
            detail: user.message,
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            "application/problem+json".parse().expect("valid header"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Bearer".parse().expect("valid header"),
            );
        }
        self.0.mark_response(&mut response);
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A request the extractors could not read (path, query, JSON, form) is the caller's mistake:
/// 422 with the reason, as problem details like every other error.
fn unreadable(what: &str, reason: String) -> ApiError {
    ApiError(AppError::Invalid(format!(
        "The {what} is not valid: {reason}"
    )))
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        unreadable("path", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        unreadable("query", r.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        unreadable("JSON body", r.body_text())
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(r: MultipartRejection) -> ApiError {
        unreadable("multipart form", r.body_text())
    }
}

/// `axum::extract::Path` answering problem details.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` answering problem details.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `axum::Json` answering problem details.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// A signed-in user of the tenant whose host the request came to, with the caller for auditing.
/// The REST API and the pages' own form endpoints (run, submission, downloads) take it alike;
/// `R` says how a refusal is answered: problem details by default, the plain message for forms.
pub struct TenantUser<R = ApiError> {
    pub caller: Caller,
    refusal: PhantomData<fn() -> R>,
}

impl<R> TenantUser<R> {
    pub fn tenant(&self) -> &Tenant {
        self.caller
            .binding
            .tenant
            .as_ref()
            .expect("checked when extracted")
    }

    pub fn user(&self) -> &SignedIn {
        self.caller
            .signed_in
            .as_ref()
            .expect("checked when extracted")
    }
}

/// How a request that is not from a signed-in user of the host's tenant is refused.
pub trait Refusal: From<AppError> + IntoResponse {
    /// `err` is the domain's own refusal (`Caller::tenant_user`).
    fn not_a_tenant_user(caller: &Caller, err: AppError) -> Self;
}

/// The pages' forms: the domain's message, as plain text.
impl Refusal for AppError {
    fn not_a_tenant_user(_: &Caller, err: AppError) -> AppError {
        err
    }
}

/// The REST API: what an API client needs to hear, as problem details.
impl Refusal for ApiError {
    fn not_a_tenant_user(caller: &Caller, _: AppError) -> ApiError {
        if caller.binding.tenant.is_none() {
            return not_a_tenant_address().into();
        }
        AppError::Unauthenticated(
            "Send a personal access token as 'Authorization: Bearer …' (create one under \
             Tokens in the tenant front); it may have expired or been revoked."
                .into(),
        )
        .into()
    }
}

impl<S: Send + Sync, R: Refusal> FromRequestParts<S> for TenantUser<R> {
    type Rejection = R;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let caller = request_caller(parts)?;
        if let Err(err) = caller.tenant_user() {
            return Err(R::not_a_tenant_user(&caller, err));
        }
        Ok(TenantUser {
            caller,
            refusal: PhantomData,
        })
    }
}

/// The caller the host layer identified for this request.
fn request_caller(parts: &Parts) -> Result<Caller, AppError> {
    parts
        .extensions
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no caller on a request")))
}

/// The caller (from the host layer) and the tenant of the host the request came to.
pub(crate) fn tenant_caller(parts: &Parts) -> Result<(Caller, Tenant), ApiError> {
    let caller = request_caller(parts)?;
    let tenant = caller
        .binding
        .tenant
        .clone()
        .ok_or_else(not_a_tenant_address)?;
    Ok((caller, tenant))
}

fn not_a_tenant_address() -> AppError {
    AppError::NotFound("The REST API is served on a tenant's own address.".into())
}

/// Who is calling.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub tenant: String,
    pub username: String,
    /// `admin` or `member`.
    pub role: String,
}

#[utoipa::path(get, path = "/me", tag = "account",
    responses(
        (status = 200, body = Me),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
async fn me(who: TenantUser) -> ApiResult<Json<Me>> {
    let role = match &who.user().principal {
        Principal::Tenant { role, .. } => role.as_str().to_string(),
        Principal::Platform { .. } => String::new(),
    };
    Ok(Json(Me {
        tenant: who.tenant().name.clone(),
        username: who.user().principal.username().to_string(),
        role,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(super::api().1).expect("the document serialises")
    }

    #[test]
    fn every_response_has_a_description() {
        let doc = document();
        let mut undescribed = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("a path item") {
                let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                    continue;
                };
                for (status, response) in responses {
                    let described = response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty());
                    if !described {
                        undescribed.push(format!("{method} {path} {status}"));
                    }
                }
            }
        }
        assert!(
            undescribed.is_empty(),
            "without a description: {undescribed:?}"
        );
    }

    /// A schema used only in a query's parameters is not collected into the components unless
    /// it is inlined; a reference to it would dangle.
    #[test]
    fn every_reference_resolves() {
        fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        found.push(target);
                    }
                    map.values().for_each(|child| references(child, found));
                }
                Value::Array(list) => list.iter().for_each(|child| references(child, found)),
                _ => {}
            }
        }
        let doc = document();
        let mut found = Vec::new();
        references(&doc, &mut found);
        let dangling: Vec<&str> = found
            .into_iter()
            .filter(|target| {
                let pointer = target.strip_prefix('#').unwrap_or(target);
                doc.pointer(pointer).is_none()
            })
            .collect();
        assert!(dangling.is_empty(), "dangling references: {dangling:?}");
    }

    /// Tuples become `prefixItems` with `items: false`, which client generators refuse.
    #[test]
    fn no_schema_is_a_tuple() {
        fn tuples(value: &Value, at: &str, found: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if map.contains_key("prefixItems")
                        || map.get("items") == Some(&Value::Bool(false))
                    {
                        found.push(at.to_string());
                    }
                    for (key, child) in map {
                        tuples(child, &format!("{at}/{key}"), found);
                    }
                }
                Value::Array(list) => {
                    for (index, child) in list.iter().enumerate() {
                        tuples(child, &format!("{at}/{index}"), found);
                    }
                }
                _ => {}
            }
        }
        let mut found = Vec::new();
        tuples(&document(), "#", &mut found);
        assert!(found.is_empty(), "tuple schemas at {found:?}");
    }
}
