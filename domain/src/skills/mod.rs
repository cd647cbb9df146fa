//! Skills: the script folders they run (assets, content-addressed versions), their versions,
//! and who may see and run them.

pub mod archive;
pub mod governance;
pub mod manifest;

use std::path::{Path, PathBuf};

use model::hot_update::{SkillVersionInfo, SkillVersions};
use model::skill::{InputSchema, RiskLevel};
use model::TenantRole;
use model::{SkillPage, SkillSummary};
use serde_json::json;
use sqlx::PgConnection;

use crate::accounts::SignedIn;
use crate::audit::{self, AuditLog, Event};
use crate::blobs::{self, BlobStore};
use crate::db::{TenantSchema, TenantTx};
use crate::environments::{self, Lock};
use crate::tenancy::Tenant;
use crate::{Actor, AppError, AppResult, Ctx};
use manifest::ScriptFolder;

/// Stores a script folder for the tenant, once per content hash: its files as blobs in the
/// database (what every node runs from) and in this node's copy of the managed workspace. A
/// folder that exists is never changed; a new one is written under a temporary name, then
/// renamed into place.
pub async fn store_folder(ctx: &Ctx, tenant_id: i64, folder: &ScriptFolder) -> AppResult<PathBuf> {
    let tenant = crate::tenancy::tenant_by_id(ctx, tenant_id).await?;
    store_in_database(ctx, &tenant.schema, &folder.content_hash, &folder.files).await?;
    let dir = asset_dir(ctx, tenant_id, &folder.content_hash);
    if tokio::fs::try_exists(&dir).await? {
        return Ok(dir);
    }
    let tmp = incoming(ctx, tenant_id, &folder.content_hash);
    for (path, bytes) in &folder.files {
        // Paths were checked by `load_script_folder`: relative, no `..`.
        let target = tmp.join(path);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::write(&target, bytes).await?;
    }
    put_in_place(&tmp, &dir).await?;
    Ok(dir)
}

/// Stores a folder's files as blobs and lists them under its content hash, unless that hash
/// is listed already.
async fn store_in_database(
    ctx: &Ctx,
    schema: &TenantSchema,
    content_hash: &str,
    files: &[(String, Vec<u8>)],
) -> AppResult<()> {
    let store = blobs::store(ctx);
    let mut tx = TenantTx::begin(&ctx.pool, schema).await?;
    let stored: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM asset_files WHERE content_hash = $1)")
            .bind(content_hash)
            .fetch_one(&mut *tx)
            .await?;
    if !stored {
        for (path, bytes) in files {
            let blob = store.put(&mut tx, &bytes[..]).await?;
            sqlx::query(
                "INSERT INTO asset_files (content_hash, path, blob_hash) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(content_hash)
            .bind(path)
            .bind(&blob.hash)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Every file under a stored asset folder, with `/`-separated relative paths, sorted.
pub(crate) async fn read_stored_folder(dir: PathBuf) -> AppResult<Vec<(String, Vec<u8>)>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(root, &path, out)?;
            } else {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((name, std::fs::read(&path)?));
            }
        }
        Ok(())
    }
    let files = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        walk(&dir, &dir, &mut out).map(|()| out)
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))??;
    let mut files = files;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// A fresh temporary folder name beside the tenant's asset folders.
fn incoming(ctx: &Ctx, tenant_id: i64, content_hash: &str) -> PathBuf {
    ctx.assets_dir(tenant_id).join(format!(
        ".incoming-{content_hash}-{}",
        rand::random::<u32>()
    ))
}

/// Renames the folder `tmp` to `dir`, unless another writer put it there first (theirs is
/// identical: same content hash).
async fn put_in_place(tmp: &Path, dir: &Path) -> AppResult<()> {
    if let Err(err) = tokio::fs::rename(tmp, dir).await {
        tokio::fs::remove_dir_all(tmp).await.ok();
        if !tokio::fs::try_exists(dir).await? {
            return Err(err.into());
        }
    }
    Ok(())
}

/// The folder of an asset version in this node's copy of the managed workspace (see
/// [`cached_folder`] for one that is checked first).
pub fn asset_dir(ctx: &Ctx, tenant_id: i64, content_hash: &str) -> PathBuf {
    ctx.assets_dir(tenant_id).join(content_hash)
}

/// The asset version `content_hash` of the tenant, ready on this node for a run: every file of
/// the local copy checked against the hash it was stored under; a copy that is missing, or whose
/// files differ, is fetched anew from the database (and swapped in whole). A folder stored before
/// the database kept skill folders is stored there from its local copy.
pub async fn cached_folder(
    ctx: &Ctx,
    tenant_id: i64,
    schema: &TenantSchema,
    content_hash: &str,
) -> AppResult<PathBuf> {
    let dir = asset_dir(ctx, tenant_id, content_hash);
    let mut tx = TenantTx::begin(&ctx.pool, schema).await?;
    let files: Vec<(String, String)> = sqlx::query_as(
        "SELECT path, blob_hash FROM asset_files WHERE content_hash = $1 ORDER BY path",
    )
    .bind(content_hash)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    if files.is_empty() {
        // Stored before the database kept skill folders: this node's copy, if its content
        // still has its hash, goes into the database now for every other node.
        if tokio::fs::try_exists(&dir).await? {
            let local = read_stored_folder(dir.clone()).await?;
            if manifest::content_hash(&local) == content_hash {
                store_in_database(ctx, schema, content_hash, &local).await?;
            }
        }
        return Ok(dir);
    }
    let mut intact = true;
    for (path, hash) in &files {
        manifest::check_path(path)
            .map_err(|m| AppError::Internal(anyhow::anyhow!("{path}: {m}")))?;
        if !blobs::cache::holds(&dir.join(path), hash).await {
            intact = false;
            break;
        }
    }
    if intact {
        return Ok(dir);
    }
    tracing::info!(
        tenant = tenant_id,
        content_hash,
        "fetching a skill folder into the local cache"
    );
    let store = blobs::store(ctx);
    let tmp = incoming(ctx, tenant_id, content_hash);
    let fetched = async {
        for (path, hash) in &files {
            blobs::cache::fetch(&store, schema, hash, &tmp.join(path)).await?;
        }
        AppResult::Ok(())
    }
    .await;
    if let Err(err) = fetched {
        tokio::fs::remove_dir_all(&tmp).await.ok();
        return Err(err);
    }
    if tokio::fs::try_exists(&dir).await? {
        // The damaged copy goes aside first, so that the good one takes its name at once.
        let stale = ctx
            .assets_dir(tenant_id)
            .join(format!(".stale-{content_hash}-{}", rand::random::<u32>()));
        tokio::fs::rename(&dir, &stale).await?;
        tokio::fs::remove_dir_all(&stale).await.ok();
    }
    put_in_place(&tmp, &dir).await?;
    Ok(dir)
}

/// What a registration produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub skill_id: i64,
    pub skill_version_id: i64,
    pub version: i32,
}

/// Where a skill version came from, beyond the actor who registered it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Provenance<'a> {
    pub submission_id: Option<i64>,
    pub submitted_by: Option<&'a str>,
    pub approved_by: Option<&'a str>,
    /// The Python package lock approved with it (the skill declares packages).
    pub lock: Option<&'a Lock>,
}

/// Registers `folder` as the new live version of its skill (by slug) in `tenant`, in one
/// transaction. See `register_in`.
pub async fn register(
    ctx: &Ctx,
    tenant: &Tenant,
    actor: &Actor,
    folder: &ScriptFolder,
    grant_roles: &[TenantRole],
) -> AppResult<Registered> {
    register_with(
        ctx,
        tenant,
        actor,
        folder,
        grant_roles,
        Provenance::default(),
    )
    .await
}

/// [`register`] with where the version came from (and its package lock).
pub async fn register_with(
    ctx: &Ctx,
    tenant: &Tenant,
    actor: &Actor,
    folder: &ScriptFolder,
    grant_roles: &[TenantRole],
    provenance: Provenance<'_>,
) -> AppResult<Registered> {
    folder.manifest.inputs.check().map_err(AppError::Invalid)?;
    store_folder(ctx, tenant.id, folder).await?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let registered = register_in(&mut tx, actor, folder, grant_roles, provenance).await?;
    tx.commit().await?;
    Ok(registered)
}

/// Registers an already stored `folder` inside the caller's tenant transaction: asset, asset
/// version, skill, skill version (with the manifest's flags), grants, audit, and the new version
/// made live. Executions already queued or running keep the version they were created with.
pub async fn register_in(
    tx: &mut PgConnection,
    actor: &Actor,
    folder: &ScriptFolder,
    grant_roles: &[TenantRole],
    provenance: Provenance<'_>,
) -> AppResult<Registered> {
    let m = &folder.manifest;
    m.inputs.check().map_err(AppError::Invalid)?;
    m.invocation
        .check(&m.inputs)
        .map_err(|p| AppError::Invalid(p.message))?;
    if m.risk == RiskLevel::High && !m.requires_confirmation {
        return Err(AppError::Invalid(HIGH_RISK_CONFIRMS.into()));
    }
    let existing: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT s.id, s.asset_id, a.kind FROM skills s JOIN assets a ON a.id = s.asset_id \
         WHERE s.slug = $1 FOR UPDATE OF s",
    )
    .bind(&m.slug)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((_, _, kind)) = &existing {
        check_same_kind(&m.slug, kind, folder.asset_kind())?;
    }
    let asset_id = match existing {
        Some((_, asset_id, _)) => asset_id,
        None => {
            sqlx::query_scalar("INSERT INTO assets (kind, name) VALUES ($1, $2) RETURNING id")
                .bind(folder.asset_kind())
                .bind(&m.slug)
                .fetch_one(&mut *tx)
                .await?
        }
    };
    let asset_version_id: i64 = sqlx::query_scalar(
        "WITH inserted AS (INSERT INTO asset_versions (asset_id, content_hash) VALUES ($1, $2) \
         ON CONFLICT (asset_id, content_hash) DO NOTHING RETURNING id) \
         SELECT id FROM inserted UNION ALL \
         SELECT id FROM asset_versions WHERE asset_id = $1 AND content_hash = $2 LIMIT 1",
    )
    .bind(asset_id)
    .bind(&folder.content_hash)
    .fetch_one(&mut *tx)
    .await?;
    let skill_id: i64 = match existing {
        Some((id, _, _)) => id,
        None => {
            sqlx::query_scalar("INSERT INTO skills (slug, asset_id) VALUES ($1, $2) RETURNING id")
                .bind(&m.slug)
                .bind(asset_id)
                .fetch_one(&mut *tx)
                .await?
        }
    };
    let version: i32 = sqlx::query_scalar(
        "SELECT COALESCE(max(version), 0) + 1 FROM skill_versions WHERE skill_id = $1",
    )
    .bind(skill_id)
    .fetch_one(&mut *tx)
    .await?;
    let skill_version_id: i64 = sqlx::query_scalar(
        "INSERT INTO skill_versions (skill_id, version, asset_version_id, name, description, \
         output_description, input_schema, risk, requires_confirmation, ai_callable, \
         manual_allowed, timeout_seconds, readme, created_by, submission_id, submitted_by, \
         approved_by, agent_label, examples, invocation, secrets) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21) RETURNING id",
    )
    .bind(skill_id)
    .bind(version)
    .bind(asset_version_id)
    .bind(&m.name)
    .bind(&m.description)
    .bind(&m.output)
    .bind(serde_json::to_value(&m.inputs).map_err(|e| AppError::Internal(e.into()))?)
    .bind(m.risk.as_str())
    .bind(m.requires_confirmation)
    .bind(m.ai_callable)
    .bind(m.manual_allowed)
    .bind(m.timeout_seconds as i32)
    .bind(&folder.readme)
    .bind(&actor.name)
    .bind(provenance.submission_id)
    .bind(provenance.submitted_by)
    .bind(provenance.approved_by)
    .bind(&m.agent_label)
    .bind(&m.examples)
    .bind(serde_json::to_value(&m.invocation).map_err(|e| AppError::Internal(e.into()))?)
    .bind(&m.secrets)
    .fetch_one(&mut *tx)
    .await?;
    if let Some(lock) = provenance.lock {
        environments::attach_lock(tx, skill_version_id, lock).await?;
    }
    sqlx::query("UPDATE skills SET current_version_id = $2 WHERE id = $1")
        .bind(skill_id)
        .bind(skill_version_id)
        .execute(&mut *tx)
        .await?;
    for role in grant_roles {
        sqlx::query(
            "INSERT INTO skill_grants (skill_id, role) VALUES ($1, $2) \
             ON CONFLICT (skill_id, role) WHERE role IS NOT NULL DO NOTHING",
        )
        .bind(skill_id)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "skill.register",
            target: &m.slug,
            detail: json!({
                "version": version,
                "content_hash": folder.content_hash,
                "kind": folder.asset_kind(),
                "agent_label": m.agent_label,
                "risk": m.risk.as_str(),
                "submission_id": provenance.submission_id,
                "lock_hash": provenance.lock.map(|l| &l.hash),
                "secrets": m.secrets,
            }),
            result: "ok",
        },
    )
    .await?;
    Ok(Registered {
        skill_id,
        skill_version_id,
        version,
    })
}

/// Why a high-risk skill version is refused without confirmation.
pub const HIGH_RISK_CONFIRMS: &str =
    "A high-risk skill must wait for a person's confirmation before each run.";

/// A skill keeps its asset kind across versions: its executor (and a roll back to any version)
/// depends on it.
pub fn check_same_kind(slug: &str, existing: &str, new: &str) -> AppResult<()> {
    if existing == new {
        return Ok(());
    }
    let runs = |kind: &str| match kind {
        "shell" => "main.sh on the platform",
        "python" => "main.py on the platform",
        _ => "on local agents (agent_label)",
    };
    Err(AppError::Invalid(format!(
        "{slug} runs {}, but this folder runs {}: a new version keeps its language and where it \
         runs (anything else is a new skill, with another slug).",
        runs(existing),
        runs(new),
    )))
}

/// Whether a built-in (demo) folder should be registered as `slug`'s next version: the skill
/// does not exist yet, or the platform alone has registered it and never this content. Once a
/// tenant has updated the skill through a submission, its versions are the tenant's to choose.
pub async fn platform_folder_is_new(
    ctx: &Ctx,
    tenant: &Tenant,
    slug: &str,
    content_hash: &str,
) -> AppResult<bool> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let known: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM skills s JOIN skill_versions v ON v.skill_id = s.id \
         JOIN asset_versions av ON av.id = v.asset_version_id \
         WHERE s.slug = $1 AND (av.content_hash = $2 OR v.submission_id IS NOT NULL))",
    )
    .bind(slug)
    .bind(content_hash)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(!known)
}

/// The live definition of a skill, as a caller about to run it needs it.
#[derive(Clone, Debug)]
pub struct LiveSkill {
    pub skill_id: i64,
    pub slug: String,
    pub skill_version_id: i64,
    pub name: String,
    pub input_schema: InputSchema,
    pub requires_confirmation: bool,
    pub manual_allowed: bool,
    pub ai_callable: bool,
    pub timeout_seconds: i32,
}

#[derive(sqlx::FromRow)]
struct LiveSkillRow {
    skill_id: i64,
    slug: String,
    skill_version_id: i64,
    name: String,
    input_schema: serde_json::Value,
    requires_confirmation: bool,
    manual_allowed: bool,
    ai_callable: bool,
    timeout_seconds: i32,
}

/// SQL condition: the signed-in user ($1 id, $2 role) may see and run skill `s`. Admins see all.
pub(crate) const MAY_RUN: &str =
    "($2 = 'admin' OR EXISTS (SELECT 1 FROM skill_grants g WHERE g.skill_id = s.id \
     AND (g.role = $2 OR g.user_id = $1)))";

pub(crate) fn tenant_role(user: &SignedIn) -> AppResult<&'static str> {
    match &user.principal {
        model::Principal::Tenant { role, .. } => Ok(role.as_str()),
        model::Principal::Platform { .. } => Err(AppError::Forbidden(
            "Skills are used from a tenant's own address.".into(),
        )),
    }
}

/// The live version of an enabled skill this user may run; "not found" otherwise, so that
/// skills a user may not see are indistinguishable from skills that do not exist.
pub async fn live_skill_for(
    conn: &mut PgConnection,
    user: &SignedIn,
    slug: &str,
) -> AppResult<LiveSkill> {
    let role = tenant_role(user)?;
    let row: LiveSkillRow = sqlx::query_as(&format!(
        "SELECT s.id AS skill_id, s.slug, v.id AS skill_version_id, v.name, v.input_schema, \
         v.requires_confirmation, v.manual_allowed, v.ai_callable, v.timeout_seconds \
         FROM skills s JOIN skill_versions v ON v.id = s.current_version_id \
         WHERE s.slug = $3 AND s.enabled AND {MAY_RUN}"
    ))
    .bind(user.user_id)
    .bind(role)
    .bind(slug)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("There is no skill {slug:?} here.")))?;
    Ok(LiveSkill {
        skill_id: row.skill_id,
        slug: row.slug,
        skill_version_id: row.skill_version_id,
        name: row.name,
        input_schema: serde_json::from_value(row.input_schema).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("stored input schema unreadable: {e}"))
        })?,
        requires_confirmation: row.requires_confirmation,
        manual_allowed: row.manual_allowed,
        ai_callable: row.ai_callable,
        timeout_seconds: row.timeout_seconds,
    })
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    slug: String,
    name: String,
    description: String,
    risk: String,
    requires_confirmation: bool,
    version: i32,
    output_description: String,
    readme: String,
    input_schema: serde_json::Value,
}

impl SummaryRow {
    fn summary(&self) -> AppResult<SkillSummary> {
        Ok(SkillSummary {
            slug: self.slug.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            risk: RiskLevel::parse(&self.risk).ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("unknown risk {:?}", self.risk))
            })?,
            requires_confirmation: self.requires_confirmation,
            version: self.version,
        })
    }
}

const SUMMARY_SELECT: &str =
    "SELECT s.slug, v.name, v.description, v.risk, v.requires_confirmation, \
     v.version, v.output_description, v.readme, v.input_schema \
     FROM skills s JOIN skill_versions v ON v.id = s.current_version_id";

/// The enabled skills this user may see, by name.
pub async fn list_visible(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
) -> AppResult<Vec<SkillSummary>> {
    let role = tenant_role(user)?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
        "{SUMMARY_SELECT} WHERE s.enabled AND v.manual_allowed AND {MAY_RUN} ORDER BY v.name"
    ))
    .bind(user.user_id)
    .bind(role)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter().map(SummaryRow::summary).collect()
}

/// A skill's page for this user; with `rerun_of`, the form is pre-filled with the inputs of that
/// execution (one the user may see, of this skill).
pub async fn page(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    slug: &str,
    rerun_of: Option<i64>,
) -> AppResult<SkillPage> {
    let role = tenant_role(user)?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let row: SummaryRow = sqlx::query_as(&format!(
        "{SUMMARY_SELECT} WHERE s.slug = $3 AND s.enabled AND {MAY_RUN}"
    ))
    .bind(user.user_id)
    .bind(role)
    .bind(slug)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("There is no skill {slug:?} here.")))?;
    let previous: Option<serde_json::Value> = match rerun_of {
        None => None,
        Some(id) => {
            sqlx::query_scalar(
                "SELECT e.inputs FROM executions e JOIN skills s ON s.id = e.skill_id \
             WHERE e.id = $1 AND s.slug = $2 AND (e.requested_by = $3 OR $4)",
            )
            .bind(id)
            .bind(slug)
            .bind(user.user_id)
            .bind(user.principal.is_tenant_admin())
            .fetch_optional(&mut *tx)
            .await?
        }
    };
    let versions = versions_in(&mut tx, slug).await?;
    tx.commit().await?;
    let prefill = previous
        .as_ref()
        .and_then(|v| v.as_object())
        .map(|inputs| {
            inputs
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(SkillPage {
        summary: row.summary()?,
        output_description: row.output_description.clone(),
        readme_html: render_readme(&row.readme),
        inputs: serde_json::from_value(row.input_schema.clone()).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("stored input schema unreadable: {e}"))
        })?,
        prefill,
        rerun_of: previous.is_some().then_some(rerun_of).flatten(),
        versions,
        can_switch_version: user.principal.is_tenant_admin(),
    })
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    version: i32,
    content_hash: String,
    submitted_by: Option<String>,
    approved_by: Option<String>,
    created_by: String,
    created_at: chrono::DateTime<chrono::Utc>,
    submission_id: Option<i64>,
    live: bool,
    withdrawn_reason: Option<String>,
}

/// Every version of `slug` in the current tenant transaction, newest first.
pub async fn versions_in(conn: &mut PgConnection, slug: &str) -> AppResult<Vec<SkillVersionInfo>> {
    let rows: Vec<VersionRow> = sqlx::query_as(
        "SELECT v.version, av.content_hash, v.submitted_by, v.approved_by, v.created_by, \
         v.created_at, v.submission_id, \
         COALESCE(v.id = s.current_version_id, false) AS live, v.withdrawn_reason \
         FROM skills s JOIN skill_versions v ON v.skill_id = s.id \
         JOIN asset_versions av ON av.id = v.asset_version_id \
         WHERE s.slug = $1 ORDER BY v.version DESC",
    )
    .bind(slug)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SkillVersionInfo {
            version: r.version,
            content_hash: r.content_hash,
            submitted_by: r.submitted_by,
            approved_by: r.approved_by,
            registered_by: r.created_by,
            registered_at: r.created_at,
            submission_id: r.submission_id,
            live: r.live,
            withdrawn_reason: r.withdrawn_reason,
        })
        .collect())
}

/// Every skill of `tenant` (enabled or not, with a live version or none) with its versions,
/// for the platform's console.
pub async fn overview(ctx: &Ctx, tenant: &Tenant) -> AppResult<Vec<SkillVersions>> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    // Named after the live version, or the latest when none is live.
    let skills: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT s.slug, v.name, s.disabled_reason FROM skills s \
         JOIN LATERAL (SELECT name FROM skill_versions v WHERE v.skill_id = s.id \
             ORDER BY v.id = s.current_version_id DESC NULLS LAST, v.version DESC LIMIT 1) v ON true \
         ORDER BY v.name, s.slug",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::with_capacity(skills.len());
    for (slug, name, disabled_reason) in skills {
        let versions = versions_in(&mut tx, &slug).await?;
        out.push(SkillVersions {
            slug,
            name,
            disabled_reason,
            versions,
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// Makes an earlier (roll back) or later (roll forward) version of `slug` live in `tenant`,
/// audited in the tenant's log and, when the platform did it, in the platform's too. Executions
/// already queued or running keep their version.
pub async fn switch_version(
    ctx: &Ctx,
    tenant: &Tenant,
    actor: &Actor,
    by_platform: bool,
    slug: &str,
    version: i32,
) -> AppResult<()> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    // The live version may be none: every version was withdrawn.
    let current: Option<(i64, Option<i32>)> = sqlx::query_as(
        "SELECT s.id, v.version FROM skills s \
         LEFT JOIN skill_versions v ON v.id = s.current_version_id \
         WHERE s.slug = $1 FOR UPDATE OF s",
    )
    .bind(slug)
    .fetch_optional(&mut *tx)
    .await?;
    let (skill_id, from) =
        current.ok_or_else(|| AppError::NotFound(format!("There is no skill {slug:?} here.")))?;
    if from == Some(version) {
        return Err(AppError::Conflict(format!(
            "Version {version} of {slug} is already live."
        )));
    }
    let (target, withdrawn) = governance::version_of(&mut tx, skill_id, slug, version).await?;
    if let Some(reason) = withdrawn {
        return Err(AppError::Conflict(format!(
            "Version {version} of {slug} was withdrawn by the platform ({reason}); it cannot be \
             made live again."
        )));
    }
    sqlx::query("UPDATE skills SET current_version_id = $2 WHERE id = $1")
        .bind(skill_id)
        .bind(target)
        .execute(&mut *tx)
        .await?;
    let action = if from.is_some_and(|from| version < from) {
        "skill.rollback"
    } else {
        "skill.rollforward"
    };
    let detail = json!({ "from_version": from, "to_version": version, "tenant": tenant.name });
    governance::record_in_logs(&mut tx, tenant, actor, by_platform, (action, slug, detail)).await?;
    tx.commit().await?;
    Ok(())
}

/// The slugs and live versions a tenant's assistant may call: enabled skills whose live version
/// is AI-callable, with the hot-update submission each came from.
pub async fn ai_callable_in(conn: &mut PgConnection) -> AppResult<Vec<(String, Option<i64>)>> {
    Ok(sqlx::query_as(
        "SELECT s.slug, v.submission_id FROM skills s \
         JOIN skill_versions v ON v.id = s.current_version_id \
         WHERE s.enabled AND v.ai_callable ORDER BY s.slug",
    )
    .fetch_all(conn)
    .await?)
}

/// A skill's README as HTML: Markdown rendered, then sanitized (no scripts, no event handlers,
/// no foreign styles), since customers write it.
pub fn render_readme(markdown: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(markdown, pulldown_cmark::Options::ENABLE_TABLES);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    ammonia::clean(&html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readmes_are_rendered_and_sanitized() {
        let html = render_readme(
            "# Title\n\n*ok* <script>alert(1)</script> <img src=x onerror=alert(1)> [a](javascript:alert(1))",
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>ok</em>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }
}
