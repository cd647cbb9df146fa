//! Configuration from `EXECGOV_*` environment variables, each with a safe default.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use domain::executors::SandboxConfig;

#[derive(Clone, Debug)]
pub struct Config {
    /// An existing database to use; `None` starts the private cluster under `data_dir`.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    /// The password of every seeded demo account; `None` generates one per account.
    pub seed_password: Option<String>,
    /// Where the browser bundle (`pkg/`) and static files were built.
    pub site_root: PathBuf,
    /// Directory of `initdb`/`pg_ctl`; `None` searches the usual places.
    pub postgres_bin: Option<PathBuf>,
    /// Execution workers in this process.
    pub workers: usize,
    /// How scripts are run: bubblewrap, interpreters, the uid pool.
    pub sandbox: SandboxConfig,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let addr = var("EXECGOV_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
        Ok(Config {
            database_url: var("DATABASE_URL"),
            data_dir: PathBuf::from(var("EXECGOV_DATA_DIR").unwrap_or_else(|| "./.execgov".into())),
            addr: addr.parse().with_context(|| {
                format!("EXECGOV_ADDR={addr:?} is not an address like 127.0.0.1:3000")
            })?,
            seed_password: var("EXECGOV_SEED_PASSWORD"),
            site_root: PathBuf::from(
                var("EXECGOV_SITE_ROOT").unwrap_or_else(|| "target/site".into()),
            ),
            postgres_bin: var("EXECGOV_POSTGRES_BIN").map(PathBuf::from),
            workers: number(var("EXECGOV_WORKERS"), "EXECGOV_WORKERS", 2)?,
            sandbox: {
                let defaults = SandboxConfig::default();
                SandboxConfig {
                    enabled: match var("EXECGOV_SANDBOX").as_deref() {
                        None | Some("on") => true,
                        Some("off") => false,
                        Some(other) => bail!("EXECGOV_SANDBOX={other:?}: use on or off"),
                    },
                    python: var("EXECGOV_PYTHON")
                        .map(PathBuf::from)
                        .unwrap_or(defaults.python),
                    first_uid: number(
                        var("EXECGOV_SANDBOX_FIRST_UID"),
                        "EXECGOV_SANDBOX_FIRST_UID",
                        defaults.first_uid,
                    )?,
                    ..defaults
                }
            },
        })
    }
}

fn number<T: std::str::FromStr>(
    value: Option<String>,
    name: &str,
    default: T,
) -> anyhow::Result<T> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={v:?} is not a number")),
    }
}
