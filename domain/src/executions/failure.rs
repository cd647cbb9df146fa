//! Why a run did not succeed, as its page and the history show it: the limit it hit (its
//! `reason`), or, when the script simply failed, its own last words on stderr (the contract
//! says stderr is the explanation).

use model::ExecutionStatus;

use crate::db::TenantTx;
use crate::AppResult;

/// How many of the last stderr lines a failed run's page shows beside its status.
pub(super) const STDERR_TAIL_LINES: i64 = 5;

/// SQL column for the summary query: the last non-blank stderr line of a failed or timed-out
/// execution `e`, else NULL.
pub(super) const LAST_STDERR: &str = "CASE WHEN e.status IN ('failed', 'timed_out') THEN \
     (SELECT l.line FROM execution_logs l WHERE l.execution_id = e.id AND l.stream = 'stderr' \
      AND btrim(l.line) <> '' ORDER BY l.id DESC LIMIT 1) END AS last_stderr";

/// The history list's few words: the reason, except that a plain non-zero exit says less than
/// what the script wrote last on stderr. `None` for runs that did not fail.
pub(super) fn short_reason(
    status: ExecutionStatus,
    reason: Option<&str>,
    last_stderr: Option<&str>,
) -> Option<String> {
    const MAX_CHARS: usize = 120;
    if !matches!(
        status,
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Cancelled
    ) {
        return None;
    }
    let plain_exit = reason.is_none_or(|r| r.starts_with("exit code") || r == status.as_str());
    let text = match (plain_exit, last_stderr) {
        (true, Some(line)) => line.trim(),
        _ => reason?.trim(),
    };
    Some(match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    })
}

/// The last [`STDERR_TAIL_LINES`] stderr lines of a failed or timed-out execution, oldest first.
pub(super) async fn stderr_tail(
    tx: &mut TenantTx,
    id: i64,
    status: ExecutionStatus,
) -> AppResult<Vec<String>> {
    if !matches!(status, ExecutionStatus::Failed | ExecutionStatus::TimedOut) {
        return Ok(Vec::new());
    }
    let mut lines: Vec<String> = sqlx::query_scalar(
        "SELECT line FROM execution_logs WHERE execution_id = $1 AND stream = 'stderr' \
         ORDER BY id DESC LIMIT $2",
    )
    .bind(id)
    .bind(STDERR_TAIL_LINES)
    .fetch_all(&mut **tx)
    .await?;
    lines.reverse();
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_exit_is_explained_by_the_last_stderr_line() {
        assert_eq!(
            short_reason(
                ExecutionStatus::Failed,
                Some("exit code 1"),
                Some("  ValueError: no column 'amount'  ")
            )
            .as_deref(),
            Some("ValueError: no column 'amount'")
        );
        assert_eq!(
            short_reason(ExecutionStatus::Failed, Some("exit code 2"), None).as_deref(),
            Some("exit code 2")
        );
    }

    #[test]
    fn a_limit_hit_is_its_own_explanation() {
        assert_eq!(
            short_reason(
                ExecutionStatus::TimedOut,
                Some("time limit (5 s) exceeded"),
                Some("working…")
            )
            .as_deref(),
            Some("time limit (5 s) exceeded")
        );
    }

    #[test]
    fn runs_that_did_not_fail_need_no_reason_and_long_ones_are_cut() {
        assert_eq!(short_reason(ExecutionStatus::Succeeded, None, None), None);
        assert_eq!(
            short_reason(ExecutionStatus::Running, Some("x"), None),
            None
        );
        let long = "é".repeat(300);
        let short = short_reason(ExecutionStatus::Failed, Some(&long), None).unwrap();
        assert_eq!(short.chars().count(), 121);
        assert!(short.ends_with('…'));
    }
}
