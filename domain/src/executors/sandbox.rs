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
//!
//! The process runs as a pool uid (root servers) or as the server's own uid, never as
//! root: bubblewrap started by root writes files as root even with `--uid`, so the uid
//! is dropped before bubblewrap is executed.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use tokio::process::Command;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{AssetKind, Limits, SandboxConfig};

/// Environment names the runner sets itself; callers may not pass them.
pub const RESERVED_ENV: [&str; 4] = [
    "EXECGOV_INPUTS",
    "EXECGOV_FILES",
    "EXECGOV_OUTPUT",
    "EXECGOV_RESULT",
];

/// The sandbox's own processes (the outer bwrap and the pid-1 shell), which count against
/// the uid's RLIMIT_NPROC next to the script's.
const BWRAP_PROCESSES: u64 = 2;

/// Pid 1 inside the sandbox (`bwrap --as-pid-1`): a shell that runs the interpreter as its
/// child, reaps orphans, and exits with the child's status (128 + n for signal n).
/// bubblewrap's own pid 1 reports the exit status early and is left as a zombie for the
/// host's init to reap, which counts against the next run's RLIMIT_NPROC; a shell as pid 1
/// is reaped by bubblewrap itself. The interpreter must not be pid 1: a namespace's init
/// ignores SIGXCPU and SIGXFSZ. The shell's own job messages ("CPU time limit exceeded")
/// go to /dev/null; the outcome's reason says it better.
///
/// `env -u` drops what bash adds to its children's environment (and bubblewrap's `PWD`).
const INIT_SCRIPT: &str =
    r#"exec 3>&2 2>/dev/null; /usr/bin/env -u _ -u SHLVL -u PWD "$@" 2>&3 3>&-; exit $?"#;

// ---------------------------------------------------------------------------------------
// The uid pool

/// The pool of unprivileged uids, one per concurrent run, used when the server is root.
/// RLIMIT_NPROC counts per uid system-wide, so each run needs a uid of its own.
#[derive(Debug)]
pub struct UidPool {
    inner: Option<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    size: usize,
    sem: Semaphore,
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
            inner: Some(PoolInner {
                size: free.len(),
                sem: Semaphore::new(free.len()),
                free: Mutex::new(free),
            }),
        }
    }

    /// A uid for one run (waits while all are busy); kills any stray process of that uid
    /// first, so the run starts with its full process budget.
    pub async fn acquire(&self) -> anyhow::Result<Slot<'_>> {
        let Some(inner) = &self.inner else {
            return Ok(Slot {
                uid: None,
                pool: None,
                _permit: None,
            });
        };
        if inner.size == 0 {
            anyhow::bail!("no sandbox uids configured (uid_slots = 0)");
        }
        let permit = inner.sem.acquire().await.context("uid pool closed")?;
        let uid = inner
            .free
            .lock()
            .map_err(|_| anyhow::anyhow!("uid pool poisoned"))?
            .pop()
            .context("uid pool out of sync")?;
        let slot = Slot {
            uid: Some(uid),
            pool: Some(inner),
            _permit: Some(permit),
        };
        tokio::task::spawn_blocking(move || sweep_uid(uid)).await?;
        Ok(slot)
    }
}

/// One run's claim on a pool uid; gives it back when dropped.
#[derive(Debug)]
pub struct Slot<'a> {
    uid: Option<u32>,
    pool: Option<&'a PoolInner>,
    _permit: Option<SemaphorePermit<'a>>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let (Some(uid), Some(pool)) = (self.uid, self.pool) {
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
/// half-way: kill the process group and every process of the pool uid, give the work
/// folder back to its owner, then free the uid.
#[derive(Debug)]
pub struct Cleanup<'a> {
    pgid: Option<i32>,
    chown_back: Option<(PathBuf, (u32, u32))>,
    done: bool,
    // Dropped last: the uid returns to the pool only after the sweep.
    slot: Slot<'a>,
}

impl<'a> Cleanup<'a> {
    /// Cleanup for a run holding `slot`.
    pub fn new(slot: Slot<'a>) -> Cleanup<'a> {
        Cleanup {
            pgid: None,
            chown_back: None,
            done: false,
            slot,
        }
    }

    /// The pool uid the run uses, if any.
    pub fn uid(&self) -> Option<u32> {
        self.slot.uid
    }

    /// After the run, `lchown -R` this folder back to `owner`.
    pub fn set_chown_back(&mut self, dir: PathBuf, owner: (u32, u32)) {
        self.chown_back = Some((dir, owner));
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

    /// Kills every process of the pool uid, wherever it is (setsid, daemonised …).
    pub async fn sweep(&self) {
        if let Some(uid) = self.slot.uid {
            let _ = tokio::task::spawn_blocking(move || sweep_uid(uid)).await;
        }
    }

    /// Gives the work folder back to its owner (failures are logged).
    pub async fn chown_back_async(&mut self) -> anyhow::Result<()> {
        if let Some((dir, (uid, gid))) = self.chown_back.take() {
            let res =
                tokio::task::spawn_blocking(move || super::workdir::chown_tree(&dir, uid, gid))
                    .await?;
            if let Err(e) = res {
                tracing::warn!(error = %e, "giving the work folder back was incomplete");
            }
        }
        Ok(())
    }

    /// Everything is done; nothing left for `Drop`.
    pub fn finish(&mut self) {
        self.done = true;
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.kill_group();
        if let Some(uid) = self.slot.uid {
            sweep_uid(uid);
        }
        if let Some((dir, (uid, gid))) = self.chown_back.take() {
            let _ = super::workdir::chown_tree(&dir, uid, gid);
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

/// SIGKILL to every process of `uid`, from a forked helper that becomes `uid` and calls
/// `kill(-1, SIGKILL)`: one atomic sweep of everything that uid may signal, so a fork
/// bomb cannot outrun it. Repeats until only zombies are left. Never for uid 0.
pub fn sweep_uid(uid: u32) {
    if uid == 0 || !nix::unistd::geteuid().is_root() {
        return;
    }
    for _ in 0..50 {
        // Zombies are ignored: they run nothing and only init can reap them.
        if !processes_of_uid(uid).iter().any(|&(_, zombie)| !zombie) {
            return;
        }
        kill_all_as(uid);
        std::thread::sleep(Duration::from_millis(2));
    }
    tracing::error!(uid, "processes of the sandbox uid survived the sweep");
}

fn kill_all_as(uid: u32) {
    // SAFETY: the forked child runs only raw syscalls (no allocation, no locks) and
    // `_exit`s; the parent waits for it by pid.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            let u = uid as libc::c_long;
            if libc::syscall(libc::SYS_setresgid, u, u, u) == 0
                && libc::syscall(libc::SYS_setresuid, u, u, u) == 0
            {
                libc::kill(-1, libc::SIGKILL);
            }
            libc::_exit(0);
        }
        if pid > 0 {
            let mut st = 0;
            while libc::waitpid(pid, &mut st, 0) == -1
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
            {}
        } else {
            tracing::error!(uid, error = %std::io::Error::last_os_error(), "fork for the sweep failed");
        }
    }
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
fn top_level_args(args: &mut Vec<OsString>) {
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

/// The limits to set in the child, computed before fork (nothing is computed after).
#[derive(Clone, Copy)]
struct RlimitPlan {
    cpu: u64,
    address_space: u64,
    file_size: u64,
    open_files: u64,
    nproc: u64,
}

/// Sets soft and hard limit, never above the current hard limit (which we cannot raise).
/// Async-signal-safe: only syscalls.
fn set_rlimit(res: libc::__rlimit_resource_t, soft: u64, hard: u64) -> std::io::Result<()> {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointer to a local.
    if unsafe { libc::getrlimit(res, &mut cur) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let hard = hard.min(cur.rlim_max);
    let new = libc::rlimit {
        rlim_cur: soft.min(hard),
        rlim_max: hard,
    };
    // SAFETY: valid pointer to a local.
    if unsafe { libc::setrlimit(res, &new) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The command for one run: bubblewrap around the interpreter (or the interpreter alone
/// when the sandbox is disabled), with a cleared environment, the pool uid, its own
/// process group, rlimits and piped output.
#[allow(clippy::too_many_arguments)]
pub fn command(
    cfg: &SandboxConfig,
    program: &Path,
    interp_args: &[&str],
    kind: AssetKind,
    script_dir: &Path,
    work_dir: &Path,
    extra_env: &[(String, String)],
    limits: &Limits,
    pool_uid: Option<u32>,
) -> anyhow::Result<Command> {
    let own_uid = nix::unistd::getuid().as_raw();
    let own_gid = nix::unistd::getgid().as_raw();
    let (uid, gid) = match pool_uid {
        Some(u) => (u, u),
        None => (own_uid, own_gid),
    };
    if uid == 0 {
        anyhow::bail!("refusing to run a script as root");
    }
    let mut nproc = limits.processes;
    if cfg.enabled {
        nproc += BWRAP_PROCESSES;
    }
    if pool_uid.is_none() {
        // Not root: RLIMIT_NPROC counts every task of our own uid, the server's threads
        // included, so the budget sits on top of what we already have.
        nproc += tasks_of_uid(own_uid);
    }
    let plan = RlimitPlan {
        cpu: limits.cpu_seconds.max(1),
        address_space: limits.address_space,
        file_size: limits.file_size,
        open_files: limits.open_files.max(16),
        nproc: nproc.max(1),
    };

    let mut keep_fds: Vec<OwnedFd> = Vec::new();
    let mut cmd;
    if cfg.enabled {
        let passwd = format!(
            "root:x:0:0:root:/root:/usr/sbin/nologin\n\
             sandbox:x:{uid}:{gid}:ExecGov sandbox:/work:/bin/bash\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        );
        let group = format!("root:x:0:\nsandbox:x:{gid}:\nnogroup:x:65534:\n");
        let passwd_fd = data_pipe(passwd.as_bytes())?;
        let group_fd = data_pipe(group.as_bytes())?;
        let tmp_size = limits.tmp_size.max(1024 * 1024).to_string();

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
        ] {
            a.push(s.into());
        }
        a.extend([
            "--ro-bind".into(),
            script_dir.into(),
            "/skill".into(),
            "--bind".into(),
            work_dir.into(),
            "/work".into(),
            "--chdir".into(),
            "/work".into(),
        ]);
        for (k, v) in sandbox_env(Path::new("/work"), extra_env) {
            a.extend(["--setenv".into(), k.into(), v.into()]);
        }
        a.push("--".into());
        a.extend([
            cfg.shell.clone().into(),
            "-c".into(),
            INIT_SCRIPT.into(),
            "execgov-init".into(),
        ]);
        a.push(program.into());
        a.extend(interp_args.iter().map(OsString::from));
        a.push(Path::new("/skill").join(kind.entry_file()).into());

        cmd = Command::new(&cfg.bwrap);
        cmd.args(a).env_clear().current_dir("/");
        keep_fds.push(passwd_fd);
        keep_fds.push(group_fd);
    } else {
        cmd = Command::new(program);
        cmd.args(interp_args)
            .arg(script_dir.join(kind.entry_file()))
            .env_clear()
            .envs(sandbox_env(work_dir, extra_env))
            .current_dir(work_dir);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if pool_uid.is_some() {
        // std drops the supplementary groups too when it changes uid as root.
        cmd.uid(uid).gid(gid);
    }

    let raw_fds: Vec<i32> = keep_fds.iter().map(|f| f.as_raw_fd()).collect();
    // SAFETY: the closure runs between fork and exec (after std's setgid/setuid) and
    // makes only async-signal-safe syscalls; the fds it names are owned by the closure,
    // which lives as long as the Command.
    unsafe {
        cmd.pre_exec(move || {
            let _owned = &keep_fds;
            // Nothing of the server's leaks into the sandbox, except the data pipes.
            const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_CLOEXEC,
            );
            for &fd in &raw_fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            set_rlimit(libc::RLIMIT_CORE, 0, 0)?;
            set_rlimit(libc::RLIMIT_CPU, plan.cpu, plan.cpu + 1)?;
            set_rlimit(libc::RLIMIT_AS, plan.address_space, plan.address_space)?;
            set_rlimit(libc::RLIMIT_FSIZE, plan.file_size, plan.file_size)?;
            set_rlimit(libc::RLIMIT_NOFILE, plan.open_files, plan.open_files)?;
            set_rlimit(libc::RLIMIT_NPROC, plan.nproc, plan.nproc)?;
            // If the server dies, so does the sandbox (bubblewrap's --die-with-parent
            // takes it from there).
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
    Ok(cmd)
}

/// The script's whole environment: `PATH`, `HOME`, `LANG` and `EXECGOV_*` (paths under
/// `work`, which is `/work` inside the sandbox).
fn sandbox_env(work: &Path, extra: &[(String, String)]) -> Vec<(String, String)> {
    let w = |p: &str| work.join(p).to_string_lossy().into_owned();
    let mut env = vec![
        ("PATH".to_string(), "/usr/bin:/bin".to_string()),
        ("HOME".to_string(), work.to_string_lossy().into_owned()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("EXECGOV_INPUTS".to_string(), w("inputs.json")),
        ("EXECGOV_FILES".to_string(), w("files")),
        ("EXECGOV_OUTPUT".to_string(), w("output")),
        ("EXECGOV_RESULT".to_string(), w("result.json")),
    ];
    env.extend(extra.iter().cloned());
    env
}
