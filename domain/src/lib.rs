//! Server-side business logic, one module per concern. sqlx lives here and only here.

pub mod accounts;
pub mod agent_auth;
pub mod agents;
pub mod audit;
pub mod blobs;
pub mod brain;
pub mod caller;
pub mod dashboard;
pub mod db;
pub mod environments;
pub mod error;
pub mod executions;
pub mod hot_updates;
mod login_throttle;
pub mod secrets;
pub mod seed;
pub mod skills;
pub mod storage;
pub mod tenancy;
pub mod tokens;

pub use error::{AppError, AppResult};

use std::path::PathBuf;
use std::sync::Arc;

use executions::QueuePolicy;
use sqlx::PgPool;
use tenancy::HostDirectory;
use tokio::sync::Notify;

/// What every domain call needs: the pool, the cached Host → binding directory and the data
/// directory (managed script workspace, execution work dirs, artifacts).
#[derive(Clone)]
pub struct Ctx {
    pub pool: PgPool,
    pub hosts: HostDirectory,
    pub data_dir: PathBuf,
    /// Leases and fairness for everything that claims executions: workers and local agents.
    pub queue: QueuePolicy,
    /// Woken when an execution is queued (from the queue's LISTEN connection, once workers
    /// run), so that idle workers and agents' long polls look again at once.
    pub queue_wake: Arc<Notify>,
    /// Quotas, retention and sign-up limits unless a tenant has its own.
    pub storage: storage::StorageDefaults,
    /// How skills' Python packages are resolved and their environments built.
    pub packages: Arc<environments::PackagesConfig>,
    /// Seals and opens tenants' secrets (`secrets::unlock` at start); `None`: this process
    /// stores and hands out no secrets.
    pub master_key: Option<Arc<secrets::MasterKey>>,
}

impl Ctx {
    pub fn new(pool: PgPool, data_dir: PathBuf) -> Ctx {
        Ctx {
            pool,
            hosts: HostDirectory::default(),
            data_dir,
            queue: QueuePolicy::default(),
            queue_wake: Arc::new(Notify::new()),
            storage: storage::StorageDefaults::default(),
            packages: Arc::default(),
            master_key: None,
        }
    }

    pub fn with_master_key(self, key: secrets::MasterKey) -> Ctx {
        Ctx {
            master_key: Some(Arc::new(key)),
            ..self
        }
    }

    pub fn with_packages(self, packages: environments::PackagesConfig) -> Ctx {
        Ctx {
            packages: Arc::new(packages),
            ..self
        }
    }

    pub fn with_storage(self, storage: storage::StorageDefaults) -> Ctx {
        Ctx { storage, ..self }
    }

    pub fn with_queue_policy(self, queue: QueuePolicy) -> Ctx {
        Ctx { queue, ..self }
    }

    /// Where one tenant's immutable script folders live, one per content hash.
    pub fn assets_dir(&self, tenant_id: i64) -> PathBuf {
        self.data_dir.join("assets").join(tenant_id.to_string())
    }

    /// Where an execution's uploaded input files wait for its run.
    pub fn inputs_dir(&self, tenant_id: i64, execution_id: i64) -> PathBuf {
        self.data_dir
            .join("inputs")
            .join(tenant_id.to_string())
            .join(execution_id.to_string())
    }

    /// Where a running execution's private work directory is made.
    pub fn work_dir(&self, tenant_id: i64, execution_id: i64) -> PathBuf {
        self.data_dir
            .join("work")
            .join(tenant_id.to_string())
            .join(execution_id.to_string())
    }

    /// Where an execution's artifacts are kept for download.
    pub fn artifacts_dir(&self, tenant_id: i64, execution_id: i64) -> PathBuf {
        self.data_dir
            .join("artifacts")
            .join(tenant_id.to_string())
            .join(execution_id.to_string())
    }

    /// Makes the folders of tenants' files (scripts, uploads, work folders, artifacts) the
    /// server's alone (0700), creating them if needed: the files in them keep their usual modes,
    /// and no other local account (the sandbox uids included) can reach them. Sandboxes get
    /// their run's files and skill folder in folders of their own (`engine`'s `warm.rs`).
    pub fn make_tenant_folders_private(&self) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for name in ["assets", "inputs", "work", "artifacts"] {
            let dir = self.data_dir.join(name);
            std::fs::create_dir_all(&dir)?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
}

/// Where a request came from, for the audit trail and the login log.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Who is doing something, as the audit trail names them.
#[derive(Clone, Debug)]
pub struct Actor {
    pub name: String,
    pub meta: RequestMeta,
}

impl Actor {
    /// The platform itself (seeding, start-up tasks, the reaper).
    pub fn system() -> Actor {
        Actor {
            name: "system".into(),
            meta: RequestMeta::default(),
        }
    }

    /// An execution worker, named by its id.
    pub fn worker(worker_id: &str) -> Actor {
        Actor {
            name: format!("worker {worker_id}"),
            meta: RequestMeta::default(),
        }
    }
}
