//! Bad input and faults seen from outside: hostile text in every text input of the REST API and
//! of the forms is refused or taken, never a server error; a file input given as text is
//! refused; a long log pages through to its last line; a private PostgreSQL that dies is
//! started again while every request is answered 503 with `Retry-After` at once.
//!
//! Sandbox uids 66000–66199: the real binary's pool 66000–66063, in-process workers 66064–66071.
mod common;

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use domain::executions::{self, QueuePolicy};
use engine::{Executors, SandboxConfig};
use reqwest::Method;
use serde_json::{json, Value};

const ACME: &str = "acme.localhost";
const GLOBEX: &str = "globex.localhost";
const CONSOLE: &str = "admin.localhost";
const FREE: &str = "free.localhost";

const NUL_REFUSED: &str = "Text with a NUL character (\\0) is not accepted.";

/// Text a hostile or careless client sends, each with what it is.
fn hostile() -> Vec<(&'static str, String)> {
    vec![
        ("a NUL inside", "a\u{0}b".into()),
        ("only a NUL", "\u{0}".into()),
        (
            "control characters",
            "\u{1}\u{7}\u{8}\u{1b}[31mred\u{7f}".into(),
        ),
        ("an RTL override", "\u{202e}txt.exe\u{202c}".into()),
        ("a BOM and zero-width", "\u{feff}\u{200b}x\u{200d}".into()),
        ("very long", "x".repeat(100_000)),
        ("long multibyte", "界".repeat(30_000)),
        ("line breaks", "a\r\nb\nc\r".into()),
        ("SQL", "'; DROP TABLE users; --".into()),
        ("a path", "../../../etc/passwd".into()),
        ("percent signs", "%00%ff%".into()),
        ("blank", "   ".into()),
        ("empty", String::new()),
    ]
}

/// A URL-safe rendition of `text` (percent-encoded), shortened so that it fits in a URL.
fn in_url(text: &str) -> String {
    text.chars()
        .take(4000)
        .collect::<String>()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn executions_in(server: &TestServer, schema: &str) -> i64 {
    count(
        &server.ctx,
        &format!("SELECT count(*) FROM {schema}.executions"),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Run inputs.

/// A NUL in a string input and a path given as text for a file input are answered 422 naming
/// the field, through the API (JSON and multipart) and the run form, and nothing is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_text_and_file_paths_in_run_inputs_are_refused_everywhere() {
    let server = start_server(seeded_ctx().await).await;
    let globex = tenant_of(&server.ctx, GLOBEX).await;
    let token = session_token(&server, GLOBEX, "globex-user").await.1;
    let session = server.login(GLOBEX, "globex-user", PASSWORD).await;

    let api = |body: Value| {
        let server = &server;
        let token = token.clone();
        async move {
            server
                .api(
                    Method::POST,
                    GLOBEX,
                    "/api/v1/executions",
                    Some(&token),
                    ApiBody::Json(body),
                )
                .await
        }
    };
    let refused = |reply: &ApiReply, field: &str, says: &str| {
        assert_eq!(reply.status, 422, "{}", reply.text());
        assert_eq!(reply.content_type, "application/problem+json");
        let detail = reply.json()["detail"].as_str().unwrap().to_string();
        assert!(
            detail.contains(&format!("{field}: {says}")),
            "names {field}: {detail}"
        );
    };

    let nul = api(json!({ "skill": "word-frequency", "inputs": { "text": "a\u{0}b" } })).await;
    refused(&nul, "text", NUL_REFUSED);
    let path = api(json!({
        "skill": "word-frequency",
        "inputs": { "text": "hello", "document": "/etc/passwd" }
    }))
    .await;
    refused(
        &path,
        "document",
        "This input takes an uploaded file, not text",
    );
    let (content_type, body) = multipart_body(
        &[(
            "request",
            &json!({ "skill": "word-frequency", "inputs": { "text": "x\u{0}" } }).to_string(),
        )],
        &[("document", "a.txt", b"words words")],
    );
    let multipart = server
        .api(
            Method::POST,
            GLOBEX,
            "/api/v1/executions",
            Some(&token),
            ApiBody::Raw(content_type, body),
        )
        .await;
    refused(&multipart, "text", NUL_REFUSED);

    // The run form: back to the skill's page with the message, never a server error.
    for (fields, says) in [
        (vec![("text", "a\u{0}b")], "NUL"),
        (
            vec![("text", "hello"), ("document", "/etc/passwd")],
            "uploaded%20file",
        ),
    ] {
        let reply = server
            .post_multipart(
                GLOBEX,
                "/skills/word-frequency/run",
                &fields,
                &[],
                Some(&session),
            )
            .await;
        assert_eq!(reply.status, 303, "{}", reply.body);
        let back = reply.location.expect("back to the form");
        assert!(
            back.starts_with("/skills/word-frequency?error=") && back.contains(says),
            "{back}"
        );
    }
    assert_eq!(
        executions_in(&server, globex.schema.as_str()).await,
        0,
        "nothing created"
    );
}

// ---------------------------------------------------------------------------------------------
// The fuzz: every text input of the API and the forms.

/// The JSON schema `schema` resolved through `$ref`s into the document's components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn is_string(schema: &Value) -> bool {
    schema["type"] == "string"
        || schema["type"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("string")))
}

/// A plausible value of `schema` for a required property that is not the one under test.
fn plausible(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    let kind = schema["type"]
        .as_array()
        .and_then(|t| t.iter().find(|k| *k != "null"))
        .unwrap_or(&schema["type"]);
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match kind.as_str() {
        Some("integer" | "number") => json!(1),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ => json!("word-frequency"),
    }
}

/// Every string parameter (path and query) and every string property of a JSON request body
/// in the OpenAPI document gets each hostile text, one at a time, as an admin with a token: no
/// answer may be a server error. Then every text input of every skill, and every text field of
/// the server functions and the plain forms (run, ask, plan, submission).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_text_input_of_the_api_and_the_forms_takes_hostile_text_without_a_server_error() {
    let server = start_server(seeded_ctx().await).await;
    let acme_token = session_token(&server, ACME, "acme-admin").await.1;
    let globex_token = session_token(&server, GLOBEX, "globex-admin").await.1;
    let mut wrong = Vec::new();
    let mut tried = 0;
    let mut check = |what: String, status: u16, body: &str| {
        tried += 1;
        if status >= 500 {
            wrong.push(format!("{what}: {status} {}", &body[..body.len().min(200)]));
        }
    };

    // The REST API, from its own document.
    let doc: Value = server
        .api(
            Method::GET,
            ACME,
            "/api/v1/openapi.json",
            None,
            ApiBody::Empty,
        )
        .await
        .json();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            // Every path parameter filled plausibly: `1` for ids, a real slug for strings.
            let fill = |path: &str, except: Option<(&str, &str)>| {
                let mut path = path.to_string();
                for p in params.iter().filter(|p| p["in"] == "path") {
                    let name = p["name"].as_str().unwrap();
                    let value = match except {
                        Some((n, v)) if n == name => v.to_string(),
                        _ if is_string(resolve(&doc, &p["schema"])) => "csv-summary".into(),
                        _ => "1".into(),
                    };
                    path = path.replace(&format!("{{{name}}}"), &value);
                }
                format!("/api/v1{path}")
            };
            let json_body = &op["requestBody"]["content"]["application/json"]["schema"];
            let body_schema = resolve(&doc, json_body);
            let base_body = || {
                let mut body = serde_json::Map::new();
                for name in body_schema["required"].as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap();
                    body.insert(
                        name.into(),
                        plausible(&doc, &body_schema["properties"][name]),
                    );
                }
                body
            };
            let body_of = |body: serde_json::Map<String, Value>| {
                if json_body.is_null() {
                    ApiBody::Empty
                } else {
                    ApiBody::Json(Value::Object(body))
                }
            };
            for (label, text) in hostile() {
                for p in &params {
                    if !is_string(resolve(&doc, &p["schema"])) {
                        continue;
                    }
                    let name = p["name"].as_str().unwrap();
                    let path = match p["in"].as_str() {
                        Some("path") => fill(template, Some((name, &in_url(&text)))),
                        Some("query") => {
                            format!("{}?{name}={}", fill(template, None), in_url(&text))
                        }
                        _ => continue,
                    };
                    let reply = server
                        .api(
                            method.clone(),
                            ACME,
                            &path,
                            Some(&acme_token),
                            body_of(base_body()),
                        )
                        .await;
                    check(
                        format!("{method} {path:.80} ({label})"),
                        reply.status,
                        &reply.text(),
                    );
                }
                for (name, schema) in body_schema["properties"].as_object().into_iter().flatten() {
                    if !is_string(resolve(&doc, schema)) {
                        continue;
                    }
                    let mut body = base_body();
                    body.insert(name.clone(), json!(text));
                    let path = fill(template, None);
                    let reply = server
                        .api(
                            method.clone(),
                            ACME,
                            &path,
                            Some(&acme_token),
                            body_of(body),
                        )
                        .await;
                    check(
                        format!("{method} {path} {name} ({label})"),
                        reply.status,
                        &reply.text(),
                    );
                }
            }
        }
    }

    // Every input of every skill, through the API (multipart for the file inputs' neighbours
    // is the same check: the text reaches the same validation).
    for (host, token) in [(ACME, &acme_token), (GLOBEX, &globex_token)] {
        let skills = server
            .api(
                Method::GET,
                host,
                "/api/v1/skills",
                Some(token),
                ApiBody::Empty,
            )
            .await
            .json();
        for skill in skills.as_array().unwrap() {
            let slug = skill["slug"].as_str().unwrap();
            let detail = server
                .api(
                    Method::GET,
                    host,
                    &format!("/api/v1/skills/{slug}"),
                    Some(token),
                    ApiBody::Empty,
                )
                .await
                .json();
            let fields = detail["inputs"]["fields"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for field in fields {
                let name = field["name"].as_str().unwrap();
                for (label, text) in hostile() {
                    let reply = server
                        .api(
                            Method::POST,
                            host,
                            "/api/v1/executions",
                            Some(token),
                            ApiBody::Json(json!({ "skill": slug, "inputs": { name: text } })),
                        )
                        .await;
                    check(
                        format!("run {slug} {name} ({label})"),
                        reply.status,
                        &reply.text(),
                    );
                }
            }
        }
    }

    // The server functions' text fields, as the forms send them: (host, endpoint, signed in as,
    // plausible fields, the text fields to try).
    type Form<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
    );
    let forms: &[Form] = &[
        (
            ACME,
            "login",
            None,
            &[("username", "nobody-here"), ("password", "x")],
            &["username", "password"],
        ),
        (
            FREE,
            "sign-up",
            None,
            &[("username", "fuzzer"), ("password", "fuzz-Password-1234")],
            &["username", "password"],
        ),
        (
            CONSOLE,
            "create-tenant",
            Some("superadmin"),
            &[
                ("name", "Fuzz"),
                ("host", "fuzz.localhost"),
                ("admin_username", "fuzz-admin"),
                ("admin_password", "fuzz-Password-1234"),
            ],
            &["name", "host", "admin_username", "admin_password"],
        ),
        (
            CONSOLE,
            "whitelist-admin",
            Some("superadmin"),
            &[
                ("id", "1003"),
                ("username", "acme-admin"),
                ("target_tenant_id", "1004"),
            ],
            &["username"],
        ),
        (
            CONSOLE,
            "approve-submission",
            Some("superadmin"),
            &[("id", "1"), ("risk", "low"), ("note", "n")],
            &["risk", "note"],
        ),
        (
            CONSOLE,
            "reject-submission",
            Some("superadmin"),
            &[("id", "1"), ("reason", "no")],
            &["reason"],
        ),
        (
            ACME,
            "get-skill",
            Some("acme-user"),
            &[("slug", "csv-summary")],
            &["slug"],
        ),
        (
            ACME,
            "list-executions",
            Some("acme-admin"),
            &[
                ("filter[skill]", "csv-summary"),
                ("filter[user]", "acme-user"),
            ],
            &["filter[skill]", "filter[user]"],
        ),
        (
            ACME,
            "create-user",
            Some("acme-admin"),
            &[
                ("username", "fuzz-user"),
                ("password", "fuzz-Password-1234"),
                ("role", "member"),
            ],
            &["username", "password", "role"],
        ),
        (
            ACME,
            "change-user",
            Some("acme-admin"),
            &[("user_id", "2"), ("change", "disable")],
            &["change"],
        ),
        (
            ACME,
            "create-token",
            Some("acme-user"),
            &[("name", "t"), ("days", "30")],
            &["name"],
        ),
        (
            ACME,
            "create-agent-token",
            Some("acme-admin"),
            &[("name", "a"), ("days", "30"), ("labels", "intranet")],
            &["name", "labels"],
        ),
        (
            ACME,
            "switch-skill-version",
            Some("acme-admin"),
            &[("slug", "csv-summary"), ("version", "1")],
            &["slug"],
        ),
        (
            ACME,
            "choose-recommendation",
            Some("acme-user"),
            &[
                ("conversation", "1"),
                ("turn", "1"),
                ("slug", "csv-summary"),
            ],
            &["slug"],
        ),
    ];
    let mut sessions: BTreeMap<(&str, &str), String> = BTreeMap::new();
    for (host, endpoint, who, fields, texts) in forms {
        let session = match who {
            Some(who) => Some(match sessions.get(&(*host, *who)) {
                Some(session) => session.clone(),
                None => {
                    let session = server.login(host, who, PASSWORD).await;
                    sessions.insert((*host, *who), session.clone());
                    session
                }
            }),
            None => None,
        };
        for field in *texts {
            for (label, text) in hostile() {
                let form: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (*k, if k == field { text.as_str() } else { *v }))
                    .collect();
                let reply = server.call(host, endpoint, &form, session.as_deref()).await;
                check(
                    format!("{endpoint} {field} ({label})"),
                    reply.status,
                    &reply.body,
                );
            }
        }
    }

    // The plain forms: run, ask, the assistant's plan, a submission.
    let globex_user = server.login(GLOBEX, "globex-user", PASSWORD).await;
    let acme_admin = server.login(ACME, "acme-admin", PASSWORD).await;
    let asked = server
        .post_multipart(
            GLOBEX,
            "/assistant/ask",
            &[("request", "count the words in: hello hello world")],
            &[],
            Some(&globex_user),
        )
        .await;
    let turn = asked.location.clone().expect("to the new turn");
    let (conversation, turn) = turn
        .trim_start_matches("/assistant/")
        .split_once("#turn-")
        .expect("/assistant/{id}#turn-{turn}");
    let archive = {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text) in [
            ("fuzz/skill.toml", "name = \"Fuzz\"\nslug = \"fuzz\"\ndescription = \"d\"\noutput = \"o\"\nrisk = \"low\"\n"),
            ("fuzz/main.py", "print('hi')\n"),
            ("fuzz/README.md", "# Fuzz\n"),
        ] {
            zip.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    };
    for (label, text) in hostile() {
        let run = server
            .post_multipart(
                GLOBEX,
                "/skills/word-frequency/run",
                &[("text", &text)],
                &[],
                Some(&globex_user),
            )
            .await;
        check(format!("run form text ({label})"), run.status, &run.body);
        let ask = server
            .post_multipart(
                GLOBEX,
                "/assistant/ask",
                &[("request", &text)],
                &[],
                Some(&globex_user),
            )
            .await;
        check(format!("ask ({label})"), ask.status, &ask.body);
        let plan = server
            .client
            .post(format!(
                "http://{}/assistant/{conversation}/turns/{turn}/run",
                server.addr
            ))
            .header(reqwest::header::HOST, GLOBEX)
            .header(
                reqwest::header::COOKIE,
                format!("execgov_session={globex_user}"),
            )
            .form(&[("text", text.as_str())])
            .send()
            .await
            .unwrap();
        check(
            format!("plan run text ({label})"),
            plan.status().as_u16(),
            "",
        );
        for field in ["scenario", "risk"] {
            let mut fields = vec![("scenario", "Fuzzing"), ("risk", "low")];
            fields.retain(|(k, _)| k != &field);
            fields.push((field, &text));
            let submit = server
                .post_multipart(
                    ACME,
                    "/submissions",
                    &fields,
                    &[("archive", "fuzz.zip", &archive)],
                    Some(&acme_admin),
                )
                .await;
            check(
                format!("submission {field} ({label})"),
                submit.status,
                &submit.body,
            );
        }
    }
    assert!(
        tried > 500,
        "only {tried} requests: the document or the forms went missing"
    );
    assert!(wrong.is_empty(), "server errors:\n{}", wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Long logs.

/// A run that prints 12,345 lines: the API pages through all of them (`after=5000` and on), the
/// execution page shows each page with links to the others, and the view says how many there
/// are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_log_pages_through_to_its_last_line() {
    const LINES: usize = 12_345;
    let server = start_server(seeded_ctx().await).await;
    let executors = Executors::new(SandboxConfig {
        first_uid: 66064,
        uid_slots: 8,
        ..SandboxConfig::default()
    });
    executions::start_workers(
        server.ctx.clone(),
        Arc::new(executors),
        1,
        QueuePolicy::default(),
    );
    let acme = tenant_of(&server.ctx, ACME).await;
    register_script(
        &server.ctx,
        &acme,
        (
            "many-lines",
            "main.py",
            &format!(
                "for i in range(1, {}):\n    print(f'line {{i}}')\n",
                LINES + 1
            ),
        ),
        60,
    )
    .await;
    let token = session_token(&server, ACME, "acme-user").await.1;
    let get = |path: String| {
        let server = &server;
        let token = token.clone();
        async move {
            let reply = server
                .api(Method::GET, ACME, &path, Some(&token), ApiBody::Empty)
                .await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.text());
            reply.json()
        }
    };
    let created = server
        .api(
            Method::POST,
            ACME,
            "/api/v1/executions",
            Some(&token),
            ApiBody::Json(json!({ "skill": "many-lines" })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["summary"]["id"].as_i64().unwrap();

    // Following it as the CLI does: pages until `finished`.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut lines = Vec::new();
    let mut after = 0;
    loop {
        let page = get(format!("/api/v1/executions/{id}/logs?after={after}&wait=1")).await;
        let got = page["lines"].as_array().unwrap();
        assert!(got.len() <= 5000, "a page holds at most 5,000 lines");
        lines.extend(got.iter().map(|l| l["line"].as_str().unwrap().to_string()));
        after = page["next"].as_u64().unwrap();
        assert_eq!(after as usize, lines.len());
        if page["finished"] == true {
            assert_eq!(page["total"], LINES);
            break;
        }
        assert!(Instant::now() < deadline, "never finished: {page}");
    }
    let want: Vec<String> = (1..=LINES).map(|i| format!("line {i}")).collect();
    assert_eq!(lines.len(), LINES);
    assert!(lines == want, "every line, in order");

    // Where it stopped before: `after=5000` answered nothing.
    let page = get(format!("/api/v1/executions/{id}/logs?after=5000")).await;
    assert_eq!(page["lines"][0]["line"], "line 5001");
    assert_eq!(page["next"], 10000);
    assert_eq!(
        page["finished"], false,
        "more lines follow: {}",
        page["total"]
    );
    let view = get(format!("/api/v1/executions/{id}")).await;
    assert_eq!(view["log_lines"], LINES);
    assert_eq!(view["log_from"], 0);
    assert_eq!(view["logs"].as_array().unwrap().len(), 5000);

    // The page: the first 5,000 lines with a link to the next ones; the last page ends the log.
    let session = server.login(ACME, "acme-user", PASSWORD).await;
    let first = server
        .get(ACME, &format!("/executions/{id}"), Some(&session))
        .await;
    assert_eq!(first.status, 200);
    assert!(
        first.body.contains("Lines 1–5000 of 12345"),
        "{}",
        first.body.len()
    );
    assert!(first
        .body
        .contains(&format!("/executions/{id}?log_after=5000")));
    // Each line opens its own span: `>line N` is line N (no line number here is another's prefix).
    assert!(first.body.contains(">line 5000") && !first.body.contains(">line 5001"));
    let last = server
        .get(
            ACME,
            &format!("/executions/{id}?log_after=10000"),
            Some(&session),
        )
        .await;
    assert_eq!(last.status, 200);
    assert!(last.body.contains("Lines 10001–12345 of 12345"));
    assert!(last.body.contains(">line 12345") && last.body.contains(">line 10001"));
    assert!(!last.body.contains(">line 10000"));
    assert!(
        last.body
            .contains(&format!("/executions/{id}?log_after=5000")),
        "earlier lines"
    );
}

// ---------------------------------------------------------------------------------------------
// The private PostgreSQL dies.

/// Stops a private cluster whose server was killed (a failed test), so that it does not outlive
/// the test: SIGQUIT to the postmaster, PostgreSQL's immediate shutdown.
struct ClusterGuard(PathBuf);

impl ClusterGuard {
    fn postmaster(&self) -> Option<i32> {
        std::fs::read_to_string(self.0.join("postgres/data/postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.postmaster() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGQUIT,
            );
        }
    }
}

/// What one request got while the database was away.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    took: Duration,
}

async fn ask(client: &reqwest::Client, url: String, host: &str, auth: (&str, String)) -> Answer {
    let started = Instant::now();
    let resp = client
        .get(url)
        .header(reqwest::header::HOST, host)
        .header(auth.0, auth.1)
        .send()
        .await
        .unwrap();
    Answer {
        status: resp.status().as_u16(),
        retry_after: resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        took: started.elapsed(),
    }
}

/// The real binary with its own private cluster: the postmaster is killed (SIGKILL). While the
/// database is away, `/healthz`, a signed-in page and the API answer 503 with `Retry-After` at
/// once (never 500, never after the pool's timeout); the server starts PostgreSQL again by itself
/// (and says so in its log), everything answers 200 again, and the session and the token made
/// before still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_private_postgres_is_restarted_and_requests_fail_fast_meanwhile() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-data")
        .join(format!("pgdie_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let guard = ClusterGuard(dir.clone());
    let mut server = ChildServer::start_private(&dir, 66000).await;
    let base = format!("http://{}", server.addr);
    let client = http_client();
    // Only its HTTP helpers: the database behind this server is its own.
    let tester = TestServer::at(server.addr, fresh_ctx().await);
    let session = tester.login(ACME, "acme-user", PASSWORD).await;
    let token = session_token(&tester, ACME, "acme-user").await.1;
    let cookie = || ("cookie", format!("execgov_session={session}"));
    let bearer = || ("authorization", format!("Bearer {token}"));
    let requests = || {
        [
            (
                format!("{base}/healthz"),
                "localhost",
                ("x-none", String::new()),
            ),
            (format!("{base}/executions"), ACME, cookie()),
            (format!("{base}/api/v1/me"), ACME, bearer()),
        ]
    };
    for (url, host, auth) in requests() {
        let a = ask(&client, url.clone(), host, auth).await;
        assert_eq!(a.status, 200, "{url} before");
    }

    let postmaster = guard.postmaster().expect("the private cluster runs");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(postmaster),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();

    // Until it is back: each answer 200 (not yet noticed, or back) or 503 with Retry-After, at
    // once; at least one 503 (the death was noticed), then 200s again.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut unavailable, mut recovered) = (0, false);
    while !recovered {
        assert!(
            Instant::now() < deadline,
            "{unavailable} answers 503, and never back to 200:\n{}",
            server.output()
        );
        server.assert_running();
        let mut all_ok = true;
        for (url, host, auth) in requests() {
            let a = ask(&client, url.clone(), host, auth).await;
            assert!(
                a.took < Duration::from_secs(3),
                "{url} took {:?} ({})",
                a.took,
                a.status
            );
            match a.status {
                200 => {}
                503 => {
                    assert_eq!(
                        a.retry_after.as_deref(),
                        Some("5"),
                        "{url}: 503 says when to retry"
                    );
                    unavailable += 1;
                    all_ok = false;
                }
                other => panic!("{url} answered {other} while the database was away"),
            }
        }
        recovered = unavailable > 0 && all_ok;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let output = server.output();
    assert!(
        output.contains("the private PostgreSQL has stopped; restarting it")
            && output.contains("the private PostgreSQL is running again"),
        "the restart is logged:\n{output}"
    );
    assert_ne!(guard.postmaster(), Some(postmaster), "a new postmaster");
    // Signed-in data is still there: the session's page names the user, the token works.
    let page = tester.get(ACME, "/executions", Some(&session)).await;
    assert_eq!(page.status, 200);
    assert_eq!(who(&page.body).as_deref(), Some("acme-user"));

    // A clean stop stops the cluster too (and the supervisor does not start it again).
    assert!(server.stop().success(), "{}", server.output());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        guard.postmaster(),
        None,
        "the cluster stopped with the server"
    );
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
