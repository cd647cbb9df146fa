//! Python environments: the packages a skill declares (`requirements.txt` or main.py's PEP 723
//! block), resolved at submission into a lock (exact versions and hashes for this machine's
//! Python), and built once per lock after approval into
//! `<data dir>/environments/<lock sha256>/`, a virtual environment shared by every skill version
//! with that lock, in any tenant.
//!
//! - Resolution and installation use uv (pinned by `scripts/lib.sh`); without it, `pip` of the
//!   platform's Python does both (`pip install --dry-run --report` resolves, `pip install
//!   --target` installs), from the same lock.
//! - Nothing a package ships is executed: wheels only (`--only-binary :all:`), every file checked
//!   against the lock's hashes (`--require-hashes`, `--no-deps`), unpacked by the installer in a
//!   bubblewrap sandbox of its own ([`sandbox`]) as an unprivileged uid that can write only the
//!   new environment and the installers' cache. The installer may reach the index (network); an
//!   offline wheelhouse replaces it when configured.
//! - An environment is built under a temporary name and renamed into place when complete and
//!   sealed (owned by the server, read-only to everyone else), so a folder with a lock's name is
//!   always whole; a failed build leaves nothing.
//! - Environments no live, queued or pending version uses are removed by the hourly cleanup
//!   ([`collect_unused`]); one removed and needed again (a roll-back) is rebuilt before its run.
//! - A package published only as source is refused, unless the platform allows builds
//!   (`EXECGOV_PYTHON_ALLOW_BUILDS=1`): then it is built into a wheel in a sandbox of its own,
//!   without network, from the wheelhouse's sdist checked against the lock ([`sources`]).

pub mod lock;
pub use model::requirements;
mod sandbox;
mod sources;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng;
use sqlx::PgConnection;

pub use lock::Lock;
pub use requirements::Declared;

use crate::skills::manifest::ScriptFolder;
use crate::{tenancy, AppResult, Ctx};

/// The largest environment kept: a bigger one fails its build.
pub const MAX_ENVIRONMENT_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// How long a resolution or a build may take.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

/// Where packages come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackageIndex {
    /// What the machine's ordinary pip/uv configuration says (PyPI unless configured).
    Default,
    /// `EXECGOV_PYTHON_INDEX_URL`: a PEP 503 simple index.
    Url(String),
    /// `EXECGOV_PYTHON_WHEELHOUSE`: a folder of wheels, offline (`--no-index --find-links`).
    Wheelhouse(PathBuf),
}

/// How environments are resolved and built; from the server's configuration.
#[derive(Clone, Debug)]
pub struct PackagesConfig {
    /// The uv binary; `None`: `python -m pip` does the work.
    pub uv: Option<PathBuf>,
    /// The interpreter environments are made for (the one that runs `main.py`).
    pub python: PathBuf,
    pub index: PackageIndex,
    /// bubblewrap for the installer's sandbox; `None` (sandbox off, development only): the
    /// installer runs directly.
    pub bwrap: Option<PathBuf>,
    /// The uid the installer runs as on a root server (gid = uid); `None`: the server's own.
    pub build_uid: Option<u32>,
    pub timeout: Duration,
    pub size_cap: u64,
    /// `EXECGOV_PYTHON_ALLOW_BUILDS=1`: packages published only as source are built into
    /// wheels, as this says; `None` (the default): they are refused.
    pub source_builds: Option<SourceBuilds>,
}

/// How packages published only as source are built (see [`sources`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceBuilds {
    /// The uid builds run as on a root server (gid = uid): neither the installer's nor a run's;
    /// `None`: the server's own.
    pub uid: Option<u32>,
}

impl Default for PackagesConfig {
    fn default() -> Self {
        PackagesConfig {
            uv: find_on_path("uv"),
            python: "/usr/bin/python3".into(),
            index: PackageIndex::Default,
            bwrap: Some("/usr/bin/bwrap".into()),
            build_uid: nix::unistd::geteuid().is_root().then_some(61064),
            timeout: BUILD_TIMEOUT,
            size_cap: MAX_ENVIRONMENT_BYTES,
            source_builds: None,
        }
    }
}

impl PackagesConfig {
    /// What the start-up log says about packages.
    pub fn describe(&self) -> String {
        let tool = match &self.uv {
            Some(uv) => format!("uv ({})", uv.display()),
            None => format!(
                "uv not found: falling back to {} -m venv and pip",
                self.python.display()
            ),
        };
        let index = match &self.index {
            PackageIndex::Default => "the machine's pip/uv configuration".to_string(),
            PackageIndex::Url(url) => format!("index {url}"),
            PackageIndex::Wheelhouse(dir) => format!("wheelhouse {} (offline)", dir.display()),
        };
        let sources = match &self.source_builds {
            None => "packages published only as source are refused \
                     (EXECGOV_PYTHON_ALLOW_BUILDS=1 builds them)"
                .to_string(),
            Some(builds) => format!(
                "packages published only as source are built from the wheelhouse's sdists, \
                 without network, as uid {} (EXECGOV_PYTHON_ALLOW_BUILDS=1)",
                builds
                    .uid
                    .unwrap_or_else(|| nix::unistd::geteuid().as_raw())
            ),
        };
        format!("Python packages: {tool}, from {index}; {sources}")
    }
}

/// `name` found in a folder of `PATH`, if any.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| engine::is_executable(p))
}

/// Where environments live.
pub fn environments_dir(ctx: &Ctx) -> PathBuf {
    ctx.data_dir.join("environments")
}

/// The environment of a lock (whether built or not). `hash` must be a lock hash.
pub fn environment_dir(ctx: &Ctx, hash: &str) -> PathBuf {
    debug_assert!(lock::is_lock_hash(hash));
    environments_dir(ctx).join(hash)
}

/// The packages a script folder declares, resolved into a lock; `Ok(None)` when it declares
/// none. Every refusal (a bad line, no wheel for this Python, a resolver failure) is a message
/// for the submitter.
pub async fn lock_for_folder(
    ctx: &Ctx,
    files: &[(String, Vec<u8>)],
) -> Result<Option<(Declared, Lock)>, String> {
    let Some(declared) = requirements::declared(files)? else {
        return Ok(None);
    };
    let lock = resolve(ctx, &declared).await?;
    Ok(Some((declared, lock)))
}

/// Resolves declared requirements into a lock for the platform's Python.
pub async fn resolve(ctx: &Ctx, declared: &Declared) -> Result<Lock, String> {
    let cfg = &ctx.packages;
    let version = python_version(&cfg.python).await?;
    if let Some(spec) = &declared.requires_python {
        if !requirements::python_satisfies(&version, spec)? {
            return Err(format!(
                "main.py requires Python {spec}; the platform runs Python {version}"
            ));
        }
    }
    let job = Job::new(ctx, "resolve").await?;
    let resolved = resolve_in(ctx, &job, declared, &version).await;
    job.remove().await;
    let text = resolved?;
    if lock::packages(&text).is_empty() {
        return Err("the resolver returned no packages".into());
    }
    Ok(Lock::new(text))
}

/// The lock's text, resolved in `job`'s folder.
async fn resolve_in(
    ctx: &Ctx,
    job: &Job,
    declared: &Declared,
    version: &str,
) -> Result<String, String> {
    let cfg = &ctx.packages;
    let write = async {
        tokio::fs::write(job.dir.join("requirements.in"), declared.requirements_in()).await?;
        job.open_to_installer()
    };
    write.await.map_err(internal)?;
    Ok(match &cfg.uv {
        Some(_) => {
            let mut args: Vec<String> = [
                "pip",
                "compile",
                "/job/requirements.in",
                "--generate-hashes",
                "--only-binary",
                ":all:",
                "--no-header",
                "--no-annotate",
                "--quiet",
                "--cache-dir",
                sandbox::CACHE,
                "--python",
            ]
            .map(String::from)
            .to_vec();
            args.push(cfg.python.to_string_lossy().into_owned());
            args.extend(index_args(&cfg.index, true));
            match sandbox::run(ctx, &job.dir, None, Tool::Uv, &args).await {
                Ok(out) => String::from_utf8_lossy(&out).into_owned(),
                // Wheels first; only what has none is built, and only when allowed.
                Err(_) if cfg.source_builds.is_some() => {
                    sources::resolve(ctx, job).await.map_err(|e| {
                        format!(
                            "the declared packages could not be resolved for Python {version} \
                             on this platform, from wheels or from source: {e}"
                        )
                    })?
                }
                Err(e) => return Err(unresolved(version, e)),
            }
        }
        None => {
            let mut args: Vec<String> = [
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--ignore-installed",
                "--only-binary",
                ":all:",
                "--quiet",
                "--disable-pip-version-check",
                "--report",
                "/env/report.json",
                "-r",
                "/job/requirements.in",
            ]
            .map(String::from)
            .to_vec();
            args.extend(index_args(&cfg.index, false));
            // The report is the installer's only output: in a folder it may write.
            let out = job.dir.join("out");
            let prepare = async {
                tokio::fs::create_dir(&out).await?;
                job.give_to_installer(&out)
            };
            prepare.await.map_err(internal)?;
            sandbox::run(ctx, &job.dir, Some(&out), Tool::Python, &args)
                .await
                .map_err(|e| unresolved(version, e))?;
            let report = tokio::fs::read(out.join("report.json"))
                .await
                .map_err(internal)?;
            lock_from_pip_report(&report)?
        }
    })
}

/// A resolver's refusal, for the submitter.
fn unresolved(python: &str, why: String) -> String {
    format!(
        "the declared packages could not be resolved into wheels for Python {python} on this \
         platform (packages published only as source are refused: nothing is built from \
         source): {why}"
    )
}

/// A lock in the resolver's `requirements.txt` form from pip's `--report` (one hash per
/// package: the wheel chosen for this machine).
fn lock_from_pip_report(report: &[u8]) -> Result<String, String> {
    let report: serde_json::Value =
        serde_json::from_slice(report).map_err(|e| format!("pip's report: {e}"))?;
    let mut pins = Vec::new();
    for item in report["install"].as_array().into_iter().flatten() {
        let name = item["metadata"]["name"].as_str().unwrap_or_default();
        let version = item["metadata"]["version"].as_str().unwrap_or_default();
        // `hashes` from pip 23.1 on; before, one `hash` as `sha256=…`.
        let archive = &item["download_info"]["archive_info"];
        let hash = archive["hashes"]["sha256"]
            .as_str()
            .or_else(|| archive["hash"].as_str()?.strip_prefix("sha256="))
            .unwrap_or_default();
        if name.is_empty() || version.is_empty() || hash.is_empty() {
            return Err(format!(
                "pip's report lacks a name, version or hash: {item}"
            ));
        }
        pins.push(format!(
            "{}=={version} \\\n    --hash=sha256:{hash}\n",
            requirements::normalize(name)
        ));
    }
    pins.sort();
    Ok(pins.concat())
}

/// `--no-index --find-links` / `--index-url` for the configured index.
fn index_args(index: &PackageIndex, uv: bool) -> Vec<String> {
    match index {
        PackageIndex::Default => Vec::new(),
        PackageIndex::Url(url) => vec![
            if uv { "--default-index" } else { "--index-url" }.into(),
            url.clone(),
        ],
        PackageIndex::Wheelhouse(_) => vec![
            "--no-index".into(),
            "--find-links".into(),
            sandbox::WHEELHOUSE.into(),
        ],
    }
}

/// The platform Python's version, e.g. `3.11.2`.
async fn python_version(python: &Path) -> Result<String, String> {
    let out = tokio::process::Command::new(python)
        .args([
            "-I",
            "-c",
            "import platform; print(platform.python_version())",
        ])
        .output()
        .await
        .map_err(|e| format!("{} could not be started: {e}", python.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Which program the installer's sandbox starts.
#[derive(Clone, Copy, Debug)]
enum Tool {
    Uv,
    Python,
}

/// The environment of `lock`, built if it is not there yet. Two builds of one lock at once
/// both work, and the first to finish is kept.
pub async fn ensure_built(ctx: &Ctx, lock: &Lock) -> Result<PathBuf, String> {
    let target = environment_dir(ctx, &lock.hash);
    if tokio::fs::try_exists(target.join("pyvenv.cfg"))
        .await
        .unwrap_or(false)
    {
        return Ok(target);
    }
    let started = std::time::Instant::now();
    let job = Job::new(ctx, "build").await?;
    let built = build_in(ctx, &job, lock).await;
    let placed = match built {
        Ok(()) => place(&job.dir.join("env"), &target).await,
        Err(e) => Err(e),
    };
    job.remove().await;
    placed?;
    tracing::info!(
        lock = lock.hash,
        seconds = started.elapsed().as_secs_f64(),
        "Python environment built"
    );
    Ok(target)
}

/// The environment of a run's skill version (its lock's text). Built at approval, it is missing
/// only when collected since (a roll-back to an old version): then built again if `may_build`
/// (the run's own turn), never for a run merely reserved ahead.
pub async fn for_run(ctx: &Ctx, lock_text: &str, may_build: bool) -> anyhow::Result<PathBuf> {
    let lock = Lock::new(lock_text.to_string());
    let dir = environment_dir(ctx, &lock.hash);
    if !may_build && !dir.join("pyvenv.cfg").exists() {
        anyhow::bail!("the Python environment {} is not built yet", lock.hash);
    }
    ensure_built(ctx, &lock)
        .await
        .map_err(|e| anyhow::anyhow!("the Python environment could not be built: {e}"))
}

async fn build_in(ctx: &Ctx, job: &Job, lock: &Lock) -> Result<(), String> {
    let cfg = &ctx.packages;
    let env = job.dir.join("env");
    // Sources first: a build that fails ends the job before anything is installed.
    let built = sources::build_wheels(ctx, job, &lock.text).await?;
    let prepare = async {
        tokio::fs::write(job.dir.join("lock.txt"), lock::wheels_only(&lock.text)).await?;
        tokio::fs::create_dir(&env).await?;
        job.open_to_installer()?;
        job.give_to_installer(&env)
    };
    prepare.await.map_err(internal)?;
    let python = cfg.python.to_string_lossy().into_owned();
    let strings = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<String>>();
    match &cfg.uv {
        Some(_) => {
            let venv = strings(&[
                "venv",
                "--quiet",
                "--no-python-downloads",
                // `/env` is the (empty) mount point of the new folder.
                "--allow-existing",
                "--python",
                &python,
                sandbox::ENV,
            ]);
            sandbox::run(ctx, &job.dir, Some(&env), Tool::Uv, &venv).await?;
            let mut install = strings(&[
                "pip",
                "install",
                "--quiet",
                "--python",
                "/env/bin/python",
                "--require-hashes",
                "--no-deps",
                "--only-binary",
                ":all:",
                // Copies, not links into the cache: the environment shares no inode with it.
                "--link-mode",
                "copy",
                // The environment is read-only at run time: byte code compiled now, or every
                // run compiles it again.
                "--compile-bytecode",
                "--cache-dir",
                sandbox::CACHE,
                "-r",
                "/job/lock.txt",
            ]);
            install.extend(index_args(&cfg.index, true));
            sandbox::run(ctx, &job.dir, Some(&env), Tool::Uv, &install).await?;
            if !built.is_empty() {
                // The wheels built from checked sources, like any other, but without the shared
                // cache: nothing built from source is ever kept in it.
                let mut install = strings(&[
                    "pip",
                    "install",
                    "--quiet",
                    "--python",
                    "/env/bin/python",
                    "--no-deps",
                    "--offline",
                    "--no-index",
                    "--no-cache",
                    "--link-mode",
                    "copy",
                    "--compile-bytecode",
                ]);
                install.extend(built);
                sandbox::run(ctx, &job.dir, Some(&env), Tool::Uv, &install).await?;
            }
        }
        None => {
            let venv = strings(&["-m", "venv", "--without-pip", sandbox::ENV]);
            sandbox::run(ctx, &job.dir, Some(&env), Tool::Python, &venv).await?;
            let site = site_packages(&env).await?;
            let mut install = strings(&[
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--target",
                &format!("/env/{site}"),
                "-r",
                "/job/lock.txt",
            ]);
            install.extend(index_args(&cfg.index, false));
            sandbox::run(ctx, &job.dir, Some(&env), Tool::Python, &install).await?;
        }
    }
    let size = tokio::task::spawn_blocking({
        let env = env.clone();
        move || seal(&env)
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    if size > cfg.size_cap {
        return Err(format!(
            "the environment takes {} MiB, more than the {} MiB allowed",
            size / (1024 * 1024),
            cfg.size_cap / (1024 * 1024)
        ));
    }
    Ok(())
}

/// `lib/python3.X/site-packages` of a fresh venv, relative to it.
async fn site_packages(env: &Path) -> Result<String, String> {
    let mut rd = tokio::fs::read_dir(env.join("lib"))
        .await
        .map_err(internal)?;
    while let Some(entry) = rd.next_entry().await.map_err(internal)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("python3") {
            return Ok(format!("lib/{name}/site-packages"));
        }
    }
    Err("the new virtual environment has no lib/python3.X folder".into())
}

/// Gives a built environment to the server's own uid, readable and never writable by others
/// (no set-id bits): the installer's uid can no longer change it. Returns its size in bytes.
fn seal(root: &Path) -> std::io::Result<u64> {
    let (uid, gid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let mut size = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
        if meta.file_type().is_symlink() {
            continue;
        }
        size += meta.len();
        let mode = if meta.is_dir() || meta.mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
    }
    Ok(size)
}

/// Bytes under `root` so far, while an installer writes there: entries that vanish meanwhile
/// (its temporary files) are skipped.
fn size_of(root: &Path) -> u64 {
    let mut size = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        size += meta.len();
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    size
}

/// Renames a complete environment into place; if another build placed the same lock first,
/// that one is kept.
async fn place(built: &Path, target: &Path) -> Result<(), String> {
    match tokio::fs::rename(built, target).await {
        Ok(()) => Ok(()),
        Err(_)
            if tokio::fs::try_exists(target.join("pyvenv.cfg"))
                .await
                .unwrap_or(false) =>
        {
            Ok(())
        }
        Err(e) => Err(internal(e)),
    }
}

/// A resolution's or build's own folder under `environments/` (`.resolve-…`, `.build-…`),
/// removed when it is done, whatever happened.
struct Job {
    dir: PathBuf,
    owner: Option<u32>,
}

impl Job {
    async fn new(ctx: &Ctx, what: &str) -> Result<Job, String> {
        let root = environments_dir(ctx);
        let cache = root.join(sandbox::CACHE_DIR);
        let dir = root.join(format!(".{what}-{:016x}", rand::thread_rng().gen::<u64>()));
        let owner = ctx.packages.build_uid;
        let make = || -> std::io::Result<()> {
            // The data directory is traversable by the sandbox uids (0711); environments are
            // readable by all (public packages only).
            std::fs::create_dir_all(&root)?;
            std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))?;
            // A cache another uid filled (the sandbox's uids were moved) is set aside whole:
            // the new installer uid could not write into it. The cleanup removes it.
            let installer = owner.unwrap_or_else(|| nix::unistd::geteuid().as_raw());
            if std::fs::metadata(&cache).is_ok_and(|m| m.uid() != installer) {
                std::fs::rename(
                    &cache,
                    root.join(format!(
                        ".trash-cache-{:016x}",
                        rand::thread_rng().gen::<u64>()
                    )),
                )?;
            }
            std::fs::create_dir_all(&cache)?;
            std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700))?;
            if let Some(uid) = owner {
                std::os::unix::fs::chown(&cache, Some(uid), Some(uid))?;
            }
            std::fs::create_dir(&dir)?;
            Ok(())
        };
        make().map_err(internal)?;
        Ok(Job { dir, owner })
    }

    /// The job's folder and files readable by the installer's uid.
    fn open_to_installer(&self) -> std::io::Result<()> {
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o755))?;
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.is_file() {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
            }
        }
        Ok(())
    }

    /// `dir` writable by the installer's uid only.
    fn give_to_installer(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        if let Some(uid) = self.owner {
            std::os::unix::fs::chown(dir, Some(uid), Some(uid))?;
        }
        Ok(())
    }

    async fn remove(self) {
        if let Err(e) = tokio::fs::remove_dir_all(&self.dir).await {
            tracing::warn!(dir = %self.dir.display(), error = %e, "removing a build folder failed");
        }
    }
}

fn internal(e: impl std::fmt::Display) -> String {
    format!("the platform could not prepare the environment: {e}")
}

/// Records `lock` as the one skill version `skill_version_id` runs with (in the caller's
/// tenant transaction).
pub async fn attach_lock(
    conn: &mut PgConnection,
    skill_version_id: i64,
    lock: &Lock,
) -> AppResult<()> {
    sqlx::query("UPDATE skill_versions SET lock_text = $2, lock_hash = $3 WHERE id = $1")
        .bind(skill_version_id)
        .bind(&lock.text)
        .bind(&lock.hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// The lock a skill version runs with, if any (in the caller's tenant transaction).
pub async fn lock_of_version(
    conn: &mut PgConnection,
    skill_version_id: i64,
) -> AppResult<Option<Lock>> {
    let text: Option<Option<String>> =
        sqlx::query_scalar("SELECT lock_text FROM skill_versions WHERE id = $1")
            .bind(skill_version_id)
            .fetch_optional(conn)
            .await?;
    Ok(text.flatten().map(Lock::new))
}

/// The committed locks of the demo skills that declare packages, by slug
/// (`demo-locks/<slug>.txt`): the platform's own skills are resolved once, by
/// `uv pip compile --generate-hashes` (hashes of every published file), not at every start.
static DEMO_LOCKS: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/demo-locks");

/// The lock a demo skill runs with, if it declares packages. A demo that declares packages
/// without a committed lock is a build mistake (the tests catch it).
pub fn demo_lock(folder: &ScriptFolder) -> Option<Lock> {
    requirements::declared(&folder.files)
        .unwrap_or_else(|e| panic!("demo skill {}: {e}", folder.manifest.slug))?;
    let file = DEMO_LOCKS
        .get_file(format!("{}.txt", folder.manifest.slug))
        .unwrap_or_else(|| panic!("demo skill {} has no lock", folder.manifest.slug));
    Some(Lock::new(
        file.contents_utf8().unwrap_or_default().to_string(),
    ))
}

/// How long a leftover `.build-…`/`.resolve-…` folder (a server stopped mid-build) is left
/// before the cleanup removes it.
const STALE_JOB: Duration = Duration::from_secs(24 * 3600);

/// Removes environments that no live skill version, no execution waiting or running, and no
/// submission on its way uses, in any tenant; and stale build folders. Returns how many
/// environments went. Each is renamed away first, so a folder with a lock's name is always
/// whole; one needed again later is rebuilt from the lock before its run.
pub async fn collect_unused(ctx: &Ctx) -> AppResult<usize> {
    let root = environments_dir(ctx);
    if !tokio::fs::try_exists(&root).await.unwrap_or(false) {
        return Ok(0);
    }
    let mut used: Vec<String> = sqlx::query_scalar(
        "SELECT lock_hash FROM public.skill_submissions WHERE lock_hash IS NOT NULL \
         AND status IN ('submitted', 'approved', 'built', 'synced', 'registered')",
    )
    .fetch_all(&ctx.pool)
    .await?;
    for tenant in tenancy::all_tenants(ctx).await? {
        let mut tx = crate::db::TenantTx::begin(&ctx.pool, &tenant.schema).await?;
        let hashes: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT v.lock_hash FROM skill_versions v WHERE v.lock_hash IS NOT NULL \
             AND (v.id IN (SELECT current_version_id FROM skills) \
               OR v.id IN (SELECT skill_version_id FROM executions \
                 WHERE status IN ('awaiting_confirmation', 'queued', 'running')))",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        used.extend(hashes);
    }
    let removed = tokio::task::spawn_blocking(move || remove_unused(&root, &used))
        .await
        .map_err(|e| crate::AppError::Internal(e.into()))?;
    Ok(removed)
}

fn remove_unused(root: &Path, used: &[String]) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if lock::is_lock_hash(&name) {
            if used.contains(&name) {
                continue;
            }
            let trash = root.join(format!(".trash-{name}"));
            if std::fs::rename(&path, &trash).is_ok() {
                if let Err(e) = std::fs::remove_dir_all(&trash) {
                    tracing::warn!(error = %e, "removing an unused environment failed");
                }
                tracing::info!(lock = name, "unused Python environment removed");
                removed += 1;
            }
        } else if name.starts_with(".trash-")
            || ((name.starts_with(".build-") || name.starts_with(".resolve-"))
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().unwrap_or_default() > STALE_JOB))
        {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pips_report_becomes_a_lock() {
        let report = br#"{"install": [
            {"metadata": {"name": "Six", "version": "1.16.0"},
             "download_info": {"archive_info": {"hashes": {"sha256": "ab12"}}}},
            {"metadata": {"name": "et_xmlfile", "version": "2.0.0"},
             "download_info": {"archive_info": {"hash": "sha256=cd34"}}}]}"#;
        let text = lock_from_pip_report(report).unwrap();
        assert_eq!(
            text,
            "et-xmlfile==2.0.0 \\\n    --hash=sha256:cd34\nsix==1.16.0 \\\n    --hash=sha256:ab12\n"
        );
        assert_eq!(lock::packages(&text).len(), 2);
        assert!(lock_from_pip_report(br#"{"install": [{"metadata": {}}]}"#).is_err());
    }

    #[test]
    fn demo_skills_with_packages_have_locks_pinning_them() {
        let mut with_packages = Vec::new();
        for tenant in ["acme", "globex"] {
            for folder in crate::skills::manifest::demo_skill_folders(tenant) {
                let Some(lock) = demo_lock(&folder) else {
                    continue;
                };
                let declared = requirements::declared(&folder.files).unwrap().unwrap();
                let pinned = lock::packages(&lock.text);
                for r in &declared.requirements {
                    assert!(
                        pinned.iter().any(|p| p.name == r.name),
                        "{}: {} is not in its lock",
                        folder.manifest.slug,
                        r.name
                    );
                }
                assert!(lock.text.contains("--hash=sha256:"));
                with_packages.push((folder.manifest.slug.clone(), declared.source));
            }
        }
        assert_eq!(
            with_packages,
            [
                ("csv-to-excel".to_string(), "requirements.txt"),
                ("excel-summary".to_string(), "requirements.txt"),
                ("sales-pivot".to_string(), "main.py (# /// script)")
            ]
        );
        assert_eq!(DEMO_LOCKS.files().count(), with_packages.len());
    }

    #[test]
    fn only_lock_named_folders_are_collected() {
        let root = std::env::temp_dir().join(format!("execgov-gc-{}", std::process::id()));
        let keep = "a".repeat(64);
        let drop = "b".repeat(64);
        for name in [&keep, &drop, &"not-a-lock".to_string()] {
            std::fs::create_dir_all(root.join(name).join("lib")).unwrap();
        }
        assert_eq!(remove_unused(&root, std::slice::from_ref(&keep)), 1);
        assert!(root.join(&keep).exists());
        assert!(!root.join(&drop).exists());
        assert!(root.join("not-a-lock").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
