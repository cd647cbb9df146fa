//! A node's local copies of blobs, in its data folder: used only after their bytes were checked
//! against the hash they were stored under, and fetched again from the [`BlobStore`] when missing
//! or changed.

use std::path::Path;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{BlobStore, Reader};
use crate::db::TenantSchema;
use crate::{AppError, AppResult};

/// Whether `path` is a regular file (not a link) whose bytes hash to `hash`.
pub async fn holds(path: &Path, hash: &str) -> bool {
    let Ok(mut file) = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .await
    else {
        return false;
    };
    if !file.metadata().await.is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => sha.update(&buf[..n]),
            Err(_) => return false,
        }
    }
    hex::encode(sha.finalize()) == hash
}

/// Writes the tenant's blob `hash` to `path` (its folders made), chunk by chunk: into a file
/// beside it first, put in place only once every byte matched.
pub async fn fetch<S: BlobStore>(
    store: &S,
    schema: &TenantSchema,
    hash: &str,
    path: &Path,
) -> AppResult<()> {
    let mut reader = Reader::open(store.clone(), schema, hash)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no stored file has the hash {hash}")))?;
    let parent = path
        .parent()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("{} has no folder", path.display())))?;
    tokio::fs::create_dir_all(parent).await?;
    let incoming = parent.join(format!(
        ".fetching-{}-{}",
        &hash[..16],
        rand::random::<u32>()
    ));
    let written = async {
        let mut file = tokio::fs::File::create(&incoming).await?;
        while let Some(bytes) = reader.next_chunk().await? {
            file.write_all(&bytes).await?;
        }
        file.flush().await?;
        tokio::fs::rename(&incoming, path).await?;
        AppResult::Ok(())
    }
    .await;
    if written.is_err() {
        tokio::fs::remove_file(&incoming).await.ok();
    }
    written
}

/// Makes `path` hold the tenant's blob `hash`: kept when it does already, fetched otherwise.
/// Returns whether it had to be fetched.
pub async fn ensure<S: BlobStore>(
    store: &S,
    schema: &TenantSchema,
    hash: &str,
    path: &Path,
) -> AppResult<bool> {
    if holds(path, hash).await {
        return Ok(false);
    }
    if tokio::fs::symlink_metadata(path)
        .await
        .is_ok_and(|m| m.is_dir())
    {
        tokio::fs::remove_dir_all(path).await?;
    }
    fetch(store, schema, hash, path).await?;
    Ok(true)
}
