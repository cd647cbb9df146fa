//! The audit trail: one log per tenant (in its schema) and one for the platform (in `public`).
//! Entries are written with the caller's connection, inside the transaction of the change.

use chrono::{DateTime, Utc};
use model::AuditEntry;
use serde_json::Value;
use sqlx::PgConnection;

use crate::{Actor, AppResult};

/// Which log an entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditLog {
    Platform,
    /// The tenant's own `audit_log`; only valid inside a `TenantTx`.
    Tenant,
}

impl AuditLog {
    fn table(self) -> &'static str {
        match self {
            AuditLog::Platform => "public.platform_audit",
            AuditLog::Tenant => "audit_log",
        }
    }
}

/// One thing that happened.
pub struct Event<'a> {
    pub action: &'a str,
    pub target: &'a str,
    pub detail: Value,
    pub result: &'a str,
}

pub async fn record(
    conn: &mut PgConnection,
    log: AuditLog,
    actor: &Actor,
    event: Event<'_>,
) -> AppResult<()> {
    let sql = format!(
        "INSERT INTO {} (actor, action, target, detail, result, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        log.table()
    );
    sqlx::query(&sql)
        .bind(&actor.name)
        .bind(event.action)
        .bind(event.target)
        .bind(event.detail)
        .bind(event.result)
        .bind(&actor.meta.ip)
        .bind(&actor.meta.user_agent)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    target: String,
    detail: Value,
    result: String,
    ip: Option<String>,
    user_agent: Option<String>,
}

/// The newest entries first.
pub async fn recent(
    conn: &mut PgConnection,
    log: AuditLog,
    limit: i64,
) -> AppResult<Vec<AuditEntry>> {
    let sql = format!(
        "SELECT id, at, actor, action, target, detail, result, ip, user_agent \
         FROM {} ORDER BY id DESC LIMIT $1",
        log.table()
    );
    let rows: Vec<AuditRow> = sqlx::query_as(&sql).bind(limit).fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            detail: r.detail.to_string(),
            result: r.result,
            ip: r.ip,
            user_agent: r.user_agent,
        })
        .collect())
}
