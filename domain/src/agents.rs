//! Local agents: the tenant's own machines running the skills marked for them (`agent_label` in
//! the manifest, asset kind `agent`), while the platform keeps the entry, the permissions and the
//! audit trail.
//!
//! An agent registers with an agent token (made by a tenant admin, naming the labels its agent
//! may serve) and a machine identity it made on its first start: an id and an Ed25519 key pair,
//! of which the server keeps the public half. The token then belongs to that machine. Every call
//! carries the token and is signed with the machine key (see [`crate::agent_auth`]).
//! It long-polls for executions routed to its labels and claims them from the same queue as the
//! platform's workers, with the same leases: of agents racing for one execution exactly one wins
//! (`FOR UPDATE SKIP LOCKED`), and one that stops renewing loses it to the reaper, which queues
//! it again or fails it (`worker lost`) as for a worker.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use model::agent::{
    AgentDescription, AgentJob, AgentLogLine, AgentRegistration, AgentReport, AgentView,
    ServableSkill,
};
use model::ExecutionStatus;
use serde_json::json;

use crate::accounts::{token_hash, SignedIn};
use crate::agent_auth::{valid_public_key, SignedRequest};
use crate::audit::{self, AuditLog, Event};
use crate::db::{leave_schema, TenantTx};
use crate::executions::{self, Claimed};
use crate::skills::{self, manifest};
use crate::tenancy::Tenant;
use crate::{Actor, AppError, AppResult, Ctx, RequestMeta};
use engine::{Artifact, AssetKind, LogLine, RunOutcome, RunStatus, Stream, RESULT_CAP};

/// The longest an agent's claim request waits for work before answering "nothing".
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// An agent's artifacts of one run, at most (as the platform's own runs).
pub const MAX_ARTIFACT_BYTES: usize = 50 * 1024 * 1024;
/// Log lines in one batch, at most.
pub const MAX_LOG_BATCH: usize = 1000;

/// An authenticated agent.
#[derive(Clone, Debug)]
pub struct Agent {
    pub id: i64,
    pub name: String,
    pub labels: Vec<String>,
}

impl Agent {
    /// Its name as a lease holder in the execution queue and in the audit trail.
    pub fn worker_id(&self) -> String {
        format!("agent-{}", self.id)
    }

    fn actor(&self, meta: &RequestMeta) -> Actor {
        Actor {
            name: format!("agent {} ({})", self.id, self.name),
            meta: meta.clone(),
        }
    }
}

fn unauthenticated() -> AppError {
    AppError::Unauthenticated(
        "Send an agent token as 'Authorization: Bearer …' (tenant front → Agents), signed with \
         the agent's machine key; the token may have expired or been revoked."
            .into(),
    )
}

/// Another key for a machine id already registered.
fn another_key() -> AppError {
    AppError::Conflict(
        "This machine id is registered with another key. Remove the agent's identity file to \
         register as a new machine (with a new agent token)."
            .into(),
    )
}

fn check_registration(reg: &AgentRegistration) -> AppResult<()> {
    let mut problems = Vec::new();
    if reg.machine_id.len() != 32
        || !reg
            .machine_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        problems.push("machine_id: 32 lowercase hex digits".to_string());
    }
    if !valid_public_key(&reg.public_key) {
        problems.push("public_key: an Ed25519 public key as 64 lowercase hex digits".to_string());
    }
    if reg
        .machine_key
        .as_ref()
        .is_some_and(|k| !(32..=256).contains(&k.len()))
    {
        problems.push("machine_key: 32 to 256 characters".to_string());
    }
    let name = reg.name.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        problems.push("name: 1 to 80 characters on one line".to_string());
    }
    if reg.hostname.len() > 255 || reg.hostname.chars().any(char::is_control) {
        problems.push("hostname: at most 255 characters on one line".to_string());
    }
    if reg.version.len() > 64 || reg.version.chars().any(char::is_control) {
        problems.push("version: at most 64 characters".to_string());
    }
    if reg.labels.len() > 32 {
        problems.push("labels: at most 32 labels".to_string());
    }
    for label in &reg.labels {
        if !manifest::valid_agent_label(label) {
            problems.push(format!(
                "labels: {label:?} is not 1 to 64 characters of a-z, 0-9, '-', '_' and '.'"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(problems.join("\n")))
    }
}

/// An agent announces itself with an agent token and its machine identity, the request signed
/// with the key it registers: the first time this creates it and the token becomes this
/// machine's, later its name, labels and token are updated. Refused: a token that belongs to
/// another machine, labels the token does not allow, a machine id registered with another key,
/// and a revoked agent.
pub async fn register(
    ctx: &Ctx,
    tenant: &Tenant,
    token_secret: &str,
    proof: &SignedRequest,
    reg: &AgentRegistration,
    meta: &RequestMeta,
) -> AppResult<AgentView> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let token = crate::tokens::agent_token(&mut tx, token_secret)
        .await?
        .ok_or_else(unauthenticated)?;
    check_registration(reg)?;
    if proof.machine_id != reg.machine_id {
        return Err(AppError::Unauthenticated(
            "The request is signed for another machine id than the one registering.".into(),
        ));
    }
    proof.verify(&reg.public_key)?;
    proof.spend_nonce(&mut tx).await?;
    let labels = allowed_labels(&reg.labels, &token.labels)?;
    #[derive(sqlx::FromRow)]
    struct Existing {
        id: i64,
        public_key: Option<String>,
        key_hash: Option<String>,
        token_id: i64,
        revoked_at: Option<DateTime<Utc>>,
    }
    let existing: Option<Existing> = sqlx::query_as(
        "SELECT id, public_key, key_hash, token_id, revoked_at FROM agents \
         WHERE machine_id = $1 FOR UPDATE",
    )
    .bind(&reg.machine_id)
    .fetch_optional(&mut *tx)
    .await?;
    // The token is this machine's, or no machine's yet; a machine that shared a token before
    // tokens had owners keeps it.
    let owned = token
        .machine_id
        .as_ref()
        .is_none_or(|m| *m == reg.machine_id)
        || existing.as_ref().is_some_and(|e| e.token_id == token.id);
    if !owned {
        return Err(AppError::Conflict(
            "This agent token belongs to another machine (the first that registered with it). \
             Each machine needs an agent token of its own: ask a tenant admin for one."
                .into(),
        ));
    }
    let (id, action) = match existing {
        Some(e) => {
            let same_key = match (&e.public_key, &e.key_hash) {
                (Some(stored), _) => *stored == reg.public_key,
                // Registered before requests were signed: the old machine key binds the new one.
                (None, Some(hash)) => reg
                    .machine_key
                    .as_ref()
                    .is_some_and(|k| token_hash(k) == *hash),
                (None, None) => false,
            };
            if !same_key {
                return Err(another_key());
            }
            if e.revoked_at.is_some() {
                return Err(AppError::Forbidden(
                    "This agent was revoked by an admin; it cannot register again.".into(),
                ));
            }
            sqlx::query(
                "UPDATE agents SET name = $2, hostname = $3, labels = $4, version = $5, \
                 token_id = $6, public_key = $7, key_hash = NULL, last_seen_at = now() \
                 WHERE id = $1",
            )
            .bind(e.id)
            .bind(reg.name.trim())
            .bind(&reg.hostname)
            .bind(&labels)
            .bind(&reg.version)
            .bind(token.id)
            .bind(&reg.public_key)
            .execute(&mut *tx)
            .await?;
            (e.id, "agent.reregister")
        }
        None => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO agents (machine_id, public_key, token_id, name, hostname, labels, \
                 version) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&reg.machine_id)
            .bind(&reg.public_key)
            .bind(token.id)
            .bind(reg.name.trim())
            .bind(&reg.hostname)
            .bind(&labels)
            .bind(&reg.version)
            .fetch_one(&mut *tx)
            .await?;
            (id, "agent.register")
        }
    };
    sqlx::query("UPDATE api_tokens SET machine_id = COALESCE(machine_id, $2) WHERE id = $1")
        .bind(token.id)
        .bind(&reg.machine_id)
        .execute(&mut *tx)
        .await?;
    let agent = Agent {
        id,
        name: reg.name.trim().to_string(),
        labels: labels.clone(),
    };
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        &agent.actor(meta),
        Event {
            action,
            target: &format!("agent {id}"),
            detail: json!({
                "machine_id": reg.machine_id,
                "hostname": reg.hostname,
                "labels": labels,
                "token_id": token.id,
                "public_key": reg.public_key,
            }),
            result: "ok",
        },
    )
    .await?;
    let view = views(ctx, tenant, &mut tx, Some(id)).await?.pop();
    tx.commit().await?;
    view.ok_or_else(|| AppError::Internal(anyhow::anyhow!("agent {id} vanished")))
}

/// The labels an agent serves: those it declares (sorted, without repeats), all of which its
/// token must allow; none declared: all its token allows.
fn allowed_labels(declared: &[String], allowed: &[String]) -> AppResult<Vec<String>> {
    if allowed.is_empty() {
        return Err(AppError::Forbidden(
            "This agent token allows no labels (it was made before tokens named them, and never \
             used): ask a tenant admin for a new agent token with the labels this machine serves."
                .into(),
        ));
    }
    if declared.is_empty() {
        return Ok(allowed.to_vec());
    }
    let mut labels = declared.to_vec();
    labels.sort();
    labels.dedup();
    let beyond: Vec<&String> = labels.iter().filter(|l| !allowed.contains(l)).collect();
    if !beyond.is_empty() {
        return Err(AppError::Forbidden(format!(
            "This agent token allows the labels [{}] only, not {beyond:?}: drop those --label \
             options, or ask a tenant admin for an agent token with them.",
            allowed.join(", ")
        )));
    }
    Ok(labels)
}

/// The agent making this call: its token must be a live agent token of this tenant, the machine
/// registered with it, and the request signed with the machine's key, fresh and never seen
/// before. Records that it was seen.
pub async fn authenticate(
    ctx: &Ctx,
    tenant: &Tenant,
    token_secret: &str,
    proof: &SignedRequest,
) -> AppResult<Agent> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let token = crate::tokens::agent_token(&mut tx, token_secret)
        .await?
        .ok_or_else(unauthenticated)?;
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        name: String,
        labels: Vec<String>,
        public_key: Option<String>,
        revoked_at: Option<DateTime<Utc>>,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, name, labels, public_key, revoked_at FROM agents \
         WHERE machine_id = $1 AND token_id = $2",
    )
    .bind(&proof.machine_id)
    .bind(token.id)
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or_else(|| {
        AppError::Unauthenticated(
            "This machine is not registered with this tenant with this token: run \
             `execgov-cli agent start` (with --token for a new token) to register it."
                .into(),
        )
    })?;
    let public_key = row.public_key.ok_or_else(|| {
        AppError::Unauthenticated(
            "This agent registered before requests were signed: start it again with an \
             up-to-date execgov-cli (`execgov-cli agent start`) to register its key."
                .into(),
        )
    })?;
    proof.verify(&public_key)?;
    if row.revoked_at.is_some() {
        return Err(AppError::Forbidden(
            "This agent was revoked by an admin.".into(),
        ));
    }
    proof.spend_nonce(&mut tx).await?;
    sqlx::query("UPDATE agents SET last_seen_at = now() WHERE id = $1")
        .bind(row.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Agent {
        id: row.id,
        name: row.name,
        labels: row.labels,
    })
}

/// Claims the oldest execution waiting for one of the agent's labels, waiting up to `wait`
/// (at most [`MAX_WAIT`]) for one to be queued. `None`: nothing came.
pub async fn claim(
    ctx: &Ctx,
    tenant: &Tenant,
    agent: &Agent,
    wait: Duration,
) -> AppResult<Option<AgentJob>> {
    let deadline = Instant::now() + wait.min(MAX_WAIT);
    let worker_id = agent.worker_id();
    loop {
        // Registered before looking, so a wake-up between "nothing" and the wait is not lost.
        let woken = ctx.queue_wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if let Some(claimed) =
            executions::claim_for_agent(ctx, tenant, &agent.labels, &worker_id).await?
        {
            return Ok(Some(job(ctx, claimed).await?));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        // Without running workers nobody turns NOTIFY into wake-ups: look again every second.
        let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), woken).await;
    }
}

async fn job(ctx: &Ctx, claimed: Claimed) -> AppResult<AgentJob> {
    let folder = skills::cached_folder(
        ctx,
        claimed.tenant_id,
        &claimed.schema,
        &claimed.content_hash,
    )
    .await?;
    // An agent asset keeps its language in its entry file (load_script_folder allows one).
    let language = if folder.join(AssetKind::Shell.entry_file()).is_file() {
        AssetKind::Shell
    } else {
        AssetKind::Python
    };
    Ok(AgentJob {
        execution_id: claimed.execution_id,
        attempt: claimed.attempt,
        skill: claimed.skill_slug,
        language: language.as_str().into(),
        content_hash: claimed.content_hash,
        // Stored by the platform from a checked manifest; unreadable only if the row was
        // written some other way, and then the agent runs without them.
        input_schema: serde_json::from_value(claimed.input_schema).unwrap_or_default(),
        invocation: serde_json::from_value(claimed.invocation).unwrap_or_default(),
        inputs: claimed.inputs,
        timeout_seconds: claimed.timeout_seconds,
        lease_seconds: ctx.queue.lease.as_secs(),
    })
}

/// Renews the agent's lease on an execution. A conflict: the lease is gone (the execution was
/// cancelled, or queued again after the agent went quiet) and the agent must stop the run.
pub async fn renew(ctx: &Ctx, tenant: &Tenant, agent: &Agent, execution_id: i64) -> AppResult<()> {
    if executions::renew_lease(
        ctx,
        tenant.id,
        execution_id,
        &agent.worker_id(),
        ctx.queue.lease,
    )
    .await?
    {
        Ok(())
    } else {
        Err(AppError::Conflict(format!(
            "The lease on execution {execution_id} is gone: stop the run."
        )))
    }
}

/// Stores log lines of an execution the agent holds.
pub async fn append_logs(
    ctx: &Ctx,
    tenant: &Tenant,
    agent: &Agent,
    execution_id: i64,
    lines: Vec<AgentLogLine>,
) -> AppResult<()> {
    if lines.len() > MAX_LOG_BATCH {
        return Err(AppError::Invalid(format!(
            "lines: at most {MAX_LOG_BATCH} per request"
        )));
    }
    let mut batch = Vec::with_capacity(lines.len());
    for l in lines {
        let stream = match l.stream.as_str() {
            "stdout" => Stream::Stdout,
            "stderr" => Stream::Stderr,
            other => {
                return Err(AppError::Invalid(format!(
                    "stream: {other:?} is neither stdout nor stderr"
                )))
            }
        };
        if l.line.len() > engine::output::MAX_LINE {
            return Err(AppError::Invalid(format!(
                "line: at most {} bytes (split longer lines)",
                engine::output::MAX_LINE
            )));
        }
        batch.push(LogLine {
            stream,
            line: l.line,
        });
    }
    let claimed = executions::held_claim(ctx, tenant, execution_id, &agent.worker_id()).await?;
    if !batch.is_empty() {
        executions::append_log_lines(ctx, &claimed, batch).await?;
    }
    Ok(())
}

/// What the agent needs to run an execution it holds, as one tar: the script folder under
/// `script/` and the uploaded input files under `files/`.
pub async fn bundle(
    ctx: &Ctx,
    tenant: &Tenant,
    agent: &Agent,
    execution_id: i64,
) -> AppResult<Vec<u8>> {
    let claimed = executions::held_claim(ctx, tenant, execution_id, &agent.worker_id()).await?;
    let script =
        skills::cached_folder(ctx, tenant.id, &tenant.schema, &claimed.content_hash).await?;
    let uploads = executions::laid_out_inputs(ctx, &claimed).await?;
    tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut tar = tar::Builder::new(Vec::new());
        tar.follow_symlinks(false);
        append_tree(&mut tar, &script, Path::new("script"))?;
        if uploads.is_dir() {
            append_tree(&mut tar, &uploads, Path::new("files"))?;
        }
        tar.into_inner()
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
    .map_err(Into::into)
}

/// Appends the regular files under `dir` (recursively) as `prefix/…`.
fn append_tree(tar: &mut tar::Builder<Vec<u8>>, dir: &Path, prefix: &Path) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry.file_type()?;
        let name = prefix.join(entry.file_name());
        if kind.is_dir() {
            append_tree(tar, &entry.path(), &name)?;
        } else if kind.is_file() {
            tar.append_path_with_name(entry.path(), &name)?;
        }
    }
    Ok(())
}

/// Records how the agent's run ended, with its artifacts (relative path → bytes), exactly as a
/// worker's run is recorded. A run whose lease is gone is refused and changes nothing.
pub async fn finish(
    ctx: &Ctx,
    tenant: &Tenant,
    agent: &Agent,
    execution_id: i64,
    report: AgentReport,
    artifacts: Vec<(String, Vec<u8>)>,
) -> AppResult<ExecutionStatus> {
    let status = match report.status.as_str() {
        "succeeded" => RunStatus::Succeeded,
        "failed" => RunStatus::Failed,
        "timed_out" => RunStatus::TimedOut,
        "cancelled" => RunStatus::Cancelled,
        other => {
            return Err(AppError::Invalid(format!(
                "status: {other:?} is not succeeded, failed, timed_out or cancelled"
            )))
        }
    };
    if let Some(result) = &report.result {
        if result.len() as u64 > RESULT_CAP
            || serde_json::from_str::<serde_json::Value>(result).is_err()
        {
            return Err(AppError::Invalid(format!(
                "result: valid JSON of at most {} KiB",
                RESULT_CAP / 1024
            )));
        }
    }
    if report.reason.as_ref().is_some_and(|r| r.len() > 4000) {
        return Err(AppError::Invalid("reason: at most 4000 bytes".into()));
    }
    let total: usize = artifacts.iter().map(|(_, b)| b.len()).sum();
    if total > MAX_ARTIFACT_BYTES {
        return Err(AppError::Invalid(format!(
            "artifacts: at most {} MiB in all",
            MAX_ARTIFACT_BYTES / (1024 * 1024)
        )));
    }
    for (path, _) in &artifacts {
        manifest::check_path(path)
            .map_err(|why| AppError::Invalid(format!("artifact {path:?}: {why}")))?;
    }
    // Sorted, a path that repeats or is another's folder comes right before it.
    let mut paths: Vec<&str> = artifacts.iter().map(|(p, _)| p.as_str()).collect();
    paths.sort_unstable();
    for pair in paths.windows(2) {
        if pair[0] == pair[1] || pair[1].starts_with(&format!("{}/", pair[0])) {
            return Err(AppError::Invalid(format!(
                "artifact {:?}: clashes with {:?} (the same path, or a file where a folder is)",
                pair[1], pair[0]
            )));
        }
    }
    let worker_id = agent.worker_id();
    let claimed = executions::held_claim(ctx, tenant, execution_id, &worker_id).await?;
    // The artifacts take the path a worker's output takes: the work directory's output/.
    let work = executions::attempt_work_dir(ctx, &claimed);
    let mut listed: Vec<Artifact> = artifacts
        .iter()
        .map(|(path, bytes)| Artifact {
            path: path.clone(),
            size: bytes.len() as u64,
        })
        .collect();
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    if let Err(err) = write_output(work.clone(), artifacts).await {
        tokio::fs::remove_dir_all(&work).await.ok();
        return Err(err);
    }
    let outcome = RunOutcome {
        status,
        reason: report.reason,
        exit_code: report.exit_code,
        signal: None,
        stdout_truncated: report.stdout_truncated,
        stderr_truncated: report.stderr_truncated,
        duration: Duration::ZERO,
        result: report.result,
        artifacts: listed,
        // An agent reports its output only.
        written_outside: Vec::new(),
        written_outside_count: 0,
    };
    let ended = executions::finish(
        ctx,
        &claimed,
        &worker_id,
        &work,
        outcome,
        executions::Then::Stop,
    )
    .await;
    tokio::fs::remove_dir_all(&work).await.ok();
    let (status, _) = ended?;
    // The lease went between the check above and the end being recorded (the record is then
    // dropped, as a stale worker's): the execution waits for another run.
    if !status.is_final() {
        return Err(AppError::Conflict(format!(
            "The lease on execution {execution_id} is gone: it was queued again."
        )));
    }
    Ok(status)
}

async fn write_output(work: PathBuf, artifacts: Vec<(String, Vec<u8>)>) -> AppResult<()> {
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if work.exists() {
            std::fs::remove_dir_all(&work)?;
        }
        let output = work.join("output");
        std::fs::create_dir_all(&output)?;
        for (path, bytes) in artifacts {
            let target = output.join(&path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::File::create_new(&target)?.write_all(&bytes)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))??;
    Ok(())
}

/// The agent, and the skills it can serve here: live skills whose `agent_label` is one of its
/// labels.
pub async fn describe(ctx: &Ctx, tenant: &Tenant, agent: &Agent) -> AppResult<AgentDescription> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let view = views(ctx, tenant, &mut tx, Some(agent.id))
        .await?
        .pop()
        .ok_or_else(unauthenticated)?;
    let skills: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT s.slug, v.name, v.agent_label, s.enabled FROM skills s \
         JOIN skill_versions v ON v.id = s.current_version_id \
         WHERE v.agent_label = ANY($1) ORDER BY s.slug",
    )
    .bind(&agent.labels)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(AgentDescription {
        agent: view,
        skills: skills
            .into_iter()
            .map(|(slug, name, agent_label, enabled)| ServableSkill {
                slug,
                name,
                agent_label,
                enabled,
            })
            .collect(),
        lease_seconds: ctx.queue.lease.as_secs(),
    })
}

/// Every agent of the tenant, newest first: for its admins.
pub async fn list(ctx: &Ctx, tenant: &Tenant, admin: &SignedIn) -> AppResult<Vec<AgentView>> {
    require_admin(admin)?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let agents = views(ctx, tenant, &mut tx, None).await?;
    tx.commit().await?;
    Ok(agents)
}

fn require_admin(user: &SignedIn) -> AppResult<()> {
    if user.principal.is_tenant_admin() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only this tenant's admins may manage agents.".into(),
        ))
    }
}

/// How long after its last call an agent still counts as online: its long polls call at least
/// every [`MAX_WAIT`], and it renews leases several times per lease while it runs.
fn online_window(ctx: &Ctx) -> Duration {
    (ctx.queue.lease * 3).max(MAX_WAIT * 2)
}

/// Agents as the tenant sees them (one, or all). How many executions each holds is read from
/// the platform's queue on a connection of its own (tenant roles cannot read it).
async fn views(
    ctx: &Ctx,
    tenant: &Tenant,
    tx: &mut TenantTx,
    only: Option<i64>,
) -> AppResult<Vec<AgentView>> {
    let running: std::collections::HashMap<String, i64> = sqlx::query_as(
        "SELECT worker_id, count(*) FROM public.execution_queue \
         WHERE tenant_id = $1 AND state = 'running' AND worker_id LIKE 'agent-%' GROUP BY worker_id",
    )
    .bind(tenant.id)
    .fetch_all(&ctx.pool)
    .await?
    .into_iter()
    .collect();
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        machine_id: String,
        name: String,
        hostname: String,
        labels: Vec<String>,
        version: String,
        status: String,
        registered_at: DateTime<Utc>,
        last_seen_at: DateTime<Utc>,
        token_name: String,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.id, a.machine_id, a.name, a.hostname, a.labels, a.version, \
             CASE WHEN a.revoked_at IS NOT NULL THEN 'revoked' \
                  WHEN t.revoked_at IS NOT NULL OR t.expires_at <= now() THEN 'token revoked' \
                  WHEN a.last_seen_at > now() - make_interval(secs => $2) THEN 'online' \
                  ELSE 'offline' END AS status, \
             a.registered_at, a.last_seen_at, t.name AS token_name \
         FROM agents a JOIN api_tokens t ON t.id = a.token_id \
         WHERE $1::bigint IS NULL OR a.id = $1 ORDER BY a.id DESC",
    )
    .bind(only)
    .bind(online_window(ctx).as_secs_f64())
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AgentView {
            id: r.id,
            machine_id: r.machine_id,
            name: r.name,
            hostname: r.hostname,
            labels: r.labels,
            version: r.version,
            status: r.status,
            registered_at: r.registered_at,
            last_seen_at: r.last_seen_at,
            running: running
                .get(&format!("agent-{}", r.id))
                .copied()
                .unwrap_or(0),
            token_name: r.token_name,
        })
        .collect())
}

/// An admin revokes an agent: its every later call is refused, and the executions it holds are
/// handed back to the queue at once (the reaper takes them as from a lost worker).
pub async fn revoke(
    ctx: &Ctx,
    tenant: &Tenant,
    admin: &SignedIn,
    actor: &Actor,
    id: i64,
) -> AppResult<()> {
    require_admin(admin)?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let name: Option<String> = sqlx::query_scalar(
        "UPDATE agents SET revoked_at = COALESCE(revoked_at, now()), \
         revoked_by = COALESCE(revoked_by, $2) WHERE id = $1 RETURNING name",
    )
    .bind(id)
    .bind(&actor.name)
    .fetch_optional(&mut *tx)
    .await?;
    let name = name.ok_or_else(|| AppError::NotFound(format!("There is no agent {id} here.")))?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "agent.revoke",
            target: &format!("agent {id}"),
            detail: json!({ "name": name }),
            result: "ok",
        },
    )
    .await?;
    leave_schema(&mut tx).await?;
    sqlx::query(
        "UPDATE public.execution_queue SET lease_expires_at = now() \
         WHERE tenant_id = $1 AND worker_id = $2 AND state = 'running'",
    )
    .bind(tenant.id)
    .bind(format!("agent-{id}"))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
