//! Defense in depth: inside a `TenantTx`, PostgreSQL itself refuses anything but the tenant's
//! own schema, even when a query names another schema explicitly.
mod common;

use common::*;
use domain::db::{TenantSchema, TenantTx};

/// A tenant transaction cannot read another tenant's tables or the platform's, by any name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_transaction_is_refused_outside_its_schema() {
    let ctx = seeded_ctx().await;
    let acme = TenantSchema::parse("tenant_1003").unwrap();
    for foreign in [
        "SELECT count(*) FROM tenant_1004.users",
        "SELECT count(*) FROM tenant_1004.audit_log",
        "SELECT count(*) FROM public.platform_users",
        "SELECT count(*) FROM public.tenants",
        "INSERT INTO tenant_1004.users (username, password_hash, role) VALUES ('x', 'x', 'admin')",
    ] {
        let mut tx = TenantTx::begin(&ctx.pool, &acme).await.unwrap();
        let err = sqlx::query(foreign)
            .execute(&mut *tx)
            .await
            .expect_err(foreign);
        assert!(
            err.to_string().contains("permission denied"),
            "{foreign}: {err}"
        );
    }
    // Its own tables work.
    let mut tx = TenantTx::begin(&ctx.pool, &acme).await.unwrap();
    let own: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(own, 2);
}

/// The role switch is transaction-local: after commit the connection is the application's again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_role_ends_with_the_transaction() {
    let db = seeded_db().await;
    let single = domain::db::connect(db.options, 1).await.unwrap();
    let acme = TenantSchema::parse("tenant_1003").unwrap();
    let tx = TenantTx::begin(&single, &acme).await.unwrap();
    tx.commit().await.unwrap();
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&single)
        .await
        .unwrap();
    assert_eq!(role, "execgov");
    let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM public.tenants")
        .fetch_one(&single)
        .await
        .unwrap();
    assert_eq!(tenants, 3);
}
