//! Sandboxes started ahead of their runs.
//!
//! Setting up bubblewrap's namespaces and mounts costs about as much as Python's own start, so
//! once a run has ended the executor starts the next sandbox in the background, on the uid it
//! has just swept. Such a sandbox has folders of its own ([`SlotDirs`]) bound at `/skill` and
//! `/work`, empty, and its init waits on stdin (see `sandbox::Init`). When its run is prepared
//! (`Executors::prepare`; a worker does it while its previous run still goes on), the skill
//! folder is linked into `skill/`, the work folder's contents are moved into `work/` (renames:
//! the folders share a filesystem) and the init gets its rlimits ([`Prestarted::limit`]); when
//! the run starts, the init is told what to run ([`Prestarted::go`]). Afterwards the contents
//! move back and the folders are removed. Nothing of a run is there before it is prepared, and
//! the uid, the folders and the namespaces serve one run only.
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

use super::sandbox::{self, Cleanup, Init};
use super::{spawn, SandboxConfig};

/// How long bubblewrap may take to report the init's pid.
const INFO_TIMEOUT: Duration = Duration::from_secs(30);

/// Names each sandbox's folders uniquely within the process.
static NEXT_SLOT: AtomicU64 = AtomicU64::new(0);

/// A sandbox's own folders under the warm folder: `skill/` (root's, bound read-only) and
/// `work/` (the pool uid's, bound read-write).
#[derive(Clone, Debug)]
pub struct SlotDirs {
    root: PathBuf,
    /// Bound at `/skill`.
    pub skill: PathBuf,
    /// Bound at `/work`.
    pub work: PathBuf,
}

impl SlotDirs {
    /// Fresh, empty folders under `base`, `work/` owned by `uid`.
    pub fn create(base: &Path, uid: Option<u32>) -> io::Result<SlotDirs> {
        let n = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
        let root = base.join(format!("{}-{n}", std::process::id()));
        // The pool uids open the bind sources, so every level must let them through.
        for (dir, mode) in [(&root, 0o711), (&root.join("skill"), 0o755)] {
            fs::create_dir(dir)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
        }
        let work = root.join("work");
        fs::create_dir(&work)?;
        fs::set_permissions(&work, fs::Permissions::from_mode(0o700))?;
        if let Some(uid) = uid {
            std::os::unix::fs::lchown(&work, Some(uid), Some(uid))?;
        }
        Ok(SlotDirs {
            skill: root.join("skill"),
            work,
            root,
        })
    }

    /// Puts the run in: `script_dir`'s files linked into `skill/`, `work_dir`'s entries moved
    /// into `work/` and handed to `uid`. Returns the size of what `work/` then holds (the
    /// baseline of the run's disk cap). On failure the caller's cleanup moves back what moved.
    pub fn fill(&self, script_dir: &Path, work_dir: &Path, uid: Option<u32>) -> io::Result<u64> {
        link_tree(script_dir, &self.skill)?;
        move_entries(work_dir, &self.work)?;
        if let Some(uid) = uid {
            super::workdir::chown_tree(&self.work, uid, uid)?;
        }
        Ok(super::workdir::usage(&self.work, u64::MAX).bytes)
    }

    /// Moves everything in `work/` back into `work_dir`.
    pub fn empty_into(&self, work_dir: &Path) -> io::Result<()> {
        move_entries(&self.work, work_dir)
    }

    /// Removes the folders (failures are logged).
    pub fn remove(&self) {
        if let Err(e) = fs::remove_dir_all(&self.root) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %self.root.display(), error = %e, "removing a sandbox's folders failed");
            }
        }
    }
}

/// Empties `base` of folders a stopped server left behind, creating it if needed.
pub fn reset_base(base: &Path) -> io::Result<()> {
    if fs::symlink_metadata(base).is_ok() {
        fs::remove_dir_all(base)?;
    }
    fs::create_dir_all(base)?;
    fs::set_permissions(base, fs::Permissions::from_mode(0o711))
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

/// A bubblewrap sandbox whose init waits for its run.
pub struct Prestarted {
    /// bubblewrap (the group leader).
    pub child: spawn::Child,
    /// Kills, sweeps and removes it all, also when it is dropped unused.
    pub cleanup: Cleanup,
    /// The size of its `/tmp`, fixed when it started.
    pub tmp_size: u64,
    go: Option<pipe::Sender>,
    info: pipe::Receiver,
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
    /// Starts bubblewrap with `skill` and `work` bound, on the uid of `cleanup`'s slot.
    /// bubblewrap dies with the thread that starts it (`PR_SET_PDEATHSIG`), so this runs on a
    /// runtime thread, never on a blocking-pool thread that may end first.
    pub fn start(
        cfg: &SandboxConfig,
        init: &Init,
        mut cleanup: Cleanup,
        (skill, work): (&Path, &Path),
        tmp_size: u64,
    ) -> anyhow::Result<Prestarted> {
        let uid = cleanup.uid();
        let pre = sandbox::bwrap_command(cfg, init, skill, work, tmp_size, uid)?;
        let child =
            spawn::spawn(pre.spec).with_context(|| format!("starting {}", cfg.bwrap.display()))?;
        cleanup.set_pgid(Some(child.id()));
        Ok(Prestarted {
            child,
            cleanup,
            tmp_size,
            go: Some(pipe::Sender::from_owned_fd(pre.go)?),
            info: pipe::Receiver::from_owned_fd(pre.info)?,
        })
    }

    /// Sets the init's `rlimits` once bubblewrap reports its pid. When bubblewrap failed before
    /// starting the init, nothing is set, and [`Prestarted::go`] will send nothing: it has
    /// exited, and its message on stderr says why.
    pub async fn limit(&mut self, rlimits: &[spawn::Rlimit]) -> anyhow::Result<()> {
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
    pub async fn go(&mut self, script: &str) {
        let Some(mut go) = self.go.take() else {
            return;
        };
        // A sandbox that died meanwhile closed the pipe; its exit status tells the rest.
        if go.write_all(script.as_bytes()).await.is_ok() {
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

        let dirs = SlotDirs::create(&base, None).unwrap();
        dirs.fill(&skill, &work, None).unwrap();
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
}
