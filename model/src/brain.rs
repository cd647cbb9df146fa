//! The intelligent brain's conversations, as the assistant's pages show them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::skill::{InputSchema, RiskLevel};

/// The longest request the assistant takes, in characters.
pub const MAX_REQUEST_CHARS: usize = 4000;

/// One conversation in the user's list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: i64,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub turns: i64,
}

/// A conversation with everything its page shows, oldest turn first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: i64,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub attachments: Vec<AttachmentInfo>,
    pub turns: Vec<Turn>,
}

/// A file attached to a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentInfo {
    pub file_name: String,
    pub size: i64,
    pub created_at: DateTime<Utc>,
}

/// A recommendation as it was shown (and is kept with its turn).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShownRecommendation {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub risk: RiskLevel,
    pub requires_confirmation: bool,
    /// Why it matches the request, in words a person reads.
    pub why: String,
    pub score: f64,
}

/// The skill a plan would run, as it is live now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanSkill {
    pub name: String,
    pub description: String,
    pub risk: RiskLevel,
    pub requires_confirmation: bool,
    pub inputs: InputSchema,
}

/// A turn's plan: the chosen skill and its inputs as the form sends them (a file input names one
/// of the conversation's attachments), with the required inputs still missing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub slug: String,
    pub values: BTreeMap<String, String>,
    pub missing: Vec<String>,
    /// `None` when the assistant may no longer run this skill for this user.
    pub skill: Option<PlanSkill>,
}

/// One request and what came of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub request: String,
    /// Which provider answered ("embedded", "openai-compatible").
    pub provider: String,
    /// Best first.
    pub recommendations: Vec<ShownRecommendation>,
    /// Why there are no recommendations, when the provider could not answer.
    pub note: Option<String>,
    pub plan: Option<Plan>,
    /// The execution the plan became, once the user ran it.
    pub execution_id: Option<i64>,
}
