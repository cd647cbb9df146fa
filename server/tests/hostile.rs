//! Hostile skills through the real queue and workers: each ends with the expected status and
//! reason, while the server keeps answering.
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use domain::accounts::{self, Realm};
use domain::executions::{self, QueuePolicy};
use domain::Actor;
use engine::{Executors, SandboxConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_skills_end_with_their_reason_and_the_server_keeps_serving() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = server.ctx.clone();
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let hostile = [
        ("spin", "main.py", "while True:\n    pass\n", "timed_out", "timed out"),
        ("forkbomb", "main.sh", "f() { f | f & }; f\nsleep 30\n", "timed_out", "timed out"),
        ("hog", "main.py", "x = bytearray(4 * 1024 ** 3)\n", "failed", "memory"),
        ("flood", "main.py", "import sys\nchunk = 'x' * 1023 + '\\n'\nfor _ in range(100 * 1024):\n    sys.stdout.write(chunk)\n", "succeeded", ""),
        ("shadow", "main.py", "open('/etc/shadow').read()\n", "failed", "exit code 1"),
    ];
    for (slug, entry, main, _, _) in &hostile {
        register_script(&ctx, &acme, (slug, entry, main), 3).await;
    }
    let session = accounts::login(
        &ctx,
        Realm::Tenant(&acme),
        "acme-user",
        PASSWORD.into(),
        &Default::default(),
    )
    .await
    .unwrap();
    let user = accounts::session_user(&ctx, Realm::Tenant(&acme), &session.token)
        .await
        .unwrap()
        .unwrap();
    let actor = Actor::system();
    let mut ids = Vec::new();
    for (slug, ..) in &hostile {
        ids.push(
            executions::request(&ctx, &acme, &user, &actor, slug, &BTreeMap::new(), &[])
                .await
                .unwrap(),
        );
    }
    let executors = Executors::new(SandboxConfig {
        first_uid: 63600,
        uid_slots: 8,
        ..SandboxConfig::default()
    });
    executions::start_workers(ctx.clone(), Arc::new(executors), 3, QueuePolicy::default());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        // The server answers all along.
        assert_eq!(
            server.get("acme.localhost", "/healthz", None).await.status,
            200
        );
        let open = count(
            &ctx,
            "SELECT count(*) FROM tenant_1003.executions WHERE status IN ('queued', 'running')",
        )
        .await;
        if open == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{open} still open");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for ((slug, _, _, want_status, want_reason), id) in hostile.iter().zip(&ids) {
        let (status, reason, truncated): (String, Option<String>, bool) = sqlx::query_as(
            "SELECT status, reason, stdout_truncated FROM tenant_1003.executions WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&ctx.pool)
        .await
        .unwrap();
        assert_eq!(&status, want_status, "{slug}: {reason:?}");
        let reason = reason.unwrap_or_default();
        assert!(reason.contains(want_reason), "{slug}: {reason}");
        if *slug == "flood" {
            assert!(truncated, "flood: stdout marked truncated");
            let stored: i64 = count(
                &ctx,
                &format!("SELECT COALESCE(sum(length(line)), 0) FROM tenant_1003.execution_logs WHERE execution_id = {id}"),
            )
            .await;
            assert!(stored <= 1024 * 1024, "flood: {stored} bytes of log kept");
        }
    }
    // And it still serves pages.
    assert_eq!(server.get("acme.localhost", "/", None).await.status, 200);
}
