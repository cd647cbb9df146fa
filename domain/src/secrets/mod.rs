//! Tenant secrets: named values (`CRM_TOKEN`) a tenant's admins store for their skills' runs,
//! sealed at rest under the platform's master key (see [`key`]). A value is never shown again
//! after entry (only its last 4 characters), never written to a log, an audit entry, an answer
//! or an error; a run of a skill whose manifest names it receives it as an environment
//! variable, and every occurrence of it in what the run leaves (log lines, result, error) is
//! masked (see [`mask`]).

pub mod key;
mod mask;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use model::secrets::{last_chars, name_problem, value_problem, SecretInfo};
use serde_json::json;
use sqlx::{PgConnection, Postgres, Transaction};

use crate::accounts::SignedIn;
use crate::audit::{self, AuditLog, Event};
use crate::db::{enter_schema, leave_schema, TenantSchema, TenantTx};
use crate::tenancy::Tenant;
use crate::{Actor, AppError, AppResult, Ctx};

pub use key::{unlock, Binding, KeySource, MasterKey, Sealed};
pub use mask::{LogMasker, Masker, MASK};

fn admin_only(user: &SignedIn) -> AppResult<()> {
    if user.principal.is_tenant_admin() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only this tenant's admins may manage its secrets.".into(),
        ))
    }
}

fn checked_name(name: &str) -> AppResult<&str> {
    let name = name.trim();
    match name_problem(name) {
        Some(problem) => Err(AppError::Invalid(problem)),
        None => Ok(name),
    }
}

/// What a server whose key is older than the database's says (its key was rotated meanwhile).
const ROTATED: &str = "the master key was rotated while this server ran: restart it with the \
                       new key (EXECGOV_MASTER_KEY_FILE)";

/// A transaction in `schema` with the server's master key, which must still be the database's
/// (the check row is read `FOR SHARE`, so a rotation waits for this transaction or this one for
/// it).
async fn keyed_tx(
    ctx: &Ctx,
    schema: &TenantSchema,
) -> AppResult<(Transaction<'static, Postgres>, Arc<MasterKey>)> {
    let key = ctx.master_key.clone().ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "no master key: this server was started without secrets"
        ))
    })?;
    let mut tx = ctx.pool.begin().await?;
    let generation: Option<i32> =
        sqlx::query_scalar("SELECT generation FROM public.master_key WHERE id = 1 FOR SHARE")
            .fetch_optional(&mut *tx)
            .await?;
    if generation != Some(key.generation) {
        return Err(AppError::Internal(anyhow::anyhow!(ROTATED)));
    }
    enter_schema(&mut tx, schema).await?;
    Ok((tx, key))
}

#[derive(sqlx::FromRow)]
struct InfoRow {
    name: String,
    last4: String,
    updated_at: DateTime<Utc>,
    updated_by: String,
}

impl From<InfoRow> for SecretInfo {
    fn from(r: InfoRow) -> SecretInfo {
        SecretInfo {
            name: r.name,
            last4: r.last4,
            updated_at: r.updated_at,
            updated_by: r.updated_by,
        }
    }
}

/// The tenant's secrets by name (admins only): names and last characters, never values.
pub async fn list(ctx: &Ctx, tenant: &Tenant, user: &SignedIn) -> AppResult<Vec<SecretInfo>> {
    admin_only(user)?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let rows: Vec<InfoRow> =
        sqlx::query_as("SELECT name, last4, updated_at, updated_by FROM secrets ORDER BY name")
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

#[derive(sqlx::FromRow)]
struct SetRow {
    created: bool,
    #[sqlx(flatten)]
    info: InfoRow,
}

/// Whether [`set`] made the secret or replaced its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Created,
    Replaced,
}

/// Stores `value` as the tenant's secret `name` (admins only), replacing its value if it
/// exists. The audit entry names the secret only.
pub async fn set(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    name: &str,
    value: &str,
) -> AppResult<(SecretInfo, Stored)> {
    admin_only(user)?;
    let name = checked_name(name)?;
    if let Some(problem) = value_problem(value) {
        return Err(AppError::Invalid(problem));
    }
    let (mut tx, key) = keyed_tx(ctx, &tenant.schema).await?;
    let sealed = key.seal(
        Binding::TenantSecret {
            tenant_id: tenant.id,
            name,
        },
        value.as_bytes(),
    );
    // `xmax = 0`: the row was inserted, not updated.
    let row: SetRow = sqlx::query_as(
        "INSERT INTO secrets (name, nonce, ciphertext, last4, created_by, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (name) DO UPDATE SET nonce = EXCLUDED.nonce, \
             ciphertext = EXCLUDED.ciphertext, last4 = EXCLUDED.last4, \
             updated_by = EXCLUDED.updated_by, updated_at = now() \
         RETURNING xmax = 0 AS created, name, last4, updated_at, updated_by",
    )
    .bind(name)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .bind(last_chars(value))
    .bind(&actor.name)
    .fetch_one(&mut *tx)
    .await?;
    let stored = if row.created {
        Stored::Created
    } else {
        Stored::Replaced
    };
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: match stored {
                Stored::Created => "secret.create",
                Stored::Replaced => "secret.replace",
            },
            target: name,
            detail: json!({}),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    Ok((row.info.into(), stored))
}

/// Deletes the tenant's secret `name` (admins only). Runs that need it fail from now on,
/// saying so.
pub async fn delete(
    ctx: &Ctx,
    tenant: &Tenant,
    user: &SignedIn,
    actor: &Actor,
    name: &str,
) -> AppResult<()> {
    admin_only(user)?;
    let name = checked_name(name)?;
    let mut tx = TenantTx::begin(&ctx.pool, &tenant.schema).await?;
    let deleted = sqlx::query("DELETE FROM secrets WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(AppError::NotFound(format!(
            "There is no secret {name} in this tenant."
        )));
    }
    audit::record(
        &mut tx,
        AuditLog::Tenant,
        actor,
        Event {
            action: "secret.delete",
            target: name,
            detail: json!({}),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The secrets one run receives, opened: its environment variables, and the masker for what it
/// leaves behind. Never printed (`Debug` names them only).
#[derive(Clone, Default)]
pub struct RunSecrets {
    env: Arc<Vec<(String, String)>>,
    masker: Masker,
}

impl std::fmt::Debug for RunSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.env.iter().map(|(n, _)| n.as_str()).collect();
        write!(f, "RunSecrets({names:?})")
    }
}

impl RunSecrets {
    /// (name, value) for each secret, as environment variables.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    pub fn masker(&self) -> &Masker {
        &self.masker
    }
}

/// The secrets `names` of the tenant `tenant_id` for a run, opened; `Err(reason)` (naming the
/// secret, never a value) when one is not set or cannot be opened: the run must fail with it.
pub async fn for_run(
    ctx: &Ctx,
    tenant_id: i64,
    schema: &TenantSchema,
    names: &[String],
) -> AppResult<Result<RunSecrets, String>> {
    if names.is_empty() {
        return Ok(Ok(RunSecrets::default()));
    }
    let (mut tx, key) = match keyed_tx(ctx, schema).await {
        Ok(opened) => opened,
        Err(AppError::Internal(err)) => {
            tracing::error!(%err, "a run's secrets could not be read");
            return Ok(Err(format!("its secrets could not be read: {err}")));
        }
        Err(err) => return Err(err),
    };
    let rows: Vec<(String, Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT name, nonce, ciphertext FROM secrets WHERE name = ANY($1)")
            .bind(names)
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    let mut env = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for name in names {
        let Some((_, nonce, ciphertext)) = rows.iter().find(|(n, _, _)| n == name) else {
            missing.push(name.as_str());
            continue;
        };
        let sealed = Sealed {
            nonce: nonce.clone(),
            ciphertext: ciphertext.clone(),
        };
        let binding = Binding::TenantSecret { tenant_id, name };
        let Some(value) = key
            .open(binding, &sealed)
            .and_then(|v| String::from_utf8(v).ok())
        else {
            tracing::error!(secret = %name, tenant_id, "a stored secret does not open under the master key");
            return Ok(Err(format!(
                "the secret {name} could not be opened (it was altered or copied from \
                 elsewhere): an admin must set it again"
            )));
        };
        env.push((name.clone(), value));
    }
    if !missing.is_empty() {
        let (word, verb) = if missing.len() == 1 {
            ("the secret", "is")
        } else {
            ("the secrets", "are")
        };
        return Ok(Err(format!(
            "{word} {} {verb} not set in this tenant: an admin sets it under Secrets",
            missing.join(", ")
        )));
    }
    let masker = Masker::new(env.iter().map(|(_, v)| v.as_str()));
    Ok(Ok(RunSecrets {
        env: Arc::new(env),
        masker,
    }))
}

/// What a rotation did.
#[derive(Debug, PartialEq, Eq)]
pub struct Rotated {
    pub secrets: usize,
    pub tenants: usize,
    pub generation: i32,
}

/// Re-seals every tenant's secrets under the key in `new_key_file` (made, 0600, when it does
/// not exist) and replaces the check value, all in one transaction: afterwards only the new
/// key opens them, and servers still holding the old one refuse their secret operations until
/// restarted with the new one. The current key comes from `source` and must open the check
/// value. Recorded in the platform's audit log.
pub async fn rotate(
    pool: &sqlx::PgPool,
    source: &KeySource,
    new_key_file: &Path,
) -> anyhow::Result<Rotated> {
    let mut tx = pool.begin().await?;
    let (current, new) = key::keys_for_rotation(&mut tx, source, new_key_file).await?;
    let tenants: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, schema_name FROM public.tenants ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
    let mut secrets = 0;
    for (tenant_id, schema) in &tenants {
        let schema = TenantSchema::parse(schema)?;
        enter_schema(&mut tx, &schema).await?;
        secrets += reseal_tenant(&mut tx, *tenant_id, &current, &new).await?;
        leave_schema(&mut tx).await?;
    }
    key::store_check(&mut tx, &new).await?;
    audit::record(
        &mut tx,
        AuditLog::Platform,
        &Actor::system(),
        Event {
            action: "master_key.rotate",
            target: "master key",
            detail: json!({
                "generation": new.generation,
                "secrets": secrets,
                "tenants": tenants.len(),
            }),
            result: "ok",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Rotated {
        secrets,
        tenants: tenants.len(),
        generation: new.generation,
    })
}

/// Re-seals one tenant's secrets (the transaction is in its schema).
async fn reseal_tenant(
    conn: &mut PgConnection,
    tenant_id: i64,
    current: &MasterKey,
    new: &MasterKey,
) -> anyhow::Result<usize> {
    let rows: Vec<(i64, String, Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT id, name, nonce, ciphertext FROM secrets ORDER BY id FOR UPDATE")
            .fetch_all(&mut *conn)
            .await?;
    for (id, name, nonce, ciphertext) in &rows {
        let binding = Binding::TenantSecret { tenant_id, name };
        let sealed = Sealed {
            nonce: nonce.clone(),
            ciphertext: ciphertext.clone(),
        };
        let plain = current.open(binding, &sealed).ok_or_else(|| {
            anyhow::anyhow!(
                "tenant {tenant_id}'s secret {name} does not open under the current key \
                 (altered?): nothing was rotated"
            )
        })?;
        let resealed = new.seal(binding, &plain);
        sqlx::query("UPDATE secrets SET nonce = $2, ciphertext = $3 WHERE id = $1")
            .bind(id)
            .bind(&resealed.nonce)
            .bind(&resealed.ciphertext)
            .execute(&mut *conn)
            .await?;
    }
    Ok(rows.len())
}
