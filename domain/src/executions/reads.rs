//! What people read of executions: the history, one execution with its log pages, change
//! stamps for live pages, and artifacts.

use super::*;

#[derive(sqlx::FromRow)]
pub(crate) struct SummaryRow {
    pub(super) id: i64,
    pub(super) skill_slug: String,
    pub(super) skill_name: String,
    pub(super) requested_by: String,
    pub(super) status: String,
    pub(super) created_at: chrono::DateTime<chrono::Utc>,
    pub(super) finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub(super) reason: Option<String>,
    pub(super) last_stderr: Option<String>,
}

impl SummaryRow {
    pub(crate) fn summary(self) -> AppResult<ExecutionSummary> {
        let status = ExecutionStatus::parse(&self.status).ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("unknown status {:?}", self.status))
        })?;
        Ok(ExecutionSummary {
            why: failure::short_reason(status, self.reason.as_deref(), self.last_stderr.as_deref()),
            status,
            id: self.id,
            skill_slug: self.skill_slug,
            skill_name: self.skill_name,
            requested_by: self.requested_by,
            created_at: self.created_at,
            finished_at: self.finished_at,
        })
    }
}

/// Followed by `{LAST_STDERR}` and `{SUMMARY_FROM}`.
pub(super) const SUMMARY_COLUMNS: &str =
    "SELECT e.id, s.slug AS skill_slug, v.name AS skill_name, \
     u.username AS requested_by, e.status, e.created_at, e.finished_at, e.reason, ";
pub(super) const SUMMARY_FROM: &str = " FROM executions e JOIN skills s ON s.id = e.skill_id \
     JOIN skill_versions v ON v.id = e.skill_version_id JOIN users u ON u.id = e.requested_by";

pub(crate) fn summary_select() -> String {
    format!("{SUMMARY_COLUMNS}{}{SUMMARY_FROM}", failure::LAST_STDERR)
}

/// SQL condition: the user ($1 id, $2 is admin) may see execution `e`: their own, or any for admins.
pub(crate) const MAY_SEE: &str = "(e.requested_by = $1 OR $2)";

/// The execution history this user may see (their own; admins: everyone's), newest first.
pub async fn list(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    filter: &ExecutionFilter,
) -> AppResult<Vec<ExecutionSummary>> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
        "{} WHERE {MAY_SEE} \
         AND ($3::text IS NULL OR s.slug = $3) \
         AND ($4::text IS NULL OR lower(u.username) = lower($4)) \
         AND ($5::text IS NULL OR e.status = $5) \
         AND ($6::date IS NULL OR e.created_at >= $6) \
         AND ($7::date IS NULL OR e.created_at < $7 + 1) \
         ORDER BY e.id DESC LIMIT 200",
        summary_select()
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
pub(super) struct DetailRow {
    pub(super) skill_version: i32,
    pub(super) reason: Option<String>,
    pub(super) inputs: Value,
    pub(super) inputs_digest: String,
    pub(super) confirmed_by: Option<String>,
    pub(super) started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub(super) exit_code: Option<i32>,
    pub(super) result: Option<String>,
    pub(super) stdout_truncated: bool,
    pub(super) stderr_truncated: bool,
    pub(super) files_removed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub(super) files_kept_days: Option<i32>,
    pub(super) written_outside: Vec<String>,
    pub(super) written_outside_count: i32,
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
    let summary: SummaryRow = sqlx::query_as(&format!(
        "{} WHERE {MAY_SEE} AND e.id = $3",
        summary_select()
    ))
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
        .map(|(path, size)| model::Artifact { path, size })
        .collect();
    let (logs, log_lines) = read_log(&mut tx, id, log_after).await?;
    let summary = summary.summary()?;
    let status = summary.status;
    let stderr_tail = failure::stderr_tail(&mut tx, id, status).await?;
    tx.commit().await?;
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
        stderr_tail,
        summary,
    })
}

/// Up to [`LOG_PAGE_LINES`] lines of a visible execution's log after its first `after`, oldest
/// first, and how many lines it has stored.
pub(super) async fn read_log(
    tx: &mut TenantTx,
    id: i64,
    after: i64,
) -> AppResult<(Vec<model::LogLine>, i64)> {
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

/// Where a download reads an artifact's bytes from.
pub enum ArtifactBytes {
    /// From the database, chunk by chunk (each checked against its hash): on any node; `size`
    /// bytes in all.
    Stored {
        reader: blobs::Reader<blobs::PgBlobs>,
        size: u64,
    },
    /// Recorded before the database kept artifacts: the file on the node that ran it.
    Local(std::path::PathBuf),
}

/// The bytes of an artifact this user may download, after recording the download.
pub async fn artifact_file(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    id: i64,
    path: &str,
) -> AppResult<ArtifactBytes> {
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
    let (size, blob_hash): (i64, Option<String>) = sqlx::query_as(&format!(
        "SELECT a.size, a.blob_hash FROM artifacts a JOIN executions e ON e.id = a.execution_id \
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
    let Some(blob_hash) = blob_hash else {
        // The path is one the executor listed (relative, no `..`); it is only looked up, never
        // built from user input alone.
        return Ok(ArtifactBytes::Local(
            ctx.artifacts_dir(tenant.id, id).join(path),
        ));
    };
    // Only ever the tenant's own blobs: the hash comes from its own row, looked up in its
    // own schema.
    let reader = blobs::Reader::open(blobs::store(ctx), &tenant.schema, &blob_hash)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("The artifact {path:?} is no longer stored.")))?;
    Ok(ArtifactBytes::Stored {
        reader,
        size: size as u64,
    })
}
