//! Where the files a run needs are kept: skill folders, uploads and artifacts are blobs, named by
//! the sha256 of their bytes, stored per tenant behind [`BlobStore`] (PostgreSQL by default, so
//! that a fresh install needs nothing else). Any node can then run or serve them; its data folder
//! only caches them by content hash ([`cache`]), checked against that hash when used.

pub mod cache;
mod postgres;

use std::future::Future;

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use tokio::io::AsyncRead;

pub use postgres::PgBlobs;

use crate::db::TenantSchema;
use crate::{AppError, AppResult, Ctx};

/// The most bytes one chunk holds, and so the most of a file held in memory while it is stored
/// or read.
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// A stored blob: its content hash (hex sha256) and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    pub hash: String,
    pub size: u64,
}

/// The bytes of tenants' files, content-addressed and deduplicated per tenant. Every call names
/// the tenant (its transaction or its schema): a hash alone never reaches another tenant's bytes.
pub trait BlobStore: Clone + Send + Sync + 'static {
    /// Stores what `reader` yields as one blob of the tenant whose transaction `tx` is (in its
    /// schema), reading and sending one chunk at a time. The references to the blob are written
    /// in the same transaction, so that the collector never sees it unreferenced.
    fn put<R: AsyncRead + Unpin + Send>(
        &self,
        tx: &mut PgConnection,
        reader: R,
    ) -> impl Future<Output = AppResult<Blob>> + Send;

    /// The hashes of the blob's chunks in order, or `None` when the tenant has no such blob.
    fn parts(
        &self,
        schema: &TenantSchema,
        hash: &str,
    ) -> impl Future<Output = AppResult<Option<Vec<String>>>> + Send;

    /// One chunk's bytes, as stored (checked by [`Reader`]).
    fn chunk(
        &self,
        schema: &TenantSchema,
        chunk_hash: &str,
    ) -> impl Future<Output = AppResult<Vec<u8>>> + Send;

    /// Removes the blobs of the tenant whose transaction `tx` is that no skill folder, upload
    /// or artifact refers to any more, then the chunks no blob uses. Returns how many blobs went.
    fn collect_unreferenced(
        &self,
        tx: &mut PgConnection,
    ) -> impl Future<Output = AppResult<u64>> + Send;
}

/// The store this installation keeps its files in.
pub fn store(ctx: &Ctx) -> PgBlobs {
    PgBlobs::new(ctx.pool.clone())
}

/// A blob read chunk by chunk, each checked against its hash and the whole against the blob's:
/// bytes that do not match what was stored are an error, never handed on.
pub struct Reader<S: BlobStore> {
    store: S,
    schema: TenantSchema,
    hash: String,
    parts: std::vec::IntoIter<String>,
    whole: Sha256,
}

impl<S: BlobStore> Reader<S> {
    /// Opens the tenant's blob `hash`; `None` when the tenant has none by that hash.
    pub async fn open(store: S, schema: &TenantSchema, hash: &str) -> AppResult<Option<Self>> {
        let Some(parts) = store.parts(schema, hash).await? else {
            return Ok(None);
        };
        Ok(Some(Reader {
            store,
            schema: schema.clone(),
            hash: hash.to_string(),
            parts: parts.into_iter(),
            whole: Sha256::new(),
        }))
    }

    /// The next chunk's bytes; `None` once all were read (and the whole checked).
    pub async fn next_chunk(&mut self) -> AppResult<Option<Vec<u8>>> {
        let Some(chunk_hash) = self.parts.next() else {
            let whole = hex::encode(std::mem::take(&mut self.whole).finalize());
            return if whole == self.hash {
                Ok(None)
            } else {
                Err(damaged(&self.hash))
            };
        };
        let bytes = self.store.chunk(&self.schema, &chunk_hash).await?;
        if hex::encode(Sha256::digest(&bytes)) != chunk_hash {
            return Err(damaged(&self.hash));
        }
        self.whole.update(&bytes);
        Ok(Some(bytes))
    }
}

fn damaged(hash: &str) -> AppError {
    AppError::Internal(anyhow::anyhow!(
        "the stored bytes of blob {hash} do not match its hash"
    ))
}
