//! Cross-site request forgery: a state-changing request that a browser may have sent on its own
//! (it carries no bearer token, so cookies are what would authenticate it) must come from a page
//! of the very origin it is addressed to. `SameSite=Lax` is not enough: tenant fronts and the
//! console under one registrable domain are the same *site*, so a sibling subdomain could post
//! with the victim's cookie; and sign-in itself has no cookie to protect it.
//!
//! The rule, in order:
//! - GET, HEAD and OPTIONS change nothing and pass.
//! - A request with `Authorization: Bearer …` passes: the token, not a cookie, is its credential
//!   (the session cookie is then ignored), and a page of another site cannot set that header
//!   without a CORS preflight, which ExecGov never grants.
//! - With `Origin`: it must equal `scheme://Host` of this request (the Host picks the tenant).
//!   `Origin: null` (sandboxed frames, cross-origin redirects) is refused.
//! - Without `Origin`, `Sec-Fetch-Site` must be `same-origin` or `none` (typed by the user).
//! - With neither, the request passes: every browser of recent years sends at least one of them
//!   on a POST (Origin on cross-origin POSTs everywhere; Sec-Fetch-Site in Chromium since 2019,
//!   Firefox since 2021, Safari since 2023), so such a request is not a browser riding someone's
//!   cookie but a script or terminal (curl with a cookie jar, as `scripts/test` signs in) that
//!   holds its own credentials. Go's `net/http` CrossOriginProtection draws the same line.

use axum::http::{header, HeaderMap, Method};

/// Why the request is refused, or `Ok` if it may go on. `scheme` is the one the browser used
/// (see `client::Client`), `host` the request's Host header as sent.
pub fn check(method: &Method, headers: &HeaderMap, scheme: &str, host: &str) -> Result<(), String> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || crate::bearer_token(headers).is_some()
    {
        return Ok(());
    }
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("?"));
    let expected = origin(scheme, host);
    match (text(header::ORIGIN.as_str()), text("sec-fetch-site")) {
        (Some(sent), _) => match sent.split_once("://") {
            Some((s, h)) if origin(s, h) == expected => Ok(()),
            _ => Err(format!(
                "This request came from another site ({sent}) and was refused: changes are \
                 accepted only from pages of {expected} itself. Open {expected} and try again there."
            )),
        },
        (None, Some("same-origin" | "none") | None) => Ok(()),
        (None, Some(site)) => Err(format!(
            "This request came from another site (Sec-Fetch-Site: {site}) and was refused: \
             changes are accepted only from pages of {expected} itself. Open {expected} and try \
             again there."
        )),
    }
}

/// `scheme://host[:port]`, lower-cased, without the scheme's default port (browsers leave it
/// out of `Origin`; a Host header may carry it).
fn origin(scheme: &str, host: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => "",
    };
    let host = match host.strip_suffix(default_port) {
        Some(bare) if !default_port.is_empty() => bare.to_string(),
        _ => host,
    };
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(pairs: &[(&str, &str)], scheme: &str, host: &str) -> Result<(), String> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        check(&Method::POST, &headers, scheme, host)
    }

    #[test]
    fn only_the_requests_own_origin_may_change_things() {
        let host = "acme.localhost:3000";
        assert!(post(&[("origin", "http://acme.localhost:3000")], "http", host).is_ok());
        assert!(post(&[("origin", "HTTP://ACME.localhost:3000")], "http", host).is_ok());
        for forged in [
            "http://globex.localhost:3000",
            "http://acme.localhost:3001",
            "https://acme.localhost:3000",
            "http://acme.localhost",
            "null",
        ] {
            let refused = post(&[("origin", forged)], "http", host).unwrap_err();
            assert!(refused.contains("another site"), "{refused}");
        }
        // Default ports: the Host may name it, Origin never does.
        assert!(post(
            &[("origin", "https://acme.example.com")],
            "https",
            "acme.example.com:443"
        )
        .is_ok());
        // Origin decides when present, whatever Sec-Fetch-Site says.
        assert!(post(
            &[
                ("origin", "http://evil.localhost:3000"),
                ("sec-fetch-site", "same-origin")
            ],
            "http",
            host
        )
        .is_err());
    }

    #[test]
    fn without_origin_sec_fetch_site_decides_and_without_both_the_request_passes() {
        let host = "acme.localhost:3000";
        for ok in ["same-origin", "none"] {
            assert!(post(&[("sec-fetch-site", ok)], "http", host).is_ok());
        }
        for refused in ["same-site", "cross-site"] {
            assert!(post(&[("sec-fetch-site", refused)], "http", host).is_err());
        }
        assert!(post(&[], "http", host).is_ok());
        // A bearer token is the credential: origin headers do not matter.
        assert!(post(
            &[
                ("authorization", "Bearer egv_x"),
                ("origin", "http://evil.localhost")
            ],
            "http",
            host
        )
        .is_ok());
        // Reading is not changing.
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, "http://evil.localhost".parse().unwrap());
        assert!(check(&Method::GET, &headers, "http", host).is_ok());
    }
}
