//! How the product names its states and records for people: every page takes its words from
//! here, so a status reads the same everywhere ("Waiting for confirmation", never
//! `awaiting_confirmation`).

use chrono::{DateTime, Utc};

use crate::hot_update::SubmissionStatus;
use crate::ExecutionStatus;

impl ExecutionStatus {
    pub fn label(self) -> &'static str {
        match self {
            ExecutionStatus::AwaitingConfirmation => "Waiting for confirmation",
            ExecutionStatus::Queued => "Queued",
            ExecutionStatus::Running => "Running",
            ExecutionStatus::Succeeded => "Succeeded",
            ExecutionStatus::Failed => "Failed",
            ExecutionStatus::TimedOut => "Timed out",
            ExecutionStatus::Cancelled => "Cancelled",
        }
    }
}

impl SubmissionStatus {
    pub fn label(self) -> &'static str {
        match self {
            SubmissionStatus::Submitted => "Waiting for review",
            SubmissionStatus::Approved => "Approved",
            SubmissionStatus::Rejected => "Rejected",
            SubmissionStatus::Built => "Environment built",
            SubmissionStatus::Synced => "Files in place",
            SubmissionStatus::Registered => "Registered",
            SubmissionStatus::Live => "Live",
            SubmissionStatus::Failed => "Failed",
        }
    }
}

/// A tenant's edition (`shared_saas`, `free`) as people say it.
pub fn edition_label(edition: &str) -> String {
    match edition {
        "shared_saas" => "Shared SaaS".into(),
        "free" => "Free edition".into(),
        other => sentence(other),
    }
}

/// A stored word (`timed_out`, `tenant.create`, `inputs_digest`) as a short phrase:
/// "Timed out", "Tenant create", "Inputs digest".
pub fn sentence(word: &str) -> String {
    let spaced = word.replace(['_', '.', '-'], " ");
    let mut chars = spaced.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An audit entry's detail (a JSON object) as "Key: value" pairs, by key, an absolute path as
/// its file name; `None` when it is not an object (then only the raw text says anything).
pub fn detail_fields(detail: &str) -> Option<Vec<(String, String)>> {
    let serde_json::Value::Object(map) = serde_json::from_str(detail).ok()? else {
        return None;
    };
    Some(
        map.into_iter()
            .map(|(key, value)| {
                let value = match value {
                    serde_json::Value::String(s) if s.starts_with('/') => file_name(&s).to_string(),
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Bool(true) => "yes".into(),
                    serde_json::Value::Bool(false) => "no".into(),
                    serde_json::Value::Null => "—".into(),
                    other => other.to_string(),
                };
                (sentence(&key), value)
            })
            .collect(),
    )
}

/// The file name of a stored path (`/var/lib/execgov/uploads/7/report.csv` → `report.csv`).
pub fn file_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
}

/// How long ago `at` was, seen at `now`: "just now", "5 minutes ago", "3 hours ago",
/// "yesterday", "4 days ago"; a moment ahead reads "in 2 minutes".
pub fn relative_time(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds();
    if seconds.abs() < 45 {
        return "just now".into();
    }
    let (amount, unit) = match seconds.abs() {
        s if s < 3_600 => ((s + 30) / 60, "minute"),
        s if s < 86_400 => ((s + 1_800) / 3_600, "hour"),
        s if s < 30 * 86_400 => ((s + 43_200) / 86_400, "day"),
        s if s < 365 * 86_400 => (s / (30 * 86_400), "month"),
        s => (s / (365 * 86_400), "year"),
    };
    let amount = amount.max(1);
    let span = format!("{amount} {unit}{}", if amount == 1 { "" } else { "s" });
    match (seconds > 0, unit, amount) {
        (true, "day", 1) => "yesterday".into(),
        (true, ..) => format!("{span} ago"),
        (false, ..) => format!("in {span}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn every_status_has_words_for_people() {
        assert_eq!(
            ExecutionStatus::AwaitingConfirmation.label(),
            "Waiting for confirmation"
        );
        for s in ExecutionStatus::ALL {
            assert!(!s.label().contains('_'), "{s:?}");
        }
        for s in SubmissionStatus::ALL {
            assert!(!s.label().contains('_'), "{s:?}");
        }
        assert_eq!(SubmissionStatus::Submitted.label(), "Waiting for review");
    }

    #[test]
    fn stored_words_read_as_phrases() {
        assert_eq!(edition_label("shared_saas"), "Shared SaaS");
        assert_eq!(edition_label("free"), "Free edition");
        assert_eq!(sentence("inputs_digest"), "Inputs digest");
        assert_eq!(sentence("tenant.create"), "Tenant create");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn details_become_key_value_pairs() {
        let fields =
            detail_fields(r#"{"skill":"sales-report","was":"queued","confirmed":true,"n":3,"uv":"/opt/x/bin/uv"}"#)
                .unwrap();
        assert_eq!(
            fields,
            [
                ("Confirmed".to_string(), "yes".to_string()),
                ("N".into(), "3".into()),
                ("Skill".into(), "sales-report".into()),
                ("Uv".into(), "uv".into()),
                ("Was".into(), "queued".into()),
            ]
        );
        assert_eq!(detail_fields("[1, 2]"), None);
        assert_eq!(detail_fields("not json"), None);
    }

    #[test]
    fn paths_show_as_file_names() {
        assert_eq!(
            file_name("/var/lib/execgov/uploads/7/report.csv"),
            "report.csv"
        );
        assert_eq!(file_name("output/"), "output");
        assert_eq!(file_name("plain.txt"), "plain.txt");
    }

    #[test]
    fn times_read_relative_to_now() {
        let now = Utc::now();
        assert_eq!(relative_time(now - Duration::seconds(10), now), "just now");
        assert_eq!(
            relative_time(now - Duration::seconds(60), now),
            "1 minute ago"
        );
        assert_eq!(
            relative_time(now - Duration::minutes(5), now),
            "5 minutes ago"
        );
        assert_eq!(relative_time(now - Duration::hours(3), now), "3 hours ago");
        assert_eq!(relative_time(now - Duration::hours(26), now), "yesterday");
        assert_eq!(relative_time(now - Duration::days(4), now), "4 days ago");
        assert_eq!(relative_time(now - Duration::days(400), now), "1 year ago");
        assert_eq!(
            relative_time(now + Duration::minutes(2), now),
            "in 2 minutes"
        );
    }
}
