//! The local-agent protocol over real HTTP, adversarially: registration and authentication with
//! the wrong tokens, keys, labels and tenants; signed requests forged, replayed, stale or altered
//! after signing; routing by label and tenant; racing agents (exactly one
//! winner per execution); only the lease holder renews, logs, fetches and finishes; finish
//! validation (statuses, artifact paths, results) and what a good finish records; the job's
//! bundle; leases lost to the reaper and to revocation; the admins' list and revocation.
//!
//! No scripts run here: the tests play the agents themselves, and no worker pool is started (the
//! platform's side of routing is `claim_next`, called directly).
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read};
use std::time::Duration;

use common::*;
use domain::accounts::{self, Realm, SignedIn};
use domain::agent_auth::MachineKey;
use domain::executions::{self, QueuePolicy, Upload};
use domain::tenancy::Tenant;
use domain::tokens::{NewToken, TokenKind};
use domain::{Actor, Ctx};
use reqwest::Method;
use serde_json::{json, Value};

const ACME: &str = "acme.localhost";
const GLOBEX: &str = "globex.localhost";
/// The labels the tests' agent tokens allow.
const TOKEN_LABELS: [&str; 5] = ["gpu", "lab", "lab.x", "lab2", "other"];

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A test's database, server and tenants.
struct World {
    server: TestServer,
    ctx: Ctx,
    acme: Tenant,
    globex: Tenant,
}

async fn world() -> World {
    world_with(seeded_ctx().await).await
}

/// A world whose server and domain calls use `ctx` (e.g. with a short lease).
async fn world_with(ctx: Ctx) -> World {
    let acme = tenant_of(&ctx, ACME).await;
    let globex = tenant_of(&ctx, GLOBEX).await;
    let server = start_server(ctx.clone()).await;
    World {
        server,
        ctx,
        acme,
        globex,
    }
}

/// A lease of 2 seconds (renewed every 300 ms by a well-behaved holder).
fn short_lease(ctx: Ctx) -> Ctx {
    ctx.with_queue_policy(QueuePolicy {
        lease: Duration::from_secs(2),
        heartbeat: Duration::from_millis(300),
        per_tenant_cap: 4,
        ..QueuePolicy::default()
    })
}

/// A script folder: a shell skill, on agents labelled `label` (or the platform's without one),
/// with a file input `data` if asked.
fn skill_files(slug: &str, label: Option<&str>, file_input: bool) -> Vec<(String, Vec<u8>)> {
    let mut manifest = format!(
        "name = \"Job {slug}\"\nslug = \"{slug}\"\ndescription = \"A test job.\"\n\
         output = \"A note.\"\nrisk = \"low\"\ntimeout_seconds = 30\n"
    );
    if let Some(label) = label {
        manifest.push_str(&format!("agent_label = \"{label}\"\n"));
    }
    if file_input {
        // How a command-line script takes it: the agent renders it as the platform does.
        manifest.push_str("args = [\"--data\", \"{data}\"]\n");
        manifest
            .push_str("\n[[inputs]]\nname = \"data\"\nlabel = \"Data file\"\ntype = \"file\"\n");
    }
    vec![
        ("skill.toml".to_string(), manifest.into_bytes()),
        (
            "README.md".to_string(),
            format!("# Job {slug}\n\nRuns somewhere.\n").into_bytes(),
        ),
        (
            "main.sh".to_string(),
            format!("echo \"job {slug}\"\necho note > output/note.txt\n").into_bytes(),
        ),
    ]
}

impl World {
    fn tenant(&self, host: &str) -> &Tenant {
        match host {
            ACME => &self.acme,
            GLOBEX => &self.globex,
            _ => panic!("no tenant at {host}"),
        }
    }

    /// A seeded user of the tenant on `host`, signed in.
    async fn user(&self, host: &str, username: &str) -> SignedIn {
        let tenant = self.tenant(host);
        let session = accounts::login(
            &self.ctx,
            Realm::Tenant(tenant),
            username,
            PASSWORD.into(),
            &Default::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("login of {username}: {e}"));
        accounts::session_user(&self.ctx, Realm::Tenant(tenant), &session.token)
            .await
            .unwrap()
            .expect("the session's user")
    }

    /// A token of `kind` for `username` on `host` (agent tokens allow [`TOKEN_LABELS`]):
    /// (id, secret).
    async fn token(&self, host: &str, username: &str, kind: TokenKind) -> (i64, String) {
        let user = self.user(host, username).await;
        let new = match kind {
            TokenKind::Personal => NewToken::Personal,
            TokenKind::Agent => NewToken::Agent {
                labels: TOKEN_LABELS.map(String::from).to_vec(),
            },
        };
        let created = domain::tokens::create(
            &self.ctx,
            self.tenant(host),
            &user,
            &Actor::system(),
            &format!("{username} {}", kind.as_str()),
            Some(30),
            &new,
        )
        .await
        .unwrap_or_else(|e| panic!("creating a {} token: {e}", kind.as_str()));
        (created.token.id, created.secret)
    }

    /// Registers a live skill (granted to members); returns its files.
    async fn skill(
        &self,
        host: &str,
        slug: &str,
        label: Option<&str>,
        file_input: bool,
    ) -> Vec<(String, Vec<u8>)> {
        let files = skill_files(slug, label, file_input);
        let folder = domain::skills::manifest::load_script_folder(files.clone())
            .expect("a valid script folder");
        domain::skills::register(
            &self.ctx,
            self.tenant(host),
            &Actor::system(),
            &folder,
            &[model::TenantRole::Member],
        )
        .await
        .unwrap_or_else(|e| panic!("registering {slug}: {e}"));
        files
    }

    /// `user` asks to run `slug` (queued at once): the execution's id.
    async fn request(&self, host: &str, user: &SignedIn, slug: &str, uploads: &[Upload]) -> i64 {
        executions::request(
            &self.ctx,
            self.tenant(host),
            user,
            &Actor::system(),
            slug,
            &BTreeMap::new(),
            uploads,
        )
        .await
        .unwrap_or_else(|e| panic!("requesting {slug}: {e}"))
    }

    /// `sql` with `{schema}` standing for the schema of the tenant on `host`: one bigint.
    async fn count_in(&self, host: &str, sql: &str) -> i64 {
        count(
            &self.ctx,
            &sql.replace("{schema}", self.tenant(host).schema.as_str()),
        )
        .await
    }

    /// The execution's status as stored in its tenant.
    async fn status(&self, host: &str, id: i64) -> String {
        sqlx::query_scalar(&format!(
            "SELECT status FROM {}.executions WHERE id = $1",
            self.tenant(host).schema.as_str()
        ))
        .bind(id)
        .fetch_one(&self.ctx.pool)
        .await
        .unwrap()
    }

    /// The execution's row in the platform's queue: (state, worker, attempts, lease expiry as
    /// text), if it has one.
    async fn queue(&self, host: &str, id: i64) -> Option<(String, Option<String>, i32, String)> {
        sqlx::query_as(
            "SELECT state, worker_id, attempts, COALESCE(lease_expires_at::text, '') \
             FROM public.execution_queue WHERE tenant_id = $1 AND execution_id = $2",
        )
        .bind(self.tenant(host).id)
        .bind(id)
        .fetch_optional(&self.ctx.pool)
        .await
        .unwrap()
    }

    /// Log lines stored for the execution.
    async fn log_lines(&self, host: &str, id: i64) -> i64 {
        self.count_in(
            host,
            &format!("SELECT count(*) FROM {{schema}}.execution_logs WHERE execution_id = {id}"),
        )
        .await
    }

    /// A new machine with an agent token of its own (made by the tenant's admin), registered
    /// on `host` with `labels`.
    async fn new_agent(&self, host: &str, labels: &[&str]) -> TestAgent {
        let admin = if host == ACME {
            "acme-admin"
        } else {
            "globex-admin"
        };
        let (_, token) = self.token(host, admin, TokenKind::Agent).await;
        self.agent(host, &token, labels).await
    }

    /// Registers a new machine with `token` on `host` carrying `labels`; panics unless 200.
    async fn agent(&self, host: &str, token: &str, labels: &[&str]) -> TestAgent {
        let mut agent = TestAgent::new(host, token);
        let reply = agent.register(&self.server, labels).await;
        let view = expect(&reply, 200, "registering an agent");
        agent.id = view["id"].as_i64().expect("an agent id");
        agent
    }
}

/// The JSON or raw bytes of a body, as `api_with_headers` sends them.
fn body_bytes(body: &ApiBody) -> Vec<u8> {
    match body {
        ApiBody::Empty => Vec::new(),
        ApiBody::Json(value) => value.to_string().into_bytes(),
        ApiBody::Raw(_, bytes) => bytes.clone(),
    }
}

/// The signing headers of a request as `key` of `machine_id` signs it.
fn signed_headers(
    machine_id: &str,
    key: &MachineKey,
    method: &Method,
    host: &str,
    path: &str,
    body: &ApiBody,
) -> Vec<(&'static str, String)> {
    let now = chrono::Utc::now().timestamp();
    key.sign(
        now,
        machine_id,
        method.as_str(),
        path,
        host,
        &body_bytes(body),
    )
}

/// `method` `path` on `host` with an optional bearer, signed by an optional machine (id, key),
/// with `body`.
async fn send(
    server: &TestServer,
    method: Method,
    host: &str,
    path: &str,
    bearer: Option<&str>,
    machine: Option<(&str, &MachineKey)>,
    body: ApiBody,
) -> ApiReply {
    let headers = match machine {
        Some((id, key)) => signed_headers(id, key, &method, host, path, &body),
        None => Vec::new(),
    };
    send_with(server, method, host, path, bearer, &headers, body).await
}

/// `method` `path` on `host` with exactly these headers.
async fn send_with(
    server: &TestServer,
    method: Method,
    host: &str,
    path: &str,
    bearer: Option<&str>,
    headers: &[(&str, String)],
    body: ApiBody,
) -> ApiReply {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    server
        .api_with_headers(method, host, path, bearer, &headers, body)
        .await
}

/// A REST call as a person (personal token).
async fn as_user(
    server: &TestServer,
    method: Method,
    host: &str,
    path: &str,
    token: &str,
    body: ApiBody,
) -> ApiReply {
    send(server, method, host, path, Some(token), None, body).await
}

/// `DELETE /api/v1/agents/{id}` on `host` with `token`.
async fn revoke_agent(server: &TestServer, host: &str, id: i64, token: &str) -> ApiReply {
    let path = format!("/api/v1/agents/{id}");
    as_user(server, Method::DELETE, host, &path, token, ApiBody::Empty).await
}

/// Asserts the reply's status: an error is problem+json (401s ask for a bearer token), a 200 is
/// JSON (returned), a 204 is empty.
#[track_caller]
fn expect(reply: &ApiReply, status: u16, what: &str) -> Value {
    assert_eq!(
        reply.status,
        status,
        "{what}: expected {status}, got {}: {}",
        reply.status,
        reply.text()
    );
    match status {
        200 | 201 => {
            assert_eq!(reply.content_type, "application/json", "{what}");
            reply.json()
        }
        204 => {
            assert!(reply.body.is_empty(), "{what}: a 204 with a body");
            Value::Null
        }
        _ => {
            assert_eq!(
                reply.content_type,
                "application/problem+json",
                "{what}: {}",
                reply.text()
            );
            let problem = reply.json();
            assert_eq!(problem["status"], status, "{what}: {problem}");
            if status == 401 {
                assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"), "{what}");
            }
            problem
        }
    }
}

/// Asserts a 422 whose detail names `field`.
#[track_caller]
fn expect_invalid(reply: &ApiReply, field: &str, what: &str) {
    let problem = expect(reply, 422, what);
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(field),
        "{what}: the problem does not name {field:?}: {detail}"
    );
}

/// The claimed job of a 200 answer to a claim: (execution id, attempt).
#[track_caller]
fn job(reply: &ApiReply, what: &str) -> (i64, i64) {
    let job = expect(reply, 200, what);
    (
        job["execution_id"].as_i64().expect("an execution id"),
        job["attempt"].as_i64().expect("an attempt"),
    )
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// An agent as its program sees itself: the token it registers with, its machine identity.
#[derive(Clone)]
struct TestAgent {
    host: String,
    token: String,
    machine_id: String,
    key: MachineKey,
    /// Its id once registered.
    id: i64,
}

impl TestAgent {
    fn new(host: &str, token: &str) -> TestAgent {
        TestAgent {
            host: host.to_string(),
            token: token.to_string(),
            machine_id: random_hex(16),
            key: MachineKey::generate(),
            id: 0,
        }
    }

    fn worker_id(&self) -> String {
        format!("agent-{}", self.id)
    }

    fn registration(&self, labels: &[&str]) -> Value {
        json!({
            "machine_id": self.machine_id,
            "public_key": self.key.public_hex(),
            "name": "Lab box",
            "hostname": "lab-1.example.internal",
            "labels": labels,
            "version": "0.1.0-test",
        })
    }

    async fn register(&self, server: &TestServer, labels: &[&str]) -> ApiReply {
        self.register_with(server, self.registration(labels)).await
    }

    /// Registers with `body`, signed with this agent's key.
    async fn register_with(&self, server: &TestServer, body: Value) -> ApiReply {
        self.call(
            server,
            Method::POST,
            "/api/v1/agent/register",
            ApiBody::Json(body),
        )
        .await
    }

    /// A protocol call with this agent's token and identity.
    async fn call(
        &self,
        server: &TestServer,
        method: Method,
        path: &str,
        body: ApiBody,
    ) -> ApiReply {
        send(
            server,
            method,
            &self.host,
            path,
            Some(&self.token),
            Some((&self.machine_id, &self.key)),
            body,
        )
        .await
    }

    async fn me(&self, server: &TestServer) -> ApiReply {
        self.call(server, Method::GET, "/api/v1/agent/me", ApiBody::Empty)
            .await
    }

    /// A claim that does not wait.
    async fn claim(&self, server: &TestServer) -> ApiReply {
        self.call(
            server,
            Method::POST,
            "/api/v1/agent/claim?wait=0",
            ApiBody::Empty,
        )
        .await
    }

    async fn renew(&self, server: &TestServer, id: i64) -> ApiReply {
        self.call(
            server,
            Method::POST,
            &format!("/api/v1/agent/executions/{id}/lease"),
            ApiBody::Empty,
        )
        .await
    }

    async fn logs(&self, server: &TestServer, id: i64, lines: &[(&str, &str)]) -> ApiReply {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(stream, line)| json!({ "stream": stream, "line": line }))
            .collect();
        self.call(
            server,
            Method::POST,
            &format!("/api/v1/agent/executions/{id}/logs"),
            ApiBody::Json(json!({ "lines": lines })),
        )
        .await
    }

    async fn bundle(&self, server: &TestServer, id: i64) -> ApiReply {
        self.call(
            server,
            Method::GET,
            &format!("/api/v1/agent/executions/{id}/bundle"),
            ApiBody::Empty,
        )
        .await
    }

    /// Finishes with the report part `report` (as sent) and artifacts (path, bytes).
    async fn finish_raw(
        &self,
        server: &TestServer,
        id: i64,
        report: &str,
        artifacts: &[(&str, &[u8])],
    ) -> ApiReply {
        let files: Vec<(&str, &str, &[u8])> = artifacts
            .iter()
            .map(|(path, bytes)| ("artifact", *path, *bytes))
            .collect();
        let (content_type, body) = multipart_body(&[("report", report)], &files);
        self.call(
            server,
            Method::POST,
            &format!("/api/v1/agent/executions/{id}/finish"),
            ApiBody::Raw(content_type, body),
        )
        .await
    }

    async fn finish(
        &self,
        server: &TestServer,
        id: i64,
        report: Value,
        artifacts: &[(&str, &[u8])],
    ) -> ApiReply {
        self.finish_raw(server, id, &report.to_string(), artifacts)
            .await
    }

    /// A plain successful finish without artifacts.
    async fn succeed(&self, server: &TestServer, id: i64) -> ApiReply {
        self.finish(
            server,
            id,
            json!({ "status": "succeeded", "exit_code": 0, "reason": null, "result": null }),
            &[],
        )
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Registration.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_needs_a_live_agent_token_of_the_tenant_and_a_valid_identity() {
    let w = world().await;
    let agents_rows = "SELECT count(*) FROM {schema}.agents";

    // Agent tokens are for tenant admins: the REST API refuses a member.
    let (_, user_personal) = w.token(ACME, "acme-user", TokenKind::Personal).await;
    let (_, admin_personal) = w.token(ACME, "acme-admin", TokenKind::Personal).await;
    let refused = as_user(
        &w.server,
        Method::POST,
        ACME,
        "/api/v1/tokens",
        &user_personal,
        ApiBody::Json(json!({ "name": "my agents", "kind": "agent" })),
    )
    .await;
    expect(&refused, 403, "a member creating an agent token");
    // An agent token names the labels its agent may serve; a personal token has none.
    for (body, what) in [
        (
            json!({ "name": "lab", "kind": "agent" }),
            "an agent token without labels",
        ),
        (
            json!({ "name": "lab", "kind": "agent", "labels": [] }),
            "an agent token with no label",
        ),
        (
            json!({ "name": "lab", "kind": "agent", "labels": ["Lab"] }),
            "a bad label",
        ),
        (
            json!({ "name": "lab", "kind": "agent", "labels": [" lab"] }),
            "a label with a space",
        ),
        (
            json!({ "name": "lab", "kind": "agent", "labels": null }),
            "null labels",
        ),
        (
            json!({ "name": "me", "labels": ["lab"] }),
            "a personal token with labels",
        ),
        (
            json!({ "name": "me", "labels": null }),
            "a personal token with null labels",
        ),
    ] {
        let reply = as_user(
            &w.server,
            Method::POST,
            ACME,
            "/api/v1/tokens",
            &admin_personal,
            ApiBody::Json(body),
        )
        .await;
        expect_invalid(&reply, "labels", what);
    }
    assert_eq!(
        w.count_in(
            ACME,
            "SELECT count(*) FROM {schema}.api_tokens WHERE kind = 'agent'"
        )
        .await,
        0,
        "a refused agent token was stored"
    );
    let created = as_user(
        &w.server,
        Method::POST,
        ACME,
        "/api/v1/tokens",
        &admin_personal,
        ApiBody::Json(json!({
            "name": "lab agents", "kind": "agent", "labels": ["lab", "gpu", "lab"],
        })),
    )
    .await;
    let created = expect(&created, 201, "an admin creating an agent token");
    assert_eq!(created["token"]["labels"], json!(["gpu", "lab"]));
    let agent_token = created["secret"].as_str().expect("a secret").to_string();
    let (_, globex_agent_token) = w.token(GLOBEX, "globex-admin", TokenKind::Agent).await;

    // Not a live agent token of this tenant: 401, nothing stored.
    let candidate = TestAgent::new(ACME, &agent_token);
    for (token, what) in [
        (&admin_personal, "a personal token"),
        (&user_personal, "a member's personal token"),
        (&globex_agent_token, "Globex's agent token on Acme's host"),
        (&"egv_made-up-token".to_string(), "a made-up token"),
    ] {
        let reply = send(
            &w.server,
            Method::POST,
            ACME,
            "/api/v1/agent/register",
            Some(token),
            Some((&candidate.machine_id, &candidate.key)),
            ApiBody::Json(candidate.registration(&["lab"])),
        )
        .await;
        expect(&reply, 401, what);
    }
    let reply = send(
        &w.server,
        Method::POST,
        ACME,
        "/api/v1/agent/register",
        None,
        Some((&candidate.machine_id, &candidate.key)),
        ApiBody::Json(candidate.registration(&["lab"])),
    )
    .await;
    expect(&reply, 401, "no token at all");
    // Acme's agent token means nothing on Globex's host either.
    let on_globex = TestAgent::new(GLOBEX, &agent_token);
    expect(
        &on_globex.register(&w.server, &["lab"]).await,
        401,
        "Acme's agent token on Globex's host",
    );
    assert_eq!(w.count_in(ACME, agents_rows).await, 0);
    assert_eq!(w.count_in(GLOBEX, agents_rows).await, 0);

    // Invalid identities, names and labels: 422 naming the field, nothing stored.
    let mut bad = Vec::new();
    for machine_id in [
        "XYZ",
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0",
        "0123456789abcdef0123456789abcdeg",
        "../../../../etc/passwd0123456789",
    ] {
        let mut reg = candidate.registration(&["lab"]);
        reg["machine_id"] = json!(machine_id);
        bad.push(("machine_id", reg));
    }
    let public = candidate.key.public_hex();
    for key in [
        String::new(),
        "short-key".to_string(),
        public[..63].to_string(),
        public.to_uppercase(),
        format!("{public}00"),
        "z".repeat(64),
        // The identity point: a weak key, whatever signs with it.
        format!("01{}", "0".repeat(62)),
    ] {
        let mut reg = candidate.registration(&["lab"]);
        reg["public_key"] = json!(key);
        bad.push(("public_key", reg));
    }
    for labels in [
        json!(["Lab"]),
        json!(["lab", "has space"]),
        json!(["lab!"]),
        json!([""]),
        json!(["x".repeat(65)]),
        json!((0..33).map(|n| format!("l{n}")).collect::<Vec<_>>()),
    ] {
        let mut reg = candidate.registration(&["lab"]);
        reg["labels"] = labels;
        bad.push(("labels", reg));
    }
    for name in ["", "   ", "two\nlines", &"n".repeat(81)] {
        let mut reg = candidate.registration(&["lab"]);
        reg["name"] = json!(name);
        bad.push(("name", reg));
    }
    for (field, reg) in bad {
        let reply = candidate.register_with(&w.server, reg.clone()).await;
        expect_invalid(&reply, field, &format!("registering {reg}"));
    }
    assert_eq!(
        w.count_in(ACME, agents_rows).await,
        0,
        "an invalid registration was stored"
    );
    assert_eq!(
        w.count_in(
            ACME,
            "SELECT count(*) FROM {schema}.audit_log WHERE action LIKE 'agent.%'"
        )
        .await,
        0
    );

    // A good registration; the same machine again with the same key updates it in place.
    let first = expect(
        &candidate.register(&w.server, &["lab"]).await,
        200,
        "registering",
    );
    let id = first["id"].as_i64().unwrap();
    assert_eq!(first["machine_id"], candidate.machine_id.as_str());
    assert_eq!(first["labels"], json!(["lab"]));
    assert_eq!(first["status"], "online");
    assert_eq!(first["token_name"], "lab agents");
    let again = expect(
        &candidate.register(&w.server, &["lab", "gpu", "lab"]).await,
        200,
        "registering again with the same key",
    );
    assert_eq!(again["id"], id, "re-registering made another agent");
    assert_eq!(again["labels"], json!(["gpu", "lab"]));
    assert_eq!(w.count_in(ACME, agents_rows).await, 1);
    let stored: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT unnest(labels) FROM {}.agents WHERE id = $1 ORDER BY 1",
        w.acme.schema.as_str()
    ))
    .bind(id)
    .fetch_all(&w.ctx.pool)
    .await
    .unwrap();
    assert_eq!(stored, ["gpu", "lab"]);
    let public_key: String = sqlx::query_scalar(&format!(
        "SELECT public_key FROM {}.agents WHERE id = $1",
        w.acme.schema.as_str()
    ))
    .bind(id)
    .fetch_one(&w.ctx.pool)
    .await
    .unwrap();
    assert_eq!(public_key, candidate.key.public_hex());

    // The same machine id with another key: a conflict, and the stored agent is untouched.
    let mut impostor = candidate.clone();
    impostor.key = MachineKey::generate();
    expect(
        &impostor.register(&w.server, &["lab"]).await,
        409,
        "the same machine id with another key",
    );
    expect(&impostor.me(&w.server).await, 401, "the impostor's key");
    let me = expect(&candidate.me(&w.server).await, 200, "the real agent");
    assert_eq!(me["agent"]["labels"], json!(["gpu", "lab"]));

    // Revoked by an admin: it cannot register again, whatever its labels.
    expect(
        &as_user(
            &w.server,
            Method::DELETE,
            ACME,
            &format!("/api/v1/agents/{id}"),
            &admin_personal,
            ApiBody::Empty,
        )
        .await,
        204,
        "revoking the agent",
    );
    expect(
        &candidate.register(&w.server, &["lab"]).await,
        403,
        "a revoked agent registering again",
    );
    assert_eq!(
        w.count_in(
            ACME,
            "SELECT count(*) FROM {schema}.agents WHERE revoked_at IS NOT NULL"
        )
        .await,
        1,
        "re-registering un-revoked the agent"
    );
    assert_eq!(w.count_in(ACME, agents_rows).await, 1);
}

// ---------------------------------------------------------------------------------------------
// 2. Authentication on every call.

/// Every protocol call an agent makes, on execution `id`.
async fn every_call(
    agent: &TestAgent,
    server: &TestServer,
    id: i64,
) -> Vec<(&'static str, ApiReply)> {
    vec![
        ("me", agent.me(server).await),
        ("claim", agent.claim(server).await),
        ("renew", agent.renew(server, id).await),
        ("logs", agent.logs(server, id, &[("stdout", "hello")]).await),
        ("bundle", agent.bundle(server, id).await),
        ("finish", agent.succeed(server, id).await),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_agent_call_proves_the_token_and_the_machine() {
    let w = world().await;
    w.skill(ACME, "lab-job", Some("lab"), false).await;
    let user = w.user(ACME, "acme-user").await;
    let (_, admin_personal) = w.token(ACME, "acme-admin", TokenKind::Personal).await;
    let (token_id, token) = w.token(ACME, "acme-admin", TokenKind::Agent).await;
    let (_, other_token) = w.token(ACME, "acme-admin", TokenKind::Agent).await;
    let agent = w.agent(ACME, &token, &["lab"]).await;
    let execution = w.request(ACME, &user, "lab-job", &[]).await;
    let (claimed, _) = job(&agent.claim(&w.server).await, "claiming");
    assert_eq!(claimed, execution);
    let logs_before = w.log_lines(ACME, execution).await;
    let lease_before = w.queue(ACME, execution).await;

    // Wrong key, unknown machine, no headers, no token, a personal token, the wrong tenant.
    let mut wrong_key = agent.clone();
    wrong_key.key = MachineKey::generate();
    let mut unknown = agent.clone();
    unknown.machine_id = random_hex(16);
    let mut personal = agent.clone();
    personal.token = admin_personal.clone();
    let mut on_globex = agent.clone();
    on_globex.host = GLOBEX.to_string();
    for (who, impostor) in [
        ("a wrong key", &wrong_key),
        ("an unknown machine id", &unknown),
        ("a personal token as the bearer", &personal),
        ("Acme's agent on Globex's host", &on_globex),
    ] {
        for (call, reply) in every_call(impostor, &w.server, execution).await {
            expect(&reply, 401, &format!("{call} with {who}"));
        }
    }
    for (what, bearer, signed, empty) in [
        ("no agent headers", Some(token.as_str()), false, false),
        ("no bearer", None, true, false),
        ("empty agent headers", Some(token.as_str()), false, true),
    ] {
        for (method, path) in [
            (Method::GET, "/api/v1/agent/me".to_string()),
            (Method::POST, "/api/v1/agent/claim?wait=0".to_string()),
            (
                Method::POST,
                format!("/api/v1/agent/executions/{execution}/lease"),
            ),
            (
                Method::GET,
                format!("/api/v1/agent/executions/{execution}/bundle"),
            ),
        ] {
            let mut headers = signed_headers(
                &agent.machine_id,
                &agent.key,
                &method,
                ACME,
                &path,
                &ApiBody::Empty,
            );
            if empty {
                headers.iter_mut().for_each(|h| h.1.clear());
            } else if !signed {
                headers.clear();
            }
            let reply = send_with(
                &w.server,
                method,
                ACME,
                &path,
                bearer,
                &headers,
                ApiBody::Empty,
            )
            .await;
            expect(&reply, 401, &format!("{path} with {what}"));
        }
    }
    // Nothing an impostor sent reached the execution.
    assert_eq!(w.log_lines(ACME, execution).await, logs_before);
    assert_eq!(w.queue(ACME, execution).await, lease_before);
    assert_eq!(w.status(ACME, execution).await, "running");

    // The agent itself gets through; another live agent token of the tenant does not, until
    // the machine registers with it (a machine is bound to the token it registered with).
    expect(&agent.renew(&w.server, execution).await, 204, "renewing");
    let lease_before = w.queue(ACME, execution).await;
    let mut other_token_same_machine = agent.clone();
    other_token_same_machine.token = other_token.clone();
    for (call, reply) in every_call(&other_token_same_machine, &w.server, execution).await {
        expect(
            &reply,
            401,
            &format!("{call} with another token than the one it registered with"),
        );
    }
    assert_eq!(w.status(ACME, execution).await, "running");

    // Its agent token revoked: 401 on every call (the machine key alone is not enough).
    expect(
        &as_user(
            &w.server,
            Method::DELETE,
            ACME,
            &format!("/api/v1/tokens/{token_id}"),
            &admin_personal,
            ApiBody::Empty,
        )
        .await,
        204,
        "revoking the agent token",
    );
    for (call, reply) in every_call(&agent, &w.server, execution).await {
        expect(&reply, 401, &format!("{call} after its token was revoked"));
    }
    expect(
        &agent.register(&w.server, &["lab"]).await,
        401,
        "registering with a revoked token",
    );
    assert_eq!(w.status(ACME, execution).await, "running");
    assert_eq!(w.queue(ACME, execution).await, lease_before);
    // The admin's list says why it went quiet.
    let listed = expect(
        &as_user(
            &w.server,
            Method::GET,
            ACME,
            "/api/v1/agents",
            &admin_personal,
            ApiBody::Empty,
        )
        .await,
        200,
        "the agents list",
    );
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == agent.id)
        .unwrap();
    assert_eq!(row["status"], "token revoked", "{row}");

    // Registered again with a live token: the same agent, holding what it held.
    let again = expect(
        &other_token_same_machine.register(&w.server, &["lab"]).await,
        200,
        "registering with a new token",
    );
    assert_eq!(again["id"], agent.id);
    expect(
        &other_token_same_machine.renew(&w.server, execution).await,
        204,
        "renewing with the new token",
    );

    // The agent revoked: 403 on every call, even with a live token.
    expect(
        &revoke_agent(&w.server, ACME, agent.id, &admin_personal).await,
        204,
        "revoking the agent",
    );
    for (call, reply) in every_call(&other_token_same_machine, &w.server, execution).await {
        expect(&reply, 403, &format!("{call} of a revoked agent"));
    }
    assert_eq!(w.log_lines(ACME, execution).await, logs_before);
    assert_eq!(w.status(ACME, execution).await, "running");
    // Still 401 (not 403) for a wrong key: revocation tells nothing to who lacks the key.
    let mut wrong_key = other_token_same_machine.clone();
    wrong_key.key = MachineKey::generate();
    expect(
        &wrong_key.me(&w.server).await,
        401,
        "a wrong key of a revoked agent",
    );
}

/// The agent's renewal of `execution`, signed as `key` of `machine_id` at `timestamp`.
fn renewal(
    machine_id: &str,
    key: &MachineKey,
    timestamp: i64,
    execution: i64,
) -> (String, Vec<(&'static str, String)>) {
    let path = format!("/api/v1/agent/executions/{execution}/lease");
    let headers = key.sign(timestamp, machine_id, "POST", &path, ACME, b"");
    (path, headers)
}

/// `POST path` on Acme's host with the bearer `token` and exactly these headers.
async fn renew_with(
    server: &TestServer,
    token: Option<&str>,
    path: &str,
    headers: &[(&'static str, String)],
) -> ApiReply {
    send_with(
        server,
        Method::POST,
        ACME,
        path,
        token,
        headers,
        ApiBody::Empty,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_stale_and_altered_requests_are_refused() {
    let w = world().await;
    w.skill(ACME, "lab-job", Some("lab"), false).await;
    let user = w.user(ACME, "acme-user").await;
    let agent = w.new_agent(ACME, &["lab"]).await;
    let execution = w.request(ACME, &user, "lab-job", &[]).await;
    let (claimed, _) = job(&agent.claim(&w.server).await, "claiming");
    assert_eq!(claimed, execution);
    let token = Some(agent.token.as_str());
    let nonces = "SELECT count(*) FROM {schema}.agent_nonces";
    let now = chrono::Utc::now().timestamp();

    // A forged signature: the right headers, a signature of random bytes or of another key.
    let (path, mut forged) = renewal(&agent.machine_id, &agent.key, now, execution);
    forged[3].1 = random_hex(64);
    let reply = renew_with(&w.server, token, &path, &forged).await;
    let problem = expect(&reply, 401, "a signature of random bytes");
    assert!(
        problem["detail"].as_str().unwrap().contains("signature"),
        "{problem}"
    );
    let (path, other_key) = renewal(&agent.machine_id, &MachineKey::generate(), now, execution);
    let reply = renew_with(&w.server, token, &path, &other_key).await;
    expect(&reply, 401, "signed with another key");

    // A replay: the very same request twice. The first passes, the second is refused.
    let before = w.count_in(ACME, nonces).await;
    let (path, headers) = renewal(&agent.machine_id, &agent.key, now, execution);
    let first = renew_with(&w.server, token, &path, &headers).await;
    expect(&first, 204, "the original request");
    assert_eq!(
        w.count_in(ACME, nonces).await,
        before + 1,
        "its nonce is kept"
    );
    let replayed = renew_with(&w.server, token, &path, &headers).await;
    let problem = expect(&replayed, 401, "the same request replayed");
    assert!(
        problem["detail"].as_str().unwrap().contains("nonce"),
        "{problem}"
    );
    // A replay on another server process (the nonce is in the database, not in memory).
    let other_process = start_server(w.ctx.clone()).await;
    let replayed = renew_with(&other_process, token, &path, &headers).await;
    expect(
        &replayed,
        401,
        "the same request replayed to another server process",
    );

    // Stale or future timestamps, beyond the minute either way: refused however well signed.
    for off in [-120, -62, 62, 3600] {
        let at = chrono::Utc::now().timestamp() + off;
        let (path, headers) = renewal(&agent.machine_id, &agent.key, at, execution);
        let reply = renew_with(&w.server, token, &path, &headers).await;
        let problem = expect(&reply, 401, &format!("a timestamp {off} s off"));
        assert!(
            problem["detail"].as_str().unwrap().contains("clock"),
            "{problem}"
        );
    }
    // Within the minute: a clock a little off is fine.
    let at = chrono::Utc::now().timestamp() - 30;
    let (path, headers) = renewal(&agent.machine_id, &agent.key, at, execution);
    let reply = renew_with(&w.server, token, &path, &headers).await;
    expect(&reply, 204, "a timestamp 30 s behind");

    // Changed after signing: the body, the path, the method, the Host. Nothing reaches the run.
    let logs_before = w.log_lines(ACME, execution).await;
    let logs = format!("/api/v1/agent/executions/{execution}/logs");
    let signed_body = ApiBody::Json(json!({ "lines": [{ "stream": "stdout", "line": "real" }] }));
    let headers = signed_headers(
        &agent.machine_id,
        &agent.key,
        &Method::POST,
        ACME,
        &logs,
        &signed_body,
    );
    let changed = ApiBody::Json(json!({ "lines": [{ "stream": "stdout", "line": "fake" }] }));
    let reply = send_with(
        &w.server,
        Method::POST,
        ACME,
        &logs,
        token,
        &headers,
        changed,
    )
    .await;
    expect(&reply, 401, "a body changed after signing");
    // (what, signed as: method, Host, path), each sent as GET /api/v1/agent/me on Acme's host.
    let me = "/api/v1/agent/me";
    for (what, method, host, path) in [
        (
            "a query changed after signing",
            Method::GET,
            ACME,
            "/api/v1/agent/me?x=1",
        ),
        ("another method than signed", Method::POST, ACME, me),
        (
            "another path than signed",
            Method::GET,
            ACME,
            "/api/v1/agent/claim",
        ),
        ("signed for another Host", Method::GET, "evil.localhost", me),
    ] {
        let headers = signed_headers(
            &agent.machine_id,
            &agent.key,
            &method,
            host,
            path,
            &ApiBody::Empty,
        );
        let reply = send_with(
            &w.server,
            Method::GET,
            ACME,
            me,
            token,
            &headers,
            ApiBody::Empty,
        );
        expect(&reply.await, 401, what);
    }
    assert_eq!(w.log_lines(ACME, execution).await, logs_before);
    expect(
        &agent
            .logs(&w.server, execution, &[("stdout", "real")])
            .await,
        204,
        "the real logs",
    );
    assert_eq!(w.log_lines(ACME, execution).await, logs_before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_belongs_to_its_first_machine_and_fixes_its_labels() {
    let w = world().await;
    w.skill(ACME, "lab-job", Some("lab"), false).await;
    let (_, admin_personal) = w.token(ACME, "acme-admin", TokenKind::Personal).await;
    let made = as_user(
        &w.server,
        Method::POST,
        ACME,
        "/api/v1/tokens",
        &admin_personal,
        ApiBody::Json(json!({ "name": "lab box", "kind": "agent", "labels": ["lab"] })),
    )
    .await;
    let token = expect(&made, 201, "an agent token for lab")["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let agents_rows = "SELECT count(*) FROM {schema}.agents";

    // Labels beyond the token's: refused with what the token allows; nothing stored.
    let first = TestAgent::new(ACME, &token);
    let reply = first.register(&w.server, &["lab", "gpu"]).await;
    let problem = expect(&reply, 403, "labels the token does not allow");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("gpu") && detail.contains("[lab]"),
        "{detail}"
    );
    assert_eq!(w.count_in(ACME, agents_rows).await, 0);
    // No labels declared: all the token allows.
    let view = expect(&first.register(&w.server, &[]).await, 200, "registering");
    assert_eq!(view["labels"], json!(["lab"]));
    let mut first = first;
    first.id = view["id"].as_i64().unwrap();
    // Once registered, still no label beyond the token's, and the stored ones stay.
    expect(
        &first.register(&w.server, &["other"]).await,
        403,
        "re-registering with another label",
    );
    let me = expect(&first.me(&w.server).await, 200, "describing");
    assert_eq!(me["agent"]["labels"], json!(["lab"]));

    // Another machine with the same token: refused, whatever key it signs with.
    let second = TestAgent::new(ACME, &token);
    let problem = expect(
        &second.register(&w.server, &["lab"]).await,
        409,
        "a second machine",
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("another machine"),
        "{problem}"
    );
    assert_eq!(w.count_in(ACME, agents_rows).await, 1);

    // Another agent's key with this token: that agent (its own token) signing as itself, or
    // as this machine, gets nowhere with this token.
    let stranger = w.new_agent(ACME, &["lab"]).await;
    let mut as_itself = stranger.clone();
    as_itself.token = token.clone();
    expect(
        &as_itself.me(&w.server).await,
        401,
        "another agent with this token",
    );
    let mut as_first = first.clone();
    as_first.key = stranger.key.clone();
    expect(
        &as_first.me(&w.server).await,
        401,
        "another agent's key for this machine",
    );
    expect(
        &as_first.register(&w.server, &["lab"]).await,
        409,
        "re-registering with another agent's key",
    );
    expect(&first.me(&w.server).await, 200, "the machine itself");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_registered_before_signatures_binds_its_key_with_the_old_machine_key() {
    let w = world().await;
    let (token_id, token) = w.token(ACME, "acme-admin", TokenKind::Agent).await;
    // As the migration leaves an agent of before: its key's hash, no public key.
    let mut agent = TestAgent::new(ACME, &token);
    let old_key = random_hex(32);
    let schema = w.acme.schema.as_str();
    sqlx::query(&format!(
        "INSERT INTO {schema}.agents (machine_id, key_hash, token_id, name, hostname, labels) \
         VALUES ($1, encode(sha256($2::bytea), 'hex'), $3, 'Old box', 'old', '{{lab}}')"
    ))
    .bind(&agent.machine_id)
    .bind(old_key.as_bytes())
    .bind(token_id)
    .execute(&w.ctx.pool)
    .await
    .unwrap();
    let problem = expect(
        &agent.me(&w.server).await,
        401,
        "an unsigned-era agent calling",
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("before requests were signed"),
        "{problem}"
    );

    // Binding a key needs the old machine key.
    let mut reg = agent.registration(&["lab"]);
    expect(
        &agent.register_with(&w.server, reg.clone()).await,
        409,
        "without the old key",
    );
    reg["machine_key"] = json!(random_hex(32));
    expect(
        &agent.register_with(&w.server, reg.clone()).await,
        409,
        "with a wrong old key",
    );
    reg["machine_key"] = json!(old_key);
    let view = expect(
        &agent.register_with(&w.server, reg).await,
        200,
        "with the old key",
    );
    agent.id = view["id"].as_i64().unwrap();
    expect(&agent.me(&w.server).await, 200, "signed, after binding");
    let (hash, public): (Option<String>, String) = sqlx::query_as(&format!(
        "SELECT key_hash, public_key FROM {schema}.agents WHERE id = $1"
    ))
    .bind(agent.id)
    .fetch_one(&w.ctx.pool)
    .await
    .unwrap();
    assert_eq!((hash, public), (None, agent.key.public_hex()));
    // A new machine still cannot take that token.
    let newcomer = TestAgent::new(ACME, &token);
    expect(
        &newcomer.register(&w.server, &["lab"]).await,
        409,
        "a new machine on the token",
    );
}

/// Tenant migration 0013 on the data of before: agent tokens get the labels their agents had
/// declared and belong to their first machine; an unused one allows no label; personal tokens
/// have none; agents keep their key hash until they bind a public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_gives_old_agent_tokens_their_agents_labels() {
    let ctx = seeded_ctx().await;
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/tenant");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (before, ours): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|f| f.file_name().unwrap().to_str().unwrap() < "0013");
    assert!(ours[0]
        .to_str()
        .unwrap()
        .ends_with("0013_agent_signatures.sql"));
    let mut tx = ctx.pool.begin().await.unwrap();
    sqlx::raw_sql("CREATE SCHEMA agents_migration_test; SET LOCAL search_path = agents_migration_test, public")
        .execute(&mut *tx)
        .await
        .unwrap();
    for file in &before {
        sqlx::raw_sql(&std::fs::read_to_string(file).unwrap())
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    sqlx::raw_sql(
        "INSERT INTO users (username, password_hash, role) VALUES ('admin', 'x', 'admin');
         INSERT INTO api_tokens (user_id, name, kind, token_hash, prefix, expires_at) VALUES
             (1, 'shared', 'agent', 'h1', 'egv_1', now() + interval '1 day'),
             (1, 'unused', 'agent', 'h2', 'egv_2', now() + interval '1 day'),
             (1, 'mine', 'personal', 'h3', 'egv_3', now() + interval '1 day');
         INSERT INTO agents (machine_id, key_hash, token_id, name, hostname, labels) VALUES
             ('11111111111111111111111111111111', 'k1', 1, 'one', 'one', '{lab,gpu}'),
             ('22222222222222222222222222222222', 'k2', 1, 'two', 'two', '{lab,x}');",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::raw_sql(&std::fs::read_to_string(&ours[0]).unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    let tokens: Vec<(String, Vec<String>, Option<String>)> =
        sqlx::query_as("SELECT name, labels, machine_id FROM api_tokens ORDER BY id")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(
        tokens,
        [
            (
                "shared".to_string(),
                vec!["gpu".to_string(), "lab".to_string(), "x".to_string()],
                Some("11111111111111111111111111111111".to_string())
            ),
            ("unused".to_string(), vec![], None),
            ("mine".to_string(), vec![], None),
        ]
    );
    let keys: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT key_hash, public_key FROM agents ORDER BY id")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(
        keys,
        [
            (Some("k1".to_string()), None),
            (Some("k2".to_string()), None)
        ]
    );
    // Nothing of the test stays.
    tx.rollback().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 3. Routing.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_go_to_agents_of_their_label_and_tenant_only() {
    let w = world().await;
    w.skill(ACME, "lab-job", Some("lab"), false).await;
    w.skill(ACME, "platform-job", None, false).await;
    w.skill(GLOBEX, "lab-job", Some("lab"), false).await;
    let acme_user = w.user(ACME, "acme-user").await;
    let globex_user = w.user(GLOBEX, "globex-user").await;
    let lab = w.new_agent(ACME, &["lab"]).await;
    let other = w.new_agent(ACME, &["other", "lab2", "lab.x"]).await;
    let globex_lab = w.new_agent(GLOBEX, &["lab"]).await;

    // Globex's lab execution first (the oldest), then Acme's platform and lab executions.
    let globex_job = w.request(GLOBEX, &globex_user, "lab-job", &[]).await;
    let platform = w.request(ACME, &acme_user, "platform-job", &[]).await;
    let acme_job = w.request(ACME, &acme_user, "lab-job", &[]).await;
    let labels: Vec<(i64, Option<String>)> = sqlx::query_as(
        "SELECT execution_id, agent_label FROM public.execution_queue WHERE tenant_id = $1 \
         ORDER BY execution_id",
    )
    .bind(w.acme.id)
    .fetch_all(&w.ctx.pool)
    .await
    .unwrap();
    assert_eq!(
        labels,
        [(platform, None), (acme_job, Some("lab".to_string()))],
        "enqueued with the skill's agent label"
    );

    // An agent without the label gets nothing, though three executions wait.
    expect(
        &other.claim(&w.server).await,
        204,
        "an agent labelled other",
    );
    // The lab agent of Acme gets Acme's lab execution, never the platform's or Globex's.
    let (got, attempt) = job(&lab.claim(&w.server).await, "Acme's lab agent");
    assert_eq!((got, attempt), (acme_job, 1));
    expect(
        &lab.claim(&w.server).await,
        204,
        "Acme's lab agent with Globex's lab and Acme's platform execution queued",
    );
    expect(&other.claim(&w.server).await, 204, "the other agent again");
    assert_eq!(w.status(ACME, platform).await, "queued");
    assert_eq!(w.status(GLOBEX, globex_job).await, "queued");
    assert_eq!(
        w.queue(GLOBEX, globex_job).await.map(|q| q.0),
        Some("queued".to_string())
    );

    // The platform's workers take the platform's execution, never an agent's.
    let second_lab = w.request(ACME, &acme_user, "lab-job", &[]).await;
    let policy = QueuePolicy::default();
    let claimed = executions::claim_next(&w.ctx, "platform-worker-1", &policy)
        .await
        .unwrap()
        .expect("the platform's execution is the platform's to claim");
    assert_eq!(
        (claimed.tenant_id, claimed.execution_id),
        (w.acme.id, platform)
    );
    assert!(
        executions::claim_next(&w.ctx, "platform-worker-2", &policy)
            .await
            .unwrap()
            .is_none(),
        "a platform worker claimed an agent's execution"
    );
    assert_eq!(w.status(ACME, second_lab).await, "queued");
    assert_eq!(w.status(GLOBEX, globex_job).await, "queued");

    // Globex's execution was there to take all along: for Globex's agent.
    let (got, _) = job(&globex_lab.claim(&w.server).await, "Globex's lab agent");
    assert_eq!(got, globex_job);
    let (state, worker, ..) = w.queue(GLOBEX, globex_job).await.unwrap();
    assert_eq!(
        (state.as_str(), worker),
        ("running", Some(globex_lab.worker_id()))
    );
    let (got, _) = job(&lab.claim(&w.server).await, "Acme's lab agent's second");
    assert_eq!(got, second_lab);
    expect(
        &globex_lab.claim(&w.server).await,
        204,
        "Globex's agent, nothing left",
    );

    // What each agent is told it can serve follows the same labels.
    let me = expect(&lab.me(&w.server).await, 200, "describing the lab agent");
    let slugs: Vec<&str> = me["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["lab-job"]);
    let me = expect(
        &other.me(&w.server).await,
        200,
        "describing the other agent",
    );
    assert_eq!(me["skills"], json!([]));
}

// ---------------------------------------------------------------------------------------------
// 4. Exactly one winner.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_ten_agents_racing_for_three_executions_exactly_three_win() {
    let w = world().await;
    w.skill(ACME, "lab-job", Some("lab"), false).await;
    let user = w.user(ACME, "acme-user").await;
    let mut agents = Vec::new();
    for _ in 0..10 {
        agents.push(w.new_agent(ACME, &["lab"]).await);
    }
    let mut queued = BTreeSet::new();
    for _ in 0..3 {
        queued.insert(w.request(ACME, &user, "lab-job", &[]).await);
    }

    let replies =
        futures::future::join_all(agents.iter().map(|agent| agent.claim(&w.server))).await;
    let mut winners = BTreeMap::new();
    let mut empty = 0;
    for (agent, reply) in agents.iter().zip(&replies) {
        match reply.status {
            200 => {
                let (id, attempt) = job(reply, "a winner");
                assert_eq!(attempt, 1);
                assert!(
                    winners.insert(id, agent.worker_id()).is_none(),
                    "execution {id} was handed to two agents"
                );
            }
            204 => empty += 1,
            other => panic!("a claim answered {other}: {}", reply.text()),
        }
    }
    assert_eq!(winners.len(), 3, "winners: {winners:?}");
    assert_eq!(empty, 7);
    assert_eq!(winners.keys().copied().collect::<BTreeSet<_>>(), queued);
    // The queue agrees: each held by its winner, started once.
    for (id, worker) in &winners {
        let (state, holder, attempts, _) = w.queue(ACME, *id).await.unwrap();
        assert_eq!(
            (state.as_str(), holder.as_deref(), attempts),
            ("running", Some(worker.as_str()), 1)
        );
        assert_eq!(w.status(ACME, *id).await, "running");
        assert_eq!(
            w.count_in(
                ACME,
                &format!(
                    "SELECT count(*) FROM {{schema}}.audit_log WHERE action = 'execution.start' \
                     AND target = 'execution {id}'"
                )
            )
            .await,
            1
        );
    }
    // And nobody gets anything more.
    let again = futures::future::join_all(agents.iter().map(|agent| agent.claim(&w.server))).await;
    for reply in &again {
        expect(reply, 204, "claiming with nothing left");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Only the holder.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_renews_logs_fetches_and_finishes() {
    let w = world().await;
    w.skill(ACME, "lab-job", Some("lab"), false).await;
    w.skill(GLOBEX, "lab-job", Some("lab"), false).await;
    w.skill(GLOBEX, "platform-job", None, false).await;
    let acme_user = w.user(ACME, "acme-user").await;
    let globex_user = w.user(GLOBEX, "globex-user").await;
    let a = w.new_agent(ACME, &["lab"]).await;
    let b = w.new_agent(ACME, &["lab"]).await;
    let globex_agent = w.new_agent(GLOBEX, &["lab"]).await;

    let x = w.request(ACME, &acme_user, "lab-job", &[]).await;
    let (got, _) = job(&a.claim(&w.server).await, "A claims");
    assert_eq!(got, x);
    // A Globex execution whose id is no Acme execution's (a platform one takes an id first).
    w.request(GLOBEX, &globex_user, "platform-job", &[]).await;
    let g = w.request(GLOBEX, &globex_user, "lab-job", &[]).await;
    assert_eq!(
        w.count_in(
            ACME,
            &format!("SELECT count(*) FROM {{schema}}.executions WHERE id = {g}")
        )
        .await,
        0,
        "pick a Globex execution id Acme does not have"
    );
    let (got, _) = job(
        &globex_agent.claim(&w.server).await,
        "Globex's agent claims",
    );
    assert_eq!(got, g);

    let x_before = w.queue(ACME, x).await;
    let g_before = w.queue(GLOBEX, g).await;
    // B on A's execution: a conflict, every time.
    for (call, reply) in [
        ("renew", b.renew(&w.server, x).await),
        ("logs", b.logs(&w.server, x, &[("stdout", "B was here")]).await),
        ("bundle", b.bundle(&w.server, x).await),
        ("finish", b.succeed(&w.server, x).await),
        (
            "finish with an artifact",
            b.finish(
                &w.server,
                x,
                json!({ "status": "failed", "reason": "B says so", "exit_code": 1, "result": null }),
                &[("note.txt", b"forged")],
            )
            .await,
        ),
    ] {
        expect(&reply, 409, &format!("B's {call} of A's execution"));
    }
    // B (and A) on Globex's execution id, through Acme's host: refused.
    for agent in [&a, &b] {
        for (call, reply) in [
            ("renew", agent.renew(&w.server, g).await),
            (
                "logs",
                agent
                    .logs(&w.server, g, &[("stdout", "cross-tenant")])
                    .await,
            ),
            ("bundle", agent.bundle(&w.server, g).await),
            ("finish", agent.succeed(&w.server, g).await),
        ] {
            assert!(
                [404, 409].contains(&reply.status),
                "{}'s {call} of Globex's execution: {} {}",
                agent.worker_id(),
                reply.status,
                reply.text()
            );
            expect(&reply, reply.status, "a refusal");
        }
    }
    // Nothing changed: the leases, the logs, the statuses, the artifacts.
    assert_eq!(w.queue(ACME, x).await, x_before);
    assert_eq!(w.queue(GLOBEX, g).await, g_before);
    assert_eq!(w.log_lines(ACME, x).await, 0);
    assert_eq!(w.log_lines(GLOBEX, g).await, 0);
    assert_eq!(w.status(ACME, x).await, "running");
    assert_eq!(w.status(GLOBEX, g).await, "running");
    assert_eq!(
        w.count_in(ACME, "SELECT count(*) FROM {schema}.artifacts")
            .await,
        0
    );
    assert_eq!(
        w.count_in(
            ACME,
            "SELECT count(*) FROM {schema}.audit_log WHERE action = 'execution.finish'"
        )
        .await,
        0
    );

    // The holders still hold.
    expect(&a.renew(&w.server, x).await, 204, "A renews");
    expect(
        &globex_agent.renew(&w.server, g).await,
        204,
        "Globex's agent renews",
    );
    let done = expect(&a.succeed(&w.server, x).await, 200, "A finishes");
    assert_eq!(done["status"], "succeeded");
    assert_eq!(w.status(ACME, x).await, "succeeded");
    assert_eq!(w.queue(ACME, x).await, None);
    // After the finish the execution is nobody's: every call is a conflict, nothing changes.
    expect(
        &a.renew(&w.server, x).await,
        409,
        "A renews after finishing",
    );
    expect(
        &a.logs(&w.server, x, &[("stdout", "late")]).await,
        409,
        "late logs",
    );
    expect(&a.bundle(&w.server, x).await, 409, "a late bundle");
    expect(
        &a.finish(
            &w.server,
            x,
            json!({ "status": "failed", "reason": "again", "exit_code": 2, "result": null }),
            &[],
        )
        .await,
        409,
        "finishing twice",
    );
    expect(
        &b.renew(&w.server, x).await,
        409,
        "B renews a finished execution",
    );
    assert_eq!(w.status(ACME, x).await, "succeeded");
    assert_eq!(w.log_lines(ACME, x).await, 0);
    assert_eq!(
        w.count_in(
            ACME,
            &format!(
                "SELECT count(*) FROM {{schema}}.audit_log WHERE action = 'execution.finish' \
                 AND target = 'execution {x}'"
            )
        )
        .await,
        1
    );
    // A finished execution is not claimed again.
    expect(&b.claim(&w.server).await, 204, "claiming after the finish");
}

// ---------------------------------------------------------------------------------------------
// 6. Finish validation and what a good finish records.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_is_validated_and_records_logs_artifacts_and_audit() {
    let w = world().await;
    w.skill(ACME, "lab-job", Some("lab"), false).await;
    let user = w.user(ACME, "acme-user").await;
    let (_, personal) = w.token(ACME, "acme-user", TokenKind::Personal).await;
    let (_, token) = w.token(ACME, "acme-admin", TokenKind::Agent).await;
    let agent = w.agent(ACME, &token, &["lab"]).await;
    let x = w.request(ACME, &user, "lab-job", &[]).await;
    let (got, _) = job(&agent.claim(&w.server).await, "claiming");
    assert_eq!(got, x);

    expect(
        &agent
            .logs(
                &w.server,
                x,
                &[
                    ("stdout", "first line out"),
                    ("stderr", "a warning"),
                    ("stdout", ""),
                ],
            )
            .await,
        204,
        "posting logs",
    );
    expect_invalid(
        &agent
            .logs(&w.server, x, &[("system", "forged system line")])
            .await,
        "stream",
        "a log line on the system stream",
    );
    expect(&agent.logs(&w.server, x, &[]).await, 204, "an empty batch");
    assert_eq!(w.log_lines(ACME, x).await, 3);

    let good = json!({
        "status": "succeeded",
        "reason": null,
        "exit_code": 0,
        "result": "[{\"total\": 42}]",
    });
    // Refused reports: nothing recorded, the execution still running and held.
    let mut bogus = good.clone();
    bogus["status"] = json!("bogus");
    expect_invalid(
        &agent.finish(&w.server, x, bogus, &[]).await,
        "status",
        "status bogus",
    );
    for path in [
        "../x", "/etc/x", "a/../b", "..", "a//b", "./x", "a\\b", "sub/",
    ] {
        let reply = agent
            .finish(
                &w.server,
                x,
                good.clone(),
                &[("ok.txt", b"fine"), (path, b"escape")],
            )
            .await;
        expect_invalid(&reply, "artifact", &format!("an artifact named {path:?}"));
    }
    // Two artifacts at one path, or a file where another needs a folder: refused as well (the
    // answers are checked at the end, so that the rest of the test runs whatever they are).
    let mut clashing = Vec::new();
    for pair in [
        [("same.txt", &b"one"[..]), ("same.txt", &b"two"[..])],
        [("a", &b"file"[..]), ("a/b", &b"under a file"[..])],
        [("a/b", &b"under a"[..]), ("a", &b"a file"[..])],
    ] {
        let reply = agent.finish(&w.server, x, good.clone(), &pair).await;
        clashing.push((format!("{:?}", [pair[0].0, pair[1].0]), reply));
    }
    let mut not_json = good.clone();
    not_json["result"] = json!("this is not JSON");
    expect_invalid(
        &agent.finish(&w.server, x, not_json, &[]).await,
        "result",
        "a result that is not JSON",
    );
    expect(
        &agent.finish_raw(&w.server, x, "{not a report", &[]).await,
        422,
        "a report that is not JSON",
    );
    expect(
        &agent
            .finish_raw(&w.server, x, r#"{"exit_code": 0}"#, &[])
            .await,
        422,
        "a report without a status",
    );
    let (content_type, body) = multipart_body(&[], &[("artifact", "a.txt", b"x")]);
    expect(
        &agent
            .call(
                &w.server,
                Method::POST,
                &format!("/api/v1/agent/executions/{x}/finish"),
                ApiBody::Raw(content_type, body),
            )
            .await,
        422,
        "a finish without a report",
    );
    assert_eq!(w.status(ACME, x).await, "running");
    let (state, holder, ..) = w.queue(ACME, x).await.expect("still queued");
    assert_eq!(
        (state.as_str(), holder),
        ("running", Some(agent.worker_id()))
    );
    assert_eq!(
        w.count_in(ACME, "SELECT count(*) FROM {schema}.artifacts")
            .await,
        0
    );
    let artifacts_dir = w.ctx.artifacts_dir(w.acme.id, x);
    assert!(
        !artifacts_dir.exists(),
        "a refused finish left artifacts at {}",
        artifacts_dir.display()
    );
    assert!(!w.ctx.data_dir.join("x").exists() && !std::path::Path::new("/etc/x").exists());
    expect(
        &agent.renew(&w.server, x).await,
        204,
        "still held after the refusals",
    );

    // A good finish with two artifacts, one in a subfolder.
    let report = b"Report\n=======\nAll fine.\n".to_vec();
    let binary: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let done = agent
        .finish(
            &w.server,
            x,
            good.clone(),
            &[("report.txt", &report), ("sub/data.bin", &binary)],
        )
        .await;
    let done = expect(&done, 200, "a good finish");
    assert_eq!(done, json!({ "status": "succeeded" }));
    assert_eq!(w.status(ACME, x).await, "succeeded");
    assert_eq!(
        w.queue(ACME, x).await,
        None,
        "the queue row outlived the finish"
    );

    for (path, bytes) in [("report.txt", &report), ("sub/data.bin", &binary)] {
        let reply = as_user(
            &w.server,
            Method::GET,
            ACME,
            &format!("/api/v1/executions/{x}/artifact?path={path}"),
            &personal,
            ApiBody::Empty,
        )
        .await;
        assert_eq!(reply.status, 200, "downloading {path}: {}", reply.text());
        assert_eq!(&reply.body, bytes, "the bytes of {path}");
    }
    let view = expect(
        &as_user(
            &w.server,
            Method::GET,
            ACME,
            &format!("/api/v1/executions/{x}"),
            &personal,
            ApiBody::Empty,
        )
        .await,
        200,
        "the execution",
    );
    assert_eq!(view["summary"]["status"], "succeeded", "{view}");
    let listed = view.to_string();
    assert!(
        listed.contains("report.txt") && listed.contains("sub/data.bin"),
        "the artifacts are not listed: {view}"
    );
    let result: Option<Value> = sqlx::query_scalar(&format!(
        "SELECT result::jsonb FROM {}.executions WHERE id = $1",
        w.acme.schema.as_str()
    ))
    .bind(x)
    .fetch_one(&w.ctx.pool)
    .await
    .unwrap();
    assert_eq!(result, Some(json!([{ "total": 42 }])));

    let logs = expect(
        &as_user(
            &w.server,
            Method::GET,
            ACME,
            &format!("/api/v1/executions/{x}/logs?after=0"),
            &personal,
            ApiBody::Empty,
        )
        .await,
        200,
        "the logs",
    );
    assert_eq!(logs["finished"], true);
    let lines: Vec<(String, String)> = logs["lines"]
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
    for want in [("stdout", "first line out"), ("stderr", "a warning")] {
        assert!(
            lines.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} not in the logs: {lines:?}"
        );
    }
    assert!(
        !lines.iter().any(|(_, l)| l.contains("forged")),
        "a refused line was stored: {lines:?}"
    );

    let worker = format!("worker {}", agent.worker_id());
    for action in ["execution.start", "execution.finish"] {
        assert_eq!(
            w.count_in(
                ACME,
                &format!(
                    "SELECT count(*) FROM {{schema}}.audit_log WHERE action = '{action}' \
                     AND target = 'execution {x}' AND actor = '{worker}'"
                )
            )
            .await,
            1,
            "{action} by {worker}"
        );
    }
    let wrong: Vec<String> = clashing
        .iter()
        .filter(|(_, reply)| reply.status != 422)
        .map(|(what, reply)| format!("{what}: {} {}", reply.status, reply.text()))
        .collect();
    assert!(
        wrong.is_empty(),
        "clashing artifact paths are not refused as invalid:\n{}",
        wrong.join("\n")
    );
    for (what, reply) in &clashing {
        expect_invalid(reply, "artifact", &format!("the artifacts {what}"));
    }
}

// ---------------------------------------------------------------------------------------------
// 7. The bundle.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_holds_the_script_folder_and_the_uploads() {
    let w = world().await;
    let files = w.skill(ACME, "lab-upload", Some("lab"), true).await;
    let user = w.user(ACME, "acme-user").await;
    let agent = w.new_agent(ACME, &["lab"]).await;
    let other = w.new_agent(ACME, &["lab"]).await;
    let upload: Vec<u8> = b"a,b\n1,2\n"
        .iter()
        .copied()
        .chain((0..=255u8).rev())
        .collect();
    let x = w
        .request(
            ACME,
            &user,
            "lab-upload",
            &[Upload {
                field: "data".into(),
                file_name: "numbers.csv".into(),
                bytes: upload.clone(),
            }],
        )
        .await;
    let claimed = expect(&agent.claim(&w.server).await, 200, "claiming");
    assert_eq!(claimed["execution_id"], x);
    assert_eq!(claimed["language"], "shell");
    assert_eq!(claimed["skill"], "lab-upload");
    assert!(
        claimed["inputs"].to_string().contains("numbers.csv"),
        "the inputs name the upload: {claimed}"
    );
    // What the agent renders the arguments from, as the platform's workers do.
    assert_eq!(
        claimed["invocation"]["args"],
        serde_json::json!(["--data", "{data}"])
    );
    assert_eq!(claimed["input_schema"]["fields"][0]["type"], "file");

    expect(
        &other.bundle(&w.server, x).await,
        409,
        "another agent's bundle",
    );
    let reply = agent.bundle(&w.server, x).await;
    assert_eq!(reply.status, 200, "the bundle: {}", reply.text());
    assert_eq!(reply.content_type, "application/x-tar");
    let mut entries = BTreeMap::new();
    let mut archive = tar::Archive::new(Cursor::new(reply.body.clone()));
    for entry in archive.entries().expect("a tar") {
        let mut entry = entry.expect("a tar entry");
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        assert!(
            entry.header().entry_type().is_file(),
            "{path} is not a regular file"
        );
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        entries.insert(path, bytes);
    }
    for (name, bytes) in &files {
        assert_eq!(
            entries.get(&format!("script/{name}")),
            Some(bytes),
            "script/{name} in the bundle (entries: {:?})",
            entries.keys().collect::<Vec<_>>()
        );
    }
    assert_eq!(
        entries.get("files/numbers.csv"),
        Some(&upload),
        "the upload in the bundle (entries: {:?})",
        entries.keys().collect::<Vec<_>>()
    );
    for path in entries.keys() {
        assert!(
            (path.starts_with("script/") || path.starts_with("files/")) && !path.contains(".."),
            "an unexpected entry {path}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Lease loss.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_stops_renewing_loses_the_execution_to_another() {
    let w = world_with(short_lease(seeded_ctx().await)).await;
    w.skill(ACME, "lab-job", Some("lab"), false).await;
    let user = w.user(ACME, "acme-user").await;
    let quiet = w.new_agent(ACME, &["lab"]).await;
    let second = w.new_agent(ACME, &["lab"]).await;
    let x = w.request(ACME, &user, "lab-job", &[]).await;

    let claimed = expect(&quiet.claim(&w.server).await, 200, "the first claim");
    assert_eq!(claimed["execution_id"], x);
    assert_eq!(claimed["attempt"], 1);
    assert_eq!(claimed["lease_seconds"], 2);
    // Within the lease the reaper leaves it alone.
    assert_eq!(executions::reap_expired(&w.ctx).await.unwrap(), 0);
    expect(
        &second.claim(&w.server).await,
        204,
        "nothing while the lease holds",
    );

    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(executions::reap_expired(&w.ctx).await.unwrap(), 1);
    assert_eq!(w.status(ACME, x).await, "queued");
    let (state, holder, attempts, _) = w.queue(ACME, x).await.expect("queued again");
    assert_eq!((state.as_str(), holder, attempts), ("queued", None, 1));

    let (got, attempt) = job(&second.claim(&w.server).await, "the second agent claims");
    assert_eq!((got, attempt), (x, 2));
    // The first agent wakes up: every call about it is a conflict, nothing recorded.
    expect(
        &quiet.renew(&w.server, x).await,
        409,
        "the quiet agent renews",
    );
    expect(
        &quiet.logs(&w.server, x, &[("stdout", "stale")]).await,
        409,
        "the quiet agent's logs",
    );
    expect(
        &quiet
            .finish(
                &w.server,
                x,
                json!({ "status": "succeeded", "exit_code": 0, "reason": null, "result": "{\"stale\": true}" }),
                &[("stale.txt", b"stale")],
            )
            .await,
        409,
        "the quiet agent's finish",
    );
    assert_eq!(w.status(ACME, x).await, "running");
    let (state, holder, ..) = w.queue(ACME, x).await.unwrap();
    assert_eq!(
        (state.as_str(), holder),
        ("running", Some(second.worker_id()))
    );
    assert_eq!(w.log_lines(ACME, x).await, 0);

    expect(&second.renew(&w.server, x).await, 204, "the second renews");
    let done = expect(
        &second
            .finish(
                &w.server,
                x,
                json!({ "status": "succeeded", "exit_code": 0, "reason": null, "result": "{\"second\": true}" }),
                &[("note.txt", b"second")],
            )
            .await,
        200,
        "the second agent's finish",
    );
    assert_eq!(done["status"], "succeeded");
    assert_eq!(w.status(ACME, x).await, "succeeded");
    let artifacts: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT path FROM {}.artifacts WHERE execution_id = $1",
        w.acme.schema.as_str()
    ))
    .bind(x)
    .fetch_all(&w.ctx.pool)
    .await
    .unwrap();
    assert_eq!(artifacts, ["note.txt"]);
    for (action, count) in [
        ("execution.start", 2),
        ("execution.requeue", 1),
        ("execution.finish", 1),
    ] {
        assert_eq!(
            w.count_in(
                ACME,
                &format!(
                    "SELECT count(*) FROM {{schema}}.audit_log WHERE action = '{action}' \
                     AND target = 'execution {x}'"
                )
            )
            .await,
            count,
            "{action}"
        );
    }
    assert_eq!(
        w.count_in(
            ACME,
            &format!(
                "SELECT count(*) FROM {{schema}}.audit_log WHERE action = 'execution.finish' \
                 AND target = 'execution {x}' AND actor = 'worker {}'",
                second.worker_id()
            )
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_agent_loses_its_claim_at_once_and_is_locked_out() {
    // The default 30 s lease: only the revocation can end it within this test.
    let w = world().await;
    w.skill(ACME, "lab-job", Some("lab"), false).await;
    let user = w.user(ACME, "acme-user").await;
    let (_, admin_personal) = w.token(ACME, "acme-admin", TokenKind::Personal).await;
    let rogue = w.new_agent(ACME, &["lab"]).await;
    let good = w.new_agent(ACME, &["lab"]).await;
    let x = w.request(ACME, &user, "lab-job", &[]).await;
    let (got, _) = job(&rogue.claim(&w.server).await, "the rogue claims");
    assert_eq!(got, x);
    assert_eq!(executions::reap_expired(&w.ctx).await.unwrap(), 0);

    expect(
        &revoke_agent(&w.server, ACME, rogue.id, &admin_personal).await,
        204,
        "revoking the rogue",
    );
    assert_eq!(
        executions::reap_expired(&w.ctx).await.unwrap(),
        1,
        "the revoked agent's lease did not expire at once"
    );
    assert_eq!(w.status(ACME, x).await, "queued");

    for (call, reply) in every_call(&rogue, &w.server, x).await {
        expect(&reply, 403, &format!("the revoked agent's {call}"));
    }
    expect(
        &rogue.register(&w.server, &["lab"]).await,
        403,
        "the revoked agent registering again",
    );
    assert_eq!(w.status(ACME, x).await, "queued");
    assert_eq!(w.log_lines(ACME, x).await, 0);

    let (got, attempt) = job(&good.claim(&w.server).await, "another agent claims");
    assert_eq!((got, attempt), (x, 2));
    expect(
        &good.succeed(&w.server, x).await,
        200,
        "the other agent finishes",
    );
    assert_eq!(w.status(ACME, x).await, "succeeded");
    assert_eq!(
        w.count_in(
            ACME,
            &format!(
                "SELECT count(*) FROM {{schema}}.audit_log WHERE action = 'agent.revoke' \
                 AND target = 'agent {}'",
                rogue.id
            )
        )
        .await,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// 9. The admins' list.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_are_listed_and_revoked_by_their_own_tenants_admins_only() {
    let w = world().await;
    w.skill(ACME, "lab-job", Some("lab"), false).await;
    let user = w.user(ACME, "acme-user").await;
    let (_, acme_admin) = w.token(ACME, "acme-admin", TokenKind::Personal).await;
    let (_, acme_member) = w.token(ACME, "acme-user", TokenKind::Personal).await;
    let (_, globex_admin) = w.token(GLOBEX, "globex-admin", TokenKind::Personal).await;
    let doomed = w.new_agent(ACME, &["lab"]).await;
    let busy = w.new_agent(ACME, &["lab", "gpu"]).await;
    let globex_agent = w.new_agent(GLOBEX, &["lab"]).await;
    assert_ne!(busy.id, globex_agent.id, "ids to tell the tenants apart");
    let x = w.request(ACME, &user, "lab-job", &[]).await;
    let (got, _) = job(&busy.claim(&w.server).await, "claiming");
    assert_eq!(got, x);

    let list = |token: String, host: &'static str| {
        let server = &w.server;
        async move {
            as_user(
                server,
                Method::GET,
                host,
                "/api/v1/agents",
                &token,
                ApiBody::Empty,
            )
            .await
        }
    };
    // Members may neither list nor revoke; agent tokens are no personal tokens.
    expect(
        &list(acme_member.clone(), ACME).await,
        403,
        "a member listing agents",
    );
    expect(
        &list(doomed.token.clone(), ACME).await,
        401,
        "an agent token listing agents",
    );
    expect(
        &revoke_agent(&w.server, ACME, doomed.id, &acme_member).await,
        403,
        "a member revoking an agent",
    );
    expect(
        &doomed.me(&w.server).await,
        200,
        "the agent after a member's attempt",
    );

    // Globex's admin sees only Globex's agents, and cannot revoke Acme's.
    let seen = expect(
        &list(globex_admin.clone(), GLOBEX).await,
        200,
        "Globex's list",
    );
    let seen = seen.as_array().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["machine_id"], globex_agent.machine_id.as_str());
    expect(
        &revoke_agent(&w.server, GLOBEX, busy.id, &globex_admin).await,
        404,
        "Globex's admin revoking Acme's agent",
    );
    expect(
        &revoke_agent(&w.server, ACME, doomed.id, &globex_admin).await,
        401,
        "Globex's admin token on Acme's host",
    );
    expect(
        &busy.me(&w.server).await,
        200,
        "Acme's busy agent is untouched",
    );
    expect(
        &doomed.me(&w.server).await,
        200,
        "Acme's other agent is untouched",
    );
    assert_eq!(w.status(ACME, x).await, "running");
    expect(&globex_agent.me(&w.server).await, 200, "Globex's agent");

    // Acme's admin revokes one and sees both, with their status.
    expect(
        &revoke_agent(&w.server, ACME, doomed.id, &acme_admin).await,
        204,
        "Acme's admin revoking",
    );
    expect(
        &as_user(
            &w.server,
            Method::DELETE,
            ACME,
            "/api/v1/agents/999999",
            &acme_admin,
            ApiBody::Empty,
        )
        .await,
        404,
        "revoking no agent",
    );
    let listed = expect(&list(acme_admin.clone(), ACME).await, 200, "Acme's list");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let by_id: BTreeMap<i64, &Value> = listed
        .iter()
        .map(|a| (a["id"].as_i64().unwrap(), a))
        .collect();
    let busy_view = by_id[&busy.id];
    assert_eq!(busy_view["status"], "online");
    assert_eq!(busy_view["running"], 1);
    assert_eq!(busy_view["labels"], json!(["gpu", "lab"]));
    assert_eq!(busy_view["machine_id"], busy.machine_id.as_str());
    let doomed_view = by_id[&doomed.id];
    assert_eq!(doomed_view["status"], "revoked");
    assert_eq!(doomed_view["running"], 0);
    assert!(
        !Value::Array(listed.to_vec())
            .to_string()
            .contains(&globex_agent.machine_id),
        "Acme's list shows Globex's agent"
    );
    assert!(
        !listed
            .iter()
            .any(|a| a.to_string().contains(&busy.key.to_hex())
                || a.to_string().contains(&doomed.key.to_hex())),
        "the list shows machine keys"
    );
    // Globex's agent was never touched.
    let seen = expect(
        &list(globex_admin, GLOBEX).await,
        200,
        "Globex's list again",
    );
    assert_eq!(seen[0]["status"], "online");
}

// ---------------------------------------------------------------------------------------------
// 9. The OpenAPI document tells clients what the server enforces.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_shows_token_labels_and_the_public_key() {
    let w = world().await;
    let reply = send(
        &w.server,
        Method::GET,
        ACME,
        "/api/v1/openapi.json",
        None,
        None,
        ApiBody::Empty,
    )
    .await;
    let doc = expect(&reply, 200, "the OpenAPI document");
    let schemas = &doc["components"]["schemas"];
    // A new token is personal (no labels) or an agent token with 1 to 32 valid labels; nothing
    // else is accepted, so nothing else is documented.
    let resolve = |v: &Value| -> Value {
        match v["$ref"].as_str() {
            Some(r) => schemas[r.rsplit('/').next().unwrap()].clone(),
            None => v.clone(),
        }
    };
    let new_token = &schemas["NewToken"];
    let branches: Vec<Value> = new_token["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("NewToken is one of two shapes: {new_token}"))
        .iter()
        .map(resolve)
        .collect();
    assert_eq!(branches.len(), 2, "{new_token}");
    for branch in &branches {
        assert_eq!(branch["additionalProperties"], json!(false), "{branch}");
        let name = &branch["properties"]["name"];
        assert_eq!(
            (&name["minLength"], &name["maxLength"]),
            (&json!(1), &json!(80)),
            "{branch}"
        );
        assert!(name["pattern"].is_string(), "{branch}");
        let days = branch["properties"]["days"].to_string();
        assert!(
            days.contains("\"minimum\":1") && days.contains("\"maximum\":366"),
            "{days}"
        );
    }
    let agent = branches
        .iter()
        .find(|b| b["properties"].get("labels").is_some())
        .expect("an agent token branch");
    let required: Vec<&str> = agent["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        required.contains(&"labels") && required.contains(&"kind"),
        "{agent}"
    );
    let labels = &agent["properties"]["labels"];
    assert_eq!(
        (labels["minItems"].clone(), labels["maxItems"].clone()),
        (json!(1), json!(32)),
        "{labels}"
    );
    assert_eq!(
        resolve(&labels["items"])["pattern"],
        "^[a-z0-9._-]{1,64}$",
        "{labels}"
    );
    assert!(
        serde_json::to_string(&schemas["ApiToken"]["properties"])
            .unwrap()
            .contains("labels"),
        "tokens are listed with their labels"
    );
    // An agent registers a public key; the old machine key is optional (once, to upgrade).
    let registration = &schemas["AgentRegistration"];
    let required: Vec<&str> = registration["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(required.contains(&"public_key"), "{registration}");
    assert!(
        !required.contains(&"machine_key") && !required.contains(&"labels"),
        "{registration}"
    );
}
