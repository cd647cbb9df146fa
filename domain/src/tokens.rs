//! API tokens: personal access tokens (how the REST API and the CLI authenticate) and agent
//! tokens (how local agents register). A token belongs to one user of one tenant and lives in
//! that tenant's schema, so it means nothing on another host.

use chrono::{DateTime, Utc};
use model::api::{ApiToken, CreatedApiToken};
use serde_json::json;
use sqlx::PgConnection;

use crate::accounts::{new_session_token, token_hash, SignedIn};
use crate::audit::{self, AuditLog, Event};
use crate::db::TenantTx;
use crate::tenancy::Tenant;
use crate::{Actor, AppError, AppResult, Ctx};

/// Every token starts with this, so leaked tokens are easy to recognise and search for.
pub const TOKEN_PREFIX: &str = "egv_";
/// How long a token lives unless asked otherwise, and at most.
pub const DEFAULT_DAYS: i64 = 90;
pub const MAX_DAYS: i64 = 366;

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    owner: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    labels: Vec<String>,
}

impl From<TokenRow> for ApiToken {
    fn from(r: TokenRow) -> ApiToken {
        ApiToken {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            owner: r.owner,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            revoked: r.revoked_at.is_some(),
            labels: r.labels,
        }
    }
}

const TOKEN_SELECT: &str = "SELECT t.id, t.name, t.prefix, u.username AS owner, t.created_at, \
     t.expires_at, t.last_used_at, t.revoked_at, t.labels FROM api_tokens t JOIN users u ON u.id = t.user_id";

/// What a token is for: a person's API access, or registering local agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Personal,
    Agent,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::Agent => "agent",
        }
    }
}

/// What a new token is for: a person, or a local agent serving these labels (no others).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewToken {
    Personal,
    Agent { labels: Vec<String> },
}

/// An agent token's labels, checked (1 to 32 skill `agent_label`s), sorted, without repeats.
fn agent_labels(labels: &[String]) -> AppResult<Vec<String>> {
    if labels.is_empty() || labels.len() > 32 {
        return Err(AppError::Invalid(
            "labels: an agent token names the 1 to 32 labels its agent may serve (the \
             agent_label of the skills it should run)"
                .into(),
        ));
    }
    let bad: Vec<&String> = labels
        .iter()
        .filter(|l| !crate::skills::manifest::valid_agent_label(l))
        .collect();
    if !bad.is_empty() {
        return Err(AppError::Invalid(format!(
            "labels: {bad:?}: each 1 to 64 characters of a-z, 0-9, '-', '_' and '.' (a skill's \
             agent_label)"
        )));
    }
    let mut labels = labels.to_vec();
    labels.sort();
    labels.dedup();
    Ok(labels)
}

/// Creates a token for the signed-in user (agent tokens: tenant admins only, with the labels
/// their agent may serve); the secret is returned only here.
pub async fn create(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    name: &str,
    days: Option<i64>,
    new: &NewToken,
) -> AppResult<CreatedApiToken> {
    let (kind, labels) = match new {
        NewToken::Personal => (TokenKind::Personal, Vec::new()),
        NewToken::Agent { labels } => {
            if !user.principal.is_tenant_admin() {
                return Err(AppError::Forbidden(
                    "Only this tenant's admins may create agent tokens.".into(),
                ));
            }
            (TokenKind::Agent, agent_labels(labels)?)
        }
    };
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::Invalid(
            "Name the token (1–80 characters), e.g. after the machine or pipeline using it.".into(),
        ));
    }
    let days = days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AppError::Invalid(format!(
            "A token lives between 1 and {MAX_DAYS} days."
        )));
    }
    let (random, _) = new_session_token();
    let secret = format!("{TOKEN_PREFIX}{random}");
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, kind, token_hash, prefix, expires_at, labels) \
         VALUES ($1, $2, $6, $3, $4, now() + make_interval(days => $5), $7) RETURNING id",
    )
    .bind(user.user_id)
    .bind(name)
    .bind(token_hash(&secret))
    .bind(&prefix)
    .bind(days as i32)
    .bind(kind.as_str())
    .bind(&labels)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "token.create",
            target: name,
            detail: json!({
                "token_id": id, "prefix": prefix, "days": days, "kind": kind.as_str(),
                "labels": labels,
            }),
            result: "ok",
        },
    )
    .await?;
    let row: TokenRow = sqlx::query_as(&format!("{TOKEN_SELECT} WHERE t.id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(CreatedApiToken {
        token: row.into(),
        secret,
    })
}

/// The user's own tokens of `kind`; an admin sees every such token of the tenant.
pub async fn list(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    kind: TokenKind,
) -> AppResult<Vec<ApiToken>> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let rows: Vec<TokenRow> = sqlx::query_as(&format!(
        "{TOKEN_SELECT} WHERE t.kind = $3 AND (t.user_id = $1 OR $2) ORDER BY t.id DESC"
    ))
    .bind(user.user_id)
    .bind(user.principal.is_tenant_admin())
    .bind(kind.as_str())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Revokes a token: its owner or an admin of the tenant. Another user's token is "not found".
pub async fn revoke(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    id: i64,
) -> AppResult<()> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let name: Option<String> = sqlx::query_scalar(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) \
         WHERE id = $1 AND (user_id = $2 OR $3) RETURNING name",
    )
    .bind(id)
    .bind(user.user_id)
    .bind(user.principal.is_tenant_admin())
    .fetch_optional(&mut *tx)
    .await?;
    let name = name.ok_or_else(|| AppError::NotFound(format!("There is no token {id} here.")))?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "token.revoke",
            target: &name,
            detail: json!({ "token_id": id }),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The user a bearer token stands for in `tenant`: unknown, revoked, expired tokens and disabled
/// users are anonymous.
pub async fn authenticate(ctx: &Ctx, tenant: &Tenant, secret: &str) -> AppResult<Option<SignedIn>> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "UPDATE api_tokens t SET last_used_at = now() FROM users u \
         WHERE u.id = t.user_id AND t.token_hash = $1 AND t.kind = 'personal' \
           AND t.revoked_at IS NULL AND t.expires_at > now() AND NOT u.disabled \
         RETURNING u.id, u.username, u.role",
    )
    .bind(token_hash(secret))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.map(|(user_id, username, role)| {
        Ok(SignedIn {
            user_id,
            principal: model::Principal::Tenant {
                username,
                role: model::TenantRole::parse(&role)
                    .ok_or_else(|| anyhow::anyhow!("unknown tenant role {role:?}"))?,
            },
        })
    })
    .transpose()
}

/// A live agent token, as an agent's registration sees it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AgentToken {
    pub id: i64,
    /// The labels its agent may serve.
    pub labels: Vec<String>,
    /// The machine it belongs to (the first that registered with it), if any yet.
    pub machine_id: Option<String>,
}

/// The live agent token `secret` is, in the current tenant transaction (its row stays locked
/// until the transaction ends). Unknown, revoked and expired tokens, and tokens of disabled
/// users, are `None`.
pub(crate) async fn agent_token(
    conn: &mut PgConnection,
    secret: &str,
) -> AppResult<Option<AgentToken>> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    Ok(sqlx::query_as(
        "UPDATE api_tokens t SET last_used_at = now() FROM users u \
         WHERE u.id = t.user_id AND t.token_hash = $1 AND t.kind = 'agent' \
           AND t.revoked_at IS NULL AND t.expires_at > now() AND NOT u.disabled \
         RETURNING t.id, t.labels, t.machine_id",
    )
    .bind(token_hash(secret))
    .fetch_optional(conn)
    .await?)
}
