//! The headers every answer carries: a page's Content-Security-Policy with the nonce its inline
//! scripts carry, a stricter one on REST answers and files, nosniff and a referrer policy; the
//! bundle precompressed and cached by its hashed name; over HTTPS (a trusted proxy says so) HSTS
//! and `Secure` cookies, and neither over plain HTTP.

mod common;

use std::sync::Arc;

use common::*;
use domain::brain::embedded::Embedded;
use reqwest::header::{self, HeaderMap};
use server::client::TrustedProxies;

const ACME: &str = "acme.localhost";

async fn fetch(
    server: &TestServer,
    path: &str,
    extra: &[(&str, &str)],
) -> (u16, HeaderMap, String) {
    let mut req = server
        .client
        .get(format!("http://{}{path}", server.addr))
        .header(header::HOST, ACME);
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    let reply = req.send().await.unwrap();
    let headers = reply.headers().clone();
    (
        reply.status().as_u16(),
        headers,
        reply.text().await.unwrap_or_default(),
    )
}

fn value<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn assert_common(headers: &HeaderMap, what: &str) {
    assert_eq!(
        value(headers, "x-content-type-options"),
        "nosniff",
        "{what}"
    );
    assert_eq!(value(headers, "referrer-policy"), "same-origin", "{what}");
    assert!(
        value(headers, "content-security-policy").contains("frame-ancestors 'none'"),
        "{what}: {headers:?}"
    );
    assert!(
        headers.get("strict-transport-security").is_none(),
        "{what}: no HSTS over HTTP"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_rest_answers_and_files_carry_the_security_headers() {
    let server = start_server(seeded_ctx().await).await;

    // A page: scripts from this origin, or inline with the nonce this very response carries.
    let (status, headers, html) = fetch(&server, "/", &[]).await;
    assert_eq!(status, 200);
    assert_common(&headers, "page");
    let policy = value(&headers, "content-security-policy");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {policy}"));
    assert!(
        policy.contains("script-src 'self' 'nonce-") && policy.contains("'wasm-unsafe-eval'"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(
        html.contains(&format!("<script type=\"module\" nonce=\"{nonce}\">")),
        "{html}"
    );
    let (_, again, _) = fetch(&server, "/", &[]).await;
    assert_ne!(
        value(&again, "content-security-policy"),
        policy,
        "a nonce per response"
    );

    // A REST answer (a refusal, as problem details) and the OpenAPI document: nothing may load.
    for path in ["/api/v1/me", "/api/v1/openapi.json"] {
        let (_, headers, _) = fetch(&server, path, &[]).await;
        assert_common(&headers, path);
        assert!(
            value(&headers, "content-security-policy").starts_with("default-src 'none'"),
            "{path}: {headers:?}"
        );
    }

    // Files: the stylesheet checked again every time; the hashed bundle brotli-compressed and
    // kept for a year.
    let (status, headers, _) = fetch(&server, "/pkg/execgov.css", &[]).await;
    assert_eq!(status, 200);
    assert_common(&headers, "stylesheet");
    assert_eq!(value(&headers, "cache-control"), "no-cache");
    let site = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site/pkg/hash.txt");
    let hashes =
        std::fs::read_to_string(site).expect("scripts/lib.sh build_site wrote pkg/hash.txt");
    let hash = hashes
        .lines()
        .find_map(|line| line.strip_prefix("wasm: "))
        .expect("a wasm hash");
    let wasm = format!("/pkg/execgov.{hash}.wasm");
    let (status, headers, _) = fetch(&server, &wasm, &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(status, 200, "{wasm}");
    assert_common(&headers, &wasm);
    assert_eq!(value(&headers, "content-encoding"), "br");
    assert_eq!(value(&headers, "content-type"), "application/wasm");
    assert_eq!(
        value(&headers, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let (_, headers, _) = fetch(&server, &wasm, &[("accept-encoding", "gzip")]).await;
    assert_eq!(value(&headers, "content-encoding"), "gzip");
    // The page names the hashed files.
    assert!(html.contains(&format!("execgov.{hash}.wasm")), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_cookies_are_secure_and_hsts_is_sent() {
    let proxies: TrustedProxies = "127.0.0.1".parse().unwrap();
    let server = start_server_with(seeded_ctx().await, move |ctx, options| {
        server::router_with_brain(ctx, options, Arc::new(Embedded), proxies)
    })
    .await;
    let sign_in = |proto: &'static str| {
        server
            .client
            .post(format!("http://{}/api/login", server.addr))
            .header(header::HOST, ACME)
            .header(header::ACCEPT, "application/json")
            .header("x-forwarded-proto", proto)
            .form(&[("username", "acme-user"), ("password", PASSWORD)])
            .send()
    };

    let reply = sign_in("https").await.unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    assert_eq!(
        value(reply.headers(), "strict-transport-security"),
        "max-age=31536000"
    );
    let cookie = value(reply.headers(), "set-cookie");
    assert!(cookie.starts_with("execgov_session="), "{cookie}");
    assert!(cookie.ends_with("; Secure"), "{cookie}");

    let reply = sign_in("http").await.unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    assert!(reply.headers().get("strict-transport-security").is_none());
    let cookie = value(reply.headers(), "set-cookie");
    assert!(
        cookie.starts_with("execgov_session=") && !cookie.contains("Secure"),
        "{cookie}"
    );
}
