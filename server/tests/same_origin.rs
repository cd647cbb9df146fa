//! Cross-site request forgery: every state-changing route — each operation of the served OpenAPI
//! document, each registered server function and the plain form endpoints — refuses a request
//! with the victim's cookie from another origin (a sibling subdomain, another site, an opaque
//! origin), and changes nothing; the same origin, terminals and bearer tokens go on working.

mod common;

use common::*;
use serde_json::Value;

const ACME: &str = "acme.localhost";
const CONSOLE: &str = "admin.localhost";

/// The forged ways a browser could send a request from elsewhere: the header it would send.
const FORGED: &[(&str, &str)] = &[
    ("origin", "http://globex.localhost"),
    ("origin", "http://evil.example"),
    ("origin", "https://acme.localhost"),
    ("origin", "null"),
    ("sec-fetch-site", "same-site"),
    ("sec-fetch-site", "cross-site"),
];

/// The plain (non-API, non-server-function) endpoints that take posts: forms with files.
const FORM_ROUTES: &[&str] = &[
    "/skills/demo/run",
    "/submissions",
    "/assistant/ask",
    "/assistant/1/ask",
    "/assistant/1/turns/1/run",
];

/// Every state-changing operation of the OpenAPI document, as (method, path with ids filled in).
async fn api_operations(server: &TestServer) -> Vec<(reqwest::Method, String)> {
    let doc = server
        .api(
            reqwest::Method::GET,
            ACME,
            "/api/v1/openapi.json",
            None,
            ApiBody::Empty,
        )
        .await
        .json();
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                // Every path parameter is an id or a name; "1" is as good as any.
                let concrete = path
                    .split('/')
                    .map(|part| if part.starts_with('{') { "1" } else { part })
                    .collect::<Vec<_>>()
                    .join("/");
                operations.push((
                    method.to_uppercase().parse().unwrap(),
                    format!("/api/v1{concrete}"),
                ));
            }
        }
    }
    operations
}

/// Every registered server function's path (`/api/<endpoint>`) and method.
fn server_functions() -> Vec<(reqwest::Method, String)> {
    let mut paths: Vec<_> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| (method.as_str().parse().unwrap(), path.to_string()))
        .collect();
    paths.sort_by(|a, b| a.1.cmp(&b.1));
    paths
}

/// What a change would leave behind in Acme and on the platform: audit entries, executions,
/// tokens, submissions.
async fn footprint(server: &TestServer) -> Vec<i64> {
    let mut counts = Vec::new();
    for sql in [
        "SELECT count(*) FROM tenant_1003.audit_log",
        "SELECT count(*) FROM tenant_1003.executions",
        "SELECT count(*) FROM tenant_1003.api_tokens",
        "SELECT count(*) FROM tenant_1003.sessions",
        "SELECT count(*) FROM public.platform_audit",
        "SELECT count(*) FROM public.skill_submissions",
        "SELECT count(*) FROM public.tenants",
    ] {
        counts.push(count(&server.ctx, sql).await);
    }
    counts
}

async fn send(
    server: &TestServer,
    method: reqwest::Method,
    host: &str,
    path: &str,
    session: &str,
    header: (&str, &str),
    accept: &str,
) -> (u16, String, String) {
    let response = server
        .client
        .request(method, format!("http://{}{path}", server.addr))
        .header(reqwest::header::HOST, host)
        .header(
            reqwest::header::COOKIE,
            format!("execgov_session={session}"),
        )
        .header(reqwest::header::ACCEPT, accept)
        .header(header.0, header.1)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body("username=acme-admin&password=test-Password-1234&name=x&days=1")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_origins_are_refused_on_every_state_changing_route() {
    let server = start_server(seeded_ctx().await).await;
    let acme = server.login(ACME, "acme-admin", PASSWORD).await;
    let console = server.login(CONSOLE, "superadmin", PASSWORD).await;

    let api = api_operations(&server).await;
    for expected in [
        "/api/v1/executions/1/confirm",
        "/api/v1/executions",
        "/api/v1/tokens",
    ] {
        assert!(
            api.iter().any(|(_, p)| p == expected),
            "{expected} in the OpenAPI document: {api:?}"
        );
    }
    let functions = server_functions();
    for expected in [
        "/api/login",
        "/api/approve-submission",
        "/api/create-tenant",
    ] {
        assert!(
            functions.iter().any(|(_, p)| p == expected),
            "{expected} registered: {functions:?}"
        );
    }

    let before = footprint(&server).await;
    let mut checked = 0;
    for &forged in FORGED {
        for (method, path) in &api {
            let (status, content_type, body) = send(
                &server,
                method.clone(),
                ACME,
                path,
                &acme,
                forged,
                "application/json",
            )
            .await;
            assert_eq!(status, 403, "{method} {path} with {forged:?}: {body}");
            assert_eq!(content_type, "application/problem+json", "{method} {path}");
            let problem: Value = serde_json::from_str(&body).unwrap();
            assert!(
                problem["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("came from another site")),
                "{body}"
            );
            checked += 1;
        }
        for (method, path) in &functions {
            for (host, session) in [(ACME, &acme), (CONSOLE, &console)] {
                let (status, _, body) = send(
                    &server,
                    method.clone(),
                    host,
                    path,
                    session,
                    forged,
                    "application/json",
                )
                .await;
                assert_eq!(status, 403, "{path} on {host} with {forged:?}: {body}");
                let error: Value =
                    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
                assert_eq!(error["kind"], "Forbidden", "{body}");
                assert!(error["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("came from another site")));
                checked += 1;
            }
        }
        for path in FORM_ROUTES {
            let (status, _, body) = send(
                &server,
                reqwest::Method::POST,
                ACME,
                path,
                &acme,
                forged,
                "text/html",
            )
            .await;
            assert_eq!(status, 403, "{path} with {forged:?}: {body}");
            assert!(body.contains("came from another site"), "{body}");
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked} requests checked");
    assert_eq!(
        footprint(&server).await,
        before,
        "a refused request changed something"
    );

    // The sessions are still good, and the same origin may change things.
    for (header, value) in [
        ("origin", "http://acme.localhost"),
        ("sec-fetch-site", "same-origin"),
    ] {
        let (status, _, body) = send(
            &server,
            reqwest::Method::POST,
            ACME,
            "/api/create-token",
            &acme,
            (header, value),
            "application/json",
        )
        .await;
        assert_eq!(status, 200, "{header}: {value}: {body}");
    }
}

/// Signing in from another site is refused (no session cookie is set), with JavaScript or without;
/// from the page's own origin, and from a terminal (no Origin, no Sec-Fetch-Site), it works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_from_another_site_is_refused() {
    let server = start_server(seeded_ctx().await).await;
    let sign_in = |origin: Option<&'static str>, accept: &'static str| {
        let mut request = server
            .client
            .post(format!("http://{}/api/login", server.addr))
            .header(reqwest::header::HOST, ACME)
            .header(reqwest::header::ACCEPT, accept)
            .form(&[("username", "acme-admin"), ("password", PASSWORD)]);
        if let Some(origin) = origin {
            request = request.header(reqwest::header::ORIGIN, origin);
        }
        async move { request.send().await.unwrap() }
    };
    for accept in ["application/json", "text/html"] {
        let refused = sign_in(Some("http://evil.example"), accept).await;
        assert_eq!(refused.status().as_u16(), 403, "{accept}");
        assert!(refused.headers().get(reqwest::header::SET_COOKIE).is_none());
        assert!(refused
            .text()
            .await
            .unwrap()
            .contains("came from another site"));
    }
    assert_eq!(
        count(&server.ctx, "SELECT count(*) FROM tenant_1003.login_log").await,
        0,
        "a refused request never reached the sign-in"
    );
    for origin in [Some("http://acme.localhost"), None] {
        let ok = sign_in(origin, "application/json").await;
        assert_eq!(ok.status().as_u16(), 200, "{origin:?}");
        assert!(ok.headers().get(reqwest::header::SET_COOKIE).is_some());
    }
}

/// A bearer token is its own credential: a REST call with one is not refused whatever Origin it
/// carries (a page of another site cannot add the header without a CORS grant).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_calls_are_unaffected() {
    let server = start_server(seeded_ctx().await).await;
    let (_, secret) = session_token(&server, ACME, "acme-admin").await;
    let reply = server
        .api_with_headers(
            reqwest::Method::POST,
            ACME,
            "/api/v1/tokens",
            Some(&secret),
            &[("origin", "http://evil.example")],
            ApiBody::Json(serde_json::json!({ "name": "from-ci", "days": 1 })),
        )
        .await;
    assert!(
        reply.status == 200 || reply.status == 201,
        "{} {}",
        reply.status,
        reply.text()
    );
}
