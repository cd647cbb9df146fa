//! The files uploaded with a run request, arranged by the inputs they are for: one file for a
//! `file` input; for a `folder` input one `.zip`/`.tar.gz` (unpacked with the same checks as a
//! submitted script folder: no links, no paths leaving the folder, bounded sizes and counts) or
//! several files, which become one folder.

use std::collections::BTreeMap;
use std::path::Path;

use model::skill::{InputSchema, InputType};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use super::{stored_name, Upload, MAX_UPLOAD_BYTES};
use crate::blobs::{self, BlobStore};
use crate::db::{TenantSchema, TenantTx};
use crate::skills::archive::read_archive;
use crate::skills::manifest::{
    check_path, content_hash, strip_single_top_folder, MAX_FILE_BYTES, MAX_FOLDER_BYTES,
    MAX_FOLDER_FILES,
};
use crate::{AppError, AppResult, Ctx};

/// What one input's upload is stored as, beside the execution.
pub(super) enum Content<'a> {
    File(&'a [u8]),
    /// Relative `/`-separated paths (checked) and their bytes.
    Folder(Vec<(String, Vec<u8>)>),
}

/// One input's upload, ready to be stored under `name` in the execution's inputs folder.
pub(super) struct Arranged<'a> {
    pub field: &'a str,
    /// A plain name (see `stored_name`): the file, or the folder.
    pub name: String,
    pub content: Content<'a>,
    /// Bytes stored (a folder's files together).
    pub size: usize,
    /// sha256 of the file; of a folder, its content hash (`manifest::content_hash`).
    pub sha256: String,
}

/// Arranges `files` by field as `schema` says; a field the schema does not know keeps its file,
/// so that the form check names it. Every refusal says which input and why.
pub(super) fn arrange<'a>(
    schema: &InputSchema,
    files: &'a [Upload],
) -> AppResult<Vec<Arranged<'a>>> {
    let mut by_field: BTreeMap<&str, Vec<&Upload>> = BTreeMap::new();
    for file in files {
        if file.bytes.len() > MAX_UPLOAD_BYTES {
            return Err(AppError::Invalid(format!(
                "{}: the file is larger than {} MiB.",
                file.field,
                MAX_UPLOAD_BYTES / (1024 * 1024)
            )));
        }
        by_field.entry(&file.field).or_default().push(file);
    }
    let mut arranged: Vec<Arranged> = Vec::new();
    for (field, uploads) in by_field {
        let kind = schema
            .fields
            .iter()
            .find(|f| f.name == field)
            .map(|f| f.kind);
        let one = if kind == Some(InputType::Folder) {
            folder(field, &uploads)?
        } else {
            let [upload] = uploads[..] else {
                return Err(AppError::Invalid(format!(
                    "{field}: choose one file (this input takes a single file)."
                )));
            };
            Arranged {
                field,
                name: stored_name(&upload.file_name),
                content: Content::File(&upload.bytes),
                size: upload.bytes.len(),
                sha256: hex::encode(Sha256::digest(&upload.bytes)),
            }
        };
        if arranged.iter().any(|a| a.name == one.name) {
            return Err(AppError::Invalid(format!(
                "{field}: another input already uploads a file named {}.",
                one.name
            )));
        }
        arranged.push(one);
    }
    Ok(arranged)
}

/// An archive is told by its first bytes, as submissions are.
fn is_archive(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(b"PK\x05\x06")
        || bytes.starts_with(&[0x1f, 0x8b])
}

/// A folder input's upload: one archive unpacked, or several files side by side.
fn folder<'a>(field: &'a str, uploads: &[&Upload]) -> AppResult<Arranged<'a>> {
    let refuse = |m: String| AppError::Invalid(format!("{field}: {m}"));
    let (name, files) = match uploads {
        [one] if is_archive(&one.bytes) => {
            let files = read_archive(&one.bytes).map_err(|e| refuse(e.to_string()))?;
            // `photos.zip` → `photos`.
            let base = stored_name(&one.file_name);
            let stem = [".tar.gz", ".tgz", ".zip", ".gz"]
                .iter()
                .find_map(|ext| base.strip_suffix(ext))
                .filter(|s| !s.is_empty())
                .unwrap_or(&base)
                .to_string();
            (stored_name(&stem), strip_single_top_folder(files))
        }
        _ => {
            let mut files: Vec<(String, Vec<u8>)> = Vec::new();
            for upload in uploads {
                let path = stored_name(&upload.file_name);
                if files.iter().any(|(p, _)| *p == path) {
                    return Err(refuse(format!("two files are named {path}.")));
                }
                files.push((path, upload.bytes.clone()));
            }
            (stored_name(field), files)
        }
    };
    check_folder(&files).map_err(refuse)?;
    let size = files.iter().map(|(_, b)| b.len()).sum();
    let sha256 = content_hash(&files);
    Ok(Arranged {
        field,
        name,
        content: Content::Folder(files),
        size,
        sha256,
    })
}

/// The folder limits of a submitted script folder, for a folder of input files.
fn check_folder(files: &[(String, Vec<u8>)]) -> Result<(), String> {
    if files.is_empty() {
        return Err("the folder is empty.".into());
    }
    if files.len() > MAX_FOLDER_FILES {
        return Err(format!(
            "the folder has {} files; at most {MAX_FOLDER_FILES} are allowed.",
            files.len()
        ));
    }
    let mut total = 0;
    let mut paths = std::collections::BTreeSet::new();
    for (path, bytes) in files {
        check_path(path).map_err(|m| format!("{path}: {m}."))?;
        if bytes.len() > MAX_FILE_BYTES {
            return Err(format!(
                "{path}: larger than {} MiB.",
                MAX_FILE_BYTES / (1024 * 1024)
            ));
        }
        total += bytes.len();
        if !paths.insert(path.as_str()) {
            return Err(format!("{path}: listed twice."));
        }
    }
    if total > MAX_FOLDER_BYTES {
        return Err(format!(
            "the folder holds more than {} MiB.",
            MAX_FOLDER_BYTES / (1024 * 1024)
        ));
    }
    // A file and a folder of the same name cannot both be written.
    for path in &paths {
        let mut prefix = String::new();
        let segments: Vec<&str> = path.split('/').collect();
        for segment in &segments[..segments.len() - 1] {
            prefix.push_str(segment);
            if paths.contains(prefix.as_str()) {
                return Err(format!(
                    "{prefix}: is a file but {path} needs it to be a folder."
                ));
            }
            prefix.push('/');
        }
    }
    Ok(())
}

/// Writes an arranged upload into the execution's inputs folder `dir`.
pub(super) async fn store(dir: &Path, upload: &Arranged<'_>) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    for (path, bytes) in files_of(upload) {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::write(target, bytes).await?;
    }
    Ok(())
}

/// An arranged upload's files by their paths inside the inputs folder.
fn files_of<'a>(upload: &'a Arranged<'_>) -> Vec<(String, &'a [u8])> {
    match &upload.content {
        Content::File(bytes) => vec![(upload.name.clone(), bytes)],
        // Checked by `check_folder`: relative, no `..`.
        Content::Folder(files) => files
            .iter()
            .map(|(path, bytes)| (format!("{}/{path}", upload.name), &bytes[..]))
            .collect(),
    }
}

/// Records an arranged upload's files in the database as blobs, in the request's transaction
/// `tx`: the worker that runs the execution, on whichever node, lays its inputs out from there
/// ([`lay_out`]).
pub(super) async fn record(
    ctx: &Ctx,
    tx: &mut PgConnection,
    execution_id: i64,
    upload: &Arranged<'_>,
) -> AppResult<()> {
    let store = blobs::store(ctx);
    for (path, bytes) in files_of(upload) {
        let blob = store.put(&mut *tx, bytes).await?;
        sqlx::query(
            "INSERT INTO execution_input_files (execution_id, path, blob_hash) VALUES ($1, $2, $3)",
        )
        .bind(execution_id)
        .bind(&path)
        .bind(&blob.hash)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Makes the execution's inputs folder on this node hold its uploads as recorded, fetching from
/// the database what is missing; `replace_changed`: a file whose bytes differ from its hash is
/// fetched anew too (for a run), rather than left for the caller to refuse ("Run again").
/// Executions from before the database kept uploads have their files on one node only.
pub(super) async fn lay_out(
    ctx: &Ctx,
    schema: &TenantSchema,
    dir: &Path,
    execution_id: i64,
    replace_changed: bool,
) -> AppResult<()> {
    let mut tx = TenantTx::begin(&ctx.pool, schema).await?;
    let files: Vec<(String, String)> = sqlx::query_as(
        "SELECT path, blob_hash FROM execution_input_files WHERE execution_id = $1 ORDER BY path",
    )
    .bind(execution_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let store = blobs::store(ctx);
    for (path, hash) in files {
        // Written by `store` from checked names; checked again, so that a row written some
        // other way can never name a path outside the folder.
        check_path(&path).map_err(|m| AppError::Internal(anyhow::anyhow!("{path}: {m}")))?;
        let at = dir.join(&path);
        if replace_changed {
            blobs::cache::ensure(&store, schema, &hash, &at).await?;
        } else if tokio::fs::symlink_metadata(&at).await.is_err() {
            blobs::cache::fetch(&store, schema, &hash, &at).await?;
        }
    }
    Ok(())
}

/// A stored folder input read back for "Run again", as one `.zip` named after the folder (its
/// files under that one top folder), so that it is arranged exactly as the first upload was.
/// `None` when the folder no longer holds what was recorded (`size`, content hash) or holds
/// anything but folders and regular files.
pub(super) fn stored_folder_as_zip(
    at: &Path,
    name: &str,
    size: i64,
    sha256: &str,
) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Write;
    let mut files = Vec::new();
    if !read_stored_folder(at, "", &mut files)? {
        return Ok(None);
    }
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    if total as i64 != size || content_hash(&files) != sha256 {
        return Ok(None);
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // Stored, not deflated: it is unpacked again at once, in memory.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(total > u32::MAX as usize);
    for (path, bytes) in &files {
        zip.start_file(format!("{name}/{path}"), options)
            .map_err(std::io::Error::other)?;
        zip.write_all(bytes)?;
    }
    Ok(Some(
        zip.finish().map_err(std::io::Error::other)?.into_inner(),
    ))
}

/// Appends the files under `dir` (paths relative to the stored folder, after `prefix`);
/// `false` at the first entry that is neither a folder nor a regular file.
fn read_stored_folder(
    dir: &Path,
    prefix: &str,
    files: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let Some(name) = entry.file_name().to_str().map(|n| format!("{prefix}{n}")) else {
            return Ok(false);
        };
        if kind.is_dir() {
            if !read_stored_folder(&entry.path(), &format!("{name}/"), files)? {
                return Ok(false);
            }
        } else if kind.is_file() {
            files.push((name, std::fs::read(entry.path())?));
        } else {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::skill::InputField;
    use std::io::Write;

    fn schema() -> InputSchema {
        let field = |name: &str, kind| -> InputField {
            serde_json::from_value(serde_json::json!({"name": name, "type": kind})).unwrap()
        };
        InputSchema {
            fields: vec![field("photos", "folder"), field("data", "file")],
        }
    }

    fn upload(field: &str, name: &str, bytes: &[u8]) -> Upload {
        Upload {
            field: field.into(),
            file_name: name.into(),
            bytes: bytes.to_vec(),
        }
    }

    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        for (name, bytes) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
        out.into_inner()
    }

    fn folder_of(a: &Arranged) -> Vec<(String, usize)> {
        match &a.content {
            Content::Folder(files) => files.iter().map(|(p, b)| (p.clone(), b.len())).collect(),
            Content::File(_) => panic!("a folder"),
        }
    }

    #[test]
    fn a_zip_becomes_one_folder_without_its_top_folder() {
        let z = zip(&[("trip/a.jpg", b"aa"), ("trip/sub/b.jpg", b"b")]);
        let files = [
            upload("photos", "My Trip.zip", &z),
            upload("data", "x.csv", b"1"),
        ];
        let arranged = arrange(&schema(), &files).unwrap();
        assert_eq!(arranged.len(), 2);
        let photos = arranged.iter().find(|a| a.field == "photos").unwrap();
        assert_eq!(photos.name, "My_Trip");
        assert_eq!(
            folder_of(photos),
            [("a.jpg".to_string(), 2), ("sub/b.jpg".to_string(), 1)]
        );
        assert_eq!(photos.size, 3);
        assert_eq!(photos.sha256.len(), 64);
    }

    #[test]
    fn several_files_become_one_folder() {
        let files = [
            upload("photos", "a.txt", b"a"),
            upload("photos", "C:\\dir\\b.txt", b"bb"),
        ];
        let arranged = arrange(&schema(), &files).unwrap();
        assert_eq!(arranged[0].name, "photos");
        assert_eq!(
            folder_of(&arranged[0]),
            [("a.txt".to_string(), 1), ("b.txt".to_string(), 2)]
        );
        let twice = [
            upload("photos", "a.txt", b"a"),
            upload("photos", "x/a.txt", b"b"),
        ];
        let e = arrange(&schema(), &twice).err().unwrap().to_string();
        assert!(e.contains("two files are named a.txt"), "{e}");
    }

    #[test]
    fn hostile_or_odd_folders_are_refused() {
        let e = |files: &[Upload]| arrange(&schema(), files).err().unwrap().to_string();
        // An archive that leaves its folder: the same checks as a submission.
        let z = zip(&[("../evil.txt", b"x")]);
        assert!(e(&[upload("photos", "p.zip", &z)]).contains("photos: "));
        let empty = zip(&[]);
        assert!(e(&[upload("photos", "p.zip", &empty)]).contains("the folder is empty"));
        // Two files for a file input.
        let two = [upload("data", "a.csv", b"1"), upload("data", "b.csv", b"2")];
        assert!(e(&two).contains("choose one file"));
        // A folder named like another input's file.
        let clash = [
            upload("photos", "x.csv", b"1"),
            upload("data", "photos", b"2"),
        ];
        assert!(e(&clash).contains("another input already uploads"));
    }

    #[tokio::test]
    async fn stored_folders_copy_into_a_run() {
        let base = std::env::temp_dir().join(format!("execgov-uploads-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let z = zip(&[("a.txt", b"a"), ("deep/b.txt", b"b")]);
        let files = [upload("photos", "p.zip", &z)];
        let arranged = arrange(&schema(), &files).unwrap();
        store(&base.join("inputs"), &arranged[0]).await.unwrap();
        engine::work::copy_folder(&base.join("inputs/p"), &base.join("files-p")).unwrap();
        assert_eq!(
            std::fs::read(base.join("files-p/deep/b.txt")).unwrap(),
            b"b"
        );
        std::fs::remove_dir_all(&base).unwrap();
    }
    #[tokio::test]
    async fn a_stored_folder_is_uploaded_again_as_it_was() {
        let base = std::env::temp_dir().join(format!("execgov-rerun-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        // One top folder inside: kept, since the archive's own top folder is the stored one's.
        let z = zip(&[("trip/only/a.jpg", b"aa"), ("trip/only/deep/b.jpg", b"b")]);
        let files = [upload("photos", "Trip.zip", &z)];
        let first = arrange(&schema(), &files).unwrap();
        store(&base, &first[0]).await.unwrap();
        let again = stored_folder_as_zip(&base.join("Trip"), "Trip", 3, &first[0].sha256)
            .unwrap()
            .expect("the folder as recorded");
        let again = [upload("photos", "Trip.zip", &again)];
        let second = arrange(&schema(), &again).unwrap();
        assert_eq!(second[0].name, "Trip");
        assert_eq!(second[0].sha256, first[0].sha256);
        assert_eq!(folder_of(&second[0]), folder_of(&first[0]));
        assert_eq!(folder_of(&first[0])[0].0, "only/a.jpg");
        // Changed since it was recorded, or holding a link: not reused.
        let stale = stored_folder_as_zip(&base.join("Trip"), "Trip", 3, &"0".repeat(64));
        assert!(stale.unwrap().is_none());
        std::os::unix::fs::symlink("/etc/passwd", base.join("Trip/only/link")).unwrap();
        let linked = stored_folder_as_zip(&base.join("Trip"), "Trip", 3, &first[0].sha256);
        assert!(linked.unwrap().is_none());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
