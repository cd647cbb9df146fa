//! Issue 14's benchmark: the same eight workers as one worker process × 8 and as two × 4, real
//! `execgov --role worker` processes of this build on the bench's database, on the 100 ms skill
//! and on the trivial one. Throughput is read from the executions' own timestamps (first start to
//! last finish), so that starting the processes is not counted.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{ensure, Context};
use domain::Ctx;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::{
    check_succeeded, request_many, wait_drained, Fixture, JOBS_PER_WORKER, MAX_WORKERS, SLEEP_SLUG,
    TRIVIAL_SLUG,
};

/// (worker processes, workers in each); the total is `MAX_WORKERS` in both.
const LAYOUTS: [(usize, usize); 2] = [(1, MAX_WORKERS), (2, MAX_WORKERS / 2)];
/// Each layout runs twice, in the order A B B A, so that drift in the machine's load hits both.
const ORDER: [usize; 4] = [0, 1, 1, 0];
/// Sandbox uids of the worker processes: 100 per process, past the bench's own (64000–64047).
const FIRST_UID: u32 = 65000;

pub async fn benchmark(fx: &Fixture, ctx: &Ctx, database_url: &str) -> anyhow::Result<()> {
    let jobs = JOBS_PER_WORKER * MAX_WORKERS;
    println!(
        "\nBenchmark (issue 14): {MAX_WORKERS} workers as 1 process × {} and as 2 processes × {} \
         (execgov --role worker), {jobs} jobs each time, all in Acme (EXECGOV_TENANT_CAP {});",
        LAYOUTS[0].1,
        LAYOUTS[1].1,
        2 * MAX_WORKERS
    );
    println!(
        "  jobs/s from the executions' first start to their last finish; each layout run twice \
         (A B B A), the mean shown. Target: 2 processes within 5% of 1."
    );
    println!(
        "  {:<22}{:>12}{:>12}{:>10}",
        "skill", "1 × 8 jobs/s", "2 × 4 jobs/s", "2 ÷ 1"
    );
    let key = fx.data_dir.join("bench-master.key");
    std::fs::write(&key, format!("{:064x}", 0xbe9c4u32))?;
    for (slug, what) in [
        (SLEEP_SLUG, "shell, sleeps 100 ms"),
        (TRIVIAL_SLUG, "Python, trivial"),
    ] {
        let mut rates = [Vec::new(), Vec::new()];
        for layout in ORDER {
            let ids = request_many(ctx, fx, slug, jobs).await?;
            let (processes, workers) = LAYOUTS[layout];
            let mut started = Vec::new();
            for index in 0..processes {
                started.push(worker_process(fx, database_url, &key, index, workers)?);
            }
            let drained = wait_drained(&ctx.pool, MAX_WORKERS).await;
            for process in started {
                stop(process).await?;
            }
            drained?;
            check_succeeded(ctx, fx, &ids).await?;
            rates[layout].push(throughput(ctx, fx, &ids).await?);
        }
        let mean = |r: &[f64]| r.iter().sum::<f64>() / r.len() as f64;
        let (one, two) = (mean(&rates[0]), mean(&rates[1]));
        println!("  {what:<22}{one:>14.1}{two:>14.1}{:>8.2}", two / one);
    }
    Ok(())
}

/// A worker process of this build with `workers` workers and a data folder of its own.
fn worker_process(
    fx: &Fixture,
    database_url: &str,
    key: &Path,
    index: usize,
    workers: usize,
) -> anyhow::Result<Child> {
    let binary = std::env::current_exe()?.with_file_name("execgov");
    let dir = fx.data_dir.join(format!("worker-process-{index}"));
    std::fs::create_dir_all(&dir)?;
    let log = std::fs::File::create(dir.join("execgov.log"))?;
    Command::new(&binary)
        .args(["--role", "worker"])
        .env("DATABASE_URL", database_url)
        .env("EXECGOV_DATA_DIR", &dir)
        .env("EXECGOV_ADDR", "127.0.0.1:0")
        .env("EXECGOV_WORKERS", workers.to_string())
        .env("EXECGOV_TENANT_CAP", (2 * MAX_WORKERS).to_string())
        .env("EXECGOV_MASTER_KEY_FILE", key)
        .env(
            "EXECGOV_SANDBOX_FIRST_UID",
            (FIRST_UID + 100 * index as u32).to_string(),
        )
        .env("EXECGOV_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (build it: cargo build --release)",
                binary.display()
            )
        })
}

/// Stops a worker process as an operator does (SIGTERM) and waits for it.
async fn stop(mut process: Child) -> anyhow::Result<()> {
    if let Some(pid) = process.id() {
        kill(Pid::from_raw(pid as i32), Signal::SIGTERM)?;
    }
    match tokio::time::timeout(Duration::from_secs(30), process.wait()).await {
        Ok(status) => {
            status?;
        }
        Err(_) => process.kill().await?,
    }
    Ok(())
}

/// Executions per second between the first start and the last finish of `ids`.
async fn throughput(ctx: &Ctx, fx: &Fixture, ids: &[i64]) -> anyhow::Result<f64> {
    let span: f64 = sqlx::query_scalar(&format!(
        "SELECT extract(epoch FROM max(finished_at) - min(started_at))::float8 \
         FROM {}.executions WHERE id = ANY($1)",
        fx.acme.schema.as_str()
    ))
    .bind(ids)
    .fetch_one(&ctx.pool)
    .await?;
    ensure!(span > 0.0, "the executions took no time");
    Ok(ids.len() as f64 / span)
}
