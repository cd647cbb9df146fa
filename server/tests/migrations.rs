//! Upgrading an existing install: migrations reach `public` and every tenant schema, running them
//! again changes nothing, and re-seeding creates nothing new.

mod common;

use common::*;
use domain::db::{migrate, TenantSchema, TenantTx, PUBLIC_MIGRATOR, TENANT_MIGRATOR};
use sqlx::PgPool;

/// (version, checksum) of every applied migration in `table`.
async fn applied(pool: &PgPool, table: &str) -> Vec<(i64, Vec<u8>)> {
    sqlx::query_as(&format!(
        "SELECT version, checksum FROM {table} WHERE success ORDER BY version"
    ))
    .fetch_all(pool)
    .await
    .unwrap_or_else(|e| panic!("{table}: {e}"))
}

fn expected(migrator: &sqlx::migrate::Migrator) -> Vec<(i64, Vec<u8>)> {
    migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, m.checksum.to_vec()))
        .collect()
}

async fn tenant_schema_names(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT schema_name FROM public.tenants ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Running the migrations again on a seeded install is a no-op without error; afterwards
/// `public` and every tenant schema have their own `_sqlx_migrations` with exactly the
/// migrations of their migrator applied, and the data is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_twice_is_idempotent_and_reaches_every_tenant() {
    let ctx = seeded_ctx().await;
    let pool = &ctx.pool;
    let before = footprint(&ctx).await;
    let acme_users = usernames_in(&ctx, "tenant_1003").await;

    migrate(pool).await.expect("second migration run");
    migrate(pool).await.expect("third migration run");

    assert_eq!(footprint(&ctx).await, before);
    assert_eq!(usernames_in(&ctx, "tenant_1003").await, acme_users);
    assert_eq!(
        applied(pool, "public._sqlx_migrations").await,
        expected(&PUBLIC_MIGRATOR)
    );
    let schemas = tenant_schema_names(pool).await;
    assert_eq!(schemas.len(), 3);
    let want = expected(&TENANT_MIGRATOR);
    assert_eq!(want.len(), TENANT_MIGRATOR.iter().count());
    for schema in &schemas {
        assert_eq!(
            applied(pool, &format!("{schema}._sqlx_migrations")).await,
            want,
            "{schema}"
        );
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = $1 ORDER BY table_name",
        )
        .bind(schema)
        .fetch_all(pool)
        .await
        .unwrap();
        for table in ["audit_log", "login_log", "sessions", "users"] {
            assert!(tables.contains(&table.to_string()), "{schema}.{table}");
        }
    }
    // No tenant table ever landed in `public`.
    let in_public: i64 = count(
        &ctx,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_name IN ('users', 'sessions', 'login_log', 'audit_log')",
    )
    .await;
    assert_eq!(in_public, 0);
}

/// A tenant that exists in `public.tenants` but predates the tenant migrations (its schema is
/// empty) gets every tenant migration on the next `migrate`, and works afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_brings_a_tenant_without_tables_up_to_date() {
    let ctx = seeded_ctx().await;
    let pool = &ctx.pool;
    let legacy = TenantSchema::for_number(1099).unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO public.tenants (id, name, schema_name, edition) \
         VALUES (1099, 'Legacy', 'tenant_1099', 'shared_saas')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    domain::db::create_schema(&mut tx, &legacy).await.unwrap();
    tx.commit().await.unwrap();
    let tables: i64 = count(
        &ctx,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'tenant_1099'",
    )
    .await;
    assert_eq!(tables, 0, "the legacy tenant starts without tables");

    migrate(pool).await.expect("migrating with a legacy tenant");

    assert_eq!(
        applied(pool, "tenant_1099._sqlx_migrations").await,
        expected(&TENANT_MIGRATOR)
    );
    let mut tx = TenantTx::begin(pool, &legacy).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(users, 0);
    tx.commit().await.unwrap();
    // The other tenants kept their data.
    assert_eq!(
        usernames_in(&ctx, "tenant_1004").await,
        vec!["globex-admin", "globex-user"]
    );
}

/// Seeding an already seeded install creates no account and changes no count: tenants,
/// schemas, bindings, platform users, each tenant's users, whitelist and audit logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_again_creates_nothing() {
    let ctx = seeded_ctx().await;
    let snapshot = |ctx: domain::Ctx| async move {
        let mut counts = vec![
            count(&ctx, "SELECT count(*) FROM public.platform_audit").await,
            count(&ctx, "SELECT count(*) FROM public.cross_tenant_whitelist").await,
            count(&ctx, "SELECT count(*) FROM public.platform_sessions").await,
        ];
        for schema in tenant_schema_names(&ctx.pool).await {
            for table in ["users", "audit_log", "sessions", "login_log"] {
                counts.push(count(&ctx, &format!("SELECT count(*) FROM {schema}.{table}")).await);
            }
        }
        (footprint(&ctx).await, counts)
    };
    let before = snapshot(ctx.clone()).await;

    let created = domain::seed::seed_demo(&ctx, Some(PASSWORD))
        .await
        .expect("seeding again");
    assert!(
        created.is_empty(),
        "no new accounts: {:?}",
        created.iter().map(|a| a.username).collect::<Vec<_>>()
    );
    // Without a fixed password too (it would generate new ones for anything it created).
    let created = domain::seed::seed_demo(&ctx, None).await.unwrap();
    assert!(created.is_empty());

    assert_eq!(snapshot(ctx.clone()).await, before);
    // The seeded passwords were not changed.
    let server = start_server(ctx).await;
    server.login("acme.localhost", "acme-admin", PASSWORD).await;
    server
        .login("admin.localhost", "superadmin", PASSWORD)
        .await;
}
