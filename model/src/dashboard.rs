//! The home pages' dashboards: what a signed-in person sees first on each surface.

use serde::{Deserialize, Serialize};

use crate::hot_update::SubmissionSummary;
use crate::{AuditEntry, ExecutionSummary, TenantSummary};

/// How many dashboard rows a block shows; its count says how many there are in all.
pub const BLOCK_ROWS: i64 = 5;

/// One block of a dashboard: how many there are in all, and the first few.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Block<T> {
    pub total: i64,
    pub items: Vec<T>,
}

/// A run as the dashboard lists it, with the assistant conversation it was started from when that
/// conversation is the viewer's own (the free console has no execution pages: its runs open there).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecentRun {
    pub run: ExecutionSummary,
    pub conversation_id: Option<i64>,
}

/// A skill and how often it was run (by the viewer; by anyone for a tenant's admins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillUse {
    pub slug: String,
    pub name: String,
    pub runs: i64,
}

/// The home of a tenant front or the free console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantDashboard {
    /// The viewer's own runs; all of the tenant's for its admins. Newest first.
    pub recent_runs: Block<RecentRun>,
    /// Most runs first, among the skills the viewer may still run; the total counts every skill
    /// used.
    pub top_skills: Block<SkillUse>,
    /// Only for the tenant's admins.
    pub admin: Option<AdminBlocks>,
}

/// What waits for a tenant's admins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminBlocks {
    /// Submitted and not reviewed yet, newest first.
    pub pending_submissions: Block<SubmissionSummary>,
    /// Newest first.
    pub awaiting_confirmation: Block<ExecutionSummary>,
    /// Runs that failed in the last 24 hours, newest first.
    pub failed_last_day: Block<ExecutionSummary>,
    /// The day (UTC) those 24 hours began: where the history's date filter starts to show them all.
    pub failed_since: chrono::NaiveDate,
}

/// The public console's home, for super-admins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleDashboard {
    /// Newest first.
    pub tenants: Block<TenantSummary>,
    /// Every tenant's submissions awaiting review, oldest first.
    pub pending_reviews: Block<SubmissionSummary>,
    pub health: PlatformHealth,
    /// The platform's audit log, newest first.
    pub recent_audit: Block<AuditEntry>,
}

/// How the platform's execution machinery is doing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlatformHealth {
    /// Executions waiting for a platform worker.
    pub queued: i64,
    /// Executions waiting for a tenant's local agent.
    pub waiting_for_agents: i64,
    /// Executions running now, on any server's workers or on local agents.
    pub running: i64,
    /// The workers of every worker process: how many run an execution now, and how many
    /// there are.
    pub workers_busy: i64,
    pub workers_total: i64,
    /// Runs that failed (status `failed`) in all tenants.
    pub failed_last_hour: i64,
    pub failed_last_day: i64,
    /// The tenants with failed runs in the last day, most first.
    pub failing_tenants: Vec<TenantFailures>,
}

/// One tenant's failed runs of the last day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantFailures {
    pub tenant_id: i64,
    pub tenant_name: String,
    pub failed_last_day: i64,
}
