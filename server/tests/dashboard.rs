//! The home pages' dashboards through the domain, on real PostgreSQL with real sandboxed runs
//! (uids 69300–69399): what a member, a tenant admin and a super-admin see, and what they never
//! see — other users' runs, another tenant's anything, platform figures without the marker.
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use domain::accounts::{self, Realm};
use domain::caller::{self, Caller};
use domain::dashboard::{console_dashboard, tenant_dashboard};
use domain::executions::{self, QueuePolicy};
use domain::hot_updates::{self, NewSubmission};
use domain::{AppError, Ctx};
use engine::{Executors, SandboxConfig};
use model::dashboard::TenantDashboard;
use model::hot_update::SkillFlags;
use model::skill::RiskLevel;
use model::ExecutionStatus;

/// Sandbox uids of their own for each test that runs scripts.
fn executors() -> Executors {
    static NEXT: AtomicU32 = AtomicU32::new(69300);
    let first_uid = NEXT.fetch_add(4, Ordering::SeqCst);
    assert!(first_uid + 4 <= 69400, "out of this file's uid range");
    Executors::new(SandboxConfig {
        first_uid,
        uid_slots: 4,
        ..SandboxConfig::default()
    })
}

/// The caller a request to `host` with `username`'s fresh session would be (the console's
/// accounts for `admin.localhost`, the tenant's otherwise).
async fn caller_at(ctx: &Ctx, host: &str, username: &str) -> Caller {
    let binding = domain::tenancy::resolve_host(ctx, host)
        .await
        .unwrap()
        .expect("a bound host");
    let realm = match &binding.tenant {
        Some(t) => Realm::Tenant(t),
        None => Realm::Platform,
    };
    let session = accounts::login(ctx, realm, username, PASSWORD.into(), &Default::default())
        .await
        .unwrap();
    caller::identify(ctx, host, Some(&session.token), None, Default::default())
        .await
        .unwrap()
        .expect("a bound host")
}

/// `host`'s caller carrying a session token issued elsewhere.
async fn caller_with_token(ctx: &Ctx, host: &str, token: &str) -> Caller {
    caller::identify(ctx, host, Some(token), None, Default::default())
        .await
        .unwrap()
        .expect("a bound host")
}

/// Requests a run of `slug` as `username` of `host`'s tenant; returns its id.
async fn request(ctx: &Ctx, host: &str, username: &str, slug: &str) -> i64 {
    let tenant = tenant_of(ctx, host).await;
    let user = user(ctx, &tenant, username).await;
    executions::request(
        ctx,
        &tenant,
        &user,
        &actor(username),
        slug,
        &BTreeMap::new(),
        &[],
    )
    .await
    .unwrap()
}

/// Runs every queued execution in the sandbox.
async fn drain(ctx: &Ctx) {
    let executors = executors();
    let policy = QueuePolicy::default();
    while let Some(claimed) = executions::claim_next(ctx, "dashboard-test", &policy)
        .await
        .unwrap()
    {
        executions::run_claimed(ctx, &executors, claimed, "dashboard-test", &policy)
            .await
            .unwrap();
    }
}

/// A skill that always fails, one that needs a confirmation and one that succeeds, in `host`'s
/// tenant, for its members.
async fn register_test_skills(ctx: &Ctx, host: &str, prefix: &str) {
    let tenant = tenant_of(ctx, host).await;
    let slug = |s: &str| format!("{prefix}-{s}");
    register_script(ctx, &tenant, (&slug("boom"), "main.sh", "exit 3\n"), 10).await;
    register_skill(
        ctx,
        &tenant,
        (&slug("careful"), "main.sh", "echo ok\n"),
        "requires_confirmation = true\n",
    )
    .await;
    register_script(ctx, &tenant, (&slug("fine"), "main.sh", "echo fine\n"), 10).await;
}

/// A pending submission of a new skill in `host`'s tenant, by its admin.
async fn submit(ctx: &Ctx, host: &str, admin: &str, slug: &str) -> i64 {
    let tenant = tenant_of(ctx, host).await;
    let admin_user = user(ctx, &tenant, admin).await;
    let manifest = format!(
        "name = \"{slug}\"\nslug = \"{slug}\"\ndescription = \"Submitted.\"\n\
         output = \"Nothing.\"\nrisk = \"low\"\n"
    );
    let archive = zip_of::<&str, &[u8]>(&[
        ("main.sh", b"echo submitted\n"),
        ("README.md", b"# Submitted\n"),
        ("skill.toml", manifest.as_bytes()),
    ]);
    hot_updates::submit(
        ctx,
        &tenant,
        &admin_user,
        &actor(admin),
        NewSubmission {
            archive_name: format!("{slug}.zip"),
            archive,
            scenario: "Dashboards show it.".into(),
            proposed: SkillFlags {
                risk: RiskLevel::Low,
                ai_callable: false,
                manual_allowed: true,
                requires_confirmation: false,
            },
        },
    )
    .await
    .unwrap()
}

/// The most used skills as (slug, runs).
fn most_used(d: &TenantDashboard) -> Vec<(&str, i64)> {
    d.top_skills
        .items
        .iter()
        .map(|s| (s.slug.as_str(), s.runs))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sees_only_their_own_runs_and_an_admin_sees_the_tenants() {
    let ctx = seeded_ctx().await;
    register_test_skills(&ctx, "acme.localhost", "t").await;
    // acme-user: two runs of the failing skill, one of the fine one; acme-admin: one fine run.
    let mine = [
        request(&ctx, "acme.localhost", "acme-user", "t-boom").await,
        request(&ctx, "acme.localhost", "acme-user", "t-boom").await,
        request(&ctx, "acme.localhost", "acme-user", "t-fine").await,
    ];
    let admins = request(&ctx, "acme.localhost", "acme-admin", "t-fine").await;
    drain(&ctx).await;
    let waiting = request(&ctx, "acme.localhost", "acme-admin", "t-careful").await;

    let member = caller_at(&ctx, "acme.localhost", "acme-user").await;
    let d = tenant_dashboard(&ctx, &member).await.unwrap();
    assert_eq!(d.recent_runs.total, 3, "the member's own runs only");
    let ids: Vec<i64> = d.recent_runs.items.iter().map(|r| r.run.id).collect();
    assert_eq!(ids, vec![mine[2], mine[1], mine[0]], "newest first");
    assert!(d
        .recent_runs
        .items
        .iter()
        .all(|r| r.run.requested_by == "acme-user" && r.conversation_id.is_none()));
    assert_eq!(
        most_used(&d),
        vec![("t-boom", 2), ("t-fine", 1)],
        "counted on the member's runs"
    );
    assert_eq!(d.top_skills.total, 2);
    assert!(d.admin.is_none(), "a member gets no admin blocks");

    let admin = caller_at(&ctx, "acme.localhost", "acme-admin").await;
    let d = tenant_dashboard(&ctx, &admin).await.unwrap();
    assert_eq!(d.recent_runs.total, 5, "all of the tenant's runs");
    assert_eq!(d.recent_runs.items[0].run.id, waiting);
    assert!(d.recent_runs.items.iter().any(|r| r.run.id == admins));
    assert_eq!(
        most_used(&d),
        vec![("t-boom", 2), ("t-fine", 2), ("t-careful", 1)]
    );
    let a = d.admin.expect("admin blocks for an admin");
    assert_eq!(a.awaiting_confirmation.total, 1);
    assert_eq!(a.awaiting_confirmation.items[0].id, waiting);
    assert_eq!(
        a.awaiting_confirmation.items[0].status,
        ExecutionStatus::AwaitingConfirmation
    );
    assert_eq!(a.failed_last_day.total, 2, "both failed runs of the member");
    assert!(a
        .failed_last_day
        .items
        .iter()
        .all(|r| r.status == ExecutionStatus::Failed && r.requested_by == "acme-user"));
    assert_eq!(a.pending_submissions.total, 0);

    // A skill taken away from the members leaves their "most used" list; their runs stay.
    sqlx::query("DELETE FROM tenant_1003.skill_grants WHERE skill_id = (SELECT id FROM tenant_1003.skills WHERE slug = 't-boom')")
        .execute(&ctx.pool)
        .await
        .unwrap();
    let d = tenant_dashboard(&ctx, &member).await.unwrap();
    assert_eq!(d.recent_runs.total, 3);
    let slugs: Vec<&str> = d.top_skills.items.iter().map(|s| s.slug.as_str()).collect();
    assert_eq!(slugs, vec!["t-fine"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globex_dashboard_shows_nothing_of_acme() {
    let ctx = seeded_ctx().await;
    register_test_skills(&ctx, "acme.localhost", "acme").await;
    for slug in ["acme-boom", "acme-fine", "acme-careful"] {
        request(&ctx, "acme.localhost", "acme-user", slug).await;
    }
    drain(&ctx).await;
    request(&ctx, "acme.localhost", "acme-user", "acme-careful").await;
    submit(&ctx, "acme.localhost", "acme-admin", "acme-submitted").await;

    // Acme's admin sees all of it ...
    let acme = caller_at(&ctx, "acme.localhost", "acme-admin").await;
    let d = tenant_dashboard(&ctx, &acme).await.unwrap();
    assert_eq!(d.recent_runs.total, 4);
    let a = d.admin.unwrap();
    assert_eq!(a.pending_submissions.total, 1);
    assert_eq!(a.pending_submissions.items[0].slug, "acme-submitted");
    assert_eq!(a.awaiting_confirmation.total, 2);
    assert_eq!(a.failed_last_day.total, 1);

    // ... Globex's admin and member none of it.
    for who in ["globex-admin", "globex-user"] {
        let globex = caller_at(&ctx, "globex.localhost", who).await;
        let d = tenant_dashboard(&ctx, &globex).await.unwrap();
        assert_eq!(d.recent_runs.total, 0, "{who}");
        assert!(d.recent_runs.items.is_empty());
        assert_eq!(d.top_skills.total, 0, "{who}");
        if let Some(a) = d.admin {
            assert_eq!(a.pending_submissions.total, 0);
            assert_eq!(a.awaiting_confirmation.total, 0);
            assert_eq!(a.failed_last_day.total, 0);
        }
        let shown = format!("{:?}", tenant_dashboard(&ctx, &globex).await.unwrap());
        assert!(!shown.contains("acme"), "{who} sees: {shown}");
    }

    // Acme's session sent to Globex's host is nobody there; to the console, nobody either.
    let acme_session = acme.session_token.clone().unwrap();
    let stray = caller_with_token(&ctx, "globex.localhost", &acme_session).await;
    assert!(matches!(
        tenant_dashboard(&ctx, &stray).await,
        Err(AppError::Unauthenticated(_))
    ));
    let stray = caller_with_token(&ctx, "admin.localhost", &acme_session).await;
    assert!(tenant_dashboard(&ctx, &stray).await.is_err());
    assert!(console_dashboard(&ctx, &stray).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_counts_every_tenant_and_only_for_super_admins() {
    let ctx = seeded_ctx().await;
    register_test_skills(&ctx, "acme.localhost", "a").await;
    register_test_skills(&ctx, "globex.localhost", "g").await;
    request(&ctx, "acme.localhost", "acme-user", "a-boom").await;
    request(&ctx, "acme.localhost", "acme-user", "a-boom").await;
    request(&ctx, "globex.localhost", "globex-user", "g-boom").await;
    drain(&ctx).await;
    // Left in the queue: no worker runs during the rest of the test.
    request(&ctx, "globex.localhost", "globex-user", "g-fine").await;
    let acme_submission = submit(&ctx, "acme.localhost", "acme-admin", "acme-new").await;
    let globex_submission = submit(&ctx, "globex.localhost", "globex-admin", "globex-new").await;

    let superadmin = caller_at(&ctx, "admin.localhost", "superadmin").await;
    let d = console_dashboard(&ctx, &superadmin).await.unwrap();
    assert_eq!(
        d.tenants.total,
        count(&ctx, "SELECT count(*) FROM public.tenants").await
    );
    assert_eq!(d.tenants.total, 3, "Acme, Globex and the free edition");
    assert_eq!(d.tenants.items[0].name, "Globex", "newest first");
    let pending: Vec<i64> = d.pending_reviews.items.iter().map(|s| s.id).collect();
    assert_eq!(
        pending,
        vec![acme_submission, globex_submission],
        "oldest first"
    );
    assert_eq!(d.pending_reviews.total, 2);
    let h = &d.health;
    assert_eq!(h.queued, 1);
    assert_eq!(h.running, 0);
    assert_eq!((h.workers_busy, h.workers_total), (0, 0), "no workers here");
    assert_eq!((h.failed_last_hour, h.failed_last_day), (3, 3));
    let failing: Vec<(&str, i64)> = h
        .failing_tenants
        .iter()
        .map(|t| (t.tenant_name.as_str(), t.failed_last_day))
        .collect();
    assert_eq!(failing, vec![("Acme", 2), ("Globex", 1)]);
    assert!(d.recent_audit.total >= d.recent_audit.items.len() as i64);
    assert!(!d.recent_audit.items.is_empty());
    assert!(d.recent_audit.items.len() <= 5);

    // Not a super-admin: a platform user without the marker, a tenant's admin on its own host.
    accounts::create_platform_user(&ctx, &actor("test"), "plain-admin", PASSWORD.into(), false)
        .await
        .unwrap();
    let plain = caller_at(&ctx, "admin.localhost", "plain-admin").await;
    assert!(matches!(
        console_dashboard(&ctx, &plain).await,
        Err(AppError::Forbidden(_))
    ));
    let tenant_admin = caller_at(&ctx, "acme.localhost", "acme-admin").await;
    assert!(matches!(
        console_dashboard(&ctx, &tenant_admin).await,
        Err(AppError::Forbidden(_))
    ));
    let anonymous = caller_with_token(&ctx, "admin.localhost", "no-such-session").await;
    assert!(matches!(
        console_dashboard(&ctx, &anonymous).await,
        Err(AppError::Unauthenticated(_))
    ));
}

/// Through the server: the home page of each surface renders its dashboard for a signed-in user,
/// and the server functions answer only their own surface's callers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_pages_render_the_dashboards() {
    let ctx = seeded_ctx().await;
    let server = start_server(ctx.clone()).await;
    let member = server.login("acme.localhost", "acme-user", PASSWORD).await;
    let home = server.get("acme.localhost", "/", Some(&member)).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("data-testid=\"recent-runs\""));
    assert!(home.body.contains("No runs yet"));
    assert!(home.body.contains("data-testid=\"ask-box\""));
    assert!(!home.body.contains("data-testid=\"pending-submissions\""));
    let admin = server.login("acme.localhost", "acme-admin", PASSWORD).await;
    let home = server.get("acme.localhost", "/", Some(&admin)).await;
    assert!(home.body.contains("Nothing waiting for review"));
    assert!(home
        .body
        .contains("/executions?status=awaiting_confirmation"));

    let superadmin = server
        .login("admin.localhost", "superadmin", PASSWORD)
        .await;
    let home = server.get("admin.localhost", "/", Some(&superadmin)).await;
    assert!(home.body.contains("data-testid=\"health\""));
    assert!(home.body.contains("Nothing waiting for review"));

    // Signed out: the sign-in form, no dashboard.
    let home = server.get("acme.localhost", "/", None).await;
    assert!(home.body.contains("name=\"password\""));
    assert!(!home.body.contains("data-testid=\"recent-runs\""));

    server
        .call(
            "admin.localhost",
            "platform-dashboard",
            &[],
            Some(&superadmin),
        )
        .await
        .assert_ok();
    server
        .call("acme.localhost", "platform-dashboard", &[], Some(&admin))
        .await
        .assert_refused(&["Unauthenticated", "Forbidden"]);
    server
        .call("acme.localhost", "my-dashboard", &[], None)
        .await
        .assert_refused(&["Unauthenticated"]);
    server
        .call("acme.localhost", "my-dashboard", &[], Some(&member))
        .await
        .assert_ok();
}

/// The console's health counts the workers of every worker process: how many there are, and
/// the one running a script now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_counts_this_servers_busy_workers() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, "acme.localhost").await;
    register_script(&ctx, &acme, ("slow", "main.sh", "sleep 20\n"), 30).await;
    executions::start_workers(
        ctx.clone(),
        std::sync::Arc::new(executors()),
        2,
        QueuePolicy::default(),
    );
    let id = request(&ctx, "acme.localhost", "acme-user", "slow").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status: String =
            sqlx::query_scalar("SELECT status FROM tenant_1003.executions WHERE id = $1")
                .bind(id)
                .fetch_one(&ctx.pool)
                .await
                .unwrap();
        if status == "running" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {status}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let superadmin = caller_at(&ctx, "admin.localhost", "superadmin").await;
    let h = console_dashboard(&ctx, &superadmin).await.unwrap().health;
    assert_eq!((h.workers_busy, h.workers_total), (1, 2));
    assert_eq!((h.running, h.queued), (1, 0));
}
