//! Types shared by the browser bundle, the server and the CLI.
//! wasm-safe: serde and plain Rust only.

pub mod agent;
pub mod api;
pub mod brain;
pub mod dashboard;
mod error;
pub mod hot_update;
pub mod invocation;
#[cfg(feature = "packages")]
pub mod requirements;
pub mod secrets;
pub mod skill;
pub mod storage;
mod validation;
pub mod words;

pub use error::{ErrorKind, UserError};
pub use validation::{normalize_host, validate_password, validate_tenant_name, validate_username};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a Host shows; chosen by its host binding, never by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Surface {
    PublicConsole,
    TenantFront,
    FreeConsole,
    Experience,
}

impl Surface {
    pub const ALL: [Surface; 4] = [
        Surface::PublicConsole,
        Surface::TenantFront,
        Surface::FreeConsole,
        Surface::Experience,
    ];

    /// The name stored in `public.host_bindings.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::PublicConsole => "public_console",
            Surface::TenantFront => "tenant_front",
            Surface::FreeConsole => "free_console",
            Surface::Experience => "experience",
        }
    }

    pub fn parse(s: &str) -> Option<Surface> {
        Surface::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A user's role inside one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TenantRole {
    Admin,
    Member,
}

impl TenantRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantRole::Admin => "admin",
            TenantRole::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<TenantRole> {
        [TenantRole::Admin, TenantRole::Member]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// Who is signed in on this host, as the pages need to know it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Principal {
    /// A user of the public console; only `super_admin` may govern the platform.
    Platform { username: String, super_admin: bool },
    /// A user of the tenant this host is bound to.
    Tenant { username: String, role: TenantRole },
}

impl Principal {
    pub fn username(&self) -> &str {
        match self {
            Principal::Platform { username, .. } | Principal::Tenant { username, .. } => username,
        }
    }

    pub fn is_super_admin(&self) -> bool {
        matches!(
            self,
            Principal::Platform {
                super_admin: true,
                ..
            }
        )
    }

    pub fn is_tenant_admin(&self) -> bool {
        matches!(
            self,
            Principal::Tenant {
                role: TenantRole::Admin,
                ..
            }
        )
    }
}

/// The page shell's view of the current request: surface, tenant and user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub surface: Surface,
    pub tenant_name: Option<String>,
    pub principal: Option<Principal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSummary {
    pub id: i64,
    pub name: String,
    pub schema_name: String,
    pub edition: String,
    pub status: String,
    pub hosts: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantDetail {
    pub tenant: TenantSummary,
    pub user_count: i64,
    pub admins: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub role: TenantRole,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub result: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The check of one audit log's hash chain (`execgov audit verify`, the console's check).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheck {
    /// `platform`, or `tenant <name> (<schema>)`.
    pub log: String,
    pub entries: i64,
    /// The first entry whose link does not hold; `None`: the chain is intact.
    pub broken: Option<BrokenLink>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    pub entry_id: i64,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginLogEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub username: String,
    pub success: bool,
    pub reason: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Where an execution is in its life: `awaiting_confirmation → queued → running → succeeded |
/// failed | timed_out | cancelled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    AwaitingConfirmation,
    Queued,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 7] = [
        ExecutionStatus::AwaitingConfirmation,
        ExecutionStatus::Queued,
        ExecutionStatus::Running,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Cancelled,
    ];

    /// The name stored in `executions.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::AwaitingConfirmation => "awaiting_confirmation",
            ExecutionStatus::Queued => "queued",
            ExecutionStatus::Running => "running",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::TimedOut => "timed_out",
            ExecutionStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ExecutionStatus> {
        ExecutionStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No further change will happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Succeeded
                | ExecutionStatus::Failed
                | ExecutionStatus::TimedOut
                | ExecutionStatus::Cancelled
        )
    }
}

/// A skill as the list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkillSummary {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub risk: skill::RiskLevel,
    pub requires_confirmation: bool,
    pub version: i32,
}

/// A skill's page: what it does, its README (sanitized HTML) and its form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkillPage {
    pub summary: SkillSummary,
    pub output_description: String,
    pub readme_html: String,
    pub inputs: skill::InputSchema,
    /// Values to pre-fill ("run again with these inputs"), by field.
    pub prefill: std::collections::BTreeMap<String, String>,
    /// The execution whose inputs pre-fill the form; its files are reused when none is chosen.
    pub rerun_of: Option<i64>,
    /// Every version, newest first; which one is live.
    pub versions: Vec<hot_update::SkillVersionInfo>,
    /// Whether this user may make another version live (tenant admins).
    pub can_switch_version: bool,
}

/// One row of the execution history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecutionSummary {
    pub id: i64,
    pub skill_slug: String,
    pub skill_name: String,
    pub requested_by: String,
    pub status: ExecutionStatus,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// For a run that failed, timed out or was cancelled: why, in a few words (the limit hit,
    /// or the script's last line on stderr).
    #[serde(default)]
    pub why: Option<String>,
}

/// What narrows the execution history; empty fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionFilter {
    pub skill: Option<String>,
    pub user: Option<String>,
    pub status: Option<ExecutionStatus>,
    pub since: Option<chrono::NaiveDate>,
    pub until: Option<chrono::NaiveDate>,
}

/// Log lines an execution page (and a page of the API's log) holds; the rest is a page further.
pub const LOG_PAGE_LINES: i64 = 5000;

/// A file a run produced, kept to download.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Artifact {
    /// Relative to the run's output folder, e.g. `report.md` or `reports/q1.csv`.
    pub path: String,
    /// In bytes.
    pub size: i64,
}

/// One line of a run's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogLine {
    /// `stdout`, `stderr` or `system`.
    pub stream: String,
    pub line: String,
}

/// Everything the execution page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecutionView {
    pub summary: ExecutionSummary,
    pub skill_version: i32,
    pub reason: Option<String>,
    /// The inputs as they will be (or were) given to the script, pretty JSON.
    pub inputs: String,
    pub inputs_digest: String,
    pub confirmed_by: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    /// `result.json` as the script wrote it.
    pub result: Option<String>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub artifacts: Vec<Artifact>,
    /// Oldest first: one page of the log, from line `log_from` (0-based).
    pub logs: Vec<LogLine>,
    pub log_from: i64,
    /// How many lines the log has stored; more than `log_from + logs.len()`: later pages.
    pub log_lines: i64,
    pub can_confirm: bool,
    pub can_cancel: bool,
    /// Set once the retention period removed the run's files and log, saying when and why.
    #[serde(default)]
    pub files_removed: Option<String>,
    /// New files the run left in its working folder that no artifact glob collected: the first
    /// few paths (relative to the working folder), so nothing vanishes silently.
    #[serde(default)]
    pub written_outside: Vec<String>,
    /// How many such files there were in all.
    #[serde(default)]
    pub written_outside_count: i64,
    /// A failed or timed-out run's last lines on stderr, oldest first: the script's own
    /// explanation, shown beside its status.
    #[serde(default)]
    pub stderr_tail: Vec<String>,
}

impl ExecutionView {
    /// "3 files were written outside output/: a.txt, b.log, c.csv", when there were any.
    pub fn written_outside_note(&self) -> Option<String> {
        let count = self.written_outside_count;
        if count <= 0 {
            return None;
        }
        let mut names = self.written_outside.join(", ");
        let more = count - self.written_outside.len() as i64;
        if more > 0 {
            names.push_str(&format!(" and {more} more"));
        }
        let (noun, verb) = if count == 1 {
            ("file", "was")
        } else {
            ("files", "were")
        };
        Some(format!(
            "{count} {noun} {verb} written outside output/: {names}"
        ))
    }
}

/// A tenant a whitelisted tenant admin may enter, with the address to go to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossTenantLink {
    pub tenant_name: String,
    pub host: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surface_names_round_trip() {
        for s in Surface::ALL {
            assert_eq!(Surface::parse(s.as_str()), Some(s));
        }
        assert_eq!(Surface::parse("tenant"), None);
    }

    #[test]
    fn files_written_outside_output_are_named() {
        let mut view: ExecutionView = serde_json::from_value(serde_json::json!({
            "summary": {"id": 1, "skill_slug": "s", "skill_name": "S", "requested_by": "u",
                "status": "succeeded", "created_at": "2026-12-02T00:00:00Z", "finished_at": null},
            "skill_version": 1, "reason": null, "inputs": "{}", "inputs_digest": "d",
            "confirmed_by": null, "started_at": null, "exit_code": 0, "result": null,
            "stdout_truncated": false, "stderr_truncated": false, "artifacts": [], "logs": [],
            "log_from": 0, "log_lines": 0, "can_confirm": false, "can_cancel": false
        }))
        .expect("older views (without the new fields) still read");
        assert_eq!(view.written_outside_note(), None);
        view.written_outside = vec!["a.txt".into()];
        view.written_outside_count = 1;
        assert_eq!(
            view.written_outside_note().unwrap(),
            "1 file was written outside output/: a.txt"
        );
        view.written_outside = vec!["a.txt".into(), "b/c.log".into()];
        view.written_outside_count = 5;
        assert_eq!(
            view.written_outside_note().unwrap(),
            "5 files were written outside output/: a.txt, b/c.log and 3 more"
        );
    }

    #[test]
    fn execution_statuses_round_trip() {
        for s in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(s.as_str()), Some(s));
        }
        assert!(ExecutionStatus::Cancelled.is_final());
        assert!(!ExecutionStatus::Running.is_final());
    }

    #[test]
    fn super_admin_is_only_the_explicit_marker() {
        let plain = Principal::Platform {
            username: "admin".into(),
            super_admin: false,
        };
        assert!(!plain.is_super_admin());
        let tenant_admin = Principal::Tenant {
            username: "root".into(),
            role: TenantRole::Admin,
        };
        assert!(!tenant_admin.is_super_admin());
        assert!(tenant_admin.is_tenant_admin());
    }
}
