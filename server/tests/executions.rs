//! Executions through the domain: request with uploads, confirmation, cancellation, fair
//! claiming across tenants, the sandboxed run, artifacts, audit, and recovery of executions
//! whose worker died. Real PostgreSQL, real bubblewrap, real scripts (the seeded demo skills).
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use domain::accounts;
use domain::executions::{self, QueuePolicy, Upload};
use domain::{AppError, Ctx};
use engine::{Executors, SandboxConfig};
use model::ExecutionStatus;

const CSV: &str =
    "region,amount,day\nnorth,10,2026-01-05\nsouth,20,2026-02-10\nnorth,30,2026-03-15\n";

/// Each test gets uids of its own: two pools sharing uids would clean up each other's runs.
fn executors() -> Executors {
    executors_with(None)
}

/// [`executors`] as the server has them: two sandboxes started ahead, in the data folder.
fn warm_executors(ctx: &Ctx) -> Executors {
    executors_with(Some(ctx.data_dir.join("sandboxes")))
}

fn executors_with(warm_dir: Option<std::path::PathBuf>) -> Executors {
    static NEXT: AtomicU32 = AtomicU32::new(63000);
    Executors::new(SandboxConfig {
        first_uid: NEXT.fetch_add(8, Ordering::SeqCst),
        uid_slots: 8,
        warm: if warm_dir.is_some() { 2 } else { 0 },
        warm_dir,
        ..SandboxConfig::default()
    })
}

fn policy() -> QueuePolicy {
    QueuePolicy {
        per_tenant_cap: 4,
        lease: Duration::from_secs(30),
        heartbeat: Duration::from_millis(200),
        ..QueuePolicy::default()
    }
}

fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn csv_upload() -> Vec<Upload> {
    vec![Upload {
        field: "data".into(),
        file_name: "sales.csv".into(),
        bytes: CSV.as_bytes().to_vec(),
    }]
}

/// Status, reason and result of an execution, read straight from the tenant's schema.
async fn state(ctx: &Ctx, schema: &str, id: i64) -> (String, Option<String>, Option<String>) {
    sqlx::query_as(&format!(
        "SELECT status, reason, result FROM {schema}.executions WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(&ctx.pool)
    .await
    .unwrap()
}

/// Claims and runs queued executions until none is left; returns how many ran.
async fn drain(ctx: &Ctx, executors: &Executors, worker: &str) -> usize {
    let mut ran = 0;
    while let Some(claimed) = executions::claim_next(ctx, worker, &policy())
        .await
        .unwrap()
    {
        executions::run_claimed(ctx, executors, claimed, worker, &policy())
            .await
            .unwrap();
        ran += 1;
    }
    ran
}

/// The whole manual path in the domain: an uploaded CSV, a sandboxed run, a result table,
/// a downloadable report, live log lines and an audit entry for every state change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_runs_the_csv_summary_and_gets_its_result_and_report() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let member = user(&ctx, &acme, "acme-user").await;
    let id = executions::request(
        &ctx,
        &acme,
        &member,
        &actor("acme-user"),
        "csv-summary",
        &BTreeMap::new(),
        &csv_upload(),
    )
    .await
    .unwrap();
    assert_eq!(state(&ctx, "tenant_1003", id).await.0, "queued");
    assert_eq!(drain(&ctx, &executors(), "w1").await, 1);

    let (status, reason, result) = state(&ctx, "tenant_1003", id).await;
    assert_eq!(status, "succeeded", "{reason:?}");
    let result: serde_json::Value = serde_json::from_str(&result.expect("a result")).unwrap();
    let columns: Vec<&str> = result
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["column"].as_str())
        .collect();
    assert_eq!(columns, ["region", "amount", "day"], "{result}");
    let artifacts: Vec<(String, i64)> =
        sqlx::query_as("SELECT path, size FROM tenant_1003.artifacts WHERE execution_id = $1")
            .bind(id)
            .fetch_all(&ctx.pool)
            .await
            .unwrap();
    assert_eq!(artifacts.len(), 1);
    assert_eq!(artifacts[0].0, "report.md");
    let report = std::fs::read_to_string(ctx.artifacts_dir(acme.id, id).join("report.md")).unwrap();
    assert!(report.contains("amount"), "{report}");
    assert_eq!(report.len() as i64, artifacts[0].1);
    // The work directory is gone; the upload waits no more.
    assert!(!ctx.work_dir(acme.id, id).exists());
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM tenant_1003.audit_log WHERE target = $1 ORDER BY id",
    )
    .bind(format!("execution {id}"))
    .fetch_all(&ctx.pool)
    .await
    .unwrap();
    assert_eq!(
        actions,
        ["execution.request", "execution.start", "execution.finish"]
    );
    let digests: i64 = count(
        &ctx,
        &format!(
            "SELECT count(*) FROM tenant_1003.audit_log WHERE target = 'execution {id}' \
             AND detail->>'inputs_digest' ~ '^[0-9a-f]{{64}}$'"
        ),
    )
    .await;
    assert_eq!(
        digests, 3,
        "request, start and finish record the inputs digest"
    );
    // Nothing of it reached Globex.
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM tenant_1004.executions").await,
        0
    );
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM public.execution_queue").await,
        0
    );
}

/// Bad input is refused with a message naming the field, and no execution is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_creates_no_execution() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let member = user(&ctx, &acme, "acme-user").await;
    // (skill, form, uploads, the field the message must name)
    type Case = (
        &'static str,
        BTreeMap<String, String>,
        Vec<Upload>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        ("csv-summary", BTreeMap::new(), vec![], "data"),
        (
            "csv-summary",
            form(&[("top_values", "eleven")]),
            csv_upload(),
            "top_values",
        ),
        (
            "csv-summary",
            form(&[("nonsense", "1")]),
            csv_upload(),
            "nonsense",
        ),
        (
            "purge-old-rows",
            form(&[("date_column", "day"), ("cutoff", "2026-02-30")]),
            csv_upload(),
            "cutoff",
        ),
    ];
    for (slug, form, files, field) in cases {
        let err = executions::request(
            &ctx,
            &acme,
            &member,
            &actor("acme-user"),
            slug,
            &form,
            &files,
        )
        .await
        .expect_err(field);
        match err {
            AppError::Invalid(message) => assert!(message.contains(field), "{message}"),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM tenant_1003.executions").await,
        0
    );
    // A skill of another tenant does not exist here.
    let err = executions::request(
        &ctx,
        &acme,
        &member,
        &actor("acme-user"),
        "word-frequency",
        &form(&[("text", "a b")]),
        &[],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
}

/// A high-risk skill waits for a person: nothing runs until someone confirms, and who
/// confirmed is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_that_requires_confirmation_waits_for_it() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let member = user(&ctx, &acme, "acme-user").await;
    let id = executions::request(
        &ctx,
        &acme,
        &member,
        &actor("acme-user"),
        "purge-old-rows",
        &form(&[("date_column", "day"), ("cutoff", "2026-02-01")]),
        &csv_upload(),
    )
    .await
    .unwrap();
    assert_eq!(
        state(&ctx, "tenant_1003", id).await.0,
        "awaiting_confirmation"
    );
    let ex = executors();
    assert_eq!(drain(&ctx, &ex, "w1").await, 0, "nothing runs unconfirmed");

    executions::confirm(&ctx, &acme, &member, &actor("acme-user"), id)
        .await
        .unwrap();
    let err = executions::confirm(&ctx, &acme, &member, &actor("acme-user"), id)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)), "{err:?}");
    assert_eq!(drain(&ctx, &ex, "w1").await, 1);
    let (status, reason, _) = state(&ctx, "tenant_1003", id).await;
    assert_eq!(status, "succeeded", "{reason:?}");
    let confirmed_by: Option<i64> =
        sqlx::query_scalar("SELECT confirmed_by FROM tenant_1003.executions WHERE id = $1")
            .bind(id)
            .fetch_one(&ctx.pool)
            .await
            .unwrap();
    assert_eq!(confirmed_by, Some(member.user_id));
    let kept = std::fs::read_to_string(ctx.artifacts_dir(acme.id, id).join("kept.csv")).unwrap();
    assert!(
        !kept.contains("2026-01-05") && kept.contains("2026-03-15"),
        "{kept}"
    );
}

/// The requester (or an admin) cancels; other members cannot even see the execution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_by_the_requester_and_not_by_others() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let member = user(&ctx, &acme, "acme-user").await;
    let admin = user(&ctx, &acme, "acme-admin").await;
    accounts::create_user(
        &ctx,
        &acme,
        &actor("acme-admin"),
        "acme-other",
        PASSWORD.into(),
        model::TenantRole::Member,
    )
    .await
    .unwrap();
    let other = user(&ctx, &acme, "acme-other").await;
    let (no_form, files, requester) = (BTreeMap::new(), csv_upload(), actor("acme-user"));
    let request = || {
        executions::request(
            &ctx,
            &acme,
            &member,
            &requester,
            "csv-summary",
            &no_form,
            &files,
        )
    };
    let first = request().await.unwrap();
    let second = request().await.unwrap();
    let err = executions::cancel(&ctx, &acme, &other, &actor("acme-other"), first)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
    executions::cancel(&ctx, &acme, &member, &actor("acme-user"), first)
        .await
        .unwrap();
    executions::cancel(&ctx, &acme, &admin, &actor("acme-admin"), second)
        .await
        .unwrap();
    for id in [first, second] {
        assert_eq!(state(&ctx, "tenant_1003", id).await.0, "cancelled");
    }
    assert_eq!(drain(&ctx, &executors(), "w1").await, 0);
    let err = executions::cancel(&ctx, &acme, &member, &actor("acme-user"), first)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)), "{err:?}");
}

/// Cancelling a running execution stops its script at the worker's next heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_execution_stops_it() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let member = user(&ctx, &acme, "acme-user").await;
    // A CSV big enough to keep the summariser busy for a while.
    let mut big = String::from("a,b\n");
    for i in 0..400_000 {
        big.push_str(&format!("{i},{}\n", i * 7));
    }
    let id = executions::request(
        &ctx,
        &acme,
        &member,
        &actor("acme-user"),
        "csv-summary",
        &BTreeMap::new(),
        &[Upload {
            field: "data".into(),
            file_name: "big.csv".into(),
            bytes: big.into_bytes(),
        }],
    )
    .await
    .unwrap();
    let claimed = executions::claim_next(&ctx, "w1", &policy())
        .await
        .unwrap()
        .unwrap();
    let ex = executors();
    let run = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            executions::run_claimed(&ctx, &ex, claimed, "w1", &policy())
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    executions::cancel(&ctx, &acme, &member, &actor("acme-user"), id)
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the run stops soon after the cancellation")
        .unwrap();
    assert_eq!(ended, ExecutionStatus::Cancelled);
    assert_eq!(state(&ctx, "tenant_1003", id).await.0, "cancelled");
}

/// A worker that dies mid-execution stops renewing its lease: the reaper queues the execution
/// again and another worker finishes it; after the last attempt it fails with "worker lost".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_of_a_dead_worker_are_recovered() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let member = user(&ctx, &acme, "acme-user").await;
    let short = QueuePolicy {
        lease: Duration::from_millis(300),
        ..policy()
    };
    let (no_form, files, requester) = (BTreeMap::new(), csv_upload(), actor("acme-user"));
    let request = || {
        executions::request(
            &ctx,
            &acme,
            &member,
            &requester,
            "csv-summary",
            &no_form,
            &files,
        )
    };
    // Recovered: claimed by a worker that then vanished, finished by another.
    let id = request().await.unwrap();
    let lost = executions::claim_next(&ctx, "doomed", &short)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lost.execution_id, id);
    assert_eq!(state(&ctx, "tenant_1003", id).await.0, "running");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(executions::reap_expired(&ctx).await.unwrap(), 1);
    let (status, reason, _) = state(&ctx, "tenant_1003", id).await;
    assert_eq!(status, "queued");
    assert!(reason.unwrap().contains("worker lost"));
    assert_eq!(drain(&ctx, &executors(), "healthy").await, 1);
    assert_eq!(state(&ctx, "tenant_1003", id).await.0, "succeeded");
    // The vanished worker's late result is not taken: its claim is gone.
    let attempts: i32 =
        sqlx::query_scalar("SELECT attempts FROM tenant_1003.executions WHERE id = $1")
            .bind(id)
            .fetch_one(&ctx.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 2);

    // Failed: every attempt's worker died.
    let id = request().await.unwrap();
    for _ in 0..executions::MAX_ATTEMPTS {
        executions::claim_next(&ctx, "doomed", &short)
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        executions::reap_expired(&ctx).await.unwrap();
    }
    let (status, reason, _) = state(&ctx, "tenant_1003", id).await;
    assert_eq!(status, "failed");
    assert!(reason.unwrap().contains("failed: worker lost"));
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM public.execution_queue").await,
        0
    );
    let reaped: i64 = count(
        &ctx,
        &format!(
            "SELECT count(*) FROM tenant_1003.audit_log WHERE target = 'execution {id}' \
             AND action IN ('execution.requeue', 'execution.fail')"
        ),
    )
    .await;
    assert_eq!(reaped, executions::MAX_ATTEMPTS as i64);
}

/// With one tenant's backlog in front, the other tenant's execution is claimed next: claims go
/// to the tenant with the fewest running executions, under a per-tenant cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_cannot_starve_another() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let globex = tenant_of(&ctx, "globex.localhost").await;
    let acme_user = user(&ctx, &acme, "acme-user").await;
    let globex_user = user(&ctx, &globex, "globex-user").await;
    for _ in 0..5 {
        executions::request(
            &ctx,
            &acme,
            &acme_user,
            &actor("acme-user"),
            "csv-summary",
            &BTreeMap::new(),
            &csv_upload(),
        )
        .await
        .unwrap();
    }
    executions::request(
        &ctx,
        &globex,
        &globex_user,
        &actor("globex-user"),
        "word-frequency",
        &form(&[("text", "to be or not to be")]),
        &[],
    )
    .await
    .unwrap();
    let capped = QueuePolicy {
        per_tenant_cap: 2,
        ..policy()
    };
    let mut claimed = Vec::new();
    while let Some(c) = executions::claim_next(&ctx, "w", &capped).await.unwrap() {
        claimed.push(c.tenant_id);
    }
    assert_eq!(
        claimed,
        [acme.id, globex.id, acme.id],
        "fewest running first, cap 2"
    );
}

/// A word of letters only, different for each `n` (the word counter ignores digits).
fn letters(n: usize) -> String {
    format!("mark{}", (b'a' + n as u8) as char)
}

/// Many executions from two tenants at once on a pool of workers: every one finishes, and
/// each result lands in its own tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_executions_from_two_tenants_all_land_in_their_own_tenant() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let globex = tenant_of(&ctx, "globex.localhost").await;
    let acme_user = user(&ctx, &acme, "acme-user").await;
    let globex_user = user(&ctx, &globex, "globex-user").await;
    executions::start_workers(ctx.clone(), Arc::new(executors()), 4, policy());
    let mut acme_ids = Vec::new();
    let mut globex_ids = Vec::new();
    for n in 0..12 {
        let csv = format!("n\n{n}\n");
        acme_ids.push(
            executions::request(
                &ctx,
                &acme,
                &acme_user,
                &actor("acme-user"),
                "csv-summary",
                &BTreeMap::new(),
                &[Upload {
                    field: "data".into(),
                    file_name: "n.csv".into(),
                    bytes: csv.into_bytes(),
                }],
            )
            .await
            .unwrap(),
        );
        globex_ids.push(
            executions::request(
                &ctx,
                &globex,
                &globex_user,
                &actor("globex-user"),
                "word-frequency",
                &form(&[("text", &format!("globex {w} {w}", w = letters(n)))]),
                &[],
            )
            .await
            .unwrap(),
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let open = count(
            &ctx,
            "SELECT (SELECT count(*) FROM tenant_1003.executions WHERE status NOT IN ('succeeded','failed','timed_out','cancelled')) \
             + (SELECT count(*) FROM tenant_1004.executions WHERE status NOT IN ('succeeded','failed','timed_out','cancelled'))",
        )
        .await;
        if open == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} executions still open"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (n, id) in acme_ids.iter().enumerate() {
        let (status, reason, result) = state(&ctx, "tenant_1003", *id).await;
        assert_eq!(status, "succeeded", "{reason:?}");
        assert!(result.unwrap().contains(&format!("{n}")));
    }
    for (n, id) in globex_ids.iter().enumerate() {
        let (status, reason, result) = state(&ctx, "tenant_1004", *id).await;
        assert_eq!(status, "succeeded", "{reason:?}");
        assert!(result.unwrap().contains(&letters(n)));
    }
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM tenant_1003.executions").await,
        12
    );
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM tenant_1004.executions").await,
        12
    );
    // Run once each, whether claimed or reserved ahead: one attempt, one start.
    for schema in ["tenant_1003", "tenant_1004"] {
        let (runs, starts): (i64, i64) = sqlx::query_as(&format!(
            "SELECT (SELECT count(*) FROM {schema}.executions WHERE attempts = 1), \
                    (SELECT count(*) FROM {schema}.audit_log WHERE action = 'execution.start' \
                     AND result = 'ok')"
        ))
        .fetch_one(&ctx.pool)
        .await
        .unwrap();
        assert_eq!((runs, starts), (12, 12), "{schema}");
    }
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM public.execution_queue").await,
        0
    );
}

/// A shell skill that naps `seconds`, then writes a tiny result.
fn nap(seconds: u32) -> String {
    format!("sleep {seconds}\necho '{{\"napped\": {seconds}}}' > result.json\n")
}

const QUICK: &str = "echo '{\"quick\": true}' > result.json\n";

/// Requests `slug` (no inputs) as Acme's member.
async fn request_as_member(ctx: &Ctx, slug: &str) -> i64 {
    let acme = tenant_of(ctx, "acme.localhost").await;
    let member = user(ctx, &acme, "acme-user").await;
    executions::request(
        ctx,
        &acme,
        &member,
        &actor("acme-user"),
        slug,
        &BTreeMap::new(),
        &[],
    )
    .await
    .unwrap()
}

/// The execution's row in the platform queue: its state and who holds it; `None` once gone.
async fn queue_row(ctx: &Ctx, id: i64) -> Option<(String, Option<String>)> {
    sqlx::query_as("SELECT state, worker_id FROM public.execution_queue WHERE execution_id = $1")
        .bind(id)
        .fetch_optional(&ctx.pool)
        .await
        .unwrap()
}

/// Waits (up to `limit`) until the execution's queue state is `wanted`; returns its holder.
async fn until_queue_state(ctx: &Ctx, id: i64, wanted: &str, limit: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let row = queue_row(ctx, id).await;
        if let Some((state, worker)) = &row {
            if state == wanted {
                return worker.clone();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "execution {id} never got to {wanted}: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (up to a minute) until every one of `ids` in Acme has ended.
async fn until_ended(ctx: &Ctx, ids: &[i64]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM tenant_1003.executions WHERE id = ANY($1) \
             AND status NOT IN ('succeeded', 'failed', 'timed_out', 'cancelled')",
        )
        .bind(ids)
        .fetch_one(&ctx.pool)
        .await
        .unwrap();
        if open == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} executions still open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many `action` audit entries execution `id` has in Acme, with that `result`.
async fn audited(ctx: &Ctx, id: i64, action: &str, result: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM tenant_1003.audit_log WHERE target = $1 AND action = $2 AND result = $3",
    )
    .bind(format!("execution {id}"))
    .bind(action)
    .bind(result)
    .fetch_one(&ctx.pool)
    .await
    .unwrap()
}

/// A nap of `seconds` and a quick skill registered in Acme and requested in that order, then
/// one worker under `worker`, with sandboxes started ahead as the server has them.
async fn nap_then_quick(ctx: &Ctx, seconds: u32, worker: QueuePolicy) -> (i64, i64) {
    let acme = tenant_of(ctx, "acme.localhost").await;
    register_script(ctx, &acme, ("nap", "main.sh", &nap(seconds)), 30).await;
    register_script(ctx, &acme, ("quick", "main.sh", QUICK), 30).await;
    let napping = request_as_member(ctx, "nap").await;
    let next = request_as_member(ctx, "quick").await;
    executions::start_workers(ctx.clone(), Arc::new(warm_executors(ctx)), 1, worker);
    (napping, next)
}

/// While a worker runs one execution it reserves the next: held by it (no one else can take
/// it, and it counts against the tenant's cap), still queued in the tenant, and started by the
/// very transaction that records the end of the current run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_worker_reserves_the_next_execution_and_starts_it_as_its_run_ends() {
    let ctx = seeded_ctx().await;
    // A cap of 1 still lets the worker reserve: the reservation replaces its current run.
    let worker = QueuePolicy {
        per_tenant_cap: 1,
        reserve_for: Duration::from_secs(30),
        ..policy()
    };
    let (napping, next) = nap_then_quick(&ctx, 2, worker).await;
    let last = request_as_member(&ctx, "quick").await;

    let holder = until_queue_state(&ctx, next, "reserved", Duration::from_secs(10)).await;
    assert_eq!(
        queue_row(&ctx, napping).await,
        Some(("running".into(), holder.clone())),
        "reserved by the worker that runs the nap"
    );
    assert_eq!(state(&ctx, "tenant_1003", next).await.0, "queued");
    assert_eq!(state(&ctx, "tenant_1003", napping).await.0, "running");
    // Nobody else takes it; and the reservation counts against the cap: with a cap of 2, the
    // last one would be claimable if only the nap counted.
    let capped = QueuePolicy {
        per_tenant_cap: 2,
        ..policy()
    };
    assert!(executions::claim_next(&ctx, "another", &capped)
        .await
        .unwrap()
        .is_none());
    assert_eq!(queue_row(&ctx, last).await.unwrap().0, "queued");

    until_ended(&ctx, &[napping, next, last]).await;
    for id in [napping, next, last] {
        let (status, reason, _) = state(&ctx, "tenant_1003", id).await;
        assert_eq!(status, "succeeded", "{reason:?}");
        assert_eq!(audited(&ctx, id, "execution.start", "ok").await, 1);
    }
    let (nap_finished, next_started, attempts): (
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        i32,
    ) = sqlx::query_as(
        "SELECT n.finished_at, x.started_at, x.attempts FROM tenant_1003.executions n, \
         tenant_1003.executions x WHERE n.id = $1 AND x.id = $2",
    )
    .bind(napping)
    .bind(next)
    .fetch_one(&ctx.pool)
    .await
    .unwrap();
    assert_eq!(
        nap_finished, next_started,
        "one transaction records the nap's end and the next one's start"
    );
    assert_eq!(attempts, 1);
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM public.execution_queue").await,
        0
    );
}

/// A worker whose run goes on past `reserve_for` gives its reservation back to the queue,
/// where another worker takes it; the reservation cost it no attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_held_too_long_goes_back_to_the_queue_for_any_worker() {
    let ctx = seeded_ctx().await;
    let worker = QueuePolicy {
        reserve_for: Duration::from_millis(300),
        ..policy()
    };
    let (napping, next) = nap_then_quick(&ctx, 4, worker).await;

    until_queue_state(&ctx, next, "reserved", Duration::from_secs(3)).await;
    let holder = until_queue_state(&ctx, next, "queued", Duration::from_secs(3)).await;
    assert_eq!(holder, None);
    assert_eq!(state(&ctx, "tenant_1003", napping).await.0, "running");
    let claimed = executions::claim_next(&ctx, "another", &policy())
        .await
        .unwrap()
        .expect("given back, it is anyone's");
    assert_eq!(claimed.execution_id, next);
    assert_eq!(claimed.attempt, 1, "the reservation was no attempt");
    let status = executions::run_claimed(&ctx, &executors(), claimed, "another", &policy())
        .await
        .unwrap();
    assert_eq!(status, ExecutionStatus::Succeeded);
    until_ended(&ctx, &[napping]).await;
    assert_eq!(state(&ctx, "tenant_1003", napping).await.0, "succeeded");
}

/// With `reserve_for` zero a busy worker reserves nothing: what is queued stays anyone's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reservations_a_busy_worker_leaves_the_queue_to_others() {
    let ctx = seeded_ctx().await;
    let worker = QueuePolicy {
        reserve_for: Duration::ZERO,
        ..policy()
    };
    let (napping, next) = nap_then_quick(&ctx, 2, worker).await;
    until_queue_state(&ctx, napping, "running", Duration::from_secs(10)).await;
    // Time enough for a reservation, had there been one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(queue_row(&ctx, next).await, Some(("queued".into(), None)));
    let claimed = executions::claim_next(&ctx, "another", &policy())
        .await
        .unwrap()
        .expect("still anyone's");
    assert_eq!(claimed.execution_id, next);
    executions::run_claimed(&ctx, &executors(), claimed, "another", &policy())
        .await
        .unwrap();
    until_ended(&ctx, &[napping, next]).await;
    assert_eq!(state(&ctx, "tenant_1003", napping).await.0, "succeeded");
    assert_eq!(state(&ctx, "tenant_1003", next).await.0, "succeeded");
}

/// An execution cancelled while reserved never starts: no start, no log, no result; the
/// worker goes on with the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_execution_cancelled_before_its_turn_never_starts() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let member = user(&ctx, &acme, "acme-user").await;
    register_script(&ctx, &acme, ("nap", "main.sh", &nap(2)), 30).await;
    register_script(
        &ctx,
        &acme,
        ("talker", "main.sh", &format!("echo started\n{QUICK}")),
        30,
    )
    .await;
    let napping = request_as_member(&ctx, "nap").await;
    let cancelled = request_as_member(&ctx, "talker").await;
    let worker = QueuePolicy {
        reserve_for: Duration::from_secs(30),
        ..policy()
    };
    executions::start_workers(ctx.clone(), Arc::new(warm_executors(&ctx)), 1, worker);

    until_queue_state(&ctx, cancelled, "reserved", Duration::from_secs(10)).await;
    executions::cancel(&ctx, &acme, &member, &actor("acme-user"), cancelled)
        .await
        .unwrap();
    assert_eq!(queue_row(&ctx, cancelled).await, None);
    until_ended(&ctx, &[napping]).await;
    let after = request_as_member(&ctx, "talker").await;
    until_ended(&ctx, &[after]).await;

    assert_eq!(state(&ctx, "tenant_1003", napping).await.0, "succeeded");
    assert_eq!(state(&ctx, "tenant_1003", after).await.0, "succeeded");
    let (status, reason, result) = state(&ctx, "tenant_1003", cancelled).await;
    assert_eq!(status, "cancelled");
    assert_eq!(reason.as_deref(), Some("cancelled by acme-user"));
    assert_eq!(result, None);
    let (starts, lines): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM tenant_1003.audit_log WHERE target = $1 \
                 AND action = 'execution.start'), \
                (SELECT count(*) FROM tenant_1003.execution_logs WHERE execution_id = $2)",
    )
    .bind(format!("execution {cancelled}"))
    .bind(cancelled)
    .fetch_one(&ctx.pool)
    .await
    .unwrap();
    assert_eq!((starts, lines), (0, 0));
    assert_eq!(cancelled_was(&ctx, cancelled).await, "queued");
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM public.execution_queue").await,
        0
    );
}

/// What the cancellation's audit entry says the execution was.
async fn cancelled_was(ctx: &Ctx, id: i64) -> String {
    sqlx::query_scalar(
        "SELECT detail->>'was' FROM tenant_1003.audit_log \
         WHERE target = $1 AND action = 'execution.cancel'",
    )
    .bind(format!("execution {id}"))
    .fetch_one(&ctx.pool)
    .await
    .unwrap()
}

/// A worker turns its reservation into a claim just before the script starts and records the
/// start in the tenant a moment later; a cancellation in between says it was running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_as_a_reserved_execution_starts_says_it_was_running() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let member = user(&ctx, &acme, "acme-user").await;
    register_script(&ctx, &acme, ("quick", "main.sh", QUICK), 30).await;
    let id = request_as_member(&ctx, "quick").await;
    // As the queue looks between the worker taking its reservation and recording the start.
    sqlx::query(
        "UPDATE public.execution_queue SET state = 'running', worker_id = 'w', attempts = 1, \
         lease_expires_at = now() + interval '30 seconds' WHERE execution_id = $1",
    )
    .bind(id)
    .execute(&ctx.pool)
    .await
    .unwrap();
    assert_eq!(state(&ctx, "tenant_1003", id).await.0, "queued");
    executions::cancel(&ctx, &acme, &member, &actor("acme-user"), id)
        .await
        .unwrap();
    assert_eq!(state(&ctx, "tenant_1003", id).await.0, "cancelled");
    assert_eq!(cancelled_was(&ctx, id).await, "running");
    assert_eq!(queue_row(&ctx, id).await, None);
}

/// A reservation whose worker vanished is given back by the reaper once its lease runs out:
/// queued again, with nothing to report in the tenant (it never started).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reaper_gives_back_a_vanished_workers_reservation() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    register_script(&ctx, &acme, ("quick", "main.sh", QUICK), 30).await;
    let id = request_as_member(&ctx, "quick").await;
    // As a worker's reservation looks once the worker has stopped renewing it.
    sqlx::query(
        "UPDATE public.execution_queue SET state = 'reserved', worker_id = 'vanished', \
         lease_expires_at = now() - interval '1 second' WHERE execution_id = $1",
    )
    .bind(id)
    .execute(&ctx.pool)
    .await
    .unwrap();
    assert!(executions::claim_next(&ctx, "w", &policy())
        .await
        .unwrap()
        .is_none());
    assert_eq!(executions::reap_expired(&ctx).await.unwrap(), 1);
    assert_eq!(queue_row(&ctx, id).await, Some(("queued".into(), None)));
    assert_eq!(state(&ctx, "tenant_1003", id).await.0, "queued");
    assert_eq!(audited(&ctx, id, "execution.requeue", "queued").await, 0);
    assert_eq!(drain(&ctx, &executors(), "w").await, 1);
    assert_eq!(state(&ctx, "tenant_1003", id).await.0, "succeeded");
}
