//! The intelligent brain: a request in plain words → ranked recommendations among the skills this
//! user may run here → a plan (one skill and its inputs) → confirmation where needed → execution.
//!
//! Providers only *propose*. Whatever they answer, the caller re-checks it against the allowed
//! set and the skill's input schema before anything is shown or run (see `check_proposal`).

use std::future::Future;
use std::pin::Pin;

use model::skill::{InputSchema, RiskLevel};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::AppResult;

/// One skill a provider may choose from: only skills that are live, enabled, `ai_callable` and
/// runnable by the asking user in the asking tenant are ever built into this list.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub output: String,
    pub readme: String,
    /// Example requests from the skill's manifest.
    pub examples: Vec<String>,
    pub inputs: InputSchema,
    pub risk: RiskLevel,
    pub requires_confirmation: bool,
}

/// A file attached to the conversation, as a provider sees it (it never reads the bytes).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attachment {
    pub file_name: String,
    pub size: u64,
}

/// What the user asked, with what the conversation already holds.
#[derive(Clone, Debug)]
pub struct Ask<'a> {
    pub request: &'a str,
    pub attachments: &'a [Attachment],
}

/// One ranked recommendation: which skill, and why it matches, in words a person reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub slug: String,
    /// Higher is better; comparable within one proposal only.
    pub score: f64,
    pub why: String,
}

/// A provider's draft plan for one skill: the inputs it could fill from the request (as the form
/// would send them: field → text; a file field names an attachment's file name), and the
/// required fields it could not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanDraft {
    pub slug: String,
    pub inputs: Map<String, Value>,
    pub missing: Vec<String>,
}

/// A provider's answer: recommendations best first (possibly none), and a plan for the first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub recommendations: Vec<Recommendation>,
    pub plan: Option<PlanDraft>,
}

/// The boxed future a [`Provider`] returns (object-safe, so the server picks one at start-up).
pub type ProposalFuture<'a> = Pin<Box<dyn Future<Output = AppResult<Proposal>> + Send + 'a>>;

/// Turns a request into a proposal over the allowed candidates.
pub trait Provider: Send + Sync {
    /// Short name for logs and the audit trail ("embedded", "openai-compatible").
    fn name(&self) -> &'static str;

    /// Ranks `allowed` for `ask` and drafts a plan. Must not look beyond `allowed`.
    fn propose<'a>(&'a self, ask: Ask<'a>, allowed: &'a [Candidate]) -> ProposalFuture<'a>;
}
