//! What a tenant stores, as the public console shows it.

use serde::{Deserialize, Serialize};

/// Bytes stored, by kind. Quotas count attachments, uploads, artifacts and submissions; logs are
/// bounded per run (1 MiB per stream) and by retention, and only shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageUse {
    /// Files attached to assistant conversations.
    pub attachments: i64,
    /// Files uploaded to runs.
    pub uploads: i64,
    /// Files runs handed back.
    pub artifacts: i64,
    /// Files of hot-update submissions.
    pub submissions: i64,
    /// Log lines of runs.
    pub logs: i64,
}

impl StorageUse {
    /// What counts against a quota.
    pub fn counted(&self) -> i64 {
        self.attachments + self.uploads + self.artifacts + self.submissions
    }
}

/// One tenant's storage: its use and the limits in force (its own or the server's defaults).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantStorage {
    pub tenant_id: i64,
    pub tenant_name: String,
    pub usage: StorageUse,
    pub tenant_quota: i64,
    pub user_quota: i64,
    pub retention_days: i32,
    /// Whether a super-admin set any of the limits for this tenant.
    pub custom: bool,
}

/// Bytes in binary units, e.g. `0 B`, `512 B`, `1.5 KiB`, `20.0 MiB`, `10.0 GiB`.
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes.abs() < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for next in UNITS {
        if value.abs() < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(20 * 1024 * 1024), "20.0 MiB");
        assert_eq!(human_bytes(10 * 1024 * 1024 * 1024), "10.0 GiB");
    }

    #[test]
    fn quotas_count_files_not_logs() {
        let usage = StorageUse {
            attachments: 1,
            uploads: 2,
            artifacts: 3,
            submissions: 4,
            logs: 100,
        };
        assert_eq!(usage.counted(), 10);
    }
}
