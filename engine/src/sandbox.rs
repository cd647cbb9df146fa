//! The sandbox: the bubblewrap command line, rlimits, the pool of unprivileged uids, and
//! killing whatever a run leaves behind.
//!
//! Layout inside bubblewrap (`--unshare-all`: own user, pid, net, ipc, uts and cgroup
//! namespaces, so no network at all — only a loopback nobody listens on):
//!
//! | path            | what                                                             |
//! |-----------------|------------------------------------------------------------------|
//! | `/usr`          | host `/usr`, read-only; `/bin /lib /lib64 /sbin` as on the host  |
//! | `/etc`          | generated `passwd`/`group`; `localtime`, `ld.so.cache`, and      |
//! |                 | `alternatives` (Debian's `awk`, … are symlinks through it)       |
//! | `/proc`, `/dev` | the sandbox's own; `/dev` read-only with a small `/dev/shm`      |
//! | `/tmp`          | private tmpfs of `Limits::tmp_size`                              |
//! | `/skill`        | the asset version folder, read-only                              |
//! | `/work`         | the run's work folder, read-write, cwd and `HOME`                |
//! | `/env`          | the skill's Python environment, read-only (or an empty one)      |
//!
//! The process runs as a pool uid (root servers) or as the server's own uid, never as
//! root: bubblewrap started by root writes files as root even with `--uid`, so the uid
//! is dropped before bubblewrap is executed.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::interpreter::{self, ENV_MOUNT};
use super::warm::{Ahead, SlotDirs};
use super::{spawn, AssetKind, Limits, MemoryHold, SandboxConfig};

/// Environment names the runner sets itself; callers may not pass them.
pub const RESERVED_ENV: [&str; 4] = [
    "EXECGOV_INPUTS",
    "EXECGOV_FILES",
    "EXECGOV_OUTPUT",
    "EXECGOV_RESULT",
];

/// The sandbox's own processes that count against the init's RLIMIT_NPROC next to the
/// script's: the pid-1 shell. The limit is set on the init, inside the sandbox's user
/// namespace, where (Linux 5.14 and later) only that namespace's tasks count; the outer
/// bubblewrap lives outside it.
const INIT_PROCESSES: u64 = 1;

/// The sandbox's own tasks in the run's pids cgroup next to the script's: the outer bubblewrap
/// as well as the init (the cgroup counts both, whatever their namespace).
pub const CGROUP_SANDBOX_TASKS: u64 = INIT_PROCESSES + 1;

/// Pid 1 inside the sandbox (`bwrap --as-pid-1`): a shell that reads its run from stdin (a
/// script of `export`s and a `set --` naming the interpreter, written by [`go_script`] once the
/// run is known, so that the sandbox can be started ahead of it), runs the interpreter as its
/// child with stdin the run's answers (a file in the private `/tmp` the go script wrote, named
/// by the shell variable `execgov_stdin`) or else `/dev/null`, reaps orphans while it waits for it, and exits with the child's
/// status (128 + n for signal n); with no run (stdin closed empty) it exits 125. bubblewrap's own pid 1 reports the exit status early and is left as a zombie for
/// the host's init to reap, which counts against the next run's RLIMIT_NPROC; a shell as pid 1
/// is reaped by bubblewrap itself. The interpreter must not be pid 1: a namespace's init
/// ignores SIGXCPU and SIGXFSZ. The shell's own job messages ("CPU time limit exceeded") go to
/// /dev/null; the outcome's reason says it better.
///
/// dash (Debian's `/bin/sh`) when the host has it: it costs ~1 ms of CPU where bash costs ~3,
/// and passes its children the environment it was given, apart from bubblewrap's `PWD`, which
/// it unsets. Otherwise the configured shell, with `env -u` dropping what bash adds to its
/// children's environment (`_`, `SHLVL`, `PWD`).
///
/// It also carries the seccomp filter (see `seccomp.rs`) the init and all it starts run under,
/// built once.
#[derive(Clone, Debug)]
pub struct Init {
    shell: PathBuf,
    script: &'static str,
    /// For a sandbox with a warm interpreter: runs its arguments at once, their stdin the
    /// init's (the interpreter itself waits there for its run; see `interpreter.rs`).
    warm_script: &'static str,
    /// `None` when it could not be built (logged at start): then no sandbox starts.
    seccomp: Option<Arc<[u8]>>,
}

const DASH: &str = "/usr/bin/dash";
const DASH_INIT: &str = r#"exec 3>&2 2>/dev/null; unset PWD; . /dev/stdin; exec <"${execgov_stdin:-/dev/null}"; [ $# -gt 0 ] || exit 125; "$@" 2>&3 3>&-; exit $?"#;
const BASH_INIT: &str = r#"exec 3>&2 2>/dev/null; . /dev/stdin; exec <"${execgov_stdin:-/dev/null}"; [ $# -gt 0 ] || exit 125; /usr/bin/env -u _ -u SHLVL -u PWD "$@" 2>&3 3>&-; exit $?"#;
const DASH_WARM: &str = r#"exec 3>&2 2>/dev/null; unset PWD; "$@" 2>&3 3>&-; exit $?"#;
const BASH_WARM: &str =
    r#"exec 3>&2 2>/dev/null; /usr/bin/env -u _ -u SHLVL -u PWD "$@" 2>&3 3>&-; exit $?"#;
/// Where the go script writes a run's standard input, inside the sandbox's private `/tmp`.
const STDIN_FILE: &str = "/tmp/.execgov-stdin";

impl Init {
    /// dash if installed under `/usr` (the sandbox sees only `/usr`), else `cfg.shell`.
    pub fn choose(cfg: &SandboxConfig) -> Init {
        let seccomp = match super::seccomp::build() {
            Ok(bpf) => Some(bpf.into()),
            Err(e) => {
                tracing::error!(error = %e, "building the seccomp filter failed: no script can run");
                None
            }
        };
        if super::is_executable(Path::new(DASH)) {
            Init {
                shell: DASH.into(),
                script: DASH_INIT,
                warm_script: DASH_WARM,
                seccomp,
            }
        } else {
            Init {
                shell: cfg.shell.clone(),
                script: BASH_INIT,
                warm_script: BASH_WARM,
                seccomp,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The uid pool

/// The pool of unprivileged uids, one per concurrent run, used when the server is root.
/// RLIMIT_NPROC counts per uid system-wide, so each run needs a uid of its own.
#[derive(Debug)]
pub struct UidPool {
    inner: Option<Arc<PoolInner>>,
}

#[derive(Debug)]
struct PoolInner {
    size: usize,
    sem: Arc<Semaphore>,
    free: Mutex<Vec<u32>>,
}

impl UidPool {
    /// A pool of `uid_slots` uids when root; none (run as ourselves) otherwise.
    pub fn new(cfg: &SandboxConfig) -> UidPool {
        if !nix::unistd::geteuid().is_root() {
            return UidPool { inner: None };
        }
        let free: Vec<u32> = (0..cfg.uid_slots)
            .rev()
            .filter_map(|i| cfg.first_uid.checked_add(i))
            .filter(|&u| u != 0)
            .collect();
        for &uid in &free {
            if let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
                tracing::warn!(
                    uid,
                    user = %user.name,
                    "a sandbox pool uid belongs to an account; its processes will be killed"
                );
            }
        }
        UidPool {
            inner: Some(Arc::new(PoolInner {
                size: free.len(),
                sem: Arc::new(Semaphore::new(free.len())),
                free: Mutex::new(free),
            })),
        }
    }

    /// A uid for one run (waits while all are busy). The caller sweeps it (see
    /// [`sweep_uid`]) before use, so the run starts with its full process budget.
    pub async fn acquire(&self) -> anyhow::Result<Slot> {
        let Some(inner) = &self.inner else {
            return Ok(Slot::own());
        };
        if inner.size == 0 {
            anyhow::bail!("no sandbox uids configured (uid_slots = 0)");
        }
        let permit = inner
            .sem
            .clone()
            .acquire_owned()
            .await
            .context("uid pool closed")?;
        let uid = inner
            .free
            .lock()
            .map_err(|_| anyhow::anyhow!("uid pool poisoned"))?
            .pop()
            .context("uid pool out of sync")?;
        Ok(Slot {
            uid: Some(uid),
            pool: Some(inner.clone()),
            _permit: Some(permit),
        })
    }

    /// A uid at once, or `None` when all are busy (see [`UidPool::acquire`]).
    pub fn try_acquire(&self) -> Option<Slot> {
        let Some(inner) = &self.inner else {
            return Some(Slot::own());
        };
        let permit = inner.sem.clone().try_acquire_owned().ok()?;
        let uid = inner.free.lock().ok()?.pop()?;
        Some(Slot {
            uid: Some(uid),
            pool: Some(inner.clone()),
            _permit: Some(permit),
        })
    }
}

/// One run's claim on a pool uid (kept by a sandbox started ahead of its run, then by the
/// run); gives it back when dropped.
#[derive(Debug)]
pub struct Slot {
    uid: Option<u32>,
    pool: Option<Arc<PoolInner>>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Slot {
    /// No pool uid: the server is not root, and scripts run as its own uid.
    fn own() -> Slot {
        Slot {
            uid: None,
            pool: None,
            _permit: None,
        }
    }

    /// The pool uid, if any.
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let (Some(uid), Some(pool)) = (self.uid, &self.pool) {
            if let Ok(mut free) = pool.free.lock() {
                free.push(uid);
            }
        }
        // The permit is released after this, when the field drops.
    }
}

// ---------------------------------------------------------------------------------------
// Cleanup

/// Everything that must happen after a run, also when the run's future is dropped
/// half-way: kill the process group and every process of the pool uid, move the work folder's
/// contents back out of a sandbox's own folders, give the work folder back to its owner, then
/// free the uid.
#[derive(Debug)]
pub struct Cleanup {
    pgid: Option<i32>,
    chown_back: Option<(PathBuf, (u32, u32))>,
    dirs: Option<SlotDirs>,
    unstage_to: Option<PathBuf>,
    done: bool,
    // Dropped last: the uid returns to the pool only after the sweep.
    slot: Option<Slot>,
}

impl Cleanup {
    /// Cleanup for a sandbox holding `slot` (and its own folders, `dirs`, if any).
    pub fn new(slot: Slot, dirs: Option<SlotDirs>) -> Cleanup {
        Cleanup {
            pgid: None,
            chown_back: None,
            dirs,
            unstage_to: None,
            done: false,
            slot: Some(slot),
        }
    }

    /// The pool uid the run uses, if any.
    pub fn uid(&self) -> Option<u32> {
        self.slot.as_ref().and_then(Slot::uid)
    }

    /// The sandbox's own folders, if it has them.
    pub fn dirs(&self) -> Option<&SlotDirs> {
        self.dirs.as_ref()
    }

    /// After the run, everything goes back to the run's `work_dir`: moved out of the sandbox's
    /// own work folder (if it has one), then, under a pool uid, `lchown -R` to `owner`.
    pub fn return_to(&mut self, work_dir: PathBuf, owner: (u32, u32)) {
        if self.uid().is_some() {
            self.chown_back = Some((work_dir.clone(), owner));
        }
        if self.dirs.is_some() {
            self.unstage_to = Some(work_dir);
        }
    }

    /// The spawned process's group (it is the group leader).
    pub fn set_pgid(&mut self, pgid: Option<i32>) {
        self.pgid = pgid.filter(|&p| p > 1);
    }

    /// SIGKILL to the whole process group.
    pub fn kill_group(&self) {
        if let Some(pgid) = self.pgid {
            // SAFETY: plain syscall; a missing group is ESRCH, which we ignore.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }

    /// What is left to do once the processes are gone, as a value that can move to a
    /// blocking thread: [`AfterRun::run`]. Until [`Cleanup::finish`], `Drop` still does it all.
    pub fn after_run(&self) -> AfterRun {
        AfterRun {
            uid: self.uid(),
            dirs: self.dirs.clone(),
            unstage_to: self.unstage_to.clone(),
            chown_back: self.chown_back.clone(),
        }
    }

    /// Everything is done; nothing left for `Drop`. Returns the uid's slot, swept, for the
    /// next sandbox.
    pub fn finish(&mut self) -> Option<Slot> {
        self.done = true;
        self.slot.take()
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.kill_group();
        self.after_run().run();
    }
}

/// The blocking part of a run's cleanup (see [`Cleanup::after_run`]).
#[derive(Debug)]
pub struct AfterRun {
    uid: Option<u32>,
    dirs: Option<SlotDirs>,
    unstage_to: Option<PathBuf>,
    chown_back: Option<(PathBuf, (u32, u32))>,
}

impl AfterRun {
    /// Kills every process of the pool uid, wherever it is (setsid, daemonised …), moves the
    /// work folder's contents back and removes the sandbox's own folders, then gives the work
    /// folder back to its owner (failures are logged).
    pub fn run(&self) {
        if let Some(uid) = self.uid {
            sweep_uid(uid);
        }
        if let Some(dirs) = &self.dirs {
            if let Some(work_dir) = &self.unstage_to {
                if let Err(e) = dirs.empty_into(work_dir) {
                    tracing::warn!(error = %e, "moving the work folder back was incomplete");
                }
            }
            dirs.remove();
        }
        if let Some((dir, (uid, gid))) = &self.chown_back {
            if let Err(e) = super::workdir::chown_tree(dir, *uid, *gid) {
                tracing::warn!(error = %e, "giving the work folder back was incomplete");
            }
        }
    }
}

/// Processes (pid, is_zombie) whose real, effective or saved uid is `uid`.
pub fn processes_of_uid(uid: u32) -> Vec<(i32, bool)> {
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return found;
    };
    for ent in rd.flatten() {
        let Some(pid) = ent.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let mut zombie = false;
        let mut mine = false;
        for line in status.lines() {
            if let Some(s) = line.strip_prefix("State:") {
                zombie = s.trim_start().starts_with('Z');
            } else if let Some(u) = line.strip_prefix("Uid:") {
                mine = u
                    .split_whitespace()
                    .take(3)
                    .any(|x| x.parse::<u32>().ok() == Some(uid));
                break;
            }
        }
        if mine {
            found.push((pid, zombie));
        }
    }
    found
}

/// Threads the uid has right now (what RLIMIT_NPROC counts).
fn tasks_of_uid(uid: u32) -> u64 {
    let mut n = 0;
    for (pid, _) in processes_of_uid(uid) {
        let threads = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Threads:"))
                    .and_then(|t| t.trim().parse::<u64>().ok())
            })
            .unwrap_or(1);
        n += threads;
    }
    n
}

/// SIGKILL to every process of `uid`, from a helper that becomes `uid` and calls
/// `kill(-1, SIGKILL)`: one atomic sweep of everything that uid may signal, so a fork bomb
/// cannot outrun it. The helper also tells whether it was the uid's only task; only when it
/// was not is `/proc` scanned, and the sweep repeated until only zombies are left. Never for
/// uid 0.
pub fn sweep_uid(uid: u32) {
    if uid == 0 || !nix::unistd::geteuid().is_root() {
        return;
    }
    for _ in 0..50 {
        if kill_all_as(uid) {
            return;
        }
        // Zombies are ignored: they run nothing and only init can reap them.
        if !processes_of_uid(uid).iter().any(|&(_, zombie)| !zombie) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    tracing::error!(uid, "processes of the sandbox uid survived the sweep");
}

/// The helper's exit codes.
const HELPER_ALONE: libc::c_int = 0;
const HELPER_NOT_ALONE: libc::c_int = 1;
const HELPER_FAILED: libc::c_int = 2;

/// Stack of the helper's own probe child (which only returns).
const PROBE_STACK: usize = 16 * 1024;

struct SweepArgs {
    uid: libc::c_long,
    probe_stack_top: *mut libc::c_void,
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Kills every process of `uid` (see [`sweep_uid`]); `true` when the uid had no task at all
/// apart from the helper, so there is nothing to wait for.
fn kill_all_as(uid: u32) -> bool {
    let mut probe_stack = vec![0u8; PROBE_STACK];
    let top = ((probe_stack.as_mut_ptr() as usize + PROBE_STACK) & !15) as *mut libc::c_void;
    let args = SweepArgs {
        uid: uid as libc::c_long,
        probe_stack_top: top,
    };
    // SAFETY: `sweep_helper` follows the clone_vm rules; `args` and the probe stack live until
    // clone_vm returns, by which time the helper (and its probe child) have exited.
    let helper = unsafe {
        super::spawn::clone_vm(sweep_helper, &args as *const SweepArgs as *mut libc::c_void)
    };
    let code = match helper.and_then(super::spawn::reap_blocking) {
        Ok(st) => st.code(),
        Err(e) => {
            tracing::error!(uid, error = %e, "starting the sweep helper failed");
            None
        }
    };
    drop(probe_stack);
    if code == Some(HELPER_FAILED) {
        tracing::error!(uid, "the sweep helper could not become the sandbox uid");
    }
    code == Some(HELPER_ALONE)
}

/// The sweep helper (a `clone_vm` child: raw syscalls only).
extern "C" fn sweep_helper(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points to the SweepArgs kept alive by kill_all_as; only raw syscalls.
    unsafe {
        let a = &*(arg as *const SweepArgs);
        let u = a.uid;
        if libc::syscall(libc::SYS_setresgid, u, u, u) != 0
            || libc::syscall(libc::SYS_setresuid, u, u, u) != 0
        {
            return HELPER_FAILED;
        }
        // Everything this uid may signal, in any namespace; not the helper itself.
        libc::syscall(
            libc::SYS_kill,
            -1 as libc::c_long,
            libc::SIGKILL as libc::c_long,
        );
        // Was there anything? RLIMIT_NPROC counts every task of the uid (threads and zombies,
        // in every user namespace, as long as they exist). At 2, one more task can be made only
        // while the helper is the uid's only one. A capability would lift the limit: then we
        // cannot tell, and the caller looks in /proc.
        let mut hdr = CapHeader {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let mut caps = [CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        if libc::syscall(
            libc::SYS_capget,
            &mut hdr as *mut CapHeader,
            caps.as_mut_ptr(),
        ) != 0
            || caps[0].effective != 0
            || caps[1].effective != 0
        {
            return HELPER_NOT_ALONE;
        }
        let limit = libc::rlimit64 {
            rlim_cur: 2,
            rlim_max: 2,
        };
        if libc::syscall(
            libc::SYS_prlimit64,
            0 as libc::c_long,
            libc::RLIMIT_NPROC as libc::c_long,
            &limit as *const libc::rlimit64,
            std::ptr::null_mut::<libc::rlimit64>(),
        ) != 0
        {
            return HELPER_NOT_ALONE;
        }
        let pid = libc::clone(
            probe_child,
            a.probe_stack_top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            std::ptr::null_mut(),
        );
        if pid < 0 {
            return HELPER_NOT_ALONE;
        }
        let mut st: libc::c_int = 0;
        while libc::syscall(
            libc::SYS_wait4,
            pid as libc::c_long,
            &mut st as *mut libc::c_int,
            0 as libc::c_long,
            std::ptr::null_mut::<libc::rusage>(),
        ) < 0
            && *libc::__errno_location() == libc::EINTR
        {}
        HELPER_ALONE
    }
}

/// The probe: exists for a moment, then exits.
extern "C" fn probe_child(_: *mut libc::c_void) -> libc::c_int {
    0
}

// ---------------------------------------------------------------------------------------
// The command

/// A pipe whose read end holds `data` (small: it must fit the pipe buffer) for
/// `--ro-bind-data`; the write end is closed.
fn data_pipe(data: &[u8]) -> anyhow::Result<OwnedFd> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut w = std::fs::File::from(w);
    w.write_all(data)?;
    Ok(r)
}

/// How each merged-usr top-level name looks on the host: a symlink to recreate, or a
/// real folder to bind read-only.
pub fn top_level_args(args: &mut Vec<OsString>) {
    for name in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let host = Path::new("/").join(name);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(&host) {
                    args.extend(["--symlink".into(), target.into(), host.into()]);
                }
            }
            Ok(m) if m.is_dir() => {
                args.extend(["--ro-bind".into(), host.clone().into(), host.into()]);
            }
            _ => {}
        }
    }
}

/// The run's resource limits as rlimits for the process that starts the interpreter.
pub fn rlimits(
    cfg: &SandboxConfig,
    limits: &Limits,
    pool_uid: Option<u32>,
    memory: MemoryHold,
) -> Vec<spawn::Rlimit> {
    let mut nproc = limits.process_cap(memory);
    if cfg.enabled {
        nproc += INIT_PROCESSES;
    }
    if pool_uid.is_none() {
        // Not root: RLIMIT_NPROC counts every task of our own uid, the server's threads
        // included, so the budget sits on top of what we already have.
        nproc += tasks_of_uid(nix::unistd::getuid().as_raw());
    }
    let cpu = limits.cpu_seconds.max(1);
    let open_files = limits.open_files.max(16);
    vec![
        (libc::RLIMIT_CORE, 0, 0),
        (libc::RLIMIT_CPU, cpu, cpu + 1),
        (libc::RLIMIT_AS, limits.address_space, limits.address_space),
        (libc::RLIMIT_FSIZE, limits.file_size, limits.file_size),
        (libc::RLIMIT_NOFILE, open_files, open_files),
        (libc::RLIMIT_NPROC, nproc.max(1), nproc.max(1)),
    ]
}

/// (uid, gid) the sandbox runs as: the pool uid (root servers) or our own, never root.
fn sandbox_ids(pool_uid: Option<u32>) -> anyhow::Result<(u32, u32)> {
    let ids = match pool_uid {
        Some(u) => (u, u),
        None => (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        ),
    };
    if ids.0 == 0 {
        anyhow::bail!("refusing to run a script as root");
    }
    Ok(ids)
}

/// A bubblewrap sandbox started before its run is known, and the two pipes that finish it.
pub struct Prestart {
    /// What to spawn.
    pub spec: spawn::Spec,
    /// Where the run goes in: the init's stdin (see [`Init`] and [`go_script`]).
    pub go: OwnedFd,
    /// Where bubblewrap says the init's host pid (`--info-fd`), to set its rlimits.
    pub info: OwnedFd,
}

/// bubblewrap with `skill` bound read-only at `/skill`, `work` read-write at `/work` and the
/// environment of `ahead` at `/env`, its init waiting for the run on stdin (or, for a warm
/// interpreter, running it, and it waits). Limits are set on the init by [`set_rlimits`] once
/// the run is known; until then it runs nothing but bubblewrap and the waiting shell (a warm
/// interpreter sets the limits it was started for on itself first).
pub fn bwrap_command(
    cfg: &SandboxConfig,
    init: &Init,
    (skill, work): (&Path, &Path),
    ahead: &Ahead,
    pool_uid: Option<u32>,
    memory: MemoryHold,
) -> anyhow::Result<Prestart> {
    let (uid, gid) = sandbox_ids(pool_uid)?;
    let passwd = format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n\
         sandbox:x:{uid}:{gid}:ExecGov sandbox:/work:/bin/bash\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    );
    let group = format!("root:x:0:\nsandbox:x:{gid}:\nnogroup:x:65534:\n");
    let passwd_fd = data_pipe(passwd.as_bytes())?;
    let group_fd = data_pipe(group.as_bytes())?;
    let seccomp_fd = data_pipe(init.seccomp.as_deref().context("no seccomp filter")?)?;
    let (info, info_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (go_r, go) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // The init opens it again as /dev/stdin, which checks the pipe's owner and mode.
    nix::unistd::fchown(go_r.as_raw_fd(), Some(uid.into()), Some(gid.into()))?;
    let pyvenv_fd = data_pipe(interpreter::empty_pyvenv_cfg(&cfg.python).as_bytes())?;
    let tmp_size = ahead.tmp_size.max(1024 * 1024).to_string();

    let mut a: Vec<OsString> = Vec::new();
    for s in [
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--as-pid-1",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--hostname",
        "execgov",
        "--ro-bind",
        "/usr",
        "/usr",
    ] {
        a.push(s.into());
    }
    top_level_args(&mut a);
    for s in [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        &tmp_size,
        "--tmpfs",
        "/dev/shm",
        "--remount-ro",
        "/dev",
        "--size",
        &tmp_size,
        "--tmpfs",
        "/tmp",
        "--dir",
        "/etc",
        "--ro-bind-data",
        &passwd_fd.as_raw_fd().to_string(),
        "/etc/passwd",
        "--ro-bind-data",
        &group_fd.as_raw_fd().to_string(),
        "/etc/group",
        "--ro-bind-try",
        "/etc/localtime",
        "/etc/localtime",
        "--ro-bind-try",
        "/etc/ld.so.cache",
        "/etc/ld.so.cache",
        // Debian's alternatives: /usr/bin/awk -> /etc/alternatives/awk -> mawk, …
        "--ro-bind-try",
        "/etc/alternatives",
        "/etc/alternatives",
        "--info-fd",
        &info_w.as_raw_fd().to_string(),
        "--seccomp",
        &seccomp_fd.as_raw_fd().to_string(),
    ] {
        a.push(s.into());
    }
    a.extend([
        "--ro-bind".into(),
        skill.into(),
        "/skill".into(),
        "--bind".into(),
        work.into(),
        "/work".into(),
        "--chdir".into(),
        "/work".into(),
    ]);
    let environment = ahead.environment.as_deref();
    a.extend(interpreter::env_bind_args(
        environment,
        &cfg.python,
        pyvenv_fd.as_raw_fd(),
    ));
    for (k, v) in sandbox_env(Path::new("/work"), Some(Path::new(ENV_MOUNT))) {
        a.extend(["--setenv".into(), k.into(), v.into()]);
    }
    a.push("--".into());
    a.push(init.shell.clone().into());
    a.push("-c".into());
    match &ahead.interpreter {
        None => a.extend([init.script.into(), "execgov-init".into()]),
        Some(warm) => {
            let inside = environment.map(|_| Path::new(ENV_MOUNT));
            let (program, flags) = interpreter::python_command(&cfg.python, inside);
            a.extend([
                init.warm_script.into(),
                "execgov-init".into(),
                program.into(),
            ]);
            a.extend(flags.into_iter().map(OsString::from));
            a.extend(interpreter::warm_args(
                &rlimits(cfg, &warm.limits, pool_uid, memory),
                &warm.preload,
            ));
        }
    }
    let spec = spawn::Spec {
        program: cfg.bwrap.clone(),
        args: a,
        env: Vec::new(),
        cwd: "/".into(),
        // As root: the pool uid, without supplementary groups.
        ids: pool_uid.map(|_| (uid, gid)),
        rlimits: vec![(libc::RLIMIT_CORE, 0, 0)],
        keep_fds: vec![passwd_fd, group_fd, info_w, seccomp_fd, pyvenv_fd],
        stdin: Some(go_r),
        cgroups: Vec::new(),
    };
    Ok(Prestart { spec, go, info })
}

/// What a run is started with, besides its interpreter: see [`super::RunRequest`].
pub struct RunInput<'a> {
    /// The run's own `EXECGOV_*` variables.
    pub env: &'a [(String, String)],
    /// Arguments after the entry file, each one argument.
    pub args: &'a [String],
    /// Standard input; empty: end of file at once.
    pub stdin: &'a [u8],
}

/// The interpreter started directly, for development with the sandbox disabled: a cleared
/// environment, its own process group, rlimits and piped output (see [`spawn::spawn`]); its
/// standard input fed from a thread of its own.
#[allow(clippy::too_many_arguments)]
pub fn direct_command(
    (program, interp_args): (&Path, &[&str]),
    req: &super::RunRequest<'_>,
    script_dir: &Path,
    work_dir: &Path,
    rlimits: Vec<spawn::Rlimit>,
    pool_uid: Option<u32>,
) -> anyhow::Result<spawn::Spec> {
    let kind = req.kind;
    let ids = sandbox_ids(pool_uid)?;
    let mut args: Vec<OsString> = interp_args.iter().map(OsString::from).collect();
    args.push(script_dir.join(kind.entry_file()).into());
    args.extend(req.args.iter().map(OsString::from));
    let mut env = sandbox_env(work_dir, req.environment.as_deref());
    env.extend(req.env.iter().cloned());
    let stdin = if req.stdin.is_empty() {
        None
    } else {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let data = req.stdin.clone();
        // A script that never reads its input closes the pipe: the write fails, and that is fine.
        std::thread::spawn(move || std::fs::File::from(w).write_all(&data).ok());
        Some(r)
    };
    Ok(spawn::Spec {
        program: program.to_path_buf(),
        args,
        env,
        cwd: work_dir.to_path_buf(),
        ids: pool_uid.map(|_| ids),
        rlimits,
        keep_fds: Vec::new(),
        stdin,
        cgroups: Vec::new(),
    })
}

/// What the init of a sandbox reads to start its run (see [`Init`]): the run's own variables
/// exported, its standard input written to a file of the private `/tmp` (by the shell's
/// `printf` builtin: no process is started for it), then the interpreter, the entry file and
/// the run's arguments as the init's arguments; every value quoted, so each argument arrives
/// as one, untouched.
pub fn go_script(
    program: &Path,
    interp_args: &[&str],
    kind: AssetKind,
    run: &RunInput<'_>,
) -> String {
    let mut script = String::new();
    for (k, v) in run.env {
        script.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    if !run.stdin.is_empty() {
        let text = String::from_utf8_lossy(run.stdin);
        script.push_str(&format!(
            "printf '%s' {} >{STDIN_FILE}\nexecgov_stdin={STDIN_FILE}\n",
            shell_quote(&text)
        ));
    }
    script.push_str("set --");
    let entry = Path::new("/skill").join(kind.entry_file());
    let program = program.to_string_lossy();
    let entry = entry.to_string_lossy();
    for arg in std::iter::once(&*program)
        .chain(interp_args.iter().copied())
        .chain(std::iter::once(&*entry))
        .chain(run.args.iter().map(String::as_str))
    {
        script.push(' ');
        script.push_str(&shell_quote(arg));
    }
    script.push('\n');
    script
}

/// `s` as one shell word, literally: single-quoted, each `'` written as `'\''`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Sets `rlimits` on process `pid` (never above its current hard limit). A pool uid's process
/// is changed from a helper that becomes that uid: without CAP_SYS_RESOURCE (containers often
/// drop it) only a process of the same uid may set another's limits.
pub fn set_rlimits(
    pid: i32,
    rlimits: &[spawn::Rlimit],
    pool_uid: Option<u32>,
) -> std::io::Result<()> {
    let Some(uid) = pool_uid else {
        // SAFETY: plain syscalls on locals.
        let failed = unsafe { spawn::set_limits(pid, rlimits.as_ptr(), rlimits.len()) };
        return match failed {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        };
    };
    let args = PrlimitArgs {
        uid: uid as libc::c_long,
        pid,
        rlimits: rlimits.as_ptr(),
        len: rlimits.len(),
    };
    // SAFETY: `prlimit_helper` follows the clone_vm rules; `args` and the rlimits live until
    // clone_vm returns and the helper is reaped.
    let helper = unsafe {
        super::spawn::clone_vm(
            prlimit_helper,
            &args as *const PrlimitArgs as *mut libc::c_void,
        )
    }?;
    let status = super::spawn::reap_blocking(helper)?;
    match status.code() {
        Some(0) => Ok(()),
        Some(errno) if errno > 0 => Err(std::io::Error::from_raw_os_error(errno)),
        _ => Err(std::io::Error::other("the limits helper failed")),
    }
}

struct PrlimitArgs {
    uid: libc::c_long,
    pid: i32,
    rlimits: *const spawn::Rlimit,
    len: usize,
}

/// The limits helper (a `clone_vm` child: raw syscalls only); exits with 0 or an errno.
extern "C" fn prlimit_helper(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points to the PrlimitArgs kept alive by set_rlimits; only raw syscalls.
    unsafe {
        let a = &*(arg as *const PrlimitArgs);
        if libc::syscall(libc::SYS_setresgid, a.uid, a.uid, a.uid) != 0
            || libc::syscall(libc::SYS_setresuid, a.uid, a.uid, a.uid) != 0
        {
            return *libc::__errno_location();
        }
        match spawn::set_limits(a.pid, a.rlimits, a.len) {
            0 => 0,
            _ => *libc::__errno_location(),
        }
    }
}

/// The script's fixed environment: `PATH` (the environment's `bin` first, at `/env` in the
/// sandbox), `HOME`, `LANG` and the `EXECGOV_*` paths under `work` (which is `/work` inside the
/// sandbox); the run's own `EXECGOV_*` come on top.
fn sandbox_env(work: &Path, environment: Option<&Path>) -> Vec<(String, String)> {
    let w = |p: &str| work.join(p).to_string_lossy().into_owned();
    let path = match environment {
        Some(env) => format!("{}:/usr/bin:/bin", env.join("bin").display()),
        None => "/usr/bin:/bin".to_string(),
    };
    vec![
        ("PATH".to_string(), path),
        ("HOME".to_string(), work.to_string_lossy().into_owned()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("EXECGOV_INPUTS".to_string(), w("inputs.json")),
        ("EXECGOV_FILES".to_string(), w("files")),
        ("EXECGOV_OUTPUT".to_string(), w("output")),
        ("EXECGOV_RESULT".to_string(), w("result.json")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_go_script_quotes_every_value() {
        let env = [("EXECGOV_SKILL".to_string(), "it's $(x)\nnext".to_string())];
        let args = ["--in".to_string(), "a b".to_string()];
        let run = RunInput {
            env: &env,
            args: &args,
            stdin: &[],
        };
        let script = go_script(
            Path::new("/usr/bin/python3"),
            &["-I", "-u"],
            AssetKind::Python,
            &run,
        );
        assert_eq!(
            script,
            "export EXECGOV_SKILL='it'\\''s $(x)\nnext'\n\
             set -- '/usr/bin/python3' '-I' '-u' '/skill/main.py' '--in' 'a b'\n"
        );
    }

    #[test]
    fn arguments_and_answers_are_quoted_too() {
        let args = ["--in".to_string(), "a b".to_string(), "$(id)'".to_string()];
        let run = RunInput {
            env: &[],
            args: &args,
            stdin: b"3\n'y'\n",
        };
        let script = go_script(Path::new("/bin/bash"), &[], AssetKind::Shell, &run);
        assert_eq!(
            script,
            "printf '%s' '3\n'\\''y'\\''\n' >/tmp/.execgov-stdin\n\
             execgov_stdin=/tmp/.execgov-stdin\n\
             set -- '/bin/bash' '/skill/main.sh' '--in' 'a b' '$(id)'\\'''\n"
        );
    }
}
