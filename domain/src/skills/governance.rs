//! The platform's hold over a tenant's skills: withdrawing a version (it can never be made live
//! again, by the tenant's roll back or forward or by anyone) and disabling a skill in a tenant
//! (the tenant has no way to enable it again). Both are the platform's alone, audited in the
//! tenant's log and the platform's, and cancel, with the reason, the executions that have not
//! started yet (queued or waiting for a confirmation); running ones finish.

use serde_json::{json, Value};
use sqlx::PgConnection;

use crate::audit::{self, AuditLog, Event};
use crate::db::{enter_schema, leave_schema, TenantTx};
use crate::tenancy::Tenant;
use crate::{Actor, AppError, AppResult, Ctx};

/// The longest reason kept.
const MAX_REASON: usize = 500;

fn checked_reason(reason: &str) -> AppResult<&str> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::Invalid(
            "Give a reason: the tenant's admins see it.".into(),
        ));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(AppError::Invalid(format!(
            "The reason is too long: at most {MAX_REASON} characters."
        )));
    }
    if reason.chars().any(char::is_control) {
        return Err(AppError::Invalid(
            "The reason must be one line of text, without control characters.".into(),
        ));
    }
    Ok(reason)
}

/// The skill `slug` of the current tenant transaction, locked: its id and live version's id.
async fn lock_skill(conn: &mut PgConnection, slug: &str) -> AppResult<(i64, Option<i64>)> {
    sqlx::query_as("SELECT id, current_version_id FROM skills WHERE slug = $1 FOR UPDATE")
        .bind(slug)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no skill {slug:?} here.")))
}

/// The id of `version` of the skill (`slug`, for the message) and why it was withdrawn, if it was.
pub(super) async fn version_of(
    conn: &mut PgConnection,
    skill_id: i64,
    slug: &str,
    version: i32,
) -> AppResult<(i64, Option<String>)> {
    sqlx::query_as(
        "SELECT id, withdrawn_reason FROM skill_versions WHERE skill_id = $1 AND version = $2",
    )
    .bind(skill_id)
    .bind(version)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("{slug} has no version {version}.")))
}

/// Withdraws `version` of `slug` in `tenant` (super-admins, from the console). When it is the
/// live version, the latest version not withdrawn goes live instead, or none (the skill is then
/// not runnable until a new version is approved).
pub async fn withdraw_version(
    ctx: &Ctx,
    tenant: &Tenant,
    actor: &Actor,
    slug: &str,
    version: i32,
    reason: &str,
) -> AppResult<()> {
    let reason = checked_reason(reason)?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let (skill_id, live) = lock_skill(&mut tx, slug).await?;
    let (version_id, withdrawn) = version_of(&mut tx, skill_id, slug, version).await?;
    if withdrawn.is_some() {
        return Err(AppError::Conflict(format!(
            "Version {version} of {slug} is already withdrawn."
        )));
    }
    sqlx::query(
        "UPDATE skill_versions SET withdrawn_at = now(), withdrawn_by = $2, withdrawn_reason = $3 \
         WHERE id = $1",
    )
    .bind(version_id)
    .bind(&actor.name)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    let mut detail = json!({ "tenant": tenant.name, "version": version, "reason": reason });
    if live == Some(version_id) {
        let next: Option<(i64, i32)> = sqlx::query_as(
            "SELECT id, version FROM skill_versions WHERE skill_id = $1 AND withdrawn_at IS NULL \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(skill_id)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("UPDATE skills SET current_version_id = $2 WHERE id = $1")
            .bind(skill_id)
            .bind(next.map(|(id, _)| id))
            .execute(&mut *tx)
            .await?;
        detail["live_version"] = json!(next.map(|(_, v)| v));
    }
    let why = format!("version {version} of {slug} was withdrawn by the platform: {reason}");
    detail["cancelled"] =
        cancel_pending(&mut tx, tenant, actor, skill_id, Some(version_id), &why).await?;
    record_in_logs(
        &mut tx,
        tenant,
        actor,
        true,
        ("skill.withdraw", slug, detail),
    )
    .await?;
    tx.commit().await
}

/// Disables (`Some(reason)`) or enables again (`None`) the skill `slug` in `tenant`
/// (super-admins, from the console). Disabled, nobody in the tenant can see, run or re-enable
/// it, and it cannot be updated there.
pub async fn set_disabled(
    ctx: &Ctx,
    tenant: &Tenant,
    actor: &Actor,
    slug: &str,
    reason: Option<&str>,
) -> AppResult<()> {
    let reason = reason.map(checked_reason).transpose()?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let (skill_id, _) = lock_skill(&mut tx, slug).await?;
    let disabled: Option<String> =
        sqlx::query_scalar("SELECT disabled_reason FROM skills WHERE id = $1")
            .bind(skill_id)
            .fetch_one(&mut *tx)
            .await?;
    let (action, detail) = match (reason, disabled) {
        (Some(_), Some(_)) => {
            return Err(AppError::Conflict(format!(
                "{slug} is already disabled by the platform."
            )))
        }
        (None, None) => {
            return Err(AppError::Conflict(format!(
                "{slug} is not disabled by the platform."
            )))
        }
        (Some(reason), None) => {
            sqlx::query(
                "UPDATE skills SET enabled = false, disabled_by = $2, disabled_reason = $3 \
                 WHERE id = $1",
            )
            .bind(skill_id)
            .bind(&actor.name)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
            let why = format!("{slug} was disabled by the platform: {reason}");
            let cancelled = cancel_pending(&mut tx, tenant, actor, skill_id, None, &why).await?;
            (
                "skill.disable",
                json!({ "tenant": tenant.name, "reason": reason, "cancelled": cancelled }),
            )
        }
        (None, Some(was)) => {
            sqlx::query(
                "UPDATE skills SET enabled = true, disabled_by = NULL, disabled_reason = NULL \
                 WHERE id = $1",
            )
            .bind(skill_id)
            .execute(&mut *tx)
            .await?;
            (
                "skill.enable",
                json!({ "tenant": tenant.name, "was_disabled_for": was }),
            )
        }
    };
    record_in_logs(&mut tx, tenant, actor, true, (action, slug, detail)).await?;
    tx.commit().await
}

/// Why the platform disabled `slug` in the current tenant transaction, if it did.
pub async fn disabled_reason(conn: &mut PgConnection, slug: &str) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar::<_, Option<String>>(
        "SELECT disabled_reason FROM skills WHERE slug = $1",
    )
    .bind(slug)
    .fetch_optional(conn)
    .await?
    .flatten())
}

/// Cancels with `reason` the executions of the skill (of one of its versions) that have not
/// started: off the dispatch queue first (as a person's cancellation does), each audited.
/// Returns their ids. Leaves the transaction in the tenant's schema.
async fn cancel_pending(
    tx: &mut PgConnection,
    tenant: &Tenant,
    actor: &Actor,
    skill_id: i64,
    version_id: Option<i64>,
    reason: &str,
) -> AppResult<Value> {
    let pending: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, status, inputs_digest FROM executions \
         WHERE skill_id = $1 AND ($2::bigint IS NULL OR skill_version_id = $2) \
           AND status IN ('queued', 'awaiting_confirmation') ORDER BY id FOR UPDATE",
    )
    .bind(skill_id)
    .bind(version_id)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<i64> = pending.iter().map(|(id, _, _)| *id).collect();
    leave_schema(&mut *tx).await?;
    let taken: Vec<(i64, String)> = sqlx::query_as(
        "DELETE FROM public.execution_queue WHERE tenant_id = $1 AND execution_id = ANY($2) \
         RETURNING execution_id, state",
    )
    .bind(tenant.id)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    enter_schema(&mut *tx, &tenant.schema).await?;
    sqlx::query(
        "UPDATE executions SET status = 'cancelled', reason = $2, finished_at = now() \
         WHERE id = ANY($1)",
    )
    .bind(&ids)
    .bind(format!("cancelled: {reason}"))
    .execute(&mut *tx)
    .await?;
    let slug: String = sqlx::query_scalar("SELECT slug FROM skills WHERE id = $1")
        .bind(skill_id)
        .fetch_one(&mut *tx)
        .await?;
    for (id, status, inputs_digest) in &pending {
        // A worker may have just taken it, its start not yet recorded here.
        let was = match taken.iter().find(|(taken, _)| taken == id) {
            Some((_, state)) if state == "running" => "running",
            _ => status.as_str(),
        };
        audit::record(
            tx,
            AuditLog::Tenant,
            actor,
            Event {
                action: "execution.cancel",
                target: &format!("execution {id}"),
                detail: json!({ "skill": slug, "was": was, "inputs_digest": inputs_digest,
                                "reason": reason }),
                result: "ok",
            },
        )
        .await?;
    }
    Ok(json!(ids))
}

/// The entry in the tenant's log and, when the platform acted, in the platform's. Leaves the
/// transaction outside the tenant's schema when it wrote both.
pub(super) async fn record_in_logs(
    tx: &mut PgConnection,
    tenant: &Tenant,
    actor: &Actor,
    by_platform: bool,
    (action, slug, detail): (&str, &str, Value),
) -> AppResult<()> {
    enter_schema(&mut *tx, &tenant.schema).await?;
    let logs: &[AuditLog] = if by_platform {
        &[AuditLog::Tenant, AuditLog::Platform]
    } else {
        &[AuditLog::Tenant]
    };
    for &log in logs {
        if log == AuditLog::Platform {
            leave_schema(&mut *tx).await?;
        }
        audit::record(
            &mut *tx,
            log,
            actor,
            Event {
                action,
                target: slug,
                detail: detail.clone(),
                result: "ok",
            },
        )
        .await?;
    }
    Ok(())
}
