//! A worker that lost its lease (it stalled, the reaper queued its execution again, another
//! worker took it) goes on until its script ends: what it then does must not touch the work
//! folder or the artifacts of the attempt that replaced it.
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use domain::executions::{self, QueuePolicy};
use engine::{Executors, SandboxConfig};
use model::ExecutionStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_lost_its_lease_leaves_the_next_attempt_alone() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    // The first attempt (started before `switch`) writes its artifact at `first_ends`, while
    // the second one still runs; the second writes its own at `second_ends`.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let script = format!(
        "import time\nfirst = time.time() < {switch}\ntime.sleep(max(0, ({first_ends} if first else {second_ends}) - time.time()))\n\
         open('output/who.txt', 'w').write('first' if first else 'second')\n",
        switch = now + 2.0,
        first_ends = now + 5.0,
        second_ends = now + 8.0,
    );
    register_script(&ctx, &acme, ("late", "main.py", &script), 30).await;
    let member = user(&ctx, &acme, "acme-user").await;
    let id = executions::request(
        &ctx,
        &acme,
        &member,
        &actor("acme-user"),
        "late",
        &BTreeMap::new(),
        &[],
    )
    .await
    .unwrap();
    let executors = Arc::new(Executors::new(SandboxConfig {
        first_uid: 65008,
        uid_slots: 2,
        warm_dir: Some(ctx.data_dir.join("sandboxes")),
        warm: 1,
        ..SandboxConfig::default()
    }));
    // It never renews its 1-second lease.
    let stalled = QueuePolicy {
        lease: Duration::from_secs(1),
        heartbeat: Duration::from_secs(3600),
        ..QueuePolicy::default()
    };
    let healthy = QueuePolicy {
        heartbeat: Duration::from_millis(200),
        ..QueuePolicy::default()
    };
    let first = executions::claim_next(&ctx, "stalled", &stalled)
        .await
        .unwrap()
        .unwrap();
    let first_run = tokio::spawn({
        let (ctx, executors) = (ctx.clone(), executors.clone());
        async move { executions::run_claimed(&ctx, &executors, first, "stalled", &stalled).await }
    });
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(executions::reap_expired(&ctx).await.unwrap(), 1);
    let second = executions::claim_next(&ctx, "healthy", &healthy)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((second.execution_id, second.attempt), (id, 2));
    let second_run = tokio::spawn({
        let (ctx, executors) = (ctx.clone(), executors.clone());
        async move { executions::run_claimed(&ctx, &executors, second, "healthy", &healthy).await }
    });

    // The stalled worker's script ends first: its result is dropped, its files not moved.
    let artifacts = ctx.artifacts_dir(acme.id, id);
    first_run.await.unwrap().unwrap();
    assert!(
        !artifacts.exists(),
        "the stalled attempt's artifacts were stored"
    );
    assert_eq!(
        second_run.await.unwrap().unwrap(),
        ExecutionStatus::Succeeded
    );
    assert_eq!(
        std::fs::read_to_string(artifacts.join("who.txt")).unwrap(),
        "second"
    );
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM tenant_1003.executions WHERE id = $1")
            .bind(id)
            .fetch_one(&ctx.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("succeeded", 2));
}
