//! Hot updates end to end over HTTP: a tenant admin submits a script folder (.zip / .tar.gz) on
//! the tenant's host, a super-admin approves or rejects it on the console, and the platform syncs,
//! registers and verifies it, live in that tenant only and without a restart. Also: executions
//! keep the version they were created with, rollback and roll-forward, hostile archives through
//! the real endpoint, and the timeline and audit trail of each step.
//!
//! Scripts really run (bubblewrap, uids 63800–63899: the real binary's pool takes 63800–63863,
//! in-process worker pools 8 each from 63864).
mod common;

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use domain::db::TenantTx;
use domain::executions::{self, QueuePolicy};
use domain::Ctx;
use engine::{Executors, SandboxConfig};
use model::hot_update::{SubmissionDetail, SubmissionStatus, SubmissionSummary};
use model::{ExecutionStatus, ExecutionView, SkillPage};
use serde_json::Value;

const ACME: &str = "acme.localhost";
const GLOBEX: &str = "globex.localhost";
const CONSOLE: &str = "admin.localhost";

/// The real binary's sandbox pool: 64 uids from here.
const CHILD_FIRST_UID: u32 = 63800;

type Files = Vec<(String, Vec<u8>)>;

// ---------------------------------------------------------------------------------------------
// Script folders and archives, built in memory.

fn file(path: &str, bytes: impl AsRef<[u8]>) -> (String, Vec<u8>) {
    (path.to_string(), bytes.as_ref().to_vec())
}

fn manifest(slug: &str, ai_callable: bool) -> String {
    format!(
        "name = \"Skill {slug}\"\n\
         slug = \"{slug}\"\n\
         description = \"A skill submitted by a test.\"\n\
         output = \"Which version ran.\"\n\
         risk = \"low\"\n\
         ai_callable = {ai_callable}\n\
         timeout_seconds = 60\n\
         \n\
         [[inputs]]\n\
         name = \"note\"\n\
         label = \"Note\"\n\
         type = \"string\"\n\
         required = false\n"
    )
}

/// A Python skill under a top folder `<slug>/`: waits `sleep` seconds, prints `<slug> says <tag>`
/// and returns `{"version": "<tag>"}`.
fn versioned_skill(slug: &str, tag: &str, sleep: f64, ai_callable: bool) -> Files {
    let main = format!(
        "import json, os, time\n\
         print('starting {tag}', flush=True)\n\
         time.sleep({sleep})\n\
         print('{slug} says {tag}', flush=True)\n\
         with open(os.environ['EXECGOV_RESULT'], 'w') as f:\n    \
             json.dump({{'version': '{tag}'}}, f)\n"
    );
    vec![
        file(&format!("{slug}/main.py"), main),
        file(
            &format!("{slug}/README.md"),
            format!("# {slug}\n\nVersion {tag} of a test skill.\n"),
        ),
        file(&format!("{slug}/skill.toml"), manifest(slug, ai_callable)),
    ]
}

const TEXT_REPORT_TOML: &str = include_str!("../../domain/demo-skills/acme/text-report/skill.toml");
const TEXT_REPORT_README: &str =
    include_str!("../../domain/demo-skills/acme/text-report/README.md");

/// Version 2 of Acme's demo skill `text-report`: same manifest, a new script.
fn text_report_v2() -> Files {
    vec![
        file(
            "text-report/main.sh",
            "#!/usr/bin/env bash\nset -euo pipefail\n\
             echo 'text-report v2 (hot update)'\n\
             printf '{\"hot_update\": \"v2\"}\\n' > \"$EXECGOV_RESULT\"\n",
        ),
        file("text-report/README.md", TEXT_REPORT_README),
        file("text-report/skill.toml", TEXT_REPORT_TOML),
    ]
}

/// A tar header with `name` written as is (the tar writer itself refuses `..` and `/…`).
fn tar_header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    header
}

fn tar_gz_of(files: &[(String, Vec<u8>)], extra: &[tar::Header]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files {
        let header = tar_header(name, tar::EntryType::Regular, bytes.len() as u64);
        tar.append(&header, bytes.as_slice()).unwrap();
    }
    for header in extra {
        tar.append(header, &[][..]).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The HTTP steps.

/// POST /submissions as the form sends it: low risk, manual runs, AI-callable as proposed.
async fn submit(
    server: &TestServer,
    host: &str,
    session: &str,
    archive_name: &str,
    archive: &[u8],
) -> Reply {
    server
        .post_multipart(
            host,
            "/submissions",
            &[
                (
                    "scenario",
                    "Operations use it to check the hot-update path end to end.",
                ),
                ("risk", "low"),
                ("manual_allowed", "true"),
                ("ai_callable", "true"),
            ],
            &[("archive", archive_name, archive)],
            Some(session),
        )
        .await
}

/// The id of an accepted submission (303 to its timeline).
#[track_caller]
fn submitted_id(reply: &Reply) -> i64 {
    let location = reply.location.as_deref().unwrap_or_default();
    assert_eq!(
        reply.status, 303,
        "expected a redirect to the submission: {location} {}",
        reply.body
    );
    location
        .strip_prefix("/submissions/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a submission's page: {location}"))
}

/// The reason a submission was refused (303 back to the form with `error=`, followed by what
/// was typed).
#[track_caller]
fn refusal(reply: &Reply) -> String {
    let location = reply.location.as_deref().unwrap_or_default();
    assert_eq!(reply.status, 303, "{location} {}", reply.body);
    let error = location
        .strip_prefix("/submissions/new?error=")
        .unwrap_or_else(|| panic!("not back to the form with an error: {location}"));
    percent_decode(error.split('&').next().unwrap_or_default())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The super-admin approves as proposed (low risk, manual runs), AI-callable as given.
async fn approve(server: &TestServer, console: &str, id: i64, ai_callable: bool) -> Reply {
    let id = id.to_string();
    let mut form = vec![
        ("id", id.as_str()),
        ("risk", "low"),
        ("manual_allowed", "on"),
        ("note", "looks fine"),
    ];
    if ai_callable {
        form.push(("ai_callable", "on"));
    }
    server
        .call(CONSOLE, "approve-submission", &form, Some(console))
        .await
}

async fn detail(server: &TestServer, host: &str, session: &str, id: i64) -> SubmissionDetail {
    let reply = server
        .call(
            host,
            "get-submission",
            &[("id", &id.to_string())],
            Some(session),
        )
        .await;
    reply.assert_ok();
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

/// Polls the submission until the platform's steps are over; returns it then.
async fn settled(server: &TestServer, host: &str, session: &str, id: i64) -> SubmissionDetail {
    for _ in 0..600 {
        let d = detail(server, host, session, id).await;
        if matches!(
            d.summary.status,
            SubmissionStatus::Live | SubmissionStatus::Failed | SubmissionStatus::Rejected
        ) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("submission {id} never settled");
}

/// Submits `files` as a zip on Acme and has the super-admin approve it; returns the id once live.
async fn submit_and_approve(
    server: &TestServer,
    admin: &str,
    console: &str,
    archive_name: &str,
    files: &[(String, Vec<u8>)],
    ai_callable: bool,
) -> i64 {
    let id = submitted_id(&submit(server, ACME, admin, archive_name, &zip_of(files)).await);
    approve(server, console, id, ai_callable).await.assert_ok();
    let d = settled(server, ACME, admin, id).await;
    assert_eq!(
        d.summary.status,
        SubmissionStatus::Live,
        "{:?} {:?}",
        d.summary.failed_step,
        d.summary.reason
    );
    id
}

/// POST /skills/{slug}/run (multipart, as the skill page's form); the execution's id.
async fn run(
    server: &TestServer,
    host: &str,
    session: &str,
    slug: &str,
    files: &[(&str, &str, &[u8])],
) -> i64 {
    let reply = server
        .post_multipart(
            host,
            &format!("/skills/{slug}/run"),
            &[],
            files,
            Some(session),
        )
        .await;
    let location = reply.location.clone().unwrap_or_default();
    assert_eq!(reply.status, 303, "run {slug}: {location} {}", reply.body);
    location
        .strip_prefix("/executions/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("run {slug}: not an execution's page: {location}"))
}

async fn execution(server: &TestServer, session: &str, id: i64) -> ExecutionView {
    let reply = server
        .call(
            ACME,
            "get-execution",
            &[("id", &id.to_string())],
            Some(session),
        )
        .await;
    reply.assert_ok();
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

/// Polls an Acme execution until it has finished.
async fn finished(server: &TestServer, session: &str, id: i64) -> ExecutionView {
    for _ in 0..1200 {
        let view = execution(server, session, id).await;
        if view.summary.status.is_final() {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("execution {id} never finished");
}

/// Polls an Acme execution until a worker has started it.
async fn running(server: &TestServer, session: &str, id: i64) -> ExecutionView {
    for _ in 0..1200 {
        let view = execution(server, session, id).await;
        if view.summary.status != ExecutionStatus::Queued {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {id} never started");
}

/// The version a finished run of a `versioned_skill` reports, checking that it succeeded and
/// that its log agrees.
#[track_caller]
fn version_that_ran(view: &ExecutionView, slug: &str) -> String {
    assert_eq!(
        view.summary.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        view.reason,
        view.logs
    );
    let result: Value = serde_json::from_str(view.result.as_deref().expect("a result")).unwrap();
    let tag = result["version"].as_str().expect("a version").to_string();
    let said = format!("{slug} says {tag}");
    assert!(
        view.logs.iter().any(|l| l.line.contains(&said)),
        "the log says {said:?}: {:?}",
        view.logs
    );
    tag
}

/// Acme's member runs `slug` (a `versioned_skill`); which version ran, by its output and record.
async fn run_and_report(server: &TestServer, session: &str, slug: &str) -> (String, i32) {
    let id = run(server, ACME, session, slug, &[]).await;
    let view = finished(server, session, id).await;
    (version_that_ran(&view, slug), view.skill_version)
}

async fn skill_page(server: &TestServer, host: &str, session: &str, slug: &str) -> Reply {
    server
        .call(host, "get-skill", &[("slug", slug)], Some(session))
        .await
}

/// Acme's live version of `slug` as its page shows it to `session`.
async fn live_version(server: &TestServer, session: &str, slug: &str) -> i32 {
    let reply = skill_page(server, ACME, session, slug).await;
    reply.assert_ok();
    let page: SkillPage = serde_json::from_str(&reply.body).unwrap();
    let live: Vec<i32> = page
        .versions
        .iter()
        .filter(|v| v.live)
        .map(|v| v.version)
        .collect();
    assert_eq!(
        live,
        [page.summary.version],
        "exactly the summary's version is live"
    );
    page.summary.version
}

/// (actor, action, result, detail) of a tenant's audit entries about `target`, oldest first.
async fn tenant_audit(
    ctx: &Ctx,
    schema: &str,
    target: &str,
) -> Vec<(String, String, String, Value)> {
    sqlx::query_as(&format!(
        "SELECT actor, action, result, detail FROM {schema}.audit_log WHERE target = $1 ORDER BY id"
    ))
    .bind(target)
    .fetch_all(&ctx.pool)
    .await
    .unwrap()
}

/// (actor, action, result, detail) of the platform's audit entries about `target`, oldest first.
async fn platform_audit(ctx: &Ctx, target: &str) -> Vec<(String, String, String, Value)> {
    sqlx::query_as(
        "SELECT actor, action, result, detail FROM public.platform_audit WHERE target = $1 ORDER BY id",
    )
    .bind(target)
    .fetch_all(&ctx.pool)
    .await
    .unwrap()
}

/// Every path under `dir` (files and folders), sorted; nothing if it does not exist.
fn tree(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(path.clone());
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(&path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// An in-process worker pool with uids of its own (8 each, from 63864).
fn start_workers(ctx: &Ctx, workers: usize) {
    static NEXT: AtomicU32 = AtomicU32::new(CHILD_FIRST_UID + 64);
    let first_uid = NEXT.fetch_add(8, Ordering::SeqCst);
    assert!(first_uid + 8 <= 63900, "out of this file's uid range");
    let executors = Executors::new(SandboxConfig {
        first_uid,
        uid_slots: 8,
        ..SandboxConfig::default()
    });
    executions::start_workers(
        ctx.clone(),
        Arc::new(executors),
        workers,
        QueuePolicy {
            per_tenant_cap: 4,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_millis(200),
            ..QueuePolicy::default()
        },
    );
}

struct Sessions {
    admin: String,
    user: String,
    console: String,
}

async fn sessions(server: &TestServer) -> Sessions {
    Sessions {
        admin: server.login(ACME, "acme-admin", PASSWORD).await,
        user: server.login(ACME, "acme-user", PASSWORD).await,
        console: server.login(CONSOLE, "superadmin", PASSWORD).await,
    }
}

// ---------------------------------------------------------------------------------------------
// 1. The full cycle on the real binary, in one process.

/// Acme's admin submits version 2 of the demo skill `text-report` to a running `execgov`; the
/// super-admin approves it on the console; it goes live and Acme's member gets the new behaviour
/// from the same process (same PID and start time, never exited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_takes_an_approved_update_live_without_restarting() {
    let db = fresh_db().await;
    let mut child = ChildServer::start(&db, CHILD_FIRST_UID).await;
    let pid = child.pid();
    let started = child.start_time();
    let server = TestServer::at(child.addr, db.ctx.clone());
    let s = sessions(&server).await;
    let document: &[u8] = b"error warning error\nok\n";
    let doc = [("document", "app.log", document)];

    // Before: version 1, the demo's report.
    assert_eq!(live_version(&server, &s.user, "text-report").await, 1);
    let id = run(&server, ACME, &s.user, "text-report", &doc).await;
    let before = finished(&server, &s.user, id).await;
    assert_eq!(
        before.summary.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        before.reason
    );
    assert_eq!(before.skill_version, 1);
    let result = before.result.clone().unwrap_or_default();
    assert!(result.contains("\"lines\": 2"), "{result}");
    assert!(!result.contains("hot_update"), "{result}");

    // The submission, as .tar.gz this time.
    let reply = submit(
        &server,
        ACME,
        &s.admin,
        "text-report-v2.tar.gz",
        &tar_gz_of(&text_report_v2(), &[]),
    )
    .await;
    let submission = submitted_id(&reply);
    let pending = detail(&server, ACME, &s.admin, submission).await;
    assert_eq!(pending.summary.status, SubmissionStatus::Submitted);
    assert_eq!(pending.summary.slug, "text-report");
    assert_eq!(pending.kind, "shell");
    // The reviewer sees it in the queue, with the diff against the live version.
    let queue = server
        .call(CONSOLE, "review-queue", &[], Some(&s.console))
        .await;
    queue.assert_ok();
    let queue: Vec<SubmissionSummary> = serde_json::from_str(&queue.body).unwrap();
    assert!(queue
        .iter()
        .any(|q| q.id == submission && q.tenant_name == "Acme"));
    let review = detail(&server, CONSOLE, &s.console, submission).await;
    assert_eq!(review.live_version, Some(1));
    assert_eq!(
        review.base_version,
        Some(1),
        "waiting: against the live version"
    );
    let changed: Vec<(&str, &str)> = review
        .diff
        .iter()
        .map(|d| (d.path.as_str(), d.change.as_str()))
        .collect();
    assert_eq!(
        changed,
        [("main.sh", "modified")],
        "only the script changed"
    );
    // Still version 1 until approved.
    assert_eq!(live_version(&server, &s.user, "text-report").await, 1);
    child.assert_running();

    approve(&server, &s.console, submission, true)
        .await
        .assert_ok();
    // Live within a few seconds, seen by the member's next request.
    let d = settled(&server, ACME, &s.admin, submission).await;
    assert_eq!(
        d.summary.status,
        SubmissionStatus::Live,
        "{:?}",
        d.summary.reason
    );
    assert_eq!(d.version, Some(2));
    // Once it is version 2, the diff is still against version 1, the one it followed.
    assert_eq!(d.base_version, Some(1));
    let changed: Vec<&str> = d.diff.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(changed, ["main.sh"]);
    let mut version = 0;
    for _ in 0..100 {
        version = live_version(&server, &s.user, "text-report").await;
        if version == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(version, 2, "the new version never became live");

    let id = run(&server, ACME, &s.user, "text-report", &doc).await;
    let after = finished(&server, &s.user, id).await;
    assert_eq!(
        after.summary.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        after.reason
    );
    assert_eq!(after.skill_version, 2);
    assert_eq!(
        after.result.as_deref().map(str::trim),
        Some("{\"hot_update\": \"v2\"}")
    );
    assert!(
        after
            .logs
            .iter()
            .any(|l| l.line.contains("text-report v2 (hot update)")),
        "{:?}",
        after.logs
    );

    // One process throughout.
    child.assert_running();
    assert_eq!(child.pid(), pid);
    assert_eq!(child.start_time(), started, "the server was restarted");
    let health = server.get("localhost", "/healthz", None).await;
    assert_eq!(health.status, 200);
}

// ---------------------------------------------------------------------------------------------
// 2. Executions keep their version.

/// With one worker: execution 1 runs version 1 (it sleeps), execution 2 waits in the queue; version
/// 2 goes live meanwhile. Both finish on version 1; a run requested after the switch gets 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_started_before_the_switch_finish_on_the_old_version() {
    const SLUG: &str = "slow-hello";
    let server = start_server(seeded_ctx().await).await;
    let s = sessions(&server).await;
    submit_and_approve(
        &server,
        &s.admin,
        &s.console,
        "slow-v1.zip",
        &versioned_skill(SLUG, "v1", 6.0, false),
        false,
    )
    .await;
    let first = run(&server, ACME, &s.user, SLUG, &[]).await;
    let second = run(&server, ACME, &s.user, SLUG, &[]).await;
    start_workers(&server.ctx, 1);
    let view = running(&server, &s.user, first).await;
    assert_eq!(view.summary.status, ExecutionStatus::Running);

    submit_and_approve(
        &server,
        &s.admin,
        &s.console,
        "slow-v2.zip",
        &versioned_skill(SLUG, "v2", 0.0, false),
        false,
    )
    .await;
    assert_eq!(live_version(&server, &s.user, SLUG).await, 2);
    // The switch happened while the first ran and the second waited.
    assert_eq!(
        execution(&server, &s.user, first).await.summary.status,
        ExecutionStatus::Running,
        "precondition: the first run outlasts the approval"
    );
    assert_eq!(
        execution(&server, &s.user, second).await.summary.status,
        ExecutionStatus::Queued,
        "precondition: the second run waits behind the first"
    );
    let third = run(&server, ACME, &s.user, SLUG, &[]).await;

    for (id, expected_tag, expected_version) in
        [(first, "v1", 1), (second, "v1", 1), (third, "v2", 2)]
    {
        let view = finished(&server, &s.user, id).await;
        assert_eq!(
            version_that_ran(&view, SLUG),
            expected_tag,
            "execution {id}"
        );
        assert_eq!(view.skill_version, expected_version, "execution {id}");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Isolation.

/// Nothing of Acme's submission or new skill reaches Globex; Acme's members cannot submit or look
/// at submissions; a Globex cookie is nobody on Acme; the verification names every other tenant
/// as unreachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_sees_nothing_of_a_submission_or_its_skill() {
    const SLUG: &str = "acme-secret";
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let s = sessions(&server).await;
    let acme = tenant_of(ctx, ACME).await;
    let globex = tenant_of(ctx, GLOBEX).await;
    let globex_admin = server.login(GLOBEX, "globex-admin", PASSWORD).await;
    let globex_user = server.login(GLOBEX, "globex-user", PASSWORD).await;

    let files = versioned_skill(SLUG, "v1", 0.0, true);
    let id = submit_and_approve(&server, &s.admin, &s.console, "secret.zip", &files, true).await;
    let id_text = id.to_string();
    let d = detail(&server, ACME, &s.admin, id).await;
    // A brand-new skill, once live, is compared with nothing (not with itself).
    assert_eq!(
        (d.version, d.live_version, d.base_version),
        (Some(1), Some(1), None)
    );
    assert!(d.diff.is_empty() && d.package_changes.is_empty());

    // Acme has it: visible to its member, AI-callable there (the positive control).
    assert_eq!(live_version(&server, &s.user, SLUG).await, 1);
    let mut tx = TenantTx::begin(&ctx.pool, &acme.schema).await.unwrap();
    let acme_ai = domain::skills::ai_callable_in(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        acme_ai.contains(&(SLUG.to_string(), Some(id))),
        "{acme_ai:?}"
    );

    // Globex: the submission does not exist, the list holds none of Acme's.
    server
        .call(
            GLOBEX,
            "get-submission",
            &[("id", &id_text)],
            Some(&globex_admin),
        )
        .await
        .assert_refused(&["NotFound"]);
    let reply = server
        .call(
            GLOBEX,
            "get-submission",
            &[("id", &id_text)],
            Some(&globex_user),
        )
        .await;
    reply.assert_refused(&["NotFound", "Forbidden"]);
    assert!(!reply.body.contains(SLUG), "{}", reply.body);
    let list = server
        .call(GLOBEX, "list-submissions", &[], Some(&globex_admin))
        .await;
    list.assert_ok();
    let list: Vec<SubmissionSummary> = serde_json::from_str(&list.body).unwrap();
    assert!(
        list.iter().all(|x| x.id != id && x.slug != SLUG),
        "{list:?}"
    );
    // The skill: no page, no run, not listed, for Globex's admin and member.
    for session in [&globex_admin, &globex_user] {
        skill_page(&server, GLOBEX, session, SLUG)
            .await
            .assert_refused(&["NotFound"]);
        let page = server
            .get(GLOBEX, &format!("/skills/{SLUG}"), Some(session))
            .await;
        assert_eq!(page.status, 404, "the skill's page on Globex");
        assert!(!page.body.contains(&format!("Skill {SLUG}")));
        let ran = server
            .post_multipart(
                GLOBEX,
                &format!("/skills/{SLUG}/run"),
                &[],
                &[],
                Some(session),
            )
            .await;
        assert_eq!(ran.status, 404, "running it on Globex: {}", ran.body);
        let skills = server.call(GLOBEX, "list-skills", &[], Some(session)).await;
        skills.assert_ok();
        assert!(!skills.body.contains(SLUG), "{}", skills.body);
    }
    assert_eq!(
        count(
            ctx,
            &format!("SELECT count(*) FROM {}.executions", globex.schema.as_str())
        )
        .await,
        0
    );
    // Globex's assistant cannot call it; Globex holds no version and no files of it.
    let mut tx = TenantTx::begin(&ctx.pool, &globex.schema).await.unwrap();
    let globex_ai = domain::skills::ai_callable_in(&mut tx).await.unwrap();
    let versions = domain::skills::versions_in(&mut tx, SLUG).await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        globex_ai
            .iter()
            .all(|(slug, submission)| slug != SLUG && *submission != Some(id)),
        "{globex_ai:?}"
    );
    assert!(versions.is_empty(), "{versions:?}");
    assert!(!domain::skills::asset_dir(ctx, globex.id, &d.summary.content_hash).exists());
    assert!(domain::skills::asset_dir(ctx, acme.id, &d.summary.content_hash).exists());

    // Nor the submission's pages on Globex.
    for path in [
        format!("/submissions/{id}"),
        format!("/reviews/{id}"),
        "/submissions".into(),
    ] {
        let page = server.get(GLOBEX, &path, Some(&globex_admin)).await;
        assert!(
            !page.body.contains(SLUG) && !page.body.contains("secret.zip"),
            "{path} on Globex shows Acme's submission"
        );
        if path != "/submissions" {
            assert!([403, 404].contains(&page.status), "{path}: {}", page.status);
        }
    }

    // Acme's member: cannot submit, list or view submissions.
    let reply = submit(&server, ACME, &s.user, "x.zip", &zip_of(&files)).await;
    assert_eq!(
        reply.status, 403,
        "a member submitting: {:?}",
        reply.location
    );
    server
        .call(ACME, "list-submissions", &[], Some(&s.user))
        .await
        .assert_refused(&["Forbidden"]);
    server
        .call(ACME, "get-submission", &[("id", &id_text)], Some(&s.user))
        .await
        .assert_refused(&["Forbidden"]);
    for path in [format!("/submissions/{id}"), "/submissions".into()] {
        let page = server.get(ACME, &path, Some(&s.user)).await;
        assert!(
            !page.body.contains("secret.zip") && !page.body.contains("Operations use it"),
            "{path} shows the submission to a member"
        );
    }
    // Globex's admin cookie on Acme: nobody.
    let reply = submit(&server, ACME, &globex_admin, "x.zip", &zip_of(&files)).await;
    assert!(
        [401, 403].contains(&reply.status),
        "a Globex cookie submitting on Acme: {} {:?}",
        reply.status,
        reply.location
    );
    for endpoint in ["list-submissions", "get-submission"] {
        let reply = server
            .call(ACME, endpoint, &[("id", &id_text)], Some(&globex_admin))
            .await;
        reply.assert_refused(&["Unauthenticated"]);
        assert!(!reply.body.contains(SLUG));
    }
    // Only the one accepted submission exists.
    assert_eq!(
        count(ctx, "SELECT count(*) FROM public.skill_submissions").await,
        1
    );
    // Reviewing is the platform's: no tenant admin reaches the queue or the decisions, and
    // cookies do not cross between the console and a tenant.
    for (host, session) in [(ACME, &s.admin), (GLOBEX, &globex_admin)] {
        server
            .call(host, "review-queue", &[], Some(session))
            .await
            .assert_refused(&["Forbidden"]);
        server
            .call(
                host,
                "approve-submission",
                &[("id", &id_text), ("risk", "low")],
                Some(session),
            )
            .await
            .assert_refused(&["Forbidden"]);
        server
            .call(
                host,
                "tenant-skills",
                &[("tenant_id", &acme.id.to_string())],
                Some(session),
            )
            .await
            .assert_refused(&["Forbidden"]);
    }
    for session in [&s.admin, &globex_admin] {
        let reply = server
            .call(
                CONSOLE,
                "get-submission",
                &[("id", &id_text)],
                Some(session),
            )
            .await;
        reply.assert_refused(&["Unauthenticated"]);
        assert!(!reply.body.contains(SLUG));
    }
    server
        .call(
            ACME,
            "get-submission",
            &[("id", &id_text)],
            Some(&s.console),
        )
        .await
        .assert_refused(&["Unauthenticated"]);

    // A slug Globex already uses (its demo `word-frequency`) becomes Acme's own skill and leaves
    // Globex's untouched.
    let globex_before = {
        let mut tx = TenantTx::begin(&ctx.pool, &globex.schema).await.unwrap();
        let v = domain::skills::versions_in(&mut tx, "word-frequency")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        v
    };
    assert_eq!(globex_before.len(), 1);
    let same_slug = submit_and_approve(
        &server,
        &s.admin,
        &s.console,
        "word-frequency.zip",
        &versioned_skill("word-frequency", "acme", 0.0, false),
        false,
    )
    .await;
    assert_eq!(live_version(&server, &s.user, "word-frequency").await, 1);
    let mut tx = TenantTx::begin(&ctx.pool, &globex.schema).await.unwrap();
    let globex_after = domain::skills::versions_in(&mut tx, "word-frequency")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        globex_after, globex_before,
        "Globex's word-frequency changed"
    );
    let page = skill_page(&server, GLOBEX, &globex_user, "word-frequency").await;
    page.assert_ok();
    assert!(!page.body.contains("Skill word-frequency"), "{}", page.body);
    let verification: Value = serde_json::from_str(
        &detail(&server, CONSOLE, &s.console, same_slug)
            .await
            .verification
            .expect("a verification"),
    )
    .unwrap();
    assert!(verification["other_tenants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["tenant"] == "Globex" && o["visible"] == false));

    // The recorded verification (the platform's view): every other tenant checked, none can
    // reach it.
    let platform_view = detail(&server, CONSOLE, &s.console, id).await;
    let verification: Value = serde_json::from_str(
        platform_view
            .verification
            .as_deref()
            .expect("a verification"),
    )
    .unwrap();
    let others = verification["other_tenants"]
        .as_array()
        .expect("other tenants");
    let mut checked: Vec<String> = others
        .iter()
        .map(|o| o["tenant"].as_str().unwrap().to_string())
        .collect();
    checked.sort();
    let mut expected: Vec<String> =
        sqlx::query_scalar("SELECT name FROM public.tenants WHERE id <> $1 ORDER BY name")
            .bind(acme.id)
            .fetch_all(&ctx.pool)
            .await
            .unwrap();
    expected.sort();
    assert!(expected.contains(&"Globex".to_string()));
    assert_eq!(checked, expected, "{verification}");
    for other in others {
        for key in ["visible", "ai_callable", "files"] {
            assert_eq!(other[key], Value::Bool(false), "{key} in {other}");
        }
    }
    assert_eq!(verification["owning_tenant"]["tenant"], "Acme");
}

// ---------------------------------------------------------------------------------------------
// 4. Rollback and roll-forward.

/// Acme's admin rolls back (old behaviour again), the super-admin rolls forward from the console
/// (new behaviour again); both are audited, the super-admin's in the platform's log too; a
/// member cannot switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_and_roll_forward_switch_the_behaviour_and_are_audited() {
    const SLUG: &str = "flip";
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let s = sessions(&server).await;
    let acme = tenant_of(ctx, ACME).await;
    let acme_id = acme.id.to_string();
    start_workers(ctx, 2);
    for tag in ["v1", "v2"] {
        submit_and_approve(
            &server,
            &s.admin,
            &s.console,
            &format!("flip-{tag}.zip"),
            &versioned_skill(SLUG, tag, 0.0, false),
            false,
        )
        .await;
    }
    assert_eq!(
        run_and_report(&server, &s.user, SLUG).await,
        ("v2".to_string(), 2)
    );

    // A member may not switch.
    server
        .call(
            ACME,
            "switch-skill-version",
            &[("slug", SLUG), ("version", "1")],
            Some(&s.user),
        )
        .await
        .assert_refused(&["Forbidden"]);
    assert_eq!(live_version(&server, &s.user, SLUG).await, 2);

    // The tenant admin rolls back.
    server
        .call(
            ACME,
            "switch-skill-version",
            &[("slug", SLUG), ("version", "1")],
            Some(&s.admin),
        )
        .await
        .assert_ok();
    assert_eq!(live_version(&server, &s.user, SLUG).await, 1);
    assert_eq!(
        run_and_report(&server, &s.user, SLUG).await,
        ("v1".to_string(), 1)
    );
    // Switching to what is live, or to a version that does not exist.
    server
        .call(
            ACME,
            "switch-skill-version",
            &[("slug", SLUG), ("version", "1")],
            Some(&s.admin),
        )
        .await
        .assert_refused(&["Conflict"]);
    server
        .call(
            ACME,
            "switch-skill-version",
            &[("slug", SLUG), ("version", "7")],
            Some(&s.admin),
        )
        .await
        .assert_refused(&["NotFound"]);
    // Globex's admin cannot reach Acme's skill from Globex.
    let globex_admin = server.login(GLOBEX, "globex-admin", PASSWORD).await;
    server
        .call(
            GLOBEX,
            "switch-skill-version",
            &[("slug", SLUG), ("version", "2")],
            Some(&globex_admin),
        )
        .await
        .assert_refused(&["NotFound"]);
    assert_eq!(live_version(&server, &s.user, SLUG).await, 1);

    // The super-admin rolls forward from the console, naming the tenant (without one: refused,
    // and nothing switched; its HTTP status is checked in `console_refusals_carry_their_status`).
    let reply = server
        .call(
            CONSOLE,
            "switch-skill-version",
            &[("slug", SLUG), ("version", "2")],
            Some(&s.console),
        )
        .await;
    assert_eq!(
        reply.error_kind().as_deref(),
        Some("Invalid"),
        "{}",
        reply.body
    );
    assert_eq!(live_version(&server, &s.user, SLUG).await, 1);
    server
        .call(
            CONSOLE,
            "switch-skill-version",
            &[("slug", SLUG), ("version", "2"), ("tenant_id", &acme_id)],
            Some(&s.console),
        )
        .await
        .assert_ok();
    assert_eq!(live_version(&server, &s.user, SLUG).await, 2);
    assert_eq!(
        run_and_report(&server, &s.user, SLUG).await,
        ("v2".to_string(), 2)
    );
    let overview = server
        .call(
            CONSOLE,
            "tenant-skills",
            &[("tenant_id", &acme_id)],
            Some(&s.console),
        )
        .await;
    overview.assert_ok();
    let overview: Vec<model::hot_update::SkillVersions> =
        serde_json::from_str(&overview.body).unwrap();
    let flip = overview
        .iter()
        .find(|o| o.slug == SLUG)
        .expect("flip listed");
    let live: Vec<i32> = flip
        .versions
        .iter()
        .filter(|v| v.live)
        .map(|v| v.version)
        .collect();
    assert_eq!(live, [2]);

    // Audited: the tenant's log has both, the platform's the super-admin's only.
    let switches: Vec<(String, String, i64, i64)> = tenant_audit(ctx, acme.schema.as_str(), SLUG)
        .await
        .into_iter()
        .filter(|(_, action, _, _)| action == "skill.rollback" || action == "skill.rollforward")
        .map(|(actor, action, _, detail)| {
            (
                actor,
                action,
                detail["from_version"].as_i64().unwrap_or(-1),
                detail["to_version"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        switches,
        [
            ("acme-admin".to_string(), "skill.rollback".to_string(), 2, 1),
            (
                "superadmin".to_string(),
                "skill.rollforward".to_string(),
                1,
                2
            ),
        ]
    );
    let platform: Vec<(String, String)> = platform_audit(ctx, SLUG)
        .await
        .into_iter()
        .filter(|(_, action, _, _)| action == "skill.rollback" || action == "skill.rollforward")
        .map(|(actor, action, _, _)| (actor, action))
        .collect();
    assert_eq!(
        platform,
        [("superadmin".to_string(), "skill.rollforward".to_string())]
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Rejection, and decisions taken once.

/// A rejection needs a reason, which the submitter then sees; nothing is registered or stored;
/// a second decision on either a rejected or an approved submission is a conflict; only the
/// super-admin decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_has_a_reason_registers_nothing_and_decisions_are_final() {
    const SLUG: &str = "to-reject";
    const REASON: &str = "It writes to a shared folder; please use the output folder instead.";
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let s = sessions(&server).await;
    let acme = tenant_of(ctx, ACME).await;
    let files = versioned_skill(SLUG, "v1", 0.0, false);
    let id = submitted_id(&submit(&server, ACME, &s.admin, "reject-me.zip", &zip_of(&files)).await);
    let id_text = id.to_string();
    let assets_before = tree(&ctx.data_dir.join("assets"));

    // Only the super-admin decides.
    for (host, session) in [(ACME, &s.admin), (ACME, &s.user)] {
        server
            .call(
                host,
                "reject-submission",
                &[("id", &id_text), ("reason", REASON)],
                Some(session),
            )
            .await
            .assert_refused(&["Forbidden"]);
        server
            .call(
                host,
                "approve-submission",
                &[("id", &id_text), ("risk", "low")],
                Some(session),
            )
            .await
            .assert_refused(&["Forbidden"]);
    }
    // A reason is required.
    for reason in ["", "   "] {
        server
            .call(
                CONSOLE,
                "reject-submission",
                &[("id", &id_text), ("reason", reason)],
                Some(&s.console),
            )
            .await
            .assert_refused(&["Invalid"]);
    }
    assert_eq!(
        detail(&server, ACME, &s.admin, id).await.summary.status,
        SubmissionStatus::Submitted
    );
    server
        .call(
            CONSOLE,
            "reject-submission",
            &[("id", &id_text), ("reason", REASON)],
            Some(&s.console),
        )
        .await
        .assert_ok();

    // The submitter sees the status and the reason: in the detail, the list and the page.
    let d = detail(&server, ACME, &s.admin, id).await;
    assert_eq!(d.summary.status, SubmissionStatus::Rejected);
    assert_eq!(d.summary.reason.as_deref(), Some(REASON));
    assert_eq!(d.version, None);
    let list = server
        .call(ACME, "list-submissions", &[], Some(&s.admin))
        .await;
    list.assert_ok();
    let list: Vec<SubmissionSummary> = serde_json::from_str(&list.body).unwrap();
    let row = list.iter().find(|x| x.id == id).expect("listed");
    assert_eq!(row.reason.as_deref(), Some(REASON));
    let page = server
        .get(ACME, &format!("/submissions/{id}"), Some(&s.admin))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("please use the output folder instead"),
        "the page shows the reason"
    );
    let statuses: Vec<&str> = d.timeline.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(statuses, ["submitted", "rejected"]);

    // Nothing registered, nothing stored.
    let mut tx = TenantTx::begin(&ctx.pool, &acme.schema).await.unwrap();
    let versions = domain::skills::versions_in(&mut tx, SLUG).await.unwrap();
    tx.commit().await.unwrap();
    assert!(versions.is_empty(), "{versions:?}");
    assert_eq!(
        count(
            ctx,
            &format!(
                "SELECT count(*) FROM {}.skill_versions WHERE submission_id = {id}",
                acme.schema.as_str()
            )
        )
        .await,
        0
    );
    skill_page(&server, ACME, &s.user, SLUG)
        .await
        .assert_refused(&["NotFound"]);
    assert_eq!(tree(&ctx.data_dir.join("assets")), assets_before);
    assert!(!domain::skills::asset_dir(ctx, acme.id, &d.summary.content_hash).exists());
    // Both audit logs have the rejection.
    let rejected = |log: &[(String, String, String, Value)]| {
        log.iter()
            .filter(|(actor, action, _, detail)| {
                actor == "superadmin"
                    && action == "skill.reject"
                    && detail["reason"] == REASON
                    && detail["submission_id"] == id
            })
            .count()
    };
    assert_eq!(
        rejected(&tenant_audit(ctx, acme.schema.as_str(), SLUG).await),
        1
    );
    assert_eq!(rejected(&platform_audit(ctx, SLUG).await), 1);

    // Decided once: rejecting or approving again is a conflict, and changes nothing.
    server
        .call(
            CONSOLE,
            "reject-submission",
            &[("id", &id_text), ("reason", "again")],
            Some(&s.console),
        )
        .await
        .assert_refused(&["Conflict"]);
    approve(&server, &s.console, id, false)
        .await
        .assert_refused(&["Conflict"]);
    let d = detail(&server, ACME, &s.admin, id).await;
    assert_eq!(d.summary.status, SubmissionStatus::Rejected);
    assert_eq!(d.summary.reason.as_deref(), Some(REASON));

    // An approved one, likewise; also when two approvals race (a double click).
    let approved = submitted_id(
        &submit(
            &server,
            ACME,
            &s.admin,
            "approve-me.zip",
            &zip_of(&versioned_skill("to-approve", "v1", 0.0, false)),
        )
        .await,
    );
    let (a, b) = tokio::join!(
        approve(&server, &s.console, approved, false),
        approve(&server, &s.console, approved, false)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} / {}", a.body, b.body);
    for reply in [&a, &b] {
        if reply.status == 409 {
            reply.assert_refused(&["Conflict"]);
        }
    }
    approve(&server, &s.console, approved, false)
        .await
        .assert_refused(&["Conflict"]);
    server
        .call(
            CONSOLE,
            "reject-submission",
            &[("id", &approved.to_string()), ("reason", "too late")],
            Some(&s.console),
        )
        .await
        .assert_refused(&["Conflict"]);
    let d = settled(&server, ACME, &s.admin, approved).await;
    assert_eq!(d.summary.status, SubmissionStatus::Live);
    assert_eq!(d.summary.reason, None);
    assert_eq!(live_version(&server, &s.user, "to-approve").await, 1);
    let statuses: Vec<&str> = d.timeline.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["submitted", "approved", "synced", "registered", "live"],
        "one approval, one pass through the steps"
    );
    let mut tx = TenantTx::begin(&ctx.pool, &acme.schema).await.unwrap();
    let versions = domain::skills::versions_in(&mut tx, "to-approve")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(versions.len(), 1, "registered once: {versions:?}");
}

/// Refusals of the console's hot-update functions answer with their kind's HTTP status, like
/// every other server function (422 for invalid input), not a blanket 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_refusals_carry_their_status() {
    let server = start_server(seeded_ctx().await).await;
    let s = sessions(&server).await;
    let id = submitted_id(
        &submit(
            &server,
            ACME,
            &s.admin,
            "status.zip",
            &zip_of(&versioned_skill("status", "v1", 0.0, false)),
        )
        .await,
    );
    let id = id.to_string();
    let no_tenant = server
        .call(
            CONSOLE,
            "switch-skill-version",
            &[("slug", "text-report"), ("version", "1")],
            Some(&s.console),
        )
        .await;
    let bad_risk = server
        .call(
            CONSOLE,
            "approve-submission",
            &[("id", &id), ("risk", "extreme")],
            Some(&s.console),
        )
        .await;
    // The submission is still waiting: nothing was decided.
    assert_eq!(
        detail(&server, ACME, &s.admin, id.parse().unwrap())
            .await
            .summary
            .status,
        SubmissionStatus::Submitted
    );
    let answered: Vec<(&str, u16, Option<String>)> = vec![
        (
            "switch-skill-version without tenant_id",
            no_tenant.status,
            no_tenant.error_kind(),
        ),
        (
            "approve-submission with risk=extreme",
            bad_risk.status,
            bad_risk.error_kind(),
        ),
    ];
    let wrong: Vec<_> = answered
        .iter()
        .filter(|(_, status, kind)| (*status, kind.as_deref()) != (422, Some("Invalid")))
        .collect();
    assert!(wrong.is_empty(), "expected 422 Invalid: {wrong:?}");
}

// ---------------------------------------------------------------------------------------------
// 6. Hostile archives through the endpoint.

/// Each hostile or broken archive is sent back to the form with the reason, creates no
/// submission and writes nothing under `assets/`; the refusal is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_archives_are_refused_at_the_endpoint_and_leave_nothing_behind() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let s = sessions(&server).await;
    let acme = tenant_of(ctx, ACME).await;
    let assets = ctx.data_dir.join("assets");
    let assets_before = tree(&assets);
    assert!(!assets_before.is_empty(), "the demo skills are stored");

    let good = |slug: &str| versioned_skill(slug, "v1", 0.0, false);
    let with = |slug: &str, extra: (String, Vec<u8>)| {
        let mut files = good(slug);
        files.push(extra);
        files
    };
    let without = |slug: &str, name: &str| {
        good(slug)
            .into_iter()
            .filter(|(p, _)| !p.ends_with(name))
            .collect::<Files>()
    };
    let mut symlink_zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in good("linked") {
        symlink_zip
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        symlink_zip.write_all(&bytes).unwrap();
    }
    symlink_zip
        .add_symlink(
            "linked/passwd",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
    let symlink_zip = symlink_zip.finish().unwrap().into_inner();
    let mut tar_link = tar_header("linked/passwd", tar::EntryType::Symlink, 0);
    tar_link.set_link_name("/etc/passwd").unwrap();
    tar_link.set_cksum();
    let mut bad_manifest = good("broken");
    bad_manifest[2].1 = b"name = \"Broken\"\nslug = \"broken\"\ndescription = = \"two equals signs\"\noutput = \"x\"\nrisk = \"low\"\n".to_vec();

    // (case, archive name, bytes, what the reason must say)
    let cases: Vec<(&str, &str, Vec<u8>, Vec<&str>)> = vec![
        (
            "zip slip",
            "slip.zip",
            zip_of(&with("slip", file("slip/../../evil.py", "x"))),
            vec![
                "slip/../../evil.py",
                "'.' and '..' are not allowed in paths",
            ],
        ),
        (
            "tar slip",
            "slip.tar.gz",
            tar_gz_of(&with("slip", file("../evil.py", "x")), &[]),
            vec!["../evil.py", "'.' and '..' are not allowed in paths"],
        ),
        (
            "absolute path",
            "absolute.zip",
            zip_of(&with("absolute", file("/etc/cron.d/evil", "x"))),
            vec!["/etc/cron.d/evil", "absolute paths are not allowed"],
        ),
        (
            "zip symlink",
            "link.zip",
            symlink_zip,
            vec!["linked/passwd", "is a symbolic link"],
        ),
        (
            "tar symlink",
            "link.tar.gz",
            tar_gz_of(&good("linked"), &[tar_link]),
            vec!["linked/passwd", "is a symbolic link"],
        ),
        (
            "missing README",
            "no-readme.zip",
            zip_of(&without("no-readme", "README.md")),
            vec!["README.md is missing"],
        ),
        (
            "manifest syntax error",
            "broken.zip",
            zip_of(&bad_manifest),
            vec!["skill.toml, line 3"],
        ),
        (
            "not an archive",
            "script.zip",
            b"#!/bin/sh\necho hello\n".to_vec(),
            vec!["not a .zip or .tar.gz archive"],
        ),
    ];
    for (case, name, bytes, expected) in &cases {
        let reply = submit(&server, ACME, &s.admin, name, bytes).await;
        let reason = refusal(&reply);
        for part in expected {
            assert!(
                reason.contains(part),
                "{case}: {reason:?} should say {part:?}"
            );
        }
        assert!(
            reason.starts_with(&format!("{name}: ")),
            "{case}: names the archive: {reason}"
        );
        assert_eq!(
            count(ctx, "SELECT count(*) FROM public.skill_submissions").await,
            0,
            "{case}: no submission row"
        );
        assert_eq!(
            count(ctx, "SELECT count(*) FROM public.skill_submission_files").await,
            0,
            "{case}: no files stored"
        );
        assert_eq!(
            tree(&assets),
            assets_before,
            "{case}: nothing written under assets/"
        );
    }
    // The form shows the reason it is sent back with.
    let reply = submit(&server, ACME, &s.admin, "no-readme.zip", &cases[5].2).await;
    let location = reply.location.clone().unwrap();
    let form = server.get(ACME, &location, Some(&s.admin)).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains("README.md is missing"),
        "the form shows the reason"
    );
    // Every refusal is in Acme's audit log.
    let refused = count(
        ctx,
        &format!(
            "SELECT count(*) FROM {}.audit_log WHERE action = 'skill.submit' AND result = 'refused'",
            acme.schema.as_str()
        ),
    )
    .await;
    assert_eq!(refused, cases.len() as i64 + 1);
    // A submission without its business scenario.
    let reply = server
        .post_multipart(
            ACME,
            "/submissions",
            &[("risk", "low"), ("manual_allowed", "true")],
            &[("archive", "fine.zip", &zip_of(&good("fine")))],
            Some(&s.admin),
        )
        .await;
    assert!(
        refusal(&reply).contains("business scenario"),
        "{:?}",
        reply.location
    );
    assert_eq!(
        count(ctx, "SELECT count(*) FROM public.skill_submissions").await,
        0
    );
    // The same folder, well formed, is accepted (the control), also with a few MiB of data
    // (over the 2 MiB a request body gets by default).
    let id =
        submitted_id(&submit(&server, ACME, &s.admin, "fine.zip", &zip_of(&good("fine"))).await);
    assert!(id > 0);
    let mut noise = Vec::with_capacity(3 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while noise.len() < 3 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    let big = with("big", file("big/data.bin", &noise));
    let big_id = submitted_id(&submit(&server, ACME, &s.admin, "big.zip", &zip_of(&big)).await);
    let files = detail(&server, ACME, &s.admin, big_id).await.files;
    assert!(
        files
            .iter()
            .any(|f| f.path == "data.bin" && f.size == noise.len() as i64),
        "{files:?}"
    );
    // Uploading exactly what already runs is refused too.
    let reply = submit(
        &server,
        ACME,
        &s.admin,
        "same.tar.gz",
        &tar_gz_of(
            &domain::skills::manifest::demo_skill_folders("acme")
                .into_iter()
                .find(|f| f.manifest.slug == "text-report")
                .unwrap()
                .files,
            &[],
        ),
    )
    .await;
    assert!(
        refusal(&reply).contains("already runs"),
        "{:?}",
        reply.location
    );
    assert_eq!(tree(&assets), assets_before);
}

// ---------------------------------------------------------------------------------------------
// 7. Timeline and audit.

/// The timeline lists submitted, approved, synced, registered, live in order, for the tenant and
/// the console alike; the tenant's log has every step, and both logs have the decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_and_both_audit_logs_record_every_step() {
    const SLUG: &str = "audited";
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let s = sessions(&server).await;
    let acme = tenant_of(ctx, ACME).await;
    // A README with markup a customer should not get onto anyone's page.
    let mut files = versioned_skill(SLUG, "v1", 0.0, false);
    files[1].1 = b"# Audited\n\n<script>alert(1)</script><img src=x onerror=alert(2)>\n".to_vec();
    // The form proposes AI-callable; the reviewer decides it is not.
    let id = submit_and_approve(&server, &s.admin, &s.console, "audited.zip", &files, false).await;

    let d = detail(&server, ACME, &s.admin, id).await;
    assert!(d.proposed.ai_callable);
    assert!(!d.decided.expect("decided flags").ai_callable);
    let note = &d.timeline[1].note;
    assert!(
        note.contains("looks fine") && note.contains("AI may call it: yes → no"),
        "the approval's note names the reviewer's change: {note}"
    );
    let mut tx = TenantTx::begin(&ctx.pool, &acme.schema).await.unwrap();
    let ai = domain::skills::ai_callable_in(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert!(ai.iter().all(|(slug, _)| slug != SLUG), "{ai:?}");
    assert!(
        d.readme_html.contains("<h1>Audited</h1>"),
        "{}",
        d.readme_html
    );
    assert!(
        !d.readme_html.contains("<script") && !d.readme_html.contains("onerror"),
        "{}",
        d.readme_html
    );
    for (host, path, session) in [
        (ACME, format!("/submissions/{id}"), &s.admin),
        (CONSOLE, format!("/reviews/{id}"), &s.console),
    ] {
        let page = server.get(host, &path, Some(session)).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.body.contains("Audited"),
            "{path} renders the submission"
        );
        // Shown as text (escaped) in the file listing, never as markup.
        assert!(
            !page.body.contains("<script>alert(1)") && !page.body.contains("<img src=x onerror"),
            "{path} carries the README's markup unescaped"
        );
    }

    for (host, session) in [(ACME, &s.admin), (CONSOLE, &s.console)] {
        let d = detail(&server, host, session, id).await;
        let statuses: Vec<&str> = d.timeline.iter().map(|e| e.status.as_str()).collect();
        assert_eq!(
            statuses,
            ["submitted", "approved", "synced", "registered", "live"],
            "on {host}"
        );
        let times: Vec<_> = d.timeline.iter().map(|e| e.at).collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "in time order on {host}"
        );
        assert_eq!(d.timeline[0].actor, "acme-admin");
        assert_eq!(d.timeline[1].actor, "superadmin");
        assert_eq!(d.reviewed_by.as_deref(), Some("superadmin"));
        assert_eq!(d.version, Some(1));
    }
    // The skill version records where it came from.
    let mut tx = TenantTx::begin(&ctx.pool, &acme.schema).await.unwrap();
    let versions = domain::skills::versions_in(&mut tx, SLUG).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].submission_id, Some(id));
    assert_eq!(versions[0].submitted_by.as_deref(), Some("acme-admin"));
    assert_eq!(versions[0].approved_by.as_deref(), Some("superadmin"));

    let tenant: Vec<(String, String)> = tenant_audit(ctx, acme.schema.as_str(), SLUG)
        .await
        .into_iter()
        .map(|(actor, action, _, _)| (actor, action))
        .collect();
    let actions: Vec<&str> = tenant.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "skill.submit",
            "skill.approve",
            "skill.synced",
            "skill.register",
            "skill.live"
        ],
        "{tenant:?}"
    );
    assert_eq!(tenant[0].0, "acme-admin");
    assert_eq!(tenant[1].0, "superadmin");
    let platform = platform_audit(ctx, SLUG).await;
    let decisions: Vec<_> = platform
        .iter()
        .filter(|(_, action, _, _)| action == "skill.approve")
        .collect();
    assert_eq!(decisions.len(), 1, "{platform:?}");
    let (actor, _, result, detail) = decisions[0];
    assert_eq!((actor.as_str(), result.as_str()), ("superadmin", "ok"));
    assert_eq!(detail["submission_id"], id);
    assert_eq!(detail["tenant"], "Acme");
}

// ---------------------------------------------------------------------------------------------
// A hot update survives the next start.

/// The binary seeds the demo at every start (`seed_demo` in `main.rs`'s `serve`). After an
/// approved update of a demo skill, that must not put the old demo script back live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_update_of_a_demo_skill_survives_the_next_start() {
    let server = start_server(seeded_ctx().await).await;
    let s = sessions(&server).await;
    let id = submitted_id(
        &submit(
            &server,
            ACME,
            &s.admin,
            "text-report-v2.zip",
            &zip_of(&text_report_v2()),
        )
        .await,
    );
    approve(&server, &s.console, id, true).await.assert_ok();
    assert_eq!(
        settled(&server, ACME, &s.admin, id).await.summary.status,
        SubmissionStatus::Live
    );
    assert_eq!(live_version(&server, &s.user, "text-report").await, 2);

    // What the binary does when it starts again on this database.
    domain::seed::seed_demo(&server.ctx, Some(PASSWORD))
        .await
        .expect("seeding again");

    let reply = skill_page(&server, ACME, &s.user, "text-report").await;
    reply.assert_ok();
    let page: SkillPage = serde_json::from_str(&reply.body).unwrap();
    let live = page
        .versions
        .iter()
        .find(|v| v.live)
        .expect("a live version");
    assert_eq!(
        (live.version, live.submission_id),
        (2, Some(id)),
        "after a restart the approved update is still live; versions: {:?}",
        page.versions
    );
}

// ---------------------------------------------------------------------------------------------
// The reviewer's decision and the platform's rules.

/// README: a high-risk skill must require confirmation. Whatever the reviewer ticks, an approved
/// high-risk version never runs without one: the approval is refused, or the run waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_risk_approval_never_runs_without_confirmation() {
    const SLUG: &str = "risky";
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let s = sessions(&server).await;
    let acme = tenant_of(ctx, ACME).await;
    let id = submitted_id(
        &submit(
            &server,
            ACME,
            &s.admin,
            "risky.zip",
            &zip_of(&versioned_skill(SLUG, "v1", 0.0, false)),
        )
        .await,
    );
    // High risk, manual runs, no confirmation ticked.
    let reply = server
        .call(
            CONSOLE,
            "approve-submission",
            &[
                ("id", &id.to_string()),
                ("risk", "high"),
                ("manual_allowed", "on"),
            ],
            Some(&s.console),
        )
        .await;
    if reply.status == 200 {
        let d = settled(&server, ACME, &s.admin, id).await;
        assert_eq!(d.summary.status, SubmissionStatus::Live);
        let requires: bool = sqlx::query_scalar(&format!(
            "SELECT v.requires_confirmation FROM {schema}.skills s \
             JOIN {schema}.skill_versions v ON v.id = s.current_version_id WHERE s.slug = $1",
            schema = acme.schema.as_str()
        ))
        .bind(SLUG)
        .fetch_one(&ctx.pool)
        .await
        .unwrap();
        let run_id = run(&server, ACME, &s.user, SLUG, &[]).await;
        let status = execution(&server, &s.user, run_id).await.summary.status;
        assert!(
            requires && status == ExecutionStatus::AwaitingConfirmation,
            "approved as high risk without confirmation: the live version has \
             requires_confirmation = {requires} and a member's run is {status:?}"
        );
    } else {
        reply.assert_refused(&["Invalid"]);
        assert_eq!(
            detail(&server, ACME, &s.admin, id).await.summary.status,
            SubmissionStatus::Submitted
        );
    }
}

/// The binary runs `hot_updates::resume` at start: an approval whose steps the last run did not
/// finish (stopped right after the decision, or right after the sync) goes live then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_hot_update_is_finished_at_the_next_start() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let s = sessions(&server).await;
    let acme = tenant_of(ctx, ACME).await;
    let mut ids = Vec::new();
    for slug in ["resume-approved", "resume-synced"] {
        let files = versioned_skill(slug, "v1", 0.0, false);
        let id = submitted_id(
            &submit(
                &server,
                ACME,
                &s.admin,
                &format!("{slug}.zip"),
                &zip_of(&files),
            )
            .await,
        );
        // The decision committed, then the server stopped.
        sqlx::query(
            "UPDATE public.skill_submissions SET status = 'approved', risk = 'low', \
             approved_ai_callable = false, approved_manual = true, approved_confirmation = false, \
             reviewed_by = 'superadmin', reviewed_at = now() WHERE id = $1",
        )
        .bind(id)
        .execute(&ctx.pool)
        .await
        .unwrap();
        if slug == "resume-synced" {
            // The folder synced too.
            let folder = domain::skills::manifest::load_script_folder(
                domain::skills::manifest::strip_single_top_folder(files),
            )
            .unwrap();
            domain::skills::store_folder(ctx, acme.id, &folder)
                .await
                .unwrap();
            sqlx::query("UPDATE public.skill_submissions SET status = 'synced' WHERE id = $1")
                .bind(id)
                .execute(&ctx.pool)
                .await
                .unwrap();
        }
        ids.push((slug, id));
    }
    for (slug, _) in &ids {
        skill_page(&server, ACME, &s.user, slug)
            .await
            .assert_refused(&["NotFound"]);
    }

    domain::hot_updates::resume(ctx).await.expect("resuming");

    for (slug, id) in ids {
        let d = detail(&server, ACME, &s.admin, id).await;
        assert_eq!(
            d.summary.status,
            SubmissionStatus::Live,
            "{slug}: {:?}",
            d.summary.reason
        );
        assert_eq!(d.version, Some(1), "{slug}");
        assert_eq!(live_version(&server, &s.user, slug).await, 1, "{slug}");
    }
}

/// A new version may change the script's language (main.sh → main.py): if the platform accepts
/// such a submission, the new version must run as Python, and rolling back must run the old
/// shell script again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_changes_the_script_language_runs_in_its_own_language() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let s = sessions(&server).await;
    start_workers(ctx, 1);
    let python = vec![
        file(
            "text-report/main.py",
            "import json, os\nprint('text-report in python', flush=True)\n\
             with open(os.environ['EXECGOV_RESULT'], 'w') as f:\n    \
             json.dump({'hot_update': 'python'}, f)\n",
        ),
        file("text-report/README.md", TEXT_REPORT_README),
        file("text-report/skill.toml", TEXT_REPORT_TOML),
    ];
    let reply = submit(&server, ACME, &s.admin, "python.zip", &zip_of(&python)).await;
    if reply.status == 303
        && reply
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/submissions/new?error="))
    {
        // Refusing a change of language is a valid answer, if it says so.
        let reason = refusal(&reply);
        assert!(
            reason.contains("main.sh") || reason.contains("shell"),
            "{reason}"
        );
        return;
    }
    let id = submitted_id(&reply);
    assert_eq!(detail(&server, ACME, &s.admin, id).await.kind, "python");
    approve(&server, &s.console, id, true).await.assert_ok();
    let d = settled(&server, ACME, &s.admin, id).await;
    assert_eq!(
        d.summary.status,
        SubmissionStatus::Live,
        "{:?}",
        d.summary.reason
    );

    let document: &[u8] = b"one two\n";
    let doc = [("document", "a.txt", document)];
    let view = finished(
        &server,
        &s.user,
        run(&server, ACME, &s.user, "text-report", &doc).await,
    )
    .await;
    assert_eq!(
        (view.summary.status, view.skill_version),
        (ExecutionStatus::Succeeded, 2),
        "the Python version fails to run: {:?} {:?}",
        view.reason,
        view.logs
    );
    assert!(view
        .result
        .as_deref()
        .unwrap_or_default()
        .contains("python"));

    server
        .call(
            ACME,
            "switch-skill-version",
            &[("slug", "text-report"), ("version", "1")],
            Some(&s.admin),
        )
        .await
        .assert_ok();
    let view = finished(
        &server,
        &s.user,
        run(&server, ACME, &s.user, "text-report", &doc).await,
    )
    .await;
    assert_eq!(
        (view.summary.status, view.skill_version),
        (ExecutionStatus::Succeeded, 1),
        "the rolled-back shell version fails to run: {:?} {:?}",
        view.reason,
        view.logs
    );
    assert!(view
        .result
        .as_deref()
        .unwrap_or_default()
        .contains("\"lines\": 1"));
}

// ---------------------------------------------------------------------------------------------
// What a tenant learns of other tenants through its own submissions (issue 11 §9).

/// A tenant admin reading their own live submission (verification, timeline) and their audit
/// log sees neither the names of the other tenants nor how many there are; the console's view
/// keeps the names. Submission ids are random: two in a row say nothing of everyone else's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_learns_nothing_of_other_tenants_from_its_submissions() {
    const SLUG: &str = "acme-private";
    let server = start_server(seeded_ctx().await).await;
    let s = sessions(&server).await;
    let v1 = versioned_skill(SLUG, "v1", 0.0, false);
    let first = submit_and_approve(&server, &s.admin, &s.console, "v1.zip", &v1, false).await;
    let others: Vec<String> =
        sqlx::query_scalar("SELECT name FROM public.tenants WHERE name <> 'Acme'")
            .fetch_all(&server.ctx.pool)
            .await
            .unwrap();
    assert!(others.contains(&"Globex".to_string()));

    let reply = server
        .call(
            ACME,
            "get-submission",
            &[("id", &first.to_string())],
            Some(&s.admin),
        )
        .await;
    reply.assert_ok();
    let audit = server
        .call(ACME, "audit-entries", &[], Some(&s.admin))
        .await;
    audit.assert_ok();
    assert!(audit.body.contains("skill.live"), "{}", audit.body);
    for name in &others {
        assert!(
            !reply.body.contains(name.as_str()),
            "{name}: {}",
            reply.body
        );
        assert!(
            !audit.body.contains(name.as_str()),
            "{name}: {}",
            audit.body
        );
    }
    let d: SubmissionDetail = serde_json::from_str(&reply.body).unwrap();
    let verification: Value = serde_json::from_str(d.verification.as_deref().unwrap()).unwrap();
    assert_eq!(
        verification["other_tenants"],
        "not visible in any other tenant"
    );
    let live = d.timeline.iter().find(|e| e.status == "live").unwrap();
    assert_eq!(
        live.note,
        "live in Acme only, not visible in any other tenant"
    );

    let platform = detail(&server, CONSOLE, &s.console, first).await;
    let verification: Value =
        serde_json::from_str(platform.verification.as_deref().unwrap()).unwrap();
    assert_eq!(
        verification["other_tenants"].as_array().unwrap().len(),
        others.len()
    );

    // Random, 16-digit ids, exact as JavaScript numbers.
    let v2 = versioned_skill(SLUG, "v2", 0.0, false);
    let second = submitted_id(&submit(&server, ACME, &s.admin, "v2.zip", &zip_of(&v2)).await);
    for id in [first, second] {
        assert!((1i64 << 51..1i64 << 53).contains(&id), "{id}");
    }
    assert!((second - first).abs() > 1000, "{first} then {second}");
    let listed = server
        .call(ACME, "list-submissions", &[], Some(&s.admin))
        .await;
    let listed: Vec<SubmissionSummary> = serde_json::from_str(&listed.body).unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        [second, first],
        "newest first"
    );
}

// ---------------------------------------------------------------------------------------------
// The platform's hold over a tenant's skills (issue 11 §4).

/// The `<tr>` of `version` in a rendered versions table.
fn version_row(page: &str, version: i32) -> &str {
    let start = page
        .find(&format!("data-version=\"{version}\""))
        .unwrap_or_else(|| panic!("no row of version {version}"));
    let rest = &page[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

/// A super-admin withdraws the live version: the previous one goes live, the executions of the
/// withdrawn one that had not started are cancelled with the reason, and neither the tenant
/// admin nor anyone can make it live again (the page shows why instead of a button). With
/// every version withdrawn the skill is not runnable. Both steps are in both audit logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_version_can_never_be_made_live_again() {
    const SLUG: &str = "acme-flawed";
    const WHY: &str = "sends the customer list to the log";
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let s = sessions(&server).await;
    let acme = tenant_of(ctx, ACME).await;
    let acme_id = acme.id.to_string();
    for tag in ["v1", "v2"] {
        let files = versioned_skill(SLUG, tag, 0.0, false);
        submit_and_approve(&server, &s.admin, &s.console, "s.zip", &files, false).await;
    }
    assert_eq!(live_version(&server, &s.user, SLUG).await, 2);
    // No workers here: the run stays queued.
    let queued = run(&server, ACME, &s.user, SLUG, &[]).await;

    let withdraw = |version: &'static str, reason: &'static str, host: &'static str, session| {
        let server = &server;
        let acme_id = acme_id.clone();
        async move {
            server
                .call(
                    host,
                    "withdraw-skill-version",
                    &[
                        ("tenant_id", &acme_id),
                        ("slug", SLUG),
                        ("version", version),
                        ("reason", reason),
                    ],
                    Some(session),
                )
                .await
        }
    };
    // Only a super-admin, on the console, with a reason.
    withdraw("2", WHY, ACME, &s.admin)
        .await
        .assert_refused(&["Unauthenticated", "Forbidden"]);
    withdraw("2", "  ", CONSOLE, &s.console)
        .await
        .assert_refused(&["Invalid"]);
    withdraw("3", WHY, CONSOLE, &s.console)
        .await
        .assert_refused(&["NotFound"]);
    assert_eq!(live_version(&server, &s.user, SLUG).await, 2);
    withdraw("2", WHY, CONSOLE, &s.console).await.assert_ok();
    withdraw("2", WHY, CONSOLE, &s.console)
        .await
        .assert_refused(&["Conflict"]);

    assert_eq!(live_version(&server, &s.user, SLUG).await, 1);
    let view = execution(&server, &s.user, queued).await;
    assert_eq!(view.summary.status, ExecutionStatus::Cancelled);
    assert_eq!(
        view.reason.as_deref(),
        Some(
            format!("cancelled: version 2 of {SLUG} was withdrawn by the platform: {WHY}").as_str()
        )
    );
    assert_eq!(
        count(
            ctx,
            &format!("SELECT count(*) FROM public.execution_queue WHERE execution_id = {queued}")
        )
        .await,
        0
    );

    // Never live again: not by the tenant's admin, not from the console either.
    for (host, session) in [(ACME, &s.admin), (CONSOLE, &s.console)] {
        let reply = server
            .call(
                host,
                "switch-skill-version",
                &[("slug", SLUG), ("version", "2"), ("tenant_id", &acme_id)],
                Some(session),
            )
            .await;
        reply.assert_refused(&["Conflict"]);
        assert!(reply.error_message().contains(WHY), "{}", reply.body);
    }
    assert_eq!(live_version(&server, &s.user, SLUG).await, 1);
    let page: SkillPage =
        serde_json::from_str(&skill_page(&server, ACME, &s.admin, SLUG).await.body).unwrap();
    let v2 = page.versions.iter().find(|v| v.version == 2).unwrap();
    assert_eq!(v2.withdrawn_reason.as_deref(), Some(WHY));
    let html = server
        .get(ACME, &format!("/skills/{SLUG}"), Some(&s.admin))
        .await
        .body;
    let row = version_row(&html, 2);
    assert!(
        row.contains("data-testid=\"withdrawn\"") && row.contains(WHY),
        "{row}"
    );
    assert!(!row.contains("Make live"), "{row}");
    assert!(version_row(&html, 1).contains("live"));

    // Both logs: the withdrawal; the tenant's: the cancellation with its reason.
    let tenant = tenant_audit(ctx, acme.schema.as_str(), SLUG).await;
    let entry = tenant
        .iter()
        .find(|(_, a, _, _)| a == "skill.withdraw")
        .unwrap();
    assert_eq!(entry.0, "superadmin");
    assert_eq!(entry.3["live_version"], 1);
    assert_eq!(entry.3["cancelled"], serde_json::json!([queued]));
    assert!(platform_audit(ctx, SLUG)
        .await
        .iter()
        .any(|(actor, a, _, d)| {
            actor == "superadmin"
                && a == "skill.withdraw"
                && d["tenant"] == "Acme"
                && d["reason"] == WHY
        }));
    let cancel = tenant_audit(ctx, acme.schema.as_str(), &format!("execution {queued}")).await;
    assert!(cancel.iter().any(|(_, a, _, d)| a == "execution.cancel"
        && d["was"] == "queued"
        && d["reason"].as_str().unwrap().contains(WHY)));

    // The last version withdrawn too: nothing is live, the skill cannot be run; the console
    // still lists it with its versions.
    withdraw("1", "superseded", CONSOLE, &s.console)
        .await
        .assert_ok();
    skill_page(&server, ACME, &s.user, SLUG)
        .await
        .assert_refused(&["NotFound"]);
    let reply = server
        .call(
            CONSOLE,
            "tenant-skills",
            &[("tenant_id", &acme_id)],
            Some(&s.console),
        )
        .await;
    reply.assert_ok();
    let skills: Vec<model::hot_update::SkillVersions> = serde_json::from_str(&reply.body).unwrap();
    let flawed = skills
        .iter()
        .find(|s| s.slug == SLUG)
        .expect("still listed");
    assert!(flawed
        .versions
        .iter()
        .all(|v| !v.live && v.withdrawn_reason.is_some()));
}

/// A super-admin disables a skill in a tenant: nobody there sees or runs it, its queued runs are
/// cancelled, the tenant cannot update (or otherwise bring back) it; only the platform enables
/// it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_the_platform_disabled_stays_disabled_for_the_tenant() {
    const SLUG: &str = "acme-paused";
    const WHY: &str = "under investigation";
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let s = sessions(&server).await;
    let acme = tenant_of(ctx, ACME).await;
    let acme_id = acme.id.to_string();
    let files = versioned_skill(SLUG, "v1", 0.0, false);
    submit_and_approve(&server, &s.admin, &s.console, "s.zip", &files, false).await;
    let queued = run(&server, ACME, &s.user, SLUG, &[]).await;

    let set = |host: &'static str, session, reason: Option<&'static str>| {
        let server = &server;
        let acme_id = acme_id.clone();
        async move {
            let mut form = vec![("tenant_id", acme_id.as_str()), ("slug", SLUG)];
            match reason {
                Some(reason) => form.extend([("disabled", "true"), ("reason", reason)]),
                None => form.push(("disabled", "false")),
            }
            server
                .call(host, "set-skill-disabled", &form, Some(session))
                .await
        }
    };
    set(ACME, &s.admin, Some(WHY))
        .await
        .assert_refused(&["Unauthenticated", "Forbidden"]);
    set(CONSOLE, &s.console, Some(""))
        .await
        .assert_refused(&["Invalid"]);
    set(CONSOLE, &s.console, None)
        .await
        .assert_refused(&["Conflict"]);
    set(CONSOLE, &s.console, Some(WHY)).await.assert_ok();

    for session in [&s.user, &s.admin] {
        skill_page(&server, ACME, session, SLUG)
            .await
            .assert_refused(&["NotFound"]);
    }
    let view = execution(&server, &s.user, queued).await;
    assert_eq!(view.summary.status, ExecutionStatus::Cancelled);
    assert_eq!(
        view.reason.as_deref(),
        Some(format!("cancelled: {SLUG} was disabled by the platform: {WHY}").as_str())
    );
    // The tenant cannot bring it back: not by enabling it, not with a new version.
    set(ACME, &s.admin, None)
        .await
        .assert_refused(&["Unauthenticated", "Forbidden"]);
    let v2 = versioned_skill(SLUG, "v2", 0.0, false);
    let refused = refusal(&submit(&server, ACME, &s.admin, "v2.zip", &zip_of(&v2)).await);
    assert!(
        refused.contains("The platform disabled acme-paused") && refused.contains(WHY),
        "{refused}"
    );
    let html = server
        .get(CONSOLE, &format!("/tenants/{}", acme.id), Some(&s.console))
        .await
        .body;
    assert!(html.contains("data-testid=\"skill-disabled\""), "{html}");
    assert!(platform_audit(ctx, SLUG)
        .await
        .iter()
        .any(|(_, a, _, d)| a == "skill.disable" && d["reason"] == WHY));
    assert!(tenant_audit(ctx, acme.schema.as_str(), SLUG)
        .await
        .iter()
        .any(|(_, a, _, _)| a == "skill.disable"));

    set(CONSOLE, &s.console, None).await.assert_ok();
    assert_eq!(live_version(&server, &s.user, SLUG).await, 1);
    assert!(platform_audit(ctx, SLUG)
        .await
        .iter()
        .any(|(_, a, _, _)| a == "skill.enable"));
}
