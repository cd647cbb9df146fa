//! Tenant migrations run under a database-wide migration lock taken inside the provisioning
//! transaction. That lock must never outlive the attempt that took it, whatever way the attempt
//! ends: a pooled connection that keeps holding it blocks every later provisioning.

mod common;

use std::time::Duration;

use common::*;
use domain::tenancy::{provision_tenant, NewTenant};
use domain::{Actor, Ctx};
use sqlx::migrate::Migrate;
use sqlx::{Connection, PgConnection};

fn new_tenant(name: &str) -> NewTenant {
    NewTenant {
        name: name.into(),
        host: format!("{}.localhost", name.to_lowercase()),
        admin_username: "first-admin".into(),
        admin_password: PASSWORD.into(),
    }
}

/// Advisory locks granted in this test's database (`pg_locks` is cluster-wide).
async fn advisory_locks(ctx: &Ctx) -> i64 {
    count(
        ctx,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await
}

/// Waits up to 3 s for every advisory lock of the database to be released; returns how many
/// are still held.
async fn advisory_locks_after_settling(ctx: &Ctx) -> i64 {
    for _ in 0..30 {
        if advisory_locks(ctx).await == 0 {
            return 0;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    advisory_locks(ctx).await
}

/// Provisions `names` one after the other, each within 10 s.
async fn provisioning_still_works(ctx: &Ctx, names: &[&str]) {
    for name in names {
        let done = tokio::time::timeout(
            Duration::from_secs(10),
            provision_tenant(ctx, &Actor::system(), new_tenant(name)),
        )
        .await;
        assert!(
            matches!(done, Ok(Ok(_))),
            "provisioning {name} hung or failed: {done:?}"
        );
    }
}

/// A tenant migration that fails half-way during provisioning (here: PostgreSQL refuses the
/// creation of the new tenant's `users` table) rolls the tenant back and releases the migration
/// lock; later provisionings complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_failing_during_provisioning_releases_the_migration_lock() {
    let db = seeded_db().await;
    let ctx = &db.ctx;
    // The next tenant is 1005; make PostgreSQL refuse its `users` table.
    let mut superuser = PgConnection::connect_with(&db.superuser_options().await)
        .await
        .unwrap();
    for statement in [
        "CREATE FUNCTION public.test_refuse_tenant_1005() RETURNS event_trigger \
         LANGUAGE plpgsql AS $$ BEGIN \
           IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() \
                      WHERE object_identity = 'tenant_1005.users') THEN \
             RAISE EXCEPTION 'injected migration failure'; \
           END IF; END $$",
        "CREATE EVENT TRIGGER test_refuse_tenant_1005 ON ddl_command_end \
         EXECUTE FUNCTION public.test_refuse_tenant_1005()",
    ] {
        sqlx::query(statement)
            .execute(&mut superuser)
            .await
            .unwrap();
    }
    let before = footprint(ctx).await;
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        provision_tenant(ctx, &Actor::system(), new_tenant("Initech")),
    )
    .await
    .expect("a failing provisioning returns")
    .expect_err("the injected failure makes provisioning fail");
    assert!(
        matches!(
            err,
            domain::AppError::Migration(_) | domain::AppError::Database(_)
        ),
        "{err:?}"
    );
    assert_eq!(
        footprint(ctx).await,
        before,
        "the failed tenant was rolled back"
    );
    sqlx::query("DROP EVENT TRIGGER test_refuse_tenant_1005")
        .execute(&mut superuser)
        .await
        .unwrap();
    superuser.close().await.unwrap();

    assert_eq!(
        advisory_locks_after_settling(ctx).await,
        0,
        "an idle pooled connection still holds the migration lock"
    );
    provisioning_still_works(ctx, &["Hooli", "Umbrella", "Cyberdyne"]).await;
}

/// `migrate` failing on one tenant (a tenant whose migration is marked dirty) does not leave the
/// migration lock held by the pooled connection that ran it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_migrate_releases_the_migration_lock() {
    let db = seeded_db().await;
    let ctx = &db.ctx;
    sqlx::query("UPDATE tenant_1003._sqlx_migrations SET success = false")
        .execute(&ctx.pool)
        .await
        .unwrap();
    let single = domain::db::connect(db.options.clone(), 1).await.unwrap();
    let err = domain::db::migrate(&single)
        .await
        .expect_err("a dirty tenant fails the migration");
    assert!(matches!(err, domain::AppError::Migration(_)), "{err:?}");
    sqlx::query("UPDATE tenant_1003._sqlx_migrations SET success = true")
        .execute(&ctx.pool)
        .await
        .unwrap();

    assert_eq!(
        advisory_locks_after_settling(ctx).await,
        0,
        "the failed migration's connection still holds the migration lock"
    );
    provisioning_still_works(ctx, &["Initech"]).await;
}

/// A provisioning request cancelled while it waits for the migration lock (a client that gives
/// up, a proxy timeout) does not leave the lock held once its abandoned query is granted it.
/// (Another connection holds sqlx's migrator lock to make the provisioning wait; should the
/// product take a different lock, the provisioning completes instead and the checks still hold.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_provisioning_releases_the_migration_lock() {
    let db = seeded_db().await;
    let ctx = &db.ctx;
    let mut other = PgConnection::connect_with(&db.options).await.unwrap();
    other.lock().await.unwrap();
    let _ = tokio::time::timeout(
        Duration::from_millis(700),
        provision_tenant(ctx, &Actor::system(), new_tenant("Cancelled")),
    )
    .await;
    other.unlock().await.unwrap();
    other.close().await.unwrap();

    assert_eq!(
        advisory_locks_after_settling(ctx).await,
        0,
        "an idle pooled connection still holds the migration lock"
    );
    provisioning_still_works(ctx, &["Initech", "Hooli", "Umbrella"]).await;
}
