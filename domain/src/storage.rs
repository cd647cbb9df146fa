//! Storage governance: what each tenant and user stores, the quotas checked before anything is
//! stored, the retention of run files and logs (a scheduled cleanup), and the rate limit of free
//! sign-ups. Without these one anonymous client could fill PostgreSQL's disk (issue 11, §2).
//!
//! Quotas count attachments (assistant conversations), run uploads, artifacts and submissions,
//! per tenant and per user (a user's: their conversations, their executions' files, the
//! submissions they made). A store first takes the tenant's quota lock in its own transaction,
//! measures, and refuses what does not fit before anything is written.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use model::storage::{human_bytes, StorageUse, TenantStorage};
use serde_json::json;
use sqlx::PgConnection;

use crate::audit::{self, AuditLog, Event};
use crate::blobs::{self, BlobStore};
use crate::db::{enter_schema, leave_schema, TenantTx};
use crate::tenancy::{self, Tenant};
use crate::{Actor, AppError, AppResult, Ctx};

const MIB: i64 = 1024 * 1024;

/// The server's defaults (environment variables), which a super-admin may override per tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageDefaults {
    pub tenant_quota: i64,
    pub user_quota: i64,
    pub retention_days: i32,
    /// Free-edition sign-ups per client address and hour.
    pub signups_per_address: i64,
    /// Free-edition sign-ups per hour in all.
    pub signups_per_hour: i64,
}

impl Default for StorageDefaults {
    fn default() -> Self {
        StorageDefaults {
            tenant_quota: 10 * 1024 * MIB,
            user_quota: 1024 * MIB,
            retention_days: 90,
            signups_per_address: 10,
            signups_per_hour: 200,
        }
    }
}

/// The limits in force for one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub tenant_quota: i64,
    pub user_quota: i64,
    pub retention_days: i32,
    /// Whether a super-admin set any of them.
    pub custom: bool,
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    tenant_quota_bytes: Option<i64>,
    user_quota_bytes: Option<i64>,
    retention_days: Option<i32>,
}

impl PolicyRow {
    fn limits(row: Option<PolicyRow>, defaults: &StorageDefaults) -> Limits {
        let custom = row.is_some();
        let row = row.unwrap_or(PolicyRow {
            tenant_quota_bytes: None,
            user_quota_bytes: None,
            retention_days: None,
        });
        Limits {
            tenant_quota: row.tenant_quota_bytes.unwrap_or(defaults.tenant_quota),
            user_quota: row.user_quota_bytes.unwrap_or(defaults.user_quota),
            retention_days: row.retention_days.unwrap_or(defaults.retention_days),
            custom,
        }
    }
}

/// The limits of one tenant, read from `public` (so not in a tenant's schema).
pub async fn limits<'e>(
    db: impl sqlx::PgExecutor<'e>,
    defaults: &StorageDefaults,
    tenant_id: i64,
) -> AppResult<Limits> {
    let row: Option<PolicyRow> = sqlx::query_as(
        "SELECT tenant_quota_bytes, user_quota_bytes, retention_days \
         FROM public.tenant_storage_policies WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(db)
    .await?;
    Ok(PolicyRow::limits(row, defaults))
}

/// Whose storage something counts against besides the tenant's.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    pub user_id: i64,
    /// As submissions record their submitter.
    pub username: &'a str,
}

/// What a tenant (or, with `user`, one of its users) stores in its own schema and folders: all
/// but submissions, which [`submission_bytes`] reads. `conn` is in the tenant's schema.
async fn tenant_usage(
    conn: &mut PgConnection,
    user: Option<i64>,
    with_logs: bool,
) -> AppResult<StorageUse> {
    // Uploads as recorded with their executions (those kept), not a walk of the folders.
    let (attachments, uploads, artifacts, logs): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT \
           (SELECT coalesce(sum(a.size), 0)::bigint FROM conversation_attachments a \
              JOIN conversations c ON c.id = a.conversation_id \
              WHERE $1::bigint IS NULL OR c.user_id = $1), \
           (SELECT coalesce(sum(u.size), 0)::bigint FROM execution_uploads u \
              JOIN executions e ON e.id = u.execution_id \
              WHERE e.files_removed_at IS NULL AND ($1::bigint IS NULL OR e.requested_by = $1)), \
           (SELECT coalesce(sum(a.size), 0)::bigint FROM artifacts a \
              JOIN executions e ON e.id = a.execution_id \
              WHERE $1::bigint IS NULL OR e.requested_by = $1), \
           CASE WHEN $2 THEN (SELECT coalesce(sum(octet_length(l.line)), 0)::bigint \
              FROM execution_logs l JOIN executions e ON e.id = l.execution_id \
              WHERE $1::bigint IS NULL OR e.requested_by = $1) ELSE 0 END",
    )
    .bind(user)
    .bind(with_logs)
    .fetch_one(&mut *conn)
    .await?;
    Ok(StorageUse {
        attachments,
        uploads,
        artifacts,
        submissions: 0,
        logs,
    })
}

/// The files of a tenant's submissions, in all and of one submitter. They live in `public`.
async fn submission_bytes<'e>(
    db: impl sqlx::PgExecutor<'e>,
    tenant_id: i64,
    submitter: &str,
) -> AppResult<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT coalesce(sum(octet_length(f.content)), 0)::bigint, \
         coalesce(sum(octet_length(f.content)) FILTER (WHERE s.submitted_by = $2), 0)::bigint \
         FROM public.skill_submission_files f \
         JOIN public.skill_submissions s ON s.id = f.submission_id WHERE s.tenant_id = $1",
    )
    .bind(tenant_id)
    .bind(submitter)
    .fetch_one(db)
    .await?)
}

/// Refuses `incoming` bytes of `what` (e.g. "these attachments") that would take the tenant or
/// `owner` past a quota, with which quota, its use and its limit; nothing has been stored then.
/// `conn` is the tenant-schema transaction that will store them: it holds the tenant's quota
/// lock until it ends, so concurrent stores are measured one after the other.
pub async fn ensure_room(
    ctx: &Ctx,
    conn: &mut PgConnection,
    tenant: &Tenant,
    owner: Owner<'_>,
    incoming: i64,
    what: &str,
) -> AppResult<()> {
    if incoming == 0 {
        return Ok(());
    }
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('execgov:storage:' || current_database() || ':' || $1, 0))",
    )
    .bind(tenant.id.to_string())
    .execute(&mut *conn)
    .await?;
    // Everything on this one connection: a store waiting for the lock already holds one, and
    // asking the pool for a second could starve it.
    leave_schema(conn).await?;
    let limits = limits(&mut *conn, &ctx.storage, tenant.id).await?;
    let (all_submitted, mine_submitted) =
        submission_bytes(&mut *conn, tenant.id, owner.username).await?;
    enter_schema(conn, &tenant.schema).await?;
    let mine = tenant_usage(conn, Some(owner.user_id), false).await?;
    check_quota(
        "your account",
        mine.counted() + mine_submitted,
        limits.user_quota,
        incoming,
        what,
    )?;
    let all = tenant_usage(conn, None, false).await?;
    check_quota(
        &format!("the tenant {}", tenant.name),
        all.counted() + all_submitted,
        limits.tenant_quota,
        incoming,
        what,
    )
}

/// `None` when a run's `bytes` of artifacts fit its requester's and its tenant's quotas, else
/// the refusal. The quota lock is not held until the artifacts are recorded (another
/// transaction): concurrent runs' artifacts may overshoot by what the workers finish at once.
pub async fn artifacts_refusal(
    ctx: &Ctx,
    tenant_id: i64,
    execution_id: i64,
    bytes: i64,
) -> AppResult<Option<String>> {
    let tenant = tenancy::tenant_by_id(ctx, tenant_id).await?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let (user_id, username): (i64, String) = sqlx::query_as(
        "SELECT u.id, u.username FROM executions e JOIN users u ON u.id = e.requested_by \
         WHERE e.id = $1",
    )
    .bind(execution_id)
    .fetch_one(&mut *tx)
    .await?;
    let owner = Owner {
        user_id,
        username: &username,
    };
    let checked = ensure_room(ctx, &mut tx, &tenant, owner, bytes, "the run's artifacts").await;
    tx.commit().await?;
    match checked {
        Ok(()) => Ok(None),
        Err(AppError::TooLarge(refusal)) => Ok(Some(refusal)),
        Err(other) => Err(other),
    }
}

/// Whether `incoming` more bytes fit in a quota of `limit` with `used` taken.
fn check_quota(whose: &str, used: i64, limit: i64, incoming: i64, what: &str) -> AppResult<()> {
    if used.saturating_add(incoming) <= limit {
        return Ok(());
    }
    Err(AppError::TooLarge(format!(
        "Storage quota reached: {whose} stores {} of its {} (attachments, run uploads, \
         artifacts and submissions), and {what} ({}) do not fit. Nothing was stored. Run files \
         are removed after the retention period; a platform administrator can raise the quota.",
        human_bytes(used),
        human_bytes(limit),
        human_bytes(incoming),
    )))
}

/// Counts one free-edition sign-up attempt from `address` and refuses it (429) past the limit
/// per address, then past the limit for everyone, each per clock hour. An address over its own
/// limit is not counted in the overall one, so one client cannot use up everyone's sign-ups.
pub async fn count_signup(ctx: &Ctx, address: Option<&str>) -> AppResult<()> {
    let limits = &ctx.storage;
    let address_key = format!("signup:address:{}", address.unwrap_or("unknown"));
    let (count, minutes) = bump(ctx, &address_key).await?;
    if count > limits.signups_per_address {
        return Err(AppError::TooManyRequests {
            message: format!(
                "Too many sign-ups from your address: at most {} an hour. Try again in \
                 {minutes} minute{}.",
                limits.signups_per_address,
                plural(minutes)
            ),
            retry_after_seconds: minutes as u64 * 60,
        });
    }
    let (count, minutes) = bump(ctx, "signup:all").await?;
    if count > limits.signups_per_hour {
        return Err(AppError::TooManyRequests {
            message: format!(
                "The free edition takes at most {} new accounts an hour, and this hour's are \
                 taken. Try again in {minutes} minute{}.",
                limits.signups_per_hour,
                plural(minutes)
            ),
            retry_after_seconds: minutes as u64 * 60,
        });
    }
    Ok(())
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Adds one to `key`'s counter of this clock hour, atomically; returns the count and the
/// minutes (rounded up) until the hour ends.
async fn bump(ctx: &Ctx, key: &str) -> AppResult<(i64, i64)> {
    let row: (i32, i64) = sqlx::query_as(
        "INSERT INTO public.rate_limit_counters (key, window_start, count) \
         VALUES ($1, date_trunc('hour', now()), 1) \
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_counters.count + 1 \
         RETURNING count, ceil(extract(epoch FROM date_trunc('hour', now()) + interval '1 hour' - now()) / 60)::bigint",
    )
    .bind(key)
    .fetch_one(&ctx.pool)
    .await?;
    Ok((i64::from(row.0), row.1.max(1)))
}

/// What a super-admin sets for one tenant; `None` takes the server's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyChange {
    pub tenant_quota_mib: Option<i64>,
    pub user_quota_mib: Option<i64>,
    pub retention_days: Option<i32>,
}

impl PolicyChange {
    /// From a form's text fields; an empty field takes the default.
    pub fn from_form(
        tenant_quota_mib: &str,
        user_quota_mib: &str,
        retention_days: &str,
    ) -> AppResult<PolicyChange> {
        fn field<T: std::str::FromStr>(text: &str, name: &str) -> AppResult<Option<T>> {
            match text.trim() {
                "" => Ok(None),
                t => t.parse().map(Some).map_err(|_| {
                    AppError::Invalid(format!("{name}: a whole number, or empty for the default."))
                }),
            }
        }
        Ok(PolicyChange {
            tenant_quota_mib: field(tenant_quota_mib, "tenant quota")?,
            user_quota_mib: field(user_quota_mib, "user quota")?,
            retention_days: field(retention_days, "retention")?,
        })
    }
}

/// Sets a tenant's quotas and retention (super-admins), recorded in the platform's audit.
pub async fn set_limits(
    ctx: &Ctx,
    actor: &Actor,
    tenant_id: i64,
    change: PolicyChange,
) -> AppResult<()> {
    let bytes = |mib: Option<i64>, name: &str| -> AppResult<Option<i64>> {
        match mib {
            Some(m) if !(0..=1024 * 1024 * 1024).contains(&m) => Err(AppError::Invalid(format!(
                "{name}: a number of MiB from 0 to 1073741824, or empty for the default."
            ))),
            m => Ok(m.map(|m| m * MIB)),
        }
    };
    let tenant_quota = bytes(change.tenant_quota_mib, "tenant quota")?;
    let user_quota = bytes(change.user_quota_mib, "user quota")?;
    if change
        .retention_days
        .is_some_and(|d| !(1..=36500).contains(&d))
    {
        return Err(AppError::Invalid(
            "retention: a number of days from 1 to 36500, or empty for the default.".into(),
        ));
    }
    let tenant = tenancy::tenant_by_id(ctx, tenant_id).await?;
    let mut tx = ctx.pool.begin().await?;
    sqlx::query(
        "INSERT INTO public.tenant_storage_policies \
         (tenant_id, tenant_quota_bytes, user_quota_bytes, retention_days, updated_by) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id) DO UPDATE SET \
         tenant_quota_bytes = $2, user_quota_bytes = $3, retention_days = $4, updated_by = $5, \
         updated_at = now()",
    )
    .bind(tenant_id)
    .bind(tenant_quota)
    .bind(user_quota)
    .bind(change.retention_days)
    .bind(&actor.name)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditLog::Platform,
        actor,
        Event {
            action: "tenant.storage_limits",
            target: &tenant.name,
            detail: json!({
                "tenant_id": tenant_id,
                "tenant_quota_bytes": tenant_quota,
                "user_quota_bytes": user_quota,
                "retention_days": change.retention_days,
            }),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every tenant's storage use and limits, for the public console.
pub async fn all_tenants(ctx: &Ctx) -> AppResult<Vec<TenantStorage>> {
    let mut all = Vec::new();
    for tenant in tenancy::all_tenants(ctx).await? {
        all.push(of_tenant(ctx, &tenant).await?);
    }
    Ok(all)
}

/// One tenant's storage use and limits.
pub async fn tenant(ctx: &Ctx, tenant_id: i64) -> AppResult<TenantStorage> {
    of_tenant(ctx, &tenancy::tenant_by_id(ctx, tenant_id).await?).await
}

async fn of_tenant(ctx: &Ctx, tenant: &Tenant) -> AppResult<TenantStorage> {
    let limits = limits(&ctx.pool, &ctx.storage, tenant.id).await?;
    let (submissions, _) = submission_bytes(&ctx.pool, tenant.id, "").await?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let usage = StorageUse {
        submissions,
        ..tenant_usage(&mut tx, None, true).await?
    };
    tx.commit().await?;
    Ok(TenantStorage {
        tenant_id: tenant.id,
        tenant_name: tenant.name.clone(),
        usage,
        tenant_quota: limits.tenant_quota,
        user_quota: limits.user_quota,
        retention_days: limits.retention_days,
        custom: limits.custom,
    })
}

/// What the execution page says about a run whose files retention removed.
pub fn removed_note(at: DateTime<Utc>, kept_days: i32) -> String {
    format!(
        "The files and log of this run were removed after {kept_days} day{} (on {}), as this \
         tenant's retention says; its record and audit entries are kept.",
        plural(i64::from(kept_days)),
        at.format("%Y-%m-%d")
    )
}

/// Executions whose files one pass removes per tenant at most (the next pass goes on).
const CLEANUP_BATCH: i64 = 500;

/// Removes the files (uploads, work folder, artifacts) and log lines of finished executions
/// older than their tenant's retention, marks them, and records it in the tenant's audit (audit
/// entries themselves are never removed); the same for assistant attachments; also drops
/// rate-limit windows long past. Returns how many executions lost their files.
pub async fn remove_expired(ctx: &Ctx) -> AppResult<usize> {
    let mut removed = 0;
    for tenant in tenancy::all_tenants(ctx).await? {
        let limits = limits(&ctx.pool, &ctx.storage, tenant.id).await?;
        loop {
            let n = remove_expired_batch(ctx, &tenant, limits.retention_days).await?;
            removed += n;
            if (n as i64) < CLEANUP_BATCH {
                break;
            }
        }
        remove_expired_attachments(ctx, &tenant, limits.retention_days).await?;
    }
    sqlx::query(
        "DELETE FROM public.rate_limit_counters WHERE window_start < now() - interval '1 day'",
    )
    .execute(&ctx.pool)
    .await?;
    Ok(removed)
}

/// Attachments count against their user's quota and are files for runs like uploads: they go
/// after the same retention, the conversation's text staying.
async fn remove_expired_attachments(ctx: &Ctx, tenant: &Tenant, days: i32) -> AppResult<()> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let (count, bytes): (i64, i64) = sqlx::query_as(
        "WITH gone AS (DELETE FROM conversation_attachments \
           WHERE created_at < now() - make_interval(days => $1) RETURNING size) \
         SELECT count(*), coalesce(sum(size), 0)::bigint FROM gone",
    )
    .bind(days)
    .fetch_one(&mut *tx)
    .await?;
    if count > 0 {
        audit::record(
            &mut tx,
            AuditLog::Tenant,
            &Actor::system(),
            Event {
                action: "storage.retention",
                target: &format!("{count} attachments"),
                detail: json!({ "retention_days": days, "attachments": count, "bytes": bytes }),
                result: "ok",
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn remove_expired_batch(ctx: &Ctx, tenant: &Tenant, days: i32) -> AppResult<usize> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "UPDATE executions SET files_removed_at = now(), files_kept_days = $1 \
         WHERE id IN (SELECT id FROM executions WHERE files_removed_at IS NULL \
           AND status IN ('succeeded', 'failed', 'timed_out', 'cancelled') \
           AND coalesce(finished_at, created_at) < now() - make_interval(days => $1) \
           ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING id",
    )
    .bind(days)
    .bind(CLEANUP_BATCH)
    .fetch_all(&mut *tx)
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let (logs, artifacts): (i64, i64) = sqlx::query_as(
        "WITH logs AS (DELETE FROM execution_logs WHERE execution_id = ANY($1) RETURNING 1), \
         files AS (DELETE FROM artifacts WHERE execution_id = ANY($1) RETURNING 1), \
         inputs AS (DELETE FROM execution_input_files WHERE execution_id = ANY($1)) \
         SELECT (SELECT count(*) FROM logs), (SELECT count(*) FROM files)",
    )
    .bind(&ids)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        &Actor::system(),
        Event {
            action: "storage.retention",
            target: &format!("{} executions", ids.len()),
            detail: json!({
                "retention_days": days,
                "executions": ids,
                "log_lines": logs,
                "artifacts": artifacts,
            }),
            result: "ok",
        },
    )
    .await?;
    // The files go before the commit: should that fail, the rows still say the files are there
    // and the next pass tries again.
    let dirs: Vec<PathBuf> = ids
        .iter()
        .flat_map(|&id| {
            [
                ctx.inputs_dir(tenant.id, id),
                ctx.artifacts_dir(tenant.id, id),
                ctx.work_dir(tenant.id, id),
            ]
        })
        .collect();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        for dir in dirs {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))??;
    tx.commit().await?;
    // The bytes no file refers to any more, now that the references are gone; in a
    // transaction of its own, so that a failure here (tried again next pass) keeps the batch.
    if let Err(err) = collect_blobs(ctx, tenant).await {
        tracing::warn!(%err, tenant = tenant.id, "retention: could not collect unreferenced files");
    }
    Ok(ids.len())
}

/// Removes the tenant's stored files that nothing refers to any more.
pub async fn collect_blobs(ctx: &Ctx, tenant: &Tenant) -> AppResult<u64> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let removed = blobs::store(ctx).collect_unreferenced(&mut tx).await?;
    tx.commit().await?;
    Ok(removed)
}

/// When the cleanup runs: `first` after the start, then every `every`.
#[derive(Clone, Copy, Debug)]
pub struct CleanupSchedule {
    pub first: Duration,
    pub every: Duration,
}

impl Default for CleanupSchedule {
    fn default() -> Self {
        CleanupSchedule {
            first: Duration::from_secs(60),
            every: Duration::from_secs(3600),
        }
    }
}

/// Runs [`remove_expired`] (and the environments' collection) on `schedule` in the background,
/// for as long as the process runs.
/// Several server processes may run it at once: each batch skips rows another one holds.
pub fn start_cleanup(ctx: Ctx, schedule: CleanupSchedule) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(schedule.first).await;
        loop {
            match remove_expired(&ctx).await {
                Ok(0) => tracing::debug!("retention: nothing to remove"),
                Ok(n) => tracing::info!(executions = n, "retention: removed run files and logs"),
                Err(err) => tracing::warn!(%err, "retention: cleanup failed; trying again later"),
            }
            // Python environments no live, queued or pending skill version uses.
            if let Err(err) = crate::environments::collect_unused(&ctx).await {
                tracing::warn!(%err, "collecting unused Python environments failed");
            }
            tokio::time::sleep(schedule.every).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_refusal_names_the_quota_its_use_and_its_limit() {
        assert!(check_quota("your account", 10, 20, 10, "this file").is_ok());
        let err = check_quota("your account", 15 * MIB, 20 * MIB, 6 * MIB, "this file")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("your account stores 15.0 MiB of its 20.0 MiB"),
            "{err}"
        );
        assert!(err.contains("this file (6.0 MiB) do not fit"), "{err}");
        assert!(err.contains("Nothing was stored"), "{err}");
    }

    #[test]
    fn no_policy_row_means_the_server_defaults() {
        let defaults = StorageDefaults::default();
        let limits = PolicyRow::limits(None, &defaults);
        assert_eq!(limits.tenant_quota, defaults.tenant_quota);
        assert_eq!(limits.retention_days, 90);
        assert!(!limits.custom);
        let set = PolicyRow::limits(
            Some(PolicyRow {
                tenant_quota_bytes: None,
                user_quota_bytes: Some(5),
                retention_days: Some(7),
            }),
            &defaults,
        );
        assert_eq!(
            (
                set.tenant_quota,
                set.user_quota,
                set.retention_days,
                set.custom
            ),
            (defaults.tenant_quota, 5, 7, true)
        );
    }
}
