//! A failed provisioning leaves nothing behind. This binary holds a single test because the `fail`
//! is process-global: a failpoint set here must not leak into other tests.

mod common;

use common::*;
use domain::tenancy::{provision_tenant, NewTenant};
use domain::Actor;

const NAME: &str = "Initech";
const HOST: &str = "initech.localhost";

fn initech() -> NewTenant {
    NewTenant {
        name: NAME.into(),
        host: HOST.into(),
        admin_username: "initech-admin".into(),
        admin_password: PASSWORD.into(),
    }
}

/// A failure after the tenant's schema and tables were created (but before its admin and host
/// binding) leaves nothing behind: no schema, no tenant row, no binding, no users; the platform
/// audit log records the failed `tenant.create`; the user sees a generic message; and the same
/// name and host can be provisioned once the failure is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_mid_provisioning_leaves_nothing_behind_and_is_audited() {
    let scenario = fail::FailScenario::setup();
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let before = footprint(ctx).await;
    let console = server
        .login("admin.localhost", "superadmin", PASSWORD)
        .await;

    fail::cfg("provision::after_migrations", "return").unwrap();

    // Through the console, as a super-admin would.
    let reply = server
        .call(
            "admin.localhost",
            "create-tenant",
            &[
                ("name", NAME),
                ("host", HOST),
                ("admin_username", "initech-admin"),
                ("admin_password", PASSWORD),
            ],
            Some(&console),
        )
        .await;
    reply.assert_refused(&["Internal"]);
    assert!(
        !reply.body.contains("failpoint") && !reply.body.contains("provision::"),
        "internal details must not reach the user: {}",
        reply.body
    );
    // And directly through the domain.
    let err = provision_tenant(ctx, &Actor::system(), initech())
        .await
        .expect_err("the failpoint makes provisioning fail");
    assert!(
        matches!(err, domain::AppError::Internal(_)),
        "unexpected error {err:?}"
    );

    // Nothing of Initech exists: same schemas, tenants, bindings as before.
    assert_eq!(footprint(ctx).await, before);
    assert_eq!(
        count(
            ctx,
            "SELECT count(*) FROM public.tenants WHERE lower(name) = 'initech'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            ctx,
            "SELECT count(*) FROM information_schema.schemata \
             WHERE schema_name LIKE 'tenant\\_%' \
             AND schema_name NOT IN (SELECT schema_name FROM public.tenants)"
        )
        .await,
        0,
        "an orphan tenant schema was left behind"
    );
    assert_eq!(
        count(
            ctx,
            "SELECT count(*) FROM public.host_bindings WHERE host = 'initech.localhost'"
        )
        .await,
        0
    );
    // No `users` table of a half-made tenant anywhere outside the known tenants.
    assert_eq!(
        count(
            ctx,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'users' \
             AND table_schema NOT IN (SELECT schema_name FROM public.tenants)"
        )
        .await,
        0
    );
    // Nor a per-tenant PostgreSQL role (where the product creates them) without its tenant.
    assert_eq!(
        count(
            ctx,
            "SELECT count(*) FROM pg_roles \
             WHERE rolname LIKE current_database() || '\\_tenant\\_%' \
             AND rolname NOT IN (SELECT current_database() || '_' || schema_name FROM public.tenants)"
        )
        .await,
        0,
        "an orphan tenant role was left behind"
    );
    assert!(domain::tenancy::resolve_host(ctx, HOST)
        .await
        .unwrap()
        .is_none());
    assert_eq!(server.get(HOST, "/", None).await.status, 404);

    // Both failures are in the platform audit log, with the caller's name.
    let failed: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, result FROM public.platform_audit \
         WHERE action = 'tenant.create' AND target = $1 ORDER BY id",
    )
    .bind(NAME)
    .fetch_all(&ctx.pool)
    .await
    .unwrap();
    assert_eq!(
        failed,
        vec![
            ("superadmin".to_string(), "failed".to_string()),
            ("system".to_string(), "failed".to_string()),
        ]
    );

    // With the failure gone, the same name and host work.
    fail::remove("provision::after_migrations");
    let tenant = provision_tenant(ctx, &Actor::system(), initech())
        .await
        .expect("provisioning without the failpoint");
    assert!(tenant.id >= 1003);
    assert_eq!(tenant.schema.as_str(), format!("tenant_{}", tenant.id));
    let after = footprint(ctx).await;
    assert_eq!(after.tenants, before.tenants + 1);
    assert_eq!(after.bindings, before.bindings + 1);
    assert!(after.schemas.contains(&tenant.schema.as_str().to_string()));
    assert_eq!(
        usernames_in(ctx, tenant.schema.as_str()).await,
        vec!["initech-admin"]
    );
    server.login(HOST, "initech-admin", PASSWORD).await;
    let ok: i64 = count(
        ctx,
        "SELECT count(*) FROM public.platform_audit \
         WHERE action = 'tenant.create' AND target = 'Initech' AND result = 'ok'",
    )
    .await;
    assert_eq!(ok, 1);

    scenario.teardown();
}
