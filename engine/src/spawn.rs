//! Starting the sandbox without `fork`.
//!
//! `std`/`tokio` start a process that changes uid, sets rlimits or runs a `pre_exec` hook with
//! `fork`, which copies the page tables of the whole server (≈1–2 ms, then copy-on-write
//! faults) for a child that execs at once. This module starts it as `posix_spawn` does: with
//! `clone(CLONE_VM | CLONE_VFORK)` on a stack of its own, the child sharing our memory until it
//! execs, and the calling thread suspended until then. The same primitive runs the uid sweep's
//! helper (`sandbox::kill_all_as`).
//!
//! Rules for code that runs in such a child (`child_main`, and the helpers' entry points):
//! plain syscalls only, and the credential changes as raw `syscall`s (glibc's `setuid` & co.
//! would signal the *server's* threads to change theirs); no allocation, no locks, no panics;
//! everything it reads is prepared beforehand.
//!
//! A child that changes its uid while it shares our memory marks that memory non-dumpable (the
//! kernel does it for any credential change); [`clone_vm`] restores the flag once the child has
//! exec'd or exited, serialised so that no such child ever runs with the flag restored.

use std::ffi::{c_int, c_void, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::net::unix::pipe;

/// Stack of a `clone_vm` child: it runs a few syscalls with small frames.
const STACK: usize = 64 * 1024;

/// Serialises the `clone_vm` children (see the module comment); held from `clone` until the
/// child has exec'd or exited.
static CLONE_LOCK: Mutex<()> = Mutex::new(());

/// Runs `f(arg)` in a child that shares our memory, on a stack of its own, with every signal
/// blocked; returns once the child has exec'd or exited, with its pid (not yet reaped).
///
/// # Safety
/// `f` must follow the rules in the module comment, and `arg` must stay valid (and unchanged)
/// until this returns.
pub unsafe fn clone_vm(
    f: extern "C" fn(*mut c_void) -> c_int,
    arg: *mut c_void,
) -> io::Result<i32> {
    let mut stack = vec![0u8; STACK];
    // The stack grows down from its 16-byte aligned top.
    let top = ((stack.as_mut_ptr() as usize + STACK) & !15) as *mut c_void;
    let _serial = CLONE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dumpable = libc::prctl(libc::PR_GET_DUMPABLE);
    let mut all: libc::sigset_t = std::mem::zeroed();
    let mut old: libc::sigset_t = std::mem::zeroed();
    libc::sigfillset(&mut all);
    // The child inherits the mask: no handler of ours may run on its stack.
    libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    let pid = libc::clone(
        f,
        top,
        libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
        arg,
    );
    let err = io::Error::last_os_error();
    libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    if dumpable >= 0 && libc::prctl(libc::PR_GET_DUMPABLE) != dumpable {
        libc::prctl(libc::PR_SET_DUMPABLE, dumpable as libc::c_ulong);
    }
    drop(stack);
    if pid < 0 {
        Err(err)
    } else {
        Ok(pid)
    }
}

/// Reaps `pid`, waiting for it.
pub fn reap_blocking(pid: i32) -> io::Result<ExitStatus> {
    let mut st = 0;
    loop {
        // SAFETY: plain syscall on a local.
        if unsafe { libc::waitpid(pid, &mut st, 0) } == pid {
            return Ok(ExitStatus::from_raw(st));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// One resource limit to set in the child: `(resource, soft, hard)`, never above the current
/// hard limit.
pub type Rlimit = (libc::__rlimit_resource_t, u64, u64);

/// What to start.
pub struct Spec {
    /// The executable (absolute path; no `PATH` search).
    pub program: PathBuf,
    /// `argv[1..]`.
    pub args: Vec<std::ffi::OsString>,
    /// The whole environment.
    pub env: Vec<(String, String)>,
    /// The working directory.
    pub cwd: PathBuf,
    /// Become this (uid, gid), with no supplementary groups.
    pub ids: Option<(u32, u32)>,
    /// Set after the ids, so RLIMIT_NPROC counts the new uid's tasks.
    pub rlimits: Vec<Rlimit>,
    /// Descriptors the child keeps at the same numbers (everything else from 3 up is closed).
    pub keep_fds: Vec<OwnedFd>,
    /// Its stdin; `/dev/null` when `None`.
    pub stdin: Option<OwnedFd>,
    /// `cgroup.procs` files (open for writing) it writes its pid into before it drops its
    /// ids, so that everything it starts is in those cgroups (see `cgroup.rs`).
    pub cgroups: Vec<OwnedFd>,
}

/// A started child: its own process group, stdin as the spec says, stdout and stderr piped.
/// Dropping it before it was waited for kills and reaps it.
pub struct Child {
    pid: i32,
    pidfd: Option<AsyncFd<OwnedFd>>,
    status: Option<ExitStatus>,
    /// Its stdout, until taken.
    pub stdout: Option<pipe::Receiver>,
    /// Its stderr, until taken.
    pub stderr: Option<pipe::Receiver>,
}

/// Everything `child_main` reads, prepared by the parent.
struct ChildArgs {
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    ids: Option<(u32, u32)>,
    stdio: [RawFd; 3],
    keep: *const RawFd,
    keep_len: usize,
    rlimits: *const Rlimit,
    rlimits_len: usize,
    cgroups: *const RawFd,
    cgroups_len: usize,
    err_fd: RawFd,
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in an argument"))
}

fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: valid pointer to a 2-int array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and ours.
    unsafe { Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

/// A descriptor numbered 3 or above (close-on-exec), so that the child's `dup2` onto 0–2 never
/// meets its own source (possible when the server runs with a standard stream closed).
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: plain syscall; the result is a fresh descriptor.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh and ours.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Starts `spec` (see [`Child`]).
pub fn spawn(spec: Spec) -> io::Result<Child> {
    let path = cstring(spec.program.as_os_str())?;
    let mut argv_owned = vec![path.clone()];
    for a in &spec.args {
        argv_owned.push(cstring(a)?);
    }
    let envp_owned: Vec<CString> = spec
        .env
        .iter()
        .map(|(k, v)| cstring(OsStr::new(&format!("{k}={v}"))))
        .collect::<io::Result<_>>()?;
    let mut argv: Vec<*const libc::c_char> = argv_owned.iter().map(|s| s.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = envp_owned.iter().map(|s| s.as_ptr()).collect();
    envp.push(std::ptr::null());
    let cwd = cstring(spec.cwd.as_os_str())?;

    let stdin = match spec.stdin {
        Some(fd) => fd,
        None => OwnedFd::from(std::fs::OpenOptions::new().read(true).open("/dev/null")?),
    };
    let stdin = above_stdio(stdin)?;
    let (out_r, out_w) = pipe_cloexec()?;
    let (err_r, err_w) = pipe_cloexec()?;
    let (out_w, err_w) = (above_stdio(out_w)?, above_stdio(err_w)?);
    let (report_r, report_w) = pipe_cloexec()?;
    let keep: Vec<RawFd> = spec.keep_fds.iter().map(|f| f.as_raw_fd()).collect();
    let cgroups: Vec<RawFd> = spec.cgroups.iter().map(|f| f.as_raw_fd()).collect();

    let args = ChildArgs {
        path: path.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: cwd.as_ptr(),
        ids: spec.ids,
        stdio: [stdin.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()],
        keep: keep.as_ptr(),
        keep_len: keep.len(),
        rlimits: spec.rlimits.as_ptr(),
        rlimits_len: spec.rlimits.len(),
        cgroups: cgroups.as_ptr(),
        cgroups_len: cgroups.len(),
        err_fd: report_w.as_raw_fd(),
    };
    // SAFETY: `child_main` follows the clone_vm rules; `args` and everything it points to
    // live until clone_vm returns.
    let pid = unsafe { clone_vm(child_main, &args as *const ChildArgs as *mut c_void)? };
    drop((stdin, out_w, err_w, report_w, spec.keep_fds, spec.cgroups));

    // The child has exec'd (the report pipe closed with it) or failed and said why.
    let mut report = [0u8; 8];
    let mut got = 0;
    while got < report.len() {
        // SAFETY: reading into a local buffer.
        let n = unsafe {
            libc::read(
                report_r.as_raw_fd(),
                report[got..].as_mut_ptr() as *mut c_void,
                report.len() - got,
            )
        };
        if n > 0 {
            got += n as usize;
        } else if n == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break;
        }
    }
    if got == report.len() {
        let _ = reap_blocking(pid);
        let step = i32::from_ne_bytes([report[0], report[1], report[2], report[3]]);
        let errno = i32::from_ne_bytes([report[4], report[5], report[6], report[7]]);
        let err = io::Error::from_raw_os_error(errno);
        return Err(io::Error::new(
            err.kind(),
            format!("{} ({})", err, STEPS.get(step as usize).unwrap_or(&"?")),
        ));
    }

    let mut child = Child {
        pid,
        pidfd: None,
        status: None,
        stdout: None,
        stderr: None,
    };
    // Nobody else reaps our children, so the pid is ours until we wait: pidfd_open cannot race.
    // SAFETY: plain syscall.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd >= 0 {
        // SAFETY: a fresh descriptor, owned by the AsyncFd (and never replaced) from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
        let registered =
            unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) };
        child.pidfd = Some(registered.map_err(io::Error::from)?);
    }
    child.stdout = Some(pipe::Receiver::from_owned_fd(out_r)?);
    child.stderr = Some(pipe::Receiver::from_owned_fd(err_r)?);
    Ok(child)
}

impl Child {
    /// The process id (= its process group id).
    pub fn id(&self) -> i32 {
        self.pid
    }

    fn try_reap(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(st) = self.status {
            return Ok(Some(st));
        }
        let mut st = 0;
        loop {
            // SAFETY: plain syscall on a local.
            let r = unsafe { libc::waitpid(self.pid, &mut st, libc::WNOHANG) };
            if r == self.pid {
                let status = ExitStatus::from_raw(st);
                self.status = Some(status);
                return Ok(Some(status));
            }
            if r == 0 {
                return Ok(None);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Whether it has exited (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.try_reap(), Ok(None))
    }

    /// Waits for the child to exit and reaps it. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(st) = self.try_reap()? {
                return Ok(st);
            }
            match &self.pidfd {
                Some(fd) => {
                    let mut ready = fd.readable().await?;
                    // A pidfd is readable once the process has exited; reap on the next turn.
                    ready.clear_ready();
                    if let Some(st) = self.try_reap()? {
                        return Ok(st);
                    }
                }
                // Kernels before 5.3 have no pidfd_open: poll.
                None => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
    }

    /// SIGKILL to the child (not to its group), unless it was reaped already.
    pub fn start_kill(&self) {
        if self.status.is_none() {
            // SAFETY: the pid is not reaped yet, so it is still our child's.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            self.start_kill();
            let _ = reap_blocking(self.pid);
        }
    }
}

/// What `child_main` was doing when it failed, by the number it reports.
const STEPS: [&str; 9] = [
    "signals",
    "process group",
    "standard streams",
    "descriptors",
    "dropping to the sandbox uid",
    "resource limits",
    "working directory",
    "exec",
    "joining its cgroup",
];

/// The child: runs between `clone` and `execve`, sharing the parent's memory (see the module
/// comment for what it may do). On failure it writes (step, errno) to the report pipe and
/// exits 127.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: the parent keeps `ChildArgs` and all it points to alive until we exec or exit;
    // everything below is a raw syscall or a read of that data.
    unsafe {
        let a = &*(arg as *const ChildArgs);
        let fail = |step: i32| -> c_int {
            let errno = *libc::__errno_location();
            let mut msg = [0u8; 8];
            let s = step.to_ne_bytes();
            let e = errno.to_ne_bytes();
            let mut i = 0;
            while i < 4 {
                msg[i] = s[i];
                msg[4 + i] = e[i];
                i += 1;
            }
            libc::write(a.err_fd, msg.as_ptr() as *const c_void, 8);
            127
        };

        // 0. Default dispositions for whatever the server handles, and for SIGPIPE (which
        // Rust ignores, and an ignored signal stays ignored across exec).
        let mut sig = 1;
        while sig < 65 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                    && (sig == libc::SIGPIPE
                        || (old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN))
                {
                    let mut dfl: libc::sigaction = std::mem::zeroed();
                    dfl.sa_sigaction = libc::SIG_DFL;
                    if libc::sigaction(sig, &dfl, std::ptr::null_mut()) != 0 {
                        return fail(0);
                    }
                }
            }
            sig += 1;
        }
        // 1. Its own process group, so the whole group can be killed.
        if libc::setpgid(0, 0) != 0 {
            return fail(1);
        }
        // 2. stdin, stdout and stderr (dup2 clears close-on-exec).
        let mut i = 0;
        while i < 3 {
            if libc::dup2(a.stdio[i], i as c_int) < 0 {
                return fail(2);
            }
            i += 1;
        }
        // 3. Nothing of the server's leaks in, except the descriptors to keep.
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        let mut i = 0;
        while i < a.keep_len {
            if libc::fcntl(*a.keep.add(i), libc::F_SETFD, 0) != 0 {
                return fail(3);
            }
            i += 1;
        }
        // 3b. Into its cgroups while still root (their files are root's): its pid in decimal.
        if a.cgroups_len > 0 {
            let mut digits = [0u8; 20];
            let mut n = libc::syscall(libc::SYS_getpid) as u64;
            let mut start = digits.len();
            loop {
                start -= 1;
                digits[start] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            let mut i = 0;
            while i < a.cgroups_len {
                let len = digits.len() - start;
                if libc::write(
                    *a.cgroups.add(i),
                    digits.as_ptr().add(start) as *const c_void,
                    len,
                ) != len as isize
                {
                    return fail(8);
                }
                i += 1;
            }
        }
        // 4. The sandbox uid, without supplementary groups (raw syscalls: this task only).
        if let Some((uid, gid)) = a.ids {
            let (u, g) = (uid as libc::c_long, gid as libc::c_long);
            if libc::syscall(
                libc::SYS_setgroups,
                0 as libc::c_long,
                std::ptr::null::<libc::gid_t>(),
            ) != 0
                || libc::syscall(libc::SYS_setresgid, g, g, g) != 0
                || libc::syscall(libc::SYS_setresuid, u, u, u) != 0
            {
                return fail(4);
            }
        }
        // 5. Limits, after the uid change (RLIMIT_NPROC counts the new uid's tasks); then the
        // parent-death signal, which a uid change would clear.
        if set_limits(0, a.rlimits, a.rlimits_len) != 0 {
            return fail(5);
        }
        // If the server dies, so does the sandbox (bubblewrap's --die-with-parent takes it
        // from there).
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        // 6.
        if libc::chdir(a.cwd) != 0 {
            return fail(6);
        }
        // 7. Signals unblocked (the mask survives exec), then exec.
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK as libc::c_long,
            &none as *const libc::sigset_t,
            std::ptr::null_mut::<libc::sigset_t>(),
            8 as libc::c_long,
        );
        libc::syscall(libc::SYS_execve, a.path, a.argv, a.envp);
        fail(7)
    }
}

/// prlimit64 on `pid` (0: the caller) for each of the `len` rlimits at `rlimits`, each clamped
/// to the process's current hard limit; 0, or -1 with errno set. Raw syscalls only: it runs in
/// `clone_vm` children too.
///
/// # Safety
/// `rlimits` must point to `len` valid entries.
pub unsafe fn set_limits(pid: i32, rlimits: *const Rlimit, len: usize) -> c_int {
    let mut i = 0;
    while i < len {
        let (res, soft, hard) = *rlimits.add(i);
        let mut cur = libc::rlimit64 {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::syscall(
            libc::SYS_prlimit64,
            pid as libc::c_long,
            res as libc::c_long,
            std::ptr::null::<libc::rlimit64>(),
            &mut cur as *mut libc::rlimit64,
        ) != 0
        {
            return -1;
        }
        let hard = if hard < cur.rlim_max {
            hard
        } else {
            cur.rlim_max
        };
        let new = libc::rlimit64 {
            rlim_cur: if soft < hard { soft } else { hard },
            rlim_max: hard,
        };
        if libc::syscall(
            libc::SYS_prlimit64,
            pid as libc::c_long,
            res as libc::c_long,
            &new as *const libc::rlimit64,
            std::ptr::null_mut::<libc::rlimit64>(),
        ) != 0
        {
            return -1;
        }
        i += 1;
    }
    0
}
