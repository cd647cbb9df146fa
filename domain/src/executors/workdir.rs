//! The run's work folder on the host: handing it to the sandbox uid and back, watching its
//! size while the script runs, and reading `result.json` and the artifacts afterwards.
//!
//! Everything here uses `lstat`/`lchown` and never follows a symlink: the script controls
//! the folder's contents, and we touch it as root.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{human_bytes, Artifact, MAX_WORK_ENTRIES, RESULT_CAP};

/// Deeper folders under `output/` are not listed as artifacts.
const MAX_DEPTH: usize = 64;

/// The folder's owner (uid, gid).
pub fn owner(p: &Path) -> io::Result<(u32, u32)> {
    let m = fs::symlink_metadata(p)?;
    Ok((m.uid(), m.gid()))
}

/// `lchown` of `root` and everything below it. Tries every entry; returns the first error.
pub fn chown_tree(root: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let mut first_err: Option<io::Error> = None;
    let mut note = |e: io::Error, p: &Path| {
        tracing::warn!(path = %p.display(), error = %e, "chown in the work folder failed");
        first_err.get_or_insert(e);
    };
    if let Err(e) = std::os::unix::fs::lchown(root, Some(uid), Some(gid)) {
        note(e, root);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                note(e, &dir);
                continue;
            }
        };
        for ent in rd.flatten() {
            let path = ent.path();
            if let Err(e) = std::os::unix::fs::lchown(&path, Some(uid), Some(gid)) {
                note(e, &path);
            }
            if ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Disk use of a folder tree.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// Sum over regular files of max(apparent size, allocated size).
    pub bytes: u64,
    /// Entries seen (stops counting past `max_entries`).
    pub entries: u64,
}

/// Best-effort (entries may vanish while we look) size of a tree.
pub fn usage(root: &Path, max_entries: u64) -> Usage {
    let mut u = Usage::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for ent in rd.flatten() {
            u.entries += 1;
            if u.entries > max_entries {
                return u;
            }
            let Ok(t) = ent.file_type() else { continue };
            if t.is_dir() {
                stack.push(ent.path());
            } else if t.is_file() {
                if let Ok(m) = ent.metadata() {
                    u.bytes += m.len().max(m.blocks() * 512);
                }
            }
        }
    }
    u
}

/// Samples the folder every `every`; returns a reason once the script has added more than
/// `cap` bytes to it or created too many entries. Never returns otherwise.
pub async fn watch(root: PathBuf, baseline: u64, cap: u64, every: Duration) -> String {
    loop {
        tokio::time::sleep(every).await;
        let r = root.clone();
        let Ok(u) = tokio::task::spawn_blocking(move || usage(&r, MAX_WORK_ENTRIES)).await else {
            continue;
        };
        if u.bytes > baseline.saturating_add(cap) {
            return format!("disk usage over {}", human_bytes(cap));
        }
        if u.entries > MAX_WORK_ENTRIES {
            return format!("more than {MAX_WORK_ENTRIES} files in the work folder");
        }
    }
}

/// What a finished run left behind.
#[derive(Debug, Default)]
pub struct Collected {
    /// `result.json` as the script wrote it (checked to be JSON), so the page keeps its key order.
    pub result: Option<String>,
    /// Why `result.json` was ignored.
    pub result_note: Option<String>,
    /// Regular files under `output/`, sorted.
    pub artifacts: Vec<Artifact>,
    /// `output/` had more than `MAX_WORK_ENTRIES` entries (the list is incomplete).
    pub too_many: bool,
}

/// Reads `result.json` and lists `output/`. Symlinks and special files in `output/` are
/// deleted, so nothing that serves artifacts later can be led outside the folder.
pub fn collect(work_dir: &Path) -> Collected {
    let mut c = Collected::default();
    match read_result(&work_dir.join("result.json")) {
        Ok(v) => c.result = v,
        Err(note) => c.result_note = Some(note),
    }
    let output = work_dir.join("output");
    match fs::symlink_metadata(&output) {
        Ok(m) if m.is_dir() => list_artifacts(&output, &mut c),
        Ok(_) => {
            tracing::warn!(path = %output.display(), "output is not a folder; removed");
            let _ = fs::remove_file(&output);
        }
        Err(_) => {}
    }
    c.artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    c
}

fn read_result(path: &Path) -> Result<Option<String>, String> {
    let m = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("result.json unreadable: {e}")),
    };
    if !m.is_file() {
        return Err("result.json ignored: not a regular file".into());
    }
    if m.len() > RESULT_CAP {
        return Err(format!(
            "result.json ignored: over {}",
            human_bytes(RESULT_CAP)
        ));
    }
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("result.json unreadable: {e}"))?;
    let mut buf = Vec::new();
    f.by_ref()
        .take(RESULT_CAP + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("result.json unreadable: {e}"))?;
    if buf.len() as u64 > RESULT_CAP {
        return Err(format!(
            "result.json ignored: over {}",
            human_bytes(RESULT_CAP)
        ));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&buf)
        .map_err(|e| format!("result.json ignored: not valid JSON ({e})"))?;
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| "result.json ignored: not UTF-8".to_string())
}

fn list_artifacts(output: &Path, c: &mut Collected) {
    let mut seen = 0u64;
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(output.to_path_buf(), String::new(), 0)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for ent in rd.flatten() {
            seen += 1;
            if seen > MAX_WORK_ENTRIES {
                c.too_many = true;
                return;
            }
            let path = ent.path();
            let Ok(t) = ent.file_type() else { continue };
            let Some(name) = ent.file_name().to_str().map(str::to_owned) else {
                tracing::warn!(path = %path.display(), "artifact name is not UTF-8; skipped");
                continue;
            };
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if t.is_file() {
                if let Ok(m) = fs::symlink_metadata(&path) {
                    c.artifacts.push(Artifact {
                        path: rel,
                        size: m.len(),
                    });
                }
            } else if t.is_dir() {
                if depth + 1 < MAX_DEPTH {
                    stack.push((path, rel, depth + 1));
                }
            } else {
                tracing::warn!(path = %path.display(), "not a regular file in output/; removed");
                let _ = fs::remove_file(&path);
            }
        }
    }
}
