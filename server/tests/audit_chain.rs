//! Tamper-evident audit (issue 11 §10): the platform's audit log and each tenant's are hash
//! chains. Concurrent writers (also transactions writing two logs in opposite orders) never
//! fork or deadlock a chain; an entry edited or deleted directly in PostgreSQL breaks its chain
//! at exactly that entry (or, deleted, at the one after it), as the console's check (through
//! the real router) and `execgov audit verify` (the real binary) report.
mod common;

use std::process::Command;

use common::*;
use domain::audit::{self, AuditLog, Event};
use domain::db::{enter_schema, leave_schema};
use serde_json::json;
use sqlx::{Connection, PgConnection};

const CONSOLE: &str = "admin.localhost";

/// Writes `n` entries in each of the two tenants' logs and the platform's, from concurrent
/// transactions that each write two logs, half of them in the opposite order.
async fn write_concurrently(ctx: &domain::Ctx, n: usize) {
    let acme = tenant_of(ctx, "acme.localhost").await;
    let globex = tenant_of(ctx, "globex.localhost").await;
    let mut tasks = Vec::new();
    for i in 0..n {
        let (ctx, acme, globex) = (ctx.clone(), acme.clone(), globex.clone());
        tasks.push(tokio::spawn(async move {
            let (first, second) = if i % 2 == 0 {
                (&acme, &globex)
            } else {
                (&globex, &acme)
            };
            // Half with a request's address and (non-ASCII) user agent, half without.
            let mut writer = actor("writer");
            if i % 4 < 2 {
                writer.meta = domain::RequestMeta {
                    ip: Some("192.0.2.7".into()),
                    user_agent: Some("Navigateur/1.0 (é)".into()),
                };
            }
            let mut tx = ctx.pool.begin().await.unwrap();
            for tenant in [first, second] {
                enter_schema(&mut tx, &tenant.schema).await.unwrap();
                audit::record(&mut tx, AuditLog::Tenant, &writer, event(i))
                    .await
                    .unwrap();
            }
            leave_schema(&mut tx).await.unwrap();
            audit::record(&mut tx, AuditLog::Platform, &writer, event(i))
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

fn event(i: usize) -> Event<'static> {
    Event {
        action: "test.write",
        target: "chain",
        detail: json!({ "i": i, "text": "naïve — 中文" }),
        result: "ok",
    }
}

/// The console's check, as a super-admin calls it: log → (entries, broken entry id).
async fn console_check(server: &TestServer, session: &str) -> Vec<(String, i64, Option<i64>)> {
    let reply = server
        .call(CONSOLE, "verify-audit", &[], Some(session))
        .await;
    reply.assert_ok();
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["log"].as_str().unwrap().to_string(),
                c["entries"].as_i64().unwrap(),
                c["broken"]["entry_id"].as_i64(),
            )
        })
        .collect()
}

fn broken_in(checks: &[(String, i64, Option<i64>)], log_start: &str) -> Option<i64> {
    checks
        .iter()
        .find(|(log, _, _)| log.starts_with(log_start))
        .unwrap_or_else(|| panic!("no log {log_start} in {checks:?}"))
        .2
}

/// `execgov audit verify [args]` against the test database: exit success and stdout.
async fn cli_verify(db: &TestDb, args: &[&str]) -> (bool, String) {
    let url = database_url(db).await;
    let output = Command::new(env!("CARGO_BIN_EXE_execgov"))
        .args(["audit", "verify"])
        .args(args)
        .env("DATABASE_URL", url)
        .env("EXECGOV_DATA_DIR", &db.ctx.data_dir)
        .env("EXECGOV_LOG", "warn")
        .output()
        .expect("running execgov audit verify");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// The ids of a log's entries in chain order.
async fn chain_ids(ctx: &domain::Ctx, table: &str) -> Vec<i64> {
    sqlx::query_scalar(&format!("SELECT id FROM {table} ORDER BY seq"))
        .fetch_all(&ctx.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edited_or_deleted_audit_entry_breaks_its_chain_there() {
    let db = seeded_db().await;
    let ctx = db.ctx.clone();
    write_concurrently(&ctx, 24).await;
    let server = start_server(ctx.clone()).await;
    let session = server.login(CONSOLE, "superadmin", PASSWORD).await;

    // Intact: every log verifies, the concurrent entries included, each chain one line.
    let checks = console_check(&server, &session).await;
    assert!(
        checks.iter().all(|(_, _, broken)| broken.is_none()),
        "{checks:?}"
    );
    let acme_entries = count(&ctx, "SELECT count(*) FROM tenant_1003.audit_log").await;
    assert!(checks.contains(&("tenant Acme (tenant_1003)".into(), acme_entries, None)));
    assert!(acme_entries >= 24);
    let (ok, out) = cli_verify(&db, &[]).await;
    assert!(ok, "{out}");
    assert!(out.contains("platform: OK"), "{out}");
    assert!(out.contains("tenant Acme (tenant_1003): OK"), "{out}");

    // An entry in the middle of Acme's log edited directly, as the database's superuser.
    let mut admin = PgConnection::connect_with(&db.superuser_options().await)
        .await
        .unwrap();
    let acme_ids = chain_ids(&ctx, "tenant_1003.audit_log").await;
    let edited = acme_ids[acme_ids.len() / 2];
    sqlx::query("UPDATE tenant_1003.audit_log SET result = 'refused' WHERE id = $1")
        .bind(edited)
        .execute(&mut admin)
        .await
        .unwrap();
    // One deleted from Globex's log: the chain breaks at the entry that followed it.
    let globex_ids = chain_ids(&ctx, "tenant_1004.audit_log").await;
    let deleted = globex_ids[globex_ids.len() / 2];
    let after_deleted = globex_ids[globex_ids.len() / 2 + 1];
    sqlx::query("DELETE FROM tenant_1004.audit_log WHERE id = $1")
        .bind(deleted)
        .execute(&mut admin)
        .await
        .unwrap();
    // The platform's: an entry's detail rewritten and its own hash recomputed to match, so
    // only the next entry's link shows it.
    let platform_ids = chain_ids(&ctx, "public.platform_audit").await;
    let (rewritten, next) = (platform_ids[3], platform_ids[4]);
    sqlx::query(
        "UPDATE public.platform_audit SET detail = '{\"forged\": true}', \
         hash = public.audit_entry_hash(prev_hash, id, at, actor, action, target, \
             '{\"forged\": true}'::jsonb, result, ip, user_agent) WHERE id = $1",
    )
    .bind(rewritten)
    .execute(&mut admin)
    .await
    .unwrap();

    let checks = console_check(&server, &session).await;
    assert_eq!(
        broken_in(&checks, "tenant Acme"),
        Some(edited),
        "{checks:?}"
    );
    assert_eq!(
        broken_in(&checks, "tenant Globex"),
        Some(after_deleted),
        "{checks:?}"
    );
    assert_eq!(broken_in(&checks, "platform"), Some(next), "{checks:?}");
    // The entries before the broken link were verified.
    let acme = checks
        .iter()
        .find(|c| c.0.starts_with("tenant Acme"))
        .unwrap();
    assert_eq!(acme.1, acme_ids.len() as i64 / 2);

    let (ok, out) = cli_verify(&db, &["--tenant", "acme"]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "tenant Acme (tenant_1003): BROKEN at entry {edited}:"
        )),
        "{out}"
    );
    assert!(
        !out.contains("Globex") && !out.contains("platform"),
        "{out}"
    );
    let (ok, out) = cli_verify(&db, &[]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("BROKEN at entry {after_deleted}:")),
        "{out}"
    );
    assert!(
        out.contains(&format!("platform: BROKEN at entry {next}:")),
        "{out}"
    );
    let (ok, out) = cli_verify(&db, &["--tenant", "nobody"]).await;
    assert!(
        !ok && out.contains("There is no tenant \"nobody\""),
        "{out}"
    );

    // Without a database it says so, and makes none.
    let empty = db.ctx.data_dir.join("no-database-here");
    let output = Command::new(env!("CARGO_BIN_EXE_execgov"))
        .args(["audit", "verify"])
        .env_remove("DATABASE_URL")
        .env("EXECGOV_DATA_DIR", &empty)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && err.contains("no database to verify"),
        "{err}"
    );
    assert!(!empty.join("postgres").exists());

    // Only super-admins run the check.
    let member = server.login("acme.localhost", "acme-admin", PASSWORD).await;
    let reply = server
        .call("acme.localhost", "verify-audit", &[], Some(&member))
        .await;
    reply.assert_refused(&["Forbidden", "Unauthenticated"]);
    let page = server.get(CONSOLE, "/audit/verify", Some(&session)).await;
    assert!(
        page.body.contains("data-testid=\"audit-check\""),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("broken at entry {edited}")));
}

/// Entries get their links at commit: the chain head is locked for the commit only, and a
/// rolled-back entry leaves no trace in the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_back_entries_leave_the_chain_intact() {
    let db = seeded_db().await;
    let ctx = db.ctx.clone();
    let acme = tenant_of(&ctx, "acme.localhost").await;
    let mut tx = domain::db::TenantTx::begin(&ctx.pool, &acme.schema)
        .await
        .unwrap();
    audit::record(&mut tx, AuditLog::Tenant, &actor("writer"), event(1))
        .await
        .unwrap();
    drop(tx);
    write_concurrently(&ctx, 2).await;
    let links: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, prev_hash, hash FROM tenant_1003.audit_log ORDER BY seq")
            .fetch_all(&ctx.pool)
            .await
            .unwrap();
    for (i, pair) in links.windows(2).enumerate() {
        assert_eq!(pair[0].0 + 1, pair[1].0, "seq at {i}");
        assert_eq!(pair[0].2, pair[1].1, "link at {i}");
    }
    let checks = audit::verify_all(&ctx, Some("Acme")).await.unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].broken, None);
    assert_eq!(checks[0].entries, links.len() as i64);
}
