//! The ExecGov server: the host layer (Host → binding → caller), the Leptos pages and server
//! functions, health checks and static files, on one axum router.

mod api;
mod brain;
mod bundle;
pub mod client;
pub mod config;
pub mod dbwatch;
mod limits;
pub mod metrics;
mod percent;
pub mod postgres;
mod runs;
mod same_origin;
mod security;
mod submissions;

pub use bundle::leptos_options;
use std::net::SocketAddr;
use std::sync::Arc;

use app::{shell, App};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use client::{Client, TrustedProxies};
use domain::accounts::SESSION_COOKIE;
use domain::brain::embedded::Embedded;
use domain::brain::Provider;
use domain::error::DATABASE_UNAVAILABLE;
use domain::{caller, AppError, Ctx, RequestMeta};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// How the server's welcome begins, followed by the address it listens on. With `EXECGOV_ADDR`
/// on port 0 the system picks a free port, and scripts and tests read it from this line (a port
/// chosen beforehand could be taken by another program before the server binds it).
pub const LISTENING: &str = "ExecGov is running on ";

/// The address in a server's output, once its welcome has been printed.
pub fn listening_address(output: &str) -> Option<SocketAddr> {
    output
        .lines()
        .find_map(|line| line.strip_prefix(LISTENING))
        .and_then(|addr| addr.trim().parse().ok())
}

/// The longest a page or server function may take before it is answered 503.
const PAGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The whole HTTP surface with the embedded (offline) brain and no trusted proxies; see
/// `router_with_brain`.
pub fn router(ctx: Ctx, leptos_options: LeptosOptions) -> Router {
    router_with_brain(
        ctx,
        leptos_options,
        Arc::new(Embedded),
        TrustedProxies::default(),
    )
}

/// The whole HTTP surface, the assistant answering with `brain`, forwarding headers believed
/// from `proxies` only. `/healthz` answers on every host; everything else needs a bound Host.
pub fn router_with_brain(
    ctx: Ctx,
    leptos_options: LeptosOptions,
    brain: Arc<dyn Provider>,
    proxies: TrustedProxies,
) -> Router {
    let proxies = Arc::new(proxies);
    let routes = generate_route_list(App);
    let provide_ctx = {
        let ctx = ctx.clone();
        move || provide_context(ctx.clone())
    };
    let pages = Router::new()
        .leptos_routes_with_context(&leptos_options, routes, provide_ctx.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(
            provide_ctx,
            shell,
        ))
        // Server functions read their bodies whole, without a limit of their own.
        .layer(middleware::from_fn(limits::small_bodies))
        // Leptos has had rare renders that never finish (lost wake-ups in Suspense); such a
        // request is answered 503 instead of holding its connection forever. The run routes,
        // the assistant's (uploads, a provider's answer), submissions and live event streams
        // are legitimately long and stay outside.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            PAGE_TIMEOUT,
        ))
        .merge(runs::routes().with_state(ctx.clone()))
        .merge(brain::routes(brain).with_state(ctx.clone()))
        .merge(submissions::routes().with_state(ctx.clone()))
        .merge(api::routes().with_state(ctx.clone()))
        .merge(bundle::routes(&leptos_options))
        .layer(middleware::from_fn_with_state(
            HostLayer {
                ctx: ctx.clone(),
                proxies: proxies.clone(),
            },
            host_layer,
        ))
        .with_state(leptos_options);
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(ctx)
        .merge(pages)
        .layer(middleware::from_fn_with_state(proxies, security::headers))
        .layer(TraceLayer::new_for_http())
}

/// What a worker process serves on its address: `/healthz` only (and `/metrics`, added beside).
pub fn worker_router(ctx: Ctx) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(ctx)
        .layer(TraceLayer::new_for_http())
}

/// 200 once the database answers, on any Host, for load balancers and scripts; 503 with
/// `Retry-After` when it does not answer within 2 s.
async fn healthz(State(ctx): State<Ctx>) -> Response {
    let ping = sqlx::query("SELECT 1").execute(&ctx.pool);
    let err = match tokio::time::timeout(std::time::Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => return (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(err)) => err.to_string(),
        Err(_) => "no answer within 2 s".into(),
    };
    tracing::warn!(%err, "health check: database unreachable");
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response();
    AppError::Unavailable(DATABASE_UNAVAILABLE.into()).mark_response(&mut response);
    response
}

/// The token of an `Authorization: Bearer …` header.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme's name is case-insensitive (RFC 9110, 11.1).
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

#[derive(Clone)]
struct HostLayer {
    ctx: Ctx,
    proxies: Arc<TrustedProxies>,
}

/// Resolves the Host and the session before anything else runs. Unknown hosts get a 404 page and
/// suspended tenants a suspended page; no request ever falls through to a default tenant.
/// Cross-site state-changing requests are refused first (`same_origin`).
async fn host_layer(
    State(HostLayer { ctx, proxies }): State<HostLayer>,
    mut req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let client = Client::of(
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip()),
        req.headers(),
        &proxies,
    );
    if let Err(message) = same_origin::check(req.method(), req.headers(), client.scheme, &host) {
        return cross_site_refusal(&req, &message);
    }
    let token = session_token(&req);
    let meta = RequestMeta {
        ip: client.ip.map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(300).collect()),
    };
    let bearer = bearer_token(req.headers());
    let caller = match caller::identify(&ctx, &host, token.as_deref(), bearer, meta).await {
        Ok(Some(caller)) => caller,
        Ok(None) => {
            return refusal(
                &req,
                StatusCode::NOT_FOUND,
                "This address is not bound",
                "This address is not bound to anything on this ExecGov installation. Check the address you were given.",
            )
        }
        Err(err) => return err.into_response(),
    };
    if let Some(tenant) = caller.binding.tenant.as_ref().filter(|t| !t.active) {
        return refusal(
            &req,
            StatusCode::FORBIDDEN,
            "Suspended",
            &format!(
                "{} is suspended. Signing in is not possible; contact your platform administrator.",
                tenant.name
            ),
        );
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

fn session_token(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .flatten()
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_string())
}

/// The host layer's refusal: problem details for the REST API, a plain page for people.
fn refusal(req: &Request, status: StatusCode, title: &str, message: &str) -> Response {
    if req.uri().path().starts_with("/api/v1/") {
        let err = if status == StatusCode::NOT_FOUND {
            domain::AppError::NotFound(message.to_string())
        } else {
            domain::AppError::Forbidden(message.to_string())
        };
        return api::ApiError::from(err).into_response();
    }
    plain_page(status, title, message)
}

/// A cross-site request's refusal (403): problem details for the REST API, the server functions'
/// own error shape for their callers, a plain page for a form posted without JavaScript.
fn cross_site_refusal(req: &Request, message: &str) -> Response {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let path = req.uri().path();
    if path.starts_with("/api/") && !path.starts_with("/api/v1/") && !wants_html {
        let error = model::UserError::new(model::ErrorKind::Forbidden, message);
        return (StatusCode::FORBIDDEN, axum::Json(error)).into_response();
    }
    refusal(req, StatusCode::FORBIDDEN, "Refused: another site", message)
}

/// A page that needs no application: for unbound and suspended hosts, and while the database
/// is unreachable.
pub(crate) fn plain_page(status: StatusCode, title: &str, message: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · ExecGov</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}}\
         main{{max-width:36rem;margin:15vh auto;padding:2rem;background:#fff;border-radius:8px;\
         box-shadow:0 1px 3px #0002}}</style></head><body><main><h1>{t}</h1><p>{m}</p></main></body></html>",
        t = escape(title),
        m = escape(message)
    );
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("valid header"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_address_is_read_from_the_welcome() {
        let output =
            "2026 INFO migrated\n\nExecGov is running on 127.0.0.1:40123\n\n  public console …";
        assert_eq!(
            listening_address(output),
            Some(SocketAddr::from(([127, 0, 0, 1], 40123)))
        );
        assert_eq!(listening_address("2026 INFO starting\n"), None);
    }
}
