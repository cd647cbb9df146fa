//! The real `execgov` server binary as a child process, on a fresh database of the shared test
//! cluster (`target/test-pg`, as the server's tests use it), and the real `execgov-cli` binary
//! run against it.
//!
//! The server binary: `cargo test --workspace` builds it (the server's own tests need it); on
//! its own, `cargo test -p execgov-cli` builds it once (`cargo build -p server --bin execgov`)
//! when it is missing or older than the sources of `server/`, `domain/`, `app/`, `model/` or
//! `migrations/`. `EXECGOV_SERVER_BIN` points the tests at another binary.
//!
//! Servers run one at a time: each runs its scripts as the sandbox uids 64200..64263
//! (`EXECGOV_SANDBOX_FIRST_UID`), and a server kills leftover processes of its uids.
#![allow(dead_code)] // each test uses its own part of this module

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use server::postgres::PrivateCluster;

/// The password of every seeded demo account.
pub const PASSWORD: &str = "test-Password-1234";
pub const ACME: &str = "acme.localhost";
pub const GLOBEX: &str = "globex.localhost";

/// First of the 64 sandbox uids of the server these tests start.
const FIRST_UID: u32 = 64200;

/// The workspace's root folder.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ is inside the workspace")
        .to_path_buf()
}

/// A folder of its own under `target/test-data/` (removed by `scripts/test` before each run).
pub fn scratch(label: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = workspace().join("target/test-data").join(format!(
        // The pid first: `drop_idle_databases` keeps the databases of running processes.
        "cli_{}_{label}_{:x}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn cluster() -> &'static PrivateCluster {
    static CLUSTER: OnceLock<PrivateCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        runtime().block_on(async {
            let cluster = PrivateCluster::start(&workspace().join("target/test-pg"), None)
                .await
                .expect("starting the test PostgreSQL cluster");
            // Earlier runs' databases and scratch folders (a database is named after its folder).
            for name in cluster
                .drop_idle_databases("cli_")
                .await
                .expect("dropping earlier test databases")
            {
                let _ = std::fs::remove_dir_all(workspace().join("target/test-data").join(name));
            }
            cluster
        })
    })
}

/// `DATABASE_URL` for the server: the application's role on `database`, through the cluster's
/// Unix socket.
fn database_url(database: &str) -> String {
    let cluster = cluster();
    let options = cluster.app_options(database);
    let credentials =
        std::fs::read_to_string(workspace().join("target/test-pg/postgres-credentials"))
            .expect("reading the test cluster's credentials");
    let password = credentials
        .lines()
        .nth(1)
        .expect("the application role's password");
    let socket = options
        .get_socket()
        .expect("the test cluster is reached through its socket")
        .to_string_lossy()
        .into_owned();
    format!(
        "postgres://{}:{}@localhost/{database}?host={}",
        encode(options.get_username()),
        encode(password),
        encode(&socket)
    )
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `execgov` binary, built first if missing or stale (see the module's comment).
fn server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("EXECGOV_SERVER_BIN") {
            return PathBuf::from(bin);
        }
        let cli = Path::new(env!("CARGO_BIN_EXE_execgov-cli"));
        let profile_dir = cli.parent().expect("the binary's folder");
        let bin = profile_dir.join("execgov");
        if is_stale(&bin) {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build
                .current_dir(workspace())
                .args(["build", "-p", "server", "--bin", "execgov", "--target-dir"])
                .arg(profile_dir.parent().expect("the target folder"));
            match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") => {}
                Some("release") => {
                    build.arg("--release");
                }
                Some(other) => {
                    build.args(["--profile", other]);
                }
                None => {}
            }
            let status = build.status().expect("running cargo build");
            assert!(
                status.success(),
                "cargo build -p server --bin execgov failed"
            );
        }
        bin
    })
}

/// Missing, or older than a source it is built from.
fn is_stale(bin: &Path) -> bool {
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return true;
    };
    fn newest(path: &Path) -> Option<SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        let mut latest = meta.modified().ok();
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).ok()?.flatten() {
                latest = latest.max(newest(&entry.path()));
            }
        }
        latest
    }
    let root = workspace();
    [
        "server/src",
        "server/Cargo.toml",
        "domain/src",
        "domain/demo-skills",
        "domain/Cargo.toml",
        "app/src",
        "app/Cargo.toml",
        "model/src",
        "model/Cargo.toml",
        "migrations",
    ]
    .iter()
    .filter_map(|p| newest(&root.join(p)))
    .any(|t| t > built)
}

/// Only one server at a time (one range of sandbox uids).
static ONE_SERVER: Mutex<()> = Mutex::new(());

/// The real server on a loopback port and a fresh database; killed (this PID only) when
/// dropped, also when the test fails.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// Its database in the shared test cluster.
    pub database: String,
    /// The test's own folder: the server's data, logs, configs, files.
    pub dir: PathBuf,
    log: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// With more environment variables for the server (e.g. a short `EXECGOV_LEASE_SECONDS`).
    pub fn start_with(env: &[(&str, &str)]) -> Server {
        let bin = server_bin();
        let turn = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
        let dir = scratch("server");
        let database = dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        runtime()
            .block_on(cluster().create_database(&database))
            .expect("creating a test database");
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        // The sandbox's uids must pass through to the data folder.
        for p in [&dir, &data] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o711)).unwrap();
        }
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .env("DATABASE_URL", database_url(&database))
            .env("EXECGOV_DATA_DIR", &data)
            .env("EXECGOV_ADDR", "127.0.0.1:0")
            .env("EXECGOV_SEED_PASSWORD", PASSWORD)
            .env("EXECGOV_SITE_ROOT", workspace().join("target/site"))
            .env("EXECGOV_SANDBOX_FIRST_UID", FIRST_UID.to_string())
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
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database,
            dir,
            log,
            _turn: turn,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("the server exited ({status}):\n{}", server.output());
            }
            if let Some(addr) = server::listening_address(&server.output()) {
                server.addr = addr;
                if healthy(addr) {
                    return server;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the server never answered /healthz:\n{}", server.output());
    }

    /// The product's context on this server's database and data folder, for setting up what
    /// no command does (a skill registered without the review) and for reading the audit trail.
    pub async fn ctx(&self) -> domain::Ctx {
        let pool = domain::db::connect(cluster().app_options(&self.database), 2)
            .await
            .expect("connecting to the server's database");
        domain::Ctx::new(pool, self.dir.join("data"))
    }

    /// Registers the script folder `files` as a live skill of the tenant on `host`, granted to
    /// its members.
    pub fn register_skill(&self, host: &str, files: &[(&str, &str)]) {
        runtime().block_on(async {
            let ctx = self.ctx().await;
            let tenant = domain::tenancy::resolve_host(&ctx, host)
                .await
                .unwrap()
                .and_then(|b| b.tenant)
                .expect("a tenant's host");
            let folder = domain::skills::manifest::load_script_folder(
                files
                    .iter()
                    .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
                    .collect(),
            )
            .expect("a valid script folder");
            domain::skills::register(
                &ctx,
                &tenant,
                &domain::Actor::system(),
                &folder,
                &[model::TenantRole::Member],
            )
            .await
            .expect("registering the skill");
            ctx.pool.close().await;
        });
    }

    /// The rows `sql` selects (one text column) in the schema of the tenant on `host`.
    pub fn tenant_texts(&self, host: &str, sql: &str) -> Vec<String> {
        runtime().block_on(async {
            let ctx = self.ctx().await;
            let tenant = domain::tenancy::resolve_host(&ctx, host)
                .await
                .unwrap()
                .and_then(|b| b.tenant)
                .expect("a tenant's host");
            let mut tx = domain::db::TenantTx::begin(&ctx.pool, &tenant.schema)
                .await
                .unwrap();
            let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
            ctx.pool.close().await;
            rows
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A config folder of its own for `who`.
    pub fn config(&self, who: &str) -> PathBuf {
        self.dir.join(format!("config-{who}"))
    }

    /// Logs `user` in on `host` with the password; the config folder.
    pub fn login(&self, host: &str, user: &str) -> PathBuf {
        let config = self.config(user);
        let url = self.url();
        let out = execgov_with_input(
            &config,
            &[
                "login",
                "--server",
                &url,
                "--host",
                host,
                "--username",
                user,
                "--password-stdin",
            ],
            PASSWORD,
        );
        out.assert_code(0);
        config
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET /healthz answered 200.
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

/// What a run of `execgov-cli` did.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Out {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `execgov-cli args` with `config` as its config folder.
pub fn execgov(config: &Path, args: &[&str]) -> Out {
    run_cli(config, args, None)
}

/// Runs `execgov-cli args` with `input` on stdin.
pub fn execgov_with_input(config: &Path, args: &[&str], input: &str) -> Out {
    run_cli(config, args, Some(input))
}

fn run_cli(config: &Path, args: &[&str], input: Option<&str>) -> Out {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let logs = workspace().join("target/test-data/cli-output");
    std::fs::create_dir_all(&logs).unwrap();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let stdout_path = logs.join(format!("{}-{n}.out", std::process::id()));
    let stderr_path = logs.join(format!("{}-{n}.err", std::process::id()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_execgov-cli"));
    command
        .args(args)
        .env("EXECGOV_CONFIG_DIR", config)
        .env_remove("EXECGOV_SERVER")
        .env_remove("EXECGOV_HOST")
        .env_remove("EXECGOV_TOKEN")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    for proxy in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
        command.env_remove(proxy);
    }
    let mut child = command.spawn().expect("starting execgov-cli");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    // A command that hangs fails its test instead of the whole run.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("execgov-cli {args:?} did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = Out {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&stdout_path);
    let _ = std::fs::remove_file(&stderr_path);
    out
}

/// The file's permission bits.
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The id in "Execution 12 of …" (the first such line of `text`).
pub fn execution_id(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("Execution "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no execution id in:\n{text}"))
        .to_string()
}
