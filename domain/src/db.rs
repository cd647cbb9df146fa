//! Connections, migrations and the one way into a tenant's schema.

use std::ops::{Deref, DerefMut};
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::error::{AppError, AppResult};

pub static PUBLIC_MIGRATOR: Migrator = sqlx::migrate!("../migrations/public");

/// The tenant migrations, without sqlx's own lock: that is a session-level advisory lock, and
/// inside our transactions a failure or a cancelled request would return it to the pool still
/// held. `migrate_tenant` takes a transaction-level lock instead.
pub static TENANT_MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("../migrations/tenant");
    migrator.set_locking(false);
    migrator
});

/// Opens the pool. Every new connection starts with `public` only on its search path, so a query
/// that forgot its tenant finds no tenant table instead of someone else's. Connections are recycled
/// because one backend that touched many tenant schemas keeps their catalog entries cached.
pub async fn connect(options: PgConnectOptions, max_connections: u32) -> AppResult<PgPool> {
    let options = options.options([("search_path", "public")]);
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        // Long enough for a burst of requests to queue, short enough that a database that
        // went away is answered 503 soon (the server's watch then answers 503 at once).
        .acquire_timeout(Duration::from_secs(5))
        .max_lifetime(Duration::from_secs(30 * 60))
        // sqlx pings every connection it hands out (a round trip before each query or
        // transaction) and again when it is given back. The second ping already drops broken
        // connections; the first only catches one that broke while idle (PostgreSQL
        // restarted), whose next statement then fails instead.
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    let superuser: bool = sqlx::query_scalar(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&pool)
    .await?;
    if superuser {
        return Err(AppError::Internal(anyhow::anyhow!(
            "refusing to run as a PostgreSQL superuser or BYPASSRLS role: connect as an ordinary role"
        )));
    }
    let can_create_roles: bool =
        sqlx::query_scalar("SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&pool)
            .await?;
    if !can_create_roles {
        return Err(AppError::Internal(anyhow::anyhow!(
            "the database role needs CREATEROLE: every tenant gets a PostgreSQL role of its own \
             (ALTER ROLE <role> CREATEROLE)"
        )));
    }
    Ok(pool)
}

/// Brings `public` and then every tenant schema up to date.
pub async fn migrate(pool: &PgPool) -> AppResult<()> {
    PUBLIC_MIGRATOR.run(pool).await?;
    let schemas: Vec<String> =
        sqlx::query_scalar("SELECT schema_name FROM public.tenants ORDER BY id")
            .fetch_all(pool)
            .await?;
    for schema in schemas {
        let schema = TenantSchema::parse(&schema)?;
        let mut tx = TenantTx::begin(pool, &schema).await?;
        migrate_tenant(&mut tx, &schema).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Applies the tenant migrations to `schema`; the transaction must already be in it
/// (`enter_schema`). Serialised per schema by a lock that ends with the transaction.
pub async fn migrate_tenant(conn: &mut PgConnection, schema: &TenantSchema) -> AppResult<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('execgov:migrate:' || current_database() || ':' || $1, 0))",
    )
    .bind(schema.as_str())
    .execute(&mut *conn)
    .await?;
    accept_renamed_constraints(&mut *conn).await?;
    // `run_direct` is sqlx's entry point for a connection we already hold (a transaction);
    // `run` would need an `Acquire` that is not Send across our futures.
    TENANT_MIGRATOR.run_direct(conn).await?;
    Ok(())
}

/// Tenant migrations whose text changed after they were applied, and their checksums before.
/// They now name the constraints they add to existing tables, which Citus requires, with the
/// very names PostgreSQL had generated: a schema migrated with the old text is identical to one
/// migrated with the new, so its record is updated instead of refusing the changed migration.
pub const CONSTRAINTS_NAMED: [(i64, &str); 7] = [
    (2, "969898df71ae650fd3e0b9febb9c22d2d60af7f01d82fd533706fc544fa6045e7af2695977e3176b6f8f6849f0bf8d41"),
    (5, "72cae8e43aae906b3a9d828e6977eb9165adcdf17de9aa185674914a140e551f08664cf6f6e3d28eb56af2a73f9820f4"),
    (9, "a2c5264b3dc1b399ac35817bbcb191ad5dbe017301ededfc0ffef0ff936a82834fbd2f708d85e203907c30bad0a26b2a"),
    (11, "a226458d6517629ce34c5061d2d3eb37bd69184f4e9d8404c669cff1791ce57d25302cea4f35d2ed6255ccc71ad639f8"),
    (13, "703d66573942d74e33627dd5412e50a717a7c866fc8b581f0a63fb6e0e2ff14372055f86cbca27034a2a01edec195189"),
    (14, "73b89a882ef8a9a1fd171f8a72c6b29328441f65005bbe7ea425e01ec577cbb4e803f588ab7f822037936502de8ed073"),
    (15, "05db77b4a46cda8547300d22662b465ae97927888288aabc2b5c030a2760fc5a2dae2bf4f9125686f64cfa4873a7ccbd"),
];

async fn accept_renamed_constraints(conn: &mut PgConnection) -> AppResult<()> {
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !migrated {
        return Ok(());
    }
    // One statement for them all: this runs for every tenant at every start.
    let (mut versions, mut before, mut now) = (Vec::new(), Vec::new(), Vec::new());
    for (version, old) in CONSTRAINTS_NAMED {
        if let Some(migration) = TENANT_MIGRATOR.iter().find(|m| m.version == version) {
            versions.push(version);
            before.push(old);
            now.push(migration.checksum.to_vec());
        }
    }
    sqlx::query(
        "UPDATE _sqlx_migrations m SET checksum = c.now \
         FROM unnest($1::bigint[], $2::text[], $3::bytea[]) AS c(version, before, now) \
         WHERE m.version = c.version AND m.checksum = decode(c.before, 'hex')",
    )
    .bind(&versions)
    .bind(&before)
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A tenant schema name that came from `public.tenants` and matches `^tenant_[0-9]{4,}$`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantSchema(String);

impl TenantSchema {
    pub fn parse(name: &str) -> AppResult<TenantSchema> {
        let digits = name.strip_prefix("tenant_").unwrap_or("");
        if digits.len() >= 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(TenantSchema(name.to_string()))
        } else {
            Err(AppError::Internal(anyhow::anyhow!(
                "invalid tenant schema name {name:?}"
            )))
        }
    }

    pub fn for_number(number: i64) -> AppResult<TenantSchema> {
        TenantSchema::parse(&format!("tenant_{number}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A transaction whose search path is one tenant's schema, for this transaction only
/// (`set_config(…, true)`): the pooled connection forgets it at commit or rollback.
/// All tenant SQL goes through this.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
}

impl TenantTx {
    pub async fn begin(pool: &PgPool, schema: &TenantSchema) -> AppResult<TenantTx> {
        let mut tx = pool.begin().await?;
        enter_schema(&mut tx, schema).await?;
        Ok(TenantTx { tx })
    }

    pub async fn commit(self) -> AppResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// The tenant's own PostgreSQL role, computed in SQL from `$1` (the schema name): one role per
/// tenant and database, so test databases in one cluster never share roles.
const TENANT_ROLE_SQL: &str = "current_database() || '_' || $1";

/// Points the current transaction at `schema` and acts as the tenant's own role until it ends.
/// The role owns only its schema, so a query that strays into another tenant's schema (or into
/// `public`'s tables) is refused by PostgreSQL itself.
pub async fn enter_schema(conn: &mut PgConnection, schema: &TenantSchema) -> AppResult<()> {
    sqlx::query(&format!(
        "SELECT set_config('search_path', $1, true), set_config('role', {TENANT_ROLE_SQL}, true)"
    ))
    .bind(schema.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Returns the current transaction from a tenant's schema and role to the application's, for
/// the platform-side part of a change (e.g. the cross-tenant dispatch queue) in the same
/// transaction. Like `enter_schema`, it lasts until the transaction ends.
pub async fn leave_schema(conn: &mut PgConnection) -> AppResult<()> {
    sqlx::query(
        "SELECT set_config('role', 'none', true), set_config('search_path', 'public', true)",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Creates a tenant's role and its schema owned by that role. The application's role (which
/// needs CREATEROLE) becomes a member so `enter_schema` can switch to it. Role creation is
/// transactional in PostgreSQL: a rollback leaves no role behind.
pub async fn create_schema(conn: &mut PgConnection, schema: &TenantSchema) -> AppResult<()> {
    let role: String = sqlx::query_scalar(&format!("SELECT {TENANT_ROLE_SQL}"))
        .bind(schema.as_str())
        .fetch_one(&mut *conn)
        .await?;
    if role.len() > 63 {
        return Err(AppError::Internal(anyhow::anyhow!(
            "the database name is too long to name tenant roles ({role})"
        )));
    }
    let role = quote_ident(&role);
    for statement in [
        format!("CREATE ROLE {role} NOLOGIN"),
        format!("GRANT {role} TO CURRENT_USER"),
        // The schema name is validated by TenantSchema; identifiers cannot be bound as parameters.
        format!("CREATE SCHEMA \"{}\" AUTHORIZATION {role}", schema.as_str()),
    ] {
        sqlx::query(&statement).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removes a tenant's schema (with everything in it) and its role: provisioning undoing its
/// committed first step after the second failed.
pub async fn drop_schema(pool: &PgPool, schema: &TenantSchema) -> AppResult<()> {
    let mut tx = pool.begin().await?;
    let role: String = sqlx::query_scalar(&format!("SELECT {TENANT_ROLE_SQL}"))
        .bind(schema.as_str())
        .fetch_one(&mut *tx)
        .await?;
    let role = quote_ident(&role);
    for statement in [
        format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", schema.as_str()),
        format!("DROP ROLE IF EXISTS {role}"),
    ] {
        sqlx::query(&statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Deref for TenantTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tenant_schema_names_pass() {
        assert!(TenantSchema::parse("tenant_1003").is_ok());
        assert!(TenantSchema::parse("tenant_123456").is_ok());
        for bad in [
            "public",
            "tenant_12",
            "tenant_1003; drop",
            "Tenant_1003",
            "tenant_10a3",
        ] {
            assert!(TenantSchema::parse(bad).is_err(), "{bad}");
        }
    }
}
