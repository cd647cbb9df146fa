//! Running one claimed execution: its work folder and sandbox, its log lines as they come, and
//! recording how it ended.

use super::*;

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
pub(super) enum Ran {
    /// No executor for the skill's kind; nothing was started.
    NoExecutor,
    /// The executor could not set the run up (logged).
    ExecutorFailed,
    /// The script ran; how it ended (its secrets masked).
    Ended(RunOutcome),
    /// Not started, for this reason (a secret it needs is not set).
    Refused(String),
}

/// Runs a claimed (or reserved) execution in the sandbox, with live log lines and heartbeats;
/// `work_ready`: its work folder is made already. Setting `cancel` stops the run; so does a
/// heartbeat that finds the claim gone.
pub(super) async fn run_execution(
    ctx: &Ctx,
    executors: &Executors,
    turn: &mut Turn,
    worker_id: &str,
    policy: &QueuePolicy,
    exited: tokio::sync::oneshot::Sender<()>,
) -> AppResult<Ran> {
    // Its secrets are read as it starts, before anything could print them.
    let claimed = &turn.claimed;
    if !claimed.secret_names.is_empty() {
        let (id, schema) = (claimed.tenant_id, &claimed.schema);
        match crate::secrets::for_run(ctx, id, schema, &claimed.secret_names).await? {
            Ok(secrets) => turn.claimed.secrets = secrets,
            Err(reason) => return Ok(Ran::Refused(reason)),
        }
    }
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
        Ok(outcome) => Ran::Ended(mask_outcome(outcome, claimed.secrets.masker())),
        Err(err) => {
            tracing::error!(%err, execution = claimed.execution_id, "executor failed");
            Ran::ExecutorFailed
        }
    })
}

/// A run's result, error and the names of files it left, with its secrets masked.
fn mask_outcome(mut outcome: RunOutcome, masker: &crate::secrets::Masker) -> RunOutcome {
    if masker.is_empty() {
        return outcome;
    }
    let mask = |text: &mut String| *text = masker.mask(text).into_owned();
    outcome.result.iter_mut().for_each(mask);
    outcome.reason.iter_mut().for_each(mask);
    outcome.written_outside.iter_mut().for_each(mask);
    outcome
}

/// Records how a run went (see [`finish_with`] for `then`), then removes its work folder.
pub(super) async fn record_end(
    ctx: &Ctx,
    claimed: &Claimed,
    worker_id: &str,
    ran: Ran,
    then: Then<'_>,
) -> AppResult<(ExecutionStatus, Option<Claimed>)> {
    let work = attempt_work_dir(ctx, claimed);
    let failed = |reason: String| async move {
        let status = ExecutionStatus::Failed;
        finish_with(
            ctx,
            claimed,
            worker_id,
            status,
            Some(&reason),
            &NO_DETAIL,
            then,
        )
        .await
    };
    let ended = match ran {
        Ran::Ended(outcome) => finish(ctx, claimed, worker_id, &work, outcome, then).await,
        Ran::NoExecutor => failed("no executor on the platform for this skill's kind".into()).await,
        Ran::ExecutorFailed => failed("the executor could not run the script".into()).await,
        Ran::Refused(reason) => failed(reason).await,
    };
    tokio::fs::remove_dir_all(&work).await.ok();
    ended
}

/// Puts a claimed execution's run (its work folder made) into its sandbox: see
/// [`Executors::prepare`]; with no `cancel`, only in a sandbox started ahead, without waiting
/// ([`Executors::prepare_if_ready`]).
pub(super) async fn prepare_run(
    ctx: &Ctx,
    executors: &Executors,
    claimed: &Claimed,
    kind: AssetKind,
    cancel: Option<&mut watch::Receiver<bool>>,
) -> anyhow::Result<Option<Prepared>> {
    // Secrets are read as the run starts (`run_execution`), never ahead of it.
    if claimed.secrets.env().len() < claimed.secret_names.len() {
        return Ok(None);
    }
    let work = attempt_work_dir(ctx, claimed);
    let script_dir = skills::cached_folder(
        ctx,
        claimed.tenant_id,
        &claimed.schema,
        &claimed.content_hash,
    )
    .await?;
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
    request.env.extend(claimed.secrets.env().iter().cloned());
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

/// The claimed execution's inputs folder on this node, holding its uploads as stored (fetched
/// first where missing or changed).
pub(crate) async fn laid_out_inputs(ctx: &Ctx, claimed: &Claimed) -> AppResult<std::path::PathBuf> {
    let dir = ctx.inputs_dir(claimed.tenant_id, claimed.execution_id);
    uploads::lay_out(ctx, &claimed.schema, &dir, claimed.execution_id, true).await?;
    Ok(dir)
}

/// [`prepare_work_dir`] for a claimed execution, in its place under the data directory.
pub(super) async fn prepare_claimed_work_dir(ctx: &Ctx, claimed: &Claimed) -> AppResult<()> {
    let work = attempt_work_dir(ctx, claimed);
    let uploads = laid_out_inputs(ctx, claimed).await?;
    prepare_work_dir(&work, &claimed.inputs, &uploads)
        .await
        .map_err(AppError::Internal)
}

/// Writes log lines as they come, in small batches, each batch in one tenant transaction; the
/// run's secrets masked first (see `crate::secrets::LogMasker`).
pub(super) async fn store_log_lines(
    ctx: Ctx,
    claimed: Claimed,
    mut rx: mpsc::UnboundedReceiver<LogLine>,
) {
    let mut masker = crate::secrets::LogMasker::new(claimed.secrets.masker().clone());
    let store = |batch: Vec<LogLine>| async {
        if batch.is_empty() {
            return;
        }
        if let Err(err) = append_log_lines(&ctx, &claimed, batch).await {
            tracing::warn!(%err, execution = claimed.execution_id, "could not store log lines");
        }
    };
    while let Some(first) = rx.recv().await {
        let mut batch = masker.push(first);
        while batch.len() < 200 {
            match rx.try_recv() {
                Ok(line) => batch.extend(masker.push(line)),
                Err(_) => break,
            }
        }
        store(batch).await;
    }
    store(masker.finish()).await;
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

/// The detail of a run that ended before its script could run.
pub(super) static NO_DETAIL: FinishDetail = FinishDetail {
    exit_code: None,
    result: None,
    stdout_truncated: false,
    stderr_truncated: false,
    artifacts: Vec::new(),
    output: None,
    written_outside: Vec::new(),
    written_outside_count: 0,
};

pub(super) struct FinishDetail {
    pub(super) exit_code: Option<i32>,
    /// `result.json` as the script wrote it.
    pub(super) result: Option<String>,
    pub(super) stdout_truncated: bool,
    pub(super) stderr_truncated: bool,
    pub(super) artifacts: Vec<(String, u64)>,
    /// The `output/` folder whose files are the artifacts: moved to their place for download
    /// by the transaction that records the end, once it holds the claim.
    pub(super) output: Option<std::path::PathBuf>,
    /// New files the script left outside `output/` that no glob collected (the first few),
    /// and how many.
    pub(super) written_outside: Vec<String>,
    pub(super) written_outside_count: i32,
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
pub(super) async fn finish_with(
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
            let mut tx = ctx.pool.begin_with(ctx.queue.begin()).await?;
            let started = record_reserved_start(&mut tx, started, worker_id).await?;
            tx.commit().await?;
            started
        }
        Then::Stop | Then::Claim(_) => None,
    };
    Ok((ended, next))
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn finish_in_tx(
    ctx: &Ctx,
    claimed: &Claimed,
    worker_id: &str,
    status: ExecutionStatus,
    reason: Option<&str>,
    detail: &FinishDetail,
    then: Then<'_>,
) -> AppResult<(ExecutionStatus, Option<Claimed>)> {
    let mut tx = ctx.pool.begin_with(ctx.queue.begin()).await?;
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
        let target = ctx.artifacts_dir(claimed.tenant_id, claimed.execution_id);
        if let Some(output) = output {
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::remove_dir_all(&target).await.ok();
            tokio::fs::rename(output, &target).await?;
        }
        // Each artifact into the database, streamed from this node's copy, so that any web
        // node serves its download.
        let store = blobs::store(ctx);
        let mut hashes = Vec::with_capacity(detail.artifacts.len());
        for (path, _) in &detail.artifacts {
            // Listed by the collector as regular files; a link is still never followed.
            let file = tokio::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(target.join(path))
                .await?;
            hashes.push(store.put(&mut tx, file).await?.hash);
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
                 INSERT INTO artifacts (execution_id, path, size, blob_hash) \
                 SELECT $1, path, size, blob_hash \
                 FROM unnest($8::text[], $9::bigint[], $17::text[]) AS x(path, size, blob_hash)) \
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
        .bind(&hashes)
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
