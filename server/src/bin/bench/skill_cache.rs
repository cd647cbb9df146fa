//! Issue 14's benchmark: what a run pays when its skill folder is not yet in this node's cache
//! (fetched from the database, every file checked against its hash) against one that is (its
//! files checked only), and the folder alone (`skills::cached_folder`).

use std::time::Instant;

use anyhow::Context;
use domain::executions::{self, QueuePolicy};
use domain::skills;
use domain::Ctx;

use super::{check_succeeded, median, ms, request_many, Fixture, TRIVIAL_SLUG};

/// Runs of each kind, taken in turns so that drift in the machine's load hits both alike.
const RUNS: usize = 20;

pub async fn benchmark(fx: &Fixture, ctx: &Ctx) -> anyhow::Result<()> {
    println!(
        "\nBenchmark (issue 14): the trivial skill's folder in this node's cache, or not \
         (fetched from PostgreSQL); one run at a time, claim_next + run_claimed, median of {RUNS}"
    );
    let policy = QueuePolicy::default();
    let hash = fx
        .trivial_dir
        .file_name()
        .and_then(|h| h.to_str())
        .context("the asset folder is named by its hash")?
        .to_string();
    let (mut run_cached, mut run_fetched) = (Vec::new(), Vec::new());
    let (mut folder_cached, mut folder_fetched) = (Vec::new(), Vec::new());
    for turn in 0..2 * RUNS {
        let cold = turn % 2 == 1;
        let ids = request_many(ctx, fx, TRIVIAL_SLUG, 1).await?;
        if cold {
            std::fs::remove_dir_all(&fx.trivial_dir)?;
        }
        let started = Instant::now();
        let claimed = executions::claim_next(ctx, "bench-cache", &policy)
            .await?
            .context("a requested execution was not claimable")?;
        executions::run_claimed(ctx, &fx.executors, claimed, "bench-cache", &policy).await?;
        let run = started.elapsed().as_secs_f64();
        check_succeeded(ctx, fx, &ids).await?;

        if cold {
            std::fs::remove_dir_all(&fx.trivial_dir)?;
        }
        let started = Instant::now();
        skills::cached_folder(ctx, fx.acme.id, &fx.acme.schema, &hash).await?;
        let folder = started.elapsed().as_secs_f64();
        let (runs, folders) = if cold {
            (&mut run_fetched, &mut folder_fetched)
        } else {
            (&mut run_cached, &mut folder_cached)
        };
        runs.push(run);
        folders.push(folder);
    }
    let (run_cached, run_fetched) = (median(&mut run_cached), median(&mut run_fetched));
    let (folder_cached, folder_fetched) = (median(&mut folder_cached), median(&mut folder_fetched));
    println!("  {:<48}{:>12}{:>12}", "", "run", "folder only");
    for (label, run, folder) in [
        ("in the cache (checked by hash)", run_cached, folder_cached),
        (
            "not in the cache (fetched, checked)",
            run_fetched,
            folder_fetched,
        ),
    ] {
        println!("  {label:<48}{:>9.1} ms{:>9.2} ms", ms(run), ms(folder));
    }
    println!(
        "  a folder not yet cached costs {:.1} ms more per run (folder alone: {:.2} ms); a cached \
         one only its check, {:.2} ms",
        ms(run_fetched) - ms(run_cached),
        ms(folder_fetched) - ms(folder_cached),
        ms(folder_cached)
    );
    Ok(())
}
