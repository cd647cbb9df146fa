//! The files a run needs are kept in PostgreSQL (issue 14): a 50 MiB artifact stored in chunks
//! and downloaded as a stream from the database without the process holding it; identical
//! uploads kept once; a wiped or damaged local cache refilled from the database, checked by
//! hash; retention removing the bytes nothing refers to; and no tenant reaching another's
//! bytes, even with their hash. Real PostgreSQL, real sandboxes, the real router.
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::*;
use domain::blobs::{self, BlobStore, Reader};
use domain::executions::{self, QueuePolicy, Upload};
use domain::Ctx;
use engine::{Executors, SandboxConfig};
use sha2::{Digest, Sha256};

const MIB: usize = 1024 * 1024;
const ACME: &str = "acme.localhost";
const GLOBEX: &str = "globex.localhost";

/// One test at a time: the memory test measures this process, which the others share.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn executors() -> Executors {
    static NEXT: AtomicU32 = AtomicU32::new(69700);
    Executors::new(SandboxConfig {
        first_uid: NEXT.fetch_add(8, Ordering::SeqCst),
        uid_slots: 8,
        ..SandboxConfig::default()
    })
}

fn policy() -> QueuePolicy {
    QueuePolicy {
        lease: Duration::from_secs(60),
        heartbeat: Duration::from_millis(500),
        ..QueuePolicy::default()
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Requests `slug` in Acme as acme-user with `uploads` and runs it to its end; returns its id.
async fn run(ctx: &Ctx, executors: &Executors, slug: &str, uploads: &[Upload]) -> i64 {
    let id = request(ctx, slug, uploads).await;
    run_queued(ctx, executors, id).await;
    id
}

/// Runs what is queued; execution `id` among it must succeed.
async fn run_queued(ctx: &Ctx, executors: &Executors, id: i64) {
    while let Some(claimed) = executions::claim_next(ctx, "w-blobs", &policy())
        .await
        .unwrap()
    {
        executions::run_claimed(ctx, executors, claimed, "w-blobs", &policy())
            .await
            .unwrap();
    }
    let acme = tenant_of(ctx, ACME).await;
    let member = user(ctx, &acme, "acme-user").await;
    let view = executions::view(ctx, &acme, &member, id).await.unwrap();
    assert_eq!(
        view.summary.status,
        model::ExecutionStatus::Succeeded,
        "{view:?}"
    );
}

async fn request(ctx: &Ctx, slug: &str, uploads: &[Upload]) -> i64 {
    let acme = tenant_of(ctx, ACME).await;
    let member = user(ctx, &acme, "acme-user").await;
    executions::request(
        ctx,
        &acme,
        &member,
        &actor("acme-user"),
        slug,
        &BTreeMap::new(),
        uploads,
    )
    .await
    .unwrap()
}

/// A line of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Forgets this process's peak memory so far (VmHWM), so that the next peak is what comes after.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

/// The peak memory since `reset_peak`, above `before` (KiB), in MiB.
fn grew_mib(before: usize) -> usize {
    status_kib("VmHWM:").saturating_sub(before) / 1024
}

fn one_file_upload(field: &str, name: &str, bytes: Vec<u8>) -> Vec<Upload> {
    vec![Upload {
        field: field.into(),
        file_name: name.into(),
        bytes,
    }]
}

/// A script writing `mib` distinct MiB to `output/big.bin`: no two chunks alike, so that
/// nothing is deduplicated away.
fn writing_mib(mib: usize) -> String {
    format!(
        "chunk = bytes(range(256)) * 4096\n\
         with open('output/big.bin', 'wb') as f:\n    \
         for i in range({mib}):\n        \
         f.write(bytes([i]) * 16 + chunk[16:])\n"
    )
}

fn big_bytes() -> Vec<u8> {
    let chunk: Vec<u8> = (0..=255u8).cycle().take(MIB).collect();
    (0..50u8)
        .flat_map(|i| {
            let mut c = chunk.clone();
            c[..16].fill(i);
            c
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifty_mib_artifact_is_stored_in_chunks_and_downloaded_as_a_stream_from_any_node() {
    let _one = ONE_AT_A_TIME.lock().await;
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, ACME).await;
    register_script(
        &ctx,
        &acme,
        ("big-artifact", "main.py", &writing_mib(50)),
        60,
    )
    .await;
    register_script(
        &ctx,
        &acme,
        ("small-artifact", "main.py", &writing_mib(1)),
        60,
    )
    .await;
    let executors = executors();
    // The first run's own costs (threads, connections, the sandbox's set-up) come before the
    // measurement.
    run(&ctx, &executors, "small-artifact", &[]).await;

    let id = run(&ctx, &executors, "big-artifact", &[]).await;

    let expected = big_bytes();
    let (size, hash): (i64, String) = sqlx::query_as(
        "SELECT size, blob_hash FROM tenant_1003.artifacts WHERE execution_id = $1 AND path = 'big.bin'",
    )
    .bind(id)
    .fetch_one(&ctx.pool)
    .await
    .unwrap();
    assert_eq!(size as usize, expected.len());
    assert_eq!(hash, sha256(&expected));
    // 50 chunks of 1 MiB, each named by its own hash.
    let (chunks, largest, misnamed): (i64, i32, i64) = sqlx::query_as(
        "SELECT count(*), max(octet_length(c.data)), \
                count(*) FILTER (WHERE encode(sha256(c.data), 'hex') <> c.hash) \
         FROM tenant_1003.blob_parts p JOIN tenant_1003.blob_chunks c ON c.hash = p.chunk_hash \
         WHERE p.blob_hash = $1",
    )
    .bind(&hash)
    .fetch_one(&ctx.pool)
    .await
    .unwrap();
    assert_eq!((chunks, largest as usize, misnamed), (50, MIB, 0));

    // Storing it again, as the run did, from the file: one chunk in memory at a time.
    let copy = ctx.artifacts_dir(acme.id, id).join("big.bin");
    let mut tx = domain::db::TenantTx::begin(&ctx.pool, &acme.schema)
        .await
        .unwrap();
    let before = status_kib("VmRSS:");
    reset_peak();
    let file = tokio::fs::File::open(&copy).await.unwrap();
    let again = blobs::store(&ctx).put(&mut tx, file).await.unwrap();
    let storing = grew_mib(before);
    drop(tx);
    assert_eq!(
        (again.hash.as_str(), again.size as usize),
        (hash.as_str(), expected.len())
    );

    // Another web node has no copy on its disk: the download comes from the database.
    std::fs::remove_dir_all(ctx.artifacts_dir(acme.id, id)).unwrap();
    let server = start_server(ctx.clone()).await;
    let session = server.login(ACME, "acme-user", PASSWORD).await;
    let before = status_kib("VmRSS:");
    reset_peak();
    let mut response = server
        .client
        .get(format!(
            "http://{}/executions/{id}/artifacts/big.bin",
            server.addr
        ))
        .header(reqwest::header::HOST, ACME)
        .header(
            reqwest::header::COOKIE,
            format!("execgov_session={session}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(expected.len() as u64));
    let (mut received, mut sha, mut pieces) = (0usize, Sha256::new(), 0);
    while let Some(piece) = response.chunk().await.unwrap() {
        received += piece.len();
        sha.update(&piece);
        pieces += 1;
    }
    let serving = grew_mib(before);
    assert_eq!(received, expected.len());
    assert_eq!(hex::encode(sha.finalize()), hash);
    assert!(pieces > 1, "the download came in one piece");
    // Neither storing nor serving held the file: far less than its 50 MiB on top.
    assert!(
        storing < 25,
        "storing the artifact grew the process by {storing} MiB"
    );
    assert!(
        serving < 25,
        "serving the artifact grew the process by {serving} MiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_uploads_are_kept_once_and_retention_removes_what_nothing_uses() {
    let _one = ONE_AT_A_TIME.lock().await;
    let ctx = seeded_ctx().await;
    // Three MiB and a bit: four chunks, the last one short; the second and third alike (the
    // lines repeat every 16 bytes), kept once.
    let csv: Vec<u8> = b"region,amount\n"
        .iter()
        .copied()
        .chain((0..3 * MIB + 100).map(|i| b"north,1\nsouth,2\n"[i % 16]))
        .collect();
    let first = request(
        &ctx,
        "csv-summary",
        &one_file_upload("data", "sales.csv", csv.clone()),
    )
    .await;
    let second = request(
        &ctx,
        "csv-summary",
        &one_file_upload("data", "other.csv", csv.clone()),
    )
    .await;
    let hashes: Vec<String> = sqlx::query_scalar(
        "SELECT blob_hash FROM tenant_1003.execution_input_files \
         WHERE execution_id = ANY($1) ORDER BY execution_id",
    )
    .bind([first, second])
    .fetch_all(&ctx.pool)
    .await
    .unwrap();
    assert_eq!(hashes, [sha256(&csv), sha256(&csv)]);
    let hash = &hashes[0];
    let stored = |sql: &'static str| {
        let ctx = ctx.clone();
        let hash = hash.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(hash)
                .fetch_one(&ctx.pool)
                .await
                .unwrap()
        }
    };
    let blobs = "SELECT count(*) FROM tenant_1003.blobs WHERE hash = $1";
    let parts = "SELECT count(*) FROM tenant_1003.blob_parts WHERE blob_hash = $1";
    let chunks = "SELECT count(*) FROM tenant_1003.blob_chunks c WHERE EXISTS \
                  (SELECT 1 FROM tenant_1003.blob_parts p WHERE p.blob_hash = $1 AND p.chunk_hash = c.hash)";
    assert_eq!(stored(blobs).await, 1);
    assert_eq!(stored(parts).await, 4);
    assert_eq!(stored(chunks).await, 3);
    let all_chunks = "SELECT count(*) FROM tenant_1003.blob_chunks WHERE $1 <> ''";
    let chunks_before = stored(all_chunks).await;

    // Cancelled and past retention, the first goes; the second still uses the bytes.
    let acme = tenant_of(&ctx, ACME).await;
    let member = user(&ctx, &acme, "acme-user").await;
    for id in [first, second] {
        executions::cancel(&ctx, &acme, &member, &actor("acme-user"), id)
            .await
            .unwrap();
    }
    let age = |id: i64, days: i32| {
        let ctx = ctx.clone();
        async move {
            sqlx::query(
                "UPDATE tenant_1003.executions SET finished_at = now() - make_interval(days => $2) \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(days)
            .execute(&ctx.pool)
            .await
            .unwrap();
        }
    };
    age(first, 400).await;
    domain::storage::remove_expired(&ctx).await.unwrap();
    assert_eq!(stored(blobs).await, 1, "still used by the second execution");
    assert_eq!(stored(all_chunks).await, chunks_before);
    age(second, 400).await;
    domain::storage::remove_expired(&ctx).await.unwrap();
    assert_eq!(stored(blobs).await, 0);
    assert_eq!(stored(all_chunks).await, chunks_before - 3);
    // The skill folders are still referenced and kept.
    assert!(
        count(&ctx, "SELECT count(*) FROM tenant_1003.asset_files a JOIN tenant_1003.blobs b ON b.hash = a.blob_hash").await
            > 0
    );
}

/// The hashes the database has for the files of the live version of `slug` in Acme.
async fn stored_folder(ctx: &Ctx, slug: &str) -> (String, Vec<(String, String)>) {
    let content_hash: String = sqlx::query_scalar(
        "SELECT av.content_hash FROM tenant_1003.skills s \
         JOIN tenant_1003.skill_versions v ON v.id = s.current_version_id \
         JOIN tenant_1003.asset_versions av ON av.id = v.asset_version_id WHERE s.slug = $1",
    )
    .bind(slug)
    .fetch_one(&ctx.pool)
    .await
    .unwrap();
    let files = sqlx::query_as(
        "SELECT path, blob_hash FROM tenant_1003.asset_files WHERE content_hash = $1 ORDER BY path",
    )
    .bind(&content_hash)
    .fetch_all(&ctx.pool)
    .await
    .unwrap();
    (content_hash, files)
}

/// Every file the database lists for the folder is on this node's disk with those bytes.
fn assert_cached(dir: &std::path::Path, files: &[(String, String)]) {
    assert!(!files.is_empty());
    for (path, hash) in files {
        let bytes = std::fs::read(dir.join(path)).unwrap();
        assert_eq!(&sha256(&bytes), hash, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_or_damaged_local_cache_is_refilled_from_the_database_checked_by_hash() {
    let _one = ONE_AT_A_TIME.lock().await;
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, ACME).await;
    let script = "open('output/said.txt', 'w').write('as approved')\n";
    register_script(&ctx, &acme, ("cache-probe", "main.py", script), 30).await;
    let (content_hash, files) = stored_folder(&ctx, "cache-probe").await;
    let dir = domain::skills::asset_dir(&ctx, acme.id, &content_hash);
    let executors = executors();
    let said = |id: i64| std::fs::read_to_string(ctx.artifacts_dir(acme.id, id).join("said.txt"));

    // A worker whose cache was wiped (or a new one): the run fetches the folder.
    std::fs::remove_dir_all(ctx.assets_dir(acme.id)).unwrap();
    let id = run(&ctx, &executors, "cache-probe", &[]).await;
    assert_eq!(said(id).unwrap(), "as approved");
    assert_cached(&dir, &files);

    // A cached file changed on disk: caught by its hash, replaced before the run.
    std::fs::write(
        dir.join("main.py"),
        "open('output/said.txt', 'w').write('tampered')\n",
    )
    .unwrap();
    let id = run(&ctx, &executors, "cache-probe", &[]).await;
    assert_eq!(said(id).unwrap(), "as approved");
    assert_cached(&dir, &files);

    // A file gone from the cache: fetched again.
    std::fs::remove_file(dir.join("README.md")).unwrap();
    run(&ctx, &executors, "cache-probe", &[]).await;
    assert_cached(&dir, &files);

    // A folder stored before the database kept them (listed nowhere there): its first run on
    // the node that has it stores it, and then any node can run it.
    sqlx::query("DELETE FROM tenant_1003.asset_files WHERE content_hash = $1")
        .bind(&content_hash)
        .execute(&ctx.pool)
        .await
        .unwrap();
    run(&ctx, &executors, "cache-probe", &[]).await;
    assert_eq!(stored_folder(&ctx, "cache-probe").await.1, files);
    std::fs::remove_dir_all(&dir).unwrap();
    let id = run(&ctx, &executors, "cache-probe", &[]).await;
    assert_eq!(said(id).unwrap(), "as approved");
    assert_cached(&dir, &files);

    // Uploads too: accepted on one node, run on another whose disk never had them.
    let csv = b"region,amount\nnorth,10\nsouth,20\n".to_vec();
    let id = request(
        &ctx,
        "csv-summary",
        &one_file_upload("data", "sales.csv", csv.clone()),
    )
    .await;
    std::fs::remove_dir_all(ctx.inputs_dir(acme.id, id)).unwrap();
    run_queued(&ctx, &executors, id).await;
    let report = std::fs::read_to_string(ctx.artifacts_dir(acme.id, id).join("report.md")).unwrap();
    assert!(report.contains("amount"), "{report}");
    assert_eq!(
        std::fs::read(ctx.inputs_dir(acme.id, id).join("sales.csv")).unwrap(),
        csv
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_cannot_reach_a_blob_even_knowing_its_hash() {
    let _one = ONE_AT_A_TIME.lock().await;
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, ACME).await;
    let globex = tenant_of(&ctx, GLOBEX).await;
    let csv = b"region,amount\nnorth,10\n".to_vec();
    let id = run(
        &ctx,
        &executors(),
        "csv-summary",
        &one_file_upload("data", "secret.csv", csv.clone()),
    )
    .await;
    let report: String = sqlx::query_scalar(
        "SELECT blob_hash FROM tenant_1003.artifacts WHERE execution_id = $1 AND path = 'report.md'",
    )
    .bind(id)
    .fetch_one(&ctx.pool)
    .await
    .unwrap();
    let store = blobs::store(&ctx);
    // Acme reads its own; Globex, asking by the same hashes, finds nothing.
    assert!(Reader::open(store.clone(), &acme.schema, &report)
        .await
        .unwrap()
        .is_some());
    for hash in [&report, &sha256(&csv)] {
        assert!(Reader::open(store.clone(), &globex.schema, hash)
            .await
            .unwrap()
            .is_none());
    }
    // Nor can Globex's role read Acme's chunks by naming Acme's schema.
    let mut tx = domain::db::TenantTx::begin(&ctx.pool, &globex.schema)
        .await
        .unwrap();
    let refused = sqlx::query("SELECT data FROM tenant_1003.blob_chunks LIMIT 1")
        .fetch_optional(&mut *tx)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
    drop(tx);

    // Through the download paths: Globex's users never get Acme's artifact.
    let server = start_server(ctx.clone()).await;
    let session = server.login(GLOBEX, "globex-admin", PASSWORD).await;
    let page = server
        .get(
            GLOBEX,
            &format!("/executions/{id}/artifacts/report.md"),
            Some(&session),
        )
        .await;
    assert_eq!(page.status, 404, "{}", page.body);
    let acme_session = server.login(ACME, "acme-user", PASSWORD).await;
    let own = server
        .get(
            ACME,
            &format!("/executions/{id}/artifacts/report.md"),
            Some(&acme_session),
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(sha256(own.body.as_bytes()), report);
}
