//! The queue across tenants: claims, reservations, leases, heartbeats and the reaper.

use super::*;

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
    /// The tenant secrets the skill version's runs receive (names), and once its run loads
    /// them, their values (`crate::secrets::for_run`).
    pub secret_names: Vec<String>,
    pub secrets: crate::secrets::RunSecrets,
}

impl Claimed {
    pub(super) fn new(
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
            secret_names: start.secrets,
            secrets: Default::default(),
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
    /// Whether the workers' own transactions (claim, start, finish) ask for generic plans:
    /// their statements run thousands of times with the same shape, so PostgreSQL keeps one
    /// plan for each instead of planning every execution anew (its default for the first runs
    /// and whenever it guesses a custom plan is cheaper): about half of their server time.
    /// Citus cannot plan the start of a run in a distributed tenant schema generically
    /// ("could not create distributed plan"): off there.
    pub generic_plans: bool,
}

impl QueuePolicy {
    /// How a worker transaction begins: one round trip either way.
    pub(super) fn begin(&self) -> &'static str {
        if self.generic_plans {
            "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"
        } else {
            "BEGIN"
        }
    }
}

impl Default for QueuePolicy {
    fn default() -> Self {
        QueuePolicy {
            per_tenant_cap: 4,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            reserve_for: Duration::from_millis(500),
            generic_plans: true,
        }
    }
}

/// How a worker holds the execution it picks from the queue.
#[derive(Clone, Copy)]
pub(super) enum Hold {
    /// To run it now.
    Run,
    /// To run it once its current run, in `current_tenant`, ends.
    Reserve { current_tenant: i64 },
}

#[derive(sqlx::FromRow)]
pub(super) struct ClaimRow {
    pub(super) tenant_id: i64,
    pub(super) execution_id: i64,
    pub(super) attempts: i32,
    pub(super) schema_name: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct StartRow {
    pub(super) kind: String,
    pub(super) content_hash: String,
    pub(super) inputs: Value,
    pub(super) inputs_digest: String,
    pub(super) timeout_seconds: i32,
    pub(super) slug: String,
    pub(super) lock_text: Option<String>,
    pub(super) input_schema: Value,
    pub(super) invocation: Value,
    /// How long it waited in the queue (since it was requested, or confirmed), when started.
    #[sqlx(default)]
    pub(super) waited_seconds: Option<f64>,
    pub(super) secrets: Vec<String>,
}

/// Claims the next queued execution, if any: the tenant with the fewest running executions
/// first (under its cap), then the oldest. Marks it running in its tenant, in one transaction.
pub async fn claim_next(
    ctx: &Ctx,
    worker_id: &str,
    policy: &QueuePolicy,
) -> AppResult<Option<Claimed>> {
    let mut tx = ctx.pool.begin_with(policy.begin()).await?;
    let claimed = claim_in(&mut tx, worker_id, policy).await?;
    tx.commit().await?;
    Ok(claimed)
}

/// [`claim_next`]'s statements, in a transaction that is on the platform side (as after
/// `BEGIN`, or after `leave_schema`); leaves it in the claimed execution's tenant.
pub(super) async fn claim_in(
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
pub(super) async fn pick_in(
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
pub(super) async fn reserve_next(
    ctx: &Ctx,
    worker_id: &str,
    policy: &QueuePolicy,
    current_tenant: i64,
) -> AppResult<Option<Claimed>> {
    let mut tx = ctx.pool.begin_with(policy.begin()).await?;
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
pub(super) async fn take_reservation(
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
pub(super) async fn record_reserved_start(
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
pub(super) async fn release_reservation(
    ctx: &Ctx,
    reserved: &Claimed,
    worker_id: &str,
) -> AppResult<()> {
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
    let mut tx = ctx.pool.begin_with(ctx.queue.begin()).await?;
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
pub(super) async fn start_claimed(
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
pub(super) async fn record_start(
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
                 v.lock_text, v.input_schema, v.invocation, v.secrets, \
                 extract(epoch FROM now() - COALESCE(e.confirmed_at, e.created_at))::float8 \
                     AS waited_seconds), \
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
    if let Some(waited) = start.as_ref().and_then(|s| s.waited_seconds) {
        metrics::histogram!("execgov_queue_wait_seconds").record(waited);
    }
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
pub(super) async fn read_start(tx: &mut PgConnection, id: i64) -> AppResult<StartRow> {
    Ok(sqlx::query_as(
        "SELECT a.kind, av.content_hash, e.inputs, e.inputs_digest, v.timeout_seconds, s.slug, \
         v.lock_text, v.input_schema, v.invocation, v.secrets \
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

/// What becomes of an execution whose worker was lost (stopped renewing its lease).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lost {
    /// Queued again, for another attempt.
    Requeued,
    /// A person had confirmed it: it may have done part of its work, so it is not run again
    /// without them; it waits for confirmation again.
    Reconfirm,
    /// Out of attempts.
    Failed,
}

impl Lost {
    fn of(confirmed: bool, attempts: i32) -> Lost {
        if confirmed {
            Lost::Reconfirm
        } else if attempts < MAX_ATTEMPTS {
            Lost::Requeued
        } else {
            Lost::Failed
        }
    }

    fn status(self) -> &'static str {
        match self {
            Lost::Requeued => "queued",
            Lost::Reconfirm => "awaiting_confirmation",
            Lost::Failed => "failed",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Lost::Requeued => "execution.requeue",
            Lost::Reconfirm => "execution.reconfirm",
            Lost::Failed => "execution.fail",
        }
    }

    /// The execution's reason (and its audit entry's).
    fn reason(self, attempts: i32) -> String {
        match self {
            Lost::Requeued => format!("worker lost during attempt {attempts}; queued again"),
            Lost::Reconfirm => format!(
                "worker lost during attempt {attempts}; it may have done part of its work, so \
                 it runs again only when confirmed again"
            ),
            Lost::Failed => format!("failed: worker lost ({attempts} attempts)"),
        }
    }
}

/// Re-queues executions whose worker stopped renewing its lease; after `MAX_ATTEMPTS` they fail
/// with `worker lost`, and confirmed ones wait for confirmation again. Returns how many were
/// handled.
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
        enter_schema(&mut tx, &TenantSchema::parse(&expired.schema_name)?).await?;
        let confirmed: bool =
            sqlx::query_scalar("SELECT confirmed_at IS NOT NULL FROM executions WHERE id = $1")
                .bind(expired.execution_id)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or(false);
        let lost = Lost::of(confirmed, expired.attempts);
        let reason = lost.reason(expired.attempts);
        let digest: Option<String> = sqlx::query_scalar(
            "UPDATE executions SET status = $2, reason = $3, \
             finished_at = CASE WHEN $2 = 'failed' THEN now() END, \
             confirmed_by = CASE WHEN $2 = 'awaiting_confirmation' THEN NULL ELSE confirmed_by END, \
             confirmed_at = CASE WHEN $2 = 'awaiting_confirmation' THEN NULL ELSE confirmed_at END \
             WHERE id = $1 AND status = 'running' RETURNING inputs_digest",
        )
        .bind(expired.execution_id)
        .bind(lost.status())
        .bind(&reason)
        .fetch_optional(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            AuditLog::Tenant,
            &Actor::system(),
            Event {
                action: lost.action(),
                target: &format!("execution {}", expired.execution_id),
                detail: json!({ "reason": reason, "attempts": expired.attempts, "inputs_digest": digest }),
                result: lost.status(),
            },
        )
        .await?;
        leave_schema(&mut tx).await?;
        if lost == Lost::Requeued {
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
        if lost == Lost::Requeued {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(QUEUE_CHANNEL)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        handled += 1;
    }
}
