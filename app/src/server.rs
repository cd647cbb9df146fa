//! Server-side helpers for the server functions: the request's context and its cookie.

use axum::http::header::{ACCEPT, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use domain::caller::Caller;
use domain::{AppError, AppResult, Ctx};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use model::{ErrorKind, UserError};

/// The domain context and the caller the host layer identified for this request.
pub fn caller() -> Result<(Ctx, Caller), UserError> {
    let missing = || UserError::new(ErrorKind::Internal, "The request context is missing.");
    let ctx = use_context::<Ctx>().ok_or_else(missing)?;
    let parts = use_context::<Parts>().ok_or_else(missing)?;
    let caller = parts
        .extensions
        .get::<Caller>()
        .cloned()
        .ok_or_else(missing)?;
    Ok((ctx, caller))
}

/// The body of a server function: `work` gets the request's context and caller and calls
/// `domain`; its error is mapped for the page by `user_error`. Every server function starts here.
pub async fn serve<T>(work: impl AsyncFnOnce(Ctx, Caller) -> AppResult<T>) -> Result<T, UserError> {
    let (ctx, caller) = caller()?;
    work(ctx, caller).await.map_err(user_error)
}

/// Maps a domain error for the page (logging internal ones) and gives the response the error's
/// HTTP status, so clients and logs see 401/403/409/422 rather than a blanket 500. A plain HTML
/// form post (no JavaScript) keeps the redirect back to its page that leptos answers with.
fn user_error(err: AppError) -> UserError {
    let retry_after = err.retry_after();
    let user: UserError = err.into();
    let form_post = use_context::<Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if !form_post {
        set_error_status(&user);
        if let (Some(response), Some(value)) = (use_context::<ResponseOptions>(), retry_after) {
            response.insert_header(axum::http::header::RETRY_AFTER, value);
        }
    }
    user
}

/// Makes the current response carry `err`'s HTTP status.
pub fn set_error_status(err: &UserError) {
    if let (Some(response), Ok(status)) = (
        use_context::<ResponseOptions>(),
        StatusCode::from_u16(err.kind.status()),
    ) {
        response.set_status(status);
    }
}

/// Sets (or, with `None`, clears) the session cookie: host-only, HttpOnly, SameSite=Lax.
pub fn set_session_cookie(token: Option<(&str, chrono::DateTime<chrono::Utc>)>) {
    let mut builder = cookie::Cookie::build((
        domain::accounts::SESSION_COOKIE,
        token.map(|t| t.0).unwrap_or(""),
    ))
    .path("/")
    .http_only(true)
    .same_site(cookie::SameSite::Lax);
    builder = match token {
        Some((_, expires)) => builder.max_age(cookie::time::Duration::seconds(
            (expires - chrono::Utc::now()).num_seconds().max(0),
        )),
        None => builder.max_age(cookie::time::Duration::ZERO),
    };
    if let (Some(response), Ok(value)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(&builder.build().to_string()),
    ) {
        response.append_header(SET_COOKIE, value);
    }
}
