//! The run's work folder on the host: handing it to the sandbox uid and back, watching its
//! size while the script runs, and reading `result.json` and the artifacts afterwards (with the
//! files the artifact globs collect, and a list of those nothing collects).
//!
//! Everything here uses `lstat`/`lchown` and never follows a symlink: the script controls
//! the folder's contents, and we touch it as root.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{human_bytes, Artifact, MAX_WORK_ENTRIES, RESULT_CAP, WRITTEN_OUTSIDE_LISTED};

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
    /// New files outside `output/` that no glob collected (the first few), and how many.
    pub written_outside: Vec<String>,
    pub written_outside_count: u64,
}

/// What a run's collection needs to know besides the folder: the artifact globs, and the
/// files (relative paths) that were there before the script ran.
#[derive(Debug, Default)]
pub struct Collect {
    pub globs: Vec<String>,
    pub before: BTreeSet<String>,
}

/// Names at the top of the work folder that are the run's contract, not files it left behind.
const CONTRACT_FILES: [&str; 2] = ["inputs.json", "result.json"];

/// Every entry that is not a folder under `work_dir`, outside `output/` and the contract files,
/// as (relative path, is a regular file); links are listed, never followed. Non-UTF-8 names are
/// shown lossily. At most `MAX_WORK_ENTRIES` entries are looked at.
fn files_outside_output(work_dir: &Path) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    let mut seen = 0u64;
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(work_dir.to_path_buf(), String::new(), 0)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for ent in rd.flatten() {
            seen += 1;
            if seen > MAX_WORK_ENTRIES {
                return found;
            }
            let name = ent.file_name().to_string_lossy().into_owned();
            if prefix.is_empty() && (name == "output" || CONTRACT_FILES.contains(&name.as_str())) {
                continue;
            }
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let Ok(t) = ent.file_type() else { continue };
            if t.is_dir() {
                if depth + 1 < MAX_DEPTH {
                    stack.push((ent.path(), rel, depth + 1));
                }
            } else {
                found.push((rel, t.is_file()));
            }
        }
    }
    found
}

/// The files in the work folder before a run (see [`Collect::before`]).
pub fn snapshot(work_dir: &Path) -> BTreeSet<String> {
    files_outside_output(work_dir)
        .into_iter()
        .map(|(rel, _)| rel)
        .collect()
}

/// Moves `work_dir/rel` (a regular file reached through real folders only) to `output/rel`,
/// making the folders on the way; refuses when something on the way in `output/` is not a real
/// folder (a link the script made must never be followed) or the target exists. Runs after every
/// process of the run is gone, so nothing changes the folder meanwhile.
fn move_into_output(work_dir: &Path, output: &Path, rel: &str) -> bool {
    let mut at = output.to_path_buf();
    let segments: Vec<&str> = rel.split('/').collect();
    let Some((file, folders)) = segments.split_last() else {
        return false;
    };
    for folder in folders {
        at.push(folder);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if fs::create_dir(&at).is_err() {
                    return false;
                }
            }
            _ => return false,
        }
    }
    at.push(file);
    if fs::symlink_metadata(&at).is_ok() {
        return false;
    }
    fs::rename(work_dir.join(rel), &at).is_ok()
}

/// Reads `result.json`, moves the new regular files that match a glob into `output/` (same
/// relative path), notes the other new files, and lists `output/`. Symlinks and special files in
/// `output/` are deleted, so nothing that serves artifacts later can be led outside the folder.
pub fn collect(work_dir: &Path, what: &Collect) -> Collected {
    let mut c = Collected::default();
    match read_result(&work_dir.join("result.json")) {
        Ok(v) => c.result = v,
        Err(note) => c.result_note = Some(note),
    }
    let output = work_dir.join("output");
    let mut has_output = match fs::symlink_metadata(&output) {
        Ok(m) if m.is_dir() => true,
        Ok(_) => {
            tracing::warn!(path = %output.display(), "output is not a folder; removed");
            let _ = fs::remove_file(&output);
            false
        }
        Err(_) => false,
    };
    let mut outside: Vec<String> = Vec::new();
    for (rel, regular) in files_outside_output(work_dir) {
        if what.before.contains(&rel) {
            continue;
        }
        let wanted = regular
            && what
                .globs
                .iter()
                .any(|g| model::invocation::glob_matches(g, &rel));
        if wanted {
            if !has_output {
                has_output = fs::create_dir(&output).is_ok();
            }
            if has_output && move_into_output(work_dir, &output, &rel) {
                continue;
            }
        }
        outside.push(rel);
    }
    outside.sort();
    c.written_outside_count = outside.len() as u64;
    outside.truncate(WRITTEN_OUTSIDE_LISTED);
    c.written_outside = outside;
    if has_output {
        list_artifacts(&output, &mut c);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(artifacts: &[Artifact]) -> Vec<&str> {
        artifacts.iter().map(|a| a.path.as_str()).collect()
    }

    #[test]
    fn globs_collect_new_files_and_the_rest_is_noted() {
        let work = std::env::temp_dir().join(format!("execgov-collect-{}", std::process::id()));
        let _ = fs::remove_dir_all(&work);
        fs::create_dir_all(work.join("files")).unwrap();
        fs::create_dir_all(work.join("output")).unwrap();
        fs::write(work.join("inputs.json"), "{}").unwrap();
        fs::write(work.join("files/sales.csv"), "a\n1\n").unwrap();
        let before = snapshot(&work);
        assert_eq!(before.iter().collect::<Vec<_>>(), ["files/sales.csv"]);

        // What a script writes.
        fs::write(work.join("output/real.txt"), "r").unwrap();
        fs::write(work.join("report.xlsx"), "x").unwrap();
        fs::write(work.join("files/sales.xlsx"), "next to the input").unwrap();
        fs::create_dir_all(work.join("reports/deep")).unwrap();
        fs::write(work.join("reports/week.md"), "# w").unwrap();
        fs::write(work.join("reports/deep/no.md"), "not matched").unwrap();
        fs::write(work.join("notes.txt"), "n").unwrap();
        fs::write(work.join("result.json"), "[]").unwrap();
        // A link that a glob matches is neither followed nor collected.
        std::os::unix::fs::symlink("/etc/passwd", work.join("evil.xlsx")).unwrap();

        let what = Collect {
            globs: vec![
                "*.xlsx".into(),
                "reports/*.md".into(),
                "files/*.xlsx".into(),
            ],
            before,
        };
        let c = collect(&work, &what);
        assert_eq!(
            names(&c.artifacts),
            [
                "files/sales.xlsx",
                "real.txt",
                "report.xlsx",
                "reports/week.md"
            ]
        );
        assert_eq!(
            c.written_outside,
            ["evil.xlsx", "notes.txt", "reports/deep/no.md"]
        );
        assert_eq!(c.written_outside_count, 3);
        assert_eq!(c.result.as_deref(), Some("[]"));
        assert!(work.join("files/sales.csv").is_file(), "inputs stay");
        assert_eq!(
            fs::read_to_string(work.join("output/report.xlsx")).unwrap(),
            "x"
        );
        assert!(
            fs::symlink_metadata(work.join("evil.xlsx"))
                .unwrap()
                .file_type()
                .is_symlink(),
            "left where it was"
        );
        fs::remove_dir_all(&work).unwrap();
    }

    #[test]
    fn a_link_inside_output_is_never_followed_by_a_move() {
        let base =
            std::env::temp_dir().join(format!("execgov-collect-link-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let (work, elsewhere) = (base.join("work"), base.join("elsewhere"));
        fs::create_dir_all(work.join("output")).unwrap();
        fs::create_dir_all(work.join("reports")).unwrap();
        fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, work.join("output/reports")).unwrap();
        fs::write(work.join("reports/a.md"), "a").unwrap();

        let what = Collect {
            globs: vec!["reports/*.md".into()],
            before: BTreeSet::new(),
        };
        let c = collect(&work, &what);
        assert!(c.artifacts.is_empty(), "{:?}", c.artifacts);
        assert_eq!(c.written_outside, ["reports/a.md"]);
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
        // And the link itself is gone from output/.
        assert!(fs::symlink_metadata(work.join("output/reports")).is_err());
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn many_files_outside_are_counted_and_a_few_named() {
        let work =
            std::env::temp_dir().join(format!("execgov-collect-many-{}", std::process::id()));
        let _ = fs::remove_dir_all(&work);
        fs::create_dir_all(&work).unwrap();
        for i in 0..30 {
            fs::write(work.join(format!("f{i:02}.log")), "").unwrap();
        }
        let c = collect(&work, &Collect::default());
        assert_eq!(c.written_outside_count, 30);
        assert_eq!(c.written_outside.len(), WRITTEN_OUTSIDE_LISTED);
        assert_eq!(c.written_outside[0], "f00.log");
        // No output/ folder is made when nothing is collected.
        assert!(!work.join("output").exists());
        fs::remove_dir_all(&work).unwrap();
    }
}
