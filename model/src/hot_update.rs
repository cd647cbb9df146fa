//! Hot updates: a tenant admin submits a script folder, a super-admin reviews it, and the
//! platform syncs and registers it as the skill's new live version in that tenant only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::skill::RiskLevel;

/// Where a submission is: `submitted → approved | rejected → [built →] synced → registered →
/// live`, or `failed` at one of the platform's steps. `built` (its Python environment is ready)
/// only for a skill that declares packages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubmissionStatus {
    Submitted,
    Approved,
    Rejected,
    Built,
    Synced,
    Registered,
    Live,
    Failed,
}

impl SubmissionStatus {
    pub const ALL: [SubmissionStatus; 8] = [
        SubmissionStatus::Submitted,
        SubmissionStatus::Approved,
        SubmissionStatus::Rejected,
        SubmissionStatus::Built,
        SubmissionStatus::Synced,
        SubmissionStatus::Registered,
        SubmissionStatus::Live,
        SubmissionStatus::Failed,
    ];

    /// The name stored in `skill_submissions.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubmissionStatus::Submitted => "submitted",
            SubmissionStatus::Approved => "approved",
            SubmissionStatus::Rejected => "rejected",
            SubmissionStatus::Built => "built",
            SubmissionStatus::Synced => "synced",
            SubmissionStatus::Registered => "registered",
            SubmissionStatus::Live => "live",
            SubmissionStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<SubmissionStatus> {
        SubmissionStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// The flags and risk a skill version runs with: proposed by the submitter, decided by the
/// reviewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkillFlags {
    pub risk: RiskLevel,
    pub ai_callable: bool,
    pub manual_allowed: bool,
    pub requires_confirmation: bool,
}

/// One row of a submission list (the tenant's own, or the console's review queue).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmissionSummary {
    pub id: i64,
    pub tenant_name: String,
    pub slug: String,
    pub skill_name: String,
    pub status: SubmissionStatus,
    /// For `failed`: the step that failed (`environment`, `sync`, `register`, `verify`).
    pub failed_step: Option<String>,
    /// Why it was rejected or failed.
    pub reason: Option<String>,
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
    pub content_hash: String,
}

/// One step of a submission's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmissionEvent {
    pub at: DateTime<Utc>,
    pub status: String,
    pub actor: String,
    pub note: String,
}

/// A submitted file: its path, size and, when it is text, its content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmittedFile {
    pub path: String,
    pub size: i64,
    pub text: Option<String>,
}

/// How one line of a diff changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LineChange {
    Same,
    Added,
    Removed,
}

/// A line of a diff with its numbers in the live (`old`) and submitted (`new`) file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffLine {
    pub change: LineChange,
    pub old: Option<usize>,
    pub new: Option<usize>,
    pub text: String,
}

/// The changes of one file against the live version (context around changes only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileDiff {
    pub path: String,
    /// `added`, `removed`, `modified` or `binary`.
    pub change: String,
    pub lines: Vec<DiffLine>,
}

/// Everything about one submission: for the submitter's timeline and the reviewer's page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmissionDetail {
    pub summary: SubmissionSummary,
    pub kind: String,
    pub archive_name: String,
    pub scenario: String,
    pub proposed: SkillFlags,
    /// What the reviewer decided, once approved.
    pub decided: Option<SkillFlags>,
    pub reviewed_by: Option<String>,
    /// The skill version it became, once registered.
    pub version: Option<i32>,
    /// The recorded verification (visible and runnable in the owning tenant only), as JSON.
    pub verification: Option<String>,
    pub timeline: Vec<SubmissionEvent>,
    pub files: Vec<SubmittedFile>,
    pub readme_html: String,
    /// The live version of the same skill, when there is one.
    pub live_version: Option<i32>,
    /// What `diff` and `package_changes` compare against: the live version while the submission
    /// waits; once registered, the version before it (none for a new skill).
    #[serde(default)]
    pub base_version: Option<i32>,
    pub diff: Vec<FileDiff>,
    /// The Python packages it will run with (resolved at submission), if it declares any.
    pub packages: Option<PackageLock>,
    /// Packages added, removed or changed against `base_version` (empty without one).
    pub package_changes: Vec<PackageChange>,
    /// The command line a run uses, from the submitted `skill.toml`
    /// (`python main.py --in <data> [--verbose]`); `None` when it does not parse.
    #[serde(default)]
    pub command_line: Option<String>,
    /// What a run answers on standard input, one line each (`<name>` for an input's value).
    #[serde(default)]
    pub stdin_lines: Vec<String>,
    /// Globs of files collected as artifacts besides `output/`.
    #[serde(default)]
    pub artifact_globs: Vec<String>,
    /// The tenant secrets its runs receive as environment variables (names only), for the
    /// reviewer to approve.
    #[serde(default)]
    pub secrets: Vec<String>,
}

/// A skill's resolved packages: exact versions and hashes for the platform's Python.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackageLock {
    /// Where they were declared: `requirements.txt` or `main.py (# /// script)`.
    pub declared_in: String,
    /// SHA-256 of `text`: the environment built from it is shared by every skill version with
    /// the same lock.
    pub hash: String,
    pub packages: Vec<LockedPackage>,
    /// The lock as the installer reads it (`name==version` with `--hash=sha256:…` lines).
    pub text: String,
}

/// One pinned package of a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockedPackage {
    /// Normalised name (lower case, `-` separated).
    pub name: String,
    pub version: String,
    /// Published only as source and built into a wheel by the platform
    /// (`EXECGOV_PYTHON_ALLOW_BUILDS`), not installed from a published wheel; left out when
    /// false, so wheel-only locks read as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_source: bool,
}

/// A package whose version differs between the live version and a submission: `live` empty
/// for an added package, `submitted` empty for a removed one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackageChange {
    pub name: String,
    pub live: Option<String>,
    pub submitted: Option<String>,
}

/// One version of a skill, as its page lists them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkillVersionInfo {
    pub version: i32,
    pub content_hash: String,
    pub submitted_by: Option<String>,
    pub approved_by: Option<String>,
    pub registered_by: String,
    pub registered_at: DateTime<Utc>,
    pub submission_id: Option<i64>,
    pub live: bool,
    /// Why the platform withdrew this version: it can never be made live again.
    pub withdrawn_reason: Option<String>,
}

/// A skill of a tenant with all its versions, for the console's tenant page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkillVersions {
    pub slug: String,
    pub name: String,
    /// Why the platform disabled the skill in this tenant (only the platform enables it again).
    pub disabled_reason: Option<String>,
    pub versions: Vec<SkillVersionInfo>,
}
