//! Shared by the integration tests: a private PostgreSQL cluster under `target/test-pg` (started
//! by the first test that needs it, found again by the next), a fresh database per test, and
//! the real router served on a loopback port.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::net::SocketAddr;
use std::path::PathBuf;

use domain::Ctx;
use leptos::config::LeptosOptions;
use rand::Rng;
use server::postgres::PrivateCluster;
use tokio::sync::OnceCell;

/// The password of every seeded account in tests.
pub const PASSWORD: &str = "test-Password-1234";

static CLUSTER: OnceCell<PrivateCluster> = OnceCell::const_new();

async fn cluster() -> &'static PrivateCluster {
    CLUSTER
        .get_or_init(|| async {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-pg");
            PrivateCluster::start(&root, None)
                .await
                .expect("starting the test PostgreSQL cluster")
        })
        .await
}

/// A migrated, empty database of its own.
pub async fn fresh_ctx() -> Ctx {
    let cluster = cluster().await;
    let name = format!("t_{:016x}", rand::thread_rng().gen::<u64>());
    cluster
        .create_database(&name)
        .await
        .expect("creating a test database");
    let pool = domain::db::connect(cluster.app_options(&name), 5)
        .await
        .expect("connecting to the test database");
    domain::db::migrate(&pool).await.expect("migrating");
    Ctx::new(pool)
}

/// A fresh database with the demo seeded (every password is `PASSWORD`).
pub async fn seeded_ctx() -> Ctx {
    let ctx = fresh_ctx().await;
    domain::seed::seed_demo(&ctx, Some(PASSWORD))
        .await
        .expect("seeding the demo");
    ctx
}

/// The real router on a loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub ctx: Ctx,
    pub client: reqwest::Client,
}

pub async fn start_server(ctx: Ctx) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = LeptosOptions::builder()
        .output_name("execgov")
        .site_root(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site"))
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let app = server::router(ctx.clone(), options);
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
        .build()
        .unwrap();
    TestServer { addr, ctx, client }
}

/// A response, reduced to what the tests look at.
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// The session cookie's value if the response set one.
    pub session: Option<String>,
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn reply(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let session = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.strip_prefix("execgov_session="))
            .map(|v| v.split(';').next().unwrap_or("").to_string())
            .find(|v| !v.is_empty());
        Reply {
            status,
            body: resp.text().await.unwrap_or_default(),
            session,
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
