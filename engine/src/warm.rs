//! Sandboxes started ahead of their runs.
//!
//! Setting up bubblewrap's namespaces and mounts costs about as much as Python's own start, so
//! once a run has ended the executor starts the next sandbox in the background, on the uid it
//! has just swept. Such a sandbox has folders of its own ([`SlotDirs`]) bound at `/skill` and
//! `/work`, empty, and its init waits on stdin (see `sandbox::Init`). When its run is prepared
//! (`Executors::prepare`; a worker does it while its previous run still goes on), the skill
//! folder is linked (or, into a tmpfs, copied) into `skill/`, the work folder's contents are
//! moved (renamed, or copied) into `work/` and the init gets its rlimits ([`Prestarted::limit`]); when
//! the run starts, the init is told what to run ([`Prestarted::go`]). Afterwards the contents
//! move back and the folders are removed. Nothing of a run is there before it is prepared, and
//! the uid, the folders and the namespaces serve one run only.
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

use super::cgroup::{OomWatch, RunCgroup};
use super::sandbox::{self, Cleanup, Init};
use super::{spawn, Limits, MemoryHold, SandboxConfig, MAX_WORK_ENTRIES};

/// How long bubblewrap may take to report the init's pid.
const INFO_TIMEOUT: Duration = Duration::from_secs(30);

/// Names each sandbox's folders uniquely within the process.
static NEXT_SLOT: AtomicU64 = AtomicU64::new(0);

/// A sandbox's own folders under the warm folder: `skill/` (root's, bound read-only) and
/// `work/` (the pool uid's, bound read-write).
///
/// On a root server they are a tmpfs of their own ([`Storage::Tmpfs`]): sized when the run is
/// put in at what it brought plus the disk cap (and as many more entries as a run may make), so
/// the kernel refuses a write past the cap at once, however fast, and counts files deleted
/// while still open; and the sandbox's mount table shows `/skill` and `/work` of a tmpfs, no
/// host path. tmpfs is memory (swappable): a run's cap (50 MiB by default) and its inputs, as
/// much as its `/tmp` already was. The run's files are copied in and out instead of renamed.
#[derive(Clone, Debug)]
pub struct SlotDirs {
    root: PathBuf,
    /// Bound at `/skill`.
    pub skill: PathBuf,
    /// Bound at `/work`.
    pub work: PathBuf,
    storage: Storage,
}

/// Where a sandbox's folders live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// On the work folders' filesystem; the run's files are renamed in and out, and the disk
    /// cap is only checked by sampling (not root, or mounting refused).
    Plain,
    /// A tmpfs of their own (see [`SlotDirs`]).
    Tmpfs,
}

impl SlotDirs {
    /// Fresh, empty folders under `base`, `work/` owned by `uid`; `skill/` readable by `uid`
    /// only (group `uid`), when there is one.
    pub fn create(base: &Path, uid: Option<u32>, storage: Storage) -> io::Result<SlotDirs> {
        let n = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
        let root = base.join(format!("{}-{n}", std::process::id()));
        // The pool uids open the bind sources, so every level must let them through.
        fs::create_dir(&root)?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o711))?;
        let dirs = SlotDirs {
            skill: root.join("skill"),
            work: root.join("work"),
            root,
            storage,
        };
        if storage == Storage::Tmpfs {
            if let Err(e) = mount_tmpfs(&dirs.root, 0) {
                dirs.remove();
                return Err(e);
            }
        }
        let made = (|| {
            let skill_mode = if uid.is_some() { 0o750 } else { 0o755 };
            for (dir, mode) in [(&dirs.skill, skill_mode), (&dirs.work, 0o700)] {
                fs::create_dir(dir)?;
                fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
            }
            if let Some(uid) = uid {
                std::os::unix::fs::lchown(&dirs.skill, None, Some(uid))?;
                std::os::unix::fs::lchown(&dirs.work, Some(uid), Some(uid))?;
            }
            Ok(())
        })();
        match made {
            Ok(()) => Ok(dirs),
            Err(e) => {
                dirs.remove();
                Err(e)
            }
        }
    }

    /// Puts the run in: `script_dir`'s files into `skill/` (linked, or copied into a tmpfs),
    /// `work_dir`'s entries into `work/` (moved) and handed to `uid`; a tmpfs is then sized at
    /// what it holds plus `cap`. Returns the size of what `work/` then holds (the baseline of
    /// the run's disk cap). On failure the caller's cleanup moves back what moved.
    pub fn fill(
        &self,
        script_dir: &Path,
        work_dir: &Path,
        uid: Option<u32>,
        cap: u64,
    ) -> io::Result<u64> {
        match self.storage {
            Storage::Plain => {
                link_tree(script_dir, &self.skill)?;
                move_entries(work_dir, &self.work)?;
            }
            Storage::Tmpfs => {
                copy_tree(script_dir, &self.skill, u64::MAX)?;
                copy_tree(work_dir, &self.work, u64::MAX)?;
                for entry in fs::read_dir(work_dir)? {
                    let path = entry?.path();
                    if fs::symlink_metadata(&path)?.is_dir() {
                        fs::remove_dir_all(&path)?;
                    } else {
                        fs::remove_file(&path)?;
                    }
                }
            }
        }
        if let Some(uid) = uid {
            super::workdir::chown_tree(&self.work, uid, uid)?;
        }
        if self.storage == Storage::Tmpfs {
            let st = nix::sys::statvfs::statvfs(&self.root)?;
            let used = (st.blocks() - st.blocks_free()) as u64 * st.fragment_size() as u64;
            let inodes = (st.files() - st.files_free()) as u64;
            resize_tmpfs(
                &self.root,
                used.saturating_add(cap),
                inodes + MAX_WORK_ENTRIES,
            )?;
        }
        Ok(super::workdir::usage(&self.work, u64::MAX).bytes)
    }

    /// Moves everything in `work/` back into `work_dir` (from a tmpfs: copies, at most the
    /// tmpfs's size of files, so that files the run made sparse or hard-linked cannot multiply
    /// on the host's disk).
    pub fn empty_into(&self, work_dir: &Path) -> io::Result<()> {
        match self.storage {
            Storage::Plain => move_entries(&self.work, work_dir),
            Storage::Tmpfs => {
                let st = nix::sys::statvfs::statvfs(&self.root)?;
                let size = st.blocks() as u64 * st.fragment_size() as u64;
                copy_tree(&self.work, work_dir, size)
            }
        }
    }

    /// Removes the folders (failures are logged).
    pub fn remove(&self) {
        if self.storage == Storage::Tmpfs {
            unmount(&self.root);
        }
        if let Err(e) = fs::remove_dir_all(&self.root) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %self.root.display(), error = %e, "removing a sandbox's folders failed");
            }
        }
    }
}

/// Empties `base` of folders a stopped server left behind (unmounting its tmpfs mounts first),
/// creating it if needed.
pub fn reset_base(base: &Path) -> io::Result<()> {
    if fs::symlink_metadata(base).is_ok() {
        if let Ok(base) = base.canonicalize() {
            for point in mounts_under(&base) {
                unmount(&point);
            }
        }
        fs::remove_dir_all(base)?;
    }
    fs::create_dir_all(base)?;
    fs::set_permissions(base, fs::Permissions::from_mode(0o711))
}

/// Whether this process may give sandboxes a tmpfs of their own under `base` (root, and
/// allowed to mount: containers often are not).
pub fn tmpfs_storage(base: &Path) -> Storage {
    if !nix::unistd::geteuid().is_root() {
        return Storage::Plain;
    }
    let probe = base.join("probe");
    let storage = match fs::create_dir(&probe).and_then(|()| mount_tmpfs(&probe, 1)) {
        Ok(()) => {
            unmount(&probe);
            Storage::Tmpfs
        }
        Err(e) => {
            tracing::debug!(error = %e, "mounting a tmpfs failed");
            Storage::Plain
        }
    };
    fs::remove_dir(&probe).ok();
    storage
}

/// Mount points at or below `base` (from `/proc/self/mountinfo`), deepest first.
fn mounts_under(base: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mount_path(p)))
        .filter(|p| p.starts_with(base))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found
}

/// `/proc/self/mountinfo` writes space, tab, newline and backslash as `\ooo`.
pub(super) fn unescape_mount_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(c as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A tmpfs at `at`, `nosuid,nodev`, mode 0711 (not `noexec`: it would not stop
/// `python3 /work/x.py`). `size` 0: unlimited until [`resize_tmpfs`] (only root writes to it
/// before then).
fn mount_tmpfs(at: &Path, size: u64) -> io::Result<()> {
    let opts = if size == 0 {
        "mode=0711".to_string()
    } else {
        format!("mode=0711,size={size}")
    };
    tmpfs_call(at, 0, &opts)
}

/// Sets the size and inode count of the tmpfs at `at` (never below what it holds).
fn resize_tmpfs(at: &Path, size: u64, inodes: u64) -> io::Result<()> {
    // A size of 0 would mean unlimited.
    let size = size.max(4096);
    let opts = format!("size={size},nr_inodes={inodes}");
    tmpfs_call(at, libc::MS_REMOUNT, &opts)
}

fn tmpfs_call(at: &Path, extra: libc::c_ulong, opts: &str) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let target = std::ffi::CString::new(at.as_os_str().as_bytes())?;
    let opts = std::ffi::CString::new(opts)?;
    // SAFETY: NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::mount(
            c"execgov".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | extra,
            opts.as_ptr().cast(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Detaches the mount at `at` (a sandbox may still hold it; it goes with the sandbox).
fn unmount(at: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(target) = std::ffi::CString::new(at.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: a NUL-terminated string that outlives the call.
    if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) && e.raw_os_error() != Some(libc::ENOENT) {
            tracing::warn!(path = %at.display(), error = %e, "unmounting a sandbox's tmpfs failed");
        }
    }
}

/// Copies the tree `from` into `to` (which exists): folders, regular files (at most `budget`
/// bytes of them, by apparent size; past it the rest is left out and the error says so) and
/// symlinks as symlinks; never following one. Anything else is skipped.
fn copy_tree(from: &Path, to: &Path, budget: u64) -> io::Result<()> {
    let mut left = budget;
    let mut stack = vec![(from.to_path_buf(), to.to_path_buf())];
    while let Some((src, dst)) = stack.pop() {
        for entry in fs::read_dir(&src)? {
            let entry = entry?;
            let (s, d) = (entry.path(), dst.join(entry.file_name()));
            let meta = fs::symlink_metadata(&s)?;
            let kind = meta.file_type();
            if kind.is_dir() {
                fs::create_dir(&d)?;
                fs::set_permissions(&d, fs::Permissions::from_mode(meta.mode() & 0o777))?;
                stack.push((s, d));
            } else if kind.is_file() {
                let Some(rest) = left.checked_sub(meta.len()) else {
                    return Err(io::Error::new(
                        io::ErrorKind::StorageFull,
                        format!(
                            "over the disk cap; {} and what follows left out",
                            s.display()
                        ),
                    ));
                };
                left = rest;
                copy_file(&s, &d)?;
            } else if kind.is_symlink() {
                std::os::unix::fs::symlink(fs::read_link(&s)?, &d)?;
            }
        }
    }
    Ok(())
}

/// One regular file, opened without following a symlink, written as a new file.
fn copy_file(from: &Path, to: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut src = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(from)?;
    let mode = src.metadata()?.mode() & 0o777;
    let mut dst = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(to)?;
    io::copy(&mut src, &mut dst)?;
    Ok(())
}

/// Renames every entry of `from` into `to` (never following a symlink).
fn move_entries(from: &Path, to: &Path) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        fs::rename(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

/// Recreates the tree `from` under `to`: folders made, files hard-linked (copied when they
/// cannot be). A skill folder holds only folders and regular files; anything else is refused.
fn link_tree(from: &Path, to: &Path) -> io::Result<()> {
    let mut stack = vec![(from.to_path_buf(), to.to_path_buf())];
    while let Some((src, dst)) = stack.pop() {
        for entry in fs::read_dir(&src)? {
            let entry = entry?;
            let (s, d) = (entry.path(), dst.join(entry.file_name()));
            let kind = entry.file_type()?;
            if kind.is_dir() {
                fs::create_dir(&d)?;
                fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?;
                stack.push((s, d));
            } else if kind.is_file() {
                if fs::hard_link(&s, &d).is_err() {
                    fs::copy(&s, &d)?;
                }
            } else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not a regular file or folder", s.display()),
                ));
            }
        }
    }
    Ok(())
}

/// What a sandbox is started with before its run is known; a run can only take a sandbox
/// started with what it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ahead {
    /// The size of its `/tmp`.
    pub tmp_size: u64,
    /// The environment bound at `/env` (canonical), or `None` for the empty one.
    pub environment: Option<PathBuf>,
    /// A warm interpreter for `main.py`, or `None`: the init waits for the run's command.
    pub interpreter: Option<WarmPython>,
}

/// A Python interpreter started with its sandbox (see `interpreter.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarmPython {
    /// Imported before the run.
    pub preload: Vec<String>,
    /// The limits it sets on itself first: a run's, as far as they are fixed when the
    /// interpreter starts (see [`WarmPython::new`]).
    pub limits: Limits,
}

impl WarmPython {
    /// For runs with `limits` (of any CPU time and wall clock: the go sets the run's own).
    pub fn new(preload: Vec<String>, limits: &Limits) -> WarmPython {
        WarmPython {
            preload,
            limits: Limits {
                wall: Duration::ZERO,
                cpu_seconds: super::interpreter::AHEAD_CPU_SECONDS,
                output_cap: 0,
                artifacts_cap: 0,
                ..limits.clone()
            },
        }
    }
}

/// A bubblewrap sandbox whose init waits for its run.
pub struct Prestarted {
    /// bubblewrap (the group leader).
    pub child: spawn::Child,
    /// Kills, sweeps and removes it all, also when it is dropped unused.
    pub cleanup: Cleanup,
    /// What it was started with (boxed: a run's launch holds it).
    pub ahead: Box<Ahead>,
    go: Option<pipe::Sender>,
    info: pipe::Receiver,
    /// Its uid's cgroup, which holds the run's memory and tasks (see `cgroup.rs`).
    cgroup: Option<RunCgroup>,
    /// Set with the run's limits: tells whether the kernel killed for want of memory.
    pub oom: Option<OomWatch>,
}

impl std::fmt::Debug for Prestarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prestarted")
            .field("pid", &self.child.id())
            .field("uid", &self.cleanup.uid())
            .finish_non_exhaustive()
    }
}

impl Prestarted {
    /// Starts bubblewrap with `skill` and `work` bound and what `ahead` says, on the uid of
    /// `cleanup`'s slot. bubblewrap dies with the thread that starts it (`PR_SET_PDEATHSIG`), so
    /// this runs on a runtime thread, never on a blocking-pool thread that may end first.
    pub fn start(
        cfg: &SandboxConfig,
        init: &Init,
        mut cleanup: Cleanup,
        binds: (&Path, &Path),
        ahead: Ahead,
        cgroup: Option<RunCgroup>,
    ) -> anyhow::Result<Prestarted> {
        let uid = cleanup.uid();
        let memory = match cgroup {
            Some(_) => MemoryHold::Cgroup,
            None => MemoryHold::ProcessCount,
        };
        let mut pre = sandbox::bwrap_command(cfg, init, binds, &ahead, uid, memory)?;
        if let Some(cgroup) = &cgroup {
            pre.spec.cgroups = cgroup.join_files().context("opening the run's cgroup")?;
        }
        let child =
            spawn::spawn(pre.spec).with_context(|| format!("starting {}", cfg.bwrap.display()))?;
        cleanup.set_pgid(Some(child.id()));
        Ok(Prestarted {
            child,
            cleanup,
            ahead: Box::new(ahead),
            go: Some(pipe::Sender::from_owned_fd(pre.go)?),
            info: pipe::Receiver::from_owned_fd(pre.info)?,
            cgroup,
            oom: None,
        })
    }

    /// Sets the run's `limits` on its cgroup, and the init's `rlimits` once bubblewrap reports
    /// its pid. When bubblewrap failed before starting the init, no rlimit is set, and
    /// [`Prestarted::go`] will send nothing: it has exited, and its message on stderr says why.
    pub async fn limit(
        &mut self,
        rlimits: &[spawn::Rlimit],
        limits: &Limits,
    ) -> anyhow::Result<()> {
        if let Some(cgroup) = &self.cgroup {
            let tasks = limits.processes + sandbox::CGROUP_SANDBOX_TASKS;
            self.oom = Some(
                cgroup
                    .limit(limits.memory, tasks)
                    .context("setting the run's cgroup limits")?,
            );
        }
        let pid = tokio::time::timeout(INFO_TIMEOUT, read_child_pid(&mut self.info))
            .await
            .context("the sandbox did not report its pid")??;
        let Some(pid) = pid else {
            self.go = None;
            return Ok(());
        };
        // A few syscalls (at most a short-lived helper): done in place. An init that is gone
        // already failed to set up; bubblewrap's exit status and message tell the rest.
        match sandbox::set_rlimits(pid, rlimits, self.cleanup.uid()) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                self.go = None;
                Ok(())
            }
            Err(e) => Err(anyhow::Error::from(e).context("setting the sandbox's limits")),
        }
    }

    /// Gives the init `script` (see `sandbox::go_script`): the run starts. Once only.
    pub async fn go(&mut self, script: &[u8]) {
        let Some(mut go) = self.go.take() else {
            return;
        };
        // A sandbox that died meanwhile closed the pipe; its exit status tells the rest.
        if go.write_all(script).await.is_ok() {
            go.shutdown().await.ok();
        }
    }
}

/// The `child-pid` bubblewrap writes to its info descriptor once the init exists; `None` when
/// it closed the descriptor without one (it failed before).
async fn read_child_pid(info: &mut pipe::Receiver) -> anyhow::Result<Option<i32>> {
    let mut text = Vec::new();
    let mut buf = [0u8; 512];
    // One JSON object; read up to its end (or EOF), not further.
    while !text.contains(&b'}') {
        let n = info.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    if text.is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value =
        serde_json::from_slice(&text).context("bubblewrap's info is not JSON")?;
    let pid = value["child-pid"]
        .as_i64()
        .and_then(|p| i32::try_from(p).ok())
        .filter(|&p| p > 1)
        .context("bubblewrap's info has no child-pid")?;
    Ok(Some(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filling_and_emptying_moves_the_work_folder_and_links_the_skill() {
        let base = std::env::temp_dir().join(format!("execgov-warm-{}", std::process::id()));
        reset_base(&base).unwrap();
        let (skill, work) = (base.join("src-skill"), base.join("src-work"));
        fs::create_dir_all(skill.join("lib")).unwrap();
        fs::write(skill.join("main.py"), "print(1)").unwrap();
        fs::write(skill.join("lib/util.py"), "x = 1").unwrap();
        fs::create_dir_all(work.join("output")).unwrap();
        fs::write(work.join("inputs.json"), "{}").unwrap();

        let dirs = SlotDirs::create(&base, None, Storage::Plain).unwrap();
        dirs.fill(&skill, &work, None, 0).unwrap();
        assert_eq!(
            fs::read_to_string(dirs.skill.join("lib/util.py")).unwrap(),
            "x = 1"
        );
        assert!(dirs.work.join("output").is_dir());
        assert_eq!(fs::read_dir(&work).unwrap().count(), 0, "moved, not copied");

        fs::write(dirs.work.join("output/report.md"), "# r").unwrap();
        dirs.empty_into(&work).unwrap();
        assert_eq!(
            fs::read_to_string(work.join("output/report.md")).unwrap(),
            "# r"
        );
        dirs.remove();
        assert!(!dirs.work.exists());
        assert!(
            skill.join("main.py").is_file(),
            "the skill folder is untouched"
        );
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path(r"/a\040b/c\134d"), r"/a b/c\d");
        assert_eq!(unescape_mount_path(r"/plain\x"), r"/plain\x");
    }

    #[test]
    fn a_stopped_servers_tmpfs_mounts_are_undone_at_start() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let base = std::env::temp_dir().join(format!("execgov-reset-{}", std::process::id()));
        reset_base(&base).unwrap();
        let dirs = SlotDirs::create(&base, None, Storage::Tmpfs).unwrap();
        fs::write(dirs.work.join("left.txt"), "x").unwrap();
        let base = base.canonicalize().unwrap();
        assert_eq!(mounts_under(&base).len(), 1);
        // As after a crash: nothing unmounted; the next start empties the folder.
        reset_base(&base).unwrap();
        assert!(mounts_under(&base).is_empty());
        assert_eq!(fs::read_dir(&base).unwrap().count(), 0);
        fs::remove_dir(&base).unwrap();
    }
}
