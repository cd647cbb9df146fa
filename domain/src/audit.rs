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

/// An entry's hash: SHA-256 over the canonical encoding of the previous entry's hash and the
/// entry's content, exactly as `public.audit_entry_hash` (public migration 0009) computes it
/// when the entry is linked: a version tag, then each field as `<byte length>:<bytes>` (`-` for
/// none), the time in microseconds since the epoch, `detail` as PostgreSQL's jsonb text.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    prev_hash: &str,
    id: i64,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    result: &str,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> String {
    use sha2::{Digest, Sha256};
    let (id, micros) = (id.to_string(), at.timestamp_micros().to_string());
    let mut hasher = Sha256::new();
    hasher.update(b"execgov-audit-v1");
    for field in [
        Some(prev_hash),
        Some(id.as_str()),
        Some(micros.as_str()),
        Some(actor),
        Some(action),
        Some(target),
        Some(detail),
        Some(result),
        ip,
        user_agent,
    ] {
        match field {
            None => hasher.update(b"-"),
            Some(text) => {
                hasher.update(format!("{}:", text.len()));
                hasher.update(text);
            }
        }
    }
    hex::encode(hasher.finalize())
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    target: String,
    detail: String,
    result: String,
    ip: Option<String>,
    user_agent: Option<String>,
    seq: i64,
    prev_hash: Option<String>,
    hash: Option<String>,
}

/// Entries read per round trip while verifying.
const VERIFY_BATCH: i64 = 2000;

/// Walks `log`'s chain from its first entry and recomputes every link: the number of entries
/// and the first one whose link does not hold (changed, inserted out of chain, or following a
/// deleted entry). An entry deleted from the end of a log leaves no broken link: a hash chain
/// alone cannot show that.
pub async fn verify_chain(
    conn: &mut PgConnection,
    log: AuditLog,
) -> AppResult<(i64, Option<model::BrokenLink>)> {
    let table = log.table();
    let sql = format!(
        "SELECT id, at, actor, action, target, detail::text AS detail, result, ip, user_agent, \
         seq, prev_hash, hash FROM {table} WHERE seq > $1 ORDER BY seq LIMIT $2"
    );
    let (mut count, mut last_seq, mut prev) = (0i64, 0i64, String::new());
    loop {
        let rows: Vec<LinkRow> = sqlx::query_as(&sql)
            .bind(last_seq)
            .bind(VERIFY_BATCH)
            .fetch_all(&mut *conn)
            .await?;
        let done = (rows.len() as i64) < VERIFY_BATCH;
        for r in rows {
            let broken = |reason: &str| {
                Some(model::BrokenLink {
                    entry_id: r.id,
                    reason: reason.to_string(),
                })
            };
            if r.seq != last_seq + 1 {
                return Ok((count, broken("the entry before it in the chain is missing")));
            }
            if r.prev_hash.as_deref() != Some(prev.as_str()) {
                return Ok((
                    count,
                    broken(
                        "it does not follow the entry before it (that one was changed or removed)",
                    ),
                ));
            }
            let hash = entry_hash(
                &prev,
                r.id,
                r.at,
                &r.actor,
                &r.action,
                &r.target,
                &r.detail,
                &r.result,
                r.ip.as_deref(),
                r.user_agent.as_deref(),
            );
            if r.hash.as_deref() != Some(hash.as_str()) {
                return Ok((
                    count,
                    broken("its content does not match its hash (it was changed)"),
                ));
            }
            count += 1;
            last_seq = r.seq;
            prev = hash;
        }
        if done {
            break;
        }
    }
    // Committed entries are always linked: one without a place in the chain was put there
    // around the triggers.
    let unlinked: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT min(id) FROM {table} WHERE seq IS NULL OR prev_hash IS NULL OR hash IS NULL"
    ))
    .fetch_one(&mut *conn)
    .await?;
    Ok((
        count,
        unlinked.map(|entry_id| model::BrokenLink {
            entry_id,
            reason: "it is not linked into the chain".into(),
        }),
    ))
}

/// Verifies the platform's log and every tenant's; with `only` (a tenant's name or schema),
/// that tenant's log alone.
pub async fn verify_all(ctx: &crate::Ctx, only: Option<&str>) -> AppResult<Vec<model::AuditCheck>> {
    let tenants = crate::tenancy::all_tenants(ctx).await?;
    let mut checks = Vec::new();
    let chosen: Vec<_> = match only {
        None => {
            let mut conn = ctx.pool.acquire().await?;
            let (entries, broken) = verify_chain(&mut conn, AuditLog::Platform).await?;
            checks.push(model::AuditCheck {
                log: "platform".into(),
                entries,
                broken,
            });
            tenants
        }
        Some(name) => {
            let name = name.trim().to_lowercase();
            let tenant = tenants
                .into_iter()
                .find(|t| t.name.to_lowercase() == name || t.schema.as_str() == name)
                .ok_or_else(|| {
                    crate::AppError::NotFound(format!("There is no tenant {name:?}."))
                })?;
            vec![tenant]
        }
    };
    for tenant in chosen {
        let mut tx = crate::db::TenantTx::begin(&ctx.pool, &tenant.schema).await?;
        let (entries, broken) = verify_chain(&mut tx, AuditLog::Tenant).await?;
        tx.commit().await?;
        checks.push(model::AuditCheck {
            log: format!("tenant {} ({})", tenant.name, tenant.schema.as_str()),
            entries,
            broken,
        });
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding is part of every stored chain: a change here would break them all. The
    /// expected hash is what `public.audit_entry_hash` returns for the same entry.
    #[test]
    fn the_entry_hash_is_the_databases() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678901Z")
            .unwrap()
            .with_timezone(&Utc);
        let detail = r#"{"reason": "naïve 中文", "version": 2}"#;
        assert_eq!(
            entry_hash(
                "ab12",
                7,
                at,
                "superadmin",
                "skill.withdraw",
                "csv-summary",
                detail,
                "ok",
                None,
                Some("Mozilla/5.0"),
            ),
            "286968c72ee842c474ce9146e730f2e5dfd60c996a30f615db0788da96f6e986"
        );
    }
}
