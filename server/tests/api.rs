//! The REST API v1 over real HTTP: personal access tokens (shown once, stored hashed, refused
//! when revoked, expired, disabled or made up), adversarial tenant isolation, skills, executions
//! (typed JSON and multipart inputs, log paging, confirmation, cancellation, artifacts),
//! submissions, problem+json errors and the OpenAPI document against the routes served.
//!
//! Scripts really run (bubblewrap, uids 63700–63799: the real binary's pool takes 63700–63763,
//! in-process worker pools 8 each from 63764).
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use domain::executions::{self, QueuePolicy};
use domain::Ctx;
use engine::{Executors, SandboxConfig};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ACME: &str = "acme.localhost";
const GLOBEX: &str = "globex.localhost";
const CONSOLE: &str = "admin.localhost";
const FREE: &str = "free.localhost";
const EXPERIENCE: &str = "localhost";

const CSV: &str =
    "region,amount,day\nnorth,10,2026-01-05\nsouth,20,2026-02-10\nnorth,30,2026-03-15\n";

/// The real binary's sandbox pool: 64 uids from here.
const CHILD_FIRST_UID: u32 = 63700;

/// The routes the API serves under `/api/v1` (besides `/openapi.json`), with their methods, as
/// the handlers in `server/src/api/` declare them.
const SERVED: &[(&str, &[&str])] = &[
    ("/me", &["get"]),
    ("/skills", &["get"]),
    ("/skills/{slug}", &["get"]),
    ("/executions", &["get", "post"]),
    ("/executions/{id}", &["get"]),
    ("/executions/{id}/logs", &["get"]),
    ("/executions/{id}/confirm", &["post"]),
    ("/executions/{id}/cancel", &["post"]),
    ("/executions/{id}/artifact", &["get"]),
    ("/submissions", &["post"]),
    ("/submissions/{id}", &["get"]),
    ("/tokens", &["get", "post"]),
    ("/tokens/{id}", &["delete"]),
    ("/secrets", &["get"]),
    ("/secrets/{name}", &["put", "delete"]),
    ("/agent/register", &["post"]),
    ("/agent/me", &["get"]),
    ("/agent/claim", &["post"]),
    ("/agent/executions/{id}/lease", &["post"]),
    ("/agent/executions/{id}/logs", &["post"]),
    ("/agent/executions/{id}/bundle", &["get"]),
    ("/agent/executions/{id}/finish", &["post"]),
    ("/agents", &["get"]),
    ("/agents/{id}", &["delete"]),
];

// ---------------------------------------------------------------------------------------------
// Helpers.

/// An in-process worker pool with uids of its own (8 each, from 63764).
fn start_workers(ctx: &Ctx) {
    static NEXT: AtomicU32 = AtomicU32::new(CHILD_FIRST_UID + 64);
    let first_uid = NEXT.fetch_add(8, Ordering::SeqCst);
    assert!(first_uid + 8 <= 63800, "out of this file's uid range");
    let executors = Executors::new(SandboxConfig {
        first_uid,
        uid_slots: 8,
        ..SandboxConfig::default()
    });
    executions::start_workers(
        ctx.clone(),
        Arc::new(executors),
        2,
        QueuePolicy {
            per_tenant_cap: 4,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_millis(200),
            ..QueuePolicy::default()
        },
    );
}

async fn get(server: &TestServer, host: &str, path: &str, token: Option<&str>) -> ApiReply {
    server
        .api(Method::GET, host, path, token, ApiBody::Empty)
        .await
}

async fn post_json(
    server: &TestServer,
    host: &str,
    path: &str,
    token: &str,
    body: Value,
) -> ApiReply {
    server
        .api(Method::POST, host, path, Some(token), ApiBody::Json(body))
        .await
}

async fn post_empty(server: &TestServer, host: &str, path: &str, token: &str) -> ApiReply {
    server
        .api(Method::POST, host, path, Some(token), ApiBody::Empty)
        .await
}

async fn post_multipart(
    server: &TestServer,
    host: &str,
    path: &str,
    token: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> ApiReply {
    let (content_type, body) = multipart_body(fields, files);
    server
        .api(
            Method::POST,
            host,
            path,
            Some(token),
            ApiBody::Raw(content_type, body),
        )
        .await
}

/// Asserts an RFC 9457 problem with `status`: `application/problem+json` with `type`, `title`,
/// `status` and `detail`, and `WWW-Authenticate: Bearer` on a 401. Returns the problem.
#[track_caller]
fn assert_problem(reply: &ApiReply, status: u16) -> Value {
    assert_eq!(
        reply.status,
        status,
        "expected a {status} problem: {}",
        reply.text()
    );
    assert_eq!(
        reply.content_type,
        "application/problem+json",
        "{status}: {}",
        reply.text()
    );
    let problem = reply.json();
    for key in ["type", "title", "detail"] {
        assert!(
            problem[key].as_str().is_some_and(|s| !s.is_empty()),
            "problem without {key}: {problem}"
        );
    }
    assert_eq!(problem["status"], status, "{problem}");
    if status == 401 {
        assert_eq!(
            reply.www_authenticate.as_deref(),
            Some("Bearer"),
            "a 401 asks for a bearer token"
        );
    }
    problem
}

#[track_caller]
fn assert_ok(reply: &ApiReply, status: u16) -> Value {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.content_type, "application/json", "{}", reply.text());
    reply.json()
}

/// The execution's id from a `201 Created` answer, checking its `Location`.
#[track_caller]
fn created_execution(reply: &ApiReply) -> i64 {
    let view = assert_ok(reply, 201);
    let id = view["summary"]["id"].as_i64().expect("an execution id");
    assert_eq!(
        reply.location.as_deref(),
        Some(format!("/api/v1/executions/{id}").as_str())
    );
    id
}

/// Follows the log with `after`/`next` until `finished`; returns the last view of the execution
/// and every line read, checking that the pages add up to the execution's whole log.
async fn follow(
    server: &TestServer,
    host: &str,
    token: &str,
    id: i64,
) -> (Value, Vec<(String, String)>) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut after = 0u64;
    let mut lines = Vec::new();
    loop {
        let page = assert_ok(
            &get(
                server,
                host,
                &format!("/api/v1/executions/{id}/logs?after={after}"),
                Some(token),
            )
            .await,
            200,
        );
        let next = page["next"].as_u64().expect("next");
        let got = page["lines"].as_array().expect("lines");
        assert_eq!(
            next,
            after + got.len() as u64,
            "next counts the lines read: {page}"
        );
        for line in got {
            lines.push((
                line["stream"].as_str().unwrap().to_string(),
                line["line"].as_str().unwrap().to_string(),
            ));
        }
        after = next;
        if page["finished"] == true {
            // Nothing after the end.
            let last = assert_ok(
                &get(
                    server,
                    host,
                    &format!("/api/v1/executions/{id}/logs?after={after}"),
                    Some(token),
                )
                .await,
                200,
            );
            assert_eq!(last["lines"], json!([]), "{last}");
            assert_eq!(last["next"], after);
            break;
        }
        assert!(Instant::now() < deadline, "execution {id} never finished");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let view = assert_ok(
        &get(
            server,
            host,
            &format!("/api/v1/executions/{id}"),
            Some(token),
        )
        .await,
        200,
    );
    let whole: Vec<(String, String)> = view["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["stream"].as_str().unwrap().to_string(),
                l["line"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(lines, whole, "the pages add up to the whole log");
    (view, lines)
}

async fn audit_count(ctx: &Ctx, schema: &str, condition: &str) -> i64 {
    count(
        ctx,
        &format!("SELECT count(*) FROM {schema}.audit_log WHERE {condition}"),
    )
    .await
}

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, text) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A small, valid skill folder as a zip.
fn skill_zip(slug: &str) -> Vec<u8> {
    let manifest = format!(
        "name = \"Skill {slug}\"\nslug = \"{slug}\"\ndescription = \"Submitted through the API.\"\n\
         output = \"A greeting.\"\nrisk = \"low\"\ntimeout_seconds = 30\n"
    );
    let main = "print('hello from the API')\n";
    let readme = format!("# {slug}\n\nSays hello.\n");
    zip_of(&[
        (&format!("{slug}/skill.toml"), &manifest),
        (&format!("{slug}/main.py"), main),
        (&format!("{slug}/README.md"), &readme),
    ])
}

fn slugs(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|s| s["slug"].as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Tokens.

/// A token made on the tokens page (session) and one made through the API (token): each secret is
/// shown once, never listed, stored only as its SHA-256, and works as `Bearer` for `/me`; both
/// creations are audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_shown_once_stored_hashed_and_work_as_bearer() {
    let server = start_server(seeded_ctx().await).await;
    let (first_id, first) = session_token(&server, ACME, "acme-user").await;
    assert!(first.starts_with("egv_"), "{first}");
    assert!(first.len() >= 40, "a long random secret: {first}");

    let me = assert_ok(&get(&server, ACME, "/api/v1/me", Some(&first)).await, 200);
    assert_eq!(
        me,
        json!({ "tenant": "Acme", "username": "acme-user", "role": "member" })
    );

    // A second token, made with the first one through the API.
    let created = post_json(
        &server,
        ACME,
        "/api/v1/tokens",
        &first,
        json!({ "name": "ci pipeline", "days": 7 }),
    )
    .await;
    let created = assert_ok(&created, 201);
    let second = created["secret"].as_str().unwrap().to_string();
    let second_id = created["token"]["id"].as_i64().unwrap();
    assert_ne!(first, second);
    assert_eq!(created["token"]["owner"], "acme-user");
    assert_eq!(created["token"]["revoked"], false);
    assert!(second.starts_with(created["token"]["prefix"].as_str().unwrap()));
    let expires =
        chrono::DateTime::parse_from_rfc3339(created["token"]["expires_at"].as_str().unwrap())
            .unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!(
        (7 * 24 - 1..=7 * 24).contains(&days),
        "lives 7 days: {created}"
    );
    let me = assert_ok(&get(&server, ACME, "/api/v1/me", Some(&second)).await, 200);
    assert_eq!(me["username"], "acme-user");

    // Listed without secrets, with when it was last used.
    let list = get(&server, ACME, "/api/v1/tokens", Some(&second)).await;
    let text = list.text();
    let list = assert_ok(&list, 200);
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [second_id, first_id], "newest first");
    for secret in [&first, &second] {
        assert!(
            !text.contains(secret.as_str()),
            "a secret in the list: {text}"
        );
        assert!(!text.contains(&secret["egv_".len()..]), "{text}");
    }
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.get("secret").is_none()));
    assert!(list[1]["last_used_at"].is_string(), "used: {list}");

    // Stored as SHA-256 only: no column of any row holds a secret.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT row_to_json(t)::text, token_hash FROM tenant_1003.api_tokens t ORDER BY id",
    )
    .fetch_all(&server.ctx.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    let hashes: Vec<&str> = rows.iter().map(|(_, h)| h.as_str()).collect();
    for secret in [&first, &second] {
        for (row, _) in &rows {
            assert!(
                !row.contains(&secret["egv_".len()..]),
                "a secret stored: {row}"
            );
        }
        let digest = hex::encode(Sha256::digest(secret.as_bytes()));
        assert!(hashes.contains(&digest.as_str()), "stored as its SHA-256");
    }
    // Nothing of them in Globex.
    assert_eq!(
        count(&server.ctx, "SELECT count(*) FROM tenant_1004.api_tokens").await,
        0
    );
    assert_eq!(
        audit_count(
            &server.ctx,
            "tenant_1003",
            "action = 'token.create' AND actor = 'acme-user'"
        )
        .await,
        2
    );
    for secret in [&first, &second] {
        assert_eq!(
            audit_count(
                &server.ctx,
                "tenant_1003",
                &format!("detail::text LIKE '%{}%'", &secret["egv_".len()..])
            )
            .await,
            0,
            "no secret in the audit log"
        );
    }

    // A bad name or lifetime is a 422 problem and creates nothing.
    for body in [
        json!({ "name": "" }),
        json!({ "name": "x".repeat(81) }),
        json!({ "name": "ok", "days": 0 }),
        json!({ "name": "ok", "days": 367 }),
    ] {
        let reply = post_json(&server, ACME, "/api/v1/tokens", &first, body.clone()).await;
        assert_problem(&reply, 422);
    }
    assert_eq!(
        count(&server.ctx, "SELECT count(*) FROM tenant_1003.api_tokens").await,
        2
    );
}

/// Revoked, expired, a disabled user's, made-up and absent tokens are all 401 problems with
/// `WWW-Authenticate: Bearer`, and none of them reaches any route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_expired_disabled_and_made_up_tokens_are_401_problems() {
    let server = start_server(seeded_ctx().await).await;
    let (revoked_id, revoked) = session_token(&server, ACME, "acme-user").await;
    let (expired_id, expired) = session_token(&server, ACME, "acme-user").await;
    let (_, disabled) = session_token(&server, ACME, "acme-user").await;
    let (_, admin) = session_token(&server, ACME, "acme-admin").await;
    for token in [&revoked, &expired, &disabled] {
        assert_ok(&get(&server, ACME, "/api/v1/me", Some(token)).await, 200);
    }

    // Revoked by its owner, through the API.
    let reply = server
        .api(
            Method::DELETE,
            ACME,
            &format!("/api/v1/tokens/{revoked_id}"),
            Some(&revoked),
            ApiBody::Empty,
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert!(reply.body.is_empty());
    assert_problem(&get(&server, ACME, "/api/v1/me", Some(&revoked)).await, 401);

    // Expired a minute ago.
    sqlx::query(
        "UPDATE tenant_1003.api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1",
    )
    .bind(expired_id)
    .execute(&server.ctx.pool)
    .await
    .unwrap();
    assert_problem(&get(&server, ACME, "/api/v1/me", Some(&expired)).await, 401);
    let listed = assert_ok(
        &get(&server, ACME, "/api/v1/tokens", Some(&admin)).await,
        200,
    );
    let revoked_row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == revoked_id)
        .expect("a revoked token is still listed");
    assert_eq!(revoked_row["revoked"], true);

    // The user disabled by an admin: their still-valid token stops working at once.
    let session = server.login(ACME, "acme-admin", PASSWORD).await;
    let users = server.call(ACME, "list-users", &[], Some(&session)).await;
    users.assert_ok();
    let user_id = users
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "acme-user")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    server
        .call(
            ACME,
            "change-user",
            &[("user_id", &user_id.to_string()), ("change", "disable")],
            Some(&session),
        )
        .await
        .assert_ok();
    assert_problem(
        &get(&server, ACME, "/api/v1/me", Some(&disabled)).await,
        401,
    );

    // Made up: right prefix, wrong prefix, a valid token's hash, nothing at all, other schemes.
    let hash = hex::encode(Sha256::digest(admin.as_bytes()));
    let made_up = [
        format!("egv_{}", "0".repeat(64)),
        "egv_".to_string(),
        "garbage".to_string(),
        hash.clone(),
        format!("egv_{hash}"),
        admin.to_uppercase(),
        format!("{admin}x"),
    ];
    for token in &made_up {
        for path in [
            "/api/v1/me",
            "/api/v1/skills",
            "/api/v1/executions",
            "/api/v1/tokens",
        ] {
            assert_problem(&get(&server, ACME, path, Some(token)).await, 401);
        }
    }
    let anonymous = get(&server, ACME, "/api/v1/me", None).await;
    assert_problem(&anonymous, 401);
    for scheme in ["Basic", "Token"] {
        let reply = server
            .client
            .get(format!("http://{}/api/v1/me", server.addr))
            .header(reqwest::header::HOST, ACME)
            .header(reqwest::header::AUTHORIZATION, format!("{scheme} {admin}"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401, "{scheme}");
    }
    // Every failing token writes and creates nothing.
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/tokens",
            ApiBody::Json(json!({ "name": "x" })),
        ),
        (
            Method::POST,
            "/api/v1/executions",
            ApiBody::Json(json!({ "skill": "csv-summary" })),
        ),
        (Method::DELETE, "/api/v1/tokens/1", ApiBody::Empty),
    ] {
        let reply = server.api(method, ACME, path, Some(&revoked), body).await;
        assert_problem(&reply, 401);
    }
    assert_eq!(
        count(
            &server.ctx,
            "SELECT count(*) FROM tenant_1003.api_tokens WHERE revoked_at IS NULL"
        )
        .await,
        3,
        "expired, disabled user's and admin's"
    );
    assert_eq!(
        count(&server.ctx, "SELECT count(*) FROM tenant_1003.executions").await,
        0
    );
    // The admin's own token was never affected.
    assert_ok(&get(&server, ACME, "/api/v1/me", Some(&admin)).await, 200);
}

/// A member sees and revokes only their own tokens (another user's is "not found"); an admin sees
/// and revokes every token of the tenant; nobody reaches another tenant's tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_revoke_another_users_token_but_an_admin_can() {
    let server = start_server(seeded_ctx().await).await;
    let (member_id, member) = session_token(&server, ACME, "acme-user").await;
    let (admin_id, admin) = session_token(&server, ACME, "acme-admin").await;
    let (globex_id, globex) = session_token(&server, GLOBEX, "globex-admin").await;

    let listed = assert_ok(
        &get(&server, ACME, "/api/v1/tokens", Some(&member)).await,
        200,
    );
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], member_id);
    let listed = assert_ok(
        &get(&server, ACME, "/api/v1/tokens", Some(&admin)).await,
        200,
    );
    let owners: BTreeSet<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["owner"].as_str().unwrap())
        .collect();
    assert_eq!(owners, BTreeSet::from(["acme-admin", "acme-user"]));

    let revoke = |id: i64, token: String| {
        let server = &server;
        async move {
            server
                .api(
                    Method::DELETE,
                    ACME,
                    &format!("/api/v1/tokens/{id}"),
                    Some(&token),
                    ApiBody::Empty,
                )
                .await
        }
    };
    // The member: not the admin's token, and nothing else either.
    // The member: not the admin's token, nor one that does not exist.
    for id in [admin_id, 999_999] {
        assert_problem(&revoke(id, member.clone()).await, 404);
    }
    assert_ok(&get(&server, ACME, "/api/v1/me", Some(&admin)).await, 200);
    assert_eq!(
        count(
            &server.ctx,
            "SELECT count(*) FROM tenant_1003.api_tokens WHERE revoked_at IS NOT NULL"
        )
        .await,
        0
    );
    // Globex's admin, with Globex's token on Acme's host: not signed in there, nothing revoked.
    for id in [member_id, admin_id] {
        let reply = server
            .api(
                Method::DELETE,
                ACME,
                &format!("/api/v1/tokens/{id}"),
                Some(&globex),
                ApiBody::Empty,
            )
            .await;
        assert_problem(&reply, 401);
    }
    // On Globex's own host, ids are Globex's: Acme's admin token id names nothing there.
    assert_ne!(admin_id, globex_id);
    let reply = server
        .api(
            Method::DELETE,
            GLOBEX,
            &format!("/api/v1/tokens/{admin_id}"),
            Some(&globex),
            ApiBody::Empty,
        )
        .await;
    assert_problem(&reply, 404);
    for token in [&member, &admin] {
        assert_ok(&get(&server, ACME, "/api/v1/me", Some(token)).await, 200);
    }
    assert_ok(
        &get(&server, GLOBEX, "/api/v1/me", Some(&globex)).await,
        200,
    );

    // The admin revokes the member's token.
    let reply = revoke(member_id, admin.clone()).await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert_problem(&get(&server, ACME, "/api/v1/me", Some(&member)).await, 401);
    assert_ok(&get(&server, ACME, "/api/v1/me", Some(&admin)).await, 200);
    assert_eq!(
        audit_count(
            &server.ctx,
            "tenant_1003",
            &format!(
                "action = 'token.revoke' AND actor = 'acme-admin' AND detail->>'token_id' = '{member_id}'"
            )
        )
        .await,
        1
    );
    assert_ok(
        &get(&server, GLOBEX, "/api/v1/me", Some(&globex)).await,
        200,
    );
}

// ---------------------------------------------------------------------------------------------
// Isolation.

/// A token means nothing on another host: Acme's token on Globex, the console, the free edition
/// or the experience page gets no data, and an unknown host gets 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_only_good_on_its_own_tenants_host() {
    let server = start_server(seeded_ctx().await).await;
    let (_, acme) = session_token(&server, ACME, "acme-admin").await;
    let session = server.login(ACME, "acme-admin", PASSWORD).await;
    assert_ok(&get(&server, ACME, "/api/v1/me", Some(&acme)).await, 200);
    let paths = [
        "/api/v1/me",
        "/api/v1/skills",
        "/api/v1/skills/csv-summary",
        "/api/v1/executions",
        "/api/v1/tokens",
    ];
    for path in paths {
        // Another tenant: anonymous there.
        assert_problem(&get(&server, GLOBEX, path, Some(&acme)).await, 401);
        assert_problem(&get(&server, FREE, path, Some(&acme)).await, 401);
        // The console and the experience page have no tenant: no API at all.
        for host in [CONSOLE, EXPERIENCE] {
            let reply = get(&server, host, path, Some(&acme)).await;
            assert!(
                [401, 404].contains(&reply.status),
                "{host}{path}: {} {}",
                reply.status,
                reply.text()
            );
            assert!(
                !reply.text().contains("acme"),
                "{host}{path}: {}",
                reply.text()
            );
        }
        // A host bound to nothing.
        for host in [
            "nowhere.localhost",
            "acme.localhost.evil.example",
            "127.0.0.1",
        ] {
            let reply = get(&server, host, path, Some(&acme)).await;
            assert_eq!(reply.status, 404, "{host}{path}: {}", reply.text());
            assert!(!reply.text().contains("csv-summary"));
        }
    }
    // Acme's session cookie on Globex's API: anonymous too.
    let reply = server
        .client
        .get(format!("http://{}/api/v1/me", server.addr))
        .header(reqwest::header::HOST, GLOBEX)
        .header(
            reqwest::header::COOKIE,
            format!("execgov_session={session}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    // Nothing was created anywhere by the attempts.
    for schema in ["tenant_1002", "tenant_1004"] {
        assert_eq!(
            count(
                &server.ctx,
                &format!("SELECT count(*) FROM {schema}.api_tokens")
            )
            .await,
            0
        );
    }
}

/// Acme's execution, its log and artifact, its confirmation and cancellation, and Acme's
/// submission are "not found" with a Globex token (admin or member), and Globex's lists show none
/// of them; Acme's member cannot reach Acme's admin's execution either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_executions_artifacts_and_submissions_are_not_found() {
    let server = start_server(seeded_ctx().await).await;
    start_workers(&server.ctx);
    let (_, acme_admin) = session_token(&server, ACME, "acme-admin").await;
    let (_, acme_user) = session_token(&server, ACME, "acme-user").await;
    let (_, globex_admin) = session_token(&server, GLOBEX, "globex-admin").await;
    let (_, globex_user) = session_token(&server, GLOBEX, "globex-user").await;

    // A finished run with a report, one waiting for confirmation, and a submission, all Acme's.
    let request = json!({ "skill": "csv-summary", "inputs": { "top_values": 2 } }).to_string();
    let finished = created_execution(
        &post_multipart(
            &server,
            ACME,
            "/api/v1/executions",
            &acme_admin,
            &[("request", &request)],
            &[("data", "secret-sales.csv", CSV.as_bytes())],
        )
        .await,
    );
    let (view, _) = follow(&server, ACME, &acme_admin, finished).await;
    assert_eq!(view["summary"]["status"], "succeeded", "{view}");
    let purge = json!({ "skill": "purge-old-rows", "inputs": { "date_column": "day", "cutoff": "2026-02-01" } })
        .to_string();
    let waiting = created_execution(
        &post_multipart(
            &server,
            ACME,
            "/api/v1/executions",
            &acme_admin,
            &[("request", &purge)],
            &[("data", "rows.csv", CSV.as_bytes())],
        )
        .await,
    );
    let submission = post_multipart(
        &server,
        ACME,
        "/api/v1/submissions",
        &acme_admin,
        &[
            ("scenario", "Acme's secret scenario for the isolation test."),
            ("risk", "low"),
            ("manual_allowed", "true"),
        ],
        &[("archive", "acme-secret.zip", &skill_zip("acme-secret"))],
    )
    .await;
    let submission = assert_ok(&submission, 201)["summary"]["id"]
        .as_i64()
        .unwrap();

    let secrets = [
        "secret-sales",
        "acme-secret",
        "Acme",
        "csv-summary",
        "purge-old-rows",
    ];
    for token in [&globex_admin, &globex_user] {
        for path in [
            format!("/api/v1/executions/{finished}"),
            format!("/api/v1/executions/{finished}/logs"),
            format!("/api/v1/executions/{finished}/logs?after=0"),
            format!("/api/v1/executions/{finished}/artifact?path=report.md"),
            format!("/api/v1/executions/{waiting}"),
            format!("/api/v1/submissions/{submission}"),
        ] {
            let reply = get(&server, GLOBEX, &path, Some(token)).await;
            // A Globex member is refused submissions as a non-admin before anything is looked up.
            let expected = if path.contains("submissions") && token == &globex_user {
                403
            } else {
                404
            };
            assert_problem(&reply, expected);
            for secret in secrets {
                assert!(!reply.text().contains(secret), "{path}: {}", reply.text());
            }
        }
        for path in [
            format!("/api/v1/executions/{waiting}/confirm"),
            format!("/api/v1/executions/{waiting}/cancel"),
            format!("/api/v1/executions/{finished}/cancel"),
        ] {
            assert_problem(&post_empty(&server, GLOBEX, &path, token).await, 404);
        }
        let list = assert_ok(
            &get(&server, GLOBEX, "/api/v1/executions", Some(token)).await,
            200,
        );
        assert_eq!(list, json!([]), "Globex's history is empty");
        let list = get(
            &server,
            GLOBEX,
            "/api/v1/executions?skill=csv-summary",
            Some(token),
        )
        .await;
        assert_eq!(assert_ok(&list, 200), json!([]));
        // Running Acme's skill from Globex: no such skill there.
        let reply = post_json(
            &server,
            GLOBEX,
            "/api/v1/executions",
            token,
            json!({ "skill": "csv-summary" }),
        )
        .await;
        assert_problem(&reply, 404);
    }
    // Still waiting, never confirmed, cancelled or downloaded by anyone.
    let view = assert_ok(
        &get(
            &server,
            ACME,
            &format!("/api/v1/executions/{waiting}"),
            Some(&acme_admin),
        )
        .await,
        200,
    );
    assert_eq!(view["summary"]["status"], "awaiting_confirmation");
    assert_eq!(
        audit_count(&server.ctx, "tenant_1003", "action = 'artifact.download'").await,
        0
    );
    assert_eq!(
        count(&server.ctx, "SELECT count(*) FROM tenant_1004.executions").await,
        0
    );
    assert_eq!(
        count(
            &server.ctx,
            "SELECT count(*) FROM tenant_1004.audit_log WHERE action LIKE 'execution.%'"
        )
        .await,
        0
    );

    // Within Acme: the member does not see the admin's executions.
    for path in [
        format!("/api/v1/executions/{finished}"),
        format!("/api/v1/executions/{finished}/logs"),
        format!("/api/v1/executions/{finished}/artifact?path=report.md"),
    ] {
        assert_problem(&get(&server, ACME, &path, Some(&acme_user)).await, 404);
    }
    assert_problem(
        &post_empty(
            &server,
            ACME,
            &format!("/api/v1/executions/{waiting}/confirm"),
            &acme_user,
        )
        .await,
        404,
    );
    let list = assert_ok(
        &get(&server, ACME, "/api/v1/executions", Some(&acme_user)).await,
        200,
    );
    assert_eq!(list, json!([]));
    // The owner still can.
    let reply = get(
        &server,
        ACME,
        &format!("/api/v1/executions/{finished}/artifact?path=report.md"),
        Some(&acme_admin),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

// ---------------------------------------------------------------------------------------------
// Skills.

/// `/skills` lists exactly the skills the user may run (per tenant, per role, enabled only) and
/// `/skills/{slug}` answers for those only, with the input schema `POST /executions` takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skills_list_and_get_match_what_the_user_may_see() {
    let server = start_server(seeded_ctx().await).await;
    let (_, acme_admin) = session_token(&server, ACME, "acme-admin").await;
    let (_, acme_user) = session_token(&server, ACME, "acme-user").await;
    let (_, globex_user) = session_token(&server, GLOBEX, "globex-user").await;
    // Every Acme demo skill is granted to its members.
    let demo: Vec<String> = domain::skills::manifest::demo_skill_folders("acme")
        .into_iter()
        .map(|f| f.manifest.slug)
        .collect();
    let acme_skills: BTreeSet<String> = demo.iter().cloned().collect();
    assert!(acme_skills.contains("purge-old-rows") && acme_skills.contains("text-report"));
    let without = |gone: &[&str]| -> BTreeSet<String> {
        acme_skills
            .iter()
            .filter(|s| !gone.contains(&s.as_str()))
            .cloned()
            .collect()
    };

    for token in [&acme_admin, &acme_user] {
        let list = assert_ok(
            &get(&server, ACME, "/api/v1/skills", Some(token)).await,
            200,
        );
        assert_eq!(slugs(&list), acme_skills);
    }
    let list = assert_ok(
        &get(&server, GLOBEX, "/api/v1/skills", Some(&globex_user)).await,
        200,
    );
    assert_eq!(slugs(&list), set(&["checksum", "word-frequency"]));

    // The same as the domain says, field by field.
    let acme = tenant_of(&server.ctx, ACME).await;
    let user = domain::tokens::authenticate(&server.ctx, &acme, &acme_user)
        .await
        .unwrap()
        .unwrap();
    let expected = domain::skills::list_visible(&server.ctx, &acme, &user)
        .await
        .unwrap();
    let list = assert_ok(
        &get(&server, ACME, "/api/v1/skills", Some(&acme_user)).await,
        200,
    );
    assert_eq!(list, serde_json::to_value(&expected).unwrap());
    let purge = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slug"] == "purge-old-rows")
        .unwrap();
    assert_eq!(purge["risk"], "high");
    assert_eq!(purge["requires_confirmation"], true);

    let page = assert_ok(
        &get(
            &server,
            ACME,
            "/api/v1/skills/csv-summary",
            Some(&acme_user),
        )
        .await,
        200,
    );
    assert_eq!(page["summary"]["slug"], "csv-summary");
    let fields: Vec<(&str, &str, bool)> = page["inputs"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["type"].as_str().unwrap(),
                f["required"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("data", "file", true),
            ("delimiter", "enum", false),
            ("top_values", "integer", false)
        ]
    );
    assert!(
        page["readme_html"].as_str().unwrap().contains("<"),
        "{page}"
    );

    // Another tenant's skill, or none: not found.
    for (host, token, slug) in [
        (ACME, &acme_user, "checksum"),
        (GLOBEX, &globex_user, "csv-summary"),
        (ACME, &acme_user, "no-such-skill"),
    ] {
        let reply = get(
            &server,
            host,
            &format!("/api/v1/skills/{slug}"),
            Some(token),
        )
        .await;
        assert_problem(&reply, 404);
    }

    // purge-old-rows granted to nobody but admins (admins always may); text-report disabled.
    sqlx::query(
        "DELETE FROM tenant_1003.skill_grants WHERE skill_id = \
         (SELECT id FROM tenant_1003.skills WHERE slug = 'purge-old-rows')",
    )
    .execute(&server.ctx.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE tenant_1003.skills SET enabled = false WHERE slug = 'text-report'")
        .execute(&server.ctx.pool)
        .await
        .unwrap();
    let list = assert_ok(
        &get(&server, ACME, "/api/v1/skills", Some(&acme_user)).await,
        200,
    );
    assert_eq!(slugs(&list), without(&["purge-old-rows", "text-report"]));
    let list = assert_ok(
        &get(&server, ACME, "/api/v1/skills", Some(&acme_admin)).await,
        200,
    );
    assert_eq!(slugs(&list), without(&["text-report"]));
    for slug in ["purge-old-rows", "text-report"] {
        let reply = get(
            &server,
            ACME,
            &format!("/api/v1/skills/{slug}"),
            Some(&acme_user),
        )
        .await;
        assert_problem(&reply, 404);
        // Nor can it be run.
        let reply = post_json(
            &server,
            ACME,
            "/api/v1/executions",
            &acme_user,
            json!({ "skill": slug }),
        )
        .await;
        assert_problem(&reply, 404);
    }
    assert_ok(
        &get(
            &server,
            ACME,
            "/api/v1/skills/purge-old-rows",
            Some(&acme_admin),
        )
        .await,
        200,
    );
    assert_problem(
        &get(
            &server,
            ACME,
            "/api/v1/skills/text-report",
            Some(&acme_admin),
        )
        .await,
        404,
    );
}

// ---------------------------------------------------------------------------------------------
// Executions.

/// A skill without files runs from a JSON request: numbers and booleans reach the script typed,
/// the log is followed page by page with `after`/`next` until `finished`, and the result is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_runs_from_typed_json_inputs_and_its_log_pages_add_up() {
    let server = start_server(seeded_ctx().await).await;
    start_workers(&server.ctx);
    let (_, token) = session_token(&server, GLOBEX, "globex-user").await;
    let text = "The cat and the dog; the cat and a cat, a bird and a dog.\n".repeat(3);
    let reply = post_json(
        &server,
        GLOBEX,
        "/api/v1/executions",
        &token,
        json!({
            "skill": "word-frequency",
            "inputs": { "text": text, "top_n": 2, "skip_common_words": true }
        }),
    )
    .await;
    let id = created_execution(&reply);
    let created = reply.json();
    assert!(
        ["queued", "running", "succeeded"]
            .contains(&created["summary"]["status"].as_str().unwrap()),
        "{created}"
    );
    assert_eq!(created["summary"]["skill_slug"], "word-frequency");
    assert_eq!(created["summary"]["requested_by"], "globex-user");
    let inputs: Value = serde_json::from_str(created["inputs"].as_str().unwrap()).unwrap();
    assert_eq!(inputs["top_n"], json!(2), "a number, not text: {inputs}");
    assert_eq!(inputs["skip_common_words"], json!(true), "{inputs}");
    assert_eq!(
        inputs["text"],
        json!(text.trim_end()),
        "the text as given, trimmed"
    );

    let (view, _lines) = follow(&server, GLOBEX, &token, id).await;
    assert_eq!(view["summary"]["status"], "succeeded", "{view}");
    assert_eq!(view["can_cancel"], false);
    let result: Value = serde_json::from_str(view["result"].as_str().expect("a result")).unwrap();
    let words: Vec<&str> = result
        .as_array()
        .unwrap_or_else(|| panic!("a table: {result}"))
        .iter()
        .map(|row| row["word"].as_str().unwrap_or_default())
        .collect();
    // The typed inputs took effect: two words, common ones skipped.
    assert_eq!(words, ["cat", "dog"], "{result}");

    // `after` past the end: nothing, and `next` stays.
    let page = assert_ok(
        &get(
            &server,
            GLOBEX,
            &format!("/api/v1/executions/{id}/logs?after=100000"),
            Some(&token),
        )
        .await,
        200,
    );
    assert_eq!(page["lines"], json!([]));
    assert_eq!(page["next"], 100000);
    assert_eq!(page["finished"], true);
    assert_eq!(page["status"], "succeeded");
}

/// A skill with a file runs from a multipart request (`request` JSON part + one part per file);
/// its artifact downloads through `/executions/{id}/artifact?path=`, and each download is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_execution_with_a_file_runs_and_its_artifact_download_is_audited() {
    let server = start_server(seeded_ctx().await).await;
    start_workers(&server.ctx);
    let (_, token) = session_token(&server, ACME, "acme-user").await;
    let request =
        json!({ "skill": "csv-summary", "inputs": { "delimiter": "comma", "top_values": 1 } })
            .to_string();
    let reply = post_multipart(
        &server,
        ACME,
        "/api/v1/executions",
        &token,
        &[("request", &request)],
        &[("data", "sales.csv", CSV.as_bytes())],
    )
    .await;
    let id = created_execution(&reply);
    let inputs: Value = serde_json::from_str(reply.json()["inputs"].as_str().unwrap()).unwrap();
    assert_eq!(inputs["data"], "files/sales.csv", "{inputs}");
    assert_eq!(inputs["top_values"], 1);

    let (view, _) = follow(&server, ACME, &token, id).await;
    assert_eq!(view["summary"]["status"], "succeeded", "{view}");
    assert_eq!(view["artifacts"][0]["path"], "report.md", "{view}");
    let size = view["artifacts"][0]["size"].as_u64().unwrap();

    let path = format!("/api/v1/executions/{id}/artifact?path=report.md");
    let download = get(&server, ACME, &path, Some(&token)).await;
    assert_eq!(download.status, 200, "{}", download.text());
    assert_eq!(download.content_type, "application/octet-stream");
    assert_eq!(
        download.content_disposition.as_deref(),
        Some("attachment; filename=\"report.md\"")
    );
    assert_eq!(download.body.len() as u64, size);
    assert!(download.text().contains("sales.csv"), "{}", download.text());
    let acme = tenant_of(&server.ctx, ACME).await;
    let stored = std::fs::read(server.ctx.artifacts_dir(acme.id, id).join("report.md")).unwrap();
    assert_eq!(download.body, stored);
    assert_eq!(
        audit_count(
            &server.ctx,
            "tenant_1003",
            &format!(
                "action = 'artifact.download' AND actor = 'acme-user' AND target = 'execution {id}' \
                 AND detail->>'path' = 'report.md'"
            )
        )
        .await,
        1
    );
    // Not an artifact of it, whatever the path names: 404 problems, nothing audited.
    for bad in [
        "nothing.md",
        "../../../../etc/passwd",
        "%2E%2E%2Freport.md",
        "report.md%2F..%2Freport.md",
        "/report.md",
        "",
    ] {
        let reply = get(
            &server,
            ACME,
            &format!("/api/v1/executions/{id}/artifact?path={bad}"),
            Some(&token),
        )
        .await;
        assert_problem(&reply, 404);
    }
    assert_eq!(
        audit_count(&server.ctx, "tenant_1003", "action = 'artifact.download'").await,
        1
    );
}

/// Bad inputs are a 422 problem naming the field, and nothing is created (no execution, no queue
/// entry, no upload, no audit entry); an unknown skill is a 404 problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_422_naming_the_field_and_create_nothing() {
    let server = start_server(seeded_ctx().await).await;
    let (_, acme) = session_token(&server, ACME, "acme-user").await;
    let (_, globex) = session_token(&server, GLOBEX, "globex-user").await;
    let csv = CSV.as_bytes();

    // (host, token, request JSON, files, a field the detail must name)
    type Case<'a> = (
        &'a str,
        &'a str,
        Value,
        Vec<(&'a str, &'a str, &'a [u8])>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            ACME,
            &acme,
            json!({ "skill": "csv-summary" }),
            vec![],
            "data",
        ),
        (
            ACME,
            &acme,
            json!({ "skill": "csv-summary", "inputs": { "top_values": "eleven" } }),
            vec![("data", "a.csv", csv)],
            "top_values",
        ),
        (
            ACME,
            &acme,
            json!({ "skill": "csv-summary", "inputs": { "top_values": 11 } }),
            vec![("data", "a.csv", csv)],
            "top_values",
        ),
        (
            ACME,
            &acme,
            json!({ "skill": "csv-summary", "inputs": { "delimiter": "pipe" } }),
            vec![("data", "a.csv", csv)],
            "delimiter",
        ),
        (
            ACME,
            &acme,
            json!({ "skill": "csv-summary", "inputs": { "top_values": [1] } }),
            vec![("data", "a.csv", csv)],
            "top_values",
        ),
        (
            ACME,
            &acme,
            json!({ "skill": "purge-old-rows", "inputs": { "date_column": "day", "cutoff": "2026-02-30" } }),
            vec![("data", "a.csv", csv)],
            "cutoff",
        ),
        (
            GLOBEX,
            &globex,
            json!({ "skill": "word-frequency", "inputs": { "text": "hello", "top_n": 2.5 } }),
            vec![],
            "top_n",
        ),
        (
            GLOBEX,
            &globex,
            json!({ "skill": "word-frequency", "inputs": { "text": "hello", "top_n": 0 } }),
            vec![],
            "top_n",
        ),
        (
            GLOBEX,
            &globex,
            json!({ "skill": "word-frequency", "inputs": { "text": "hello", "skip_common_words": { "yes": 1 } } }),
            vec![],
            "skip_common_words",
        ),
    ];
    for (host, token, request, files, field) in &cases {
        let reply = if files.is_empty() {
            post_json(&server, host, "/api/v1/executions", token, request.clone()).await
        } else {
            post_multipart(
                &server,
                host,
                "/api/v1/executions",
                token,
                &[("request", &request.to_string())],
                files,
            )
            .await
        };
        let problem = assert_problem(&reply, 422);
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains(field),
            "{request}: the detail names {field}: {detail}"
        );
    }
    // Malformed requests: 422 problems too.
    for (content_type, body) in [
        ("application/json", b"{\"skill\": ".to_vec()),
        ("application/json", b"{\"inputs\": {}}".to_vec()),
        ("application/json", b"[1, 2]".to_vec()),
    ] {
        let reply = server
            .api(
                Method::POST,
                ACME,
                "/api/v1/executions",
                Some(&acme),
                ApiBody::Raw(content_type.into(), body),
            )
            .await;
        assert_problem(&reply, 422);
    }
    let no_request = post_multipart(
        &server,
        ACME,
        "/api/v1/executions",
        &acme,
        &[("skill", "csv-summary")],
        &[("data", "a.csv", csv)],
    )
    .await;
    let problem = assert_problem(&no_request, 422);
    assert!(
        problem["detail"].as_str().unwrap().contains("request"),
        "{problem}"
    );
    let bad_json = post_multipart(
        &server,
        ACME,
        "/api/v1/executions",
        &acme,
        &[("request", "{not json")],
        &[("data", "a.csv", csv)],
    )
    .await;
    assert_problem(&bad_json, 422);

    // Unknown skill: 404, with JSON and with multipart.
    let reply = post_json(
        &server,
        ACME,
        "/api/v1/executions",
        &acme,
        json!({ "skill": "no-such-skill", "inputs": {} }),
    )
    .await;
    assert_problem(&reply, 404);
    let reply = post_multipart(
        &server,
        ACME,
        "/api/v1/executions",
        &acme,
        &[("request", &json!({ "skill": "no-such-skill" }).to_string())],
        &[("data", "a.csv", csv)],
    )
    .await;
    assert_problem(&reply, 404);

    for schema in ["tenant_1003", "tenant_1004"] {
        assert_eq!(
            count(
                &server.ctx,
                &format!("SELECT count(*) FROM {schema}.executions")
            )
            .await,
            0,
            "{schema}"
        );
        assert_eq!(
            audit_count(&server.ctx, schema, "action LIKE 'execution.%'").await,
            0
        );
    }
    assert_eq!(
        count(&server.ctx, "SELECT count(*) FROM public.execution_queue").await,
        0
    );
    let inputs = server.ctx.data_dir.join("inputs");
    assert!(
        !inputs.exists() || std::fs::read_dir(&inputs).unwrap().next().is_none(),
        "no upload kept"
    );
}

/// The history: a member sees their own executions, an admin everyone's; `skill`, `user`,
/// `status`, `since` and `until` narrow it; a bad status is a 422 problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_list_with_filters() {
    let server = start_server(seeded_ctx().await).await;
    let (_, admin) = session_token(&server, ACME, "acme-admin").await;
    let (_, member) = session_token(&server, ACME, "acme-user").await;
    let run = |token: String, skill: &'static str| {
        let server = &server;
        async move {
            let request = match skill {
                "purge-old-rows" => {
                    json!({ "skill": skill, "inputs": { "date_column": "day", "cutoff": "2026-02-01" } })
                }
                _ => json!({ "skill": skill }),
            };
            let file = if skill == "text-report" {
                "document"
            } else {
                "data"
            };
            created_execution(
                &post_multipart(
                    server,
                    ACME,
                    "/api/v1/executions",
                    &token,
                    &[("request", &request.to_string())],
                    &[(file, "a.csv", CSV.as_bytes())],
                )
                .await,
            )
        }
    };
    // No workers: they stay queued (or wait for a confirmation).
    let m1 = run(member.clone(), "csv-summary").await;
    let m2 = run(member.clone(), "purge-old-rows").await;
    let a1 = run(admin.clone(), "text-report").await;
    let a2 = run(admin.clone(), "csv-summary").await;

    let ids = |reply: ApiReply| -> Vec<i64> {
        assert_ok(&reply, 200)
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect()
    };
    let list = |token: String, query: &'static str| {
        let server = &server;
        async move {
            get(
                server,
                ACME,
                &format!("/api/v1/executions{query}"),
                Some(&token),
            )
            .await
        }
    };
    assert_eq!(
        ids(list(member.clone(), "").await),
        [m2, m1],
        "own only, newest first"
    );
    assert_eq!(ids(list(admin.clone(), "").await), [a2, a1, m2, m1]);
    assert_eq!(
        ids(list(admin.clone(), "?skill=csv-summary").await),
        [a2, m1]
    );
    assert_eq!(ids(list(admin.clone(), "?user=acme-user").await), [m2, m1]);
    assert_eq!(
        ids(list(admin.clone(), "?user=ACME-USER&skill=csv-summary").await),
        [m1]
    );
    assert_eq!(
        ids(list(admin.clone(), "?status=awaiting_confirmation").await),
        [m2]
    );
    assert_eq!(
        ids(list(admin.clone(), "?status=queued").await),
        [a2, a1, m1]
    );
    assert_eq!(
        ids(list(admin.clone(), "?status=succeeded").await),
        Vec::<i64>::new()
    );
    // A member's `user` filter cannot widen what they see.
    assert_eq!(
        ids(list(member.clone(), "?user=acme-admin").await),
        Vec::<i64>::new()
    );
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let yesterday = today.pred_opt().unwrap();
    let q = |since: chrono::NaiveDate, until: chrono::NaiveDate| {
        format!("?since={since}&until={until}")
    };
    let within = get(
        &server,
        ACME,
        &format!("/api/v1/executions{}", q(yesterday, tomorrow)),
        Some(&admin),
    )
    .await;
    assert_eq!(ids(within).len(), 4);
    let later = get(
        &server,
        ACME,
        &format!("/api/v1/executions?since={tomorrow}"),
        Some(&admin),
    )
    .await;
    assert_eq!(ids(later), Vec::<i64>::new());
    let earlier = get(
        &server,
        ACME,
        &format!("/api/v1/executions?until={yesterday}"),
        Some(&admin),
    )
    .await;
    assert_eq!(ids(earlier), Vec::<i64>::new());
    // Empty text filters match everything; an empty status is not a status (the document
    // lists the statuses as an enum).
    assert_eq!(ids(list(admin.clone(), "?skill=&user=").await).len(), 4);
    assert_problem(&list(admin.clone(), "?status=").await, 422);

    let problem = assert_problem(&list(admin.clone(), "?status=done").await, 422);
    assert!(
        problem["detail"].as_str().unwrap().contains("status"),
        "{problem}"
    );
    // Statuses are listed as the document's enum names them.
    let listed = assert_ok(&list(admin.clone(), "").await, 200);
    for row in listed.as_array().unwrap() {
        assert!(
            ["queued", "awaiting_confirmation"].contains(&row["status"].as_str().unwrap()),
            "{row}"
        );
    }
}

/// A high-risk skill that needs a confirmation waits (not queued), runs only after
/// `/confirm` (who confirmed is kept, a second confirmation is a 409 problem), then succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_requiring_skill_runs_only_after_confirm() {
    let server = start_server(seeded_ctx().await).await;
    start_workers(&server.ctx);
    let (_, member) = session_token(&server, ACME, "acme-user").await;
    let (_, admin) = session_token(&server, ACME, "acme-admin").await;
    let request = json!({ "skill": "purge-old-rows", "inputs": { "date_column": "day", "cutoff": "2026-02-01" } })
        .to_string();
    let create = || {
        let server = &server;
        let (member, request) = (member.clone(), request.clone());
        async move {
            post_multipart(
                server,
                ACME,
                "/api/v1/executions",
                &member,
                &[("request", &request)],
                &[("data", "rows.csv", CSV.as_bytes())],
            )
            .await
        }
    };
    let reply = create().await;
    let id = created_execution(&reply);
    let view = reply.json();
    assert_eq!(view["summary"]["status"], "awaiting_confirmation", "{view}");
    assert_eq!(view["can_confirm"], true);
    assert_eq!(view["confirmed_by"], Value::Null);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // With workers running, it still waits: it was never queued.
    let logs = assert_ok(
        &get(
            &server,
            ACME,
            &format!("/api/v1/executions/{id}/logs"),
            Some(&member),
        )
        .await,
        200,
    );
    assert_eq!(logs["status"], "awaiting_confirmation");
    assert_eq!(logs["finished"], false);
    assert_eq!(logs["lines"], json!([]));
    assert_eq!(
        count(&server.ctx, "SELECT count(*) FROM public.execution_queue").await,
        0
    );

    // The requester confirms.
    let confirmed = assert_ok(
        &post_empty(
            &server,
            ACME,
            &format!("/api/v1/executions/{id}/confirm"),
            &member,
        )
        .await,
        200,
    );
    assert!(
        ["queued", "running", "succeeded"]
            .contains(&confirmed["summary"]["status"].as_str().unwrap()),
        "{confirmed}"
    );
    assert_eq!(confirmed["confirmed_by"], "acme-user");
    assert_eq!(confirmed["can_confirm"], false);
    let again = post_empty(
        &server,
        ACME,
        &format!("/api/v1/executions/{id}/confirm"),
        &member,
    )
    .await;
    assert_problem(&again, 409);

    let (view, _) = follow(&server, ACME, &member, id).await;
    assert_eq!(view["summary"]["status"], "succeeded", "{view}");
    let artifacts: BTreeSet<&str> = view["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(artifacts, BTreeSet::from(["kept.csv", "removed.csv"]));
    let removed = get(
        &server,
        ACME,
        &format!("/api/v1/executions/{id}/artifact?path=removed.csv"),
        Some(&member),
    )
    .await;
    assert_eq!(removed.status, 200);
    assert!(removed.text().contains("2026-01-05"), "{}", removed.text());
    assert!(!removed.text().contains("2026-03-15"), "{}", removed.text());
    assert_eq!(
        audit_count(
            &server.ctx,
            "tenant_1003",
            &format!("action = 'execution.confirm' AND actor = 'acme-user' AND target = 'execution {id}'")
        )
        .await,
        1
    );

    // An admin may confirm a member's execution; a finished one cannot be confirmed.
    let second = created_execution(&create().await);
    let confirmed = assert_ok(
        &post_empty(
            &server,
            ACME,
            &format!("/api/v1/executions/{second}/confirm"),
            &admin,
        )
        .await,
        200,
    );
    assert_eq!(confirmed["confirmed_by"], "acme-admin");
    assert_problem(
        &post_empty(
            &server,
            ACME,
            &format!("/api/v1/executions/{id}/confirm"),
            &admin,
        )
        .await,
        409,
    );
    let (view, _) = follow(&server, ACME, &member, second).await;
    assert_eq!(view["summary"]["status"], "succeeded", "{view}");
}

/// Cancelling: the requester (or an admin) cancels a queued or waiting execution, which then
/// never runs; a finished one is a 409 problem; another member gets 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_an_execution_that_has_not_finished() {
    let server = start_server(seeded_ctx().await).await;
    let (_, member) = session_token(&server, ACME, "acme-user").await;
    let (_, admin) = session_token(&server, ACME, "acme-admin").await;
    let acme = tenant_of(&server.ctx, ACME).await;
    domain::accounts::create_user(
        &server.ctx,
        &acme,
        &domain::Actor::system(),
        "acme-other",
        PASSWORD.into(),
        model::TenantRole::Member,
    )
    .await
    .unwrap();
    let (_, other) = session_token(&server, ACME, "acme-other").await;

    let run = |skill: &'static str| {
        let server = &server;
        let member = member.clone();
        async move {
            let request = match skill {
                "purge-old-rows" => {
                    json!({ "skill": skill, "inputs": { "date_column": "day", "cutoff": "2026-02-01" } })
                }
                _ => json!({ "skill": skill }),
            };
            created_execution(
                &post_multipart(
                    server,
                    ACME,
                    "/api/v1/executions",
                    &member,
                    &[("request", &request.to_string())],
                    &[("data", "a.csv", CSV.as_bytes())],
                )
                .await,
            )
        }
    };
    let queued = run("csv-summary").await;
    let waiting = run("purge-old-rows").await;
    let by_admin = run("csv-summary").await;
    assert_eq!(
        count(&server.ctx, "SELECT count(*) FROM public.execution_queue").await,
        2
    );

    // Another member: not found, nothing changes.
    for id in [queued, waiting] {
        assert_problem(
            &post_empty(
                &server,
                ACME,
                &format!("/api/v1/executions/{id}/cancel"),
                &other,
            )
            .await,
            404,
        );
    }
    for id in [queued, waiting] {
        let view = assert_ok(
            &post_empty(
                &server,
                ACME,
                &format!("/api/v1/executions/{id}/cancel"),
                &member,
            )
            .await,
            200,
        );
        assert_eq!(view["summary"]["status"], "cancelled", "{view}");
        assert_eq!(view["can_cancel"], false);
        assert_eq!(view["can_confirm"], false);
        assert_eq!(view["reason"], "cancelled by acme-user");
        assert_problem(
            &post_empty(
                &server,
                ACME,
                &format!("/api/v1/executions/{id}/cancel"),
                &member,
            )
            .await,
            409,
        );
    }
    let view = assert_ok(
        &post_empty(
            &server,
            ACME,
            &format!("/api/v1/executions/{by_admin}/cancel"),
            &admin,
        )
        .await,
        200,
    );
    assert_eq!(view["reason"], "cancelled by acme-admin");
    // Cancelled ones leave the queue and never run, even with workers started afterwards.
    assert_eq!(
        count(&server.ctx, "SELECT count(*) FROM public.execution_queue").await,
        0
    );
    // A cancelled waiting execution cannot be confirmed.
    assert_problem(
        &post_empty(
            &server,
            ACME,
            &format!("/api/v1/executions/{waiting}/confirm"),
            &member,
        )
        .await,
        409,
    );
    assert_eq!(
        audit_count(&server.ctx, "tenant_1003", "action = 'execution.cancel'").await,
        3
    );
    assert_eq!(
        count(
            &server.ctx,
            "SELECT count(*) FROM tenant_1003.executions WHERE started_at IS NOT NULL"
        )
        .await,
        0
    );
    // Unknown ids: 404 problems.
    assert_problem(
        &post_empty(&server, ACME, "/api/v1/executions/999999/cancel", &admin).await,
        404,
    );
}

// ---------------------------------------------------------------------------------------------
// Submissions.

/// An admin submits a skill folder through the API (multipart, the form's fields): 201 with the
/// timeline and its `Location`; a member is refused 403 and nothing is stored; another tenant's
/// admin gets 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_by_admins_only_with_the_timeline() {
    let server = start_server(seeded_ctx().await).await;
    let (_, admin) = session_token(&server, ACME, "acme-admin").await;
    let (_, member) = session_token(&server, ACME, "acme-user").await;
    let (_, globex) = session_token(&server, GLOBEX, "globex-admin").await;
    let fields = [
        (
            "scenario",
            "Operations greet the on-call engineer from the API.",
        ),
        ("risk", "medium"),
        ("manual_allowed", "true"),
        ("ai_callable", "true"),
    ];
    let archive = skill_zip("api-hello");

    let refused = post_multipart(
        &server,
        ACME,
        "/api/v1/submissions",
        &member,
        &fields,
        &[("archive", "api-hello.zip", &archive)],
    )
    .await;
    assert_problem(&refused, 403);
    assert_eq!(
        count(&server.ctx, "SELECT count(*) FROM public.skill_submissions").await,
        0
    );

    let reply = post_multipart(
        &server,
        ACME,
        "/api/v1/submissions",
        &admin,
        &fields,
        &[("archive", "api-hello.zip", &archive)],
    )
    .await;
    let detail = assert_ok(&reply, 201);
    let id = detail["summary"]["id"].as_i64().unwrap();
    assert_eq!(
        reply.location.as_deref(),
        Some(format!("/api/v1/submissions/{id}").as_str())
    );
    assert_eq!(detail["summary"]["slug"], "api-hello");
    assert_eq!(detail["summary"]["status"], "submitted");
    assert_eq!(detail["summary"]["tenant_name"], "Acme");
    assert_eq!(detail["summary"]["submitted_by"], "acme-admin");
    assert_eq!(detail["archive_name"], "api-hello.zip");
    assert_eq!(
        detail["proposed"],
        json!({ "risk": "medium", "ai_callable": true, "manual_allowed": true, "requires_confirmation": false })
    );
    let timeline: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(timeline, ["submitted"], "{detail}");
    let files: BTreeSet<&str> = detail["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        BTreeSet::from(["README.md", "main.py", "skill.toml"])
    );

    let fetched = assert_ok(
        &get(
            &server,
            ACME,
            &format!("/api/v1/submissions/{id}"),
            Some(&admin),
        )
        .await,
        200,
    );
    assert_eq!(fetched, detail);
    assert_problem(
        &get(
            &server,
            ACME,
            &format!("/api/v1/submissions/{id}"),
            Some(&member),
        )
        .await,
        403,
    );
    assert_problem(
        &get(
            &server,
            GLOBEX,
            &format!("/api/v1/submissions/{id}"),
            Some(&globex),
        )
        .await,
        404,
    );
    assert_problem(
        &get(&server, ACME, "/api/v1/submissions/999999", Some(&admin)).await,
        404,
    );

    // A bad form or archive is a 422 problem naming what is wrong.
    let bad_risk = post_multipart(
        &server,
        ACME,
        "/api/v1/submissions",
        &admin,
        &[("scenario", "x y z"), ("risk", "extreme")],
        &[("archive", "api-hello.zip", &archive)],
    )
    .await;
    let problem = assert_problem(&bad_risk, 422);
    assert!(
        problem["detail"].as_str().unwrap().contains("risk"),
        "{problem}"
    );
    let no_readme = zip_of(&[
        ("x/skill.toml", "name = \"No readme\"\n"),
        ("x/main.py", "print(1)\n"),
    ]);
    let bad_archive = post_multipart(
        &server,
        ACME,
        "/api/v1/submissions",
        &admin,
        &fields,
        &[("archive", "x.zip", &no_readme)],
    )
    .await;
    let problem = assert_problem(&bad_archive, 422);
    assert!(
        problem["detail"].as_str().unwrap().contains("README.md"),
        "{problem}"
    );
    // Nothing of it in Globex.
    let globex_id: i64 = count(
        &server.ctx,
        "SELECT id FROM public.tenants WHERE name = 'Globex'",
    )
    .await;
    assert_eq!(
        count(
            &server.ctx,
            &format!("SELECT count(*) FROM public.skill_submissions WHERE tenant_id = {globex_id}")
        )
        .await,
        0
    );
}

// ---------------------------------------------------------------------------------------------
// Errors and the OpenAPI document.

/// Every error the handlers answer is a problem: 401, 403, 404, 409 and 422 from the domain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_errors_are_problem_json() {
    let server = start_server(seeded_ctx().await).await;
    let (_, member) = session_token(&server, ACME, "acme-user").await;
    let problem = assert_problem(&get(&server, ACME, "/api/v1/executions", None).await, 401);
    assert_eq!(
        problem["type"],
        "https://execgov.dev/problems/unauthenticated"
    );
    assert_eq!(problem["title"], "Unauthenticated");
    let problem = assert_problem(
        &get(&server, ACME, "/api/v1/skills/nothing", Some(&member)).await,
        404,
    );
    assert_eq!(problem["type"], "https://execgov.dev/problems/notfound");
    let problem = assert_problem(
        &get(&server, ACME, "/api/v1/submissions/1", Some(&member)).await,
        403,
    );
    assert_eq!(problem["title"], "Forbidden");
    let problem = assert_problem(
        &post_json(
            &server,
            ACME,
            "/api/v1/executions",
            &member,
            json!({ "skill": "csv-summary" }),
        )
        .await,
        422,
    );
    assert_eq!(problem["title"], "Invalid");
    let id = created_execution(
        &post_multipart(
            &server,
            ACME,
            "/api/v1/executions",
            &member,
            &[("request", &json!({ "skill": "csv-summary" }).to_string())],
            &[("data", "a.csv", CSV.as_bytes())],
        )
        .await,
    );
    let problem = assert_problem(
        &post_empty(
            &server,
            ACME,
            &format!("/api/v1/executions/{id}/confirm"),
            &member,
        )
        .await,
        409,
    );
    assert_eq!(problem["title"], "Conflict");
}

/// Requests the handlers never see (a path id that is not a number, a query that does not parse,
/// a body that is not the JSON documented) must be answered as problems too, with a status the
/// document lists: today axum's own `text/plain` rejections come back (400, 415, 422).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_answered_as_problems_too() {
    let server = start_server(seeded_ctx().await).await;
    let (_, token) = session_token(&server, ACME, "acme-admin").await;
    let raw = |method: Method, path: &'static str, body: ApiBody| {
        let server = &server;
        let token = token.clone();
        async move {
            (
                path,
                server.api(method, ACME, path, Some(&token), body).await,
            )
        }
    };
    let replies = [
        raw(Method::GET, "/api/v1/executions/abc", ApiBody::Empty).await,
        raw(
            Method::GET,
            "/api/v1/executions/9223372036854775808",
            ApiBody::Empty,
        )
        .await,
        raw(
            Method::GET,
            "/api/v1/executions?since=yesterday",
            ApiBody::Empty,
        )
        .await,
        raw(
            Method::GET,
            "/api/v1/executions/1/logs?after=-1",
            ApiBody::Empty,
        )
        .await,
        raw(Method::GET, "/api/v1/executions/1/artifact", ApiBody::Empty).await,
        raw(Method::POST, "/api/v1/tokens", ApiBody::Empty).await,
        raw(
            Method::POST,
            "/api/v1/tokens",
            ApiBody::Json(json!({ "name": 5 })),
        )
        .await,
        raw(
            Method::POST,
            "/api/v1/tokens",
            ApiBody::Raw("application/json".into(), b"{".to_vec()),
        )
        .await,
        raw(Method::DELETE, "/api/v1/tokens/x", ApiBody::Empty).await,
        raw(Method::POST, "/api/v1/submissions", ApiBody::Empty).await,
    ];
    let mut wrong = Vec::new();
    for (path, reply) in &replies {
        if reply.content_type != "application/problem+json"
            || ![400, 404, 415, 422].contains(&reply.status)
        {
            wrong.push(format!(
                "{path}: {} {} {:?}",
                reply.status,
                reply.content_type,
                reply.text()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "not answered as problem+json:\n{}",
        wrong.join("\n")
    );
}

/// Authentication schemes are case-insensitive (RFC 9110, section 11.1): `bearer egv_…` is the
/// same credential as `Bearer egv_…`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let server = start_server(seeded_ctx().await).await;
    let (_, token) = session_token(&server, ACME, "acme-user").await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let reply = server
            .client
            .get(format!("http://{}/api/v1/me", server.addr))
            .header(reqwest::header::HOST, ACME)
            .header(reqwest::header::AUTHORIZATION, format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{scheme}");
    }
}

/// A NUL byte in a text the API passes to PostgreSQL (a slug, a filter, an artifact path, a
/// token name) must be refused or not found, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_in_text_are_refused_not_server_errors() {
    let server = start_server(seeded_ctx().await).await;
    let (_, token) = session_token(&server, ACME, "acme-admin").await;
    let mut wrong = Vec::new();
    for path in [
        "/api/v1/skills/a%00b",
        "/api/v1/executions?skill=%00",
        "/api/v1/executions?user=%00",
        "/api/v1/executions/1/artifact?path=%00",
    ] {
        let reply = get(&server, ACME, path, Some(&token)).await;
        if reply.status >= 500 {
            wrong.push(format!("GET {path}: {}", reply.status));
        }
    }
    for (path, body) in [
        ("/api/v1/tokens", json!({ "name": "a\u{0}b" })),
        ("/api/v1/executions", json!({ "skill": "a\u{0}b" })),
    ] {
        let reply = post_json(&server, ACME, path, &token, body.clone()).await;
        if reply.status >= 500 {
            wrong.push(format!("POST {path} {body}: {}", reply.status));
        }
    }
    assert!(wrong.is_empty(), "server errors:\n{}", wrong.join("\n"));
}

async fn openapi(server: &TestServer) -> Value {
    let reply = get(server, ACME, "/api/v1/openapi.json", None).await;
    assert_eq!(reply.status, 200, "served without a token");
    assert_eq!(reply.content_type, "application/json");
    serde_json::from_slice(&reply.body).expect("the document is valid JSON")
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The document is OpenAPI 3.1, declares the bearer scheme, and every operation lists a 401 and
/// answers its errors as `application/problem+json` with the `Problem` schema (type, title,
/// status, detail).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_3_1_and_documents_problem_errors() {
    let server = start_server(seeded_ctx().await).await;
    let doc = openapi(&server).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({ "type": "http", "scheme": "bearer" })
    );
    assert_eq!(doc["security"], json!([{ "bearer": [] }]));
    let problem = &doc["components"]["schemas"]["Problem"];
    let required: BTreeSet<&str> = problem["required"]
        .as_array()
        .expect("Problem has required fields")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        required,
        BTreeSet::from(["type", "title", "status", "detail"])
    );

    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            operations += 1;
            // A path parameter is one of the path's own `{…}`, and each of those is documented
            // as one: a query struct documented "in path" tells clients to build wrong URLs.
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let in_path: BTreeSet<String> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            let templated: BTreeSet<String> = path
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
                .collect();
            assert_eq!(in_path, templated, "{method} {path}: path parameters");
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path}"));
            assert!(
                responses.contains_key("401"),
                "{method} {path} lists no 401"
            );
            for (status, response) in responses {
                let code: u16 = status
                    .parse()
                    .unwrap_or_else(|_| panic!("{method} {path}: {status}"));
                if code >= 400 {
                    let content = response["content"]
                        .as_object()
                        .unwrap_or_else(|| panic!("{method} {path} {status}: no content"));
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        ["application/problem+json"],
                        "{method} {path} {status}"
                    );
                    assert_eq!(
                        content["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{method} {path} {status}"
                    );
                } else {
                    assert!((200..300).contains(&code), "{method} {path}: {status}");
                }
            }
        }
    }
    let served: usize = SERVED.iter().map(|(_, m)| m.len()).sum();
    assert_eq!(
        operations, served,
        "one documented operation per served route and method"
    );
}

/// Where the document says each operation is: its `servers` and `paths`, resolved against the
/// URL the document was fetched from. Paths without a server are relative to the host's root.
fn documented_urls(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let base = doc["servers"][0]["url"]
        .as_str()
        .unwrap_or("")
        .trim_end_matches('/')
        .to_string();
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_string())
                .collect();
            (format!("{base}{path}"), methods)
        })
        .collect()
}

/// Every route served under `/api/v1` is in the document at the URL it is served at, with exactly
/// its methods; the document has no route that is not served; and each served route answers
/// (401 problem without a token) while its other methods are 405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_served_route_at_its_url() {
    let server = start_server(seeded_ctx().await).await;
    let doc = openapi(&server).await;

    // The routes answer as served: the documented methods reach a handler (a 401 problem without
    // a token), the others are 405.
    for (path, methods) in SERVED {
        let concrete = path
            .replace("{slug}", "csv-summary")
            .replace("{id}", "1")
            .replace("{name}", "CRM_TOKEN");
        for method in METHODS {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let reply = server
                .api(m, ACME, &format!("/api/v1{concrete}"), None, ApiBody::Empty)
                .await;
            if methods.contains(&method) {
                assert_problem(&reply, 401);
            } else {
                assert_eq!(
                    reply.status,
                    405,
                    "{method} /api/v1{concrete}: {}",
                    reply.text()
                );
            }
        }
    }

    // Ignoring where they are, the document has the same routes and methods.
    let relative: BTreeMap<String, BTreeSet<String>> = documented_urls(&doc)
        .into_iter()
        .map(|(url, m)| (url.trim_start_matches("/api/v1").to_string(), m))
        .collect();
    let served: BTreeMap<String, BTreeSet<String>> = SERVED
        .iter()
        .map(|(p, m)| (p.to_string(), m.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(relative, served, "the document's routes and methods");

    // And where they are: a client resolving the document finds each at /api/v1/…
    let urls = documented_urls(&doc);
    let missing: Vec<String> = served
        .keys()
        .map(|p| format!("/api/v1{p}"))
        .filter(|url| !urls.contains_key(url))
        .collect();
    assert!(
        missing.is_empty(),
        "served but documented elsewhere (paths {:?}, servers {}): {missing:?}",
        doc["paths"].as_object().unwrap().keys().collect::<Vec<_>>(),
        doc["servers"]
    );
}

// ---------------------------------------------------------------------------------------------
// The real binary.

/// The real binary serves the same API: the same document, a token made on the tokens page
/// works for `/me`, and a run through the API finishes on the binary's own workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_binary_serves_the_api_and_runs_what_it_is_asked() {
    let db = fresh_db().await;
    let child = ChildServer::start(&db, CHILD_FIRST_UID).await;
    let server = TestServer::at(child.addr, db.ctx.clone());
    let in_process = start_server(db.ctx.clone()).await;
    assert_eq!(openapi(&server).await, openapi(&in_process).await);

    let (_, token) = session_token(&server, ACME, "acme-user").await;
    let me = assert_ok(&get(&server, ACME, "/api/v1/me", Some(&token)).await, 200);
    assert_eq!(me["username"], "acme-user");
    assert_problem(&get(&server, GLOBEX, "/api/v1/me", Some(&token)).await, 401);
    let request = json!({ "skill": "csv-summary" }).to_string();
    let id = created_execution(
        &post_multipart(
            &server,
            ACME,
            "/api/v1/executions",
            &token,
            &[("request", &request)],
            &[("data", "sales.csv", CSV.as_bytes())],
        )
        .await,
    );
    let (view, lines) = follow(&server, ACME, &token, id).await;
    assert_eq!(
        view["summary"]["status"],
        "succeeded",
        "{view}\n{}",
        child.output()
    );
    assert!(!lines.is_empty(), "the script printed its progress");
    let download = get(
        &server,
        ACME,
        &format!("/api/v1/executions/{id}/artifact?path=report.md"),
        Some(&token),
    )
    .await;
    assert_eq!(download.status, 200);
}
