//! Local agents: machines of the tenant that run the skills marked for them (asset kind `agent`),
//! as the API, the agents page and `execgov-cli agent` see them.

#[cfg(feature = "signing")]
pub mod signing;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The header naming the calling agent's machine id (with the agent token as the bearer).
pub const AGENT_ID_HEADER: &str = "x-execgov-agent-id";
/// When the agent signed the request: Unix seconds. The server refuses it a minute off its clock.
pub const AGENT_TIMESTAMP_HEADER: &str = "x-execgov-agent-timestamp";
/// 32 random lowercase hex digits, new for every request: a nonce seen before is a replay.
pub const AGENT_NONCE_HEADER: &str = "x-execgov-agent-nonce";
/// The Ed25519 signature (128 hex digits) of the request with the agent's machine key.
pub const AGENT_SIGNATURE_HEADER: &str = "x-execgov-agent-signature";

/// An agent announcing itself (on every start): its identity, name and labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentRegistration {
    /// 32 lowercase hex digits, made once per machine.
    pub machine_id: String,
    /// The public half of the machine's Ed25519 key (64 hex digits), made once per machine; the
    /// registration itself is signed with it, and so is every later request.
    pub public_key: String,
    /// The secret machine key of an agent registered before requests were signed: sent once,
    /// to bind `public_key` to that agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_key: Option<String>,
    pub name: String,
    pub hostname: String,
    /// Which skills it takes: those whose `agent_label` is one of these. They must be labels
    /// its agent token allows; none: all of them.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The agent's program version.
    #[serde(default)]
    pub version: String,
}

/// An agent as the tenant sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentView {
    pub id: i64,
    pub machine_id: String,
    pub name: String,
    pub hostname: String,
    pub labels: Vec<String>,
    pub version: String,
    /// `online` (a call within the last minute, or 3 leases if longer), `offline`, `revoked`,
    /// or `token revoked` (its agent token was revoked or expired: its calls are refused until
    /// it registers with a new one).
    pub status: String,
    pub registered_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The name of the agent token it registered with.
    pub token_name: String,
    /// Executions it holds right now.
    pub running: i64,
}

/// A skill an agent can serve: its `agent_label` is one of the agent's labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServableSkill {
    pub slug: String,
    pub name: String,
    pub agent_label: String,
    pub enabled: bool,
}

/// What an agent is told about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentDescription {
    pub agent: AgentView,
    pub skills: Vec<ServableSkill>,
    /// Seconds a claim holds without a renewal: renew well within it.
    pub lease_seconds: u64,
}

/// An execution an agent has claimed: what to run. The script folder and the uploads come as
/// one tar from the job's bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentJob {
    pub execution_id: i64,
    pub attempt: i32,
    pub skill: String,
    /// `python` or `shell`: how to start the script folder's entry file.
    pub language: String,
    pub content_hash: String,
    /// The validated inputs, as the script receives them in `inputs.json`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub inputs: serde_json::Value,
    pub timeout_seconds: i32,
    /// Seconds the claim holds without a renewal.
    pub lease_seconds: u64,
    /// The skill version's inputs and how they reach its script (`args`, `stdin`,
    /// `artifacts`), for the agent to render as the platform's workers do. Empty from servers
    /// before issue 12.
    #[serde(default)]
    pub input_schema: crate::skill::InputSchema,
    #[serde(default)]
    pub invocation: crate::invocation::Invocation,
}

/// Log lines an agent streams while it runs an execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentLogBatch {
    pub lines: Vec<AgentLogLine>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentLogLine {
    /// `stdout` or `stderr`.
    pub stream: String,
    pub line: String,
}

/// How a run on an agent ended; the artifacts come beside it in the same multipart request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentReport {
    /// `succeeded`, `failed`, `timed_out` or `cancelled`.
    pub status: String,
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub stdout_truncated: bool,
    #[serde(default)]
    pub stderr_truncated: bool,
    /// `result.json` as the script wrote it (valid JSON, at most 1 MiB).
    pub result: Option<String>,
}
