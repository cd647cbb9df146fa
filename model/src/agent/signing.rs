//! The signing half of local agents' request signatures (see `domain::agent_auth` for the
//! checks): the agent's machine key and the one text both sides sign and check.

use ed25519_dalek::{Signer, SigningKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{AGENT_ID_HEADER, AGENT_NONCE_HEADER, AGENT_SIGNATURE_HEADER, AGENT_TIMESTAMP_HEADER};

/// The SHA-256 of a request body, as lowercase hex: what the signature covers of it.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The text that is signed. Each part is on its own line; none can hold a newline (a method,
/// an HTTP path, a Host, hex digits), so no two requests sign the same text.
pub fn canonical(
    method: &str,
    path_and_query: &str,
    host: &str,
    machine_id: &str,
    timestamp: i64,
    nonce: &str,
    body_sha256: &str,
) -> String {
    format!(
        "execgov-agent-request-v1\n{method}\n{path_and_query}\n{host}\n{machine_id}\n\
         {timestamp}\n{nonce}\n{body_sha256}"
    )
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// An agent's machine key: the private half, as the agent keeps it.
#[derive(Clone)]
pub struct MachineKey(SigningKey);

impl MachineKey {
    pub fn generate() -> MachineKey {
        MachineKey(SigningKey::from_bytes(&random_bytes::<32>()))
    }

    /// The key as kept in the agent's identity file (its 32-byte seed as hex).
    pub fn from_hex(text: &str) -> Option<MachineKey> {
        let seed: [u8; 32] = hex::decode(text.trim()).ok()?.try_into().ok()?;
        Some(MachineKey(SigningKey::from_bytes(&seed)))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    /// The public half, as registered with the server.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// The headers that sign one request of machine `machine_id` made at `timestamp` (Unix
    /// seconds; now, but for tests): its id, the timestamp, a new nonce and the signature.
    /// `host` is the Host header the request carries.
    pub fn sign(
        &self,
        timestamp: i64,
        machine_id: &str,
        method: &str,
        path_and_query: &str,
        host: &str,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        let nonce = hex::encode(random_bytes::<16>());
        let text = canonical(
            method,
            path_and_query,
            host,
            machine_id,
            timestamp,
            &nonce,
            &body_sha256(body),
        );
        let signature = hex::encode(self.0.sign(text.as_bytes()).to_bytes());
        vec![
            (AGENT_ID_HEADER, machine_id.to_string()),
            (AGENT_TIMESTAMP_HEADER, timestamp.to_string()),
            (AGENT_NONCE_HEADER, nonce),
            (AGENT_SIGNATURE_HEADER, signature),
        ]
    }
}
