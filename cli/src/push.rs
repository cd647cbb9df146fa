//! `push`: a skill folder, zipped in memory, submitted for review (`POST /api/v1/submissions`);
//! `submission ID`: where it is on its timeline. Both show the packages the server locked for
//! it when the submission carries a lock.

use std::io::{Cursor, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use clap::Args;
use model::hot_update::{SubmissionDetail, SubmissionStatus};
use reqwest::multipart::{Form, Part};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::account::connect;
use crate::error::{code, io_failure, Failure, Outcome};
use crate::manifest::placeholders;
use crate::output::{print_json, size};
use crate::Global;

/// The server's limits on a submitted folder, checked here before uploading anything.
const MAX_FILES: usize = 1000;
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
const MAX_TOTAL_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Args)]
pub struct PushArgs {
    /// The skill folder: main.py or main.sh, README.md, skill.toml and what else the script
    /// needs (files and folders whose names start with '.' and __pycache__ are left out)
    folder: PathBuf,
    /// The business scenario: what problem the skill solves and who uses it
    #[arg(long)]
    scenario: String,
    /// The proposed risk (the reviewer decides the final one)
    #[arg(long, value_parser = ["low", "medium", "high"])]
    risk: String,
    /// Propose that the assistant may call it
    #[arg(long)]
    ai_callable: bool,
    /// Propose that people may not run it from its form
    #[arg(long)]
    no_manual: bool,
    /// Propose that each run waits for a person's confirmation (always so for high risk)
    #[arg(long)]
    requires_confirmation: bool,
    /// Print the submission as JSON
    #[arg(long)]
    json: bool,
}

pub async fn push(global: &Global, args: PushArgs) -> Outcome<()> {
    refuse_placeholders(&args.folder)?;
    let (archive, files, unpacked) = zip_folder(&args.folder)?;
    let api = connect(global)?;
    let folder_name = args
        .folder
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "skill".into());
    let flag = |on: bool| if on { "true" } else { "false" };
    let archive_size = archive.len();
    let part = Part::bytes(archive)
        .file_name(format!("{folder_name}.zip"))
        .mime_str("application/zip")
        .map_err(|e| Failure::failed(format!("push: {e}")))?;
    let form = Form::new()
        .part("archive", part)
        .text("scenario", args.scenario.clone())
        .text("risk", args.risk.clone())
        .text("manual_allowed", flag(!args.no_manual))
        .text("ai_callable", flag(args.ai_callable))
        .text("requires_confirmation", flag(args.requires_confirmation));
    let what = format!("push {}", args.folder.display());
    let answer: serde_json::Value = api
        .json(api.post("/api/v1/submissions").multipart(form), &what)
        .await?;
    if args.json {
        return print_json(&answer);
    }
    let detail = submission_detail(&answer, &what)?;
    let s = &detail.summary;
    println!(
        "Submission {} of {} ({}): {}.",
        s.id,
        s.slug,
        s.skill_name,
        s.status.as_str()
    );
    println!(
        "Sent {files} files ({} unpacked, {} zipped) to {}.",
        size(unpacked as i64),
        size(archive_size as i64),
        api.shown_host()
    );
    print_lock(&answer);
    if s.status == SubmissionStatus::Submitted {
        println!(
            "A super-admin reviews it next; follow it with: execgov-cli submission {}",
            s.id
        );
    }
    Ok(())
}

pub async fn submission(global: &Global, id: i64, json: bool) -> Outcome<()> {
    let api = connect(global)?;
    let what = format!("submission {id}");
    let answer: serde_json::Value = api
        .json(api.get(&format!("/api/v1/submissions/{id}")), &what)
        .await?;
    if json {
        return print_json(&answer);
    }
    let detail = submission_detail(&answer, &what)?;
    let s = &detail.summary;
    let mut status = s.status.as_str().to_string();
    if let Some(step) = &s.failed_step {
        status.push_str(&format!(" at {step}"));
    }
    if let Some(reason) = &s.reason {
        status.push_str(&format!(" ({reason})"));
    }
    println!(
        "Submission {} of {} ({}): {status}",
        s.id, s.slug, s.skill_name
    );
    if let Some(v) = detail.version {
        println!("Skill version: {v}");
    }
    print_lock(&answer);
    for event in &detail.timeline {
        let note = if event.note.is_empty() {
            String::new()
        } else {
            format!(": {}", event.note)
        };
        println!(
            "  {}  {} by {}{note}",
            event.at.format("%Y-%m-%d %H:%M:%S"),
            event.status,
            event.actor
        );
    }
    Ok(())
}

/// Refuses a folder whose skill.toml still holds `manifest init`'s TODO placeholders, before
/// anything is sent (a missing skill.toml is the server's to refuse, with its own message).
fn refuse_placeholders(folder: &Path) -> Outcome<()> {
    let path = folder.join("skill.toml");
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_failure(code::INVALID, path.display(), e)),
    };
    let found = placeholders::find(&text);
    if found.is_empty() {
        Ok(())
    } else {
        Err(Failure::invalid(placeholders::refusal(
            &path.display().to_string(),
            &found,
        )))
    }
}

/// The submission in the server's answer. Read from JSON kept whole, so that fields this
/// execgov-cli does not model (the lock) stay available.
fn submission_detail(answer: &serde_json::Value, what: &str) -> Outcome<SubmissionDetail> {
    serde_json::from_value(answer.clone()).map_err(|e| {
        Failure::failed(format!(
            "{what}: the server's answer is not what this execgov-cli understands ({e})"
        ))
    })
}

/// Prints the packages the server locked, when the answer carries a lock.
fn print_lock(answer: &serde_json::Value) {
    match locked_packages(answer) {
        None => {}
        Some(packages) if packages.is_empty() => {
            println!("Packages: none (standard library only).")
        }
        Some(packages) => {
            println!(
                "Packages the server locked ({}), for the reviewer to approve with the code:",
                packages.len()
            );
            for p in packages {
                println!("  {p}");
            }
        }
    }
    let changes = package_changes(answer);
    if !changes.is_empty() {
        println!("Against the live version: {}.", changes.join("; "));
    }
}

/// The packages added, removed or changed against the live version (`package_changes`:
/// `{name, live, submitted}` objects), as `+ name 1.0`, `- name 1.0`, `name 1.0 → 2.0`.
fn package_changes(answer: &serde_json::Value) -> Vec<String> {
    let Some(changes) = answer.get("package_changes").and_then(|c| c.as_array()) else {
        return Vec::new();
    };
    changes
        .iter()
        .filter_map(|c| {
            let name = c.get("name")?.as_str()?;
            let version = |key: &str| c.get(key).and_then(|v| v.as_str());
            Some(match (version("live"), version("submitted")) {
                (None, Some(new)) => format!("+ {name} {new}"),
                (Some(old), None) => format!("- {name} {old}"),
                (Some(old), Some(new)) => format!("{name} {old} → {new}"),
                (None, None) => return None,
            })
        })
        .collect()
}

/// The locked packages (`name==version`) in a submission's JSON, read tolerantly: the
/// server's `packages` (`{declared_in, hash, packages: [{name, version}], text}`), or a `lock`
/// field, at the top or under `environment`, holding the lock's text (requirements format
/// with hashes), a list of `{name, version}` objects, or a list of strings. `None` when the
/// answer has no lock (a server without packages, or none declared).
fn locked_packages(answer: &serde_json::Value) -> Option<Vec<String>> {
    use serde_json::Value;
    fn read(value: &Value) -> Option<Vec<String>> {
        match value {
            Value::Null => None,
            Value::String(text) => Some(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('-'))
                    .filter_map(|l| l.split_whitespace().next())
                    .map(|l| l.trim_end_matches('\\').to_string())
                    .filter(|l| !l.is_empty())
                    .collect(),
            ),
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(|item| match item {
                        Value::String(s) => Some(s.clone()),
                        Value::Object(o) => {
                            let name = o.get("name").or_else(|| o.get("package"))?.as_str()?;
                            Some(match o.get("version").and_then(Value::as_str) {
                                Some(v) => format!("{name}=={v}"),
                                None => name.to_string(),
                            })
                        }
                        _ => None,
                    })
                    .collect(),
            ),
            Value::Object(o) => ["packages", "text", "lock"]
                .iter()
                .find_map(|k| o.get(*k).and_then(read)),
            _ => None,
        }
    }
    ["lock", "packages"]
        .iter()
        .find_map(|k| answer.get(*k).and_then(read))
        .or_else(|| answer.get("environment").and_then(read))
}

/// The folder as a zip archive in memory: (bytes, files, unpacked size). Paths inside are
/// relative to the folder.
pub fn zip_folder(folder: &Path) -> Outcome<(Vec<u8>, usize, u64)> {
    let meta =
        std::fs::metadata(folder).map_err(|e| io_failure(code::INVALID, folder.display(), e))?;
    if !meta.is_dir() {
        return Err(Failure::invalid(format!(
            "{} is not a folder",
            folder.display()
        )));
    }
    let mut entries = Vec::new();
    collect(folder, Path::new(""), &mut entries)?;
    if entries.is_empty() {
        return Err(Failure::invalid(format!("{} is empty", folder.display())));
    }
    if entries.len() > MAX_FILES {
        return Err(Failure::invalid(format!(
            "{}: {} files; a skill folder may have at most {MAX_FILES}",
            folder.display(),
            entries.len()
        )));
    }
    let total: u64 = entries.iter().map(|e| e.2).sum();
    if total > MAX_TOTAL_BYTES {
        return Err(Failure::invalid(format!(
            "{}: {} in all; a skill folder may have at most 32 MiB",
            folder.display(),
            size(total as i64)
        )));
    }
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (relative, mode, _) in &entries {
        let name = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(mode & 0o777);
        let path = folder.join(relative);
        let bytes =
            std::fs::read(&path).map_err(|e| io_failure(code::INVALID, path.display(), e))?;
        zip.start_file(name, options)
            .and_then(|_| zip.write_all(&bytes).map_err(Into::into))
            .map_err(|e| Failure::failed(format!("zipping {}: {e}", path.display())))?;
    }
    let bytes = zip
        .finish()
        .map_err(|e| Failure::failed(format!("zipping {}: {e}", folder.display())))?
        .into_inner();
    Ok((bytes, entries.len(), total))
}

/// Regular files under `root/relative`, sorted: (relative path, mode, size).
fn collect(root: &Path, relative: &Path, out: &mut Vec<(PathBuf, u32, u64)>) -> Outcome<()> {
    let dir = root.join(relative);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| io_failure(code::INVALID, dir.display(), e))? {
        let entry = entry.map_err(|e| io_failure(code::INVALID, dir.display(), e))?;
        names.push(entry.file_name());
    }
    names.sort();
    for name in names {
        let text = name.to_string_lossy();
        if text.starts_with('.') || text == "__pycache__" {
            continue;
        }
        let rel = relative.join(&name);
        let path = root.join(&rel);
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| io_failure(code::INVALID, path.display(), e))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            return Err(Failure::invalid(format!(
                "{}: a symbolic link; skill folders may not hold links (copy the file instead)",
                path.display()
            )));
        } else if kind.is_dir() {
            collect(root, &rel, out)?;
        } else if kind.is_file() {
            if meta.len() > MAX_FILE_BYTES {
                return Err(Failure::invalid(format!(
                    "{}: {}; a file of a skill may have at most 8 MiB",
                    path.display(),
                    size(meta.len() as i64)
                )));
            }
            out.push((rel, meta.permissions().mode(), meta.len()));
        } else {
            return Err(Failure::invalid(format!(
                "{}: not a regular file or folder",
                path.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn locks_are_read_in_any_of_their_likely_shapes() {
        assert_eq!(locked_packages(&json!({"summary": {}})), None);
        assert_eq!(locked_packages(&json!({"lock": null})), None);
        let text = "# resolved by uv\nopenpyxl==3.1.2 \\\n    --hash=sha256:aa\net-xmlfile==1.1.0 \\\n    --hash=sha256:bb\n";
        assert_eq!(
            locked_packages(&json!({ "lock": text })),
            Some(vec!["openpyxl==3.1.2".into(), "et-xmlfile==1.1.0".into()])
        );
        assert_eq!(
            locked_packages(
                &json!({"lock": {"packages": [{"name": "pandas", "version": "2.2.3"}]}})
            ),
            Some(vec!["pandas==2.2.3".into()])
        );
        assert_eq!(
            locked_packages(&json!({"environment": {"packages": ["numpy==2.1.0"]}})),
            Some(vec!["numpy==2.1.0".into()])
        );
        assert_eq!(locked_packages(&json!({"lock": ""})), Some(vec![]));
        // As the server's SubmissionDetail carries it (issue 12).
        let detail = json!({
            "packages": {
                "declared_in": "requirements.txt",
                "hash": "ab12",
                "packages": [{"name": "openpyxl", "version": "3.1.5"}, {"name": "et-xmlfile", "version": "2.0.0"}],
                "text": "et-xmlfile==2.0.0 \\\n    --hash=sha256:cc\nopenpyxl==3.1.5 \\\n    --hash=sha256:dd\n"
            },
            "package_changes": [
                {"name": "openpyxl", "live": "3.1.2", "submitted": "3.1.5"},
                {"name": "et-xmlfile", "live": null, "submitted": "2.0.0"},
                {"name": "xlrd", "live": "2.0.1", "submitted": null}
            ]
        });
        assert_eq!(
            locked_packages(&detail),
            Some(vec!["openpyxl==3.1.5".into(), "et-xmlfile==2.0.0".into()])
        );
        assert_eq!(
            package_changes(&detail),
            [
                "openpyxl 3.1.2 → 3.1.5",
                "+ et-xmlfile 2.0.0",
                "- xlrd 2.0.1"
            ]
        );
        assert!(package_changes(&json!({"package_changes": []})).is_empty());
    }
}
