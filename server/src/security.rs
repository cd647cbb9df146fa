//! Headers every answer carries, whatever produced it: a Content-Security-Policy (pages set their
//! own, with the nonce of their inline scripts; see `app::shell`), no MIME sniffing, no referrer
//! beyond this origin, and over HTTPS (as a trusted proxy says) HSTS and `Secure` cookies.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::client::{Client, TrustedProxies};

/// The policy of every answer that is not a page (REST, server functions, files, plain pages):
/// nothing may load or run, except the inline style of the plain pages; nobody may frame it.
const ANSWER_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                             base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A year: browsers then reach this host over HTTPS only, once they have seen it there.
const HSTS: &str = "max-age=31536000";

pub async fn headers(
    State(proxies): State<Arc<TrustedProxies>>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let https = Client::of(peer, req.headers(), &proxies).scheme == "https";
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(ANSWER_POLICY));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
        secure_cookies(headers);
    }
    response
}

/// Marks every cookie set over HTTPS `Secure`, so the browser never sends it over plain HTTP.
fn secure_cookies(headers: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| {
            let text = value.to_str().unwrap_or_default();
            let secure = text
                .split(';')
                .any(|attribute| attribute.trim().eq_ignore_ascii_case("secure"));
            if secure || text.is_empty() {
                value.clone()
            } else {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or_else(|_| value.clone())
            }
        })
        .collect();
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_set_over_https_are_secure_once() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static("execgov_session=abc; Path=/; HttpOnly; SameSite=Lax"),
        );
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static("other=1; Secure"),
        );
        secure_cookies(&mut headers);
        let cookies: Vec<&str> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            cookies,
            [
                "execgov_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure",
                "other=1; Secure"
            ]
        );
    }
}
