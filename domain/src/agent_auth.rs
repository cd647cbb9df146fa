//! How a local agent proves who it is on every request: an Ed25519 signature with the machine
//! key it made on its first start, over the request itself (method, path and query, Host,
//! machine id, timestamp, a fresh nonce and the SHA-256 of the body). The server keeps only the
//! public key. A request seen on the wire (an agent may be configured for plain HTTP) can be
//! neither altered (the signature covers every byte that matters) nor replayed: a timestamp more
//! than [`MAX_SKEW`] off the server's clock is refused, and so is a nonce already seen while its
//! timestamp could still pass (kept in the tenant's `agent_nonces`, shared by every server
//! process of the database). The agent token stays the bearer: revoking it cuts the agent off.
//!
//! The agent signs with [`MachineKey::sign`] (in `model`, shared with `execgov-cli`); the server
//! checks with [`SignedRequest`]. Both build the signed text with the one
//! `model::agent::signing::canonical` function.

use std::time::Duration;

use ed25519_dalek::{Signature, VerifyingKey};
use sqlx::PgConnection;

use model::agent::signing::canonical;
pub use model::agent::signing::{body_sha256, MachineKey};
pub use model::agent::{
    AGENT_ID_HEADER, AGENT_NONCE_HEADER, AGENT_SIGNATURE_HEADER, AGENT_TIMESTAMP_HEADER,
};

use crate::{AppError, AppResult};

/// How far a request's timestamp may be off the server's clock, either way.
pub const MAX_SKEW: Duration = Duration::from_secs(60);

/// A public key as an agent registers it: 64 lowercase hex digits of a valid, strong Ed25519
/// point.
pub fn valid_public_key(text: &str) -> bool {
    parse_public_key(text).is_some()
}

fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    if text.len() != 64
        || text
            .bytes()
            .any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let bytes: [u8; 32] = hex::decode(text).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes)
        .ok()
        .filter(|k| !k.is_weak())
}

fn refused(why: &str) -> AppError {
    AppError::Unauthenticated(why.to_string())
}

/// A header the signature needs is missing or malformed.
fn unsigned(header: &str) -> AppError {
    AppError::Unauthenticated(format!(
        "The request has no valid {header}: agent requests are signed with the agent's machine \
         key (execgov-cli agent start does it; update an older execgov-cli)."
    ))
}

/// A request as the server received it, with what its signature must cover.
#[derive(Clone, Debug)]
pub struct SignedRequest {
    pub machine_id: String,
    timestamp: i64,
    nonce: String,
    signature: Signature,
    text: String,
}

impl SignedRequest {
    /// Reads the signing headers (through `header`) of a request; `body_sha256` is of its body
    /// as received. Missing or malformed headers: 401.
    pub fn new(
        method: &str,
        path_and_query: &str,
        host: &str,
        body_sha256: &str,
        header: impl Fn(&str) -> Option<String>,
    ) -> AppResult<SignedRequest> {
        let machine_id = header(AGENT_ID_HEADER).unwrap_or_default();
        let timestamp = header(AGENT_TIMESTAMP_HEADER)
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| unsigned("X-Execgov-Agent-Timestamp"))?;
        let nonce = header(AGENT_NONCE_HEADER)
            .filter(|n| n.len() == 32 && n.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .ok_or_else(|| unsigned("X-Execgov-Agent-Nonce"))?;
        let signature = header(AGENT_SIGNATURE_HEADER)
            .and_then(|s| hex::decode(s).ok())
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or_else(|| unsigned("X-Execgov-Agent-Signature"))?;
        let text = canonical(
            method,
            path_and_query,
            host,
            &machine_id,
            timestamp,
            &nonce,
            body_sha256,
        );
        Ok(SignedRequest {
            machine_id,
            timestamp,
            nonce,
            signature,
            text,
        })
    }

    /// Checks the timestamp against this server's clock and the signature against the agent's
    /// public key (hex).
    pub fn verify(&self, public_key: &str) -> AppResult<()> {
        let off = chrono::Utc::now().timestamp() - self.timestamp;
        if off.unsigned_abs() > MAX_SKEW.as_secs() {
            return Err(refused(&format!(
                "The request's timestamp is {} s off the server's clock (at most {} s): set this \
                 machine's clock (NTP).",
                off.abs(),
                MAX_SKEW.as_secs()
            )));
        }
        let key = parse_public_key(public_key)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a stored public key is invalid")))?;
        key.verify_strict(self.text.as_bytes(), &self.signature)
            .map_err(|_| {
                refused(
                    "The request's signature does not verify with this agent's machine key \
                     (signed with another key, or changed on the way).",
                )
            })
    }

    /// Records the nonce, in the tenant transaction that does the request's work: a nonce this
    /// machine used before is a replay. A nonce is kept while its timestamp could pass, and
    /// then dropped on the machine's next request.
    pub async fn spend_nonce(&self, conn: &mut PgConnection) -> AppResult<()> {
        sqlx::query("DELETE FROM agent_nonces WHERE machine_id = $1 AND expires_at < now()")
            .bind(&self.machine_id)
            .execute(&mut *conn)
            .await?;
        // Twice the window: the database's clock may differ a little from this server's.
        let fresh: Option<i32> = sqlx::query_scalar(
            "INSERT INTO agent_nonces (machine_id, nonce, expires_at) \
             VALUES ($1, $2, to_timestamp($3) + make_interval(secs => $4)) \
             ON CONFLICT DO NOTHING RETURNING 1",
        )
        .bind(&self.machine_id)
        .bind(&self.nonce)
        .bind(self.timestamp as f64)
        .bind(2.0 * MAX_SKEW.as_secs_f64())
        .fetch_optional(&mut *conn)
        .await?;
        fresh.map(|_| ()).ok_or_else(|| {
            refused("This request was received before (its nonce was used): a replay is refused.")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(headers: &[(&'static str, String)], body: &[u8]) -> SignedRequest {
        SignedRequest::new(
            "POST",
            "/api/v1/agent/claim?wait=0",
            "acme.localhost",
            &body_sha256(body),
            |name| {
                headers
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            },
        )
        .unwrap()
    }

    #[test]
    fn a_signature_verifies_with_its_key_only_and_over_the_same_request_only() {
        let key = MachineKey::generate();
        let other = MachineKey::generate();
        let id = "0123456789abcdef0123456789abcdef";
        let headers = key.sign(
            chrono::Utc::now().timestamp(),
            id,
            "POST",
            "/api/v1/agent/claim?wait=0",
            "acme.localhost",
            b"{}",
        );
        assert!(received(&headers, b"{}").verify(&key.public_hex()).is_ok());
        assert!(received(&headers, b"{}")
            .verify(&other.public_hex())
            .is_err());
        assert!(received(&headers, b"{ }")
            .verify(&key.public_hex())
            .is_err());
        let restored = MachineKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(restored.public_hex(), key.public_hex());
        assert!(valid_public_key(&key.public_hex()));
        assert!(!valid_public_key(&key.public_hex().to_uppercase()));
        // The identity point is a weak key: refused.
        assert!(!valid_public_key(&format!("01{}", "0".repeat(62))));
    }
}
