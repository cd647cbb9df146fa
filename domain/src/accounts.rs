//! Users, passwords, sessions and the login log, for the platform and for each tenant.
//!
//! Both kinds of account work the same way and differ only in where they are stored: platform
//! users in `public`, tenant users in the tenant's schema. A session is stored where its user is,
//! so a cookie issued by one tenant finds nothing when sent to another tenant's host.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use model::{LoginLogEntry, Principal, TenantRole, UserSummary};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::audit::{self, AuditLog, Event};
use crate::db::TenantTx;
use crate::login_throttle;
use crate::tenancy::Tenant;
use crate::{Actor, AppError, AppResult, Ctx, RequestMeta};

/// The cookie that carries a session token; host-only, so browsers send it back to its own host.
pub const SESSION_COOKIE: &str = "execgov_session";
/// How long a session lasts after login.
const SESSION_HOURS: i64 = 12;

/// Where accounts live: the platform (`public`) or one tenant's schema.
#[derive(Clone, Copy, Debug)]
pub enum Realm<'a> {
    Platform,
    Tenant(&'a Tenant),
}

struct Tables {
    users: &'static str,
    sessions: &'static str,
    login_log: &'static str,
    /// Platform users carry an explicit super-admin marker; tenant users a role.
    role_expr: &'static str,
    audit: AuditLog,
}

impl Realm<'_> {
    fn tables(&self) -> Tables {
        match self {
            Realm::Platform => Tables {
                users: "public.platform_users",
                sessions: "public.platform_sessions",
                login_log: "public.platform_login_log",
                role_expr: "CASE WHEN u.is_super_admin THEN 'super_admin' ELSE 'platform' END",
                audit: AuditLog::Platform,
            },
            Realm::Tenant(_) => Tables {
                users: "users",
                sessions: "sessions",
                login_log: "login_log",
                role_expr: "u.role",
                audit: AuditLog::Tenant,
            },
        }
    }

    /// A transaction in this realm's schema.
    async fn begin(&self, ctx: &Ctx) -> AppResult<Transaction<'static, Postgres>> {
        match self {
            Realm::Platform => Ok(ctx.pool.begin().await?),
            Realm::Tenant(t) => {
                let mut tx = ctx.pool.begin().await?;
                crate::db::enter_schema(&mut tx, &t.schema).await?;
                Ok(tx)
            }
        }
    }

    /// The realm's name in the sign-in throttle.
    fn key(&self) -> &str {
        match self {
            Realm::Platform => "platform",
            Realm::Tenant(t) => t.schema.as_str(),
        }
    }

    fn principal(&self, username: String, role: &str) -> AppResult<Principal> {
        match self {
            Realm::Platform => Ok(Principal::Platform {
                username,
                super_admin: role == "super_admin",
            }),
            Realm::Tenant(_) => Ok(Principal::Tenant {
                username,
                role: TenantRole::parse(role)
                    .ok_or_else(|| anyhow::anyhow!("unknown tenant role {role:?}"))?,
            }),
        }
    }
}

/// argon2id with the crate's defaults (OWASP minimum), off the async threads and in turn with
/// other hashing.
pub async fn hash_password(password: String) -> AppResult<String> {
    login_throttle::hashing(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await
}

async fn verify_password(password: String, hash: Option<String>) -> AppResult<bool> {
    login_throttle::hashing(move || {
        // Without a user we still spend the time of one verification, so timing does not
        // tell which user names exist.
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored hash unreadable: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
}

/// An argon2id hash (default parameters) of a random string nobody knows.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Ew2yh2H8sD2XNJ1JYjDuXx7h9nR0kbd0mBSgXcTP6wI";

/// A fresh session token for the cookie, and its hash for the database.
pub(crate) fn new_session_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A signed-in user of one realm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub user_id: i64,
    pub principal: Principal,
}

/// What a successful login hands back: the cookie value and when it expires.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub principal: Principal,
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    username: String,
    password_hash: String,
    role: String,
    disabled: bool,
}

/// Checks a user name and password in `realm`; records the attempt in the login log and the
/// audit trail either way. Refuses while the tenant is suspended or while the attempt is
/// throttled (see `login_throttle`). No transaction is held while the password is checked.
pub async fn login(
    ctx: &Ctx,
    realm: Realm<'_>,
    username: &str,
    password: String,
    meta: &RequestMeta,
) -> AppResult<NewSession> {
    if let Realm::Tenant(t) = realm {
        if !t.active {
            return Err(AppError::Forbidden(format!(
                "{} is suspended; signing in is not possible.",
                t.name
            )));
        }
    }
    // No user name is longer than 40 characters: cut what is stored of a longer one (the log,
    // the throttle), so a huge one costs no storage. It still matches nobody.
    let username: String = username.trim().chars().take(100).collect();
    let username = username.as_str();
    let tables = realm.tables();
    let realm_key = realm.key();
    let attempt = login_throttle::Attempt::new(realm_key, username, meta.ip.as_deref());

    let outcome = match login_throttle::admit(ctx, &attempt).await? {
        Err(refused) => Err(refused),
        Ok(slowdown) => {
            tokio::time::sleep(slowdown).await;
            match check_password(ctx, realm, &tables, username, password).await? {
                Some(account) if account.disabled => Err(AppError::Unauthenticated(
                    "This account is disabled.".into(),
                )),
                Some(account) => Ok(account),
                None => Err(AppError::Unauthenticated(
                    "Wrong user name or password.".into(),
                )),
            }
        }
    };
    let reason = match &outcome {
        Ok(_) => "ok",
        Err(AppError::TooManyRequests { .. }) => "throttled",
        Err(AppError::Unauthenticated(m)) if m.contains("disabled") => "disabled",
        Err(_) => "bad credentials",
    };

    let mut tx = realm.begin(ctx).await?;
    let user_id = outcome.as_ref().ok().map(|a| a.id);
    sqlx::query(&format!(
        "INSERT INTO {} (username, user_id, success, reason, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        tables.login_log
    ))
    .bind(username)
    .bind(user_id)
    .bind(outcome.is_ok())
    .bind(reason)
    .bind(&meta.ip)
    .bind(&meta.user_agent)
    .execute(&mut *tx)
    .await?;
    let actor = Actor {
        name: username.to_string(),
        meta: meta.clone(),
    };
    audit::record(
        &mut tx,
        tables.audit,
        &actor,
        Event {
            action: if outcome.is_ok() {
                "login.success"
            } else {
                "login.failure"
            },
            target: username,
            detail: json!({ "reason": reason }),
            result: if outcome.is_ok() { "ok" } else { "refused" },
        },
    )
    .await?;

    let account = match outcome {
        Ok(account) => account,
        Err(e) => {
            // The log entry and audit row are kept although the login failed.
            tx.commit().await?;
            metrics::counter!("execgov_sign_in_failures_total", "reason" => reason).increment(1);
            return Err(e);
        }
    };
    // Sign-ins are when sessions are made, so they also sweep the expired ones.
    sqlx::query(&format!(
        "DELETE FROM {} WHERE expires_at < now()",
        tables.sessions
    ))
    .execute(&mut *tx)
    .await?;
    let (token, hash) = new_session_token();
    let expires_at: DateTime<Utc> = sqlx::query_scalar(&format!(
        "INSERT INTO {} (token_hash, user_id, expires_at) \
         VALUES ($1, $2, now() + make_interval(hours => $3::int)) RETURNING expires_at",
        tables.sessions
    ))
    .bind(&hash)
    .bind(account.id)
    .bind(SESSION_HOURS as i32)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    login_throttle::succeeded(ctx, &attempt).await?;
    Ok(NewSession {
        token,
        expires_at,
        principal: realm.principal(account.username, &account.role)?,
    })
}

/// The account of `username` if `password` is its password (disabled or not); the lookup's
/// transaction ends before the hash is computed.
async fn check_password(
    ctx: &Ctx,
    realm: Realm<'_>,
    tables: &Tables,
    username: &str,
    password: String,
) -> AppResult<Option<AccountRow>> {
    let mut tx = realm.begin(ctx).await?;
    let account: Option<AccountRow> = sqlx::query_as(&format!(
        "SELECT u.id, u.username, u.password_hash, {} AS role, u.disabled \
         FROM {} u WHERE lower(u.username) = lower($1)",
        tables.role_expr, tables.users
    ))
    .bind(username)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let ok = verify_password(password, account.as_ref().map(|a| a.password_hash.clone())).await?;
    Ok(account.filter(|_| ok))
}

/// The user behind a session cookie in `realm`, if the session exists, is unexpired and the user
/// is not disabled.
pub async fn session_user(ctx: &Ctx, realm: Realm<'_>, token: &str) -> AppResult<Option<SignedIn>> {
    let tables = realm.tables();
    let mut tx = realm.begin(ctx).await?;
    let row: Option<(i64, String, String)> = sqlx::query_as(&format!(
        "SELECT u.id, u.username, {} FROM {} s JOIN {} u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT u.disabled",
        tables.role_expr, tables.sessions, tables.users
    ))
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.map(|(user_id, username, role)| {
        Ok(SignedIn {
            user_id,
            principal: realm.principal(username, &role)?,
        })
    })
    .transpose()
}

/// Ends the session behind `token` (if any) and records the logout.
pub async fn logout(ctx: &Ctx, realm: Realm<'_>, token: &str, meta: &RequestMeta) -> AppResult<()> {
    let tables = realm.tables();
    let mut tx = realm.begin(ctx).await?;
    let username: Option<String> = sqlx::query_scalar(&format!(
        "DELETE FROM {} s USING {} u WHERE s.token_hash = $1 AND u.id = s.user_id RETURNING u.username",
        tables.sessions, tables.users
    ))
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(username) = username {
        let actor = Actor {
            name: username.clone(),
            meta: meta.clone(),
        };
        audit::record(
            &mut tx,
            tables.audit,
            &actor,
            Event {
                action: "logout",
                target: &username,
                detail: json!({}),
                result: "ok",
            },
        )
        .await?;
    }
    tx.commit().await.map_err(AppError::from)
}

/// The login log of `realm`, newest first.
pub async fn login_log(ctx: &Ctx, realm: Realm<'_>, limit: i64) -> AppResult<Vec<LoginLogEntry>> {
    let tables = realm.tables();
    let mut tx = realm.begin(ctx).await?;
    let rows: Vec<LoginRow> = sqlx::query_as(&format!(
        "SELECT id, at, username, success, reason, ip, user_agent FROM {} ORDER BY id DESC LIMIT $1",
        tables.login_log
    ))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| LoginLogEntry {
            id: r.id,
            at: r.at,
            username: r.username,
            success: r.success,
            reason: r.reason,
            ip: r.ip,
            user_agent: r.user_agent,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    id: i64,
    at: DateTime<Utc>,
    username: String,
    success: bool,
    reason: String,
    ip: Option<String>,
    user_agent: Option<String>,
}

/// The audit trail of `realm`, newest first.
pub async fn audit_log(
    ctx: &Ctx,
    realm: Realm<'_>,
    limit: i64,
) -> AppResult<Vec<model::AuditEntry>> {
    let mut tx = realm.begin(ctx).await?;
    let entries = audit::recent(&mut tx, realm.tables().audit, limit).await?;
    tx.commit().await?;
    Ok(entries)
}

/// Inserts a tenant user; the caller's transaction must be in the tenant's schema.
pub(crate) async fn insert_tenant_user(
    conn: &mut PgConnection,
    username: &str,
    password_hash: &str,
    role: TenantRole,
) -> AppResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role.as_str())
    .fetch_one(conn)
    .await
    .map_err(AppError::from_db)
}

/// Checks the new user's name and password and hashes the password.
async fn checked_credentials(username: &str, password: String) -> AppResult<(String, String)> {
    let username = model::validate_username(username).map_err(AppError::Invalid)?;
    model::validate_password(&password, &username).map_err(AppError::Invalid)?;
    Ok((username, hash_password(password).await?))
}

/// A tenant admin creates a user in their tenant.
pub async fn create_user(
    ctx: &Ctx,
    tenant: &Tenant,
    actor: &Actor,
    username: &str,
    password: String,
    role: TenantRole,
) -> AppResult<UserSummary> {
    let (username, hash) = checked_credentials(username, password).await?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let id = insert_tenant_user(&mut tx, &username, &hash, role).await?;
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "user.create",
            target: &username,
            detail: json!({ "role": role.as_str() }),
            result: "ok",
        },
    )
    .await?;
    let user = user_by_id(&mut tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

/// Self-signup on the free console: a member of the free edition, signed in at once.
pub async fn sign_up_free(
    ctx: &Ctx,
    tenant: &Tenant,
    username: &str,
    password: String,
    meta: &RequestMeta,
) -> AppResult<NewSession> {
    if tenant.edition != "free" {
        return Err(AppError::Forbidden(
            "Self-signup is only open on the free edition.".into(),
        ));
    }
    // Counted before any work (the password hash is deliberately slow), refused or not.
    crate::storage::count_signup(ctx, meta.ip.as_deref()).await?;
    let (username, hash) = checked_credentials(username, password.clone()).await?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    insert_tenant_user(&mut tx, &username, &hash, TenantRole::Member).await?;
    let actor = Actor {
        name: username.clone(),
        meta: meta.clone(),
    };
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        &actor,
        Event {
            action: "user.sign_up",
            target: &username,
            detail: json!({ "role": "member" }),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    login(ctx, Realm::Tenant(tenant), &username, password, meta).await
}

const USER_COLUMNS: &str = "id, username, role, disabled, created_at";

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    role: String,
    disabled: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for UserSummary {
    type Error = AppError;
    fn try_from(r: UserRow) -> AppResult<UserSummary> {
        Ok(UserSummary {
            id: r.id,
            username: r.username,
            role: TenantRole::parse(&r.role)
                .ok_or_else(|| anyhow::anyhow!("unknown tenant role {:?}", r.role))?,
            disabled: r.disabled,
            created_at: r.created_at,
        })
    }
}

async fn user_by_id(conn: &mut PgConnection, id: i64) -> AppResult<UserSummary> {
    let row: UserRow = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no user {id} in this tenant.")))?;
    row.try_into()
}

pub async fn list_users(ctx: &Ctx, tenant: &Tenant) -> AppResult<Vec<UserSummary>> {
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY username"
    ))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// A change a tenant admin makes to another user of the tenant.
#[derive(Clone, Copy, Debug)]
pub enum UserChange {
    SetDisabled(bool),
    SetRole(TenantRole),
}

pub async fn change_user(
    ctx: &Ctx,
    tenant: &Tenant,
    actor: &Actor,
    acting_user_id: i64,
    user_id: i64,
    change: UserChange,
) -> AppResult<UserSummary> {
    if user_id == acting_user_id {
        return Err(AppError::Invalid(
            "You cannot disable or re-role your own account; ask another admin.".into(),
        ));
    }
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let before = user_by_id(&mut tx, user_id).await?;
    let (action, detail) = match change {
        UserChange::SetDisabled(disabled) => {
            sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
                .bind(user_id)
                .bind(disabled)
                .execute(&mut *tx)
                .await?;
            if disabled {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            (
                if disabled {
                    "user.disable"
                } else {
                    "user.enable"
                },
                json!({ "was_disabled": before.disabled }),
            )
        }
        UserChange::SetRole(role) => {
            sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
                .bind(user_id)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
            (
                "user.role",
                json!({ "from": before.role.as_str(), "to": role.as_str() }),
            )
        }
    };
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action,
            target: &before.username,
            detail,
            result: "ok",
        },
    )
    .await?;
    let after = user_by_id(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(after)
}

/// Creates a platform (public console) user. Only `super_admin: true` grants platform governance.
pub async fn create_platform_user(
    ctx: &Ctx,
    actor: &Actor,
    username: &str,
    password: String,
    super_admin: bool,
) -> AppResult<i64> {
    let (username, hash) = checked_credentials(username, password).await?;
    let mut tx = ctx.pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO public.platform_users (username, password_hash, is_super_admin) \
         VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(&username)
    .bind(&hash)
    .bind(super_admin)
    .fetch_one(&mut *tx)
    .await
    .map_err(AppError::from_db)?;
    audit::record(
        &mut tx,
        AuditLog::Platform,
        actor,
        Event {
            action: "platform_user.create",
            target: &username,
            detail: json!({ "super_admin": super_admin }),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
