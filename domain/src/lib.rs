//! Server-side business logic, one module per concern. sqlx lives here and only here.

pub mod accounts;
pub mod audit;
pub mod caller;
pub mod db;
pub mod error;
pub mod executions;
pub mod executors;
pub mod seed;
pub mod skills;
pub mod tenancy;

pub use error::{AppError, AppResult};

use sqlx::PgPool;
use tenancy::HostDirectory;

/// What every domain call needs: the pool and the cached Host → binding directory.
#[derive(Clone)]
pub struct Ctx {
    pub pool: PgPool,
    pub hosts: HostDirectory,
}

impl Ctx {
    pub fn new(pool: PgPool) -> Ctx {
        Ctx {
            pool,
            hosts: HostDirectory::default(),
        }
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
    /// The platform itself (seeding, start-up tasks).
    pub fn system() -> Actor {
        Actor {
            name: "system".into(),
            meta: RequestMeta::default(),
        }
    }
}
