//! Configuration from `EXECGOV_*` environment variables, each with a safe default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use domain::brain::openai::OpenAiConfig;
use domain::environments::{PackageIndex, PackagesConfig, SourceBuilds};
use domain::storage::StorageDefaults;
use engine::SandboxConfig;

use crate::client::{AddressRanges, TrustedProxies};

/// Where `scripts/lib.sh` (`ensure_uv`) installs uv, relative to the checkout.
const INSTALLED_UV: &str = "target/tools/uv-0.13.9/bin/uv";

/// How long the assistant waits for an OpenAI-compatible provider's answer.
const BRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// What one `execgov` process does; any number of each run against one database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Pages and the API; runs no executions.
    Web,
    /// Runs executions; serves only `/healthz` and `/metrics`.
    Worker,
    /// Both, as one process (a single machine).
    All,
}

impl Role {
    pub fn serves_pages(self) -> bool {
        self != Role::Worker
    }

    pub fn runs_executions(self) -> bool {
        self != Role::Web
    }
}

/// How log lines are written (`EXECGOV_LOG_FORMAT`): for people, or one JSON object per line
/// for log shippers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn from_env() -> anyhow::Result<LogFormat> {
        match std::env::var("EXECGOV_LOG_FORMAT")
            .ok()
            .as_deref()
            .map(str::trim)
        {
            None | Some("" | "text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => bail!("EXECGOV_LOG_FORMAT={other:?}: use text or json"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// `EXECGOV_ROLE` (the command line's `--role` wins over it); `All` by default.
    pub role: Role,
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
    /// How many executions of one tenant may run at once across all workers (fairness).
    pub tenant_cap: i64,
    /// How long a claimed execution (by a worker or a local agent) holds without a heartbeat.
    pub lease_seconds: u64,
    /// How long a busy worker may hold the execution it reserved to run next, in milliseconds;
    /// 0: workers do not reserve.
    pub reserve_ms: u64,
    /// How scripts are run: bubblewrap, interpreters, the uid pool.
    pub sandbox: SandboxConfig,
    /// The assistant's OpenAI-compatible provider; `None`: the embedded one (no network).
    pub brain: Option<OpenAiConfig>,
    /// Reverse proxies whose `Forwarded`/`X-Forwarded-*` headers are believed; none by default.
    pub trusted_proxies: TrustedProxies,
    /// Who may read `/metrics` (the client's address as the trusted proxies tell it); loopback
    /// by default.
    pub metrics_allow: AddressRanges,
    /// Whether the workers' transactions ask PostgreSQL for generic plans (see
    /// `QueuePolicy::generic_plans`); off for Citus, which cannot plan some of them so.
    pub generic_plans: bool,
    /// Quotas, retention and sign-up limits of tenants whose own a super-admin has not set.
    pub storage: StorageDefaults,
    /// How skills' Python packages are resolved and installed.
    pub packages: PackagesConfig,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let addr = var("EXECGOV_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
        let data_dir =
            PathBuf::from(var("EXECGOV_DATA_DIR").unwrap_or_else(|| "./.execgov".into()));
        let workers = number(var("EXECGOV_WORKERS"), "EXECGOV_WORKERS", 2)?;
        let sandbox = sandbox_config(&var, &data_dir, workers)?;
        let packages = packages_config(&var, &sandbox)?;
        Ok(Config {
            role: match var("EXECGOV_ROLE") {
                None => Role::All,
                Some(role) => clap::ValueEnum::from_str(&role, false).map_err(|_| {
                    anyhow::anyhow!("EXECGOV_ROLE={role:?}: use web, worker or all")
                })?,
            },
            database_url: var("DATABASE_URL"),
            addr: addr.parse().with_context(|| {
                format!("EXECGOV_ADDR={addr:?} is not an address like 127.0.0.1:3000")
            })?,
            seed_password: var("EXECGOV_SEED_PASSWORD"),
            site_root: PathBuf::from(
                var("EXECGOV_SITE_ROOT").unwrap_or_else(|| "target/site".into()),
            ),
            postgres_bin: var("EXECGOV_POSTGRES_BIN").map(PathBuf::from),
            workers,
            tenant_cap: match number(
                var("EXECGOV_TENANT_CAP"),
                "EXECGOV_TENANT_CAP",
                domain::executions::QueuePolicy::default().per_tenant_cap,
            )? {
                n @ 1..=10_000 => n,
                n => bail!("EXECGOV_TENANT_CAP={n}: use 1 to 10000 executions"),
            },
            lease_seconds: match number(var("EXECGOV_LEASE_SECONDS"), "EXECGOV_LEASE_SECONDS", 30)?
            {
                n @ 3..=3600 => n,
                n => bail!("EXECGOV_LEASE_SECONDS={n}: use 3 to 3600 seconds"),
            },
            reserve_ms: match number(var("EXECGOV_RESERVE_MS"), "EXECGOV_RESERVE_MS", 500)? {
                n @ 0..=10_000 => n,
                n => bail!("EXECGOV_RESERVE_MS={n}: use 0 (no reservations) to 10000 ms"),
            },
            brain: match (var("EXECGOV_BRAIN_URL"), var("EXECGOV_BRAIN_MODEL")) {
                (None, _) => None,
                (Some(_), None) => {
                    bail!(
                        "EXECGOV_BRAIN_URL is set: EXECGOV_BRAIN_MODEL must name the model to ask"
                    )
                }
                (Some(base_url), Some(model)) => Some(OpenAiConfig {
                    base_url,
                    model,
                    api_key: var("EXECGOV_BRAIN_KEY"),
                    timeout: BRAIN_TIMEOUT,
                }),
            },
            trusted_proxies: var("EXECGOV_TRUSTED_PROXIES")
                .unwrap_or_default()
                .parse()
                .map_err(|e| anyhow::anyhow!("EXECGOV_TRUSTED_PROXIES: {e}"))?,
            metrics_allow: var("EXECGOV_METRICS_ALLOW")
                .unwrap_or_else(|| "127.0.0.1, ::1".into())
                .parse()
                .map_err(|e| anyhow::anyhow!("EXECGOV_METRICS_ALLOW: {e}"))?,
            generic_plans: match var("EXECGOV_GENERIC_PLANS").as_deref() {
                None | Some("on") => true,
                Some("off") => false,
                Some(other) => bail!("EXECGOV_GENERIC_PLANS={other:?}: use on or off"),
            },
            storage: storage_defaults(&var)?,
            sandbox,
            packages,
            data_dir,
        })
    }
}

/// `EXECGOV_SANDBOX`, `EXECGOV_PYTHON`, `EXECGOV_SANDBOX_FIRST_UID`.
fn sandbox_config(
    var: &dyn Fn(&str) -> Option<String>,
    data_dir: &std::path::Path,
    workers: usize,
) -> anyhow::Result<SandboxConfig> {
    let defaults = SandboxConfig::default();
    Ok(SandboxConfig {
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
        // Two sandboxes ready per worker, beside the work folders: the one a run takes has had
        // a whole run to set up.
        warm_dir: Some(data_dir.join("sandboxes")),
        warm: 2 * workers,
        ..defaults
    })
}

/// `EXECGOV_UV`, `EXECGOV_PYTHON_INDEX_URL`, `EXECGOV_PYTHON_WHEELHOUSE`,
/// `EXECGOV_PYTHON_ALLOW_BUILDS`. Installers run as the uid just past the sandbox's pool (root
/// servers), builds from source as the next.
fn packages_config(
    var: &dyn Fn(&str) -> Option<String>,
    sandbox: &SandboxConfig,
) -> anyhow::Result<PackagesConfig> {
    let defaults = PackagesConfig::default();
    let index = match (
        var("EXECGOV_PYTHON_INDEX_URL"),
        var("EXECGOV_PYTHON_WHEELHOUSE"),
    ) {
        (Some(_), Some(_)) => bail!(
            "EXECGOV_PYTHON_INDEX_URL and EXECGOV_PYTHON_WHEELHOUSE are both set: packages come \
             from one of them"
        ),
        (Some(url), None) => PackageIndex::Url(url),
        (None, Some(dir)) => {
            let dir = std::fs::canonicalize(&dir)
                .with_context(|| format!("EXECGOV_PYTHON_WHEELHOUSE={dir:?} is not a folder"))?;
            PackageIndex::Wheelhouse(dir)
        }
        (None, None) => PackageIndex::Default,
    };
    let uv = match var("EXECGOV_UV") {
        Some(path) => Some(
            std::fs::canonicalize(&path)
                .with_context(|| format!("EXECGOV_UV={path:?}: no such file"))?,
        ),
        // Where scripts/lib.sh installs the pinned uv (like the site root, from the checkout).
        None => std::fs::canonicalize(INSTALLED_UV).ok().or(defaults.uv),
    };
    let build_uid = defaults
        .build_uid
        .and_then(|_| sandbox.first_uid.checked_add(sandbox.uid_slots));
    let source_builds = match var("EXECGOV_PYTHON_ALLOW_BUILDS").as_deref() {
        None | Some("0") => None,
        Some("1") if !matches!(index, PackageIndex::Wheelhouse(_)) || uv.is_none() => bail!(
            "EXECGOV_PYTHON_ALLOW_BUILDS=1 builds sources without network, from an offline \
             wheelhouse with uv: set EXECGOV_PYTHON_WHEELHOUSE (the sdists and their build \
             backends' wheels) and install uv"
        ),
        Some("1") => Some(SourceBuilds {
            uid: build_uid.and_then(|uid| uid.checked_add(1)),
        }),
        Some(other) => bail!(
            "EXECGOV_PYTHON_ALLOW_BUILDS={other:?}: use 1 (build packages published only as \
             source) or 0"
        ),
    };
    Ok(PackagesConfig {
        uv,
        python: sandbox.python.clone(),
        index,
        bwrap: sandbox.enabled.then(|| sandbox.bwrap.clone()),
        build_uid,
        source_builds,
        ..defaults
    })
}

/// `EXECGOV_TENANT_QUOTA_MIB`, `EXECGOV_USER_QUOTA_MIB`, `EXECGOV_RETENTION_DAYS`,
/// `EXECGOV_SIGNUPS_PER_ADDRESS`, `EXECGOV_SIGNUPS_PER_HOUR`.
fn storage_defaults(var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<StorageDefaults> {
    const MIB: i64 = 1024 * 1024;
    let d = StorageDefaults::default();
    let ranged = |name: &str, default: i64, max: i64| -> anyhow::Result<i64> {
        match number(var(name), name, default)? {
            n @ 0.. if n <= max => Ok(n),
            n => bail!("{name}={n}: use 0 to {max}"),
        }
    };
    let max_mib = 1024 * 1024 * 1024;
    Ok(StorageDefaults {
        tenant_quota: ranged("EXECGOV_TENANT_QUOTA_MIB", d.tenant_quota / MIB, max_mib)? * MIB,
        user_quota: ranged("EXECGOV_USER_QUOTA_MIB", d.user_quota / MIB, max_mib)? * MIB,
        retention_days: match ranged("EXECGOV_RETENTION_DAYS", d.retention_days.into(), 36500)? {
            0 => bail!("EXECGOV_RETENTION_DAYS=0: keep run files at least 1 day"),
            n => n as i32,
        },
        signups_per_address: ranged(
            "EXECGOV_SIGNUPS_PER_ADDRESS",
            d.signups_per_address,
            1_000_000,
        )?,
        signups_per_hour: ranged("EXECGOV_SIGNUPS_PER_HOUR", d.signups_per_hour, 1_000_000)?,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn storage_limits_come_in_mib_days_and_counts() {
        assert_eq!(
            storage_defaults(&env(&[])).unwrap(),
            StorageDefaults::default()
        );
        let set = storage_defaults(&env(&[
            ("EXECGOV_TENANT_QUOTA_MIB", "2048"),
            ("EXECGOV_USER_QUOTA_MIB", "0"),
            ("EXECGOV_RETENTION_DAYS", "7"),
            ("EXECGOV_SIGNUPS_PER_ADDRESS", "3"),
            ("EXECGOV_SIGNUPS_PER_HOUR", "50"),
        ]))
        .unwrap();
        assert_eq!(
            set,
            StorageDefaults {
                tenant_quota: 2048 * 1024 * 1024,
                user_quota: 0,
                retention_days: 7,
                signups_per_address: 3,
                signups_per_hour: 50,
            }
        );
        for bad in [
            ("EXECGOV_RETENTION_DAYS", "0"),
            ("EXECGOV_RETENTION_DAYS", "36501"),
            ("EXECGOV_USER_QUOTA_MIB", "-1"),
            ("EXECGOV_SIGNUPS_PER_HOUR", "many"),
        ] {
            assert!(storage_defaults(&env(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn packages_come_from_one_index_and_a_named_uv_must_exist() {
        let sandbox = SandboxConfig {
            first_uid: 70000,
            ..SandboxConfig::default()
        };
        let url = "https://pypi.example/simple";
        let set = packages_config(&env(&[("EXECGOV_PYTHON_INDEX_URL", url)]), &sandbox).unwrap();
        assert_eq!(set.index, PackageIndex::Url(url.into()));
        assert_eq!(set.python, sandbox.python);
        if nix::unistd::geteuid().is_root() {
            assert_eq!(
                set.build_uid,
                Some(70064),
                "the uid after the sandbox's pool"
            );
        }
        let dir = std::env::temp_dir();
        let set = packages_config(
            &env(&[("EXECGOV_PYTHON_WHEELHOUSE", dir.to_str().unwrap())]),
            &sandbox,
        )
        .unwrap();
        assert_eq!(
            set.index,
            PackageIndex::Wheelhouse(dir.canonicalize().unwrap())
        );
        for bad in [
            &[
                ("EXECGOV_PYTHON_INDEX_URL", url),
                ("EXECGOV_PYTHON_WHEELHOUSE", "/tmp"),
            ][..],
            &[("EXECGOV_PYTHON_WHEELHOUSE", "/no/such/wheelhouse")],
            &[("EXECGOV_UV", "/no/such/uv")],
        ] {
            assert!(packages_config(&env(bad), &sandbox).is_err(), "{bad:?}");
        }
        let off = SandboxConfig {
            enabled: false,
            ..SandboxConfig::default()
        };
        assert_eq!(packages_config(&env(&[]), &off).unwrap().bwrap, None);
    }

    #[test]
    fn builds_from_source_are_off_unless_allowed_with_a_wheelhouse_and_uv() {
        let sandbox = SandboxConfig {
            first_uid: 70000,
            ..SandboxConfig::default()
        };
        let dir = std::env::temp_dir();
        let wheelhouse = ("EXECGOV_PYTHON_WHEELHOUSE", dir.to_str().unwrap());
        // Any existing file stands for uv here: only its presence is checked.
        let uv = ("EXECGOV_UV", "/bin/sh");
        let builds = |vars: &[(&str, &str)]| packages_config(&env(vars), &sandbox);
        assert_eq!(builds(&[wheelhouse, uv]).unwrap().source_builds, None);
        let off = ("EXECGOV_PYTHON_ALLOW_BUILDS", "0");
        assert_eq!(builds(&[wheelhouse, uv, off]).unwrap().source_builds, None);
        let on = ("EXECGOV_PYTHON_ALLOW_BUILDS", "1");
        let set = builds(&[wheelhouse, uv, on]).unwrap();
        let root = nix::unistd::geteuid().is_root();
        assert_eq!(
            set.source_builds,
            Some(SourceBuilds {
                uid: root.then_some(70065)
            }),
            "the uid after the installer's"
        );
        assert!(set.describe().contains("only as source are built"));
        for bad in [
            &[uv, on][..],
            &[wheelhouse, uv, ("EXECGOV_PYTHON_ALLOW_BUILDS", "yes")],
        ] {
            assert!(builds(bad).is_err(), "{bad:?}");
        }
    }
}
