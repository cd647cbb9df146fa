//! Hot updates: a tenant admin submits a script folder (`.zip` / `.tar.gz`) on the tenant's own
//! host; a super-admin reviews it in the public console; on approval the platform syncs it into
//! the tenant's managed workspace, registers it as the skill's new live version in one
//! transaction, and verifies that it is live in that tenant and nowhere else. No restart: the
//! next request or run reads the new live version from the database.
//!
//! Each step moves the submission along `submitted → approved | rejected → synced → registered →
//! live` (or `failed` at a step) and is recorded on its timeline and in the audit logs. A skill
//! that declares Python packages has them resolved into a lock at submission (shown to the
//! reviewer) and its environment built after approval, as the step `built` before `synced`
//! (see `environments`).

use model::hot_update::{
    DiffLine, FileDiff, LineChange, PackageLock, SkillFlags, SubmissionDetail, SubmissionEvent,
    SubmissionStatus, SubmissionSummary, SubmittedFile,
};
use model::skill::RiskLevel;
use model::TenantRole;
use serde_json::{json, Value};
use sqlx::PgConnection;

use crate::accounts::SignedIn;
use crate::audit::{self, AuditLog, Event};
use crate::db::{enter_schema, leave_schema, TenantTx};
use crate::environments::{self, Lock};
use crate::skills::manifest::{self, FolderError, ScriptFolder};
use crate::skills::{self, archive, Provenance};
use crate::storage;
use crate::tenancy::{self, Tenant};
use crate::{Actor, AppError, AppResult, Ctx};

/// The largest archive accepted for upload (compressed); what it unpacks to is limited by
/// `manifest::MAX_FOLDER_BYTES`.
pub const MAX_ARCHIVE_BYTES: usize = 40 * 1024 * 1024;
/// The business scenario: what problem the skill solves and who uses it.
pub const MAX_SCENARIO_CHARS: usize = 4000;

/// What the submission form sends.
pub struct NewSubmission {
    pub archive_name: String,
    pub archive: Vec<u8>,
    pub scenario: String,
    pub proposed: SkillFlags,
}

/// Who is looking at a submission: its own tenant (on that tenant's host) or the platform.
#[derive(Clone, Copy, Debug)]
pub enum Viewer<'a> {
    Tenant(&'a Tenant),
    Platform,
}

/// Checks and stores a submission for `tenant` (the tenant of the host it arrived on). Nothing
/// is stored unless everything passes; a refusal is still recorded in the tenant's audit log.
pub async fn submit(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    submission: NewSubmission,
) -> AppResult<i64> {
    if !user.principal.is_tenant_admin() {
        return Err(AppError::Forbidden(
            "Only the tenant's admins can submit scripts.".into(),
        ));
    }
    let archive_name = submission.archive_name.clone();
    let result = checked_submit(ctx, tenant, user, actor, submission).await;
    if let Err(err) = &result {
        let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
        audit::record(
            &mut tx,
            AuditLog::Tenant,
            actor,
            Event {
                action: "skill.submit",
                target: &archive_name,
                detail: json!({ "reason": err.to_string() }),
                result: "refused",
            },
        )
        .await?;
        tx.commit().await?;
    }
    result
}

async fn checked_submit(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    submission: NewSubmission,
) -> AppResult<i64> {
    let scenario = submission.scenario.trim();
    if scenario.is_empty() {
        return Err(AppError::Invalid(
            "Describe the business scenario: what problem the skill solves and who uses it.".into(),
        ));
    }
    if scenario.chars().count() > MAX_SCENARIO_CHARS {
        return Err(AppError::Invalid(format!(
            "The business scenario is longer than {MAX_SCENARIO_CHARS} characters."
        )));
    }
    let archive_name = submission.archive_name.trim();
    if archive_name.is_empty() || submission.archive.is_empty() {
        return Err(AppError::Invalid(
            "Choose the script folder to upload, as a .zip or .tar.gz file.".into(),
        ));
    }
    if submission.archive.len() > MAX_ARCHIVE_BYTES {
        return Err(AppError::Invalid(format!(
            "{archive_name} is larger than {} MiB.",
            MAX_ARCHIVE_BYTES / (1024 * 1024)
        )));
    }
    let folder = folder_from_archive(&submission.archive)
        .map_err(|e| AppError::Invalid(format!("{archive_name}: {e}")))?;
    let m = &folder.manifest;
    m.inputs
        .check()
        .map_err(|e| AppError::Invalid(format!("{archive_name}: skill.toml: {e}")))?;
    check_flags(&submission.proposed)?;
    let mut live = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let live_version = live_version_of(&mut live, &m.slug).await?;
    if let Some(reason) = skills::governance::disabled_reason(&mut live, &m.slug).await? {
        return Err(AppError::Conflict(format!(
            "The platform disabled {} in this tenant ({reason}); it cannot be updated until the \
             platform enables it again.",
            m.slug
        )));
    }
    let kind: Option<String> = sqlx::query_scalar(
        "SELECT a.kind FROM skills s JOIN assets a ON a.id = s.asset_id WHERE s.slug = $1",
    )
    .bind(&m.slug)
    .fetch_optional(&mut *live)
    .await?;
    live.commit().await?;
    if let Some(kind) = kind {
        skills::check_same_kind(&m.slug, &kind, folder.asset_kind())?;
    }
    if let Some((version, hash)) = &live_version {
        if *hash == folder.content_hash {
            return Err(AppError::Conflict(format!(
                "This folder is exactly what version {version} of {} already runs.",
                m.slug
            )));
        }
    }
    // Outside any transaction: resolving may take a while (the index is asked).
    let locked = environments::lock_for_folder(ctx, &folder.files)
        .await
        .map_err(|e| AppError::Invalid(format!("{archive_name}: {e}")))?;
    if let (Some(label), Some((declared, _))) = (&m.agent_label, &locked) {
        // Environments are built on the platform; a local agent's machine has none.
        return Err(AppError::Invalid(format!(
            "{archive_name}: {} declares Python packages, but skills that run on local agents \
             (agent_label = \"{label}\") cannot have packages yet",
            declared.source
        )));
    }

    let mut tx = ctx.pool.begin().await?;
    // The quota is checked (and its lock held) in this transaction, in the tenant's schema.
    enter_schema(&mut tx, &tenant.schema).await?;
    let stored: usize = folder.files.iter().map(|(_, bytes)| bytes.len()).sum();
    let owner = storage::Owner {
        user_id: user.user_id,
        username: &actor.name,
    };
    storage::ensure_room(
        ctx,
        &mut tx,
        tenant,
        owner,
        stored as i64,
        "this submission's files",
    )
    .await?;
    leave_schema(&mut tx).await?;
    let p = submission.proposed;
    // The id is random (public migration 0009): on the rare clash with an existing one, the
    // insert does nothing and a new id is drawn.
    let mut id = None;
    while id.is_none() {
        id = sqlx::query_scalar(
            "INSERT INTO public.skill_submissions (tenant_id, slug, skill_name, kind, \
             content_hash, archive_name, scenario, proposed_risk, ai_callable, manual_allowed, \
             requires_confirmation, status, submitted_by, lock_text, lock_hash, lock_source) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'submitted', $12, $13, $14, \
             $15) ON CONFLICT (id) DO NOTHING RETURNING id",
        )
        .bind(tenant.id)
        .bind(&m.slug)
        .bind(&m.name)
        .bind(folder.kind)
        .bind(&folder.content_hash)
        .bind(archive_name)
        .bind(scenario)
        .bind(p.risk.as_str())
        .bind(p.ai_callable)
        .bind(p.manual_allowed)
        .bind(p.requires_confirmation)
        .bind(&actor.name)
        .bind(locked.as_ref().map(|(_, lock)| &lock.text))
        .bind(locked.as_ref().map(|(_, lock)| &lock.hash))
        .bind(locked.as_ref().map(|(declared, _)| declared.source))
        .fetch_optional(&mut *tx)
        .await?;
    }
    let id: i64 = id.unwrap_or_default();
    for (path, bytes) in &folder.files {
        sqlx::query(
            "INSERT INTO public.skill_submission_files (submission_id, path, content) \
             VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(path)
        .bind(bytes)
        .execute(&mut *tx)
        .await?;
    }
    let note = match &live_version {
        Some((version, _)) => format!("updates {} (live: version {version})", m.slug),
        None => format!("new skill {}", m.slug),
    };
    add_event(
        &mut tx,
        id,
        SubmissionStatus::Submitted.as_str(),
        actor,
        &note,
    )
    .await?;
    enter_schema(&mut tx, &tenant.schema).await?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "skill.submit",
            target: &m.slug,
            detail: json!({
                "submission_id": id,
                "content_hash": folder.content_hash,
                "archive": archive_name,
                "proposed_risk": p.risk.as_str(),
                "lock_hash": locked.as_ref().map(|(_, lock)| &lock.hash),
            }),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Flags a skill version may have: high risk always waits for a confirmation.
fn check_flags(flags: &SkillFlags) -> AppResult<()> {
    if flags.risk == RiskLevel::High && !flags.requires_confirmation {
        return Err(AppError::Invalid(skills::HIGH_RISK_CONFIRMS.into()));
    }
    Ok(())
}

/// An uploaded archive as a checked script folder (a single top folder is dropped).
fn folder_from_archive(bytes: &[u8]) -> Result<ScriptFolder, FolderError> {
    let files = archive::read_archive(bytes)?;
    manifest::load_script_folder(manifest::strip_single_top_folder(files))
}

/// The live version number and content hash of `slug` in the current tenant transaction.
async fn live_version_of(conn: &mut PgConnection, slug: &str) -> AppResult<Option<(i32, String)>> {
    Ok(sqlx::query_as(
        "SELECT v.version, av.content_hash FROM skills s \
         JOIN skill_versions v ON v.id = s.current_version_id \
         JOIN asset_versions av ON av.id = v.asset_version_id WHERE s.slug = $1",
    )
    .bind(slug)
    .fetch_optional(conn)
    .await?)
}

/// What a submission is compared against: the live version while it waits; once it became
/// version `registered`, the version before that one (none for a brand-new skill, which would
/// otherwise be compared with itself). Its number, content hash and lock.
async fn base_version(
    conn: &mut PgConnection,
    slug: &str,
    registered: Option<i32>,
) -> AppResult<Option<(i32, String, Option<String>)>> {
    Ok(sqlx::query_as(
        "SELECT v.version, av.content_hash, v.lock_text FROM skills s \
         JOIN skill_versions v ON v.skill_id = s.id \
         JOIN asset_versions av ON av.id = v.asset_version_id \
         WHERE s.slug = $1 AND CASE WHEN $2::int IS NULL THEN v.id = s.current_version_id \
                                    ELSE v.version < $2 END \
         ORDER BY v.version DESC LIMIT 1",
    )
    .bind(slug)
    .bind(registered)
    .fetch_optional(conn)
    .await?)
}

async fn add_event(
    conn: &mut PgConnection,
    id: i64,
    status: &str,
    actor: &Actor,
    note: &str,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO public.skill_submission_events (submission_id, status, actor, note) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(status)
    .bind(&actor.name)
    .bind(note)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub(crate) struct SubmissionRow {
    id: i64,
    tenant_id: i64,
    tenant_name: String,
    slug: String,
    skill_name: String,
    kind: String,
    content_hash: String,
    archive_name: String,
    scenario: String,
    proposed_risk: String,
    ai_callable: bool,
    manual_allowed: bool,
    requires_confirmation: bool,
    risk: Option<String>,
    approved_ai_callable: Option<bool>,
    approved_manual: Option<bool>,
    approved_confirmation: Option<bool>,
    status: String,
    failed_step: Option<String>,
    reason: Option<String>,
    submitted_by: String,
    reviewed_by: Option<String>,
    version: Option<i32>,
    verification: Option<Value>,
    created_at: chrono::DateTime<chrono::Utc>,
    lock_text: Option<String>,
    lock_source: Option<String>,
}

pub(crate) const SUBMISSION_SELECT: &str =
    "SELECT s.id, s.tenant_id, t.name AS tenant_name, s.slug, s.skill_name, s.kind, \
     s.content_hash, s.archive_name, s.scenario, s.proposed_risk, s.ai_callable, \
     s.manual_allowed, s.requires_confirmation, s.risk, s.approved_ai_callable, \
     s.approved_manual, s.approved_confirmation, s.status, s.failed_step, s.reason, \
     s.submitted_by, s.reviewed_by, s.version, s.verification, s.created_at, s.lock_text, \
     s.lock_source FROM public.skill_submissions s JOIN public.tenants t ON t.id = s.tenant_id";

fn parse_risk(risk: &str) -> AppResult<RiskLevel> {
    RiskLevel::parse(risk)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown risk {risk:?}")))
}

impl SubmissionRow {
    fn status(&self) -> AppResult<SubmissionStatus> {
        SubmissionStatus::parse(&self.status).ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "unknown submission status {:?}",
                self.status
            ))
        })
    }

    pub(crate) fn summary(&self) -> AppResult<SubmissionSummary> {
        Ok(SubmissionSummary {
            id: self.id,
            tenant_name: self.tenant_name.clone(),
            slug: self.slug.clone(),
            skill_name: self.skill_name.clone(),
            status: self.status()?,
            failed_step: self.failed_step.clone(),
            reason: self.reason.clone(),
            submitted_by: self.submitted_by.clone(),
            submitted_at: self.created_at,
            content_hash: self.content_hash.clone(),
        })
    }

    /// The lock the reviewer approved, if the skill declares packages.
    fn lock(&self) -> Option<Lock> {
        self.lock_text.clone().map(Lock::new)
    }

    fn proposed(&self) -> AppResult<SkillFlags> {
        Ok(SkillFlags {
            risk: parse_risk(&self.proposed_risk)?,
            ai_callable: self.ai_callable,
            manual_allowed: self.manual_allowed,
            requires_confirmation: self.requires_confirmation,
        })
    }

    fn decided(&self) -> AppResult<Option<SkillFlags>> {
        match (
            &self.risk,
            self.approved_ai_callable,
            self.approved_manual,
            self.approved_confirmation,
        ) {
            (Some(risk), Some(ai_callable), Some(manual_allowed), Some(requires_confirmation)) => {
                Ok(Some(SkillFlags {
                    risk: parse_risk(risk)?,
                    ai_callable,
                    manual_allowed,
                    requires_confirmation,
                }))
            }
            _ => Ok(None),
        }
    }
}

async fn load(conn: &mut PgConnection, id: i64, viewer: Viewer<'_>) -> AppResult<SubmissionRow> {
    let row: Option<SubmissionRow> =
        sqlx::query_as(&format!("{SUBMISSION_SELECT} WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?;
    // Another tenant's submission is indistinguishable from one that does not exist.
    row.filter(|r| match viewer {
        Viewer::Tenant(t) => r.tenant_id == t.id,
        Viewer::Platform => true,
    })
    .ok_or_else(|| AppError::NotFound(format!("There is no submission {id} here.")))
}

/// A tenant's own submissions, newest first.
pub async fn list_for_tenant(ctx: &Ctx, tenant: &Tenant) -> AppResult<Vec<SubmissionSummary>> {
    let rows: Vec<SubmissionRow> = sqlx::query_as(&format!(
        "{SUBMISSION_SELECT} WHERE s.tenant_id = $1 ORDER BY s.created_at DESC, s.id DESC LIMIT 200"
    ))
    .bind(tenant.id)
    .fetch_all(&ctx.pool)
    .await?;
    rows.iter().map(SubmissionRow::summary).collect()
}

/// The console's review queue: every tenant's submissions awaiting review (oldest first), then
/// the most recent decisions.
pub async fn review_queue(ctx: &Ctx) -> AppResult<Vec<SubmissionSummary>> {
    let rows: Vec<SubmissionRow> = sqlx::query_as(&format!(
        "({SUBMISSION_SELECT} WHERE s.status = 'submitted' ORDER BY s.created_at, s.id) \
         UNION ALL \
         ({SUBMISSION_SELECT} WHERE s.status <> 'submitted' \
          ORDER BY s.created_at DESC, s.id DESC LIMIT 50)"
    ))
    .fetch_all(&ctx.pool)
    .await?;
    rows.iter().map(SubmissionRow::summary).collect()
}

/// One submission with its timeline, files, README and the diff against the live version.
pub async fn detail(ctx: &Ctx, id: i64, viewer: Viewer<'_>) -> AppResult<SubmissionDetail> {
    let mut conn = ctx.pool.acquire().await?;
    let row = load(&mut conn, id, viewer).await?;
    let timeline: Vec<(chrono::DateTime<chrono::Utc>, String, String, String)> = sqlx::query_as(
        "SELECT at, status, actor, note FROM public.skill_submission_events \
         WHERE submission_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let files = submitted_files(&mut conn, id).await?;
    drop(conn);

    let tenant = tenancy::tenant_by_id(ctx, row.tenant_id).await?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let live = live_version_of(&mut tx, &row.slug).await?;
    let base = base_version(&mut tx, &row.slug, row.version).await?;
    tx.commit().await?;
    let packages = row.lock().map(|lock| PackageLock {
        declared_in: row.lock_source.clone().unwrap_or_default(),
        packages: environments::lock::packages(&lock.text),
        hash: lock.hash,
        text: lock.text,
    });
    let package_changes = match &base {
        Some((_, _, base_lock)) => environments::lock::changes(
            &environments::lock::packages(base_lock.as_deref().unwrap_or_default()),
            packages.as_ref().map_or(&[][..], |p| &p.packages),
        ),
        None => Vec::new(),
    };
    let diff = match &base {
        Some((_, hash, _)) => {
            let base = skills::cached_folder(ctx, tenant.id, &tenant.schema, hash).await?;
            let old = skills::read_stored_folder(base).await?;
            diff_folders(&old, &files)
        }
        None => Vec::new(),
    };
    let declared = files
        .iter()
        .find(|(p, _)| p == manifest::MANIFEST_FILE)
        .and_then(|(_, b)| std::str::from_utf8(b).ok())
        .and_then(|text| manifest::parse_manifest(text).ok());
    let readme = files
        .iter()
        .find(|(p, _)| p == manifest::README_FILE)
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    Ok(SubmissionDetail {
        summary: row.summary()?,
        kind: row.kind.clone(),
        archive_name: row.archive_name.clone(),
        scenario: row.scenario.clone(),
        proposed: row.proposed()?,
        decided: row.decided()?,
        reviewed_by: row.reviewed_by.clone(),
        version: row.version,
        verification: row
            .verification
            .as_ref()
            .map(|v| match viewer {
                Viewer::Platform => v.clone(),
                Viewer::Tenant(_) => verification_for_tenant(v),
            })
            .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default()),
        timeline: timeline
            .into_iter()
            .map(|(at, status, actor, note)| SubmissionEvent {
                at,
                status,
                actor,
                note,
            })
            .collect(),
        files: files
            .iter()
            .map(|(path, bytes)| SubmittedFile {
                path: path.clone(),
                size: bytes.len() as i64,
                text: as_text(bytes).map(str::to_string),
            })
            .collect(),
        readme_html: skills::render_readme(&readme),
        live_version: live.map(|(v, _)| v),
        base_version: base.map(|(v, _, _)| v),
        diff,
        packages,
        package_changes,
        command_line: declared
            .as_ref()
            .map(|m| manifest::command_line(&row.kind, m)),
        stdin_lines: declared
            .as_ref()
            .map(|m| m.invocation.stdin_lines())
            .unwrap_or_default(),
        secrets: declared
            .as_ref()
            .map(|m| m.secrets.clone())
            .unwrap_or_default(),
        artifact_globs: declared.map(|m| m.invocation.artifacts).unwrap_or_default(),
    })
}

async fn submitted_files(conn: &mut PgConnection, id: i64) -> AppResult<Vec<(String, Vec<u8>)>> {
    Ok(sqlx::query_as(
        "SELECT path, content FROM public.skill_submission_files \
         WHERE submission_id = $1 ORDER BY path",
    )
    .bind(id)
    .fetch_all(conn)
    .await?)
}

/// The file as text, if it is UTF-8 without NUL bytes.
fn as_text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| !s.contains('\0'))
}

/// Line diffs of every changed file, with three lines of context around each change.
fn diff_folders(old: &[(String, Vec<u8>)], new: &[(String, Vec<u8>)]) -> Vec<FileDiff> {
    let mut paths: Vec<&str> = old.iter().chain(new).map(|(p, _)| p.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    let find = |files: &[(String, Vec<u8>)], path: &str| {
        files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
    };
    let mut diffs = Vec::new();
    for path in paths {
        let (before, after) = (find(old, path), find(new, path));
        if before == after {
            continue;
        }
        let change = match (&before, &after) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "modified",
        };
        let (before, after) = (before.unwrap_or_default(), after.unwrap_or_default());
        let (Some(before), Some(after)) = (as_text(&before), as_text(&after)) else {
            diffs.push(FileDiff {
                path: path.to_string(),
                change: "binary".into(),
                lines: Vec::new(),
            });
            continue;
        };
        let text = similar::TextDiff::from_lines(before, after);
        let mut lines = Vec::new();
        for group in text.grouped_ops(3) {
            for op in group {
                for change in text.iter_changes(&op) {
                    lines.push(DiffLine {
                        change: match change.tag() {
                            similar::ChangeTag::Equal => LineChange::Same,
                            similar::ChangeTag::Insert => LineChange::Added,
                            similar::ChangeTag::Delete => LineChange::Removed,
                        },
                        old: change.old_index().map(|i| i + 1),
                        new: change.new_index().map(|i| i + 1),
                        text: change.value().trim_end_matches(['\n', '\r']).to_string(),
                    });
                }
            }
        }
        diffs.push(FileDiff {
            path: path.to_string(),
            change: change.into(),
            lines,
        });
    }
    diffs
}

/// Approves a submitted folder with the reviewer's flags and risk, then takes it through sync,
/// registration and verification. Returns the status it reached (`live`, or `failed`).
pub async fn approve(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    decided: SkillFlags,
    note: &str,
) -> AppResult<SubmissionStatus> {
    check_flags(&decided)?;
    let mut tx = ctx.pool.begin().await?;
    let row = pending_for_review(&mut tx, id).await?;
    sqlx::query(
        "UPDATE public.skill_submissions SET status = 'approved', risk = $2, \
         approved_ai_callable = $3, approved_manual = $4, approved_confirmation = $5, \
         reviewed_by = $6, reviewed_at = now(), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(decided.risk.as_str())
    .bind(decided.ai_callable)
    .bind(decided.manual_allowed)
    .bind(decided.requires_confirmation)
    .bind(&actor.name)
    .execute(&mut *tx)
    .await?;
    let mut note = note.trim().to_string();
    let proposed = row.proposed()?;
    if decided != proposed {
        let changed = flag_changes(&proposed, &decided);
        note = if note.is_empty() {
            changed
        } else {
            format!("{note} ({changed})")
        };
    }
    let detail = json!({
        "submission_id": id,
        "tenant": row.tenant_name,
        "risk": decided.risk.as_str(),
        "ai_callable": decided.ai_callable,
        "manual_allowed": decided.manual_allowed,
        "requires_confirmation": decided.requires_confirmation,
        "note": note,
    });
    record_decision(
        &mut tx,
        &row,
        actor,
        "approved",
        &note,
        "skill.approve",
        detail,
    )
    .await?;
    tx.commit().await?;
    advance(ctx, id).await
}

/// Rejects a submitted folder; the reason is shown to the submitter.
pub async fn reject(ctx: &Ctx, actor: &Actor, id: i64, reason: &str) -> AppResult<()> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::Invalid(
            "Give the submitter a reason for the rejection.".into(),
        ));
    }
    let mut tx = ctx.pool.begin().await?;
    let row = pending_for_review(&mut tx, id).await?;
    sqlx::query(
        "UPDATE public.skill_submissions SET status = 'rejected', reason = $2, reviewed_by = $3, \
         reviewed_at = now(), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .bind(&actor.name)
    .execute(&mut *tx)
    .await?;
    let detail = json!({ "submission_id": id, "tenant": row.tenant_name, "reason": reason });
    record_decision(
        &mut tx,
        &row,
        actor,
        "rejected",
        reason,
        "skill.reject",
        detail,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The submission, locked, if it still waits for review.
async fn pending_for_review(conn: &mut PgConnection, id: i64) -> AppResult<SubmissionRow> {
    sqlx::query("SELECT 1 FROM public.skill_submissions WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let row = load(conn, id, Viewer::Platform).await?;
    if row.status()? != SubmissionStatus::Submitted {
        return Err(AppError::Conflict(format!(
            "Submission {id} was already reviewed (it is {}).",
            row.status
        )));
    }
    Ok(row)
}

/// A review decision on the timeline and in both audit logs (platform and tenant), in the
/// caller's transaction.
async fn record_decision(
    tx: &mut PgConnection,
    row: &SubmissionRow,
    actor: &Actor,
    status: &str,
    note: &str,
    action: &str,
    detail: Value,
) -> AppResult<()> {
    add_event(tx, row.id, status, actor, note).await?;
    let event = || Event {
        action,
        target: &row.slug,
        detail: detail.clone(),
        result: "ok",
    };
    audit::record(tx, AuditLog::Platform, actor, event()).await?;
    let schema: String = sqlx::query_scalar("SELECT schema_name FROM public.tenants WHERE id = $1")
        .bind(row.tenant_id)
        .fetch_one(&mut *tx)
        .await?;
    enter_schema(tx, &crate::db::TenantSchema::parse(&schema)?).await?;
    audit::record(tx, AuditLog::Tenant, actor, event()).await?;
    Ok(())
}

fn flag_changes(proposed: &SkillFlags, decided: &SkillFlags) -> String {
    let mut changes = Vec::new();
    if proposed.risk != decided.risk {
        changes.push(format!(
            "risk {} → {}",
            proposed.risk.as_str(),
            decided.risk.as_str()
        ));
    }
    for (name, before, after) in [
        ("AI may call it", proposed.ai_callable, decided.ai_callable),
        (
            "manual runs",
            proposed.manual_allowed,
            decided.manual_allowed,
        ),
        (
            "confirmation required",
            proposed.requires_confirmation,
            decided.requires_confirmation,
        ),
    ] {
        if before != after {
            changes.push(format!("{name}: {} → {}", yes_no(before), yes_no(after)));
        }
    }
    format!("reviewer changed {}", changes.join(", "))
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Takes an approved submission through the platform's steps from wherever it stopped (also
/// after a restart): sync, register, verify. Returns the status reached.
pub async fn advance(ctx: &Ctx, id: i64) -> AppResult<SubmissionStatus> {
    let actor = Actor::system();
    loop {
        let mut conn = ctx.pool.acquire().await?;
        let row = load(&mut conn, id, Viewer::Platform).await?;
        drop(conn);
        let (step, outcome) = match row.status()? {
            SubmissionStatus::Approved if row.lock_text.is_some() => {
                ("environment", build_environment(ctx, &row, &actor).await)
            }
            SubmissionStatus::Approved | SubmissionStatus::Built => {
                ("sync", sync(ctx, &row, &actor).await)
            }
            SubmissionStatus::Synced => ("register", register(ctx, &row, &actor).await),
            SubmissionStatus::Registered => ("verify", verify(ctx, &row, &actor).await),
            done => return Ok(done),
        };
        if let Err(err) = outcome {
            tracing::warn!(submission = id, step, %err, "hot update failed");
            fail(ctx, &row, &actor, step, &err.to_string()).await?;
            return Ok(SubmissionStatus::Failed);
        }
    }
}

/// Resumes every submission that was approved but did not reach `live` (e.g. the server
/// stopped mid-way). Called at start-up.
pub async fn resume(ctx: &Ctx) -> AppResult<()> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM public.skill_submissions \
         WHERE status IN ('approved', 'built', 'synced', 'registered') ORDER BY created_at, id",
    )
    .fetch_all(&ctx.pool)
    .await?;
    for id in ids {
        let status = advance(ctx, id).await?;
        tracing::info!(
            submission = id,
            status = status.as_str(),
            "hot update resumed"
        );
    }
    Ok(())
}

/// The submitted files as a checked folder, with the reviewer's flags and risk in its manifest.
async fn approved_folder(ctx: &Ctx, row: &SubmissionRow) -> AppResult<ScriptFolder> {
    let mut conn = ctx.pool.acquire().await?;
    let files = submitted_files(&mut conn, row.id).await?;
    drop(conn);
    let mut folder = manifest::load_script_folder(files)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored submission unreadable: {e}")))?;
    if folder.content_hash != row.content_hash {
        return Err(AppError::Internal(anyhow::anyhow!(
            "stored files hash to {}, not {}",
            folder.content_hash,
            row.content_hash
        )));
    }
    let decided = row
        .decided()?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("approved without a decision")))?;
    let m = &mut folder.manifest;
    m.risk = decided.risk;
    m.ai_callable = decided.ai_callable;
    m.manual_allowed = decided.manual_allowed;
    m.requires_confirmation = decided.requires_confirmation;
    Ok(folder)
}

async fn set_status(
    conn: &mut PgConnection,
    row: &SubmissionRow,
    actor: &Actor,
    status: SubmissionStatus,
    note: &str,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE public.skill_submissions SET status = $2, updated_at = now() WHERE id = $1",
    )
    .bind(row.id)
    .bind(status.as_str())
    .execute(&mut *conn)
    .await?;
    add_event(conn, row.id, status.as_str(), actor, note).await
}

/// A pipeline step's change of status, on the timeline and in the tenant's audit log.
async fn record_step(
    ctx: &Ctx,
    row: &SubmissionRow,
    actor: &Actor,
    status: SubmissionStatus,
    note: &str,
    detail: Value,
) -> AppResult<()> {
    let tenant = tenancy::tenant_by_id(ctx, row.tenant_id).await?;
    let mut tx = ctx.pool.begin().await?;
    set_status(&mut tx, row, actor, status, note).await?;
    enter_schema(&mut tx, &tenant.schema).await?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: &format!("skill.{}", status.as_str()),
            target: &row.slug,
            detail,
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Environment: the approved lock's Python environment, built unless another skill version (of
/// any tenant) with the same lock has it built already.
async fn build_environment(ctx: &Ctx, row: &SubmissionRow, actor: &Actor) -> AppResult<()> {
    let lock = row
        .lock()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no lock to build")))?;
    let started = std::time::Instant::now();
    environments::ensure_built(ctx, &lock)
        .await
        .map_err(AppError::Invalid)?;
    let packages = environments::lock::packages(&lock.text).len();
    let note = format!(
        "Python environment {} ready ({packages} packages)",
        &lock.hash[..12]
    );
    let detail = json!({ "submission_id": row.id, "lock_hash": lock.hash,
                         "packages": packages,
                         "seconds": started.elapsed().as_secs_f64() });
    record_step(ctx, row, actor, SubmissionStatus::Built, &note, detail).await
}

/// Sync: the folder into the tenant's managed workspace, one immutable folder per content hash.
async fn sync(ctx: &Ctx, row: &SubmissionRow, actor: &Actor) -> AppResult<()> {
    let folder = approved_folder(ctx, row).await?;
    let dir = skills::store_folder(ctx, row.tenant_id, &folder).await?;
    let note = format!("stored as {}", folder.content_hash);
    let detail = json!({ "submission_id": row.id, "content_hash": folder.content_hash,
                         "path": dir.strip_prefix(&ctx.data_dir).unwrap_or(&dir) });
    record_step(ctx, row, actor, SubmissionStatus::Synced, &note, detail).await
}

/// Registration: asset, asset version, skill, skill version and grants in the tenant's schema,
/// and the submission's new status, in one transaction.
async fn register(ctx: &Ctx, row: &SubmissionRow, actor: &Actor) -> AppResult<()> {
    let folder = approved_folder(ctx, row).await?;
    let tenant = tenancy::tenant_by_id(ctx, row.tenant_id).await?;
    let lock = row.lock();
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let registered = skills::register_in(
        &mut tx,
        actor,
        &folder,
        &[TenantRole::Member],
        Provenance {
            submission_id: Some(row.id),
            submitted_by: Some(&row.submitted_by),
            approved_by: row.reviewed_by.as_deref(),
            lock: lock.as_ref(),
        },
    )
    .await?;
    leave_schema(&mut tx).await?;
    sqlx::query("UPDATE public.skill_submissions SET version = $2 WHERE id = $1")
        .bind(row.id)
        .bind(registered.version)
        .execute(&mut *tx)
        .await?;
    let note = format!("version {} of {} is live", registered.version, row.slug);
    set_status(&mut tx, row, actor, SubmissionStatus::Registered, &note).await?;
    tx.commit().await?;
    Ok(())
}

/// Verification: the registered version is visible and runnable in the owning tenant, and in
/// no other tenant visible, runnable, stored or AI-callable. Recorded on the submission.
async fn verify(ctx: &Ctx, row: &SubmissionRow, actor: &Actor) -> AppResult<()> {
    let decided = row
        .decided()?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("approved without a decision")))?;
    let mut problems = Vec::new();
    let mut others = Vec::new();
    for tenant in tenancy::all_tenants(ctx).await? {
        let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
        // The live, enabled version of the slug, if it came from this submission.
        let live: Option<(bool, String)> = sqlx::query_as(
            "SELECT s.enabled, av.content_hash FROM skills s \
             JOIN skill_versions v ON v.id = s.current_version_id \
             JOIN asset_versions av ON av.id = v.asset_version_id \
             WHERE s.slug = $1 AND v.submission_id = $2",
        )
        .bind(&row.slug)
        .bind(row.id)
        .fetch_optional(&mut *tx)
        .await?;
        let any_version: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM skill_versions WHERE submission_id = $1)",
        )
        .bind(row.id)
        .fetch_one(&mut *tx)
        .await?;
        let ai_callable = skills::ai_callable_in(&mut tx)
            .await?
            .iter()
            .any(|(_, submission)| *submission == Some(row.id));
        let entry = if row.kind == "shell" {
            "main.sh"
        } else {
            "main.py"
        };
        let (registered_hash, in_database): (bool, bool) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM asset_versions WHERE content_hash = $1), \
                    EXISTS (SELECT 1 FROM asset_files WHERE content_hash = $1 AND path = $2)",
        )
        .bind(&row.content_hash)
        .bind(entry)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        // A folder stored before the database kept them is on this node's disk only.
        let stored = in_database
            || tokio::fs::try_exists(
                skills::asset_dir(ctx, tenant.id, &row.content_hash).join(entry),
            )
            .await?;
        if tenant.id == row.tenant_id {
            let visible = live.as_ref().is_some_and(|(enabled, _)| *enabled);
            let runnable =
                visible && live.as_ref().is_some_and(|(_, h)| *h == row.content_hash) && stored;
            if !visible {
                problems.push(format!("not live in {}", tenant.name));
            }
            if !runnable {
                problems.push(format!("not runnable in {}", tenant.name));
            }
            if ai_callable != decided.ai_callable {
                problems.push(format!(
                    "AI-callable in {} is {ai_callable}, expected {}",
                    tenant.name, decided.ai_callable
                ));
            }
        } else {
            // Another tenant may hold identical content it registered itself; only files
            // without a registration there would have leaked from this sync.
            let leaked_files = stored && !registered_hash;
            if live.is_some() || any_version || ai_callable || leaked_files {
                problems.push(format!("reachable in {}", tenant.name));
            }
            others.push(json!({
                "tenant": tenant.name,
                "visible": live.is_some() || any_version,
                "ai_callable": ai_callable,
                "files": leaked_files,
            }));
        }
    }
    let verification = json!({
        "owning_tenant": { "tenant": row.tenant_name, "visible": true, "runnable": true,
                           "ai_callable": decided.ai_callable },
        "other_tenants": others,
        "checked_at": chrono::Utc::now(),
    });
    if !problems.is_empty() {
        return Err(AppError::Internal(anyhow::anyhow!(
            "verification failed: {}",
            problems.join("; ")
        )));
    }
    sqlx::query("UPDATE public.skill_submissions SET verification = $2 WHERE id = $1")
        .bind(row.id)
        .bind(&verification)
        .execute(&ctx.pool)
        .await?;
    // The timeline and the tenant's audit log are the tenant's to read: nothing about other
    // tenants beyond "not visible" (the names and their number stay on the submission, for
    // the platform's view).
    let note = format!("live in {} only, {NOT_ELSEWHERE}", row.tenant_name);
    record_step(
        ctx,
        row,
        actor,
        SubmissionStatus::Live,
        &note,
        json!({ "submission_id": row.id,
                "verification": verification_for_tenant(&verification) }),
    )
    .await
}

const NOT_ELSEWHERE: &str = "not visible in any other tenant";

/// A recorded verification as the owning tenant may see it: the other tenants (names and
/// number) reduced to the verdict. Only passed verifications are recorded.
fn verification_for_tenant(verification: &Value) -> Value {
    let mut shown = verification.clone();
    if let Some(fields) = shown.as_object_mut() {
        fields.insert("other_tenants".into(), json!(NOT_ELSEWHERE));
    }
    shown
}

/// Marks the submission failed at `step`. A failed verification also takes the version it
/// registered out of service: the previous version goes live again (or the skill is disabled).
async fn fail(
    ctx: &Ctx,
    row: &SubmissionRow,
    actor: &Actor,
    step: &str,
    reason: &str,
) -> AppResult<()> {
    let tenant = tenancy::tenant_by_id(ctx, row.tenant_id).await?;
    let mut tx = ctx.pool.begin().await?;
    sqlx::query(
        "UPDATE public.skill_submissions SET status = 'failed', failed_step = $2, reason = $3, \
         updated_at = now() WHERE id = $1",
    )
    .bind(row.id)
    .bind(step)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    add_event(
        &mut tx,
        row.id,
        "failed",
        actor,
        &format!("at {step}: {reason}"),
    )
    .await?;
    enter_schema(&mut tx, &tenant.schema).await?;
    if step == "verify" {
        // Only if the live version is still this submission's (nobody switched since).
        sqlx::query(
            "UPDATE skills SET \
               current_version_id = COALESCE((SELECT v.id FROM skill_versions v \
                 WHERE v.skill_id = skills.id AND v.submission_id IS DISTINCT FROM $2 \
                   AND v.withdrawn_at IS NULL \
                 ORDER BY v.version DESC LIMIT 1), current_version_id), \
               enabled = enabled AND EXISTS (SELECT 1 FROM skill_versions v \
                 WHERE v.skill_id = skills.id AND v.submission_id IS DISTINCT FROM $2 \
                   AND v.withdrawn_at IS NULL) \
             WHERE slug = $1 \
               AND current_version_id IN (SELECT id FROM skill_versions WHERE submission_id = $2)",
        )
        .bind(&row.slug)
        .bind(row.id)
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "skill.hot_update",
            target: &row.slug,
            detail: json!({ "submission_id": row.id, "step": step, "reason": reason }),
            result: "failed",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> (String, Vec<u8>) {
        (path.to_string(), text.as_bytes().to_vec())
    }

    #[test]
    fn diffs_show_changed_files_with_line_numbers() {
        let old = vec![
            file("README.md", "same\n"),
            file("main.py", "a\nb\nc\n"),
            file("gone.txt", "x\n"),
        ];
        let new = vec![
            file("README.md", "same\n"),
            file("main.py", "a\nB\nc\n"),
            file("new.txt", "y\n"),
        ];
        let diffs = diff_folders(&old, &new);
        let summary: Vec<(&str, &str)> = diffs
            .iter()
            .map(|d| (d.path.as_str(), d.change.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("gone.txt", "removed"),
                ("main.py", "modified"),
                ("new.txt", "added")
            ]
        );
        let main = &diffs[1].lines;
        assert!(main.contains(&DiffLine {
            change: LineChange::Removed,
            old: Some(2),
            new: None,
            text: "b".into()
        }));
        assert!(main.contains(&DiffLine {
            change: LineChange::Added,
            old: None,
            new: Some(2),
            text: "B".into()
        }));
        assert!(main.contains(&DiffLine {
            change: LineChange::Same,
            old: Some(3),
            new: Some(3),
            text: "c".into()
        }));
    }

    #[test]
    fn binary_files_are_not_diffed_line_by_line() {
        let diffs = diff_folders(
            &[("x.bin".into(), vec![0, 1])],
            &[("x.bin".into(), vec![0, 2])],
        );
        assert_eq!(diffs[0].change, "binary");
        assert!(diffs[0].lines.is_empty());
    }

    #[test]
    fn reviewer_changes_are_named() {
        let proposed = SkillFlags {
            risk: RiskLevel::Low,
            ai_callable: true,
            manual_allowed: true,
            requires_confirmation: false,
        };
        let decided = SkillFlags {
            risk: RiskLevel::High,
            ai_callable: false,
            ..proposed
        };
        assert_eq!(
            flag_changes(&proposed, &decided),
            "reviewer changed risk low → high, AI may call it: yes → no"
        );
    }
}
