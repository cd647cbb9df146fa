//! The home pages' dashboards. A tenant's figures are read in its own schema through `TenantTx`
//! and only as far as the caller's rights go: a member's own runs, all of the tenant's for its
//! admins, never another tenant's. The console's figures span the platform and are for
//! super-admins only.

use std::collections::HashMap;

use model::dashboard::{
    AdminBlocks, Block, ConsoleDashboard, PlatformHealth, RecentRun, SkillUse, TenantDashboard,
    TenantFailures, BLOCK_ROWS,
};
use model::hot_update::SubmissionSummary;
use model::ExecutionSummary;
use sqlx::PgConnection;

use crate::accounts::{self, Realm, SignedIn};
use crate::caller::Caller;
use crate::db::TenantTx;
use crate::executions::{self, summary_select, SummaryRow, MAY_SEE};
use crate::hot_updates::{SubmissionRow, SUBMISSION_SELECT};
use crate::skills::{tenant_role, MAY_RUN};
use crate::{tenancy, AppResult, Ctx};

/// SQL condition on execution `e`: it failed in the last 24 hours.
const FAILED_LAST_DAY: &str = "e.status = 'failed' AND e.finished_at > now() - interval '1 day'";

/// The home of a tenant front or the free console for the signed-in caller.
pub async fn tenant_dashboard(ctx: &Ctx, caller: &Caller) -> AppResult<TenantDashboard> {
    let (tenant, user) = caller.tenant_user()?;
    let admin = caller.tenant_admin().is_ok();
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let runs = runs_where(&mut tx, user, admin, "true", "e.id DESC").await?;
    let recent_runs = with_conversations(&mut tx, user, runs).await?;
    let top_skills = top_skills(&mut tx, user, admin).await?;
    let admin_runs = if admin {
        Some((
            runs_where(
                &mut tx,
                user,
                admin,
                "e.status = 'awaiting_confirmation'",
                "e.id DESC",
            )
            .await?,
            runs_where(&mut tx, user, admin, FAILED_LAST_DAY, "e.finished_at DESC").await?,
        ))
    } else {
        None
    };
    tx.commit().await?;
    let admin = match admin_runs {
        Some((awaiting_confirmation, failed_last_day)) => Some(AdminBlocks {
            pending_submissions: pending_submissions(ctx, Some(tenant.id)).await?,
            awaiting_confirmation,
            failed_last_day,
            failed_since: (chrono::Utc::now() - chrono::Duration::days(1)).date_naive(),
        }),
        None => None,
    };
    Ok(TenantDashboard {
        recent_runs,
        top_skills,
        admin,
    })
}

/// The runs matching `condition` (SQL on execution `e`, no parameters) that this user may see
/// (the executions' own rule: their own, or any for an admin): how many, and the first few in
/// `order`.
async fn runs_where(
    conn: &mut PgConnection,
    user: &SignedIn,
    admin: bool,
    condition: &str,
    order: &str,
) -> AppResult<Block<ExecutionSummary>> {
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM executions e WHERE {MAY_SEE} AND {condition}"
    ))
    .bind(user.user_id)
    .bind(admin)
    .fetch_one(&mut *conn)
    .await?;
    let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
        "{} WHERE {MAY_SEE} AND {condition} ORDER BY {order} LIMIT $3",
        summary_select()
    ))
    .bind(user.user_id)
    .bind(admin)
    .bind(BLOCK_ROWS)
    .fetch_all(&mut *conn)
    .await?;
    let items = rows
        .into_iter()
        .map(SummaryRow::summary)
        .collect::<AppResult<_>>()?;
    Ok(Block { total, items })
}

/// Each run with the conversation it was started from, when that conversation is this user's
/// (nobody opens anyone else's).
async fn with_conversations(
    conn: &mut PgConnection,
    user: &SignedIn,
    runs: Block<ExecutionSummary>,
) -> AppResult<Block<RecentRun>> {
    let ids: Vec<i64> = runs.items.iter().map(|r| r.id).collect();
    let conversations: HashMap<i64, i64> = sqlx::query_as(
        "SELECT t.execution_id, c.id FROM conversation_turns t \
         JOIN conversations c ON c.id = t.conversation_id \
         WHERE c.user_id = $1 AND t.execution_id = ANY($2)",
    )
    .bind(user.user_id)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    Ok(Block {
        total: runs.total,
        items: runs
            .items
            .into_iter()
            .map(|run| RecentRun {
                conversation_id: conversations.get(&run.id).copied(),
                run,
            })
            .collect(),
    })
}

/// The skills this user may run now, by the runs of theirs (of anyone's, for an admin) that used
/// them, most first; skills never run are left out.
async fn top_skills(
    conn: &mut PgConnection,
    user: &SignedIn,
    admin: bool,
) -> AppResult<Block<SkillUse>> {
    let runnable: Vec<(i64, String, String)> = sqlx::query_as(&format!(
        "SELECT s.id, s.slug, v.name FROM skills s JOIN skill_versions v ON v.id = s.current_version_id \
         WHERE s.enabled AND {MAY_RUN}"
    ))
    .bind(user.user_id)
    .bind(tenant_role(user)?)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i64> = runnable.iter().map(|(id, ..)| *id).collect();
    let used: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT e.skill_id, count(*) AS runs FROM executions e \
         WHERE {MAY_SEE} AND e.skill_id = ANY($3) \
         GROUP BY e.skill_id ORDER BY runs DESC, e.skill_id"
    ))
    .bind(user.user_id)
    .bind(admin)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let names: HashMap<i64, (String, String)> = runnable
        .into_iter()
        .map(|(id, slug, name)| (id, (slug, name)))
        .collect();
    Ok(Block {
        total: used.len() as i64,
        items: used
            .into_iter()
            .take(BLOCK_ROWS as usize)
            .filter_map(|(id, runs)| {
                let (slug, name) = names.get(&id)?.clone();
                Some(SkillUse { slug, name, runs })
            })
            .collect(),
    })
}

/// Submissions awaiting review: one tenant's, newest first (what its admins just sent), or with
/// `None` every tenant's, oldest first (the review queue's order).
async fn pending_submissions(
    ctx: &Ctx,
    tenant_id: Option<i64>,
) -> AppResult<Block<SubmissionSummary>> {
    const PENDING: &str = "s.status = 'submitted' AND ($1::bigint IS NULL OR s.tenant_id = $1)";
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM public.skill_submissions s WHERE {PENDING}"
    ))
    .bind(tenant_id)
    .fetch_one(&ctx.pool)
    .await?;
    let order = match tenant_id {
        Some(_) => "s.created_at DESC, s.id DESC",
        None => "s.created_at, s.id",
    };
    let rows: Vec<SubmissionRow> = sqlx::query_as(&format!(
        "{SUBMISSION_SELECT} WHERE {PENDING} ORDER BY {order} LIMIT $2"
    ))
    .bind(tenant_id)
    .bind(BLOCK_ROWS)
    .fetch_all(&ctx.pool)
    .await?;
    let items = rows
        .iter()
        .map(SubmissionRow::summary)
        .collect::<AppResult<_>>()?;
    Ok(Block { total, items })
}

/// The public console's home: tenants, pending reviews, platform health and the latest audit
/// entries. Super-admins only.
pub async fn console_dashboard(ctx: &Ctx, caller: &Caller) -> AppResult<ConsoleDashboard> {
    caller.super_admin()?;
    let mut tenants = tenancy::list_tenants(ctx).await?;
    let total = tenants.len() as i64;
    tenants.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
    tenants.truncate(BLOCK_ROWS as usize);
    Ok(ConsoleDashboard {
        tenants: Block {
            total,
            items: tenants,
        },
        pending_reviews: pending_submissions(ctx, None).await?,
        health: platform_health(ctx).await?,
        recent_audit: Block {
            total: sqlx::query_scalar("SELECT count(*) FROM public.platform_audit")
                .fetch_one(&ctx.pool)
                .await?,
            items: accounts::audit_log(ctx, Realm::Platform, BLOCK_ROWS).await?,
        },
    })
}

/// The queue and the workers of every worker process from the platform's dispatch index; failed runs counted in
/// each tenant's own schema (no query spans two tenants).
async fn platform_health(ctx: &Ctx) -> AppResult<PlatformHealth> {
    let (queued, waiting_for_agents, running, workers_busy): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'queued' AND agent_label IS NULL), \
             count(*) FILTER (WHERE state = 'queued' AND agent_label IS NOT NULL), \
             count(*) FILTER (WHERE state = 'running'), \
             count(DISTINCT worker_id) FILTER (WHERE state = 'running' AND agent_label IS NULL) \
             FROM public.execution_queue",
    )
    .fetch_one(&ctx.pool)
    .await?;
    let mut health = PlatformHealth {
        queued,
        waiting_for_agents,
        running,
        workers_busy,
        workers_total: executions::workers_running(ctx).await?,
        failed_last_hour: 0,
        failed_last_day: 0,
        failing_tenants: Vec::new(),
    };
    for tenant in tenancy::all_tenants(ctx).await? {
        let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
        let (last_hour, last_day): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*) FILTER (WHERE e.finished_at > now() - interval '1 hour'), count(*) \
             FROM executions e WHERE {FAILED_LAST_DAY}"
        ))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        health.failed_last_hour += last_hour;
        health.failed_last_day += last_day;
        if last_day > 0 {
            health.failing_tenants.push(TenantFailures {
                tenant_id: tenant.id,
                tenant_name: tenant.name,
                failed_last_day: last_day,
            });
        }
    }
    health
        .failing_tenants
        .sort_by_key(|t| std::cmp::Reverse(t.failed_last_day));
    Ok(health)
}
