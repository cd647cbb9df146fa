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

/// An install migrated before the tenant migrations named their constraints (same names as
/// PostgreSQL had generated) migrates again without error and records the new checksums; a
/// migration changed in any other way is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_from_before_the_constraints_were_named_migrates_again() {
    let ctx = seeded_ctx().await;
    let pool = &ctx.pool;
    for (version, before) in domain::db::CONSTRAINTS_NAMED {
        sqlx::query(
            "UPDATE tenant_1003._sqlx_migrations SET checksum = decode($1, 'hex') WHERE version = $2",
        )
        .bind(before)
        .bind(version)
        .execute(pool)
        .await
        .unwrap();
    }

    migrate(pool)
        .await
        .expect("migrating an install from before");
    assert_eq!(
        applied(pool, "tenant_1003._sqlx_migrations").await,
        expected(&TENANT_MIGRATOR)
    );

    sqlx::query("UPDATE tenant_1004._sqlx_migrations SET checksum = '\\x00' WHERE version = 5")
        .execute(pool)
        .await
        .unwrap();
    let refused = migrate(pool)
        .await
        .expect_err("a migration changed otherwise");
    assert!(
        format!("{refused:?}").contains("5"),
        "the refusal names the migration: {refused:?}"
    );
}

/// Each tenant schema stands alone, as Citus's schema-based sharding needs: no foreign key, view,
/// default or trigger refers to a table or sequence of another schema, the only functions outside
/// it they call are the audit chain's, which read no table, and the tenant's role may not read or
/// write any table outside its schema, so no statement run as a tenant can join `public` or
/// another tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_schemas_refer_to_nothing_outside_themselves() {
    let ctx = seeded_ctx().await;
    let pool = &ctx.pool;
    let schemas = tenant_schema_names(pool).await;
    assert_eq!(schemas.len(), 3);
    for schema in &schemas {
        // What each object of the schema depends on, from pg_depend, by the kind of object.
        let outside: Vec<String> = sqlx::query_scalar(
            "WITH own(classid, objid) AS ( \
                 SELECT 'pg_class'::regclass, oid FROM pg_class WHERE relnamespace = $1::regnamespace \
                 UNION ALL SELECT 'pg_constraint'::regclass, oid FROM pg_constraint \
                     WHERE connamespace = $1::regnamespace \
                 UNION ALL SELECT 'pg_attrdef'::regclass, d.oid FROM pg_attrdef d \
                     JOIN pg_class c ON c.oid = d.adrelid WHERE c.relnamespace = $1::regnamespace \
                 UNION ALL SELECT 'pg_rewrite'::regclass, r.oid FROM pg_rewrite r \
                     JOIN pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = $1::regnamespace \
                 UNION ALL SELECT 'pg_trigger'::regclass, t.oid FROM pg_trigger t \
                     JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = $1::regnamespace \
                 UNION ALL SELECT 'pg_proc'::regclass, oid FROM pg_proc WHERE pronamespace = $1::regnamespace \
             ), referred(what, namespace) AS ( \
                 SELECT d.refobjid::regclass::text, c.relnamespace FROM own o \
                     JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid \
                     JOIN pg_class c ON d.refclassid = 'pg_class'::regclass AND c.oid = d.refobjid \
                 UNION ALL SELECT p.oid::regprocedure::text, p.pronamespace FROM own o \
                     JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid \
                     JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid \
                 UNION ALL SELECT t.oid::regtype::text, t.typnamespace FROM own o \
                     JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid \
                     JOIN pg_type t ON d.refclassid = 'pg_type'::regclass AND t.oid = d.refobjid \
             ) \
             SELECT DISTINCT what FROM referred \
             WHERE namespace NOT IN ($1::regnamespace, 'pg_catalog'::regnamespace) ORDER BY 1",
        )
        .bind(schema)
        .fetch_all(pool)
        .await
        .unwrap();
        // The audit log's trigger noting the chain for the commit-time lock; it reads no table.
        let outside: Vec<&String> = outside
            .iter()
            .filter(|what| what.as_str() != "audit_chain_note()")
            .collect();
        assert_eq!(outside, Vec::<&String>::new(), "{schema} refers to these");

        let reachable: Vec<String> = sqlx::query_scalar(
            "SELECT c.oid::regclass::text FROM pg_class c \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
             AND c.relnamespace NOT IN ($1::regnamespace, 'pg_catalog'::regnamespace, \
                                        'information_schema'::regnamespace) \
             AND has_table_privilege(current_database() || '_' || $1, c.oid, \
                                     'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES')",
        )
        .bind(schema)
        .fetch_all(pool)
        .await
        .unwrap();
        assert_eq!(
            reachable,
            Vec::<String>::new(),
            "{schema}'s role reaches tables outside its schema"
        );
    }
}
