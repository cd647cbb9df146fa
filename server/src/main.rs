//! `execgov`: starts (or finds) the database, migrates, seeds the demo and serves every surface.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

use domain::brain::embedded::Embedded;
use domain::brain::openai::OpenAiCompatible;
use domain::brain::Provider;
use domain::executions::{self, QueuePolicy};
use domain::secrets::KeySource;
use domain::seed::{self, SeededAccount};
use domain::Ctx;
use engine::Executors;
use metrics_exporter_prometheus::PrometheusHandle;
use server::config::{Config, LogFormat, Role};
use server::dbwatch::DbWatch;
use server::postgres::PrivateCluster;
use sqlx::postgres::PgConnectOptions;
use tracing_subscriber::EnvFilter;

/// `execgov [--role web|worker|all]`, `execgov audit verify [--tenant NAME]`, or
/// `execgov rotate-master-key --new-key-file FILE`.
#[derive(clap::Parser)]
#[command(
    name = "execgov",
    about = "ExecGov: governed execution of scripts as skills"
)]
struct Cli {
    /// What this process does: web (pages and the API), worker (runs executions; serves only
    /// /healthz and /metrics), all (both). Any number of each may share one DATABASE_URL.
    /// Default: EXECGOV_ROLE, else all.
    #[arg(long, value_enum)]
    role: Option<Role>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// The audit logs.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Re-seals every tenant's secrets under a new master key, in one transaction.
    RotateMasterKey {
        /// The new key (64 hex digits); made, 0600, if it does not exist.
        #[arg(long)]
        new_key_file: std::path::PathBuf,
    },
}

#[derive(clap::Subcommand)]
enum AuditAction {
    /// Checks the audit logs' hash chains (every tenant's and the platform's, or one tenant's).
    Verify {
        /// Only this tenant's log (its name).
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    if let Err(err) = start_logs() {
        eprintln!("execgov: {err:#}");
        return ExitCode::FAILURE;
    }
    let outcome = match cli.command {
        None => run(cli.role).await.map(|()| ExitCode::SUCCESS),
        Some(Command::Audit {
            action: AuditAction::Verify { tenant },
        }) => audit_command(tenant.as_deref()).await,
        Some(Command::RotateMasterKey { new_key_file }) => rotate_command(&new_key_file).await,
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("execgov: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs as `EXECGOV_LOG` filters them (`info` by default), in `EXECGOV_LOG_FORMAT`.
fn start_logs() -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_env("EXECGOV_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match LogFormat::from_env()? {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    Ok(())
}

/// `execgov audit verify [--tenant NAME]`: recomputes every link of the platform's and each
/// tenant's audit log (or one tenant's), prints each log's state, and fails when one is broken.
async fn audit_command(only: Option<&str>) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let checked = on_existing_database(&config, "verify", |pool| async {
        let checks =
            domain::audit::verify_all(&Ctx::new(pool, config.data_dir.clone()), only).await;
        anyhow::Ok(checks?)
    })
    .await;
    let mut intact = true;
    for check in checked? {
        match check.broken {
            None => println!("{}: OK ({} entries)", check.log, check.entries),
            Some(link) => {
                intact = false;
                println!(
                    "{}: BROKEN at entry {}: {} ({} entries before it verified)",
                    check.log, link.entry_id, link.reason, check.entries
                );
            }
        }
    }
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs `task` on the server's existing database (`DATABASE_URL`, or the private cluster, which
/// is started for it and stopped after unless a server already runs it).
async fn on_existing_database<T, F>(
    config: &Config,
    purpose: &str,
    task: impl FnOnce(sqlx::PgPool) -> F,
) -> anyhow::Result<T>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    let cluster_dir = config.data_dir.join("postgres/data");
    if config.database_url.is_none() && !cluster_dir.join("PG_VERSION").exists() {
        anyhow::bail!(
            "no database to {purpose}: {} holds no private cluster; set DATABASE_URL or \
             EXECGOV_DATA_DIR to the server's",
            config.data_dir.display()
        );
    }
    let running = cluster_dir.join("postmaster.pid").exists();
    let (options, cluster) = database(config).await?;
    let done = async { task(domain::db::connect(options, 2).await?).await }.await;
    // A private cluster that already ran (a server uses it) is left running.
    if let (Some(cluster), false) = (cluster, running) {
        cluster.stop().await?;
    }
    done
}

/// Where the master key of tenants' secrets is: `EXECGOV_MASTER_KEY_FILE`, else `master.key` in
/// the data directory (made on first start).
fn key_source(config: &Config) -> KeySource {
    let configured = std::env::var_os("EXECGOV_MASTER_KEY_FILE")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from);
    KeySource::new(configured, &config.data_dir)
}

/// `execgov rotate-master-key --new-key-file FILE`: re-seals every tenant's secrets under the
/// key in FILE (made when it does not exist) in one transaction. Servers still running with the
/// old key refuse secret operations until restarted with `EXECGOV_MASTER_KEY_FILE=FILE`.
async fn rotate_command(new_key_file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let source = key_source(&config);
    let rotated = on_existing_database(&config, "rotate the master key of", |pool| async move {
        domain::secrets::rotate(&pool, &source, new_key_file).await
    })
    .await?;
    println!(
        "Re-sealed {} secrets of {} tenants under the key in {} (generation {}). Start the \
         server with EXECGOV_MASTER_KEY_FILE={}; the old key no longer opens them.",
        rotated.secrets,
        rotated.tenants,
        new_key_file.display(),
        rotated.generation,
        new_key_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The database to use: `DATABASE_URL`, or the private cluster (started unless it runs).
async fn database(config: &Config) -> anyhow::Result<(PgConnectOptions, Option<PrivateCluster>)> {
    Ok(match &config.database_url {
        Some(url) => (
            url.parse::<PgConnectOptions>()
                .context("DATABASE_URL is not a PostgreSQL URL")?,
            None,
        ),
        None => {
            let cluster =
                PrivateCluster::start(&config.data_dir, config.postgres_bin.as_deref()).await?;
            (cluster.app_options("execgov"), Some(cluster))
        }
    })
}

async fn run(role: Option<Role>) -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    config.role = role.unwrap_or(config.role);
    // Before anything counts.
    let metrics = server::metrics::install()?;
    let (options, cluster) = database(&config).await?;
    // A private cluster that dies is started again; an external database is someone else's.
    let supervisor = cluster.clone().map(PrivateCluster::supervise);
    let served = serve(&config, options, metrics).await;
    // Whatever happened, a cluster we started is stopped cleanly (and stays stopped).
    if let Some(task) = supervisor {
        task.abort();
    }
    if let Some(cluster) = cluster {
        cluster.stop().await?;
    }
    served
}

async fn serve(
    config: &Config,
    options: PgConnectOptions,
    metrics: PrometheusHandle,
) -> anyhow::Result<()> {
    let role = config.role;
    let workers = if role.runs_executions() {
        config.workers
    } else {
        0
    };
    tracing::info!(?role, workers, "starting");
    let pool = domain::db::connect(options.clone(), 16).await?;
    let db_watch = DbWatch::start(options);
    domain::db::migrate(&pool).await?;
    // A wrong key stops the start here: secrets it cannot open are never served.
    let master_key = domain::secrets::unlock(&pool, &key_source(config))
        .await
        .context("the master key of tenants' secrets")?;
    let lease = Duration::from_secs(config.lease_seconds);
    let ctx = Ctx::new(pool, config.data_dir.clone()).with_queue_policy(QueuePolicy {
        lease,
        // Several beats per lease, so one slow beat does not lose it.
        heartbeat: lease / 6,
        reserve_for: Duration::from_millis(config.reserve_ms),
        generic_plans: config.generic_plans,
        per_tenant_cap: config.tenant_cap,
    });
    let ctx = ctx
        .with_master_key(master_key)
        .with_storage(config.storage)
        .with_packages(config.packages.clone());
    // Which installer (uv, or the pip fallback) and which index: said once, at start.
    match &config.packages.uv {
        Some(_) => tracing::info!("{}", config.packages.describe()),
        None => tracing::warn!("{}", config.packages.describe()),
    }
    // The demo, the host directory and unfinished hot updates are the web's: a worker process
    // neither resolves hosts nor acts for people.
    let passwords_file = config.data_dir.join("initial-passwords.txt");
    let mut seeded = Vec::new();
    if role.serves_pages() {
        seeded = seed::seed_demo(&ctx, config.seed_password.as_deref()).await?;
        if !seeded.is_empty() && config.seed_password.is_none() {
            save_generated_passwords(&passwords_file, &seeded)?;
        }
        // Bindings changed through any process reach this one's cache (LISTEN/NOTIFY).
        ctx.hosts.follow_changes(&ctx.pool).await?;
        // Approved hot updates the last run did not finish (it stopped mid-way) go on now.
        domain::hot_updates::resume(&ctx).await?;
    }
    ctx.make_tenant_folders_private()
        .context("making the data directory's tenant folders private")?;
    let executors = role
        .runs_executions()
        .then(|| Arc::new(Executors::new(config.sandbox.clone())));
    match &executors {
        Some(executors) => {
            executions::start_workers(ctx.clone(), executors.clone(), workers, ctx.queue.clone())
        }
        // Local agents' long polls and leases are the web's: the queue's wake-ups and the
        // reaper run here too.
        None => executions::start_queue_duties(ctx.clone()),
    }
    // Run files and logs past their tenant's retention go, hourly.
    domain::storage::start_cleanup(ctx.clone(), Default::default());

    // Bound before anything is printed: on port 0 the system picks the port, and the welcome
    // says which.
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("listening on {}", config.addr))?;
    let addr = listener.local_addr()?;
    let app = if role.serves_pages() {
        let leptos_options = server::leptos_options(&config.site_root, addr);
        let brain: Arc<dyn Provider> = match &config.brain {
            Some(openai) => Arc::new(OpenAiCompatible::new(openai.clone())?),
            None => Arc::new(Embedded),
        };
        tracing::info!(provider = brain.name(), "the assistant's provider");
        server::router_with_brain(
            ctx.clone(),
            leptos_options,
            brain,
            config.trusted_proxies.clone(),
        )
    } else {
        server::worker_router(ctx.clone())
    };
    let app = app
        .layer(axum::middleware::from_fn_with_state(
            db_watch,
            server::dbwatch::fail_fast,
        ))
        // Outside the database's watch: the numbers matter most while it does not answer.
        .merge(server::metrics::routes(
            server::metrics::Scrape {
                handle: metrics,
                ctx: ctx.clone(),
                executors,
                allow: config.metrics_allow.clone(),
                proxies: config.trusted_proxies.clone(),
            },
            role,
        ));
    if role.serves_pages() {
        print_welcome(config, addr, &seeded, &passwords_file);
    } else {
        println!("\n{}{addr}\n", server::LISTENING);
        println!("  worker process: {workers} workers; serves only /healthz and /metrics\n");
    }
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    ctx.pool.close().await;
    tracing::info!("server stopped");
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}

/// Generated passwords are shown once and kept, readable by the owner only, in the data directory.
fn save_generated_passwords(
    path: &std::path::Path,
    seeded: &[SeededAccount],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(path.parent().unwrap_or(std::path::Path::new(".")))?;
    let mut text = String::from("# ExecGov demo accounts created at first start\n");
    for a in seeded {
        text.push_str(&format!("{}\t{}\t{}\n", a.host, a.username, a.password));
    }
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

fn print_welcome(
    config: &Config,
    addr: SocketAddr,
    seeded: &[SeededAccount],
    passwords_file: &std::path::Path,
) {
    let port = addr.port();
    let url = |host: &str| format!("http://{host}:{port}");
    println!("\n{}{addr}\n", server::LISTENING);
    println!(
        "  public console   {}   (super-admin: superadmin)",
        url(seed::CONSOLE_HOST)
    );
    println!(
        "  tenant Acme      {}   (acme-admin, acme-user)",
        url("acme.localhost")
    );
    println!(
        "  tenant Globex    {}   (globex-admin, globex-user)",
        url("globex.localhost")
    );
    println!(
        "  free console     {}   (sign up there)",
        url(seed::FREE_HOST)
    );
    println!("  experience page  {}", url(seed::EXPERIENCE_HOST));
    println!("  health check     {}/healthz", url("localhost"));
    println!();
    if config.seed_password.is_some() {
        println!(
            "Demo accounts use the password in EXECGOV_SEED_PASSWORD (as set at first start)."
        );
    } else if !seeded.is_empty() {
        println!(
            "Demo accounts created now (passwords shown once, kept in {}):",
            passwords_file.display()
        );
        for a in seeded {
            println!("  {:<18} {:<14} {}", a.host, a.username, a.password);
        }
    } else {
        println!(
            "Demo account passwords were printed at first start and kept in {}.",
            passwords_file.display()
        );
    }
    println!("\n*.localhost resolves to this machine in browsers; with curl use -H 'Host: acme.localhost'.\n");
}
