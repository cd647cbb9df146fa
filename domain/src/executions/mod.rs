//! Executions: requested by a user, confirmed where the skill requires it, queued, claimed by a
//! worker, run by an executor in the sandbox, finished. Every state change is one update of the
//! execution in its tenant's schema plus an audit entry, in one transaction.
//!
//! Workers claim across tenants from `public.execution_queue` (ids and leases only) with
//! `FOR UPDATE SKIP LOCKED`, the tenant with the fewest running executions first, under a
//! per-tenant cap. A worker renews its lease while it runs; the reaper re-queues executions whose
//! lease ran out (bounded attempts, then `failed: worker lost`).
//!
//! While a worker runs one execution it reserves its next one (queue state `reserved`; still
//! `queued` in its tenant) and makes its work folder, so that the next script starts the moment
//! the current one ends; the transaction that records the end then marks the next one running.
//! A reservation the worker cannot use soon (see [`QueuePolicy::reserve_for`]) goes back to the
//! queue for any worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use engine::work::{hostname, prepare_work_dir, run_request};
use engine::{AssetKind, Executors, LogLine, Prepared, RunOutcome, RunStatus};
use model::{ExecutionFilter, ExecutionStatus, ExecutionSummary, ExecutionView, LOG_PAGE_LINES};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgListener;
use sqlx::PgConnection;
use tokio::sync::{mpsc, watch, Notify};

use crate::accounts::SignedIn;
use crate::audit::{self, AuditLog, Event};
use crate::blobs::{self, BlobStore};
use crate::db::{enter_schema, leave_schema, TenantSchema, TenantTx};
use crate::skills;
use crate::storage;
use crate::tenancy::Tenant;
use crate::{Actor, AppError, AppResult, Ctx};

mod failure;
mod invocation;
mod queue;
mod reads;
mod requests;
mod run;
mod uploads;
mod worker;

pub use queue::*;
pub use reads::*;
pub use requests::*;
pub use run::*;
pub use worker::*;

/// Wakes idle workers when something is queued.
const QUEUE_CHANNEL: &str = "execgov_execution_queue";
/// Attempts before an execution whose worker keeps dying is failed.
pub const MAX_ATTEMPTS: i32 = 3;

/// The canonical digest of an execution's inputs, for the audit trail.
fn inputs_digest(inputs: &Value) -> String {
    // serde_json keeps object keys sorted (no preserve_order feature), so this is canonical.
    hex::encode(Sha256::digest(inputs.to_string().as_bytes()))
}

/// The largest file one input may upload.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// The files of one request (a run, or a request to the assistant), at most.
pub const MAX_REQUEST_FILES_BYTES: usize = 2 * MAX_UPLOAD_BYTES;

/// A file a user uploaded for a file input.
#[derive(Clone, Debug)]
pub struct Upload {
    pub field: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// The name an upload is stored and shown to the script under: its base name, reduced to
/// letters, digits, `.`, `_`, `-`.
fn stored_name(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    match clean.trim_start_matches('.') {
        "" => "upload".to_string(),
        name => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_keep_a_safe_base_name() {
        assert_eq!(stored_name("sales.csv"), "sales.csv");
        assert_eq!(stored_name("../../etc/passwd"), "passwd");
        assert_eq!(stored_name("C:\\Users\\me\\my report.csv"), "my_report.csv");
        assert_eq!(stored_name(".bashrc"), "bashrc");
        assert_eq!(stored_name(""), "upload");
        assert_eq!(stored_name("..."), "upload");
    }

    #[test]
    fn the_inputs_digest_does_not_depend_on_key_order() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":"x"}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":"x","a":1}"#).unwrap();
        assert_eq!(inputs_digest(&a), inputs_digest(&b));
    }
}
