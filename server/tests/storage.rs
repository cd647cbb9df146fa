//! Storage cannot be used to stop the platform (issue 11, §2): free sign-ups are rate limited,
//! quotas per tenant and user are checked before anything is stored, request bodies stop at the
//! documented limits, run files and logs go after the tenant's retention, and the console shows
//! each tenant's storage. Sandbox uids 65600–65663.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use domain::accounts;
use domain::executions::{self, QueuePolicy, Upload};
use domain::storage::{self, CleanupSchedule, PolicyChange, StorageDefaults};
use domain::{Ctx, RequestMeta};
use engine::{Executors, SandboxConfig};
use model::storage::TenantStorage;
use model::{ExecutionStatus, ExecutionView};

const ACME: &str = "acme.localhost";
const FREE: &str = "free.localhost";
const CONSOLE: &str = "admin.localhost";
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// A seeded database whose server defaults are `defaults`.
async fn seeded_with(defaults: StorageDefaults) -> Ctx {
    seeded_ctx().await.with_storage(defaults)
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The message of a form refused back to its page (303 with `error=`).
#[track_caller]
fn form_refusal(reply: &Reply) -> String {
    let location = reply.location.clone().unwrap_or_default();
    assert_eq!(reply.status, 303, "{location} {}", reply.body);
    let (_, error) = location
        .split_once("error=")
        .unwrap_or_else(|| panic!("not back to the form with an error: {location}"));
    decode(error.split('&').next().unwrap_or_default())
}

fn executors(first_uid: u32) -> Executors {
    Executors::new(SandboxConfig {
        first_uid,
        uid_slots: 2,
        ..SandboxConfig::default()
    })
}

/// Runs every queued execution to its end with a worker of its own.
async fn run_queued(ctx: &Ctx, executors: &Executors) {
    let policy = QueuePolicy::default();
    while let Some(claimed) = executions::claim_next(ctx, "w", &policy).await.unwrap() {
        executions::run_claimed(ctx, executors, claimed, "w", &policy)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_sign_ups_are_limited_per_address_and_in_all() {
    let ctx = seeded_with(StorageDefaults {
        signups_per_address: 2,
        signups_per_hour: 4,
        ..StorageDefaults::default()
    })
    .await;
    let server = start_server(ctx).await;
    let users = || count(&server.ctx, "SELECT count(*) FROM tenant_1002.users");
    let before = users().await;
    for name in ["free-one", "free-two"] {
        server
            .call(
                FREE,
                "sign-up",
                &[("username", name), ("password", PASSWORD)],
                None,
            )
            .await
            .assert_ok();
    }
    // The third from the same address, and every later one, is refused with the reason.
    for name in ["free-three", "free-four", "free-five"] {
        let refused = server
            .call(
                FREE,
                "sign-up",
                &[("username", name), ("password", PASSWORD)],
                None,
            )
            .await;
        refused.assert_refused(&["TooManyRequests"]);
        assert!(
            refused.error_message().starts_with(
                "Too many sign-ups from your address: at most 2 an hour. Try again in"
            ),
            "{}",
            refused.body
        );
    }
    assert_eq!(users().await, before + 2);

    // Other addresses go on until the hour's overall limit: the refused attempts above did not
    // use it up.
    let free = tenant_of(&server.ctx, FREE).await;
    let from = |ip: &str| RequestMeta {
        ip: Some(ip.into()),
        user_agent: None,
    };
    for (name, ip) in [("free-six", "192.0.2.1"), ("free-seven", "192.0.2.2")] {
        accounts::sign_up_free(&server.ctx, &free, name, PASSWORD.into(), &from(ip))
            .await
            .unwrap();
    }
    let err = accounts::sign_up_free(
        &server.ctx,
        &free,
        "free-eight",
        PASSWORD.into(),
        &from("192.0.2.3"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), model::ErrorKind::TooManyRequests);
    assert!(
        err.to_string()
            .starts_with("The free edition takes at most 4 new accounts an hour"),
        "{err}"
    );
    assert_eq!(users().await, before + 4);
    // The counters are shared through the database: a second server process sees the same.
    assert_eq!(
        count(
            &server.ctx,
            "SELECT count::bigint FROM public.rate_limit_counters WHERE key = 'signup:all'"
        )
        .await,
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_past_the_user_quota_are_refused_and_nothing_is_stored() {
    let ctx = seeded_with(StorageDefaults {
        user_quota: MIB as i64,
        ..StorageDefaults::default()
    })
    .await;
    let server = start_server(ctx).await;
    let session = server.login(ACME, "acme-user", PASSWORD).await;
    let file = vec![b'x'; 600 * KIB];
    let ask = |request: &'static str, file: Vec<u8>| {
        let server = &server;
        let session = session.clone();
        async move {
            server
                .post_multipart(
                    ACME,
                    "/assistant/ask",
                    &[("request", request)],
                    &[("files", "big.csv", &file)],
                    Some(&session),
                )
                .await
        }
    };
    let first = ask("summarise this table", file.clone()).await;
    assert_eq!(first.status, 303, "{}", first.body);
    assert!(first
        .location
        .unwrap_or_default()
        .starts_with("/assistant/"));

    let second = ask("summarise this other table", {
        let mut other = file.clone();
        other[0] = b'y';
        other
    })
    .await;
    let message = form_refusal(&second);
    assert!(
        message.starts_with(
            "Storage quota reached: your account stores 600.0 KiB of its 1.0 MiB (attachments, \
             run uploads, artifacts and submissions), and these attachments (600.0 KiB) do not fit. \
             Nothing was stored."
        ),
        "{message}"
    );
    let ctx = &server.ctx;
    assert_eq!(
        count(
            ctx,
            "SELECT count(*) FROM tenant_1003.conversation_attachments"
        )
        .await,
        1
    );
    assert_eq!(
        count(ctx, "SELECT count(*) FROM tenant_1003.conversations").await,
        1
    );
    assert_eq!(
        count(ctx, "SELECT count(*) FROM tenant_1003.conversation_turns").await,
        1
    );

    // Another user of the tenant has a quota of their own.
    let admin = server.login(ACME, "acme-admin", PASSWORD).await;
    let theirs = server
        .post_multipart(
            ACME,
            "/assistant/ask",
            &[("request", "summarise this table")],
            &[("files", "big.csv", &file)],
            Some(&admin),
        )
        .await;
    assert_eq!(theirs.status, 303, "{}", theirs.body);
    assert!(!theirs.location.unwrap_or_default().contains("error="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_uploads_past_the_tenant_quota_are_refused_with_413_and_nothing_is_stored() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let acme = tenant_of(ctx, ACME).await;
    // The super-admin gives Acme 1 MiB in all; its users keep the default per-user quota.
    storage::set_limits(
        ctx,
        &actor("superadmin"),
        acme.id,
        PolicyChange {
            tenant_quota_mib: Some(1),
            ..PolicyChange::default()
        },
    )
    .await
    .unwrap();
    let session = server.login(ACME, "acme-user", PASSWORD).await;
    let table = |rows: usize| {
        let mut csv = b"region,amount\n".to_vec();
        while csv.len() < rows {
            csv.extend_from_slice(b"north,10\n");
        }
        csv
    };
    let first = server
        .post_multipart(
            ACME,
            "/skills/csv-summary/run",
            &[],
            &[("data", "sales.csv", &table(700 * KIB))],
            Some(&session),
        )
        .await;
    assert_eq!(first.status, 303, "{}", first.body);
    assert!(first
        .location
        .unwrap_or_default()
        .starts_with("/executions/"));

    // The run form: back to the form with the reason.
    let second = server
        .post_multipart(
            ACME,
            "/skills/csv-summary/run",
            &[],
            &[("data", "more.csv", &table(400 * KIB))],
            Some(&session),
        )
        .await;
    let message = form_refusal(&second);
    assert!(
        message
            .starts_with("Storage quota reached: the tenant Acme stores 700.0 KiB of its 1.0 MiB"),
        "{message}"
    );
    // The REST API: 413, problem details.
    let user = user(ctx, &acme, "acme-user").await;
    let token = domain::tokens::create(
        ctx,
        &acme,
        &user,
        &actor("acme-user"),
        "ci",
        None,
        &domain::tokens::NewToken::Personal,
    )
    .await
    .unwrap()
    .secret;
    let (content_type, body) = multipart_body(
        &[("request", r#"{"skill":"csv-summary"}"#)],
        &[("data", "more.csv", &table(400 * KIB))],
    );
    let api = server
        .api(
            reqwest::Method::POST,
            ACME,
            "/api/v1/executions",
            Some(&token),
            ApiBody::Raw(content_type, body),
        )
        .await;
    assert_eq!(api.status, 413, "{}", api.text());
    assert_eq!(api.content_type, "application/problem+json");
    assert!(
        api.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("Storage quota reached: the tenant Acme stores 700.0 KiB of its 1.0 MiB"),
        "{}",
        api.text()
    );
    // Nothing of the refused runs: one execution, one folder of uploads.
    assert_eq!(
        count(ctx, "SELECT count(*) FROM tenant_1003.executions").await,
        1
    );
    let inputs = std::fs::read_dir(ctx.data_dir.join("inputs").join(acme.id.to_string()))
        .unwrap()
        .count();
    assert_eq!(inputs, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_past_the_user_quota_are_refused_and_nothing_is_stored() {
    let ctx = seeded_with(StorageDefaults {
        user_quota: 100 * KIB as i64,
        ..StorageDefaults::default()
    })
    .await;
    let acme = tenant_of(&ctx, ACME).await;
    let admin = user(&ctx, &acme, "acme-admin").await;
    let submission = |data: Vec<u8>| domain::hot_updates::NewSubmission {
        archive_name: "big.zip".into(),
        archive: zip_of::<&str, &[u8]>(&[
            ("main.py", b"print('hello')\n"),
            ("README.md", b"# Big\n"),
            (
                "skill.toml",
                b"name = \"Big data\"\nslug = \"big-data\"\ndescription = \"Carries data.\"\n\
                  output = \"Nothing.\"\nrisk = \"low\"\n",
            ),
            ("data.bin", &data),
        ]),
        scenario: "Operations check the quota.".into(),
        proposed: model::hot_update::SkillFlags {
            risk: model::skill::RiskLevel::Low,
            ai_callable: false,
            manual_allowed: true,
            requires_confirmation: false,
        },
    };
    let err = domain::hot_updates::submit(
        &ctx,
        &acme,
        &admin,
        &actor("acme-admin"),
        submission(vec![7; 200 * KIB]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), model::ErrorKind::TooLarge);
    assert!(
        err.to_string()
            .starts_with("Storage quota reached: your account stores 0 B of its 100.0 KiB"),
        "{err}"
    );
    assert!(err.to_string().contains("this submission's files"), "{err}");
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM public.skill_submissions").await,
        0
    );
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM public.skill_submission_files").await,
        0
    );
    // The refusal is in the tenant's audit; a submission that fits goes through.
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM tenant_1003.audit_log WHERE action = 'skill.submit' AND result = 'refused'"
        )
        .await,
        1
    );
    domain::hot_updates::submit(
        &ctx,
        &acme,
        &admin,
        &actor("acme-admin"),
        submission(vec![7; 10 * KIB]),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_past_the_quota_fail_the_run_and_are_not_kept() {
    let ctx = seeded_with(StorageDefaults {
        user_quota: 100 * KIB as i64,
        ..StorageDefaults::default()
    })
    .await;
    let acme = tenant_of(&ctx, ACME).await;
    register_script(
        &ctx,
        &acme,
        (
            "big-output",
            "main.py",
            "import os\nopen(os.environ['EXECGOV_OUTPUT'] + '/big.bin', 'wb').write(b'x' * 300000)\n",
        ),
        30,
    )
    .await;
    let member = user(&ctx, &acme, "acme-user").await;
    let id = executions::request(
        &ctx,
        &acme,
        &member,
        &actor("acme-user"),
        "big-output",
        &BTreeMap::new(),
        &[],
    )
    .await
    .unwrap();
    run_queued(&ctx, &executors(65600)).await;
    let view = executions::view(&ctx, &acme, &member, id).await.unwrap();
    assert_eq!(view.summary.status, ExecutionStatus::Failed);
    let reason = view.reason.unwrap_or_default();
    assert!(
        reason.starts_with("Storage quota reached: your account stores 0 B of its 100.0 KiB")
            && reason.contains("the run's artifacts (293.0 KiB) do not fit"),
        "{reason}"
    );
    assert!(view.artifacts.is_empty());
    assert!(!ctx.artifacts_dir(acme.id, id).exists());
    assert!(!ctx.work_dir(acme.id, id).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_past_the_documented_limits_are_answered_413() {
    let server = start_server(seeded_ctx().await).await;
    let session = server.login(ACME, "acme-user", PASSWORD).await;
    // One file over 20 MiB, to the assistant: refused while reading, nothing stored.
    let big = vec![b'x'; 20 * MIB + 1];
    let reply = server
        .post_multipart(
            ACME,
            "/assistant/ask",
            &[("request", "summarise this")],
            &[("files", "big.csv", &big)],
            Some(&session),
        )
        .await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.body, "files: the file is larger than 20.0 MiB.");
    // Three files of 15 MiB (each allowed) to the run form: past 40 MiB of files in all.
    let part = vec![b'x'; 15 * MIB];
    let reply = server
        .post_multipart(
            ACME,
            "/skills/csv-summary/run",
            &[],
            &[
                ("data", "a.csv", &part),
                ("more", "b.csv", &part),
                ("extra", "c.csv", &part),
            ],
            Some(&session),
        )
        .await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(
        reply.body,
        "The request is larger than this address takes: at most 20.0 MiB per file and 40.0 MiB \
         of files in all."
    );
    let ctx = &server.ctx;
    assert_eq!(
        count(
            ctx,
            "SELECT count(*) FROM tenant_1003.conversation_attachments"
        )
        .await,
        0
    );
    assert_eq!(
        count(ctx, "SELECT count(*) FROM tenant_1003.executions").await,
        0
    );

    // A server function (which would read any body whole): 1 MiB at most, anonymous or not.
    let padding = "x".repeat(2 * MIB);
    for session in [None, Some(session.as_str())] {
        let reply = server
            .call(
                ACME,
                "login",
                &[("username", "acme-user"), ("password", &padding)],
                session,
            )
            .await;
        reply.assert_refused(&["TooLarge"]);
        assert_eq!(
            reply.error_message(),
            "The request is larger than the 1.0 MiB a form without files may send."
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_run_files_and_logs_and_keeps_the_record() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = server.ctx.clone();
    let acme = tenant_of(&ctx, ACME).await;
    let member = user(&ctx, &acme, "acme-user").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let files = [Upload {
            field: "data".into(),
            file_name: "sales.csv".into(),
            bytes: b"region,amount\nnorth,10\nsouth,20\n".to_vec(),
        }];
        ids.push(
            executions::request(
                &ctx,
                &acme,
                &member,
                &actor("acme-user"),
                "csv-summary",
                &BTreeMap::new(),
                &files,
            )
            .await
            .unwrap(),
        );
    }
    run_queued(&ctx, &executors(65610)).await;
    let (old, recent) = (ids[0], ids[1]);
    for id in [old, recent] {
        assert!(ctx.inputs_dir(acme.id, id).exists());
        assert!(ctx.artifacts_dir(acme.id, id).join("report.md").exists());
    }
    // Acme keeps run files 30 days; the clock is moved by backdating the rows.
    storage::set_limits(
        &ctx,
        &actor("superadmin"),
        acme.id,
        PolicyChange {
            retention_days: Some(30),
            ..PolicyChange::default()
        },
    )
    .await
    .unwrap();
    for (id, days) in [(old, 31), (recent, 29)] {
        sqlx::query(&format!(
            "UPDATE tenant_1003.executions SET finished_at = now() - interval '{days} days', \
             created_at = now() - interval '{days} days' WHERE id = $1"
        ))
        .bind(id)
        .execute(&ctx.pool)
        .await
        .unwrap();
    }
    // An attachment older than the retention goes too; the conversation stays.
    let session = server.login(ACME, "acme-user", PASSWORD).await;
    let asked = server
        .post_multipart(
            ACME,
            "/assistant/ask",
            &[("request", "summarise this table")],
            &[("files", "sales.csv", b"region,amount\nnorth,10\n")],
            Some(&session),
        )
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    sqlx::query(
        "UPDATE tenant_1003.conversation_attachments SET created_at = now() - interval '31 days'",
    )
    .execute(&ctx.pool)
    .await
    .unwrap();
    let audit_before = count(
        &ctx,
        &format!("SELECT count(*) FROM tenant_1003.audit_log WHERE target = 'execution {old}'"),
    )
    .await;
    assert!(audit_before >= 2);

    // The scheduled cleanup, started as the server starts it (first pass at once here).
    let cleanup = storage::start_cleanup(
        ctx.clone(),
        CleanupSchedule {
            first: Duration::ZERO,
            every: Duration::from_secs(3600),
        },
    );
    let removed_at = format!("SELECT count(*) FROM tenant_1003.executions WHERE id = {old} AND files_removed_at IS NOT NULL");
    let attachments = "SELECT count(*) FROM tenant_1003.conversation_attachments";
    for _ in 0..100 {
        if count(&ctx, &removed_at).await == 1 && count(&ctx, attachments).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cleanup.abort();
    assert_eq!(count(&ctx, &removed_at).await, 1, "the cleanup never ran");

    // The old run: files and log gone, record and audit kept, and the page says why.
    assert!(!ctx.inputs_dir(acme.id, old).exists());
    assert!(!ctx.artifacts_dir(acme.id, old).exists());
    let logs = |id: i64| {
        format!("SELECT count(*) FROM tenant_1003.execution_logs WHERE execution_id = {id}")
    };
    let artifacts =
        |id: i64| format!("SELECT count(*) FROM tenant_1003.artifacts WHERE execution_id = {id}");
    assert_eq!(count(&ctx, &logs(old)).await, 0);
    assert_eq!(count(&ctx, &artifacts(old)).await, 0);
    assert_eq!(
        count(
            &ctx,
            &format!("SELECT count(*) FROM tenant_1003.audit_log WHERE target = 'execution {old}'")
        )
        .await,
        audit_before
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM tenant_1003.audit_log WHERE action = 'storage.retention' AND actor = 'system'"
        )
        .await,
        2
    );
    assert_eq!(count(&ctx, attachments).await, 0);
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM tenant_1003.conversation_turns").await,
        1
    );
    let page = server
        .call(
            ACME,
            "get-execution",
            &[("id", &old.to_string())],
            Some(&session),
        )
        .await;
    page.assert_ok();
    let view: ExecutionView = serde_json::from_str(&page.body).unwrap();
    assert_eq!(view.summary.status, ExecutionStatus::Succeeded);
    assert!(view.artifacts.is_empty() && view.logs.is_empty());
    let note = view.files_removed.unwrap_or_default();
    assert!(
        note.starts_with("The files and log of this run were removed after 30 days (on "),
        "{note}"
    );
    let html = server
        .get(ACME, &format!("/executions/{old}"), Some(&session))
        .await;
    assert_eq!(html.status, 200);
    assert!(
        html.body.contains("were removed after 30 days"),
        "{}",
        html.body
    );
    let download = server
        .get(
            ACME,
            &format!("/executions/{old}/artifacts/report.md"),
            Some(&session),
        )
        .await;
    assert_eq!(download.status, 404);
    assert!(
        download.body.contains("were removed after 30 days"),
        "{}",
        download.body
    );

    // The recent run is untouched.
    assert!(ctx.inputs_dir(acme.id, recent).exists());
    assert!(ctx
        .artifacts_dir(acme.id, recent)
        .join("report.md")
        .exists());
    assert!(count(&ctx, &logs(recent)).await > 0);
    assert_eq!(count(&ctx, &artifacts(recent)).await, 1);
    // A second pass finds nothing more.
    assert_eq!(storage::remove_expired(&ctx).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_each_tenants_storage_and_sets_its_limits() {
    let server = start_server(seeded_ctx().await).await;
    let session = server.login(ACME, "acme-user", PASSWORD).await;
    let file = vec![b'x'; 3 * MIB / 2];
    let asked = server
        .post_multipart(
            ACME,
            "/assistant/ask",
            &[("request", "summarise this table")],
            &[("files", "big.csv", &file)],
            Some(&session),
        )
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);

    let console = server.login(CONSOLE, "superadmin", PASSWORD).await;
    let reply = server
        .call(CONSOLE, "storage-use", &[], Some(&console))
        .await;
    reply.assert_ok();
    let all: Vec<TenantStorage> = serde_json::from_str(&reply.body).unwrap();
    let acme = all
        .iter()
        .find(|t| t.tenant_id == 1003)
        .expect("Acme is listed");
    assert_eq!(acme.usage.attachments, (3 * MIB / 2) as i64);
    assert_eq!((acme.retention_days, acme.custom), (90, false));
    let page = server.get(CONSOLE, "/tenants", Some(&console)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-testid=\"storage-1003\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("1.5 MiB"), "{}", page.body);

    // A super-admin sets Acme's limits; a tenant's own admin may not look or set.
    server
        .call(
            CONSOLE,
            "set-storage-limits",
            &[
                ("id", "1003"),
                ("tenant_quota_mib", "2048"),
                ("user_quota_mib", ""),
                ("retention_days", "30"),
            ],
            Some(&console),
        )
        .await
        .assert_ok();
    let reply = server
        .call(CONSOLE, "tenant-storage", &[("id", "1003")], Some(&console))
        .await;
    reply.assert_ok();
    let acme: TenantStorage = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        (
            acme.tenant_quota,
            acme.user_quota,
            acme.retention_days,
            acme.custom
        ),
        (
            2048 * MIB as i64,
            StorageDefaults::default().user_quota,
            30,
            true
        )
    );
    let page = server.get(CONSOLE, "/tenants/1003", Some(&console)).await;
    assert!(
        page.body.contains("data-testid=\"tenant-storage\""),
        "{}",
        page.body
    );
    let admin = server.login(ACME, "acme-admin", PASSWORD).await;
    for endpoint in ["storage-use", "set-storage-limits"] {
        server
            .call(
                ACME,
                endpoint,
                &[
                    ("id", "1003"),
                    ("tenant_quota_mib", "1"),
                    ("user_quota_mib", ""),
                    ("retention_days", ""),
                ],
                Some(&admin),
            )
            .await
            .assert_refused(&["Forbidden", "NotFound", "Unauthenticated"]);
    }
    assert_eq!(
        count(
            &server.ctx,
            "SELECT count(*) FROM public.platform_audit WHERE action = 'tenant.storage_limits'"
        )
        .await,
        1
    );
}
