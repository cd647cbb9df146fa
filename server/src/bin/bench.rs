//! `execgov-bench`: the figures of issue 3's benchmark, printed as a table.
//!
//! Starts (or reuses) a private PostgreSQL under `target/bench-pg`, makes a fresh `bench`
//! database with the demo seeded and two bench skills in Acme, then measures:
//!
//! 1. 40 trivial Python skills end to end on one worker with the sandbox on, against 40 bare
//!    `python3 -c pass` spawns and 40 sandboxed runs without the queue, with a per-phase
//!    breakdown of the queue's own cost;
//! 2. a shell skill sleeping 100 ms on 1, 2, 4 and 8 workers: jobs/s and scaling efficiency;
//!
//! and issue 12's, every ratio like-for-like (the bare baseline starts the same interpreter with
//! the same flags and script as the sandbox does):
//!
//! 0. the trivial skill of benchmark 1 end to end against bare `python3 -I -S -u main.py`;
//! 1. a pandas skill on an idle system, one run at a time with pauses, against its `main.py`
//!    started bare with the environment's interpreter (`/env/bin/python -I -u`);
//! 2. the same skill back to back;
//! 3. building that environment with the platform's builder from a warm cache, and a second
//!    skill with the same lock (no build);
//!
//! and issue 14's: a run whose skill folder is not yet in the node's cache (fetched from
//! PostgreSQL) against one whose folder is (`execgov-bench skill-cache` runs that one alone).
//!
//! Packages come from the test wheelhouse (`EXECGOV_TEST_WHEELHOUSE` or `target/wheelhouse`,
//! filled by `scripts/test`), offline.
//!
//! A measurement, not a test: it exits non-zero only when something fails to run, never when
//! a target is missed. The cluster is stopped at the end.
//!
//! `cargo run --release -p server --bin execgov-bench`

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use domain::accounts::{self, Realm, SignedIn};
use domain::executions::{self, QueuePolicy};
use domain::skills::{self, manifest};
use domain::tenancy::{self, Tenant};
use domain::{Actor, Ctx, RequestMeta};
use engine::{AssetKind, Executors, Limits, RunRequest, RunStatus, SandboxConfig};
use model::TenantRole;
use server::postgres::PrivateCluster;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgPool};
use tokio::sync::{mpsc, watch};
use tracing_subscriber::EnvFilter;

#[path = "bench/environments.rs"]
mod environments;
#[path = "bench/processes.rs"]
mod processes;
#[path = "bench/skill_cache.rs"]
mod skill_cache;

/// The password of every seeded account in the bench database.
const PASSWORD: &str = "bench-Password-1234";
const DATABASE: &str = "bench";
/// Benchmark 1's job count.
const TRIVIAL_JOBS: usize = 40;
/// Single jobs sent to an idle worker one after the other, for its wake-up latency.
const IDLE_SAMPLES: usize = 10;
/// Benchmark 2: jobs per worker, so every setting runs the same number of rounds.
const JOBS_PER_WORKER: usize = 16;
const MAX_WORKERS: usize = 8;
const WORKER_COUNTS: [usize; 4] = [1, 2, 4, MAX_WORKERS];
/// How often the bench looks whether the queue is empty once every job left may be running:
/// the resolution of the end time.
const POLL: Duration = Duration::from_millis(5);
/// How often it looks while more jobs are left than workers: shorter than any job here, so
/// the end is still seen within [`POLL`], with fewer queries eating the CPU being measured.
const POLL_FAR: Duration = Duration::from_millis(25);
/// Longest any phase may take before the bench gives up (an error, not a missed target).
const PHASE_LIMIT: Duration = Duration::from_secs(300);

const TRIVIAL_SLUG: &str = "bench-trivial";
const TRIVIAL_FILES: [(&str, &str); 3] = [
    (
        "main.py",
        "open(\"result.json\", \"w\").write('{\"ok\": true}')\n",
    ),
    (
        "README.md",
        "# Bench: trivial\n\nWrites a tiny `result.json`.\n",
    ),
    (
        "skill.toml",
        "name = \"Bench trivial\"\nslug = \"bench-trivial\"\n\
         description = \"Does nothing but write a tiny result.json.\"\n\
         output = \"{\\\"ok\\\": true}\"\nrisk = \"low\"\ntimeout_seconds = 30\n",
    ),
];
const SLEEP_SLUG: &str = "bench-sleep";
const SLEEP_FILES: [(&str, &str); 3] = [
    (
        "main.sh",
        "sleep 0.1\necho '{\"slept_ms\": 100}' > result.json\n",
    ),
    ("README.md", "# Bench: sleep\n\nSleeps 100 ms.\n"),
    (
        "skill.toml",
        "name = \"Bench sleep\"\nslug = \"bench-sleep\"\n\
         description = \"Sleeps 100 ms, then writes a tiny result.json.\"\n\
         output = \"{\\\"slept_ms\\\": 100}\"\nrisk = \"low\"\ntimeout_seconds = 30\n",
    ),
];

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("EXECGOV_LOG").unwrap_or_else(|_| EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("execgov-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-pg");
    let cluster = PrivateCluster::start(&root, None).await?;
    let measured = bench(&cluster, &root).await;
    let stopped = cluster.stop().await;
    measured.and(stopped)
}

/// What every measurement shares: the database, the tenant, its member and the executors.
struct Fixture {
    options: PgConnectOptions,
    data_dir: PathBuf,
    acme: Tenant,
    member: SignedIn,
    /// As the server runs them: the next sandbox started ahead of its run.
    executors: Arc<Executors>,
    /// The baseline: every sandbox started for its run (as before sandboxes were started
    /// ahead), on uids of its own.
    cold: Arc<Executors>,
    trivial_dir: PathBuf,
}

async fn bench(cluster: &PrivateCluster, root: &Path) -> anyhow::Result<()> {
    let fx = setup(cluster, root).await?;
    let ctx = context(&fx, 8).await?;
    let config = fx.executors.config();
    println!("ExecGov benchmark (issue 3)");
    println!(
        "  {} CPUs, load average {} at start; sandbox {} (bubblewrap, uids {}..{}), python {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
        if config.enabled { "on" } else { "OFF" },
        config.first_uid,
        config.first_uid + config.uid_slots,
        config.python.display(),
    );
    print_db_costs(&ctx.pool).await?;
    println!(
        "  CPU/job: this process and its sandboxes; PG/job: PostgreSQL's processes; \
         busy: share of the whole machine's CPU in use (anyone's)"
    );

    // Warm-up: page cache, interpreter, first connections.
    bare_python(&ctx.pool, &config.python, &["-c", "pass"], 3).await?;
    let trivial_main = fx.trivial_dir.join("main.py");
    let trivial_main = trivial_main.to_str().context("a UTF-8 path")?;
    bare_python(
        &ctx.pool,
        &config.python,
        &["-I", "-S", "-u", trivial_main],
        3,
    )
    .await?;
    sandbox_only(&ctx.pool, &fx, &fx.executors, 3).await?;
    sandbox_only(&ctx.pool, &fx, &fx.cold, 3).await?;

    // `execgov-bench skill-cache` or `execgov-bench processes`: that benchmark alone.
    let database_url = cluster.app_url(DATABASE);
    match std::env::args().nth(1).as_deref() {
        Some("skill-cache") => skill_cache::benchmark(&fx, &ctx).await?,
        Some("processes") => processes::benchmark(&fx, &ctx, &database_url).await?,
        _ => {
            benchmark_1(&fx, &ctx).await?;
            benchmark_2(&fx).await?;
            environments::benchmarks(&ctx).await?;
            skill_cache::benchmark(&fx, &ctx).await?;
            processes::benchmark(&fx, &ctx, &database_url).await?;
        }
    }
    println!("\n  load average {} at the end", load_average());
    ctx.pool.close().await;
    Ok(())
}

/// Trivial Python skills on one worker against bare spawns, and where the queue's time goes.
async fn benchmark_1(fx: &Fixture, ctx: &Ctx) -> anyhow::Result<()> {
    let python = &fx.executors.config().python;
    let n = TRIVIAL_JOBS;
    println!("\nBenchmark 1: {n} trivial Python skills (main.py writes result.json), one worker");
    let bare = bare_python(&ctx.pool, python, &["-c", "pass"], n).await?;
    let isolated = bare_python(&ctx.pool, python, &["-I", "-S", "-c", "pass"], n).await?;
    let trivial_main = fx.trivial_dir.join("main.py");
    let trivial_main = trivial_main.to_str().context("a UTF-8 path")?;
    let like = bare_python(&ctx.pool, python, &["-I", "-S", "-u", trivial_main], n).await?;
    let sandbox_cold = sandbox_only(&ctx.pool, fx, &fx.cold, n).await?;
    let sandbox = sandbox_only(&ctx.pool, fx, &fx.executors, n).await?;
    let (queued_cold, _) = queue_one_worker(fx, &fx.cold, n).await?;
    let (queued, idle) = queue_one_worker(fx, &fx.executors, n).await?;
    let phases = queue_phases(fx, ctx, n).await?;
    println!(
        "  {:<48}{:>9}{:>10}{:>8}{:>10}{:>8}{:>7}",
        "", "total", "per job", "× bare", "CPU/job", "PG/job", "busy"
    );
    for (label, m) in [
        ("bare `python3 -c pass` spawns", Some(bare)),
        (
            "  for reference: bare `python3 -I -S -c pass`",
            Some(isolated),
        ),
        (
            "  like for like: bare `python3 -I -S -u main.py`",
            Some(like),
        ),
        ("baseline, each sandbox started for its run:", None),
        (
            "  sandbox only (Executors::run, no queue, no DB)",
            Some(sandbox_cold),
        ),
        (
            "  end to end on the queue (start_workers, 1)",
            Some(queued_cold),
        ),
        ("as the server runs, the next sandbox started ahead:", None),
        (
            "  sandbox only (Executors::run, no queue, no DB)",
            Some(sandbox),
        ),
        ("  end to end on the queue (start_workers, 1)", Some(queued)),
    ] {
        let Some(m) = m else {
            println!("  {label}");
            continue;
        };
        println!(
            "  {label:<48}{:>9}{:>10}{:>8.2}{:>10}{:>8}{:>6.0}%",
            secs(m.wall),
            per_job(m.wall, n),
            ratio(m.wall, bare.wall),
            per_job(m.cpu, n),
            per_job(m.pg, n),
            m.busy * 100.0
        );
    }
    let r = ratio(queued.wall, bare.wall);
    println!(
        "  ratio end to end ÷ bare = {r:.2} (target ≤ 1.5: {}); the sandbox alone is {:.2}; \
         baseline {:.2} and {:.2}",
        verdict(r <= 1.5),
        ratio(sandbox.wall, bare.wall),
        ratio(queued_cold.wall, bare.wall),
        ratio(sandbox_cold.wall, bare.wall)
    );
    println!(
        "  (the sandbox starts Python as `-I -S -u`, as the script contract says: without the site \
         module, which the baseline imports)"
    );
    let r0 = ratio(queued.wall, like.wall);
    println!(
        "  like for like (issue 12, benchmark 0): end to end ÷ bare `python3 -I -S -u main.py` = \
         {r0:.2} (target ≤ 1.0: {}); the sandbox alone {:.2}; the ratio above stays for history",
        verdict(r0 <= 1.0),
        ratio(sandbox.wall, like.wall)
    );

    println!(
        "\n  Where the queue's time goes: the same {n} jobs, requested first, then claimed and"
    );
    println!("  run one by one by the bench itself (claim_next + run_claimed, no idle wait), each");
    println!("  followed by one Executors::run alone for comparison:");
    println!("  {:<48}{:>9}{:>10}", "", "total", "per job");
    let rest = phases.run.saturating_sub(phases.sandbox);
    for (label, d) in [
        ("request (validate, insert, audit, enqueue)", phases.request),
        ("claim_next (claim, mark running, audit)", phases.claim),
        ("run_claimed", phases.run),
        (
            "  of which the sandboxed run (Executors::run)",
            phases.sandbox,
        ),
        ("  the rest: work dir, log task, finish tx", rest),
        ("sum", phases.request + phases.claim + phases.run),
    ] {
        println!("  {label:<48}{:>9}{:>10}", secs(d), per_job(d, n));
    }
    println!(
        "  end to end on the queue − (claim_next + run_claimed): {} per job (the worker loop, and",
        signed_per_job(queued.wall, phases.claim + phases.run, n),
    );
    println!("  the requests that compete with the worker for the CPU while it runs)");
    println!(
        "  one job at a time on an idle worker (median of {IDLE_SAMPLES}, database clock): \
         request → claimed {:.1} ms, request → finished {:.1} ms",
        ms(idle.claimed),
        ms(idle.finished)
    );
    Ok(())
}

/// Sleeping skills on 1, 2, 4 and 8 workers: throughput and scaling efficiency.
async fn benchmark_2(fx: &Fixture) -> anyhow::Result<()> {
    // Each worker holds its run and the execution it reserved to run next: twice as many.
    let policy = QueuePolicy {
        per_tenant_cap: 2 * MAX_WORKERS as i64,
        ..QueuePolicy::default()
    };
    println!(
        "\nBenchmark 2: shell skill sleeping 100 ms, {JOBS_PER_WORKER} jobs per worker, all in Acme;"
    );
    println!(
        "  per_tenant_cap raised to {} (2 × workers: each holds a run and a reservation; the default",
        policy.per_tenant_cap
    );
    println!(
        "  is {}). Jobs are enqueued first, then the workers start; the clock runs from start_workers",
        QueuePolicy::default().per_tenant_cap
    );
    println!("  until the queue is empty.");
    println!(
        "  {:>8}{:>7}{:>9}{:>9}{:>10}{:>12}{:>10}{:>8}{:>7}{:>7}",
        "workers",
        "jobs",
        "seconds",
        "jobs/s",
        "per job",
        "efficiency",
        "CPU/job",
        "PG/job",
        "CPUs",
        "busy"
    );
    let mut single = None;
    let mut last = (0.0, 0.0, 0.0);
    for workers in WORKER_COUNTS {
        let jobs = JOBS_PER_WORKER * workers;
        let m = queue_throughput(fx, workers, jobs, &policy).await?;
        let rate = jobs as f64 / m.wall.as_secs_f64();
        let efficiency = rate / (workers as f64 * *single.get_or_insert(rate));
        let cpus = (m.cpu + m.pg).as_secs_f64() / m.wall.as_secs_f64();
        last = (efficiency, cpus, m.busy);
        println!(
            "  {workers:>8}{jobs:>7}{:>9.3}{rate:>9.2}{:>10}{:>11.0}%{:>10}{:>8}{cpus:>7.2}{:>6.0}%",
            m.wall.as_secs_f64(),
            per_job(m.wall * workers as u32, jobs),
            efficiency * 100.0,
            per_job(m.cpu, jobs),
            per_job(m.pg, jobs),
            m.busy * 100.0
        );
    }
    let (efficiency, cpus, busy) = last;
    println!(
        "  efficiency at {MAX_WORKERS} workers {:.0}% (target ≥ 90%: {}); per job = seconds × workers ÷ jobs;",
        efficiency * 100.0,
        verdict(efficiency >= 0.9)
    );
    println!(
        "  CPUs = (CPU + PG) ÷ seconds: at {MAX_WORKERS} workers the bench keeps {cpus:.2} of {} CPUs busy \
         (the machine {:.0}%)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        busy * 100.0
    );
    Ok(())
}

/// A fresh database (dropped and made again), migrated and seeded, with the bench skills.
async fn setup(cluster: &PrivateCluster, root: &Path) -> anyhow::Result<Fixture> {
    cluster.drop_database(DATABASE, true).await?;
    cluster.create_database(DATABASE).await?;
    let data_dir = root.join("files");
    match std::fs::remove_dir_all(&data_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).context(format!("emptying {}", data_dir.display()))
        }
        _ => {}
    }
    let options = cluster.app_options(DATABASE);
    let pool = domain::db::connect(options.clone(), 4).await?;
    domain::db::migrate(&pool).await?;
    let ctx = Ctx::new(pool, data_dir.clone());
    domain::seed::seed_demo(&ctx, Some(PASSWORD)).await?;
    let acme = tenancy::resolve_host(&ctx, "acme.localhost")
        .await?
        .and_then(|b| b.tenant)
        .context("acme.localhost is not bound to a tenant")?;
    let trivial_hash = register(&ctx, &acme, &TRIVIAL_FILES).await?;
    register(&ctx, &acme, &SLEEP_FILES).await?;
    let session = accounts::login(
        &ctx,
        Realm::Tenant(&acme),
        "acme-user",
        PASSWORD.into(),
        &RequestMeta::default(),
    )
    .await?;
    let member = accounts::session_user(&ctx, Realm::Tenant(&acme), &session.token)
        .await?
        .context("the new session is not found")?;
    let trivial_dir = skills::asset_dir(&ctx, acme.id, &trivial_hash);
    ctx.pool.close().await;
    let executors = Arc::new(Executors::new(SandboxConfig {
        first_uid: 64000,
        uid_slots: 32,
        warm_dir: Some(data_dir.join("sandboxes")),
        warm: 2 * MAX_WORKERS,
        ..SandboxConfig::default()
    }));
    let cold = Arc::new(Executors::new(SandboxConfig {
        first_uid: 64032,
        uid_slots: 16,
        ..SandboxConfig::default()
    }));
    Ok(Fixture {
        options,
        data_dir,
        acme,
        member,
        executors,
        cold,
        trivial_dir,
    })
}

/// Registers a script folder given as files in `tenant`, granted to members; returns its
/// content hash.
async fn register(ctx: &Ctx, tenant: &Tenant, files: &[(&str, &str)]) -> anyhow::Result<String> {
    let folder = manifest::load_script_folder(
        files
            .iter()
            .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
            .collect(),
    )?;
    skills::register(
        ctx,
        tenant,
        &Actor::system(),
        &folder,
        &[TenantRole::Member],
    )
    .await?;
    Ok(folder.content_hash)
}

/// A context with a pool of its own of `connections`, all opened up front so that no
/// measurement pays for connecting.
async fn context(fx: &Fixture, connections: u32) -> anyhow::Result<Ctx> {
    let pool = domain::db::connect(fx.options.clone(), connections).await?;
    let mut open = Vec::new();
    for _ in 0..connections {
        open.push(pool.acquire().await?);
    }
    drop(open);
    Ok(Ctx::new(pool, fx.data_dir.clone()))
}

/// Round trip and commit costs of the database, so per-query costs can be read off.
async fn print_db_costs(pool: &PgPool) -> anyhow::Result<()> {
    const N: u32 = 200;
    let mut conn = pool.acquire().await?;
    let started = Instant::now();
    for _ in 0..N {
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
    }
    let select = started.elapsed() / N;
    let started = Instant::now();
    for _ in 0..N {
        let mut tx = conn.begin().await?;
        // Takes a transaction id, so the commit writes and flushes WAL like any write.
        sqlx::query("SELECT txid_current()")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let commit = started.elapsed() / N;
    let sync: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&mut *conn)
        .await?;
    println!(
        "  PostgreSQL (Unix socket): `SELECT 1` {:.3} ms; a transaction whose COMMIT flushes WAL {:.3} ms \
         (synchronous_commit = {sync})",
        ms(select),
        ms(commit)
    );
    Ok(())
}

/// `n` sequential spawns of `python <args>` (`-c pass`, or a script), no sandbox.
async fn bare_python(
    pool: &PgPool,
    python: &Path,
    args: &[&str],
    n: usize,
) -> anyhow::Result<Measured> {
    // A folder of its own to start in: a script may write there (`result.json`).
    let scratch = std::env::temp_dir().join(format!("execgov-bench-bare-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let meter = Meter::start(pool).await?;
    for _ in 0..n {
        bare_start(python, args, &scratch).await?;
    }
    let measured = meter.stop(pool).await;
    std::fs::remove_dir_all(&scratch).ok();
    measured
}

/// `python <args>` started bare in `cwd`, waited for; it must succeed.
async fn bare_start<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
    python: &Path,
    args: &[S],
    cwd: &Path,
) -> anyhow::Result<()> {
    let status = tokio::process::Command::new(python)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .with_context(|| format!("starting {}", python.display()))?;
    ensure!(status.success(), "{} {args:?}: {status}", python.display());
    Ok(())
}

/// `n` sequential sandboxed runs of the trivial skill (see [`sandbox_run`]).
async fn sandbox_only(
    pool: &PgPool,
    fx: &Fixture,
    executors: &Executors,
    n: usize,
) -> anyhow::Result<Measured> {
    let meter = Meter::start(pool).await?;
    for _ in 0..n {
        sandbox_run(fx, executors).await?;
    }
    meter.stop(pool).await
}

/// One sandboxed run of the trivial skill through `Executors::run` (see [`timed_run`]).
async fn sandbox_run(fx: &Fixture, executors: &Executors) -> anyhow::Result<Duration> {
    let work = fx.data_dir.join("direct");
    let (took, outcome) = timed_run(executors, &fx.trivial_dir, &work, None).await?;
    ensure!(
        outcome.status == RunStatus::Succeeded && outcome.result.is_some(),
        "a sandboxed run ended {}: {:?}",
        outcome.status.as_str(),
        outcome.reason
    );
    Ok(took)
}

/// One run of the Python skill in `script_dir` (with `environment`) through `Executors::run`, in
/// a fresh work directory `work` as the worker makes it (removed after); no queue, no database.
/// Returns how long `Executors::run` took, and how the run ended.
async fn timed_run(
    executors: &Executors,
    script_dir: &Path,
    work: &Path,
    environment: Option<PathBuf>,
) -> anyhow::Result<(Duration, engine::RunOutcome)> {
    std::fs::create_dir_all(work.join("output"))?;
    std::fs::create_dir_all(work.join("files"))?;
    std::fs::write(work.join("inputs.json"), "{}")?;
    let (log, _lines) = mpsc::unbounded_channel();
    let (_cancel, cancelled) = watch::channel(false);
    let started = Instant::now();
    let outcome = executors
        .run(
            RunRequest {
                kind: AssetKind::Python,
                script_dir,
                work_dir: work,
                env: Vec::new(),
                args: Vec::new(),
                stdin: Vec::new(),
                artifacts: Vec::new(),
                limits: Limits::default(),
                environment,
            },
            log,
            cancelled,
        )
        .await?;
    let took = started.elapsed();
    std::fs::remove_dir_all(work)?;
    Ok((took, outcome))
}

/// Requests `n` runs of `slug` as Acme's member; returns the execution ids.
async fn request_many(ctx: &Ctx, fx: &Fixture, slug: &str, n: usize) -> anyhow::Result<Vec<i64>> {
    let actor = Actor {
        name: "acme-user".into(),
        meta: RequestMeta::default(),
    };
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(
            executions::request(
                ctx,
                &fx.acme,
                &fx.member,
                &actor,
                slug,
                &BTreeMap::new(),
                &[],
            )
            .await?,
        );
    }
    Ok(ids)
}

/// Waits until the queue is empty (every execution finished) on `workers` workers.
async fn wait_drained(pool: &PgPool, workers: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + PHASE_LIMIT;
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM public.execution_queue")
            .fetch_one(pool)
            .await?;
        if left == 0 {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{left} executions still queued or running after {PHASE_LIMIT:?}"
        );
        let far = left as usize > workers;
        tokio::time::sleep(if far { POLL_FAR } else { POLL }).await;
    }
}

/// Every one of `ids` succeeded and stored its `result.json`.
async fn check_succeeded(ctx: &Ctx, fx: &Fixture, ids: &[i64]) -> anyhow::Result<()> {
    let rows: Vec<(String, Option<String>, i64, i64)> = sqlx::query_as(&format!(
        "SELECT status, min(reason), count(*), count(result) FROM {}.executions \
         WHERE id = ANY($1) GROUP BY status",
        fx.acme.schema.as_str()
    ))
    .bind(ids)
    .fetch_all(&ctx.pool)
    .await?;
    let mut done = 0;
    for (status, reason, count, results) in rows {
        ensure!(
            status == "succeeded",
            "{count} executions ended {status}: {reason:?}"
        );
        ensure!(results == count, "{} results missing", count - results);
        done += count;
    }
    ensure!(
        done == ids.len() as i64,
        "{done} of {} executions found",
        ids.len()
    );
    Ok(())
}

/// One job on an idle worker, medians, from the execution's own timestamps (`created_at`
/// and `started_at` are the start of the request's and of the claim's transaction).
struct IdleLatency {
    claimed: Duration,
    finished: Duration,
}

/// Benchmark 1 on the real worker loop: one idle worker (`start_workers`, LISTEN/NOTIFY),
/// then `n` requests back to back; from the first request until the last has finished.
/// Then [`IDLE_SAMPLES`] single requests, each once the worker is idle again.
async fn queue_one_worker(
    fx: &Fixture,
    executors: &Arc<Executors>,
    n: usize,
) -> anyhow::Result<(Measured, IdleLatency)> {
    let ctx = context(fx, 8).await?;
    executions::start_workers(ctx.clone(), executors.clone(), 1, QueuePolicy::default());
    // Let the worker connect, find nothing and wait for a NOTIFY.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let meter = Meter::start(&ctx.pool).await?;
    let ids = request_many(&ctx, fx, TRIVIAL_SLUG, n).await?;
    wait_drained(&ctx.pool, 1).await?;
    let batch = meter.stop(&ctx.pool).await?;
    check_succeeded(&ctx, fx, &ids).await?;

    let mut singles = Vec::new();
    for _ in 0..IDLE_SAMPLES {
        tokio::time::sleep(Duration::from_millis(50)).await;
        singles.extend(request_many(&ctx, fx, TRIVIAL_SLUG, 1).await?);
        wait_drained(&ctx.pool, 1).await?;
    }
    check_succeeded(&ctx, fx, &singles).await?;
    let (mut claimed, mut finished): (Vec<f64>, Vec<f64>) =
        sqlx::query_as::<_, (f64, f64)>(&format!(
            "SELECT extract(epoch FROM started_at - created_at)::float8, \
                extract(epoch FROM finished_at - created_at)::float8 \
         FROM {}.executions WHERE id = ANY($1)",
            fx.acme.schema.as_str()
        ))
        .bind(&singles)
        .fetch_all(&ctx.pool)
        .await?
        .into_iter()
        .unzip();
    // The workers stop once their pool is closed.
    ctx.pool.close().await;
    Ok((
        batch,
        IdleLatency {
            claimed: median(&mut claimed),
            finished: median(&mut finished),
        },
    ))
}

/// The median of seconds, as a duration.
fn median(seconds: &mut [f64]) -> Duration {
    seconds.sort_by(f64::total_cmp);
    Duration::from_secs_f64(seconds.get(seconds.len() / 2).copied().unwrap_or(0.0))
}

/// Totals of the queue's phases over `n` jobs.
struct Phases {
    request: Duration,
    claim: Duration,
    run: Duration,
    /// `Executors::run` alone, interleaved with the jobs so that it is measured under the
    /// same conditions as `run_claimed`.
    sandbox: Duration,
}

/// Benchmark 1's breakdown: `n` requests, then `claim_next` + `run_claimed` one by one,
/// each job followed by one sandboxed run without the queue.
async fn queue_phases(fx: &Fixture, ctx: &Ctx, n: usize) -> anyhow::Result<Phases> {
    let policy = QueuePolicy::default();
    let started = Instant::now();
    let ids = request_many(ctx, fx, TRIVIAL_SLUG, n).await?;
    let request = started.elapsed();
    let (mut claim, mut run, mut sandbox) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..n {
        let started = Instant::now();
        let claimed = executions::claim_next(ctx, "bench-driven", &policy)
            .await?
            .context("a requested execution was not claimable")?;
        claim += started.elapsed();
        let started = Instant::now();
        executions::run_claimed(ctx, &fx.executors, claimed, "bench-driven", &policy).await?;
        run += started.elapsed();
        sandbox += sandbox_run(fx, &fx.executors).await?;
    }
    check_succeeded(ctx, fx, &ids).await?;
    Ok(Phases {
        request,
        claim,
        run,
        sandbox,
    })
}

/// Benchmark 2, one setting: `jobs` sleeping skills enqueued, then `workers` workers started;
/// from their start until the queue is empty.
async fn queue_throughput(
    fx: &Fixture,
    workers: usize,
    jobs: usize,
    policy: &QueuePolicy,
) -> anyhow::Result<Measured> {
    // Per worker: its LISTEN connection, plus claim / log / heartbeat / finish transactions.
    let ctx = context(fx, 2 * workers as u32 + 4).await?;
    let ids = request_many(&ctx, fx, SLEEP_SLUG, jobs).await?;
    let meter = Meter::start(&ctx.pool).await?;
    executions::start_workers(ctx.clone(), fx.executors.clone(), workers, policy.clone());
    wait_drained(&ctx.pool, workers).await?;
    let measured = meter.stop(&ctx.pool).await?;
    check_succeeded(&ctx, fx, &ids).await?;
    ctx.pool.close().await;
    Ok(measured)
}

/// What one measurement cost.
#[derive(Clone, Copy)]
struct Measured {
    wall: Duration,
    /// CPU of this process and of its waited-for children (the sandboxes).
    cpu: Duration,
    /// CPU of the PostgreSQL cluster's processes.
    pg: Duration,
    /// Share of the whole machine's CPU time that was busy (anyone's work).
    busy: f64,
}

/// Wall clock and CPU counters at the start of a measurement.
struct Meter {
    wall: Instant,
    cpu: Duration,
    pg: HashMap<i32, Duration>,
    machine: (u64, u64),
}

impl Meter {
    async fn start(pool: &PgPool) -> anyhow::Result<Meter> {
        Ok(Meter {
            pg: postgres_cpu(pool).await?,
            machine: machine_ticks()?,
            cpu: own_cpu()?,
            wall: Instant::now(),
        })
    }

    async fn stop(&self, pool: &PgPool) -> anyhow::Result<Measured> {
        let wall = self.wall.elapsed();
        let cpu = own_cpu()?.saturating_sub(self.cpu);
        let (busy, total) = machine_ticks()?;
        let pg = postgres_cpu(pool)
            .await?
            .into_iter()
            .map(|(pid, t)| t.saturating_sub(self.pg.get(&pid).copied().unwrap_or_default()))
            .sum();
        Ok(Measured {
            wall,
            cpu,
            pg,
            busy: (busy - self.machine.0) as f64 / (total - self.machine.1).max(1) as f64,
        })
    }
}

/// CPU time so far of each process of the cluster (`pg_stat_activity` lists its background
/// processes too), from `/proc/<pid>/schedstat`.
async fn postgres_cpu(pool: &PgPool) -> anyhow::Result<HashMap<i32, Duration>> {
    let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity")
        .fetch_all(pool)
        .await?;
    Ok(pids
        .into_iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
            let nanos = stat.split_whitespace().next()?.parse().ok()?;
            Some((pid, Duration::from_nanos(nanos)))
        })
        .collect())
}

/// User + system CPU of this process and of its children that have been waited for.
fn own_cpu() -> anyhow::Result<Duration> {
    use nix::sys::resource::{getrusage, UsageWho};
    let mut total = Duration::ZERO;
    for who in [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN] {
        let usage = getrusage(who)?;
        for t in [usage.user_time(), usage.system_time()] {
            total +=
                Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64);
        }
    }
    Ok(total)
}

/// The machine's busy and total CPU ticks so far, all CPUs (`/proc/stat`).
fn machine_ticks() -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .context("/proc/stat has no cpu line")?
        .split_whitespace()
        // user nice system idle iowait irq softirq steal; guest time is already in user.
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    ensure!(ticks.len() >= 5, "/proc/stat: too few cpu fields");
    let total: u64 = ticks.iter().sum();
    // idle and iowait are the 4th and 5th fields.
    Ok((total - ticks[3] - ticks[4], total))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn per_job(d: Duration, n: usize) -> String {
    format!("{:.1} ms", ms(d) / n as f64)
}

/// `a − b` per job, with its sign.
fn signed_per_job(a: Duration, b: Duration, n: usize) -> String {
    format!("{:+.1} ms", (ms(a) - ms(b)) / n as f64)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "missed"
    }
}

/// The 1-minute load average, to show how busy the machine was around the measurement.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}
