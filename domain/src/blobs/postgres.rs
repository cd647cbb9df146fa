//! [`BlobStore`] in the tenant's own schema (`migrations/tenant/0016_blobs.sql`).

use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Blob, BlobStore, CHUNK_BYTES};
use crate::db::{TenantSchema, TenantTx};
use crate::{AppError, AppResult};

/// Blobs in PostgreSQL: chunks in `blob_chunks`, each blob's list of them in `blob_parts`.
#[derive(Clone)]
pub struct PgBlobs {
    pool: PgPool,
}

impl PgBlobs {
    pub fn new(pool: PgPool) -> PgBlobs {
        PgBlobs { pool }
    }
}

/// Reads until `buf` is full or the reader ends; how many bytes were read.
async fn fill<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

impl BlobStore for PgBlobs {
    async fn put<R: AsyncRead + Unpin + Send>(
        &self,
        tx: &mut PgConnection,
        mut reader: R,
    ) -> AppResult<Blob> {
        let mut buf = vec![0u8; CHUNK_BYTES];
        let mut whole = Sha256::new();
        let mut chunks = Vec::new();
        let mut size = 0u64;
        loop {
            let n = fill(&mut reader, &mut buf).await?;
            if n == 0 {
                break;
            }
            let data = &buf[..n];
            whole.update(data);
            let chunk_hash = hex::encode(Sha256::digest(data));
            sqlx::query(
                "INSERT INTO blob_chunks (hash, data) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
            )
            .bind(&chunk_hash)
            .bind(data)
            .execute(&mut *tx)
            .await?;
            chunks.push(chunk_hash);
            size += n as u64;
            if n < CHUNK_BYTES {
                break;
            }
        }
        let hash = hex::encode(whole.finalize());
        // A blob already stored has its parts already: identical bytes are kept once.
        sqlx::query(
            "WITH blob AS (INSERT INTO blobs (hash, size) VALUES ($1, $2) \
                 ON CONFLICT (hash) DO NOTHING RETURNING hash) \
             INSERT INTO blob_parts (blob_hash, seq, chunk_hash) \
             SELECT blob.hash, x.ord - 1, x.chunk FROM blob, \
                 unnest($3::text[]) WITH ORDINALITY AS x(chunk, ord)",
        )
        .bind(&hash)
        .bind(size as i64)
        .bind(&chunks)
        .execute(&mut *tx)
        .await?;
        Ok(Blob { hash, size })
    }

    async fn parts(&self, schema: &TenantSchema, hash: &str) -> AppResult<Option<Vec<String>>> {
        let mut tx = TenantTx::begin(&self.pool, schema).await?;
        let found: Option<Vec<String>> = sqlx::query_scalar(
            "SELECT coalesce((SELECT array_agg(chunk_hash ORDER BY seq) FROM blob_parts \
                 WHERE blob_hash = b.hash), '{}') FROM blobs b WHERE b.hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found)
    }

    async fn chunk(&self, schema: &TenantSchema, chunk_hash: &str) -> AppResult<Vec<u8>> {
        let mut tx = TenantTx::begin(&self.pool, schema).await?;
        let data: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT data FROM blob_chunks WHERE hash = $1")
                .bind(chunk_hash)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        // Gone between the list and the read: the file was removed meanwhile (retention).
        data.ok_or_else(|| AppError::NotFound("The file is no longer stored.".into()))
    }

    async fn collect_unreferenced(&self, tx: &mut PgConnection) -> AppResult<u64> {
        let removed = sqlx::query(
            "DELETE FROM blobs b WHERE \
                 NOT EXISTS (SELECT 1 FROM asset_files r WHERE r.blob_hash = b.hash) \
             AND NOT EXISTS (SELECT 1 FROM execution_input_files r WHERE r.blob_hash = b.hash) \
             AND NOT EXISTS (SELECT 1 FROM artifacts r WHERE r.blob_hash = b.hash)",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "DELETE FROM blob_chunks c WHERE NOT EXISTS \
                 (SELECT 1 FROM blob_parts p WHERE p.chunk_hash = c.hash)",
        )
        .execute(&mut *tx)
        .await?;
        Ok(removed)
    }
}
