//! The private PostgreSQL cluster used when no `DATABASE_URL` is given: created once under the
//! data directory, reachable only through a Unix socket inside it (no TCP port), run as the
//! `postgres` OS user when we are root (initdb refuses root), found again on the next start.

use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use rand::distributions::{Alphanumeric, DistString};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::process::Command;

/// The application's role: owns its database and may create the per-tenant roles; never a superuser.
const APP_ROLE: &str = "execgov";
const SUPERUSER: &str = "postgres";
/// Unix sockets paths are limited to 107 bytes.
const MAX_SOCKET_PATH: usize = 100;
/// How often the supervisor looks at the postmaster, and its longest pause between restarts.
const SUPERVISE_EVERY: Duration = Duration::from_secs(1);
const MAX_RESTART_PAUSE: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct PrivateCluster {
    bin_dir: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    run_as: Option<nix::unistd::User>,
    superuser_password: String,
    app_password: String,
}

impl PrivateCluster {
    /// Creates the cluster under `root` if needed, starts it unless it already runs, and makes
    /// sure the application's role and database exist.
    pub async fn start(root: &Path, bin_dir: Option<&Path>) -> anyhow::Result<PrivateCluster> {
        let bin_dir = find_bin_dir(bin_dir)?;
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let root = root.canonicalize()?;
        let run_as = if nix::unistd::geteuid().is_root() {
            Some(nix::unistd::User::from_name(SUPERUSER)?.context(
                "running as root needs the `postgres` OS user to own the private cluster: \
                 install PostgreSQL with `apt-get install postgresql`",
            )?)
        } else {
            None
        };
        // The postgres user must be able to pass through the data directory to its own folder.
        if run_as.is_some() {
            let mode = std::fs::metadata(&root)?.permissions().mode();
            std::fs::set_permissions(&root, std::fs::Permissions::from_mode(mode | 0o711))?;
        }
        let home = root.join("postgres");
        let cluster = PrivateCluster {
            data: home.join("data"),
            socket_dir: home.join("run"),
            log_file: home.join("server.log"),
            superuser_password: String::new(),
            app_password: String::new(),
            bin_dir,
            run_as,
        };
        let socket = cluster.socket_dir.join(".s.PGSQL.5432");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            bail!(
                "the data directory path is too long for a PostgreSQL socket ({}); use a shorter EXECGOV_DATA_DIR",
                socket.display()
            );
        }
        let credentials = root.join("postgres-credentials");
        let cluster = cluster.with_credentials(&credentials)?;
        for dir in [&home, &cluster.socket_dir] {
            cluster.own_dir(dir)?;
        }
        if !cluster.data.join("PG_VERSION").exists() {
            cluster.init().await?;
        }
        if !cluster.running().await? {
            cluster
                .pg_ctl(&["start", "-w", "-t", "120", "-l"], Some(&cluster.log_file))
                .await
                .with_context(|| {
                    format!("starting PostgreSQL; see {}", cluster.log_file.display())
                })?;
        }
        cluster.bootstrap().await?;
        Ok(cluster)
    }

    /// Reads the passwords kept beside the cluster, generating them the first time.
    fn with_credentials(mut self, path: &Path) -> anyhow::Result<PrivateCluster> {
        if !path.exists() {
            let gen = || Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
            std::fs::write(path, format!("{}\n{}\n", gen(), gen()))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        let text = std::fs::read_to_string(path)?;
        let mut lines = text.lines();
        match (lines.next(), lines.next()) {
            (Some(s), Some(a)) => {
                self.superuser_password = s.to_string();
                self.app_password = a.to_string();
                Ok(self)
            }
            _ => bail!("{} is damaged: expected two lines", path.display()),
        }
    }

    fn own_dir(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        if let Some(user) = &self.run_as {
            chown(dir, Some(user.uid.as_raw()), Some(user.gid.as_raw()))?;
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.env_clear()
            .env("LC_ALL", "C.UTF-8")
            .env("PATH", "/usr/bin:/bin")
            .current_dir(self.data.parent().expect("data dir has a parent"))
            .stdin(Stdio::null());
        if let Some(user) = &self.run_as {
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        cmd
    }

    async fn init(&self) -> anyhow::Result<()> {
        tracing::info!(data = %self.data.display(), "creating the private PostgreSQL cluster");
        let pwfile = self.data.with_file_name("pwfile");
        std::fs::write(&pwfile, &self.superuser_password)?;
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o600))?;
        if let Some(user) = &self.run_as {
            chown(&pwfile, Some(user.uid.as_raw()), Some(user.gid.as_raw()))?;
        }
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(&self.data)
            .args([
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=scram-sha-256",
                "--auth-host=reject",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .await?;
        std::fs::remove_file(&pwfile)?;
        if !output.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        // No TCP at all; the socket lives in a folder only the cluster's owner (and root) can enter.
        let conf = format!(
            "\n# ExecGov private cluster\nlisten_addresses = ''\nunix_socket_directories = '{}'\nunix_socket_permissions = 0700\n",
            self.socket_dir.display()
        );
        let conf_path = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path)?;
        text.push_str(&conf);
        std::fs::write(&conf_path, text)?;
        Ok(())
    }

    async fn running(&self) -> anyhow::Result<bool> {
        let status = self
            .command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        Ok(status.success())
    }

    async fn pg_ctl(&self, args: &[&str], last: Option<&Path>) -> anyhow::Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D").arg(&self.data).args(args);
        if let Some(last) = last {
            cmd.arg(last);
        }
        let output = cmd.stdout(Stdio::null()).output().await?;
        if !output.status.success() {
            bail!(
                "pg_ctl {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// Keeps the cluster running for as long as the returned task is not aborted: checks every
    /// second that its postmaster lives, and when it has died (killed, crashed, out of memory),
    /// starts it again, retrying with growing pauses (1 s doubling up to 30 s), each step
    /// logged. Abort the task before [`PrivateCluster::stop`].
    pub fn supervise(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SUPERVISE_EVERY).await;
                if self.postmaster_alive() {
                    continue;
                }
                tracing::error!(
                    data = %self.data.display(),
                    "the private PostgreSQL has stopped; restarting it"
                );
                let mut pause = Duration::from_secs(1);
                for attempt in 1.. {
                    match self
                        .pg_ctl(&["start", "-w", "-t", "60", "-l"], Some(&self.log_file))
                        .await
                    {
                        Ok(()) => {
                            tracing::info!(attempt, "the private PostgreSQL is running again");
                            break;
                        }
                        Err(err) => {
                            tracing::warn!(
                                attempt,
                                %err,
                                retry_in = ?pause,
                                log = %self.log_file.display(),
                                "restarting the private PostgreSQL failed"
                            );
                            tokio::time::sleep(pause).await;
                            pause = (pause * 2).min(MAX_RESTART_PAUSE);
                        }
                    }
                }
            }
        })
    }

    /// Whether the process named in `postmaster.pid` runs (a zombie does not count).
    fn postmaster_alive(&self) -> bool {
        let Ok(text) = std::fs::read_to_string(self.data.join("postmaster.pid")) else {
            return false;
        };
        let Some(pid) = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<u32>().ok())
        else {
            return false;
        };
        // /proc/<pid>/stat: "pid (comm) state …"; the state follows the last ')'.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
                Some(!matches!(state, 'Z' | 'X'))
            })
            .unwrap_or(false)
    }

    /// Stops the cluster, letting running transactions roll back (fast shutdown).
    pub async fn stop(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["stop", "-w", "-m", "fast"], None).await?;
        tracing::info!("private PostgreSQL stopped");
        Ok(())
    }

    fn options(&self, user: &str, password: &str, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .username(user)
            .password(password)
            .database(database)
    }

    /// The superuser, for creating roles and databases only; the application never uses it.
    pub fn admin_options(&self) -> PgConnectOptions {
        self.options(SUPERUSER, &self.superuser_password, "postgres")
    }

    /// The application's ordinary role on `database`.
    pub fn app_options(&self, database: &str) -> PgConnectOptions {
        self.options(APP_ROLE, &self.app_password, database)
    }

    /// The application's role on `database` as a `DATABASE_URL`, for another process.
    pub fn app_url(&self, database: &str) -> String {
        let socket = self.socket_dir.to_string_lossy();
        format!(
            "postgres://{APP_ROLE}:{}@localhost/{database}?host={}",
            crate::percent::encode(&self.app_password),
            crate::percent::encode(&socket)
        )
    }

    /// Creates `database` owned by the application's role unless it exists.
    pub async fn create_database(&self, database: &str) -> anyhow::Result<()> {
        check_database_name(database)?;
        let mut admin = PgConnection::connect_with(&self.admin_options()).await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(database)
                .fetch_one(&mut admin)
                .await?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE {database} OWNER {APP_ROLE}"))
                .execute(&mut admin)
                .await?;
        }
        Ok(())
    }

    /// Drops `database` and the per-tenant roles named after it (roles are cluster-wide and
    /// would outlive it). With `force`, its connections are ended first; without, a database in
    /// use is left alone and `Ok(false)` says so. For benches and test harnesses, which make
    /// databases by the hundred and must not let them pile up on disk.
    pub async fn drop_database(&self, database: &str, force: bool) -> anyhow::Result<bool> {
        check_database_name(database)?;
        let mut admin = PgConnection::connect_with(&self.admin_options()).await?;
        let with = if force { " WITH (FORCE)" } else { "" };
        match sqlx::query(&format!("DROP DATABASE IF EXISTS {database}{with}"))
            .execute(&mut admin)
            .await
        {
            Ok(_) => {}
            // 55006 object_in_use: another process (a test binary still running) has it open.
            Err(sqlx::Error::Database(e)) if !force && e.code().as_deref() == Some("55006") => {
                return Ok(false)
            }
            Err(e) => return Err(e.into()),
        }
        let roles: Vec<String> =
            sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname LIKE $1")
                .bind(format!("{database}\\_tenant\\_%"))
                .fetch_all(&mut admin)
                .await?;
        for role in roles {
            sqlx::query(&format!("DROP ROLE \"{role}\""))
                .execute(&mut admin)
                .await?;
        }
        Ok(true)
    }

    /// Drops the databases named `<prefix><pid>_…` whose process `pid` has ended and that
    /// nobody has open, and returns their names: test harnesses call it on start so that earlier
    /// runs' databases do not pile up, while those of harnesses still running (which may not have
    /// connected yet) are kept. One that cannot be dropped now (another harness raced for it) is
    /// left for the next time.
    pub async fn drop_idle_databases(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        check_database_name(prefix)?;
        let mut admin = PgConnection::connect_with(&self.admin_options()).await?;
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)",
        )
        .bind(prefix)
        .fetch_all(&mut admin)
        .await?;
        admin.close().await?;
        let running = |name: &str| {
            name[prefix.len()..]
                .split('_')
                .next()
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
        };
        let mut dropped = Vec::new();
        for name in names.into_iter().filter(|n| !running(n)) {
            match self.drop_database(&name, false).await {
                Ok(true) => dropped.push(name),
                Ok(false) => {}
                Err(err) => tracing::warn!(%err, database = name, "could not drop a test database"),
            }
        }
        Ok(dropped)
    }

    async fn bootstrap(&self) -> anyhow::Result<()> {
        let mut admin = PgConnection::connect_with(&self.admin_options())
            .await
            .context("connecting to the private PostgreSQL as its superuser")?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                .bind(APP_ROLE)
                .fetch_one(&mut admin)
                .await?;
        // The password is our own alphanumeric string; roles cannot take bound parameters.
        let verb = if exists { "ALTER" } else { "CREATE" };
        sqlx::query(&format!(
            "{verb} ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB CREATEROLE NOBYPASSRLS PASSWORD '{}'",
            self.app_password
        ))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        self.create_database(APP_ROLE).await
    }
}

/// The directory holding `initdb` and `pg_ctl`: the given one, the newest Debian version, or PATH.
fn find_bin_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(dir) = given {
        if has_tools(dir) {
            return Ok(dir.to_path_buf());
        }
        bail!(
            "EXECGOV_POSTGRES_BIN={} holds no initdb and pg_ctl",
            dir.display()
        );
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).find(|d| has_tools(d)))
        .unwrap_or_default();
    on_path.context(
        "PostgreSQL server programs (initdb, pg_ctl) were not found. Install them with \
         `sudo apt-get install postgresql` (Debian/Ubuntu), set EXECGOV_POSTGRES_BIN to their \
         directory, or set DATABASE_URL to use an existing database",
    )
}

/// Database names are spliced into SQL (identifiers cannot be bound): letters, digits, `_` only.
fn check_database_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        bail!("unsafe database name {name:?}");
    }
    Ok(())
}
