//! Executors: run one asset version's script in the sandbox, chosen by asset kind.
//!
//! [`Executors::run`] starts `main.py` (python) or `main.sh` (shell) from an immutable
//! asset-version folder inside bubblewrap, as an unprivileged uid, with rlimits, a wall-clock
//! timeout, capped output and a capped work directory, and reports a [`RunOutcome`] with a
//! human reason for every limit hit. The sandbox layout and its limits are described in
//! `sandbox.rs`; the script contract (what a script sees) is:
//!
//! - `/skill` (read-only): the asset version folder; the entry point is `main.py` or `main.sh`.
//! - `/work` (read-write, the cwd and `HOME`): `inputs.json` (`$EXECGOV_INPUTS`), uploaded
//!   files under `files/` (`$EXECGOV_FILES`), result files go to `output/` (`$EXECGOV_OUTPUT`,
//!   they become artifacts), and an optional `result.json` (`$EXECGOV_RESULT`).
//! - `/env` (read-only): the skill version's Python environment, or an empty one; `/env/bin`
//!   is first on `PATH` (see `interpreter.rs`).
//! - `/tmp`: a small private tmpfs. No network, no other host files, an empty environment
//!   apart from `PATH`, `HOME`, `LANG` and `EXECGOV_*`.
//! - Arguments after the entry file ([`RunRequest::args`], each one argument, never through a
//!   shell) and standard input ([`RunRequest::stdin`]; empty: end of file at once, so a script
//!   that asks for keyboard input does not wait for its timeout).
//! - Files the script writes into `/work` outside `output/` that match one of
//!   [`RunRequest::artifacts`] (globs) are moved into `output/` after the run and become
//!   artifacts like the rest, under the same caps (links are never followed nor collected);
//!   any other new file is listed in [`RunOutcome::written_outside`].
//!
//! A script that asked for keyboard input it was not given is recognised by Python's
//! `EOFError: EOF when reading a line` on its output (what `input()` raises at end of file);
//! the reason then says so. A shell's `read` at end of file fails silently (status 1, empty
//! variable), and a script that reads `sys.stdin` to its end gets an empty string: neither is
//! told apart from any other failure.
//!
//! Python runs as `python3 -I -S -u` (isolated, no site-packages, unbuffered so log lines
//! arrive live), or with an environment as `/env/bin/python -I -u`; shell scripts as
//! `bash main.sh`; the run's arguments follow the entry file. When sandboxes are started ahead,
//! `main.py` finds its interpreter started and its heavy modules imported (a warm interpreter,
//! one per run: `interpreter.rs`).
//!
//! Caveats, measured on Debian 12 with bubblewrap 0.8:
//! - bubblewrap opens its bind sources after the uid is dropped (a failure reads "sandbox
//!   failed to start: …"): with `warm_dir` set, the sandboxes' own folders there (see
//!   `warm.rs`), whose ancestors must be traversable (`o+x`) by the pool uids and which must
//!   share a filesystem with the work folders; without it, the work folder and the script
//!   folder themselves, likewise traversable, the script folder readable.
//! - CPU seconds and address space are per process. A run's total memory and its number of
//!   processes are held by cgroups of its own where the host lets a root server make them
//!   (`cgroup.rs`: v2 delegated, or v1 hierarchies); elsewhere `processes` is lowered so that
//!   their address spaces together stay within `memory` ([`Limits::process_cap`]).
//! - Every sandboxed run is under a seccomp deny list (`seccomp.rs`); on a root server its
//!   `/skill` and `/work` are a tmpfs of its own, which holds the disk cap (`warm.rs`).
//! - Under bubblewrap a signal death is reported as exit code 128 + n and decoded back, so
//!   a script that itself exits with 129..=159 reads as killed by a signal.
//! - Without root there is no uid pool: scripts run as the server's uid and RLIMIT_NPROC
//!   is set on top of that uid's current task count.

mod cgroup;
pub mod interpreter;
pub mod output;
pub mod sandbox;
mod seccomp;
mod spawn;
mod warm;
pub mod work;
mod workdir;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::sync::{mpsc, watch};

use cgroup::{Cgroups, RunCgroup};
use interpreter::ENV_MOUNT;
use output::{pump, PumpStats};
use sandbox::{Cleanup, Init, Slot, UidPool};
use warm::{Ahead, Prestarted, SlotDirs, Storage, WarmPython};

const MIB: u64 = 1024 * 1024;
/// `result.json` larger than this is ignored (and the reason says so).
pub const RESULT_CAP: u64 = MIB;
/// More entries than this in the work directory (or artifacts in `output/`) fails the run.
pub const MAX_WORK_ENTRIES: u64 = 20_000;
/// How often the work directory's size is sampled while a script runs.
const DISK_POLL: Duration = Duration::from_millis(250);
/// How long to wait for the output readers once the processes are gone.
const READER_GRACE: Duration = Duration::from_secs(2);

/// The kind of an execution asset; selects the executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssetKind {
    /// `main.py`, run by the system Python in isolated mode.
    Python,
    /// `main.sh`, run by bash.
    Shell,
}

impl AssetKind {
    /// Every kind, in a stable order.
    pub const ALL: [AssetKind; 2] = [AssetKind::Python, AssetKind::Shell];

    /// The stored name: `"python"` or `"shell"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Python => "python",
            AssetKind::Shell => "shell",
        }
    }

    /// The inverse of [`AssetKind::as_str`].
    pub fn parse(s: &str) -> Option<AssetKind> {
        AssetKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The entry-point file inside the asset version folder.
    pub fn entry_file(self) -> &'static str {
        match self {
            AssetKind::Python => "main.py",
            AssetKind::Shell => "main.sh",
        }
    }
}

impl std::fmt::Display for AssetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How scripts are isolated; built from the server's configuration.
/// `Default` is the production setting (sandbox on, system interpreters, uids 61000..61064).
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Run inside bubblewrap. `false` is for development only and is logged loudly on every run.
    pub enabled: bool,
    /// The bubblewrap binary.
    pub bwrap: PathBuf,
    /// The Python interpreter (the system one: the pyenv shim costs ~170 ms a start).
    pub python: PathBuf,
    /// The shell for `main.sh`.
    pub shell: PathBuf,
    /// First uid of the pool used when the server runs as root (gid = uid). The range
    /// `first_uid .. first_uid + uid_slots` must belong to no one else on the host:
    /// leftover processes of these uids are killed.
    pub first_uid: u32,
    /// Number of pool uids = the maximum number of concurrent runs when root.
    pub uid_slots: u32,
    /// Where sandboxes started ahead of their runs keep their folders (see `warm.rs`): on the
    /// work folders' filesystem, traversable by the pool uids, emptied at start. `None`: every
    /// sandbox is started for its run, with the run's own folders bound.
    pub warm_dir: Option<PathBuf>,
    /// How many sandboxes may wait ready at once (about the number of workers); each holds a
    /// pool uid.
    pub warm: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            enabled: true,
            bwrap: "/usr/bin/bwrap".into(),
            python: "/usr/bin/python3".into(),
            shell: "/bin/bash".into(),
            first_uid: 61000,
            uid_slots: 64,
            warm_dir: None,
            warm: 0,
        }
    }
}

/// Resource limits for one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock timeout; the whole process tree is killed when it passes.
    pub wall: Duration,
    /// RLIMIT_CPU, per process (SIGXCPU at this many seconds, SIGKILL one second later).
    pub cpu_seconds: u64,
    /// RLIMIT_AS in bytes, per process.
    pub address_space: u64,
    /// RLIMIT_FSIZE in bytes: the largest file a script may write.
    pub file_size: u64,
    /// RLIMIT_NOFILE.
    pub open_files: u64,
    /// Processes and threads the script may have at once (RLIMIT_NPROC on its own uid, and
    /// the run's pids cgroup; the sandbox's pid-1 shell and the outer bubblewrap come on top),
    /// at most: see [`Limits::process_cap`].
    pub processes: u64,
    /// Memory of the run's processes together: the run's memory cgroup's limit where there is
    /// one (see `cgroup.rs`); else kept by allowing no more processes than
    /// `memory / address_space` ([`MemoryHold::ProcessCount`]).
    pub memory: u64,
    /// Bytes of each of stdout and stderr delivered to the log; the rest is discarded.
    pub output_cap: usize,
    /// Bytes the script may add to `/work` while it runs, and the total size of `output/`.
    pub artifacts_cap: u64,
    /// Size of the private `/tmp` (and of `/dev/shm`), in bytes.
    pub tmp_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wall: Duration::from_secs(60),
            cpu_seconds: 60,
            address_space: 1024 * MIB,
            file_size: 50 * MIB,
            open_files: 256,
            processes: 64,
            memory: 8 * 1024 * MIB,
            output_cap: MIB as usize,
            artifacts_cap: 50 * MIB,
            tmp_size: 64 * MIB,
        }
    }
}

/// What holds a run's total memory within [`Limits::memory`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryHold {
    /// The run's own memory cgroup: the kernel counts every page the run uses.
    Cgroup,
    /// No cgroup: the number of processes, each within its address space.
    ProcessCount,
}

impl Limits {
    /// The processes and threads a run may have at once (at least one): `processes`, and
    /// without a memory cgroup lowered so that their address spaces together stay within
    /// `memory`.
    pub fn process_cap(&self, memory: MemoryHold) -> u64 {
        match memory {
            MemoryHold::Cgroup => self.processes.max(1),
            MemoryHold::ProcessCount => {
                let fit = self.memory / self.address_space.max(1);
                self.processes.min(fit).max(1)
            }
        }
    }
}

/// One run: which script, where, with what.
#[derive(Debug)]
pub struct RunRequest<'a> {
    /// Selects the executor.
    pub kind: AssetKind,
    /// The immutable asset version folder (has `main.py` or `main.sh`); seen read-only at
    /// `/skill` (linked into the sandbox's own folder, or bound as it is without `warm_dir`).
    pub script_dir: &'a Path,
    /// The run's private folder, created by the caller with `inputs.json`, `files/` and
    /// `output/`; seen read-write at `/work` (its entries moved into the sandbox's own folder
    /// for the run, or the folder bound as it is without `warm_dir`). Owned by the pool uid
    /// during the run; afterwards everything is back in it, given to its original owner.
    pub work_dir: &'a Path,
    /// Extra environment; only `EXECGOV_*` names (other names are rejected).
    pub env: Vec<(String, String)>,
    /// Arguments after the entry file (`main.py ARGS…` / `main.sh ARGS…`), each passed as one
    /// argument, never through a shell.
    pub args: Vec<String>,
    /// What the script reads on standard input; empty: end of file at once.
    pub stdin: Vec<u8>,
    /// Globs (see `model::invocation::glob_matches`) of files written into the work folder
    /// outside `output/` that are collected as artifacts too.
    pub artifacts: Vec<String>,
    /// The limits for this run.
    pub limits: Limits,
    /// The host folder of the skill version's built Python environment (read-only), or `None`.
    pub environment: Option<PathBuf>,
}

/// Which output stream a log line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One line of script output (lossy UTF-8, without the newline; very long lines are split).
#[derive(Clone, Debug)]
pub struct LogLine {
    /// Where it came from.
    pub stream: Stream,
    /// The text.
    pub line: String,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Exit code 0 and every post-run check passed.
    Succeeded,
    /// Non-zero exit, a signal, a limit hit or a post-run check failed (see the reason).
    Failed,
    /// The wall-clock limit passed; the processes were killed.
    TimedOut,
    /// Cancelled by the caller; the processes were killed.
    Cancelled,
}

impl RunStatus {
    /// `succeeded | failed | timed_out | cancelled`, as the executions table stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// How it ended.
    pub status: RunStatus,
    /// Human explanation, `"; "`-joined when several apply (e.g. `"exit code 3; output truncated"`).
    pub reason: Option<String>,
    /// The exit code, when the script exited by itself.
    pub exit_code: Option<i32>,
    /// The signal that ended the script (under bubblewrap inferred from exit codes 129..=159).
    pub signal: Option<i32>,
    /// Stdout went over the output cap.
    pub stdout_truncated: bool,
    /// Stderr went over the output cap.
    pub stderr_truncated: bool,
    /// From spawn to exit.
    pub duration: Duration,
    /// `/work/result.json` as written, when it is a regular file, ≤ [`RESULT_CAP`] and valid
    /// JSON (kept as text so that a table keeps the script's column order).
    pub result: Option<String>,
    /// Regular files under `/work/output` (with those the artifact globs moved there), sorted
    /// by path.
    pub artifacts: Vec<Artifact>,
    /// New files the script left in `/work` outside `output/` that no glob collected: the
    /// first [`WRITTEN_OUTSIDE_LISTED`] paths, relative to `/work`, sorted.
    pub written_outside: Vec<String>,
    /// How many such files there were in all.
    pub written_outside_count: u64,
}

/// How many of the files written outside `output/` a run's outcome names.
pub const WRITTEN_OUTSIDE_LISTED: usize = 20;
/// The most a run's standard input may hold.
pub const MAX_STDIN: usize = 1024 * 1024;

/// One result file under `output/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// Relative to `output/`, `/`-separated, UTF-8.
    pub path: String,
    /// Bytes.
    pub size: u64,
}

/// How one asset kind is started.
#[derive(Clone, Debug)]
struct Interpreter {
    program: PathBuf,
    args: Vec<&'static str>,
}

impl Interpreter {
    /// The program and flags that run `kind`'s entry file when the script's environment is at
    /// `environment` (`main.py` then runs with the environment's Python).
    fn command(&self, kind: AssetKind, environment: Option<&Path>) -> (PathBuf, Vec<&'static str>) {
        match (kind, environment) {
            (AssetKind::Python, Some(_)) => interpreter::python_command(&self.program, environment),
            _ => (self.program.clone(), self.args.clone()),
        }
    }
}

/// The executor registry, keyed by [`AssetKind`]; one per server, shared by all workers.
#[derive(Debug)]
pub struct Executors {
    interpreters: HashMap<AssetKind, Interpreter>,
    pool: UidPool,
    /// The configuration, the init, and the sandboxes waiting for their runs (sandbox on and
    /// `warm_dir` set only).
    ready: Arc<Ready>,
}

/// The sandboxes started ahead of their runs, shared with the tasks that start them once a run
/// has ended (off the run's path).
#[derive(Debug)]
struct Ready {
    config: SandboxConfig,
    init: Init,
    /// Where the sandboxes' own folders live (a tmpfs each when this process may mount).
    storage: Storage,
    /// Where each pool uid's cgroup is made (root, sandbox on, and the host lets us).
    cgroups: Option<Cgroups>,
    /// Ready, the longest waiting first.
    waiting: std::sync::Mutex<Vec<Prestarted>>,
    /// Being started.
    starting: AtomicUsize,
    /// Wakes a run waiting for a uid when a sandbox is made ready (it holds one).
    added: tokio::sync::Notify,
    /// What a warm interpreter imports ahead, per (skill folder, environment): both are
    /// immutable, so it is worked out once.
    preloads: std::sync::Mutex<HashMap<PreloadKey, Vec<String>>>,
}

/// A skill folder and its environment.
type PreloadKey = (PathBuf, Option<PathBuf>);

impl Ready {
    /// Whether sandboxes are started ahead of their runs at all.
    fn starts_ahead(&self) -> bool {
        self.config.enabled && self.config.warm_dir.is_some() && self.config.warm > 0
    }

    /// How many more sandboxes may be started ahead.
    fn missing(&self) -> usize {
        if !self.starts_ahead() {
            return 0;
        }
        let waiting = self.waiting.lock().map(|r| r.len()).unwrap_or(usize::MAX);
        let starting = self.starting.load(Ordering::SeqCst);
        self.config
            .warm
            .saturating_sub(waiting.saturating_add(starting))
    }

    /// In the background: for each of `slots` (swept there when paired with `true`), folders of
    /// its own, then a sandbox started with `ahead`, waiting for a run. Folders on the
    /// blocking pool; bubblewrap on a runtime thread (see [`Prestarted::start`]). Once the
    /// executors are dropped it stops: nothing of theirs may touch a uid after that.
    fn start_ahead(self: &Arc<Self>, slots: Vec<(Slot, bool)>, ahead: Ahead) {
        let Some(base) = self.config.warm_dir.clone() else {
            return;
        };
        self.starting.fetch_add(slots.len(), Ordering::SeqCst);
        let count = slots.len();
        let ready = Arc::downgrade(self);
        let alive = ready.clone();
        let storage = self.storage;
        tokio::spawn(async move {
            let made = tokio::task::spawn_blocking(move || {
                let mut made = Vec::new();
                for (slot, sweep) in slots {
                    if alive.strong_count() == 0 {
                        break;
                    }
                    if let (true, Some(uid)) = (sweep, slot.uid()) {
                        sandbox::sweep_uid(uid);
                    }
                    match SlotDirs::create(&base, slot.uid(), storage) {
                        Ok(dirs) => made.push((slot, dirs)),
                        Err(e) => tracing::warn!(error = %e, "making a sandbox's folders failed"),
                    }
                }
                made
            })
            .await
            .unwrap_or_default();
            match ready.upgrade() {
                Some(ready) => {
                    for (slot, dirs) in made {
                        ready.start(slot, dirs, ahead.clone());
                    }
                    ready.starting.fetch_sub(count, Ordering::SeqCst);
                }
                None => made.iter().for_each(|(_, dirs)| dirs.remove()),
            }
        });
    }

    /// Starts a sandbox on `slot` (its uid swept) with `dirs` bound, started with `ahead`, to
    /// wait for a run.
    fn start(&self, slot: Slot, dirs: SlotDirs, ahead: Ahead) {
        let binds = (dirs.skill.clone(), dirs.work.clone());
        let uid = slot.uid();
        let cleanup = Cleanup::new(slot, Some(dirs));
        let started = self.run_cgroup(uid).and_then(|cgroup| {
            Prestarted::start(
                &self.config,
                &self.init,
                cleanup,
                (&binds.0, &binds.1),
                ahead,
                cgroup,
            )
        });
        match started {
            Ok(sandbox) => {
                if let Ok(mut waiting) = self.waiting.lock() {
                    waiting.push(sandbox);
                }
                self.added.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "starting a sandbox ahead of its run failed"),
        }
    }

    /// The cgroup of pool uid `uid`, when runs get one.
    fn run_cgroup(&self, uid: Option<u32>) -> anyhow::Result<Option<RunCgroup>> {
        match (&self.cgroups, uid) {
            (Some(cgroups), Some(uid)) => {
                Ok(Some(cgroups.for_uid(uid).with_context(|| {
                    format!("making the cgroup of uid {uid}")
                })?))
            }
            _ => Ok(None),
        }
    }

    /// What holds the memory of a sandboxed run on pool uid `uid`.
    fn memory_hold(&self, uid: Option<u32>) -> MemoryHold {
        if self.config.enabled && self.cgroups.is_some() && uid.is_some() {
            MemoryHold::Cgroup
        } else {
            MemoryHold::ProcessCount
        }
    }

    /// A sandbox that waits ready, started with `ahead`, and is still alive: the longest
    /// waiting, the likeliest to have finished setting up. Dead ones met on the way are dropped
    /// (on the blocking pool, giving their uids back).
    fn take(&self, ahead: &Ahead) -> Option<Prestarted> {
        let mut waiting = self.waiting.lock().ok()?;
        loop {
            let i = waiting.iter().position(|s| *s.ahead == *ahead)?;
            let mut sandbox = waiting.remove(i);
            if !sandbox.child.has_exited() {
                return Some(sandbox);
            }
            tokio::task::spawn_blocking(move || drop(sandbox));
        }
    }

    /// Gives up the sandbox that has waited longest, unless one started with `ahead` waits
    /// (it is still wanted): its uid goes back to the pool for a sandbox of `ahead`, so the
    /// sandboxes waiting are those of the skills most recently run. Whether one was given up.
    fn evict_unlike(&self, ahead: &Ahead) -> bool {
        let Ok(mut waiting) = self.waiting.lock() else {
            return false;
        };
        if waiting.is_empty() || waiting.iter().any(|s| *s.ahead == *ahead) {
            return false;
        }
        let oldest = waiting.remove(0);
        tokio::task::spawn_blocking(move || drop(oldest));
        true
    }

    /// What a warm interpreter for the skill in `script_dir` imports ahead (cached).
    fn preload(&self, script_dir: &Path, environment: Option<&Path>) -> Vec<String> {
        let key = (script_dir.to_path_buf(), environment.map(Path::to_path_buf));
        if let Some(found) = self.preloads.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return found;
        }
        let found = interpreter::preload_for(script_dir, environment);
        if let Ok(mut map) = self.preloads.lock() {
            // Bounded: a server that ran this many skill versions starts over.
            if map.len() >= 4096 {
                map.clear();
            }
            map.insert(key, found.clone());
        }
        found
    }
}

/// A run put into its sandbox with its limits set, waiting for the word to start
/// ([`Executors::run_prepared`]). Dropped unused, it is undone: the sandbox killed, the work
/// folder's contents back in it and given back to its owner.
pub struct Prepared {
    launch: Launch,
    /// The work folder as the caller gave it (canonical).
    work_dir: PathBuf,
    /// Where its contents are while the script runs.
    run_dir: PathBuf,
    /// What the work folder held before the run: the base of the disk cap.
    baseline: u64,
    limits: Limits,
    /// What the sandbox started ahead for the same skill's next run is started with.
    ahead: Ahead,
    /// What to collect after the run besides `output/`, and what was there before it.
    collect: workdir::Collect,
    /// The run was given standard input (how a keyboard prompt's failure is explained).
    stdin_given: bool,
}

/// What starts a prepared run.
enum Launch {
    /// A sandbox whose init (or warm interpreter) waits for this script (`sandbox::go_script`,
    /// `interpreter::go_message`).
    Sandbox(Prestarted, Vec<u8>),
    /// Sandbox off (development): the interpreter, spawned on the word.
    Direct(spawn::Spec, Cleanup),
}

/// Whether preparing a run may wait for a free uid.
enum Wait<'a> {
    /// Yes, until one is free or `cancel` is set.
    ForUid(&'a mut watch::Receiver<bool>),
    /// No: only a sandbox started ahead will do.
    No,
}

/// Why the runner killed the script.
#[derive(Clone, Debug)]
enum Kill {
    Timeout,
    Cancel,
    Disk(String),
}

impl Executors {
    /// The registry with the `python` and `shell` executors.
    pub fn new(config: SandboxConfig) -> Executors {
        if !config.enabled {
            tracing::warn!(
                "SANDBOX DISABLED: scripts will run without bubblewrap (no filesystem or network \
                 isolation). This setting is for development only."
            );
        }
        let mut interpreters = HashMap::new();
        let (program, args) = interpreter::python_command(&config.python, None);
        interpreters.insert(AssetKind::Python, Interpreter { program, args });
        interpreters.insert(
            AssetKind::Shell,
            Interpreter {
                program: config.shell.clone(),
                args: vec![],
            },
        );
        let pool = UidPool::new(&config);
        let mut binaries = vec![&config.python, &config.shell];
        if config.enabled {
            binaries.push(&config.bwrap);
        }
        for b in binaries {
            if !is_executable(b) {
                tracing::error!(path = %b.display(), "executor binary missing or not executable");
            }
        }
        for b in [&config.python, &config.shell] {
            let visible = ["/usr", "/bin", "/sbin"].iter().any(|d| b.starts_with(d));
            if config.enabled && !visible {
                tracing::warn!(
                    path = %b.display(),
                    "the sandbox only has /usr (and /bin, /sbin): this interpreter will not be found"
                );
            }
        }
        let mut config = config;
        if let (true, Some(dir)) = (config.enabled, &config.warm_dir) {
            // Absolute: bubblewrap starts in `/`.
            match warm::reset_base(dir).and_then(|()| dir.canonicalize()) {
                Ok(dir) => config.warm_dir = Some(dir),
                Err(e) => {
                    tracing::error!(path = %dir.display(), error = %e, "the folder for sandboxes started ahead is unusable; each sandbox starts with its run");
                    config.warm_dir = None;
                }
            }
        }
        let storage = match (config.enabled, &config.warm_dir) {
            (true, Some(dir)) => warm::tmpfs_storage(dir),
            _ => Storage::Plain,
        };
        let cgroups = config.enabled.then(Cgroups::detect).flatten();
        if config.enabled {
            let l = Limits::default();
            match &cgroups {
                Some(c) => tracing::info!(
                    "each run has cgroups of its own ({}): the kernel holds its memory ({}) and \
                     its processes and threads ({}) (the defaults)",
                    c.describe(),
                    human_bytes(l.memory),
                    l.process_cap(MemoryHold::Cgroup)
                ),
                None => tracing::warn!(
                    "no per-run memory cgroup (not root, no cgroup v2 delegated to us, no \
                     writable cgroup v1 memory and pids hierarchies): a run's memory is kept by \
                     its process count, at most {} processes or threads of {} address space \
                     each ({} together; the defaults)",
                    l.process_cap(MemoryHold::ProcessCount),
                    human_bytes(l.address_space),
                    human_bytes(l.memory)
                ),
            }
            match storage {
                Storage::Tmpfs => tracing::info!(
                    "each run's /work is a tmpfs of its own: the kernel enforces its disk cap"
                ),
                Storage::Plain => tracing::warn!(
                    "cannot give runs a tmpfs of their own (not root, no folder for sandboxes, \
                     or mounting refused): a run's disk use is only sampled every 250 ms, and \
                     files it deletes while holding them open escape the cap"
                ),
            }
        }
        Executors {
            ready: Arc::new(Ready {
                init: Init::choose(&config),
                storage,
                cgroups,
                config,
                waiting: std::sync::Mutex::new(Vec::new()),
                starting: AtomicUsize::new(0),
                added: tokio::sync::Notify::new(),
                preloads: Default::default(),
            }),
            interpreters,
            pool,
        }
    }

    /// The sandbox configuration in use.
    pub fn config(&self) -> &SandboxConfig {
        &self.ready.config
    }

    /// How many sandboxes wait ready for their runs now.
    pub fn sandboxes_ready(&self) -> usize {
        self.ready.waiting.lock().map_or(0, |waiting| waiting.len())
    }

    /// The asset kinds this registry can run.
    pub fn kinds(&self) -> Vec<AssetKind> {
        AssetKind::ALL
            .into_iter()
            .filter(|k| self.interpreters.contains_key(k))
            .collect()
    }

    /// Puts the run into its sandbox (sandbox off: gets its interpreter ready), with its limits
    /// set: a ready one started with what it needs (`ahead`) if there is, else one started now
    /// on a free uid. `None` when cancelled while waiting for a uid, or when it may not wait.
    /// Returns how it is launched, where its work folder's contents are and their size.
    async fn start(
        &self,
        interp: &Interpreter,
        req: &RunRequest<'_>,
        (script_dir, work_dir): (&Path, &Path),
        ahead: &Ahead,
        mut wait: Wait<'_>,
    ) -> anyhow::Result<Option<(Launch, PathBuf, u64)>> {
        let limits = &req.limits;
        let cfg = &self.ready.config;
        let owner = workdir::owner(work_dir)?;
        let run_rlimits = |uid| sandbox::rlimits(cfg, limits, uid, self.ready.memory_hold(uid));
        let run_input = sandbox::RunInput {
            env: &req.env,
            args: &req.args,
            stdin: &req.stdin,
        };
        // The command a cold start sends: the environment at `/env` in the sandbox.
        let go_script = || {
            let inside = ahead.environment.as_ref().map(|_| Path::new(ENV_MOUNT));
            let (program, flags) = interp.command(req.kind, inside);
            sandbox::go_script(&program, &flags, req.kind, &run_input).into_bytes()
        };
        let (script_dir, work_dir) = (script_dir.to_path_buf(), work_dir.to_path_buf());

        // A ready sandbox, else a uid of our own for the run (root only); a sandbox made ready
        // while we wait for a uid (it holds one) serves us too. When none is free, the sandbox
        // that waited longest for another skill gives its uid up.
        let slot = loop {
            if let Some(mut ready) = cfg.enabled.then(|| self.ready.take(ahead)).flatten() {
                let uid = ready.cleanup.uid();
                let dirs = ready
                    .cleanup
                    .dirs()
                    .cloned()
                    .context("a ready sandbox has folders of its own")?;
                // Before the hand-over, so that dropping `ready` undoes a partial one.
                ready.cleanup.return_to(work_dir.clone(), owner);
                let baseline = {
                    let (dirs, cap) = (dirs.clone(), limits.artifacts_cap);
                    tokio::task::spawn_blocking(move || dirs.fill(&script_dir, &work_dir, uid, cap))
                        .await?
                        .context("putting the run into its sandbox")?
                };
                ready.limit(&run_rlimits(uid), limits).await?;
                let go = match ready.ahead.interpreter {
                    Some(_) => interpreter::go_message(req, &run_rlimits(uid)),
                    None => go_script(),
                };
                return Ok(Some((Launch::Sandbox(ready, go), dirs.work, baseline)));
            }
            let Wait::ForUid(cancel) = &mut wait else {
                return Ok(None);
            };
            if let Some(slot) = self.pool.try_acquire() {
                break slot;
            }
            self.ready.evict_unlike(ahead);
            tokio::select! {
                slot = self.pool.acquire() => break slot?,
                _ = self.ready.added.notified() => {}
                _ = cancelled(cancel) => return Ok(None),
            }
        };
        let uid = slot.uid();
        // One trip to the blocking pool: kill any stray process of the uid (so the run starts
        // with its full process budget), then put the run where the sandbox will see it: in
        // folders of its own when sandboxes are started ahead (the same path for every run),
        // else the work folder handed to the uid as it is. The cleanup is set up before the
        // hand-over, so that a partial one is undone when it drops.
        let base = cfg.enabled.then(|| cfg.warm_dir.clone()).flatten();
        let (storage, cap) = (self.ready.storage, limits.artifacts_cap);
        let (cleanup, baseline) = {
            let (script_dir, work_dir) = (script_dir.clone(), work_dir.clone());
            tokio::task::spawn_blocking(move || -> anyhow::Result<(Cleanup, u64)> {
                if let Some(uid) = uid {
                    sandbox::sweep_uid(uid);
                }
                let dirs = base
                    .map(|base| SlotDirs::create(&base, uid, storage))
                    .transpose()
                    .context("making the sandbox's folders")?;
                let mut cleanup = Cleanup::new(slot, dirs);
                cleanup.return_to(work_dir.clone(), owner);
                let baseline = match cleanup.dirs() {
                    Some(dirs) => dirs
                        .fill(&script_dir, &work_dir, uid, cap)
                        .context("putting the run into its sandbox")?,
                    None => {
                        if let Some(uid) = uid {
                            workdir::chown_tree(&work_dir, uid, uid)
                                .context("handing the work folder to the sandbox uid")?;
                        }
                        workdir::usage(&work_dir, u64::MAX).bytes
                    }
                };
                Ok((cleanup, baseline))
            })
            .await??
        };
        let (binds, run_dir) = match cleanup.dirs() {
            Some(d) => ((d.skill.clone(), d.work.clone()), d.work.clone()),
            None => ((script_dir.clone(), work_dir.clone()), work_dir.clone()),
        };
        if !cfg.enabled {
            let (program, flags) = interp.command(req.kind, ahead.environment.as_deref());
            let spec = sandbox::direct_command(
                (program.as_path(), flags.as_slice()),
                req,
                &script_dir,
                &work_dir,
                run_rlimits(uid),
                uid,
            )?;
            return Ok(Some((Launch::Direct(spec, cleanup), run_dir, baseline)));
        }
        // Started for its run: the init waits for the command, as without a warm interpreter.
        let cold = Ahead {
            interpreter: None,
            ..ahead.clone()
        };
        let cgroup = self.ready.run_cgroup(uid)?;
        let mut sandbox = Prestarted::start(
            cfg,
            &self.ready.init,
            cleanup,
            (&binds.0, &binds.1),
            cold,
            cgroup,
        )?;
        sandbox.limit(&run_rlimits(uid), limits).await?;
        Ok(Some((
            Launch::Sandbox(sandbox, go_script()),
            run_dir,
            baseline,
        )))
    }

    /// Runs one script to completion, streaming its output to `log` line by line.
    ///
    /// Waits for a free pool uid when all are busy. Setting `cancel` to `true` kills the
    /// run (status `Cancelled`). `Err` means the run could not be set up (bad request,
    /// missing interpreter, spawn failure); every outcome of the script itself, limits
    /// included, is an `Ok`. No process of the run survives the call, also when the
    /// returned future is dropped.
    pub async fn run(
        &self,
        req: RunRequest<'_>,
        log: mpsc::UnboundedSender<LogLine>,
        mut cancel: watch::Receiver<bool>,
    ) -> anyhow::Result<RunOutcome> {
        match self.prepare(req, &mut cancel).await? {
            Some(prepared) => self.run_prepared(prepared, log, cancel, None).await,
            None => Ok(RunOutcome::cancelled_before_start()),
        }
    }

    /// The first half of [`Executors::run`]: the run put into its sandbox, limits set, ready to
    /// start. Waits for a free pool uid when all are busy; `None` when `cancel` is set
    /// meanwhile.
    pub async fn prepare(
        &self,
        req: RunRequest<'_>,
        cancel: &mut watch::Receiver<bool>,
    ) -> anyhow::Result<Option<Prepared>> {
        self.prepare_with(req, Wait::ForUid(cancel)).await
    }

    /// [`Executors::prepare`] in a sandbox started ahead, without waiting: `None` when none is
    /// ready.
    pub async fn prepare_if_ready(&self, req: RunRequest<'_>) -> anyhow::Result<Option<Prepared>> {
        self.prepare_with(req, Wait::No).await
    }

    async fn prepare_with(
        &self,
        req: RunRequest<'_>,
        wait: Wait<'_>,
    ) -> anyhow::Result<Option<Prepared>> {
        let interp = self
            .interpreters
            .get(&req.kind)
            .with_context(|| format!("no executor for asset kind {}", req.kind))?;
        validate_env(&req.env)?;
        validate_run_input(&req)?;
        let script_dir = req
            .script_dir
            .canonicalize()
            .with_context(|| format!("script folder {}", req.script_dir.display()))?;
        let work_dir = req
            .work_dir
            .canonicalize()
            .with_context(|| format!("work folder {}", req.work_dir.display()))?;
        let entry = script_dir.join(req.kind.entry_file());
        match std::fs::symlink_metadata(&entry) {
            Ok(m) if m.is_file() => {}
            _ => bail!("{} is missing or not a regular file", entry.display()),
        }
        if !std::fs::symlink_metadata(&work_dir)?.is_dir() {
            bail!("{} is not a directory", work_dir.display());
        }
        let environment = req
            .environment
            .as_deref()
            .map(interpreter::check_environment)
            .transpose()?;
        // What the caller put there (inputs, uploads): files the script did not write. A small
        // folder; a walk of a few entries.
        let collect = workdir::Collect {
            globs: req.artifacts.clone(),
            before: workdir::snapshot(&work_dir),
        };
        let stdin_given = !req.stdin.is_empty();
        if !self.ready.config.enabled {
            tracing::warn!(
                work_dir = %work_dir.display(),
                "SANDBOX DISABLED: running a {} script without bubblewrap (development only)",
                req.kind
            );
        }
        // main.py gets a warm interpreter whenever sandboxes are started ahead.
        let warm = req.kind == AssetKind::Python && self.ready.starts_ahead();
        let ahead = Ahead {
            tmp_size: req.limits.tmp_size,
            interpreter: warm.then(|| {
                let preload = self.ready.preload(&script_dir, environment.as_deref());
                WarmPython::new(preload, &req.limits)
            }),
            environment,
        };
        let started = self
            .start(interp, &req, (&script_dir, &work_dir), &ahead, wait)
            .await?;
        Ok(started.map(|(launch, run_dir, baseline)| Prepared {
            launch,
            work_dir,
            run_dir,
            baseline,
            limits: req.limits,
            ahead,
            collect,
            stdin_given,
        }))
    }

    /// The second half of [`Executors::run`]: starts a prepared run and runs it to completion.
    /// `exited` is told as soon as the script has ended, before the cleanup after it, so that
    /// the caller can get what comes next ready meanwhile.
    pub async fn run_prepared(
        &self,
        prepared: Prepared,
        log: mpsc::UnboundedSender<LogLine>,
        mut cancel: watch::Receiver<bool>,
        exited: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> anyhow::Result<RunOutcome> {
        let Prepared {
            launch,
            work_dir,
            run_dir,
            baseline,
            limits,
            ahead,
            collect,
            stdin_given,
        } = prepared;
        let (mut child, mut cleanup, oom) = match launch {
            Launch::Sandbox(mut sandbox, script) => {
                sandbox.go(&script).await;
                let oom = sandbox.oom.take();
                (sandbox.child, sandbox.cleanup, oom)
            }
            Launch::Direct(spec, mut cleanup) => {
                let program = spec.program.clone();
                let child = spawn::spawn(spec)
                    .with_context(|| format!("starting {}", program.display()))?;
                cleanup.set_pgid(Some(child.id()));
                (child, cleanup, None)
            }
        };
        let started = Instant::now();
        let stdout = child.stdout.take().context("stdout pipe")?;
        let stderr = child.stderr.take().context("stderr pipe")?;
        let cap = limits.output_cap;
        let mut out_task =
            AbortOnDrop(tokio::spawn(pump(stdout, Stream::Stdout, cap, log.clone())));
        let mut err_task = AbortOnDrop(tokio::spawn(pump(stderr, Stream::Stderr, cap, log)));
        let mut disk_task = AbortOnDrop(tokio::spawn(workdir::watch(
            run_dir,
            baseline,
            limits.artifacts_cap,
            DISK_POLL,
        )));

        let deadline = tokio::time::Instant::now() + limits.wall;
        let mut killed: Option<Kill> = None;
        let status = tokio::select! {
            st = child.wait() => Some(st),
            _ = tokio::time::sleep_until(deadline) => { killed = Some(Kill::Timeout); None }
            _ = cancelled(&mut cancel) => { killed = Some(Kill::Cancel); None }
            v = &mut disk_task.0 => { killed = Some(Kill::Disk(v.unwrap_or_else(|e| e.to_string()))); None }
        };
        let status = match status {
            Some(st) => st.context("waiting for the script")?,
            None => {
                cleanup.kill_group();
                child.start_kill();
                child.wait().await.context("reaping the script")?
            }
        };
        let duration = started.elapsed();
        if let Some(exited) = exited {
            exited.send(()).ok();
        }
        disk_task.0.abort();
        // Anything left in the group (or of the pool uid, wherever it hid) dies now; then the
        // folder goes back to its owner and is read, in one trip to the blocking pool, while the
        // readers drain the pipes. Then, in the background, the run's own uid serves the next
        // sandbox, for the same skill (its environment and warm interpreter); while fewer wait
        // than `warm`, a free uid serves one more, so that the one a run takes has had a whole
        // run to set up. When `warm` wait already and none is this skill's, the one that waited
        // longest makes room.
        cleanup.kill_group();
        let after = cleanup.after_run();
        let wd = work_dir.clone();
        let post = tokio::task::spawn_blocking(move || {
            after.run();
            workdir::collect(&wd, &collect)
        });
        let out = join_reader(&mut out_task).await;
        let err = join_reader(&mut err_task).await;
        let collected = post.await?;
        let missing = self.ready.missing();
        let room = missing > 0 || (self.ready.starts_ahead() && self.ready.evict_unlike(&ahead));
        // The run's own uid was swept with its cleanup; a free one is swept before use.
        let own = cleanup.finish().filter(|_| room).map(|s| (s, false));
        let extra = (missing > 1).then(|| self.pool.try_acquire()).flatten();
        let slots: Vec<(Slot, bool)> = own.into_iter().chain(extra.map(|s| (s, true))).collect();
        if !slots.is_empty() {
            // Most likely what the next run asks for.
            self.ready.start_ahead(slots, ahead);
        }
        let outcome = judge(
            &limits,
            self.ready.config.enabled,
            stdin_given,
            status,
            killed,
            duration,
            &out,
            &err,
            collected,
            oom.map(|watch| watch.fired()),
        );
        tracing::debug!(status = outcome.status.as_str(), reason = ?outcome.reason, ?duration, "run finished");
        Ok(outcome)
    }
}

pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

impl RunOutcome {
    /// A run cancelled while it waited to start.
    pub fn cancelled_before_start() -> RunOutcome {
        RunOutcome {
            status: RunStatus::Cancelled,
            reason: Some("cancelled before start".into()),
            exit_code: None,
            signal: None,
            stdout_truncated: false,
            stderr_truncated: false,
            duration: Duration::ZERO,
            result: None,
            artifacts: Vec::new(),
            written_outside: Vec::new(),
            written_outside_count: 0,
        }
    }
}

/// Only `EXECGOV_[A-Z0-9_]+` (not one of the names the runner sets) and tenant secrets' names
/// (which never name what the platform, the shell or Python use: `model::secrets`), no NUL in
/// values.
fn validate_env(env: &[(String, String)]) -> anyhow::Result<()> {
    for (k, v) in env {
        let platform = k.len() > "EXECGOV_".len()
            && k.starts_with("EXECGOV_")
            && k.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !platform && model::secrets::name_problem(k).is_some() {
            bail!(
                "environment variable {k:?} refused: only EXECGOV_* names and tenant secrets' \
                 names are passed to scripts"
            );
        }
        if sandbox::RESERVED_ENV.contains(&k.as_str()) {
            bail!("environment variable {k} is set by the runner");
        }
        if v.contains('\0') || v.len() > 64 * 1024 {
            bail!("environment variable {k} has a NUL byte or is too long");
        }
    }
    Ok(())
}

/// Arguments are C strings (no NUL); standard input is UTF-8 text (the init writes it with the
/// shell's `printf`) without NUL, at most [`MAX_STDIN`]; globs are well-formed.
fn validate_run_input(req: &RunRequest<'_>) -> anyhow::Result<()> {
    if req.args.iter().any(|a| a.contains('\0')) {
        bail!("an argument has a NUL byte");
    }
    if req.stdin.len() > MAX_STDIN || req.stdin.contains(&0) {
        bail!("standard input has a NUL byte or is larger than {MAX_STDIN} bytes");
    }
    if std::str::from_utf8(&req.stdin).is_err() {
        bail!("standard input is not UTF-8 text");
    }
    for glob in &req.artifacts {
        model::invocation::check_glob(glob)
            .map_err(|m| anyhow::anyhow!("artifact glob {glob:?}: {m}"))?;
    }
    Ok(())
}

/// Resolves when the cancel flag is (or becomes) true; never when the sender is gone.
async fn cancelled(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A spawned helper task that must not outlive the run (also when the run's future is
/// dropped).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The reader's stats; a reader still blocked after the grace period (a pipe held open
/// by a process we could not kill) is aborted.
async fn join_reader(task: &mut AbortOnDrop<PumpStats>) -> PumpStats {
    match tokio::time::timeout(READER_GRACE, &mut task.0).await {
        Ok(Ok(stats)) => stats,
        Ok(Err(_)) => PumpStats::default(),
        Err(_) => {
            task.0.abort();
            tracing::warn!("script output still open after the script ended; stopped reading");
            PumpStats {
                truncated: true,
                ..PumpStats::default()
            }
        }
    }
}

fn human_bytes(b: u64) -> String {
    if b.is_multiple_of(MIB) {
        format!("{} MiB", b / MIB)
    } else if b >= MIB {
        format!("{:.1} MiB", b as f64 / MIB as f64)
    } else {
        format!("{b} bytes")
    }
}

fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Turns the raw facts of a run into a status and a human reason.
#[allow(clippy::too_many_arguments)]
fn judge(
    limits: &Limits,
    sandboxed: bool,
    stdin_given: bool,
    status: std::process::ExitStatus,
    killed: Option<Kill>,
    duration: Duration,
    out: &PumpStats,
    err: &PumpStats,
    collected: workdir::Collected,
    cgroup_oom: Option<bool>,
) -> RunOutcome {
    use std::os::unix::process::ExitStatusExt;

    let mut reasons: Vec<String> = Vec::new();
    let mut exit_code = status.code();
    let mut signal = status.signal();
    // bubblewrap reports a child killed by signal n as exit code 128 + n (as shells do).
    if sandboxed {
        if let Some(c @ 129..=159) = exit_code {
            signal = Some(c - 128);
            exit_code = None;
        }
    }
    let markers = out.markers.merge(&err.markers);

    let mut run_status = match killed {
        Some(Kill::Timeout) => {
            reasons.push(format!("timed out after {}", human_duration(limits.wall)));
            RunStatus::TimedOut
        }
        Some(Kill::Cancel) => {
            reasons.push("cancelled".into());
            RunStatus::Cancelled
        }
        Some(Kill::Disk(why)) => {
            reasons.push(why);
            RunStatus::Failed
        }
        None if exit_code == Some(0) => RunStatus::Succeeded,
        None if cgroup_oom == Some(true) => {
            reasons.push(format!(
                "out of memory: the run's memory limit ({}) was reached",
                human_bytes(limits.memory)
            ));
            RunStatus::Failed
        }
        None => {
            let oom = format!(
                "out of memory (address-space limit {})",
                human_bytes(limits.address_space)
            );
            let why = match signal {
                Some(libc::SIGXCPU) => format!("killed: CPU time limit ({} s)", limits.cpu_seconds),
                Some(libc::SIGXFSZ) => {
                    format!(
                        "killed: file size limit ({})",
                        human_bytes(limits.file_size)
                    )
                }
                Some(_) if markers.oom => oom,
                Some(libc::SIGKILL) => {
                    "killed (SIGKILL: CPU time hard limit or out of memory)".into()
                }
                Some(s) => format!("killed by signal {s}"),
                None if sandboxed && exit_code == Some(1) && err.bwrap_error.is_some() => {
                    let e = err.bwrap_error.as_deref().unwrap_or_default();
                    tracing::error!(error = %e, "sandbox failed to start");
                    format!("sandbox failed to start: {e}")
                }
                None if markers.oom => oom,
                None if markers.file_size => {
                    format!(
                        "file size limit ({}) exceeded",
                        human_bytes(limits.file_size)
                    )
                }
                None if markers.no_space => {
                    format!("disk usage over {}", human_bytes(limits.artifacts_cap))
                }
                None if markers.nproc => {
                    let hold = match cgroup_oom {
                        Some(_) => MemoryHold::Cgroup,
                        None => MemoryHold::ProcessCount,
                    };
                    format!("process limit ({}) reached", limits.process_cap(hold))
                }
                None if markers.keyboard && stdin_given => "the script asked for keyboard \
                    input beyond the answers `stdin` in skill.toml gives"
                    .into(),
                None if markers.keyboard => "the script asked for keyboard input; give its \
                    answers with `stdin = [...]` in skill.toml"
                    .into(),
                None => match exit_code {
                    Some(c) => format!("exit code {c}"),
                    None => "ended abnormally".into(),
                },
            };
            reasons.push(why);
            RunStatus::Failed
        }
    };

    match (out.truncated, err.truncated) {
        (true, true) => reasons.push("output truncated (stdout and stderr)".into()),
        (true, false) => reasons.push("output truncated (stdout)".into()),
        (false, true) => reasons.push("output truncated (stderr)".into()),
        _ => {}
    }
    if let Some(note) = collected.result_note {
        reasons.push(note);
    }
    if collected.too_many {
        reasons.push(format!("more than {MAX_WORK_ENTRIES} files in output/"));
        if run_status == RunStatus::Succeeded {
            run_status = RunStatus::Failed;
        }
    }
    let total: u64 = collected.artifacts.iter().map(|a| a.size).sum();
    if total > limits.artifacts_cap {
        reasons.push(format!(
            "artifacts over {} ({})",
            human_bytes(limits.artifacts_cap),
            human_bytes(total)
        ));
        if run_status == RunStatus::Succeeded {
            run_status = RunStatus::Failed;
        }
    }

    RunOutcome {
        status: run_status,
        reason: if reasons.is_empty() {
            None
        } else {
            Some(reasons.join("; "))
        },
        exit_code,
        signal,
        stdout_truncated: out.truncated,
        stderr_truncated: err.truncated,
        duration,
        result: collected.result,
        artifacts: collected.artifacts,
        written_outside: collected.written_outside,
        written_outside_count: collected.written_outside_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in AssetKind::ALL {
            assert_eq!(AssetKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(AssetKind::parse("http"), None);
    }

    #[test]
    fn env_names_are_checked() {
        let ok = vec![
            ("EXECGOV_EXECUTION_ID".to_string(), "42".to_string()),
            ("CRM_TOKEN".to_string(), "tok-abcdef1234".to_string()),
        ];
        assert!(validate_env(&ok).is_ok());
        for bad in [
            "PATH",
            "LD_PRELOAD",
            "PYTHONPATH",
            "EXECGOV_",
            "execgov_x",
            "EXECGOV_A-B",
            "EXECGOV_INPUTS",
        ] {
            assert!(validate_env(&[(bad.into(), "x".into())]).is_err(), "{bad}");
        }
    }

    #[test]
    fn without_a_memory_cgroup_the_process_count_keeps_a_runs_memory() {
        let l = Limits {
            address_space: 256 * MIB,
            memory: 1024 * MIB,
            processes: 16,
            ..Limits::default()
        };
        assert_eq!(l.process_cap(MemoryHold::ProcessCount), 4);
        assert_eq!(l.process_cap(MemoryHold::Cgroup), 16);
        let tiny = Limits {
            memory: 100 * MIB,
            ..l
        };
        assert_eq!(tiny.process_cap(MemoryHold::ProcessCount), 1);
        assert_eq!(Limits::default().process_cap(MemoryHold::ProcessCount), 8);
        assert_eq!(Limits::default().process_cap(MemoryHold::Cgroup), 64);
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(256 * MIB), "256 MiB");
        assert_eq!(human_duration(Duration::from_secs(60)), "60 s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5 s");
    }
}
