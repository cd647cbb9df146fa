//! Executions: requested by a user, confirmed where the skill requires it, queued, claimed by a
//! worker, run by an executor in the sandbox, finished. Every state change is one update of the
//! execution in its tenant's schema plus an audit entry, in one transaction.
//!
//! Workers claim across tenants from `public.execution_queue` (ids and leases only) with
//! `FOR UPDATE SKIP LOCKED`, the tenant with the fewest running executions first, under a
//! per-tenant cap. A worker renews its lease while it runs; the reaper re-queues executions whose
//! lease ran out (bounded attempts, then `failed: worker lost`).
//!
//! While a worker runs one execution it reserves its next one (queue state `reserved`; still
//! `queued` in its tenant) and makes its work folder, so that the next script starts the moment
//! the current one ends; the transaction that records the end then marks the next one running.
//! A reservation the worker cannot use soon (see [`QueuePolicy::reserve_for`]) goes back to the
//! queue for any worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use model::{
    Artifact, ExecutionFilter, ExecutionStatus, ExecutionSummary, ExecutionView, LOG_PAGE_LINES,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgListener;
use sqlx::PgConnection;
use tokio::sync::{mpsc, watch, Notify};

use crate::accounts::SignedIn;
use crate::audit::{self, AuditLog, Event};
use crate::db::{enter_schema, leave_schema, TenantSchema, TenantTx};
use crate::executors::{
    AssetKind, Executors, Limits, LogLine, Prepared, RunOutcome, RunRequest, RunStatus,
};
use crate::skills;
use crate::storage;
use crate::tenancy::Tenant;
use crate::{Actor, AppError, AppResult, Ctx};

mod invocation;
mod uploads;

pub use invocation::apply_invocation;

/// Wakes idle workers when something is queued.
const QUEUE_CHANNEL: &str = "execgov_execution_queue";
/// How the worker's own transactions (claim, finish) begin: their statements run thousands of
/// times with the same shape, so PostgreSQL keeps one plan for each instead of planning every
/// execution anew (its default for the first runs and whenever it guesses a custom plan is
/// cheaper): about half of their server time. Same round trip as a plain `BEGIN`.
const BEGIN_WORKER: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan";
/// Attempts before an execution whose worker keeps dying is failed.
pub const MAX_ATTEMPTS: i32 = 3;

/// The canonical digest of an execution's inputs, for the audit trail.
fn inputs_digest(inputs: &Value) -> String {
    // serde_json keeps object keys sorted (no preserve_order feature), so this is canonical.
    hex::encode(Sha256::digest(inputs.to_string().as_bytes()))
}

/// The largest file one input may upload.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// The files of one request (a run, or a request to the assistant), at most.
pub const MAX_REQUEST_FILES_BYTES: usize = 2 * MAX_UPLOAD_BYTES;

/// A file a user uploaded for a file input.
#[derive(Clone, Debug)]
pub struct Upload {
    pub field: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// The name an upload is stored and shown to the script under: its base name, reduced to
/// letters, digits, `.`, `_`, `-`.
fn stored_name(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    match clean.trim_start_matches('.') {
        "" => "upload".to_string(),
        name => name.to_string(),
    }
}

/// How a run was asked for, which decides what the skill must allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// From the skill's form, the REST API or the CLI: the skill must allow manual runs.
    Manual,
    /// From a plan of the assistant: the skill must be AI-callable.
    Assistant,
}

/// A user asks to run a skill by hand with form inputs (`form`: field → text) and uploaded
/// files. Bad input: one message per field, and nothing is created.
pub async fn request(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    slug: &str,
    form: &BTreeMap<String, String>,
    files: &[Upload],
) -> AppResult<i64> {
    request_from(ctx, tenant, user, actor, Origin::Manual, slug, form, files).await
}

/// [`request`], asked for by `origin`.
#[allow(clippy::too_many_arguments)]
pub async fn request_from(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    origin: Origin,
    slug: &str,
    form: &BTreeMap<String, String>,
    files: &[Upload],
) -> AppResult<i64> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let skill = skills::live_skill_for(&mut tx, user, slug).await?;
    match origin {
        Origin::Manual if !skill.manual_allowed => {
            return Err(AppError::Forbidden(format!(
                "{} cannot be run by hand.",
                skill.name
            )))
        }
        Origin::Assistant if !skill.ai_callable => {
            return Err(AppError::Forbidden(format!(
                "The assistant may not run {}.",
                skill.name
            )))
        }
        _ => {}
    }
    let arranged = uploads::arrange(&skill.input_schema, files)?;
    let uploads: BTreeMap<String, String> = arranged
        .iter()
        .map(|a| (a.field.to_string(), a.name.clone()))
        .collect();
    let inputs =
        model::skill::validate_inputs(&skill.input_schema, form, &uploads).map_err(|fields| {
            AppError::Invalid(
                fields
                    .iter()
                    .map(|(field, message)| format!("{field}: {message}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
    let uploaded: usize = arranged.iter().map(|a| a.size).sum();
    storage::ensure_room(
        ctx,
        &mut tx,
        tenant,
        storage::Owner {
            user_id: user.user_id,
            username: user.principal.username(),
        },
        uploaded as i64,
        "these uploads",
    )
    .await?;
    let inputs = Value::Object(inputs);
    let digest = inputs_digest(&inputs);
    let status = if skill.requires_confirmation {
        ExecutionStatus::AwaitingConfirmation
    } else {
        ExecutionStatus::Queued
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO executions (skill_id, skill_version_id, requested_by, inputs, inputs_digest, status) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(skill.skill_id)
    .bind(skill.skill_version_id)
    .bind(user.user_id)
    .bind(&inputs)
    .bind(&digest)
    .bind(status.as_str())
    .fetch_one(&mut *tx)
    .await?;
    // Uploads wait beside the execution; only after its row exists does it have a folder. Each
    // is recorded with it: "Run again" reuses what is recorded, never a path from the inputs.
    let inputs_dir = ctx.inputs_dir(tenant.id, id);
    for upload in &arranged {
        uploads::store(&inputs_dir, upload).await?;
        sqlx::query(
            "INSERT INTO execution_uploads (execution_id, field, file_name, size, sha256) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(upload.field)
        .bind(&upload.name)
        .bind(upload.size as i64)
        .bind(&upload.sha256)
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "execution.request",
            target: &format!("execution {id}"),
            detail: json!({
                "skill": skill.slug,
                "inputs_digest": digest,
                "status": status.as_str(),
                "origin": match origin { Origin::Manual => "manual", Origin::Assistant => "assistant" },
            }),
            result: "ok",
        },
    )
    .await?;
    if status == ExecutionStatus::Queued {
        enqueue(&mut tx, tenant.id, id).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Puts an execution on the cross-tenant queue and wakes a worker: the platform's, or a local
/// agent's when its skill version names an agent label. Called inside the tenant's schema;
/// leaves the transaction on the platform side (`leave_schema`): call it last.
async fn enqueue(conn: &mut PgConnection, tenant_id: i64, execution_id: i64) -> AppResult<()> {
    let agent_label: Option<String> = sqlx::query_scalar(
        "SELECT v.agent_label FROM executions e JOIN skill_versions v ON v.id = e.skill_version_id \
         WHERE e.id = $1",
    )
    .bind(execution_id)
    .fetch_one(&mut *conn)
    .await?;
    leave_schema(conn).await?;
    sqlx::query(
        "INSERT INTO public.execution_queue (tenant_id, execution_id, state, agent_label) \
         VALUES ($1, $2, 'queued', $3)",
    )
    .bind(tenant_id)
    .bind(execution_id)
    .bind(agent_label)
    .execute(&mut *conn)
    .await?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(QUEUE_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ExecutionRow {
    status: String,
    requested_by: i64,
    skill_slug: String,
    inputs_digest: String,
}

async fn lock_execution(conn: &mut PgConnection, id: i64) -> AppResult<ExecutionRow> {
    sqlx::query_as(
        "SELECT e.status, e.requested_by, s.slug AS skill_slug, e.inputs_digest \
         FROM executions e JOIN skills s ON s.id = e.skill_id WHERE e.id = $1 FOR UPDATE OF e",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("There is no execution {id} here.")))
}

fn status_of(row: &ExecutionRow) -> AppResult<ExecutionStatus> {
    ExecutionStatus::parse(&row.status)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown status {:?}", row.status)))
}

/// Only the requester and the tenant's admins act on an execution.
fn may_act(user: &SignedIn, row: &ExecutionRow) -> AppResult<()> {
    if row.requested_by == user.user_id || user.principal.is_tenant_admin() {
        Ok(())
    } else {
        Err(AppError::NotFound(
            "There is no such execution here.".into(),
        ))
    }
}

/// A person confirms an execution that waits for it; it is queued, with who confirmed recorded.
pub async fn confirm(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    id: i64,
) -> AppResult<()> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let row = lock_execution(&mut tx, id).await?;
    may_act(user, &row)?;
    // The confirmer must still be allowed to run the skill now.
    skills::live_skill_for(&mut tx, user, &row.skill_slug).await?;
    if status_of(&row)? != ExecutionStatus::AwaitingConfirmation {
        return Err(AppError::Conflict(format!(
            "Execution {id} is {}, not waiting for confirmation.",
            row.status
        )));
    }
    sqlx::query(
        "UPDATE executions SET status = 'queued', confirmed_by = $2, confirmed_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(user.user_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "execution.confirm",
            target: &format!("execution {id}"),
            detail: json!({ "skill": row.skill_slug, "inputs_digest": row.inputs_digest }),
            result: "ok",
        },
    )
    .await?;
    enqueue(&mut tx, tenant.id, id).await?;
    tx.commit().await?;
    Ok(())
}

/// The requester or an admin cancels an execution that has not finished. A running one is
/// stopped by its worker at its next heartbeat.
pub async fn cancel(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    id: i64,
) -> AppResult<()> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let row = lock_execution(&mut tx, id).await?;
    may_act(user, &row)?;
    let status = status_of(&row)?;
    if status.is_final() {
        return Err(AppError::Conflict(format!(
            "Execution {id} has already {}.",
            row.status
        )));
    }
    // Off the queue first: a worker may have just taken it, its start not yet recorded here.
    leave_schema(&mut tx).await?;
    let queue_state: Option<String> = sqlx::query_scalar(
        "DELETE FROM public.execution_queue WHERE tenant_id = $1 AND execution_id = $2 RETURNING state",
    )
    .bind(tenant.id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    enter_schema(&mut tx, &tenant.schema).await?;
    let was = match queue_state.as_deref() {
        Some("running") => "running",
        _ => row.status.as_str(),
    };
    sqlx::query(
        "UPDATE executions SET status = 'cancelled', reason = $2, cancelled_by = $3, finished_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(format!("cancelled by {}", actor.name))
    .bind(user.user_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "execution.cancel",
            target: &format!("execution {id}"),
            detail: json!({ "skill": row.skill_slug, "was": was, "inputs_digest": row.inputs_digest }),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    skill_slug: String,
    skill_name: String,
    requested_by: String,
    status: String,
    created_at: chrono::DateTime<chrono::Utc>,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl SummaryRow {
    fn summary(self) -> AppResult<ExecutionSummary> {
        Ok(ExecutionSummary {
            status: ExecutionStatus::parse(&self.status).ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("unknown status {:?}", self.status))
            })?,
            id: self.id,
            skill_slug: self.skill_slug,
            skill_name: self.skill_name,
            requested_by: self.requested_by,
            created_at: self.created_at,
            finished_at: self.finished_at,
        })
    }
}

const SUMMARY_SELECT: &str = "SELECT e.id, s.slug AS skill_slug, v.name AS skill_name, \
     u.username AS requested_by, e.status, e.created_at, e.finished_at \
     FROM executions e JOIN skills s ON s.id = e.skill_id \
     JOIN skill_versions v ON v.id = e.skill_version_id JOIN users u ON u.id = e.requested_by";

/// SQL condition: the user ($1 id, $2 is admin) may see execution `e`: their own, or any for admins.
const MAY_SEE: &str = "(e.requested_by = $1 OR $2)";

/// The execution history this user may see (their own; admins: everyone's), newest first.
pub async fn list(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    filter: &ExecutionFilter,
) -> AppResult<Vec<ExecutionSummary>> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
        "{SUMMARY_SELECT} WHERE {MAY_SEE} \
         AND ($3::text IS NULL OR s.slug = $3) \
         AND ($4::text IS NULL OR lower(u.username) = lower($4)) \
         AND ($5::text IS NULL OR e.status = $5) \
         AND ($6::date IS NULL OR e.created_at >= $6) \
         AND ($7::date IS NULL OR e.created_at < $7 + 1) \
         ORDER BY e.id DESC LIMIT 200"
    ))
    .bind(user.user_id)
    .bind(user.principal.is_tenant_admin())
    .bind(&filter.skill)
    .bind(&filter.user)
    .bind(filter.status.map(ExecutionStatus::as_str))
    .bind(filter.since)
    .bind(filter.until)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter().map(SummaryRow::summary).collect()
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    skill_version: i32,
    reason: Option<String>,
    inputs: Value,
    inputs_digest: String,
    confirmed_by: Option<String>,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    exit_code: Option<i32>,
    result: Option<String>,
    stdout_truncated: bool,
    stderr_truncated: bool,
    files_removed_at: Option<chrono::DateTime<chrono::Utc>>,
    files_kept_days: Option<i32>,
    written_outside: Vec<String>,
    written_outside_count: i32,
}

/// One execution with its result, artifacts and the first page of its log, if this user may see
/// it ("not found" otherwise, so other people's executions are indistinguishable from missing
/// ones).
pub async fn view(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    id: i64,
) -> AppResult<ExecutionView> {
    view_from_line(ctx, tenant, user, id, 0).await
}

/// [`view`], with the page of the log that begins after its first `log_after` lines.
pub async fn view_from_line(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    id: i64,
    log_after: i64,
) -> AppResult<ExecutionView> {
    let log_after = log_after.max(0);
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let summary: SummaryRow =
        sqlx::query_as(&format!("{SUMMARY_SELECT} WHERE {MAY_SEE} AND e.id = $3"))
            .bind(user.user_id)
            .bind(user.principal.is_tenant_admin())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("There is no execution {id} here.")))?;
    let detail: DetailRow = sqlx::query_as(
        "SELECT v.version AS skill_version, e.reason, e.inputs, e.inputs_digest, \
         c.username AS confirmed_by, e.started_at, e.exit_code, e.result, e.stdout_truncated, \
         e.stderr_truncated, e.files_removed_at, e.files_kept_days, e.written_outside, \
         e.written_outside_count \
         FROM executions e JOIN skill_versions v ON v.id = e.skill_version_id \
         LEFT JOIN users c ON c.id = e.confirmed_by WHERE e.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let artifacts: Vec<(String, i64)> =
        sqlx::query_as("SELECT path, size FROM artifacts WHERE execution_id = $1 ORDER BY path")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    let artifacts = artifacts
        .into_iter()
        .map(|(path, size)| Artifact { path, size })
        .collect();
    let (logs, log_lines) = read_log(&mut tx, id, log_after).await?;
    tx.commit().await?;
    let summary = summary.summary()?;
    let status = summary.status;
    Ok(ExecutionView {
        skill_version: detail.skill_version,
        reason: detail.reason,
        inputs: serde_json::to_string_pretty(&detail.inputs).unwrap_or_default(),
        inputs_digest: detail.inputs_digest,
        confirmed_by: detail.confirmed_by,
        started_at: detail.started_at,
        exit_code: detail.exit_code,
        result: detail.result,
        stdout_truncated: detail.stdout_truncated,
        stderr_truncated: detail.stderr_truncated,
        artifacts,
        logs,
        log_from: log_after,
        log_lines,
        can_confirm: status == ExecutionStatus::AwaitingConfirmation,
        can_cancel: !status.is_final(),
        files_removed: detail
            .files_removed_at
            .zip(detail.files_kept_days)
            .map(|(at, days)| storage::removed_note(at, days)),
        written_outside: detail.written_outside,
        written_outside_count: i64::from(detail.written_outside_count),
        summary,
    })
}

/// Up to [`LOG_PAGE_LINES`] lines of a visible execution's log after its first `after`, oldest
/// first, and how many lines it has stored.
async fn read_log(tx: &mut TenantTx, id: i64, after: i64) -> AppResult<(Vec<model::LogLine>, i64)> {
    let lines: Vec<(String, String)> = sqlx::query_as(
        "SELECT stream, line FROM execution_logs WHERE execution_id = $1 ORDER BY id \
         OFFSET $2 LIMIT $3",
    )
    .bind(id)
    .bind(after)
    .bind(LOG_PAGE_LINES)
    .fetch_all(&mut **tx)
    .await?;
    let total = sqlx::query_scalar("SELECT count(*) FROM execution_logs WHERE execution_id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    let lines = lines
        .into_iter()
        .map(|(stream, line)| model::LogLine { stream, line })
        .collect();
    Ok((lines, total))
}

/// A page of an execution's log, for following it.
pub struct LogPage {
    pub status: ExecutionStatus,
    /// Up to [`LOG_PAGE_LINES`] lines, from line `after`.
    pub lines: Vec<model::LogLine>,
    /// How many lines are stored now.
    pub total: i64,
}

/// The lines of execution `id`'s log after its first `after`, if this user may see it.
pub async fn log_page(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    id: i64,
    after: i64,
) -> AppResult<LogPage> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let status: String = sqlx::query_scalar(&format!(
        "SELECT e.status FROM executions e WHERE {MAY_SEE} AND e.id = $3"
    ))
    .bind(user.user_id)
    .bind(user.principal.is_tenant_admin())
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("There is no execution {id} here.")))?;
    let (lines, total) = read_log(&mut tx, id, after.max(0)).await?;
    tx.commit().await?;
    let status = ExecutionStatus::parse(&status).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("unknown execution status {status:?}"))
    })?;
    Ok(LogPage {
        status,
        lines,
        total,
    })
}

/// Changes whenever the execution's status changes or a log line arrives: what the live page
/// watches. `None`: not visible to this user.
pub async fn change_stamp(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    id: i64,
) -> AppResult<Option<(String, i64)>> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let stamp = sqlx::query_as(&format!(
        "SELECT e.status, (SELECT count(*) FROM execution_logs l WHERE l.execution_id = e.id) \
         FROM executions e WHERE {MAY_SEE} AND e.id = $3"
    ))
    .bind(user.user_id)
    .bind(user.principal.is_tenant_admin())
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(stamp)
}

/// Waits until execution `id` has moved past `seen` (another status, another number of log
/// lines), has ended, or `deadline` passes, and returns its stamp then: how the live page and
/// the API's log long polling follow a run. `None`: not visible to this user.
pub async fn wait_for_change(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    id: i64,
    seen: Option<&(String, i64)>,
    deadline: std::time::Instant,
) -> AppResult<Option<(String, i64)>> {
    loop {
        let Some(stamp) = change_stamp(ctx, tenant, user, id).await? else {
            return Ok(None);
        };
        let ended = ExecutionStatus::parse(&stamp.0).is_some_and(ExecutionStatus::is_final);
        if seen != Some(&stamp) || ended || std::time::Instant::now() >= deadline {
            return Ok(Some(stamp));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The file of an artifact this user may download, after recording the download.
pub async fn artifact_file(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    id: i64,
    path: &str,
) -> AppResult<std::path::PathBuf> {
    let missing = || {
        AppError::NotFound(format!(
            "There is no artifact {path:?} of execution {id} here."
        ))
    };
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let removed: Option<(chrono::DateTime<chrono::Utc>, i32)> = sqlx::query_as(&format!(
        "SELECT e.files_removed_at, e.files_kept_days FROM executions e \
         WHERE {MAY_SEE} AND e.id = $3 AND e.files_removed_at IS NOT NULL"
    ))
    .bind(user.user_id)
    .bind(user.principal.is_tenant_admin())
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((at, days)) = removed {
        return Err(AppError::NotFound(storage::removed_note(at, days)));
    }
    let size: i64 = sqlx::query_scalar(&format!(
        "SELECT a.size FROM artifacts a JOIN executions e ON e.id = a.execution_id \
         WHERE {MAY_SEE} AND e.id = $3 AND a.path = $4"
    ))
    .bind(user.user_id)
    .bind(user.principal.is_tenant_admin())
    .bind(id)
    .bind(path)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(missing)?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "artifact.download",
            target: &format!("execution {id}"),
            detail: json!({ "path": path, "size": size }),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    // The path is one the executor listed (relative, no `..`); it is only looked up, never built
    // from user input alone.
    Ok(ctx.artifacts_dir(tenant.id, id).join(path))
}

/// The files uploaded for an earlier execution of skill `slug` (one this user may see), to run
/// it again, except those of `chosen_anew` (the fields given a new file). Only uploads recorded
/// for that execution are read: each under its recorded plain name, inside that execution's own
/// inputs folder, without following a link, and only while its size and hash still match.
pub async fn previous_uploads(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    id: i64,
    slug: &str,
    chosen_anew: &[&str],
) -> AppResult<Vec<Upload>> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    sqlx::query_scalar::<_, i64>(&format!(
        "SELECT e.id FROM executions e JOIN skills s ON s.id = e.skill_id \
         WHERE {MAY_SEE} AND e.id = $3 AND s.slug = $4"
    ))
    .bind(user.user_id)
    .bind(user.principal.is_tenant_admin())
    .bind(id)
    .bind(slug)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("There is no execution {id} of {slug:?} here.")))?;
    let recorded: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT field, file_name, size, sha256 FROM execution_uploads WHERE execution_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let dir = ctx.inputs_dir(tenant.id, id);
    let mut uploads = Vec::new();
    for (field, file_name, size, sha256) in recorded {
        if chosen_anew.contains(&field.as_str()) {
            continue;
        }
        let gone = || {
            AppError::Invalid(format!(
                "{field}: the file of execution {id} is no longer stored; choose it again."
            ))
        };
        // The name was checked when stored (and by the table); checked again, so that a row
        // written some other way can never name a path outside the folder.
        if stored_name(&file_name) != file_name {
            return Err(gone());
        }
        let stored = dir.join(&file_name);
        if tokio::fs::symlink_metadata(&stored)
            .await
            .is_ok_and(|m| m.is_dir())
        {
            return Err(AppError::Invalid(format!(
                "{field}: \"Run again\" does not reuse an uploaded folder; choose the folder \
                 (or its .zip) again."
            )));
        }
        let bytes = read_regular_file(&stored).await.map_err(|_| gone())?;
        if bytes.len() as i64 != size || hex::encode(Sha256::digest(&bytes)) != sha256 {
            return Err(gone());
        }
        uploads.push(Upload {
            field,
            file_name,
            bytes,
        });
    }
    Ok(uploads)
}

/// A regular file's bytes, refusing a symbolic link in its place.
async fn read_regular_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .await?;
    if !file.metadata().await?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).await?;
    Ok(bytes)
}

/// An execution a worker holds the lease of.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub tenant_id: i64,
    pub schema: TenantSchema,
    pub execution_id: i64,
    pub attempt: i32,
    /// The asset's kind as stored (`python`, `shell`; `agent` for a local agent's claim).
    pub kind: String,
    pub content_hash: String,
    pub inputs: Value,
    pub timeout_seconds: i32,
    pub skill_slug: String,
    pub inputs_digest: String,
    /// The skill version's package lock, if it declares packages.
    pub lock_text: Option<String>,
    /// The skill version's input schema and invocation (`args`, `stdin`, `artifacts`), as
    /// stored: what the run's arguments are rendered from.
    pub input_schema: Value,
    pub invocation: Value,
}

impl Claimed {
    fn new(
        tenant_id: i64,
        schema: TenantSchema,
        execution_id: i64,
        attempt: i32,
        start: StartRow,
    ) -> Claimed {
        Claimed {
            tenant_id,
            schema,
            execution_id,
            attempt,
            kind: start.kind,
            content_hash: start.content_hash,
            lock_text: start.lock_text,
            inputs: start.inputs,
            timeout_seconds: start.timeout_seconds,
            skill_slug: start.slug,
            inputs_digest: start.inputs_digest,
            input_schema: start.input_schema,
            invocation: start.invocation,
        }
    }
}

/// How workers claim and hold executions.
#[derive(Clone, Debug)]
pub struct QueuePolicy {
    /// Running executions one tenant may have at once, so one tenant cannot starve the others.
    pub per_tenant_cap: i64,
    /// How long a claim holds without a heartbeat.
    pub lease: Duration,
    pub heartbeat: Duration,
    /// How long a busy worker may hold the execution it reserved to run next; past that (its
    /// current run is a long one) the reservation goes back to the queue, for any worker. Zero:
    /// workers do not reserve. Reservations count against the tenant cap.
    pub reserve_for: Duration,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        QueuePolicy {
            per_tenant_cap: 4,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            reserve_for: Duration::from_millis(500),
        }
    }
}

/// How a worker holds the execution it picks from the queue.
#[derive(Clone, Copy)]
enum Hold {
    /// To run it now.
    Run,
    /// To run it once its current run, in `current_tenant`, ends.
    Reserve { current_tenant: i64 },
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    tenant_id: i64,
    execution_id: i64,
    attempts: i32,
    schema_name: String,
}

#[derive(sqlx::FromRow)]
struct StartRow {
    kind: String,
    content_hash: String,
    inputs: Value,
    inputs_digest: String,
    timeout_seconds: i32,
    slug: String,
    lock_text: Option<String>,
    input_schema: Value,
    invocation: Value,
}

/// Claims the next queued execution, if any: the tenant with the fewest running executions
/// first (under its cap), then the oldest. Marks it running in its tenant, in one transaction.
pub async fn claim_next(
    ctx: &Ctx,
    worker_id: &str,
    policy: &QueuePolicy,
) -> AppResult<Option<Claimed>> {
    let mut tx = ctx.pool.begin_with(BEGIN_WORKER).await?;
    let claimed = claim_in(&mut tx, worker_id, policy).await?;
    tx.commit().await?;
    Ok(claimed)
}

/// [`claim_next`]'s statements, in a transaction that is on the platform side (as after
/// `BEGIN`, or after `leave_schema`); leaves it in the claimed execution's tenant.
async fn claim_in(
    tx: &mut PgConnection,
    worker_id: &str,
    policy: &QueuePolicy,
) -> AppResult<Option<Claimed>> {
    match pick_in(tx, worker_id, policy, Hold::Run).await? {
        Some(claim) => start_claimed(tx, claim, worker_id).await.map(Some),
        None => Ok(None),
    }
}

/// Takes the next queued execution for `worker_id`: the tenant holding the fewest executions
/// first (running or reserved, under its cap), then the oldest. Executions waiting for a local
/// agent are not the platform's to take, nor counted against its cap. A reservation counts
/// the worker's current run as ended: it replaces it.
async fn pick_in(
    tx: &mut PgConnection,
    worker_id: &str,
    policy: &QueuePolicy,
    hold: Hold,
) -> AppResult<Option<ClaimRow>> {
    let (state, current_tenant) = match hold {
        Hold::Run => ("running", None),
        Hold::Reserve { current_tenant } => ("reserved", Some(current_tenant)),
    };
    Ok(sqlx::query_as(
        "WITH held AS ( \
             SELECT tenant_id, count(*) AS n FROM public.execution_queue \
             WHERE state <> 'queued' AND agent_label IS NULL GROUP BY tenant_id), \
         pick AS ( \
             SELECT q.tenant_id, q.execution_id FROM public.execution_queue q \
             JOIN public.tenants t ON t.id = q.tenant_id AND t.status = 'active' \
             LEFT JOIN held h ON h.tenant_id = q.tenant_id \
             WHERE q.state = 'queued' AND q.agent_label IS NULL \
               AND COALESCE(h.n, 0) - (q.tenant_id IS NOT DISTINCT FROM $4)::int < $3 \
             ORDER BY COALESCE(h.n, 0) - (q.tenant_id IS NOT DISTINCT FROM $4)::int, q.queued_at \
             LIMIT 1 FOR UPDATE OF q SKIP LOCKED) \
         UPDATE public.execution_queue q SET state = $5, worker_id = $1, \
             lease_expires_at = now() + make_interval(secs => $2), \
             attempts = q.attempts + ($5 = 'running')::int \
         FROM pick, public.tenants t \
         WHERE q.tenant_id = pick.tenant_id AND q.execution_id = pick.execution_id AND t.id = q.tenant_id \
         RETURNING q.tenant_id, q.execution_id, q.attempts, t.schema_name",
    )
    .bind(worker_id)
    .bind(policy.lease.as_secs_f64())
    .bind(policy.per_tenant_cap)
    .bind(current_tenant)
    .bind(state)
    .fetch_optional(&mut *tx)
    .await?)
}

/// Reserves the execution a worker busy with one in `current_tenant` runs next, and reads what
/// running it needs. It stays `queued` in its tenant until its run starts ([`take_reservation`]).
async fn reserve_next(
    ctx: &Ctx,
    worker_id: &str,
    policy: &QueuePolicy,
    current_tenant: i64,
) -> AppResult<Option<Claimed>> {
    let mut tx = ctx.pool.begin_with(BEGIN_WORKER).await?;
    let hold = Hold::Reserve { current_tenant };
    let Some(row) = pick_in(&mut tx, worker_id, policy, hold).await? else {
        return Ok(None);
    };
    let schema = TenantSchema::parse(&row.schema_name)?;
    enter_schema(&mut tx, &schema).await?;
    let start = read_start(&mut tx, row.execution_id).await?;
    tx.commit().await?;
    // The attempt it becomes when it starts.
    let attempt = row.attempts + 1;
    Ok(Some(Claimed::new(
        row.tenant_id,
        schema,
        row.execution_id,
        attempt,
        start,
    )))
}

/// Turns `worker_id`'s reservation into a claim, in one statement, just before its run
/// starts: from then on a cancellation is that of a running execution. Returns the attempt it
/// is; `None` when the reservation is gone (cancelled meanwhile, or reaped after the worker
/// stalled). Its start is recorded in its tenant afterwards ([`Then::Start`]).
async fn take_reservation(
    ctx: &Ctx,
    reserved: &Claimed,
    worker_id: &str,
    policy: &QueuePolicy,
) -> AppResult<Option<i32>> {
    Ok(sqlx::query_scalar(
        "UPDATE public.execution_queue SET state = 'running', attempts = attempts + 1, \
             lease_expires_at = now() + make_interval(secs => $4) \
         WHERE tenant_id = $1 AND execution_id = $2 AND worker_id = $3 AND state = 'reserved' \
         RETURNING attempts",
    )
    .bind(reserved.tenant_id)
    .bind(reserved.execution_id)
    .bind(worker_id)
    .bind(policy.lease.as_secs_f64())
    .fetch_optional(&ctx.pool)
    .await?)
}

/// [`record_start`] of an execution whose reservation became a claim ([`take_reservation`]).
async fn record_reserved_start(
    tx: &mut PgConnection,
    started: &Claimed,
    worker_id: &str,
) -> AppResult<Option<Claimed>> {
    let claim = ClaimRow {
        tenant_id: started.tenant_id,
        execution_id: started.execution_id,
        attempts: started.attempt,
        schema_name: started.schema.as_str().to_string(),
    };
    record_start(tx, claim, worker_id, true).await
}

/// Gives a reservation back to the queue, and wakes the workers for it.
async fn release_reservation(ctx: &Ctx, reserved: &Claimed, worker_id: &str) -> AppResult<()> {
    sqlx::query(
        "WITH released AS ( \
             UPDATE public.execution_queue SET state = 'queued', worker_id = NULL, lease_expires_at = NULL \
             WHERE tenant_id = $1 AND execution_id = $2 AND worker_id = $3 AND state = 'reserved' \
             RETURNING 1) \
         SELECT pg_notify($4, '') FROM released",
    )
    .bind(reserved.tenant_id)
    .bind(reserved.execution_id)
    .bind(worker_id)
    .bind(QUEUE_CHANNEL)
    .execute(&ctx.pool)
    .await?;
    Ok(())
}

/// Claims the oldest execution of `tenant` waiting for a local agent carrying one of `labels`,
/// for the agent whose lease holder name is `worker_id`. `FOR UPDATE SKIP LOCKED`: of agents
/// racing for one execution, exactly one gets it.
pub(crate) async fn claim_for_agent(
    ctx: &Ctx,
    tenant: &Tenant,
    labels: &[String],
    worker_id: &str,
) -> AppResult<Option<Claimed>> {
    let mut tx = ctx.pool.begin_with(BEGIN_WORKER).await?;
    let claim: Option<ClaimRow> = sqlx::query_as(
        "WITH pick AS ( \
             SELECT q.tenant_id, q.execution_id FROM public.execution_queue q \
             WHERE q.tenant_id = $1 AND q.state = 'queued' AND q.agent_label = ANY($2) \
             ORDER BY q.queued_at LIMIT 1 FOR UPDATE OF q SKIP LOCKED) \
         UPDATE public.execution_queue q SET state = 'running', worker_id = $3, \
             lease_expires_at = now() + make_interval(secs => $4), attempts = q.attempts + 1 \
         FROM pick, public.tenants t \
         WHERE q.tenant_id = pick.tenant_id AND q.execution_id = pick.execution_id \
           AND t.id = q.tenant_id AND t.status = 'active' \
         RETURNING q.tenant_id, q.execution_id, q.attempts, t.schema_name",
    )
    .bind(tenant.id)
    .bind(labels)
    .bind(worker_id)
    .bind(ctx.queue.lease.as_secs_f64())
    .fetch_optional(&mut *tx)
    .await?;
    let claimed = match claim {
        Some(claim) => Some(start_claimed(&mut tx, claim, worker_id).await?),
        None => None,
    };
    tx.commit().await?;
    Ok(claimed)
}

/// Marks a just-claimed execution running in its tenant, with its audit entry, and reads what
/// running it needs. Leaves the transaction in the tenant's schema.
async fn start_claimed(
    tx: &mut PgConnection,
    claim: ClaimRow,
    worker_id: &str,
) -> AppResult<Claimed> {
    record_start(tx, claim, worker_id, false)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a claimed execution is missing")))
}

/// Records in its tenant that an execution started, with the audit entry; `None` when
/// `only_if_queued` and it is no longer queued (cancelled just as its run started: the entry
/// then says so). Leaves the transaction in the tenant's schema.
async fn record_start(
    tx: &mut PgConnection,
    claim: ClaimRow,
    worker_id: &str,
    only_if_queued: bool,
) -> AppResult<Option<Claimed>> {
    let schema = TenantSchema::parse(&claim.schema_name)?;
    enter_schema(tx, &schema).await?;
    // The state change and its audit entry in one statement (one round trip); the entry is
    // what audit::record writes. Its result is the status the execution had when it was not
    // started (the audit part sees the rows as they were before the update).
    let actor = Actor::worker(worker_id);
    let start: Option<StartRow> = sqlx::query_as(
        "WITH started AS ( \
             UPDATE executions e SET status = 'running', started_at = now(), attempts = $2 \
             FROM skill_versions v, asset_versions av, assets a, skills s \
             WHERE e.id = $1 AND v.id = e.skill_version_id AND av.id = v.asset_version_id \
               AND a.id = av.asset_id AND s.id = e.skill_id AND (NOT $8 OR e.status = 'queued') \
             RETURNING a.kind, av.content_hash, e.inputs, e.inputs_digest, v.timeout_seconds, s.slug, \
                 v.lock_text, v.input_schema, v.invocation), \
         audited AS ( \
             INSERT INTO audit_log (actor, action, target, detail, result, ip, user_agent) \
             SELECT $3, 'execution.start', $4, jsonb_build_object('skill', s.slug, 'attempt', $2, \
                 'worker', $5::text, 'inputs_digest', e.inputs_digest), \
                 CASE WHEN EXISTS (SELECT FROM started) THEN 'ok' ELSE e.status END, $6, $7 \
             FROM executions e JOIN skills s ON s.id = e.skill_id WHERE e.id = $1) \
         SELECT * FROM started",
    )
    .bind(claim.execution_id)
    .bind(claim.attempts)
    .bind(&actor.name)
    .bind(format!("execution {}", claim.execution_id))
    .bind(worker_id)
    .bind(&actor.meta.ip)
    .bind(&actor.meta.user_agent)
    .bind(only_if_queued)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(start.map(|start| {
        Claimed::new(
            claim.tenant_id,
            schema,
            claim.execution_id,
            claim.attempts,
            start,
        )
    }))
}

/// What running execution `id` needs, read in its tenant's schema.
async fn read_start(tx: &mut PgConnection, id: i64) -> AppResult<StartRow> {
    Ok(sqlx::query_as(
        "SELECT a.kind, av.content_hash, e.inputs, e.inputs_digest, v.timeout_seconds, s.slug, \
         v.lock_text, v.input_schema, v.invocation \
         FROM executions e JOIN skill_versions v ON v.id = e.skill_version_id \
         JOIN asset_versions av ON av.id = v.asset_version_id JOIN assets a ON a.id = av.asset_id \
         JOIN skills s ON s.id = e.skill_id WHERE e.id = $1",
    )
    .bind(id)
    .fetch_one(tx)
    .await?)
}

/// Renews a claim's lease. `false`: the claim is gone (cancelled, or reaped after a stall), and
/// the worker must stop the run.
pub async fn heartbeat(
    ctx: &Ctx,
    claimed: &Claimed,
    worker_id: &str,
    policy: &QueuePolicy,
) -> AppResult<bool> {
    renew_lease(
        ctx,
        claimed.tenant_id,
        claimed.execution_id,
        worker_id,
        policy.lease,
    )
    .await
}

/// [`heartbeat`] by ids, for a local agent's renewal.
pub(crate) async fn renew_lease(
    ctx: &Ctx,
    tenant_id: i64,
    execution_id: i64,
    worker_id: &str,
    lease: Duration,
) -> AppResult<bool> {
    let renewed = sqlx::query(
        "UPDATE public.execution_queue SET lease_expires_at = now() + make_interval(secs => $4) \
         WHERE tenant_id = $1 AND execution_id = $2 AND worker_id = $3 AND state <> 'queued'",
    )
    .bind(tenant_id)
    .bind(execution_id)
    .bind(worker_id)
    .bind(lease.as_secs_f64())
    .execute(&ctx.pool)
    .await?
    .rows_affected();
    Ok(renewed == 1)
}

/// The execution `worker_id` holds the lease of in `tenant`, as its claim returned it; another
/// holder's, or one no longer held (cancelled, reaped), is a conflict.
pub(crate) async fn held_claim(
    ctx: &Ctx,
    tenant: &Tenant,
    execution_id: i64,
    worker_id: &str,
) -> AppResult<Claimed> {
    let mut tx = ctx.pool.begin().await?;
    let attempt: Option<i32> = sqlx::query_scalar(
        "SELECT attempts FROM public.execution_queue \
         WHERE tenant_id = $1 AND execution_id = $2 AND worker_id = $3 AND state = 'running'",
    )
    .bind(tenant.id)
    .bind(execution_id)
    .bind(worker_id)
    .fetch_optional(&mut *tx)
    .await?;
    let attempt = attempt.ok_or_else(|| {
        AppError::Conflict(format!(
            "Execution {execution_id} is not held by this agent (cancelled, finished, or its \
             lease ran out and it was queued again)."
        ))
    })?;
    enter_schema(&mut tx, &tenant.schema).await?;
    let start = read_start(&mut tx, execution_id).await?;
    tx.commit().await?;
    Ok(Claimed::new(
        tenant.id,
        tenant.schema.clone(),
        execution_id,
        attempt,
        start,
    ))
}

/// Re-queues executions whose worker stopped renewing its lease; after `MAX_ATTEMPTS` they fail
/// with `worker lost`. Returns how many were handled.
pub async fn reap_expired(ctx: &Ctx) -> AppResult<usize> {
    // Reservations only: their executions never started, so they are simply queued again.
    let released: i64 = sqlx::query_scalar(
        "WITH released AS ( \
             UPDATE public.execution_queue SET state = 'queued', worker_id = NULL, lease_expires_at = NULL \
             WHERE state = 'reserved' AND lease_expires_at < now() RETURNING 1) \
         SELECT count(*) FROM released",
    )
    .fetch_one(&ctx.pool)
    .await?;
    if released > 0 {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(QUEUE_CHANNEL)
            .execute(&ctx.pool)
            .await?;
    }
    let mut handled = released as usize;
    loop {
        let mut tx = ctx.pool.begin().await?;
        let expired: Option<ClaimRow> = sqlx::query_as(
            "SELECT q.tenant_id, q.execution_id, q.attempts, t.schema_name \
             FROM public.execution_queue q JOIN public.tenants t ON t.id = q.tenant_id \
             WHERE q.state = 'running' AND q.lease_expires_at < now() \
             ORDER BY q.lease_expires_at LIMIT 1 FOR UPDATE OF q SKIP LOCKED",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(expired) = expired else {
            return Ok(handled);
        };
        let retry = expired.attempts < MAX_ATTEMPTS;
        if retry {
            sqlx::query(
                "UPDATE public.execution_queue SET state = 'queued', worker_id = NULL, lease_expires_at = NULL \
                 WHERE tenant_id = $1 AND execution_id = $2",
            )
        } else {
            sqlx::query("DELETE FROM public.execution_queue WHERE tenant_id = $1 AND execution_id = $2")
        }
        .bind(expired.tenant_id)
        .bind(expired.execution_id)
        .execute(&mut *tx)
        .await?;
        enter_schema(&mut tx, &TenantSchema::parse(&expired.schema_name)?).await?;
        let (status, reason) = if retry {
            (
                "queued",
                format!(
                    "worker lost during attempt {}; queued again",
                    expired.attempts
                ),
            )
        } else {
            (
                "failed",
                format!("failed: worker lost ({} attempts)", expired.attempts),
            )
        };
        let digest: Option<String> = sqlx::query_scalar(
            "UPDATE executions SET status = $2, reason = $3, \
             finished_at = CASE WHEN $2 = 'failed' THEN now() END WHERE id = $1 AND status = 'running' \
             RETURNING inputs_digest",
        )
        .bind(expired.execution_id)
        .bind(status)
        .bind(&reason)
        .fetch_optional(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            AuditLog::Tenant,
            &Actor::system(),
            Event {
                action: if retry {
                    "execution.requeue"
                } else {
                    "execution.fail"
                },
                target: &format!("execution {}", expired.execution_id),
                detail: json!({ "reason": reason, "attempts": expired.attempts, "inputs_digest": digest }),
                result: status,
            },
        )
        .await?;
        if retry {
            leave_schema(&mut tx).await?;
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(QUEUE_CHANNEL)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        handled += 1;
    }
}

/// Runs one claimed execution to its end: work directory, sandboxed run with live log lines and
/// heartbeats, artifacts, final status.
pub async fn run_claimed(
    ctx: &Ctx,
    executors: &Executors,
    claimed: Claimed,
    worker_id: &str,
    policy: &QueuePolicy,
) -> AppResult<ExecutionStatus> {
    let mut turn = Turn::claimed(claimed);
    let exited = tokio::sync::oneshot::channel().0;
    let ran = run_execution(ctx, executors, &mut turn, worker_id, policy, exited).await?;
    let (status, _) = record_end(ctx, &turn.claimed, worker_id, ran, Then::Stop).await?;
    Ok(status)
}

/// How a run on the platform went, to be recorded by [`record_end`].
enum Ran {
    /// No executor for the skill's kind; nothing was started.
    NoExecutor,
    /// The executor could not set the run up (logged).
    ExecutorFailed,
    /// The script ran; how it ended.
    Ended(RunOutcome),
}

/// Runs a claimed (or reserved) execution in the sandbox, with live log lines and heartbeats;
/// `work_ready`: its work folder is made already. Setting `cancel` stops the run; so does a
/// heartbeat that finds the claim gone.
async fn run_execution(
    ctx: &Ctx,
    executors: &Executors,
    turn: &mut Turn,
    worker_id: &str,
    policy: &QueuePolicy,
    exited: tokio::sync::oneshot::Sender<()>,
) -> AppResult<Ran> {
    let claimed = &turn.claimed;
    // Checked before anything is started for the run: the heartbeats below would otherwise hold
    // a claim no executor can run.
    let Some(kind) = AssetKind::parse(&claimed.kind) else {
        tracing::error!(
            kind = claimed.kind,
            execution = claimed.execution_id,
            "no executor"
        );
        return Ok(Ran::NoExecutor);
    };
    if !turn.work_ready {
        prepare_claimed_work_dir(ctx, claimed).await?;
    }
    let (log_tx, log_rx) = mpsc::unbounded_channel();
    let logs = tokio::spawn(store_log_lines(ctx.clone(), claimed.clone(), log_rx));
    let beats = {
        let (ctx, claimed, worker_id, policy, cancel) = (
            ctx.clone(),
            claimed.clone(),
            worker_id.to_string(),
            policy.clone(),
            turn.cancel.clone(),
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(policy.heartbeat).await;
                match heartbeat(&ctx, &claimed, &worker_id, &policy).await {
                    Ok(true) => {}
                    Ok(false) => {
                        cancel.send_replace(true);
                        return;
                    }
                    Err(err) => tracing::warn!(%err, "heartbeat failed; retrying"),
                }
            }
        })
    };
    let mut cancel = turn.cancel.subscribe();
    let prepared = match turn.prepared.take() {
        Some(prepared) => Ok(Some(prepared)),
        None => prepare_run(ctx, executors, claimed, kind, Some(&mut cancel)).await,
    };
    let outcome = match prepared {
        Ok(Some(prepared)) => {
            executors
                .run_prepared(prepared, log_tx, cancel, Some(exited))
                .await
        }
        Ok(None) => Ok(RunOutcome::cancelled_before_start()),
        Err(err) => Err(err),
    };
    beats.abort();
    // The log writer ends when the executor drops its sender.
    logs.await.ok();
    Ok(match outcome {
        Ok(outcome) => Ran::Ended(outcome),
        Err(err) => {
            tracing::error!(%err, execution = claimed.execution_id, "executor failed");
            Ran::ExecutorFailed
        }
    })
}

/// Records how a run went (see [`finish_with`] for `then`), then removes its work folder.
async fn record_end(
    ctx: &Ctx,
    claimed: &Claimed,
    worker_id: &str,
    ran: Ran,
    then: Then<'_>,
) -> AppResult<(ExecutionStatus, Option<Claimed>)> {
    let work = attempt_work_dir(ctx, claimed);
    let failed = |reason: &'static str| {
        let status = ExecutionStatus::Failed;
        finish_with(
            ctx,
            claimed,
            worker_id,
            status,
            Some(reason),
            &NO_DETAIL,
            then,
        )
    };
    let ended = match ran {
        Ran::Ended(outcome) => finish(ctx, claimed, worker_id, &work, outcome, then).await,
        Ran::NoExecutor => failed("no executor on the platform for this skill's kind").await,
        Ran::ExecutorFailed => failed("the executor could not run the script").await,
    };
    tokio::fs::remove_dir_all(&work).await.ok();
    ended
}

/// What the executor is asked to run for one execution, on the platform or on a local agent:
/// the skill's timeout bounds both wall clock and CPU time, the rest are platform defaults; the
/// script sees only the documented `EXECGOV_*` variables.
pub fn run_request<'a>(
    kind: AssetKind,
    script_dir: &'a std::path::Path,
    work_dir: &'a std::path::Path,
    execution_id: i64,
    skill_slug: &str,
    timeout_seconds: i32,
) -> RunRequest<'a> {
    let seconds = timeout_seconds.max(1) as u64;
    RunRequest {
        kind,
        script_dir,
        work_dir,
        env: vec![
            ("EXECGOV_EXECUTION_ID".to_string(), execution_id.to_string()),
            ("EXECGOV_SKILL".to_string(), skill_slug.to_string()),
        ],
        args: Vec::new(),
        stdin: Vec::new(),
        artifacts: Vec::new(),
        limits: Limits {
            wall: Duration::from_secs(seconds),
            cpu_seconds: seconds,
            ..Limits::default()
        },
        environment: None,
    }
}

/// Puts a claimed execution's run (its work folder made) into its sandbox: see
/// [`Executors::prepare`]; with no `cancel`, only in a sandbox started ahead, without waiting
/// ([`Executors::prepare_if_ready`]).
async fn prepare_run(
    ctx: &Ctx,
    executors: &Executors,
    claimed: &Claimed,
    kind: AssetKind,
    cancel: Option<&mut watch::Receiver<bool>>,
) -> anyhow::Result<Option<Prepared>> {
    let work = attempt_work_dir(ctx, claimed);
    let script_dir = skills::asset_dir(ctx, claimed.tenant_id, &claimed.content_hash);
    let mut request = run_request(
        kind,
        &script_dir,
        &work,
        claimed.execution_id,
        &claimed.skill_slug,
        claimed.timeout_seconds,
    );
    if let Some(lock) = &claimed.lock_text {
        let may_build = cancel.is_some();
        request.environment = Some(crate::environments::for_run(ctx, lock, may_build).await?);
    }
    invocation::apply(&mut request, claimed, executors.config().enabled)?;
    match cancel {
        Some(cancel) => executors.prepare(request, cancel).await,
        None => executors.prepare_if_ready(request).await,
    }
}

/// Where one attempt at a claimed execution has its work folder: a folder per attempt, so that
/// a worker that lost its lease (and goes on until it notices) never touches the folder of the
/// attempt that replaced it.
pub(crate) fn attempt_work_dir(ctx: &Ctx, claimed: &Claimed) -> std::path::PathBuf {
    ctx.work_dir(claimed.tenant_id, claimed.execution_id)
        .with_file_name(format!("{}.{}", claimed.execution_id, claimed.attempt))
}

/// [`prepare_work_dir`] for a claimed execution, in its place under the data directory.
async fn prepare_claimed_work_dir(ctx: &Ctx, claimed: &Claimed) -> AppResult<()> {
    let work = attempt_work_dir(ctx, claimed);
    let uploads = ctx.inputs_dir(claimed.tenant_id, claimed.execution_id);
    prepare_work_dir(&work, &claimed.inputs, &uploads).await
}

/// A fresh work directory: `inputs.json`, the uploads under `files/`, an empty `output/`; in
/// one trip to the blocking pool.
pub async fn prepare_work_dir(
    work: &std::path::Path,
    inputs: &Value,
    uploads: &std::path::Path,
) -> AppResult<()> {
    let inputs = serde_json::to_vec_pretty(inputs).map_err(|e| AppError::Internal(e.into()))?;
    let (work, uploads) = (work.to_path_buf(), uploads.to_path_buf());
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if std::fs::exists(&work)? {
            // A previous attempt's leftovers: start clean.
            std::fs::remove_dir_all(&work)?;
        }
        std::fs::create_dir_all(work.join("output"))?;
        std::fs::create_dir_all(work.join("files"))?;
        if let Ok(entries) = std::fs::read_dir(&uploads) {
            for entry in entries {
                let entry = entry?;
                let to = work.join("files").join(entry.file_name());
                if entry.file_type()?.is_dir() {
                    // A folder input, as the server unpacked it (regular files only).
                    uploads::copy_folder(&entry.path(), &to)?;
                } else {
                    std::fs::copy(entry.path(), to)?;
                }
            }
        }
        std::fs::write(work.join("inputs.json"), inputs)
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))??;
    Ok(())
}

/// Writes log lines as they come, in small batches, each batch in one tenant transaction.
async fn store_log_lines(ctx: Ctx, claimed: Claimed, mut rx: mpsc::UnboundedReceiver<LogLine>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 200 {
            match rx.try_recv() {
                Ok(line) => batch.push(line),
                Err(_) => break,
            }
        }
        if let Err(err) = append_log_lines(&ctx, &claimed, batch).await {
            tracing::warn!(%err, execution = claimed.execution_id, "could not store log lines");
        }
    }
}

/// Stores a batch of a claimed execution's log lines, in one tenant transaction.
pub(crate) async fn append_log_lines(
    ctx: &Ctx,
    claimed: &Claimed,
    batch: Vec<LogLine>,
) -> AppResult<()> {
    let (streams, lines): (Vec<&str>, Vec<String>) = batch
        .into_iter()
        .map(|l| (l.stream.as_str(), l.line))
        .unzip();
    let mut tx = TenantTx::begin(&ctx.pool, &claimed.schema).await?;
    sqlx::query(
        "INSERT INTO execution_logs (execution_id, stream, line) \
         SELECT $1, s, l FROM unnest($2::text[], $3::text[]) AS x(s, l)",
    )
    .bind(claimed.execution_id)
    .bind(&streams)
    .bind(&lines)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_keep_a_safe_base_name() {
        assert_eq!(stored_name("sales.csv"), "sales.csv");
        assert_eq!(stored_name("../../etc/passwd"), "passwd");
        assert_eq!(stored_name("C:\\Users\\me\\my report.csv"), "my_report.csv");
        assert_eq!(stored_name(".bashrc"), "bashrc");
        assert_eq!(stored_name(""), "upload");
        assert_eq!(stored_name("..."), "upload");
    }

    #[test]
    fn the_inputs_digest_does_not_depend_on_key_order() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":"x"}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":"x","a":1}"#).unwrap();
        assert_eq!(inputs_digest(&a), inputs_digest(&b));
    }
}

/// The detail of a run that ended before its script could run.
static NO_DETAIL: FinishDetail = FinishDetail {
    exit_code: None,
    result: None,
    stdout_truncated: false,
    stderr_truncated: false,
    artifacts: Vec::new(),
    output: None,
    written_outside: Vec::new(),
    written_outside_count: 0,
};

struct FinishDetail {
    exit_code: Option<i32>,
    /// `result.json` as the script wrote it.
    result: Option<String>,
    stdout_truncated: bool,
    stderr_truncated: bool,
    artifacts: Vec<(String, u64)>,
    /// The `output/` folder whose files are the artifacts: moved to their place for download
    /// by the transaction that records the end, once it holds the claim.
    output: Option<std::path::PathBuf>,
    /// New files the script left outside `output/` that no glob collected (the first few),
    /// and how many.
    written_outside: Vec<String>,
    written_outside_count: i32,
}

/// Records a run's outcome (its artifacts moved from the work directory's `output/` to their
/// place for download, while the claim is still the worker's): [`finish_with`].
pub(crate) async fn finish(
    ctx: &Ctx,
    claimed: &Claimed,
    worker_id: &str,
    work: &std::path::Path,
    outcome: RunOutcome,
    then: Then<'_>,
) -> AppResult<(ExecutionStatus, Option<Claimed>)> {
    let mut status = match outcome.status {
        RunStatus::Succeeded => ExecutionStatus::Succeeded,
        RunStatus::Failed => ExecutionStatus::Failed,
        RunStatus::TimedOut => ExecutionStatus::TimedOut,
        RunStatus::Cancelled => ExecutionStatus::Cancelled,
    };
    let mut refusal = None;
    if status == ExecutionStatus::Succeeded && !outcome.artifacts.is_empty() {
        let bytes = outcome.artifacts.iter().map(|a| a.size as i64).sum();
        // A result without its files is not a success: the run fails, saying why.
        refusal =
            storage::artifacts_refusal(ctx, claimed.tenant_id, claimed.execution_id, bytes).await?;
        if refusal.is_some() {
            status = ExecutionStatus::Failed;
        }
    }
    let mut artifacts = Vec::new();
    let mut output = None;
    if status == ExecutionStatus::Succeeded && !outcome.artifacts.is_empty() {
        output = Some(work.join("output"));
        artifacts = outcome
            .artifacts
            .iter()
            .map(|a| (a.path.clone(), a.size))
            .collect();
    }
    // A success needs no explanation; anything else always gets one.
    let reason = refusal
        .or_else(|| outcome.reason.clone())
        .or_else(|| (status != ExecutionStatus::Succeeded).then(|| status.as_str().to_string()));
    let detail = FinishDetail {
        exit_code: outcome.exit_code,
        result: outcome.result,
        stdout_truncated: outcome.stdout_truncated,
        stderr_truncated: outcome.stderr_truncated,
        artifacts,
        output,
        written_outside: outcome.written_outside,
        written_outside_count: i32::try_from(outcome.written_outside_count).unwrap_or(i32::MAX),
    };
    finish_with(
        ctx,
        claimed,
        worker_id,
        status,
        reason.as_deref(),
        &detail,
        then,
    )
    .await
}

/// What the transaction that records the end of a run does next for its worker.
#[derive(Clone, Copy)]
pub(crate) enum Then<'a> {
    /// Nothing more.
    Stop,
    /// Claims the worker's next execution under this policy.
    Claim(&'a QueuePolicy),
    /// Records the start of the execution the worker reserved and has started already
    /// ([`take_reservation`]); `None` comes back when it was cancelled meanwhile.
    Start(&'a Claimed),
}

/// Records the end of a run, unless the execution was cancelled or reaped meanwhile (then the
/// worker's result is dropped: the claim was no longer its own); then, in the same transaction,
/// what `then` says. Should that combination fail, the end is recorded on its own, then a
/// reserved execution's start is recorded in a transaction of its own; nothing is claimed.
/// Returns the worker's next execution, recorded as running, if any.
async fn finish_with(
    ctx: &Ctx,
    claimed: &Claimed,
    worker_id: &str,
    status: ExecutionStatus,
    reason: Option<&str>,
    detail: &FinishDetail,
    then: Then<'_>,
) -> AppResult<(ExecutionStatus, Option<Claimed>)> {
    if !matches!(then, Then::Stop) {
        match finish_in_tx(ctx, claimed, worker_id, status, reason, detail, then).await {
            Ok(done) => return Ok(done),
            Err(err) => {
                tracing::warn!(%err, execution = claimed.execution_id, "finishing and taking the next failed; finishing alone")
            }
        }
    }
    let (ended, _) =
        finish_in_tx(ctx, claimed, worker_id, status, reason, detail, Then::Stop).await?;
    let next = match then {
        Then::Start(started) => {
            let mut tx = ctx.pool.begin_with(BEGIN_WORKER).await?;
            let started = record_reserved_start(&mut tx, started, worker_id).await?;
            tx.commit().await?;
            started
        }
        Then::Stop | Then::Claim(_) => None,
    };
    Ok((ended, next))
}

#[allow(clippy::too_many_arguments)]
async fn finish_in_tx(
    ctx: &Ctx,
    claimed: &Claimed,
    worker_id: &str,
    status: ExecutionStatus,
    reason: Option<&str>,
    detail: &FinishDetail,
    then: Then<'_>,
) -> AppResult<(ExecutionStatus, Option<Claimed>)> {
    let mut tx = ctx.pool.begin_with(BEGIN_WORKER).await?;
    let held = sqlx::query(
        "DELETE FROM public.execution_queue WHERE tenant_id = $1 AND execution_id = $2 AND worker_id = $3",
    )
    .bind(claimed.tenant_id)
    .bind(claimed.execution_id)
    .bind(worker_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    enter_schema(&mut tx, &claimed.schema).await?;
    let ended = if held == 0 {
        let current: String = sqlx::query_scalar("SELECT status FROM executions WHERE id = $1")
            .bind(claimed.execution_id)
            .fetch_one(&mut *tx)
            .await?;
        ExecutionStatus::parse(&current)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown status {current:?}")))?
    } else {
        // The queue row, deleted by this transaction, stays locked until it ends: the reaper
        // cannot hand the execution to another attempt while the artifacts move.
        // Already moved when this is the retry of a combined transaction that failed.
        let output = match &detail.output {
            Some(output) if tokio::fs::try_exists(output).await? => Some(output),
            _ => None,
        };
        if let Some(output) = output {
            let target = ctx.artifacts_dir(claimed.tenant_id, claimed.execution_id);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::remove_dir_all(&target).await.ok();
            tokio::fs::rename(output, &target).await?;
        }
        // The state change, the artifacts and the audit entry (what audit::record writes) in
        // one statement: one round trip.
        let actor = Actor::worker(worker_id);
        let (paths, sizes): (Vec<&str>, Vec<i64>) = detail
            .artifacts
            .iter()
            .map(|(path, size)| (path.as_str(), *size as i64))
            .unzip();
        sqlx::query(
            "WITH finished AS ( \
                 UPDATE executions SET status = $2, reason = $3, exit_code = $4, result = $5, \
                 stdout_truncated = $6, stderr_truncated = $7, finished_at = now(), \
                 written_outside = $15, written_outside_count = $16 WHERE id = $1), \
             stored AS ( \
                 INSERT INTO artifacts (execution_id, path, size) \
                 SELECT $1, path, size FROM unnest($8::text[], $9::bigint[]) AS x(path, size)) \
             INSERT INTO audit_log (actor, action, target, detail, result, ip, user_agent) \
             VALUES ($10, 'execution.finish', $11, $12, $2, $13, $14)",
        )
        .bind(claimed.execution_id)
        .bind(status.as_str())
        .bind(reason)
        .bind(detail.exit_code)
        .bind(&detail.result)
        .bind(detail.stdout_truncated)
        .bind(detail.stderr_truncated)
        .bind(&paths)
        .bind(&sizes)
        .bind(&actor.name)
        .bind(format!("execution {}", claimed.execution_id))
        .bind(json!({
            "skill": claimed.skill_slug,
            "status": status.as_str(),
            "reason": reason,
            "exit_code": detail.exit_code,
            "artifacts": detail.artifacts.len(),
            "inputs_digest": claimed.inputs_digest,
        }))
        .bind(&actor.meta.ip)
        .bind(&actor.meta.user_agent)
        .bind(&detail.written_outside)
        .bind(detail.written_outside_count)
        .execute(&mut *tx)
        .await?;
        status
    };
    let next = match then {
        Then::Stop => None,
        Then::Claim(policy) => {
            leave_schema(&mut tx).await?;
            claim_in(&mut tx, worker_id, policy).await?
        }
        Then::Start(started) => {
            leave_schema(&mut tx).await?;
            record_reserved_start(&mut tx, started, worker_id).await?
        }
    };
    tx.commit().await?;
    Ok((ended, next))
}

/// The execution pool of one server process: `count` workers and a reaper.
pub fn start_workers(ctx: Ctx, executors: Arc<Executors>, count: usize, policy: QueuePolicy) {
    let process = format!("{}-{}", hostname(), std::process::id());
    // One LISTEN connection per process wakes the idle workers (and agents' long polls); none of
    // them holds a pool connection while it waits.
    let wake = ctx.queue_wake.clone();
    tokio::spawn(listen_for_work(ctx.clone(), wake.clone()));
    for n in 0..count {
        let (ctx, executors, policy, wake) =
            (ctx.clone(), executors.clone(), policy.clone(), wake.clone());
        let worker_id = format!("{process}-w{n}");
        tokio::spawn(async move { work_loop(ctx, executors, worker_id, policy, wake).await });
    }
    tokio::spawn(async move {
        // Until the server closes the pool on shutdown (then a failure is no news).
        while !ctx.pool.is_closed() {
            if let Err(err) = reap_expired(&ctx).await {
                if !ctx.pool.is_closed() {
                    tracing::warn!(%err, "reaper failed");
                }
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
}

/// Turns the queue's NOTIFY into a wake-up of every idle worker of this process.
async fn listen_for_work(ctx: Ctx, wake: Arc<Notify>) {
    while !ctx.pool.is_closed() {
        let err = listen_until_error(&ctx, &wake).await;
        if ctx.pool.is_closed() {
            break;
        }
        tracing::warn!(%err, "queue listener failed; retrying");
        // Workers poll meanwhile; wake them in case a notification was lost.
        wake.notify_waiters();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Listens on the queue channel until the connection fails; returns why.
async fn listen_until_error(ctx: &Ctx, wake: &Notify) -> sqlx::Error {
    let mut listener = match PgListener::connect_with(&ctx.pool).await {
        Ok(listener) => listener,
        Err(err) => return err,
    };
    if let Err(err) = listener.listen(QUEUE_CHANNEL).await {
        return err;
    }
    loop {
        if let Err(err) = listener.recv().await {
            return err;
        }
        wake.notify_waiters();
    }
}

async fn work_loop(
    ctx: Ctx,
    executors: Arc<Executors>,
    worker_id: String,
    policy: QueuePolicy,
    wake: Arc<Notify>,
) {
    // Taken by the previous turn: reserved while it ran, or claimed when its end was recorded.
    let mut next: Option<Turn> = None;
    while !ctx.pool.is_closed() {
        // Registered before claiming, so a NOTIFY between "nothing queued" and the wait below
        // is not lost.
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let turn = match next.take() {
            Some(turn) => turn,
            None => match claim_next(&ctx, &worker_id, &policy).await {
                Ok(Some(claimed)) => Turn::claimed(claimed),
                Ok(None) => {
                    // Idle: wait for a wake-up, or poll now and then in case one was missed.
                    let _ = tokio::time::timeout(Duration::from_secs(2), notified).await;
                    continue;
                }
                Err(err) => {
                    tracing::warn!(%err, "claiming failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        next = take_turn(&ctx, &executors, turn, &worker_id, &policy).await;
    }
}

/// One execution for a platform worker to run.
struct Turn {
    claimed: Claimed,
    /// Its work folder is made (a reserved execution's, while the previous turn ran).
    work_ready: bool,
    /// Its run, put into a sandbox started ahead while the previous turn ran.
    prepared: Option<Prepared>,
    /// Stops the run.
    cancel: Arc<watch::Sender<bool>>,
    /// For a reserved execution, started before its start is recorded: the task recording the
    /// previous turn's end and this one's start. It cancels this run when the reservation
    /// turns out to be gone, and must be done before this run's end is recorded.
    recording: Option<tokio::task::JoinHandle<()>>,
}

impl Turn {
    fn claimed(claimed: Claimed) -> Turn {
        Turn {
            claimed,
            work_ready: false,
            prepared: None,
            cancel: Arc::new(watch::channel(false).0),
            recording: None,
        }
    }
}

/// Runs a turn's execution, reserving the next one meanwhile; returns the next turn: the
/// reserved execution, whose run starts at once while this end (and its start) is recorded in
/// the background, or one claimed by the transaction that records this end.
async fn take_turn(
    ctx: &Ctx,
    executors: &Arc<Executors>,
    mut turn: Turn,
    worker_id: &str,
    policy: &QueuePolicy,
) -> Option<Turn> {
    let recording = turn.recording.take();
    let (exited, script_exited) = tokio::sync::oneshot::channel();
    let ahead = (!policy.reserve_for.is_zero()).then(|| {
        let (ctx, executors) = (ctx.clone(), executors.clone());
        let (worker_id, policy) = (worker_id.to_string(), policy.clone());
        let current_tenant = turn.claimed.tenant_id;
        tokio::spawn(reserve_ahead(
            ctx,
            executors,
            worker_id,
            policy,
            current_tenant,
            script_exited,
        ))
    });
    // Once the script has ended, the reservation becomes the worker's next claim while the run
    // is cleaned up after; first, so that a cancellation that came meanwhile wins.
    let take_next = async {
        let reserved = ahead?.await.ok().flatten()?;
        let claimed = &reserved.claimed;
        match take_reservation(ctx, claimed, worker_id, policy).await {
            Ok(Some(attempt)) => {
                let mut next = Turn::claimed(Claimed {
                    attempt,
                    ..reserved.claimed
                });
                next.work_ready = true;
                next.prepared = reserved.prepared;
                Some(next)
            }
            Ok(None) => {
                // Cancelled meanwhile.
                reserved.discard(ctx).await;
                None
            }
            Err(err) => {
                let execution = claimed.execution_id;
                tracing::warn!(%err, execution, "taking a reservation failed");
                reserved.give_back(ctx, worker_id).await;
                None
            }
        }
    };
    // The run goes on in a task of its own, so that its cleanup after the script does not hold
    // up the next one.
    let run = {
        let (ctx, executors) = (ctx.clone(), executors.clone());
        let (worker_id, policy) = (worker_id.to_string(), policy.clone());
        tokio::spawn(async move {
            let ran = run_execution(&ctx, &executors, &mut turn, &worker_id, &policy, exited).await;
            (ran, turn.claimed)
        })
    };
    let next = take_next.await;
    let (ctx, worker_id) = (ctx.clone(), worker_id.to_string());
    // How the run went, once it has ended and the previous end is recorded; `None` when it
    // could not be set up (then it is left running: the reaper queues it again once its lease
    // runs out).
    let ended = async move {
        let (ran, claimed) = run.await.ok()?;
        if let Some(recording) = recording {
            recording.await.ok();
        }
        match ran {
            Ok(ran) => Some((ran, claimed)),
            Err(err) => {
                let execution = claimed.execution_id;
                tracing::error!(%err, execution, "the run could not be set up");
                None
            }
        }
    };
    let Some(mut next) = next else {
        let (ran, claimed) = ended.await?;
        return match record_end(&ctx, &claimed, &worker_id, ran, Then::Claim(policy)).await {
            Ok((_, next)) => next.map(Turn::claimed),
            Err(err) => {
                tracing::error!(%err, execution = claimed.execution_id, "execution could not be finished");
                None
            }
        };
    };
    // Its run starts now; this end and its start are recorded meanwhile.
    let (started, cancel) = (next.claimed.clone(), next.cancel.clone());
    next.recording = Some(tokio::spawn(async move {
        // A run that was never set up took no reservation: `ended` is always there.
        let recorded = match ended.await {
            Some((ran, claimed)) => {
                let then = Then::Start(&started);
                match record_end(&ctx, &claimed, &worker_id, ran, then).await {
                    Ok((_, recorded)) => recorded.is_some(),
                    Err(err) => {
                        let execution = claimed.execution_id;
                        tracing::error!(%err, execution, "execution could not be finished");
                        false
                    }
                }
            }
            None => false,
        };
        if !recorded {
            // Cancelled as it started (or its start could not be recorded): stop it.
            cancel.send_replace(true);
        }
    }));
    Some(next)
}

/// An execution reserved while the worker's current run goes on, its work folder made and,
/// when a sandbox started ahead was free, its run put into it.
struct Reserved {
    claimed: Claimed,
    prepared: Option<Prepared>,
}

impl Reserved {
    /// Undoes what was made for it: the prepared run (its work folder back), then the folder.
    async fn discard(self, ctx: &Ctx) {
        if let Some(prepared) = self.prepared {
            // Dropping it kills the sandbox and moves the folder back: blocking work.
            tokio::task::spawn_blocking(move || drop(prepared))
                .await
                .ok();
        }
        let claimed = &self.claimed;
        let work = attempt_work_dir(ctx, claimed);
        tokio::fs::remove_dir_all(&work).await.ok();
    }

    /// [`Reserved::discard`], and the reservation given back to the queue.
    async fn give_back(self, ctx: &Ctx, worker_id: &str) {
        let claimed = self.claimed.clone();
        self.discard(ctx).await;
        if let Err(err) = release_reservation(ctx, &claimed, worker_id).await {
            let execution = claimed.execution_id;
            tracing::warn!(%err, execution, "giving a reservation back failed; the reaper will, once its lease runs out");
        }
    }
}

/// While the worker's current run (in `current_tenant`) goes on, reserves the next execution,
/// makes its work folder and puts its run into a sandbox started ahead, if one is free. Returns
/// it once the current script has ended (`script_exited`), if that is within
/// [`QueuePolicy::reserve_for`]; past that, gives it back to the queue.
async fn reserve_ahead(
    ctx: Ctx,
    executors: Arc<Executors>,
    worker_id: String,
    policy: QueuePolicy,
    current_tenant: i64,
    script_exited: tokio::sync::oneshot::Receiver<()>,
) -> Option<Reserved> {
    let deadline = tokio::time::Instant::now() + policy.reserve_for;
    let claimed = match reserve_next(&ctx, &worker_id, &policy, current_tenant).await {
        Ok(reserved) => reserved?,
        Err(err) => {
            tracing::warn!(%err, "reserving the next execution failed");
            return None;
        }
    };
    let execution = claimed.execution_id;
    let mut reserved = Reserved {
        claimed,
        prepared: None,
    };
    if let Err(err) = prepare_claimed_work_dir(&ctx, &reserved.claimed).await {
        tracing::warn!(%err, execution, "making a reserved execution's work folder failed");
        reserved.give_back(&ctx, &worker_id).await;
        return None;
    }
    if let Some(kind) = AssetKind::parse(&reserved.claimed.kind) {
        // Not ready: its turn prepares it, and reports what failed.
        reserved.prepared = prepare_run(&ctx, &executors, &reserved.claimed, kind, None)
            .await
            .unwrap_or_else(|err| {
                tracing::debug!(%err, execution, "preparing a reserved execution's run failed");
                None
            });
    }
    // Dropped unsent: the current script never ran.
    let kept = tokio::select! {
        exited = script_exited => exited.is_ok(),
        _ = tokio::time::sleep_until(deadline) => false,
    };
    if kept {
        return Some(reserved);
    }
    reserved.give_back(&ctx, &worker_id).await;
    None
}

/// This machine's name, for worker ids here and local agents' registrations.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "host".into())
}
