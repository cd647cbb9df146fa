//! Asking for runs and acting on them before they start: a request (form, API, assistant),
//! confirmation, cancellation, and the files of an earlier run for "Run again".

use super::*;

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
        uploads::record(ctx, &mut tx, id, upload).await?;
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
pub(super) async fn enqueue(
    conn: &mut PgConnection,
    tenant_id: i64,
    execution_id: i64,
) -> AppResult<()> {
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
pub(super) struct ExecutionRow {
    pub(super) status: String,
    pub(super) requested_by: i64,
    pub(super) skill_slug: String,
    pub(super) inputs_digest: String,
}

pub(super) async fn lock_execution(conn: &mut PgConnection, id: i64) -> AppResult<ExecutionRow> {
    sqlx::query_as(
        "SELECT e.status, e.requested_by, s.slug AS skill_slug, e.inputs_digest \
         FROM executions e JOIN skills s ON s.id = e.skill_id WHERE e.id = $1 FOR UPDATE OF e",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("There is no execution {id} here.")))
}

pub(super) fn status_of(row: &ExecutionRow) -> AppResult<ExecutionStatus> {
    ExecutionStatus::parse(&row.status)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown status {:?}", row.status)))
}

/// Only the requester and the tenant's admins act on an execution.
pub(super) fn may_act(user: &SignedIn, row: &ExecutionRow) -> AppResult<()> {
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
    // Uploaded through another node: fetched here first. A file changed here is refused below.
    uploads::lay_out(ctx, &tenant.schema, &dir, id, false).await?;
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
        let is_folder = tokio::fs::symlink_metadata(&stored)
            .await
            .is_ok_and(|m| m.is_dir());
        let (file_name, bytes) = if is_folder {
            // Read back as one archive of the folder, arranged again as the first upload was.
            let (at, name) = (stored.clone(), file_name.clone());
            let zipped = tokio::task::spawn_blocking(move || {
                uploads::stored_folder_as_zip(&at, &name, size, &sha256)
            })
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
            match zipped {
                Ok(Some(bytes)) => (format!("{file_name}.zip"), bytes),
                _ => return Err(gone()),
            }
        } else {
            let bytes = read_regular_file(&stored).await.map_err(|_| gone())?;
            if bytes.len() as i64 != size || hex::encode(Sha256::digest(&bytes)) != sha256 {
                return Err(gone());
            }
            (file_name, bytes)
        };
        uploads.push(Upload {
            field,
            file_name,
            bytes,
        });
    }
    Ok(uploads)
}

/// A regular file's bytes, refusing a symbolic link in its place.
pub(super) async fn read_regular_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
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
