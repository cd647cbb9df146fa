//! Tenants, host bindings and provisioning. The Host decides the surface and the tenant.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use model::{CrossTenantLink, Surface, TenantDetail, TenantSummary};
use serde_json::json;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};

use crate::accounts::{self, hash_password};
use crate::audit::{self, AuditLog, Event};
use crate::db::{create_schema, drop_schema, enter_schema, migrate_tenant, TenantSchema, TenantTx};
use crate::{Actor, AppError, AppResult, Ctx};

/// The channel that tells every server process that bindings or tenant status changed.
const BINDINGS_CHANNEL: &str = "execgov_host_bindings";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edition {
    SharedSaas,
    Free,
}

impl Edition {
    fn as_str(self) -> &'static str {
        match self {
            Edition::SharedSaas => "shared_saas",
            Edition::Free => "free",
        }
    }
}

/// A tenant as the request layer knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: i64,
    pub name: String,
    pub schema: TenantSchema,
    pub edition: String,
    pub active: bool,
}

/// What a Host is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub host: String,
    pub surface: Surface,
    pub tenant: Option<Tenant>,
}

/// Host → binding, cached. Only hits are cached, so random Hosts cannot grow it;
/// any change to bindings or tenant status clears it (locally and via NOTIFY elsewhere).
#[derive(Clone, Default)]
pub struct HostDirectory {
    cache: Arc<RwLock<HostCache>>,
}

#[derive(Default)]
struct HostCache {
    /// Bumped by every clear: a lookup that read the database before a clear must not store
    /// what it read after it.
    generation: u64,
    bindings: HashMap<String, Binding>,
}

impl HostDirectory {
    /// The cached binding, or the cache's generation to hand back to `store`.
    fn lookup(&self, host: &str) -> Result<Binding, u64> {
        let cache = self.cache.read().expect("host cache poisoned");
        cache.bindings.get(host).cloned().ok_or(cache.generation)
    }

    /// Caches what a lookup read, unless the cache was cleared since (`generation` is stale).
    fn store(&self, generation: u64, host: String, binding: Binding) {
        let mut cache = self.cache.write().expect("host cache poisoned");
        if cache.generation == generation {
            cache.bindings.insert(host, binding);
        }
    }

    pub fn invalidate(&self) {
        let mut cache = self.cache.write().expect("host cache poisoned");
        cache.generation += 1;
        cache.bindings.clear();
    }

    /// Clears the cache whenever another process announces a change. Runs until the pool closes.
    pub async fn follow_changes(&self, pool: &PgPool) -> AppResult<()> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(BINDINGS_CHANNEL).await?;
        let hosts = self.clone();
        let pool = pool.clone();
        tokio::spawn(async move {
            while !pool.is_closed() {
                if let Err(err) = listener.try_recv().await {
                    if pool.is_closed() {
                        break;
                    }
                    tracing::warn!(%err, "host binding listener failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                // A notification, or a reconnect that may have hidden one: forget everything.
                hosts.invalidate();
            }
        });
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct BindingRow {
    host: String,
    kind: String,
    tenant_id: Option<i64>,
    name: Option<String>,
    schema_name: Option<String>,
    edition: Option<String>,
    status: Option<String>,
}

/// Resolves a raw Host header (any case, with or without port). `None`: not bound.
pub async fn resolve_host(ctx: &Ctx, raw_host: &str) -> AppResult<Option<Binding>> {
    let Some(host) = model::normalize_host(raw_host) else {
        return Ok(None);
    };
    let generation = match ctx.hosts.lookup(&host) {
        Ok(hit) => return Ok(Some(hit)),
        Err(generation) => generation,
    };
    let row: Option<BindingRow> = sqlx::query_as(
        "SELECT b.host, b.kind, t.id AS tenant_id, t.name, t.schema_name, t.edition, t.status \
         FROM public.host_bindings b LEFT JOIN public.tenants t ON t.id = b.tenant_id \
         WHERE b.host = $1",
    )
    .bind(&host)
    .fetch_optional(&ctx.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let surface = Surface::parse(&row.kind)
        .ok_or_else(|| anyhow::anyhow!("unknown binding kind {:?}", row.kind))?;
    let tenant = match (
        row.tenant_id,
        row.name,
        row.schema_name,
        row.edition,
        row.status,
    ) {
        (Some(id), Some(name), Some(schema), Some(edition), Some(status)) => Some(Tenant {
            id,
            name,
            schema: TenantSchema::parse(&schema)?,
            edition,
            active: status == "active",
        }),
        _ => None,
    };
    let binding = Binding {
        host: row.host,
        surface,
        tenant,
    };
    ctx.hosts.store(generation, host, binding.clone());
    Ok(Some(binding))
}

async fn announce_binding_change(conn: &mut PgConnection) -> AppResult<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(BINDINGS_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

/// What the "new tenant" form asks for.
#[derive(Clone, Debug)]
pub struct NewTenant {
    pub name: String,
    pub host: String,
    pub admin_username: String,
    pub admin_password: String,
}

/// Creates a shared-SaaS tenant: its number, schema and tables, host binding, initial admin and
/// audit entries. Any failure leaves nothing behind (see `create_tenant`).
pub async fn provision_tenant(ctx: &Ctx, actor: &Actor, input: NewTenant) -> AppResult<Tenant> {
    let target = input.name.trim().to_string();
    let result = checked_provision(ctx, actor, input).await;
    // Refused input leaves a trace too: who tried to create what, and why it was refused.
    if let Err(err) = &result {
        record_platform_failure(ctx, actor, "tenant.create", &target, err).await;
    }
    result
}

async fn checked_provision(ctx: &Ctx, actor: &Actor, input: NewTenant) -> AppResult<Tenant> {
    let name = model::validate_tenant_name(&input.name).map_err(AppError::Invalid)?;
    let host = model::normalize_host(&input.host).ok_or_else(|| {
        AppError::Invalid(format!(
            "{:?} is not a valid host name (letters, digits, '-' and '.', e.g. initech.localhost).",
            input.host.trim()
        ))
    })?;
    let admin = model::validate_username(&input.admin_username).map_err(AppError::Invalid)?;
    model::validate_password(&input.admin_password, &admin).map_err(AppError::Invalid)?;
    let hash = hash_password(input.admin_password).await?;
    create_tenant(
        ctx,
        actor,
        TenantPlan {
            number: None,
            name: &name,
            edition: Edition::SharedSaas,
            host: &host,
            surface: Surface::TenantFront,
            admin: Some((&admin, &hash)),
        },
    )
    .await
}

/// Creates the free edition's shared personal space (`tenant_1002`) bound to `host`.
pub async fn provision_free_edition(ctx: &Ctx, actor: &Actor, host: &str) -> AppResult<Tenant> {
    create_tenant(
        ctx,
        actor,
        TenantPlan {
            number: Some(1002),
            name: "Free edition",
            edition: Edition::Free,
            host,
            surface: Surface::FreeConsole,
            admin: None,
        },
    )
    .await
}

struct TenantPlan<'a> {
    /// `None`: the next shared-SaaS number (1003 up).
    number: Option<i64>,
    name: &'a str,
    edition: Edition,
    host: &'a str,
    surface: Surface,
    admin: Option<(&'a str, &'a str)>,
}

/// Provisioning takes two steps. The first commits the tenant's number, role and schema on their
/// own: Citus (schema-based sharding) opens connections to its workers as the new role and into
/// the new schema, which it can only do once they are committed. The second creates everything
/// else in one transaction; if it fails, the first step is undone, so nothing is left.
async fn create_tenant(ctx: &Ctx, actor: &Actor, plan: TenantPlan<'_>) -> AppResult<Tenant> {
    let (number, schema) = create_role_and_schema(ctx, &plan).await?;
    let mut undo = UndoFirstStep(Some((ctx.pool.clone(), schema.clone())));
    let created = fill_tenant(ctx, actor, &plan, number, &schema).await;
    let (pool, schema) = undo.0.take().expect("armed above");
    if created.is_err() {
        undo_first_step(pool, schema).await;
    }
    created
}

/// Undoes the first step if the second is dropped midway (a client that went away cancels its
/// request's future), where no `.await` can run any more.
struct UndoFirstStep(Option<(PgPool, TenantSchema)>);

impl Drop for UndoFirstStep {
    fn drop(&mut self) {
        if let Some((pool, schema)) = self.0.take() {
            tokio::spawn(undo_first_step(pool, schema));
        }
    }
}

async fn undo_first_step(pool: PgPool, schema: TenantSchema) {
    if let Err(err) = drop_schema(&pool, &schema).await {
        tracing::error!(%err, schema = schema.as_str(), "removing a half-provisioned tenant's schema and role failed");
    }
}

async fn create_role_and_schema(
    ctx: &Ctx,
    plan: &TenantPlan<'_>,
) -> AppResult<(i64, TenantSchema)> {
    let mut tx = ctx.pool.begin().await?;
    // Checked here too so that a taken name or host creates nothing at all.
    ensure_name_and_host_free(&mut tx, plan.name, plan.host).await?;
    let number: i64 = match plan.number {
        Some(n) => n,
        None => {
            sqlx::query_scalar("SELECT nextval('public.tenant_number_seq')")
                .fetch_one(&mut *tx)
                .await?
        }
    };
    let schema = TenantSchema::for_number(number)?;
    create_schema(&mut tx, &schema).await?;
    tx.commit().await?;
    Ok((number, schema))
}

async fn fill_tenant(
    ctx: &Ctx,
    actor: &Actor,
    plan: &TenantPlan<'_>,
    number: i64,
    schema: &TenantSchema,
) -> AppResult<Tenant> {
    let mut tx = ctx.pool.begin().await?;
    ensure_name_and_host_free(&mut tx, plan.name, plan.host).await?;
    sqlx::query(
        "INSERT INTO public.tenants (id, name, schema_name, edition) VALUES ($1, $2, $3, $4)",
    )
    .bind(number)
    .bind(plan.name)
    .bind(schema.as_str())
    .bind(plan.edition.as_str())
    .execute(&mut *tx)
    .await
    .map_err(AppError::from_db)?;
    bind_host_in(&mut tx, plan.host, plan.surface, Some(number)).await?;
    audit::record(
        &mut tx,
        AuditLog::Platform,
        actor,
        Event {
            action: "tenant.create",
            target: plan.name,
            detail: json!({
                "tenant_id": number,
                "schema": schema.as_str(),
                "host": plan.host,
                "initial_admin": plan.admin.map(|(u, _)| u),
            }),
            result: "ok",
        },
    )
    .await?;

    // From here on the transaction acts as the tenant's own role, in the tenant's schema.
    enter_schema(&mut tx, schema).await?;
    migrate_tenant(&mut tx, schema).await?;
    fail::fail_point!("provision::after_migrations", |_| Err(AppError::Internal(
        anyhow::anyhow!("failpoint provision::after_migrations")
    )));
    if let Some((username, hash)) = plan.admin {
        accounts::insert_tenant_user(&mut tx, username, hash, model::TenantRole::Admin).await?;
        audit::record(
            &mut tx,
            AuditLog::Tenant,
            actor,
            Event {
                action: "user.create",
                target: username,
                detail: json!({ "role": "admin", "initial_admin": true }),
                result: "ok",
            },
        )
        .await?;
    }
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "tenant.create",
            target: plan.name,
            detail: json!({ "schema": schema.as_str(), "host": plan.host }),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        tenant = plan.name,
        schema = schema.as_str(),
        host = plan.host,
        "tenant created"
    );
    Ok(Tenant {
        id: number,
        name: plan.name.to_string(),
        schema: schema.clone(),
        edition: plan.edition.as_str().to_string(),
        active: true,
    })
}

async fn ensure_name_and_host_free(
    conn: &mut PgConnection,
    name: &str,
    host: &str,
) -> AppResult<()> {
    let name_taken: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM public.tenants WHERE lower(name) = lower($1))",
    )
    .bind(name)
    .fetch_one(&mut *conn)
    .await?;
    if name_taken {
        return Err(AppError::Conflict(format!(
            "A tenant named {name:?} already exists."
        )));
    }
    let host_taken: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.host_bindings WHERE host = $1)")
            .bind(host)
            .fetch_one(&mut *conn)
            .await?;
    if host_taken {
        return Err(AppError::Conflict(format!(
            "The host {host} is already bound."
        )));
    }
    Ok(())
}

async fn bind_host_in(
    conn: &mut PgConnection,
    host: &str,
    surface: Surface,
    tenant_id: Option<i64>,
) -> AppResult<()> {
    sqlx::query("INSERT INTO public.host_bindings (host, kind, tenant_id) VALUES ($1, $2, $3)")
        .bind(host)
        .bind(surface.as_str())
        .bind(tenant_id)
        .execute(&mut *conn)
        .await
        .map_err(AppError::from_db)?;
    announce_binding_change(conn).await
}

/// Binds a host to a surface that has no tenant (public console, experience page).
pub async fn bind_platform_host(
    ctx: &Ctx,
    actor: &Actor,
    host: &str,
    surface: Surface,
) -> AppResult<()> {
    let host = model::normalize_host(host)
        .ok_or_else(|| AppError::Invalid(format!("{host:?} is not a valid host name.")))?;
    let mut tx = ctx.pool.begin().await?;
    bind_host_in(&mut tx, &host, surface, None).await?;
    audit::record(
        &mut tx,
        AuditLog::Platform,
        actor,
        Event {
            action: "host.bind",
            target: &host,
            detail: json!({ "surface": surface.as_str() }),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    ctx.hosts.invalidate();
    Ok(())
}

/// A failed platform change still leaves a trace, written on its own after the rollback.
async fn record_platform_failure(
    ctx: &Ctx,
    actor: &Actor,
    action: &str,
    target: &str,
    err: &AppError,
) {
    let outcome = async {
        let mut conn = ctx.pool.acquire().await?;
        audit::record(
            &mut conn,
            AuditLog::Platform,
            actor,
            Event {
                action,
                target,
                detail: json!({ "error": err.to_user_error().message }),
                result: "failed",
            },
        )
        .await
    }
    .await;
    if let Err(e) = outcome {
        tracing::error!(error = %e, "could not record a failed {action}");
    }
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: i64,
    name: String,
    schema_name: String,
    edition: String,
    status: String,
    hosts: Vec<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<TenantRow> for TenantSummary {
    fn from(r: TenantRow) -> Self {
        TenantSummary {
            id: r.id,
            name: r.name,
            schema_name: r.schema_name,
            edition: r.edition,
            status: r.status,
            hosts: r.hosts,
            created_at: r.created_at,
        }
    }
}

const TENANT_SELECT: &str =
    "SELECT t.id, t.name, t.schema_name, t.edition, t.status, t.created_at, \
     COALESCE(array_agg(b.host ORDER BY b.host) FILTER (WHERE b.host IS NOT NULL), '{}') AS hosts \
     FROM public.tenants t LEFT JOIN public.host_bindings b ON b.tenant_id = t.id";

pub async fn list_tenants(ctx: &Ctx) -> AppResult<Vec<TenantSummary>> {
    let rows: Vec<TenantRow> =
        sqlx::query_as(&format!("{TENANT_SELECT} GROUP BY t.id ORDER BY t.id"))
            .fetch_all(&ctx.pool)
            .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn tenant_detail(ctx: &Ctx, tenant_id: i64) -> AppResult<TenantDetail> {
    let row: TenantRow = sqlx::query_as(&format!("{TENANT_SELECT} WHERE t.id = $1 GROUP BY t.id"))
        .bind(tenant_id)
        .fetch_optional(&ctx.pool)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no tenant {tenant_id}.")))?;
    let schema = TenantSchema::parse(&row.schema_name)?;
    let mut tx = TenantTx::begin(&ctx.pool, &schema).await?;
    let user_count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *tx)
        .await?;
    let admins: Vec<String> =
        sqlx::query_scalar("SELECT username FROM users WHERE role = 'admin' ORDER BY username")
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(TenantDetail {
        tenant: row.into(),
        user_count,
        admins,
    })
}

/// Enables or disables a tenant. A disabled tenant's hosts show a suspended page and refuse logins.
pub async fn set_tenant_active(
    ctx: &Ctx,
    actor: &Actor,
    tenant_id: i64,
    active: bool,
) -> AppResult<()> {
    let status = if active { "active" } else { "disabled" };
    let mut tx = ctx.pool.begin().await?;
    let name: String =
        sqlx::query_scalar("UPDATE public.tenants SET status = $2 WHERE id = $1 RETURNING name")
            .bind(tenant_id)
            .bind(status)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("There is no tenant {tenant_id}.")))?;
    audit::record(
        &mut tx,
        AuditLog::Platform,
        actor,
        Event {
            action: if active {
                "tenant.enable"
            } else {
                "tenant.disable"
            },
            target: &name,
            detail: json!({ "tenant_id": tenant_id }),
            result: "ok",
        },
    )
    .await?;
    announce_binding_change(&mut tx).await?;
    tx.commit().await?;
    ctx.hosts.invalidate();
    Ok(())
}

/// Lets `username` of `home` see a link to `target` (no other cross-tenant right).
pub async fn whitelist_admin(
    ctx: &Ctx,
    actor: &Actor,
    home_tenant_id: i64,
    username: &str,
    target_tenant_id: i64,
) -> AppResult<()> {
    if home_tenant_id == target_tenant_id {
        return Err(AppError::Invalid(
            "A tenant admin already has their own tenant.".into(),
        ));
    }
    let home = tenant_detail(ctx, home_tenant_id).await?;
    let username = username.trim().to_lowercase();
    if !home.admins.iter().any(|a| a.to_lowercase() == username) {
        return Err(AppError::Invalid(format!(
            "{username} is not an admin of {}.",
            home.tenant.name
        )));
    }
    let mut tx = ctx.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO public.cross_tenant_whitelist (home_tenant_id, username, target_tenant_id) \
         SELECT $1, $2, id FROM public.tenants WHERE id = $3 ON CONFLICT DO NOTHING",
    )
    .bind(home_tenant_id)
    .bind(&username)
    .bind(target_tenant_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        audit::record(
            &mut tx,
            AuditLog::Platform,
            actor,
            Event {
                action: "whitelist.add",
                target: &username,
                detail: json!({ "home_tenant_id": home_tenant_id, "target_tenant_id": target_tenant_id }),
                result: "ok",
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The tenants a whitelisted admin of `home` may go to, with a tenant-front host for each.
pub async fn cross_tenant_links(
    ctx: &Ctx,
    home: &Tenant,
    username: &str,
) -> AppResult<Vec<CrossTenantLink>> {
    let links: Vec<(String, String)> = sqlx::query_as(
        "SELECT t.name, min(b.host) FROM public.cross_tenant_whitelist w \
         JOIN public.tenants t ON t.id = w.target_tenant_id AND t.status = 'active' \
         JOIN public.host_bindings b ON b.tenant_id = t.id AND b.kind = 'tenant_front' \
         WHERE w.home_tenant_id = $1 AND w.username = lower($2) \
         GROUP BY t.id, t.name ORDER BY t.name",
    )
    .bind(home.id)
    .bind(username)
    .fetch_all(&ctx.pool)
    .await?;
    Ok(links
        .into_iter()
        .map(|(tenant_name, host)| CrossTenantLink { tenant_name, host })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(host: &str) -> Binding {
        Binding {
            host: host.into(),
            surface: Surface::Experience,
            tenant: None,
        }
    }

    #[test]
    fn a_lookup_that_raced_a_clear_is_not_cached() {
        let hosts = HostDirectory::default();
        let generation = hosts.lookup("acme.localhost").unwrap_err();
        // A tenant is disabled while the lookup is reading the database…
        hosts.invalidate();
        // …so what it read (the tenant still active) must not be kept.
        hosts.store(
            generation,
            "acme.localhost".into(),
            binding("acme.localhost"),
        );
        assert!(hosts.lookup("acme.localhost").is_err());
    }

    #[test]
    fn a_lookup_without_a_clear_is_cached_until_the_next_clear() {
        let hosts = HostDirectory::default();
        let generation = hosts.lookup("acme.localhost").unwrap_err();
        hosts.store(
            generation,
            "acme.localhost".into(),
            binding("acme.localhost"),
        );
        assert_eq!(
            hosts.lookup("acme.localhost").unwrap().host,
            "acme.localhost"
        );
        hosts.invalidate();
        assert!(hosts.lookup("acme.localhost").is_err());
    }
}

#[derive(sqlx::FromRow)]
struct TenantIdentityRow {
    id: i64,
    name: String,
    schema_name: String,
    edition: String,
    status: String,
}

impl TenantIdentityRow {
    fn tenant(self) -> AppResult<Tenant> {
        Ok(Tenant {
            id: self.id,
            schema: TenantSchema::parse(&self.schema_name)?,
            name: self.name,
            edition: self.edition,
            active: self.status == "active",
        })
    }
}

const TENANT_IDENTITY: &str = "SELECT id, name, schema_name, edition, status FROM public.tenants";

/// One tenant as the request layer knows it, by id.
pub async fn tenant_by_id(ctx: &Ctx, tenant_id: i64) -> AppResult<Tenant> {
    sqlx::query_as::<_, TenantIdentityRow>(&format!("{TENANT_IDENTITY} WHERE id = $1"))
        .bind(tenant_id)
        .fetch_optional(&ctx.pool)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no tenant {tenant_id}.")))?
        .tenant()
}

/// Every tenant, by id.
pub async fn all_tenants(ctx: &Ctx) -> AppResult<Vec<Tenant>> {
    sqlx::query_as::<_, TenantIdentityRow>(&format!("{TENANT_IDENTITY} ORDER BY id"))
        .fetch_all(&ctx.pool)
        .await?
        .into_iter()
        .map(TenantIdentityRow::tenant)
        .collect()
}
