//! Conversations with the intelligent brain, kept per user in the tenant's schema: a request,
//! the recommendations shown, a plan, and the execution it became.
//!
//! The provider only proposes. What it answers is re-checked against the skills this user may
//! have the assistant run here ([`allowed_candidates`]) and against their input schemas
//! ([`check_proposal`]); refusals are logged and kept in the audit trail. Running a plan goes
//! through [`executions::request_from`] like any run, so a skill that requires confirmation waits for
//! [`executions::confirm`], which only a person's explicit action calls.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use model::brain::{
    AttachmentInfo, Conversation, ConversationSummary, Plan, PlanSkill, ShownRecommendation, Turn,
    MAX_REQUEST_CHARS,
};
use model::skill::RiskLevel;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use super::embedded::fill_inputs;
use super::{check_proposal, Ask, Attachment, Candidate, PlanDraft, Proposal, Provider};
use crate::accounts::SignedIn;
use crate::audit::{self, AuditLog, Event};
use crate::db::TenantTx;
use crate::executions::{self, Upload, MAX_UPLOAD_BYTES};
use crate::skills::{tenant_role, MAY_RUN};
use crate::storage;
use crate::tenancy::Tenant;
use crate::{Actor, AppError, AppResult, Ctx};

/// Files one conversation may hold.
pub const MAX_ATTACHMENTS: i64 = 20;

/// What the user is told when the provider could not answer.
const PROVIDER_FAILED: &str =
    "The assistant could not answer just now. Try again in a moment, or run a skill from its page.";

#[derive(sqlx::FromRow)]
struct CandidateRow {
    slug: String,
    name: String,
    description: String,
    output_description: String,
    readme: String,
    examples: Vec<String>,
    input_schema: Value,
    risk: String,
    requires_confirmation: bool,
}

/// The skills the assistant may offer this user here: live, enabled, AI-callable, runnable by
/// them (the same rule as the skill list), and allowed to be run by a person's request (the run
/// path refuses the others), by slug.
pub async fn allowed_candidates(
    conn: &mut PgConnection,
    user: &SignedIn,
) -> AppResult<Vec<Candidate>> {
    let role = tenant_role(user)?;
    let rows: Vec<CandidateRow> = sqlx::query_as(&format!(
        "SELECT s.slug, v.name, v.description, v.output_description, v.readme, v.examples, \
         v.input_schema, v.risk, v.requires_confirmation \
         FROM skills s JOIN skill_versions v ON v.id = s.current_version_id \
         WHERE s.enabled AND v.ai_callable AND {MAY_RUN} ORDER BY s.slug"
    ))
    .bind(user.user_id)
    .bind(role)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Candidate {
                risk: RiskLevel::parse(&r.risk).ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!("unknown risk {:?}", r.risk))
                })?,
                inputs: serde_json::from_value(r.input_schema).map_err(|e| {
                    AppError::Internal(anyhow::anyhow!("stored input schema unreadable: {e}"))
                })?,
                slug: r.slug,
                name: r.name,
                description: r.description,
                output: r.output_description,
                readme: r.readme,
                examples: r.examples,
                requires_confirmation: r.requires_confirmation,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    title: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    turns: i64,
}

/// The user's conversations, most recently active first.
pub async fn list(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
) -> AppResult<Vec<ConversationSummary>> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let rows: Vec<SummaryRow> = sqlx::query_as(
        "SELECT c.id, c.title, c.created_at, c.updated_at, \
         (SELECT count(*) FROM conversation_turns t WHERE t.conversation_id = c.id) AS turns \
         FROM conversations c WHERE c.user_id = $1 ORDER BY c.updated_at DESC, c.id DESC \
         LIMIT 200",
    )
    .bind(user.user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| ConversationSummary {
            id: r.id,
            title: r.title,
            created_at: r.created_at,
            updated_at: r.updated_at,
            turns: r.turns,
        })
        .collect())
}

fn no_conversation(id: i64) -> AppError {
    AppError::NotFound(format!("There is no conversation {id} here."))
}

/// Locks one of the user's own conversations; anyone else's is "not found".
async fn lock_own(conn: &mut PgConnection, user: &SignedIn, id: i64) -> AppResult<()> {
    sqlx::query_scalar::<_, i64>(
        "SELECT id FROM conversations WHERE id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(user.user_id)
    .fetch_optional(conn)
    .await?
    .map(|_| ())
    .ok_or_else(|| no_conversation(id))
}

#[derive(sqlx::FromRow)]
struct TurnRow {
    id: i64,
    created_at: DateTime<Utc>,
    request: String,
    provider: String,
    recommendations: Value,
    note: Option<String>,
    plan: Option<Value>,
    execution_id: Option<i64>,
}

/// One of the user's conversations with its attachments and turns.
pub async fn get(ctx: &Ctx, tenant: &Tenant, user: &SignedIn, id: i64) -> AppResult<Conversation> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let (title, created_at): (String, DateTime<Utc>) = sqlx::query_as(
        "SELECT title, created_at FROM conversations WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user.user_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| no_conversation(id))?;
    let attachments: Vec<(String, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT file_name, size, created_at FROM conversation_attachments \
         WHERE conversation_id = $1 ORDER BY file_name",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let rows: Vec<TurnRow> = sqlx::query_as(
        "SELECT id, created_at, request, provider, recommendations, note, plan, execution_id \
         FROM conversation_turns WHERE conversation_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let allowed = allowed_candidates(&mut tx, user).await?;
    tx.commit().await?;
    let turns = rows
        .into_iter()
        .map(|row| {
            let plan = row.plan.map(stored).transpose()?.map(|draft: PlanDraft| {
                let skill = allowed
                    .iter()
                    .find(|c| c.slug == draft.slug)
                    .map(|c| PlanSkill {
                        name: c.name.clone(),
                        description: c.description.clone(),
                        risk: c.risk,
                        requires_confirmation: c.requires_confirmation,
                        inputs: c.inputs.clone(),
                    });
                Plan {
                    values: draft
                        .inputs
                        .into_iter()
                        .map(|(k, v)| (k, form_text(v)))
                        .collect(),
                    slug: draft.slug,
                    missing: draft.missing,
                    skill,
                }
            });
            Ok(Turn {
                id: row.id,
                at: row.created_at,
                request: row.request,
                provider: row.provider,
                recommendations: stored(row.recommendations)?,
                note: row.note,
                plan,
                execution_id: row.execution_id,
            })
        })
        .collect::<AppResult<_>>()?;
    Ok(Conversation {
        id,
        title,
        created_at,
        attachments: attachments
            .into_iter()
            .map(|(file_name, size, created_at)| AttachmentInfo {
                file_name,
                size,
                created_at,
            })
            .collect(),
        turns,
    })
}

fn stored<T: serde::de::DeserializeOwned>(value: Value) -> AppResult<T> {
    serde_json::from_value(value).map_err(|e| {
        AppError::Internal(anyhow::anyhow!("stored conversation data unreadable: {e}"))
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> AppResult<Value> {
    serde_json::to_value(value).map_err(|e| AppError::Internal(e.into()))
}

/// A plan value as a form field holds it.
fn form_text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Where an ask went: the conversation (new or continued) and the new turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asked {
    pub conversation_id: i64,
    pub turn_id: i64,
}

/// The user asks in plain words, in a new conversation (`conversation: None`) or one of theirs,
/// attaching `files` to it first (a name attached again replaces the earlier file). The request
/// is stored, the provider proposes among [`allowed_candidates`], and what survives the checks is
/// stored and audited with what was refused. Nothing runs.
#[allow(clippy::too_many_arguments)]
pub async fn ask(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    provider: &dyn Provider,
    conversation: Option<i64>,
    request: &str,
    files: &[Upload],
) -> AppResult<Asked> {
    let request = request.trim();
    if request.is_empty() {
        return Err(AppError::Invalid(
            "request: say what you would like to do.".into(),
        ));
    }
    if request.chars().count() > MAX_REQUEST_CHARS {
        return Err(AppError::Invalid(format!(
            "request: use at most {MAX_REQUEST_CHARS} characters."
        )));
    }
    for file in files {
        if file.bytes.len() > MAX_UPLOAD_BYTES {
            return Err(AppError::Invalid(format!(
                "{}: the file is larger than {} MiB.",
                attachment_name(&file.file_name),
                MAX_UPLOAD_BYTES / (1024 * 1024)
            )));
        }
    }

    // The request is kept before the provider is asked, and no transaction waits on it.
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let conversation_id = match conversation {
        Some(id) => {
            lock_own(&mut tx, user, id).await?;
            id
        }
        None => {
            sqlx::query_scalar(
                "INSERT INTO conversations (user_id, title) VALUES ($1, $2) RETURNING id",
            )
            .bind(user.user_id)
            .bind(title_of(request))
            .fetch_one(&mut *tx)
            .await?
        }
    };
    let attached: usize = files.iter().map(|f| f.bytes.len()).sum();
    let owner = storage::Owner {
        user_id: user.user_id,
        username: user.principal.username(),
    };
    storage::ensure_room(
        ctx,
        &mut tx,
        tenant,
        owner,
        attached as i64,
        "these attachments",
    )
    .await?;
    for file in files {
        attach(&mut tx, actor, conversation_id, file).await?;
    }
    let attachments = attachments_of(&mut tx, conversation_id).await?;
    if attachments.len() as i64 > MAX_ATTACHMENTS {
        return Err(AppError::Invalid(format!(
            "files: a conversation holds at most {MAX_ATTACHMENTS} files; start a new one."
        )));
    }
    let allowed = allowed_candidates(&mut tx, user).await?;
    let turn_id: i64 = sqlx::query_scalar(
        "INSERT INTO conversation_turns (conversation_id, request, provider) \
         VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(conversation_id)
    .bind(request)
    .bind(provider.name())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE conversations SET updated_at = now() WHERE id = $1")
        .bind(conversation_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;

    let ask = Ask {
        request,
        attachments: &attachments,
    };
    let (proposal, note) = match provider.propose(ask.clone(), &allowed).await {
        Ok(proposal) => (proposal, None),
        Err(err) => {
            tracing::warn!(%err, provider = provider.name(), turn = turn_id, "the brain's provider failed");
            (Proposal::default(), Some(PROVIDER_FAILED))
        }
    };
    let (checked, mut refused) = check_proposal(proposal, &allowed);
    let mut recommendations = checked.recommendations;
    for rec in &mut recommendations {
        // A score that is not a number cannot be stored as one.
        if !rec.score.is_finite() {
            rec.score = 0.0;
        }
    }
    // The plan is for a recommended skill: the provider's own, else an empty one for the best.
    let plan = match checked.plan {
        Some(plan) if recommendations.iter().any(|r| r.slug == plan.slug) => Some(plan),
        Some(plan) => {
            refused.push(format!(
                "plan for skill {:?} refused: the skill was not recommended",
                plan.slug
            ));
            None
        }
        None => None,
    }
    .or_else(|| {
        let (plan, also) = filled_plan(&ask, &recommendations.first()?.slug, &allowed)?;
        refused.extend(also);
        Some(plan)
    })
    .map(|plan| with_attachments(plan, &allowed, &attachments, &mut refused));
    log_refusals(tenant, actor, turn_id, &refused);
    let shown: Vec<ShownRecommendation> = recommendations
        .iter()
        .filter_map(|r| {
            let c = allowed.iter().find(|c| c.slug == r.slug)?;
            Some(ShownRecommendation {
                slug: c.slug.clone(),
                name: c.name.clone(),
                description: c.description.clone(),
                risk: c.risk,
                requires_confirmation: c.requires_confirmation,
                why: r.why.clone(),
                score: r.score,
            })
        })
        .collect();

    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    sqlx::query(
        "UPDATE conversation_turns SET recommendations = $2, refused = $3, note = $4, plan = $5, \
         chosen_slug = $6 WHERE id = $1",
    )
    .bind(turn_id)
    .bind(to_json(&shown)?)
    .bind(to_json(&refused)?)
    .bind(note)
    .bind(plan.as_ref().map(to_json).transpose()?)
    .bind(plan.as_ref().map(|p| p.slug.as_str()))
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "assistant.ask",
            target: &format!("conversation {conversation_id}"),
            detail: json!({
                "conversation": conversation_id,
                "turn": turn_id,
                "request": request,
                "provider": provider.name(),
                "attachments": attachments.iter().map(|a| &a.file_name).collect::<Vec<_>>(),
                "recommendations": recommendations,
                "plan": plan,
                "refused": refused,
            }),
            result: if note.is_some() { "error" } else { "ok" },
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Asked {
        conversation_id,
        turn_id,
    })
}

/// Whatever the checks refused of a proposal goes to the log (and, by the caller, the audit).
fn log_refusals(tenant: &Tenant, actor: &Actor, turn_id: i64, refused: &[String]) {
    for refusal in refused {
        tracing::warn!(tenant = %tenant.name, user = %actor.name, turn = turn_id, "brain proposal refused: {refusal}");
    }
}

/// The name an attachment is kept under: the file's base name, at most 200 characters.
fn attachment_name(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let name: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if name.is_empty() {
        "attachment".into()
    } else {
        name
    }
}

/// A conversation's title: the start of its first request's first line.
fn title_of(request: &str) -> String {
    let line = request.lines().next().unwrap_or(request).trim();
    match line.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", line[..end].trim_end()),
        None => line.to_string(),
    }
}

/// Stores (or replaces) one attachment of a conversation, audited.
async fn attach(
    conn: &mut PgConnection,
    actor: &Actor,
    conversation_id: i64,
    file: &Upload,
) -> AppResult<()> {
    let name = attachment_name(&file.file_name);
    let digest = hex::encode(Sha256::digest(&file.bytes));
    sqlx::query(
        "INSERT INTO conversation_attachments (conversation_id, file_name, size, sha256, content) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (conversation_id, file_name) DO UPDATE \
         SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256, content = EXCLUDED.content, \
         created_at = now()",
    )
    .bind(conversation_id)
    .bind(&name)
    .bind(file.bytes.len() as i64)
    .bind(&digest)
    .bind(&file.bytes)
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        AuditLog::Tenant,
        actor,
        Event {
            action: "assistant.attach",
            target: &format!("conversation {conversation_id}"),
            detail: json!({
                "conversation": conversation_id,
                "file": name,
                "size": file.bytes.len(),
                "sha256": digest,
            }),
            result: "ok",
        },
    )
    .await
}

/// A plan for `slug` by slot filling: its inputs read from the request's own words and the
/// attachments, re-checked like any proposal (with what that refused).
fn filled_plan(
    ask: &Ask<'_>,
    slug: &str,
    allowed: &[Candidate],
) -> Option<(PlanDraft, Vec<String>)> {
    let candidate = allowed.iter().find(|c| c.slug == slug)?;
    let (inputs, missing) = fill_inputs(ask.request, ask.attachments, &candidate.inputs);
    let draft = Proposal {
        recommendations: Vec::new(),
        plan: Some(PlanDraft {
            slug: slug.to_string(),
            inputs,
            missing,
        }),
    };
    let (checked, refused) = check_proposal(draft, allowed);
    Some((checked.plan?, refused))
}

/// File inputs may only name files attached to the conversation; any other name is refused, and
/// a required file input left without one is missing.
fn with_attachments(
    mut plan: PlanDraft,
    allowed: &[Candidate],
    attachments: &[Attachment],
    refused: &mut Vec<String>,
) -> PlanDraft {
    let Some(candidate) = allowed.iter().find(|c| c.slug == plan.slug) else {
        return plan;
    };
    for field in candidate
        .inputs
        .fields
        .iter()
        .filter(|f| f.kind.is_upload())
    {
        let Some(value) = plan.inputs.get(&field.name) else {
            continue;
        };
        let named = value.as_str().unwrap_or_default();
        if attachments.iter().any(|a| a.file_name == named) {
            continue;
        }
        refused.push(format!(
            "skill {:?}: input {:?} refused: no file named {:?} is attached",
            plan.slug, field.name, named
        ));
        plan.inputs.remove(&field.name);
        if field.required && !plan.missing.contains(&field.name) {
            plan.missing.push(field.name.clone());
        }
    }
    plan
}

#[derive(sqlx::FromRow)]
struct OwnTurn {
    request: String,
    recommendations: Value,
    plan: Option<Value>,
    execution_id: Option<i64>,
}

/// Locks one turn of one of the user's conversations; anyone else's is "not found".
async fn lock_turn(
    conn: &mut PgConnection,
    user: &SignedIn,
    conversation_id: i64,
    turn_id: i64,
) -> AppResult<OwnTurn> {
    sqlx::query_as(
        "SELECT t.request, t.recommendations, t.plan, t.execution_id \
         FROM conversation_turns t JOIN conversations c ON c.id = t.conversation_id \
         WHERE t.id = $1 AND t.conversation_id = $2 AND c.user_id = $3 FOR UPDATE OF t",
    )
    .bind(turn_id)
    .bind(conversation_id)
    .bind(user.user_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| no_conversation(conversation_id))
}

fn already_run(turn: &OwnTurn) -> AppResult<()> {
    match turn.execution_id {
        Some(id) => Err(AppError::Conflict(format!(
            "This request already became execution {id}; ask again to run something else."
        ))),
        None => Ok(()),
    }
}

async fn attachments_of(
    conn: &mut PgConnection,
    conversation_id: i64,
) -> AppResult<Vec<Attachment>> {
    Ok(sqlx::query_as::<_, (String, i64)>(
        "SELECT file_name, size FROM conversation_attachments WHERE conversation_id = $1 \
         ORDER BY file_name",
    )
    .bind(conversation_id)
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|(file_name, size)| Attachment {
        file_name,
        size: size as u64,
    })
    .collect())
}

/// The user picks another of a turn's recommendations: a new plan for it, by slot filling from
/// the request and the attachments, re-checked like any proposal.
pub async fn choose(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    conversation_id: i64,
    turn_id: i64,
    slug: &str,
) -> AppResult<()> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let turn = lock_turn(&mut tx, user, conversation_id, turn_id).await?;
    already_run(&turn)?;
    let shown: Vec<ShownRecommendation> = stored(turn.recommendations)?;
    if !shown.iter().any(|r| r.slug == slug) {
        return Err(AppError::NotFound(format!(
            "{slug:?} was not recommended for this request."
        )));
    }
    let allowed = allowed_candidates(&mut tx, user).await?;
    let attachments = attachments_of(&mut tx, conversation_id).await?;
    let ask = Ask {
        request: &turn.request,
        attachments: &attachments,
    };
    let (plan, mut refused) = filled_plan(&ask, slug, &allowed).ok_or_else(|| {
        AppError::NotFound(format!("The assistant may no longer run {slug:?} for you."))
    })?;
    let plan = with_attachments(plan, &allowed, &attachments, &mut refused);
    log_refusals(tenant, actor, turn_id, &refused);
    sqlx::query("UPDATE conversation_turns SET plan = $2, chosen_slug = $3 WHERE id = $1")
        .bind(turn_id)
        .bind(to_json(&plan)?)
        .bind(slug)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "assistant.choose",
            target: &format!("conversation {conversation_id}"),
            detail: json!({
                "conversation": conversation_id,
                "turn": turn_id,
                "skill": slug,
                "plan": plan,
                "refused": refused,
            }),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The user runs a turn's plan with the inputs as they edited them (`form`: field → text; a file
/// input names one of the conversation's attachments). The execution is requested like any run:
/// validated, and waiting for a person's confirmation where the skill requires it. The turn is
/// linked to it and the link audited. Returns the execution's id.
pub async fn run_plan(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    conversation_id: i64,
    turn_id: i64,
    form: &BTreeMap<String, String>,
) -> AppResult<i64> {
    // The turn stays locked until it is linked, so it becomes one execution at most.
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let turn = lock_turn(&mut tx, user, conversation_id, turn_id).await?;
    already_run(&turn)?;
    let plan: PlanDraft = match turn.plan {
        Some(plan) => stored(plan)?,
        None => {
            return Err(AppError::Conflict(
                "The assistant found nothing to run for this request.".into(),
            ))
        }
    };
    let candidate = allowed_candidates(&mut tx, user)
        .await?
        .into_iter()
        .find(|c| c.slug == plan.slug)
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "The assistant may no longer run {:?} for you.",
                plan.slug
            ))
        })?;
    let mut text = form.clone();
    let mut files = Vec::new();
    for field in candidate
        .inputs
        .fields
        .iter()
        .filter(|f| f.kind.is_upload())
    {
        let Some(named) = text.remove(&field.name).filter(|n| !n.trim().is_empty()) else {
            continue;
        };
        let bytes: Vec<u8> = sqlx::query_scalar(
            "SELECT content FROM conversation_attachments \
             WHERE conversation_id = $1 AND file_name = $2",
        )
        .bind(conversation_id)
        .bind(&named)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "{}: no file named {named:?} is attached to this conversation.",
                field.name
            ))
        })?;
        files.push(Upload {
            field: field.name.clone(),
            file_name: named,
            bytes,
        });
    }
    let execution_id = executions::request_from(
        ctx,
        tenant,
        user,
        actor,
        executions::Origin::Assistant,
        &plan.slug,
        &text,
        &files,
    )
    .await?;
    let ran = PlanDraft {
        slug: plan.slug.clone(),
        inputs: form
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
        missing: Vec::new(),
    };
    sqlx::query("UPDATE conversation_turns SET execution_id = $2, plan = $3 WHERE id = $1")
        .bind(turn_id)
        .bind(execution_id)
        .bind(to_json(&ran)?)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE conversations SET updated_at = now() WHERE id = $1")
        .bind(conversation_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "assistant.run",
            target: &format!("execution {execution_id}"),
            detail: json!({
                "conversation": conversation_id,
                "turn": turn_id,
                "execution": execution_id,
                "skill": plan.slug,
                "requires_confirmation": candidate.requires_confirmation,
                "plan": ran,
            }),
            result: "ok",
        },
    )
    .await?;
    if let Err(err) = tx.commit().await {
        // The execution exists (and waits for confirmation if it must); only the link is lost.
        tracing::error!(%err, execution = execution_id, turn = turn_id, "linking a turn to its execution failed");
        return Err(err);
    }
    Ok(execution_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::skill::{InputField, InputSchema, InputType};

    fn candidate() -> Candidate {
        let field = |name: &str, kind, required| InputField {
            name: name.into(),
            label: name.into(),
            kind,
            required,
            description: None,
            choices: vec![],
            min: None,
            max: None,
            max_length: None,
            default: None,
        };
        Candidate {
            slug: "purge".into(),
            name: "Purge".into(),
            description: String::new(),
            output: String::new(),
            readme: String::new(),
            examples: vec![],
            inputs: InputSchema {
                fields: vec![
                    field("data", InputType::File, true),
                    field("extra", InputType::File, false),
                    field("column", InputType::String, true),
                ],
            },
            risk: RiskLevel::High,
            requires_confirmation: true,
        }
    }

    #[test]
    fn file_inputs_name_only_attached_files() {
        let attachments = [Attachment {
            file_name: "orders.csv".into(),
            size: 10,
        }];
        let plan = PlanDraft {
            slug: "purge".into(),
            inputs: json!({"data": "secrets.csv", "extra": "orders.csv", "column": "day"})
                .as_object()
                .unwrap()
                .clone(),
            missing: vec![],
        };
        let mut refused = Vec::new();
        let plan = with_attachments(plan, &[candidate()], &attachments, &mut refused);
        assert_eq!(
            Value::Object(plan.inputs),
            json!({"extra": "orders.csv", "column": "day"})
        );
        assert_eq!(plan.missing, ["data"]);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].contains("secrets.csv"), "{refused:?}");
    }

    #[test]
    fn names_and_titles_are_kept_short_and_plain() {
        assert_eq!(attachment_name("C:\\Users\\me\\sales.csv"), "sales.csv");
        assert_eq!(attachment_name("../x/a\u{7}b.txt"), "ab.txt");
        assert_eq!(attachment_name("  "), "attachment");
        assert_eq!(
            title_of("  Summarise sales.csv\nand more"),
            "Summarise sales.csv"
        );
        let long = "word ".repeat(40);
        let title = title_of(&long);
        assert!(
            title.ends_with('…') && title.chars().count() <= 81,
            "{title}"
        );
    }
}
