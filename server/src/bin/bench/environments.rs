//! Issue 12's benchmarks 1–3: a skill with a Python environment (pandas), warm interpreters.
//!
//! The environment is the platform's own: resolved into a lock and built by
//! `domain::environments` (uv, from the test wheelhouse, offline), as an approved skill's is.
//! Benchmarks 1 and 2 measure the executor (`Executors::run`: request → outcome) with that
//! environment. The baseline is the same `main.py` started bare with the environment's
//! interpreter and the sandbox's flags (`/env/bin/python -I -u`), in the same run, under the
//! same pauses.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::ensure;
use domain::environments::requirements::{parse_requirements_txt, Declared, REQUIREMENTS_FILE};
use domain::environments::{self, PackageIndex};
use domain::Ctx;
use engine::{Executors, RunStatus, SandboxConfig};

use super::{bare_start, ms, ratio, timed_run, verdict};

/// Single runs on an idle system, each after a pause.
const IDLE_SAMPLES: usize = 10;
/// The pause before each: longer than the import the warm interpreter pays ahead.
const IDLE_PAUSE: Duration = Duration::from_millis(1500);
/// Runs back to back.
const BACK_TO_BACK: usize = 20;
/// The packages of the environment.
const PACKAGES: [&str; 2] = ["pandas", "openpyxl"];

const PANDAS_MAIN: &str = "import json\nimport pandas as pd\n\n\
    df = pd.DataFrame({\"region\": [\"north\", \"south\", \"north\"], \"amount\": [3, 4, 5]})\n\
    totals = df.groupby(\"region\")[\"amount\"].sum()\n\
    with open(\"result.json\", \"w\") as f:\n    json.dump({k: int(v) for k, v in totals.items()}, f)\n";

/// Benchmarks 1–3 (see the module comment), with `ctx`'s database and data folder.
pub async fn benchmarks(ctx: &Ctx) -> anyhow::Result<()> {
    println!("\nIssue 12: a skill with packages (its main.py imports pandas), like for like");
    let Some(wheels) = wheelhouse() else {
        println!(
            "  benchmarks 1–3 not measured: no wheelhouse with pandas (set EXECGOV_TEST_WHEELHOUSE)"
        );
        return Ok(());
    };
    let env = benchmark_3(ctx, wheels).await?;
    let data_dir = &ctx.data_dir;
    let skill = data_dir.join("bench-pandas");
    std::fs::create_dir_all(&skill)?;
    std::fs::write(skill.join("main.py"), PANDAS_MAIN)?;
    // As a worker per its own: two sandboxes ahead; uids of their own.
    let executors = Arc::new(Executors::new(SandboxConfig {
        first_uid: 64048,
        uid_slots: 8,
        warm_dir: Some(data_dir.join("sandboxes-env")),
        warm: 2,
        ..SandboxConfig::default()
    }));
    let python = env.join("bin/python");
    let bare = |n: usize, pause: Duration| bare_runs(&python, &skill, n, pause);
    // Warm-up: page cache; the first run starts its interpreter with it, and the next one ahead.
    bare(2, Duration::ZERO).await?;
    let first = run(&executors, &skill, &env).await?;

    let mut sandboxed = Vec::new();
    let mut bare_idle = Vec::new();
    for _ in 0..IDLE_SAMPLES {
        bare_idle.push(bare(1, IDLE_PAUSE).await?);
        tokio::time::sleep(IDLE_PAUSE).await;
        sandboxed.push(run(&executors, &skill, &env).await?);
    }
    let (warm, bare_one) = (median(&mut sandboxed), median(&mut bare_idle));
    let r1 = ratio(warm, bare_one);
    println!(
        "  1. idle system, one run at a time ({IDLE_SAMPLES}, {} ms pause before each), medians:",
        IDLE_PAUSE.as_millis()
    );
    println!(
        "     bare `/env/bin/python -I -u main.py` {:.1} ms; Executors::run with its environment {:.1} ms \
         (the first, cold, {:.1} ms)",
        ms(bare_one),
        ms(warm),
        ms(first)
    );
    println!(
        "     ratio {r1:.2} (target ≤ 0.3: {}): the import was paid ahead by a warm interpreter",
        verdict(r1 <= 0.3)
    );

    let started = Instant::now();
    for _ in 0..BACK_TO_BACK {
        run(&executors, &skill, &env).await?;
    }
    let sandboxed = started.elapsed();
    let bare_all = bare(BACK_TO_BACK, Duration::ZERO).await?;
    let r2 = ratio(sandboxed, bare_all * BACK_TO_BACK as u32);
    println!("  2. back to back, {BACK_TO_BACK} runs on one executor (two sandboxes ahead):");
    println!(
        "     bare {:.1} ms per run; Executors::run {:.1} ms per run; ratio {r2:.2} (target ≤ 1.1: {})",
        ms(bare_all),
        ms(sandboxed / BACK_TO_BACK as u32),
        verdict(r2 <= 1.1)
    );

    drop(executors);
    Ok(())
}

/// Where the wheels are: `EXECGOV_TEST_WHEELHOUSE` or `target/wheelhouse` (where
/// `scripts/test` downloads them); the first that has pandas.
fn wheelhouse() -> Option<PathBuf> {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wheelhouse");
    std::env::var_os("EXECGOV_TEST_WHEELHOUSE")
        .map(PathBuf::from)
        .into_iter()
        .chain([target])
        .find(|dir| {
            std::fs::read_dir(dir).is_ok_and(|mut d| {
                d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("pandas-")))
            })
        })
}

/// Benchmark 3: the platform resolves `pandas` + `openpyxl` into a lock and builds its
/// environment once (filling the installer's cache), then again from the warm cache; a second
/// skill with the same lock builds nothing. Returns the environment.
async fn benchmark_3(ctx: &Ctx, wheels: PathBuf) -> anyhow::Result<PathBuf> {
    let mut packages = server::config::Config::from_env()?.packages;
    packages.index = PackageIndex::Wheelhouse(wheels.canonicalize()?);
    let ctx = ctx.clone().with_packages(packages);
    let requirements: String = PACKAGES.iter().map(|p| format!("{p}\n")).collect();
    let declared = Declared {
        source: REQUIREMENTS_FILE,
        requirements: parse_requirements_txt(&requirements).map_err(anyhow::Error::msg)?,
        requires_python: None,
    };
    let started = Instant::now();
    let lock = environments::resolve(&ctx, &declared)
        .await
        .map_err(anyhow::Error::msg)?;
    let resolved = started.elapsed();
    let build = || async {
        let started = Instant::now();
        let env = environments::ensure_built(&ctx, &lock)
            .await
            .map_err(anyhow::Error::msg)?;
        anyhow::Ok((env, started.elapsed()))
    };
    let (env, _) = build().await?;
    std::fs::remove_dir_all(&env)?;
    let (_, warm) = build().await?;
    let (env, again) = build().await?;
    println!(
        "  3. {} ({} packages locked in {:.1} s, {}): built from a warm cache in {:.1} s; a \
         second skill with the same lock: {:.1} ms, no build ({})",
        PACKAGES.join(" + "),
        environments::lock::packages(&lock.text).len(),
        resolved.as_secs_f64(),
        ctx.packages.describe(),
        warm.as_secs_f64(),
        ms(again),
        verdict(again < Duration::from_millis(100))
    );
    Ok(env)
}

/// One run of the skill with its environment; how long `Executors::run` took.
async fn run(executors: &Executors, skill: &Path, env: &Path) -> anyhow::Result<Duration> {
    let work = skill.with_file_name("bench-pandas-work");
    let (took, outcome) = timed_run(executors, skill, &work, Some(env.to_path_buf())).await?;
    ensure!(
        outcome.status == RunStatus::Succeeded
            && outcome.result.as_deref() == Some("{\"north\": 8, \"south\": 4}"),
        "the pandas run ended {}: {:?} {:?}",
        outcome.status.as_str(),
        outcome.reason,
        outcome.result
    );
    Ok(took)
}

/// `n` bare starts of `main.py` with the environment's interpreter and the sandbox's flags, each
/// after `pause`; the mean time of one.
async fn bare_runs(
    python: &Path,
    skill: &Path,
    n: usize,
    pause: Duration,
) -> anyhow::Result<Duration> {
    let scratch = skill.with_file_name("bench-pandas-bare");
    std::fs::create_dir_all(&scratch)?;
    let mut total = Duration::ZERO;
    for _ in 0..n {
        tokio::time::sleep(pause).await;
        let started = Instant::now();
        let main = skill.join("main.py");
        bare_start(
            python,
            &["-I".as_ref(), "-u".as_ref(), main.as_os_str()],
            &scratch,
        )
        .await?;
        total += started.elapsed();
    }
    std::fs::remove_dir_all(&scratch).ok();
    Ok(total / n.max(1) as u32)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}
