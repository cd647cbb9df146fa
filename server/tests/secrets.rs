//! Tenant secrets against the real binary and PostgreSQL: a secret reaches its run as an
//! environment variable, is masked wherever the run prints it, and appears nowhere else (audit,
//! API answers, pages, the database, the data directory's files, the server's own log); other
//! tenants can neither read, list, replace nor use it; the master key is checked at start and
//! rotated in one transaction.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const ACME: &str = "acme.localhost";
const GLOBEX: &str = "globex.localhost";
/// Acme's CRM token: what must never be seen again once saved.
const TOKEN: &str = "crm-tok-9Zq4xV7pL2mK8wR3";
/// Sandbox uids of the servers these tests start (64 each, apart from every other test's).
const FIRST_UID: u32 = 75100;
const ROTATION_UID: u32 = 75200;

/// Prints its secret three ways (a line of its own; a line written in two parts, the first
/// longer than the runner's 8 KiB split, which cuts the value in two; a failure on stderr),
/// writes it into its result, and reports its length, which shows the variable arrived whole.
const SCRIPT: &str = r#"import json, os, sys, time
token = os.environ["CRM_TOKEN"]
print("token is", token, flush=True)
sys.stdout.write("x" * 8190 + token[:12])
sys.stdout.flush()
time.sleep(0.5)
print(token[12:], flush=True)
with open(os.environ["EXECGOV_RESULT"], "w") as f:
    json.dump({"token": token, "length": len(token)}, f)
sys.exit("CRM refused " + token)
"#;

async fn register_crm_skill(db: &TestDb, host: &str) {
    let tenant = tenant_of(&db.ctx, host).await;
    register_skill(
        &db.ctx,
        &tenant,
        ("crm-sync", "main.py", SCRIPT),
        "secrets = [\"CRM_TOKEN\"]\n",
    )
    .await;
}

/// Requests a run of `crm-sync` with `bearer` and waits for its end; returns its view.
async fn run_crm(server: &TestServer, host: &str, bearer: &str) -> Value {
    let reply = server
        .api(
            Method::POST,
            host,
            "/api/v1/executions",
            Some(bearer),
            ApiBody::Json(json!({ "skill": "crm-sync" })),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json()["summary"]["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let view = server
            .api(
                Method::GET,
                host,
                &format!("/api/v1/executions/{id}"),
                Some(bearer),
                ApiBody::Empty,
            )
            .await;
        let view = view.json();
        let status = view["summary"]["status"].as_str().unwrap().to_string();
        if !matches!(
            status.as_str(),
            "queued" | "running" | "awaiting_confirmation"
        ) {
            return view;
        }
        assert!(Instant::now() < deadline, "execution {id} never ended");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn put_secret(
    server: &TestServer,
    host: &str,
    bearer: &str,
    name: &str,
    body: Value,
) -> ApiReply {
    server
        .api(
            Method::PUT,
            host,
            &format!("/api/v1/secrets/{name}"),
            Some(bearer),
            ApiBody::Json(body),
        )
        .await
}

async fn list_secrets(server: &TestServer, host: &str, bearer: &str) -> ApiReply {
    server
        .api(
            Method::GET,
            host,
            "/api/v1/secrets",
            Some(bearer),
            ApiBody::Empty,
        )
        .await
}

/// Every file under `dir` that holds `needle` (as it is, or hex-encoded).
fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let hex_needle = hex::encode(needle);
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes);
                if text.contains(needle) || text.contains(&hex_needle) {
                    found.push(path);
                }
            }
        }
    }
    found
}

/// Every row of every table in `public` and the tenant schemas whose text form holds `needle`
/// (as it is or hex-encoded, as a bytea column would show it), as `schema.table`.
async fn rows_holding(ctx: &domain::Ctx, needle: &str) -> Vec<String> {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables \
         WHERE table_type = 'BASE TABLE' \
           AND (table_schema = 'public' OR table_schema LIKE 'tenant\\_%')",
    )
    .fetch_all(&ctx.pool)
    .await
    .unwrap();
    assert!(tables
        .iter()
        .any(|(s, t)| s == "tenant_1003" && t == "secrets"));
    let mut found = Vec::new();
    for (schema, table) in tables {
        let hits: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM \"{schema}\".\"{table}\" t \
             WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0"
        ))
        .bind(needle)
        .bind(hex::encode(needle))
        .fetch_one(&ctx.pool)
        .await
        .unwrap_or_else(|e| panic!("{schema}.{table}: {e}"));
        if hits > 0 {
            found.push(format!("{schema}.{table}"));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_reaches_its_run_masked_and_is_seen_nowhere_else() {
    let db = seeded_db().await;
    register_crm_skill(&db, ACME).await;
    let child = ChildServer::start(&db, FIRST_UID).await;
    let server = TestServer::at(child.addr, db.ctx.clone());
    let (_, admin_token) = session_token(&server, ACME, "acme-admin").await;

    // Not set yet: the run fails, naming the secret.
    let view = run_crm(&server, ACME, &admin_token).await;
    assert_eq!(view["summary"]["status"], "failed", "{view}");
    let reason = view["reason"].as_str().unwrap();
    assert!(
        reason.contains("CRM_TOKEN") && reason.contains("not set"),
        "{reason}"
    );

    // The admin saves it on the page (its server function); the answer shows the last 4.
    let admin = server.login(ACME, "acme-admin", PASSWORD).await;
    let saved = server
        .call(
            ACME,
            "set-secret",
            &[("name", "CRM_TOKEN"), ("value", TOKEN)],
            Some(&admin),
        )
        .await;
    saved.assert_ok();
    assert_eq!(saved.json()["name"], "CRM_TOKEN");
    assert_eq!(saved.json()["last4"], "8wR3");
    assert!(!saved.body.contains(TOKEN), "{}", saved.body);
    let page = server.get(ACME, "/secrets", Some(&admin)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("CRM_TOKEN") && page.body.contains("8wR3"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(TOKEN));

    // The run receives it whole; every place it printed it shows *** instead.
    let view = run_crm(&server, ACME, &admin_token).await;
    assert_eq!(
        view["summary"]["status"], "failed",
        "the script exits 1: {view}"
    );
    let result: Value = serde_json::from_str(view["result"].as_str().unwrap()).unwrap();
    assert_eq!(result, json!({ "token": "***", "length": TOKEN.len() }));
    // Its error is its stderr, stored as log lines: masked as they came.
    let why = view["summary"]["why"].as_str().unwrap();
    assert!(why.contains("CRM refused ***"), "{why}");
    let lines: Vec<&str> = view["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert!(lines.contains(&"token is ***"), "{lines:?}");
    assert!(lines.contains(&"CRM refused ***"), "{lines:?}");
    // The long line came in two pieces; the value they split is masked as one.
    let long = lines.iter().position(|l| l.starts_with("xxxx")).unwrap();
    assert_eq!(lines[long], format!("{}***", "x".repeat(8190)));
    assert_eq!(lines[long + 1], "", "the rest of the value is gone too");
    let run_page = server
        .get(
            ACME,
            &format!("/executions/{}", view["summary"]["id"]),
            Some(&admin),
        )
        .await;
    assert!(run_page.body.contains("token is ***"));

    // Replaced through the REST API: 200, the new last 4, and the next run gets the new value.
    let replaced = put_secret(
        &server,
        ACME,
        &admin_token,
        "CRM_TOKEN",
        json!({ "value": format!("{TOKEN}-v2") }),
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    assert_eq!(replaced.json()["last4"], "3-v2");
    let view = run_crm(&server, ACME, &admin_token).await;
    let result: Value = serde_json::from_str(view["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["length"], TOKEN.len() + 3);
    let listed = list_secrets(&server, ACME, &admin_token).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()[0]["name"], "CRM_TOKEN");
    assert!(!listed.text().contains(TOKEN));

    // Bad input: clear errors, nothing changed, the value never echoed.
    for (name, body, says) in [
        (
            "crm_token",
            json!({ "value": "long-enough-1" }),
            "not a secret name",
        ),
        (
            "PATH",
            json!({ "value": "long-enough-1" }),
            "used by the platform",
        ),
        ("SHORT_ONE", json!({ "value": "1234567" }), "8 to 4096"),
        (
            "TWO_LINES",
            json!({ "value": "line-one\nline-two" }),
            "one line",
        ),
        (
            "PADDED",
            json!({ "value": " padded-value " }),
            "white space",
        ),
        (
            "NUMBER",
            json!({ "value": 123456789012u64 }),
            "The JSON body must be",
        ),
    ] {
        let reply = put_secret(&server, ACME, &admin_token, name, body).await;
        assert_eq!(reply.status, 422, "{name}: {}", reply.text());
        assert_eq!(reply.content_type, "application/problem+json");
        assert!(reply.text().contains(says), "{name}: {}", reply.text());
        assert!(!reply.text().contains("123456789012"), "{}", reply.text());
    }
    assert_eq!(
        list_secrets(&server, ACME, &admin_token)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The audit trail says which secret and what happened to it, nothing of its value.
    let entries: Vec<(String, String, Value)> = sqlx::query_as(
        "SELECT action, target, detail FROM tenant_1003.audit_log \
         WHERE action LIKE 'secret.%' ORDER BY id",
    )
    .fetch_all(&db.ctx.pool)
    .await
    .unwrap();
    assert_eq!(
        entries,
        [
            (
                "secret.create".to_string(),
                "CRM_TOKEN".to_string(),
                json!({})
            ),
            (
                "secret.replace".to_string(),
                "CRM_TOKEN".to_string(),
                json!({})
            ),
        ]
    );
    let audit_page = server.get(ACME, "/audit", Some(&admin)).await;
    assert!(audit_page.body.contains("secret.replace"));

    // Nowhere in the database, the data directory (run folders, artifacts, the server's own
    // captured log) or any page or answer seen above.
    for value in [TOKEN.to_string(), format!("{TOKEN}-v2")] {
        assert_eq!(rows_holding(&db.ctx, &value).await, Vec::<String>::new());
        assert_eq!(
            files_holding(&db.ctx.data_dir, &value),
            Vec::<PathBuf>::new()
        );
        for body in [&page.body, &run_page.body, &audit_page.body] {
            assert!(!body.contains(&value));
        }
        assert!(!child.output().contains(&value));
    }
    assert!(
        child.output().contains("ExecGov is running"),
        "the log was captured"
    );
    // The key file was made on first start, for the server's owner only.
    use std::os::unix::fs::PermissionsExt;
    let key = std::fs::metadata(db.ctx.data_dir.join("master.key")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);

    // Members do not manage secrets.
    let member = server.login(ACME, "acme-user", PASSWORD).await;
    server
        .call(ACME, "list-secrets", &[], Some(&member))
        .await
        .assert_refused(&["Forbidden"]);
    let (_, member_token) = session_token(&server, ACME, "acme-user").await;
    assert_eq!(list_secrets(&server, ACME, &member_token).await.status, 403);
    assert_eq!(
        put_secret(
            &server,
            ACME,
            &member_token,
            "CRM_TOKEN",
            json!({ "value": "member-value-1" })
        )
        .await
        .status,
        403
    );
    let page = server.get(ACME, "/secrets", Some(&member)).await;
    assert!(page.body.contains("Not allowed") && !page.body.contains("8wR3"));

    another_tenant_cannot_reach_acme_secrets(&server, &db, &admin).await;
}

/// Globex's admin, with every credential they hold, against Acme's secret.
async fn another_tenant_cannot_reach_acme_secrets(
    server: &TestServer,
    db: &TestDb,
    acme_admin: &str,
) {
    let globex = server.login(GLOBEX, "globex-admin", PASSWORD).await;
    let (_, globex_token) = session_token(server, GLOBEX, "globex-admin").await;
    let acme_last4 = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT last4 FROM tenant_1003.secrets WHERE name = 'CRM_TOKEN'",
        )
        .fetch_one(&db.ctx.pool)
        .await
        .unwrap()
    };
    // Globex's cookie and token mean nothing on Acme's host.
    server
        .call(ACME, "list-secrets", &[], Some(&globex))
        .await
        .assert_refused(&["Unauthenticated"]);
    server
        .call(
            ACME,
            "set-secret",
            &[("name", "CRM_TOKEN"), ("value", "globex-overwrite")],
            Some(&globex),
        )
        .await
        .assert_refused(&["Unauthenticated"]);
    server
        .call(
            ACME,
            "delete-secret",
            &[("name", "CRM_TOKEN")],
            Some(&globex),
        )
        .await
        .assert_refused(&["Unauthenticated"]);
    assert_eq!(list_secrets(server, ACME, &globex_token).await.status, 401);
    assert_eq!(
        put_secret(
            server,
            ACME,
            &globex_token,
            "CRM_TOKEN",
            json!({ "value": "globex-overwrite" })
        )
        .await
        .status,
        401
    );
    // Acme's cookie on Globex's host is no one either.
    server
        .call(GLOBEX, "list-secrets", &[], Some(acme_admin))
        .await
        .assert_refused(&["Unauthenticated"]);
    // On its own host Globex sees only its own (none), deletes nothing of Acme's, and a secret
    // of the same name is its own.
    assert_eq!(
        list_secrets(server, GLOBEX, &globex_token).await.json(),
        json!([])
    );
    let deleted = server
        .api(
            Method::DELETE,
            GLOBEX,
            "/api/v1/secrets/CRM_TOKEN",
            Some(&globex_token),
            ApiBody::Empty,
        )
        .await;
    assert_eq!(deleted.status, 404, "{}", deleted.text());
    assert_eq!(acme_last4().await, "3-v2");

    // A Globex skill naming CRM_TOKEN does not get Acme's.
    register_crm_skill(db, GLOBEX).await;
    let view = run_crm(server, GLOBEX, &globex_token).await;
    let reason = view["reason"].as_str().unwrap();
    assert!(
        reason.contains("CRM_TOKEN") && reason.contains("not set"),
        "{reason}"
    );
    // Nor does Acme's ciphertext copied into Globex's table open there: it is bound to Acme.
    sqlx::query(
        "INSERT INTO tenant_1004.secrets (name, nonce, ciphertext, last4, created_by, updated_by) \
         SELECT name, nonce, ciphertext, last4, 'copied', 'copied' FROM tenant_1003.secrets",
    )
    .execute(&db.ctx.pool)
    .await
    .unwrap();
    let view = run_crm(server, GLOBEX, &globex_token).await;
    assert_eq!(view["summary"]["status"], "failed");
    let reason = view["reason"].as_str().unwrap();
    assert!(reason.contains("could not be opened"), "{reason}");
    assert!(view["result"].is_null(), "the script never ran: {view}");

    // Globex's own secret of that name is Globex's; Acme's is untouched.
    let own = put_secret(
        server,
        GLOBEX,
        &globex_token,
        "CRM_TOKEN",
        json!({ "value": "globex-own-token" }),
    )
    .await;
    assert_eq!(own.status, 200, "replaces the copied row: {}", own.text());
    assert_eq!(acme_last4().await, "3-v2");
    let view = run_crm(server, GLOBEX, &globex_token).await;
    let result: Value = serde_json::from_str(view["result"].as_str().unwrap()).unwrap();
    assert_eq!(
        result,
        json!({ "token": "***", "length": "globex-own-token".len() })
    );
}

/// `execgov rotate-master-key` against the test database, with the server's environment.
fn rotate(db_url: &str, data_dir: &Path, new_key: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_execgov"))
        .args(["rotate-master-key", "--new-key-file"])
        .arg(new_key)
        .env("DATABASE_URL", db_url)
        .env("EXECGOV_DATA_DIR", data_dir)
        .env("EXECGOV_LOG", "warn")
        .env_remove("EXECGOV_MASTER_KEY_FILE")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// Starts the server binary expecting it to refuse: its exit and what it said.
fn refused_start(db_url: &str, data_dir: &Path, key_file: Option<&Path>) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_execgov"));
    command
        .env("DATABASE_URL", db_url)
        .env("EXECGOV_DATA_DIR", data_dir)
        .env("EXECGOV_ADDR", "127.0.0.1:0")
        .env("EXECGOV_SEED_PASSWORD", PASSWORD)
        .env("EXECGOV_SANDBOX_FIRST_UID", ROTATION_UID.to_string())
        .env("EXECGOV_LOG", "warn")
        .env_remove("EXECGOV_MASTER_KEY_FILE");
    if let Some(file) = key_file {
        command.env("EXECGOV_MASTER_KEY_FILE", file);
    }
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("the server started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_master_key_is_checked_at_start_and_rotated_in_one_transaction() {
    let db = seeded_db().await;
    register_crm_skill(&db, ACME).await;
    let url = database_url(&db).await;
    let data = db.ctx.data_dir.clone();
    let mut child = ChildServer::start(&db, ROTATION_UID).await;
    let server = TestServer::at(child.addr, db.ctx.clone());
    let (_, token) = session_token(&server, ACME, "acme-admin").await;
    assert_eq!(
        put_secret(
            &server,
            ACME,
            &token,
            "CRM_TOKEN",
            json!({ "value": TOKEN })
        )
        .await
        .status,
        201
    );
    child.stop();
    let old_key = data.join("master.key");
    let sealed_before: (Vec<u8>, Vec<u8>) = sqlx::query_as(
        "SELECT nonce, ciphertext FROM tenant_1003.secrets WHERE name = 'CRM_TOKEN'",
    )
    .fetch_one(&db.ctx.pool)
    .await
    .unwrap();

    // A wrong key at start: refused with a clear message, never served.
    let wrong = data.join("wrong.key");
    std::fs::write(&wrong, format!("{}\n", "ab".repeat(32))).unwrap();
    let (ok, said) = refused_start(&url, &data, Some(&wrong));
    assert!(!ok);
    assert!(
        said.contains("is not the one this database's secrets are sealed under"),
        "{said}"
    );
    // A named key file that is missing is refused too, and nothing is made in its place.
    let missing = data.join("no-such.key");
    let (ok, said) = refused_start(&url, &data, Some(&missing));
    assert!(!ok && said.contains("no master key file at"), "{said}");
    assert!(!missing.exists());
    // So is a lost default key file: a new one would not open what is stored.
    std::fs::rename(&old_key, data.join("kept.key")).unwrap();
    let (ok, said) = refused_start(&url, &data, None);
    assert!(!ok && said.contains("no master key file"), "{said}");
    assert!(!old_key.exists(), "no key made over sealed secrets");
    std::fs::rename(data.join("kept.key"), &old_key).unwrap();

    // Rotation: every secret re-sealed under the new key, the check value too.
    let new_key = data.join("rotated.key");
    let (ok, said) = rotate(&url, &data, &new_key);
    assert!(ok, "{said}");
    assert!(said.contains("Re-sealed 1 secrets"), "{said}");
    let sealed_after: (Vec<u8>, Vec<u8>) = sqlx::query_as(
        "SELECT nonce, ciphertext FROM tenant_1003.secrets WHERE name = 'CRM_TOKEN'",
    )
    .fetch_one(&db.ctx.pool)
    .await
    .unwrap();
    assert_ne!(sealed_after, sealed_before);
    let generation: i32 = sqlx::query_scalar("SELECT generation FROM public.master_key")
        .fetch_one(&db.ctx.pool)
        .await
        .unwrap();
    assert_eq!(generation, 2);
    // Readable under the new key only.
    let acme = tenant_of(&db.ctx, ACME).await;
    let opened = |key_file: &Path| {
        let bytes = domain::secrets::key::read_key_file(key_file).unwrap();
        let key = domain::secrets::MasterKey::from_bytes(&bytes, generation);
        let sealed = domain::secrets::Sealed {
            nonce: sealed_after.0.clone(),
            ciphertext: sealed_after.1.clone(),
        };
        key.open(
            domain::secrets::Binding::TenantSecret {
                tenant_id: acme.id,
                name: "CRM_TOKEN",
            },
            &sealed,
        )
    };
    assert_eq!(opened(&new_key).as_deref(), Some(TOKEN.as_bytes()));
    assert_eq!(opened(&old_key), None);
    // The old key no longer starts the server.
    let (ok, said) = refused_start(&url, &data, Some(&old_key));
    assert!(!ok && said.contains("is not the one"), "{said}");
    // Rotating again from the old key is refused, and changes nothing.
    let (ok, said) = rotate(&url, &data, &data.join("third.key"));
    assert!(!ok && said.contains("is not the one"), "{said}");

    // With the new key in place the server starts and the run gets the value.
    std::fs::rename(&new_key, &old_key).unwrap();
    let child = ChildServer::start(&db, ROTATION_UID).await;
    let server = TestServer::at(child.addr, db.ctx.clone());
    let view = run_crm(&server, ACME, &token).await;
    let result: Value = serde_json::from_str(view["result"].as_str().unwrap()).unwrap();
    assert_eq!(result, json!({ "token": "***", "length": TOKEN.len() }));
    let audit: i64 = count(
        &db.ctx,
        "SELECT count(*) FROM public.platform_audit WHERE action = 'master_key.rotate'",
    )
    .await;
    assert_eq!(audit, 1);
}

/// A submitted skill naming secrets: the reviewer sees the names on the review page, and the
/// approved version's runs receive exactly those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_page_shows_the_secrets_a_submission_names() {
    let db = seeded_db().await;
    let server = start_server(db.ctx.clone()).await;
    let admin = server.login(ACME, "acme-admin", PASSWORD).await;
    let manifest = "name = \"CRM sync\"\nslug = \"crm-sync\"\ndescription = \"Syncs the CRM.\"\n\
                    output = \"A count\"\nrisk = \"low\"\nsecrets = [\"CRM_TOKEN\", \"ERP_KEY\"]\n";
    let archive = zip_of(&[
        ("main.py", SCRIPT),
        ("README.md", "# CRM sync\n"),
        ("skill.toml", manifest),
    ]);
    let reply = server
        .post_multipart(
            ACME,
            "/submissions",
            &[
                ("scenario", "Sales keeps the CRM in step."),
                ("risk", "low"),
                ("manual_allowed", "true"),
            ],
            &[("archive", "crm-sync.zip", archive.as_slice())],
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    let id = reply
        .location
        .as_deref()
        .and_then(|l| l.strip_prefix("/submissions/"))
        .expect("the submission's page")
        .to_string();
    let console = server
        .login("admin.localhost", "superadmin", PASSWORD)
        .await;
    let page = server
        .get("admin.localhost", &format!("/reviews/{id}"), Some(&console))
        .await;
    assert_eq!(page.status, 200);
    let names = page
        .body
        .split("data-testid=\"secret-names\"")
        .nth(1)
        .expect("the review page lists the secrets");
    let names = &names[..names.find("</dd>").unwrap()];
    assert!(
        names.contains("CRM_TOKEN") && names.contains("ERP_KEY"),
        "{names}"
    );

    // A name that is not a secret's is refused at submission, saying which and why.
    let bad = manifest.replace("\"ERP_KEY\"", "\"LD_PRELOAD\"");
    let archive = zip_of(&[
        ("main.py", SCRIPT),
        ("README.md", "# CRM sync\n"),
        ("skill.toml", bad.as_str()),
    ]);
    let reply = server
        .post_multipart(
            ACME,
            "/submissions",
            &[
                ("scenario", "Sales keeps the CRM in step."),
                ("risk", "low"),
            ],
            &[("archive", "crm-sync.zip", archive.as_slice())],
            Some(&admin),
        )
        .await;
    let location = reply.location.unwrap_or_default();
    assert!(
        location.starts_with("/submissions/new?error=") && location.contains("LD_PRELOAD"),
        "{location}"
    );
}
