//! Shared by the integration tests: a private PostgreSQL cluster under `target/test-pg` (started
//! by the first test that needs it, found again by the next), a fresh database per test, and
//! the real router served on a loopback port.
//!
//! Tests that serve pages run on a multi-threaded runtime, as the server does: with several
//! current-thread runtimes in one test process, a Leptos page render occasionally never finished
//! (2 runs in 15 of four parallel tests; none in 55 multi-threaded runs).
#![allow(dead_code)] // each test binary uses its own part of this module

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use domain::Ctx;
use leptos::config::LeptosOptions;
use rand::Rng;
use server::postgres::PrivateCluster;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::OnceCell;

/// The password of every seeded account in tests.
pub const PASSWORD: &str = "test-Password-1234";

static CLUSTER: OnceCell<PrivateCluster> = OnceCell::const_new();

async fn cluster() -> &'static PrivateCluster {
    CLUSTER
        .get_or_init(|| async {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-pg");
            let cluster = PrivateCluster::start(&root, None)
                .await
                .expect("starting the test PostgreSQL cluster");
            // Earlier test binaries' databases (about 11 MB each) and their files.
            for name in cluster
                .drop_idle_databases("t_")
                .await
                .expect("dropping earlier test databases")
            {
                let _ = std::fs::remove_dir_all(test_data_dir(&name));
            }
            cluster
        })
        .await
}

/// A test database: the context the product uses, and how to open more connections to it
/// (as the application's ordinary role) for tests that build their own pool.
pub struct TestDb {
    pub ctx: Ctx,
    pub options: PgConnectOptions,
    /// The database's name in the shared test cluster.
    pub name: String,
}

impl TestDb {
    /// The cluster's superuser on this database: only for setting up test faults the
    /// application's role cannot (event triggers). The product never connects like this.
    pub async fn superuser_options(&self) -> PgConnectOptions {
        cluster().await.admin_options().database(&self.name)
    }
}

/// The files (scripts, work dirs, artifacts) of the test database `name`.
fn test_data_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-data")
        .join(name)
}

/// A migrated, empty database of its own, with its connect options.
pub async fn fresh_db() -> TestDb {
    let cluster = cluster().await;
    let name = format!(
        "t_{}_{:016x}",
        std::process::id(),
        rand::thread_rng().gen::<u64>()
    );
    cluster
        .create_database(&name)
        .await
        .expect("creating a test database");
    let options = cluster.app_options(&name);
    let pool = domain::db::connect(options.clone(), 5)
        .await
        .expect("connecting to the test database");
    domain::db::migrate(&pool).await.expect("migrating");
    // Each test database gets its own data directory (scripts, work dirs, artifacts).
    let data_dir = test_data_dir(&name);
    TestDb {
        ctx: Ctx::new(pool, data_dir),
        options,
        name,
    }
}

/// A migrated, empty database of its own.
pub async fn fresh_ctx() -> Ctx {
    fresh_db().await.ctx
}

/// A fresh database with the demo seeded (every password is `PASSWORD`), with its connect options.
pub async fn seeded_db() -> TestDb {
    let db = fresh_db().await;
    domain::seed::seed_demo(&db.ctx, Some(PASSWORD))
        .await
        .expect("seeding the demo");
    db
}

/// A fresh database with the demo seeded (every password is `PASSWORD`).
pub async fn seeded_ctx() -> Ctx {
    seeded_db().await.ctx
}

// ---------------------------------------------------------------------------------------------
// Looking at the database directly (as the application role, bypassing the product's code).

/// The tenant schemas that exist in the database (`tenant_%` in `pg_namespace`), sorted.
pub async fn tenant_schemas(ctx: &Ctx) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY nspname",
    )
    .fetch_all(&ctx.pool)
    .await
    .expect("listing schemas")
}

/// `SELECT count(*)` of a `public` table (or any query returning one bigint).
pub async fn count(ctx: &Ctx, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&ctx.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// What provisioning creates, counted: tenants, tenant schemas, host bindings, platform users.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Footprint {
    pub tenants: i64,
    pub schemas: Vec<String>,
    pub bindings: i64,
    pub platform_users: i64,
}

pub async fn footprint(ctx: &Ctx) -> Footprint {
    Footprint {
        tenants: count(ctx, "SELECT count(*) FROM public.tenants").await,
        schemas: tenant_schemas(ctx).await,
        bindings: count(ctx, "SELECT count(*) FROM public.host_bindings").await,
        platform_users: count(ctx, "SELECT count(*) FROM public.platform_users").await,
    }
}

/// The user names stored in one tenant schema, sorted (read directly, schema-qualified).
pub async fn usernames_in(ctx: &Ctx, schema: &str) -> Vec<String> {
    domain::db::TenantSchema::parse(schema).expect("a tenant schema name");
    sqlx::query_scalar(&format!(
        "SELECT username FROM {schema}.users ORDER BY username"
    ))
    .fetch_all(&ctx.pool)
    .await
    .expect("listing users")
}

/// A tenant's binding as the product resolves it; panics if the host is not bound to a tenant.
pub async fn tenant_of(ctx: &Ctx, host: &str) -> domain::tenancy::Tenant {
    domain::tenancy::resolve_host(ctx, host)
        .await
        .expect("resolving a host")
        .and_then(|b| b.tenant)
        .unwrap_or_else(|| panic!("{host} is not bound to a tenant"))
}

/// The real router on a loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub ctx: Ctx,
    pub client: reqwest::Client,
}

pub async fn start_server(ctx: Ctx) -> TestServer {
    start_server_with(ctx, server::router).await
}

/// `start_server` with the router `make` builds (e.g. with other settings).
pub async fn start_server_with(
    ctx: Ctx,
    make: impl FnOnce(Ctx, LeptosOptions) -> axum::Router,
) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let site_root = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site");
    let options = server::leptos_options(std::path::Path::new(site_root), addr);
    let app = make(ctx.clone(), options);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A response that never comes fails its test instead of stalling the whole run.
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    TestServer { addr, ctx, client }
}

/// An HTTP client like `start_server`'s: no redirects followed, a generous timeout.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

impl TestServer {
    /// A server already listening at `addr` (e.g. the real binary started by a test), using the
    /// test database behind `ctx`.
    pub fn at(addr: SocketAddr, ctx: Ctx) -> TestServer {
        TestServer {
            addr,
            ctx,
            client: http_client(),
        }
    }
}

/// A `DATABASE_URL` for the real server binary: the application's role on the test database,
/// through the test cluster's Unix socket.
pub async fn database_url(db: &TestDb) -> String {
    cluster().await.app_url(&db.name)
}

/// A response, reduced to what the tests look at.
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// The session cookie's value if the response set one.
    pub session: Option<String>,
    /// Every `Set-Cookie` header of the response, as sent.
    pub set_cookies: Vec<String>,
    /// The `Location` header, for redirects.
    pub location: Option<String>,
    /// The `Retry-After` header (429, 503).
    pub retry_after: Option<String>,
}

impl Reply {
    /// The body as JSON; panics (showing the body) if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// The `kind` of a server function's error (`"Forbidden"`, …), if the body is one.
    pub fn error_kind(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        v.get("kind")?.as_str().map(str::to_string)
    }

    /// The human message of a server function's error ("" if the body is not one).
    pub fn error_message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Asserts a server function call failed with one of `kinds`, answered with that kind's
    /// HTTP status (`Invalid` 422, `Conflict` 409, `NotFound` 404, `Unauthenticated` 401,
    /// `Forbidden` 403, `TooManyRequests` 429, `TooLarge` 413, `Unavailable` 503, `Internal` 500).
    #[track_caller]
    pub fn assert_refused(&self, kinds: &[&str]) {
        let kind = self.error_kind();
        assert!(
            kind.as_deref().is_some_and(|k| kinds.contains(&k)),
            "expected one of {kinds:?}, got {}: {}",
            self.status,
            self.body
        );
        let kind = kind.unwrap_or_default();
        assert_eq!(
            Some(self.status),
            status_of_kind(&kind),
            "the HTTP status of a {kind} error: {}",
            self.body
        );
    }

    /// Asserts a server function call succeeded.
    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(self.status, 200, "expected success: {}", self.body);
    }
}

/// The HTTP status an error kind must be answered with.
pub fn status_of_kind(kind: &str) -> Option<u16> {
    Some(match kind {
        "Invalid" => 422,
        "Conflict" => 409,
        "NotFound" => 404,
        "Unauthenticated" => 401,
        "Forbidden" => 403,
        "TooManyRequests" => 429,
        "TooLarge" => 413,
        "Unavailable" => 503,
        "Internal" => 500,
        _ => return None,
    })
}

/// The user a rendered page says is signed in (the header's `who` element), if any.
pub fn who(page: &str) -> Option<String> {
    let start = page.find(r#"data-testid="who""#)?;
    let rest = &page[start..];
    let text = &rest[rest.find('>')? + 1..];
    Some(text[..text.find('<')?].to_string())
}

/// Extra request headers for `TestServer::call_with`.
#[derive(Default, Clone, Copy)]
pub struct Extra<'a> {
    pub user_agent: Option<&'a str>,
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn reply(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect();
        let session = set_cookies
            .iter()
            .filter_map(|v| v.strip_prefix("execgov_session="))
            .map(|v| v.split(';').next().unwrap_or("").to_string())
            .find(|v| !v.is_empty());
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (location, retry_after) = (
            header(reqwest::header::LOCATION),
            header(reqwest::header::RETRY_AFTER),
        );
        Reply {
            status,
            body: resp.text().await.unwrap_or_default(),
            session,
            set_cookies,
            location,
            retry_after,
        }
    }

    /// GET `path` with `Host: host`, optionally with a session cookie.
    pub async fn get(&self, host: &str, path: &str, session: Option<&str>) -> Reply {
        let mut req = self
            .client
            .get(self.url(path))
            .header(reqwest::header::HOST, host);
        if let Some(s) = session {
            req = req.header(reqwest::header::COOKIE, format!("execgov_session={s}"));
        }
        Self::reply(req.send().await.unwrap()).await
    }

    /// Calls the server function at `/api/<endpoint>` the way a form does (url-encoded POST),
    /// asking for JSON back.
    pub async fn call(
        &self,
        host: &str,
        endpoint: &str,
        form: &[(&str, &str)],
        session: Option<&str>,
    ) -> Reply {
        self.call_with(host, endpoint, form, session, Extra::default())
            .await
    }

    /// `call`, with extra request headers.
    pub async fn call_with(
        &self,
        host: &str,
        endpoint: &str,
        form: &[(&str, &str)],
        session: Option<&str>,
        extra: Extra<'_>,
    ) -> Reply {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut req = self
            .client
            .post(self.url(&format!("/api/{endpoint}")))
            .header(reqwest::header::HOST, host)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        if let Some(s) = session {
            req = req.header(reqwest::header::COOKIE, format!("execgov_session={s}"));
        }
        if let Some(ua) = extra.user_agent {
            req = req.header(reqwest::header::USER_AGENT, ua);
        }
        Self::reply(req.send().await.unwrap()).await
    }

    /// POST `path` with `Host: host` and an empty form body (for paths that are not server fns).
    pub async fn post(&self, host: &str, path: &str) -> Reply {
        let req = self
            .client
            .post(self.url(path))
            .header(reqwest::header::HOST, host)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body("");
        Self::reply(req.send().await.unwrap()).await
    }

    /// POST `path` as a `multipart/form-data` form (as a browser sends a form with files):
    /// text `fields`, then `files` as (field, file name, bytes).
    pub async fn post_multipart(
        &self,
        host: &str,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
        session: Option<&str>,
    ) -> Reply {
        let (content_type, body) = multipart_body(fields, files);
        let mut req = self
            .client
            .post(self.url(path))
            .header(reqwest::header::HOST, host)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(s) = session {
            req = req.header(reqwest::header::COOKIE, format!("execgov_session={s}"));
        }
        Self::reply(req.send().await.unwrap()).await
    }

    /// Signs in on `host` and returns the session cookie value; panics if refused.
    pub async fn login(&self, host: &str, username: &str, password: &str) -> String {
        let reply = self
            .call(
                host,
                "login",
                &[("username", username), ("password", password)],
                None,
            )
            .await;
        assert_eq!(
            reply.status, 200,
            "login of {username} on {host}: {}",
            reply.body
        );
        reply.session.expect("login sets a session cookie")
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The REST API (`/api/v1`): requests with a bearer token, answers with their headers.

/// A `.zip` of `files` (path, bytes), as a submission's archive or a folder input.
pub fn zip_of<N: AsRef<str>, B: AsRef<[u8]>>(files: &[(N, B)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        zip.start_file(name.as_ref(), zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes.as_ref()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A `multipart/form-data` body: text `fields`, then `files` as (field, file name, bytes).
/// Returns the `Content-Type` (with its boundary) and the body.
pub fn multipart_body(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("----execgov-test-{:032x}", rand::thread_rng().gen::<u128>());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    for (name, file_name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A request's body for `TestServer::api`.
pub enum ApiBody {
    Empty,
    Json(serde_json::Value),
    /// Any bytes with this `Content-Type` (malformed bodies, multipart from `multipart_body`).
    Raw(String, Vec<u8>),
}

/// An API response with the headers the tests look at.
pub struct ApiReply {
    pub status: u16,
    /// The `Content-Type` without parameters ("" if none).
    pub content_type: String,
    pub www_authenticate: Option<String>,
    pub location: Option<String>,
    pub content_disposition: Option<String>,
    pub body: Vec<u8>,
}

impl ApiReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (showing the body) if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }
}

impl TestServer {
    /// `method` `path` with `Host: host`, `Authorization: Bearer <bearer>` when given, and `body`.
    pub async fn api(
        &self,
        method: reqwest::Method,
        host: &str,
        path: &str,
        bearer: Option<&str>,
        body: ApiBody,
    ) -> ApiReply {
        self.api_with_headers(method, host, path, bearer, &[], body)
            .await
    }

    /// [`TestServer::api`] with more headers (e.g. a local agent's machine id and key).
    pub async fn api_with_headers(
        &self,
        method: reqwest::Method,
        host: &str,
        path: &str,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
        body: ApiBody,
    ) -> ApiReply {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header(reqwest::header::HOST, host);
        if let Some(token) = bearer {
            req = req.header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req = match body {
            ApiBody::Empty => req,
            ApiBody::Json(value) => req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(value.to_string()),
            ApiBody::Raw(content_type, bytes) => req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes),
        };
        let resp = req.send().await.unwrap();
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE)
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        let www_authenticate = header(reqwest::header::WWW_AUTHENTICATE);
        let location = header(reqwest::header::LOCATION);
        let content_disposition = header(reqwest::header::CONTENT_DISPOSITION);
        ApiReply {
            status: resp.status().as_u16(),
            content_type,
            www_authenticate,
            location,
            content_disposition,
            body: resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The real binary, as a child process.

/// The `execgov` binary running against a test database; killed (this PID only) when dropped,
/// also when the test panics.
pub struct ChildServer {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl ChildServer {
    /// Starts it with sandbox uids from `first_uid` (64 of them), so parallel tests never share.
    pub async fn start(db: &TestDb, first_uid: u32) -> ChildServer {
        let url = database_url(db).await;
        ChildServer::spawn(Some(&url), &db.ctx.data_dir, first_uid, &[]).await
    }

    /// Starts it on the database at `url` with its own `data_dir` and more settings (`env`,
    /// e.g. its role): one of several processes on one database.
    pub async fn start_with(
        url: &str,
        data_dir: &std::path::Path,
        first_uid: u32,
        env: &[(&str, &str)],
    ) -> ChildServer {
        ChildServer::spawn(Some(url), data_dir, first_uid, env).await
    }

    /// Starts it without `DATABASE_URL`: with a private PostgreSQL cluster of its own under
    /// `data_dir`, as a fresh installation does. Stop it with [`ChildServer::stop`], which stops
    /// that cluster too.
    pub async fn start_private(data_dir: &std::path::Path, first_uid: u32) -> ChildServer {
        ChildServer::spawn(None, data_dir, first_uid, &[]).await
    }

    async fn spawn(
        url: Option<&str>,
        data_dir: &std::path::Path,
        first_uid: u32,
        env: &[(&str, &str)],
    ) -> ChildServer {
        std::fs::create_dir_all(data_dir).unwrap();
        let log = data_dir.join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_execgov"));
        match url {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        let child = command
            .env("EXECGOV_DATA_DIR", data_dir)
            .env("EXECGOV_ADDR", "127.0.0.1:0")
            .env("EXECGOV_SEED_PASSWORD", PASSWORD)
            .env("EXECGOV_SANDBOX_FIRST_UID", first_uid.to_string())
            .env(
                "EXECGOV_SITE_ROOT",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site"),
            )
            .env("EXECGOV_WORKERS", "2")
            .env("EXECGOV_LOG", "info,sqlx=warn")
            .env_remove("EXECGOV_SANDBOX")
            .env_remove("EXECGOV_PYTHON")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("starting the execgov binary");
        // Port 0 until the server prints the one it was given: a port picked here and handed
        // over could be taken by another program first, and its answers mistaken for ours.
        let mut server = ChildServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let client = http_client();
        for _ in 0..1200 {
            server.assert_running();
            if let Some(addr) = server::listening_address(&server.output()) {
                server.addr = addr;
                let health = client
                    .get(format!("http://{addr}/healthz"))
                    .header(reqwest::header::HOST, "localhost")
                    .send()
                    .await;
                if health.is_ok_and(|r| r.status() == 200) {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server never answered /healthz:\n{}", server.output());
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it as an operator does (SIGTERM) and waits until it has exited.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.child.wait().unwrap()
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics (with the server's output) if the process has exited.
    #[track_caller]
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the server exited ({status}):\n{}", self.output());
        }
    }

    /// The process's start time (clock ticks since boot), from /proc: a restarted server under a
    /// reused PID would differ.
    pub fn start_time(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 1..];
        after_name
            .split_whitespace()
            .nth(19)
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `username` of `tenant` signed in with the seeded password, as the domain sees them.
pub async fn user(
    ctx: &Ctx,
    tenant: &domain::tenancy::Tenant,
    username: &str,
) -> domain::accounts::SignedIn {
    use domain::accounts::{self, Realm};
    let session = accounts::login(
        ctx,
        Realm::Tenant(tenant),
        username,
        PASSWORD.into(),
        &Default::default(),
    )
    .await
    .unwrap();
    accounts::session_user(ctx, Realm::Tenant(tenant), &session.token)
        .await
        .unwrap()
        .unwrap()
}

/// An audit trail actor named `name`.
pub fn actor(name: &str) -> domain::Actor {
    domain::Actor {
        name: name.into(),
        meta: Default::default(),
    }
}

/// Registers in `tenant`, for its members, a one-file skill whose script `main` is `entry`
/// (`main.py` or `main.sh`), with a wall-clock limit of `timeout_seconds`.
pub async fn register_script(
    ctx: &Ctx,
    tenant: &domain::tenancy::Tenant,
    (slug, entry, main): (&str, &str, &str),
    timeout_seconds: u32,
) {
    let extra = format!("timeout_seconds = {timeout_seconds}\n");
    register_skill(ctx, tenant, (slug, entry, main), &extra).await;
}

/// Registers in `tenant`, for its members, a one-file skill (or a new version of it) whose
/// manifest names `slug` and ends with `extra` (e.g. limits and `[[inputs]]` blocks).
pub async fn register_skill(
    ctx: &Ctx,
    tenant: &domain::tenancy::Tenant,
    (slug, entry, main): (&str, &str, &str),
    extra: &str,
) {
    let manifest = format!(
        "name = \"{slug}\"\nslug = \"{slug}\"\ndescription = \"A test skill.\"\n\
         output = \"whatever it writes\"\nrisk = \"low\"\n{extra}"
    );
    let folder = domain::skills::manifest::load_script_folder(vec![
        (entry.to_string(), main.as_bytes().to_vec()),
        ("README.md".into(), b"# A test skill\n".to_vec()),
        ("skill.toml".into(), manifest.into_bytes()),
    ])
    .unwrap();
    domain::skills::register(
        ctx,
        tenant,
        &domain::Actor::system(),
        &folder,
        &[model::TenantRole::Member],
    )
    .await
    .unwrap();
}

/// Creates a token through the tokens page's server function (a signed-in session); returns
/// (id, secret).
pub async fn session_token(server: &TestServer, host: &str, username: &str) -> (i64, String) {
    let session = server.login(host, username, PASSWORD).await;
    let reply = server
        .call(
            host,
            "create-token",
            &[("name", &format!("{username} laptop")), ("days", "30")],
            Some(&session),
        )
        .await;
    reply.assert_ok();
    let created = reply.json();
    (
        created["token"]["id"].as_i64().expect("a token id"),
        created["secret"].as_str().expect("a secret").to_string(),
    )
}
