//! "Run again" over HTTP: the files of the earlier execution are reused only as they were
//! recorded for it (never a path read from an input's value), only for a run of the same skill,
//! and only while they are still what was uploaded. Issue 11, finding 1: a string input named
//! like a file input made the server copy `/etc/shadow` into a run.
mod common;

use std::collections::BTreeMap;

use common::*;
use domain::accounts::SignedIn;
use domain::executions;
use domain::tenancy::Tenant;
use domain::{AppError, Ctx};

const ACME: &str = "acme.localhost";
const CSV: &[u8] = b"region,amount\nnorth,10\nsouth,20\n";

/// Registers (or adds a version to) skill `slug` whose one input `data` is of type `kind`.
async fn register_with_data_input(ctx: &Ctx, tenant: &Tenant, slug: &str, kind: &str) {
    let input = format!("\n[[inputs]]\nname = \"data\"\nlabel = \"Data\"\ntype = \"{kind}\"\n");
    let main = "cat \"$EXECGOV_INPUTS\"\n";
    register_skill(ctx, tenant, (slug, "main.sh", main), &input).await;
}

/// A queued execution of `slug` with the text input `data` = `value`.
async fn request_text(ctx: &Ctx, tenant: &Tenant, user: &SignedIn, slug: &str, value: &str) -> i64 {
    let form = BTreeMap::from([("data".to_string(), value.to_string())]);
    executions::request(ctx, tenant, user, &actor("acme-admin"), slug, &form, &[])
        .await
        .unwrap()
}

/// Posts `slug`'s run form as `session`: text `fields` and `files`.
async fn post_run(
    server: &TestServer,
    session: &str,
    slug: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> Reply {
    let path = format!("/skills/{slug}/run");
    server
        .post_multipart(ACME, &path, fields, files, Some(session))
        .await
}

/// "Run again" of execution `earlier` through `slug`'s form, choosing no file anew.
async fn run_again(server: &TestServer, session: &str, slug: &str, earlier: i64) -> Reply {
    post_run(
        server,
        session,
        slug,
        &[("rerun_of", &earlier.to_string())],
        &[],
    )
    .await
}

/// The execution a run form's answer leads to.
fn execution_of(reply: Reply) -> i64 {
    assert_eq!(reply.status, 303, "{}", reply.body);
    let to = reply.location.unwrap();
    to.strip_prefix("/executions/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not an execution's page: {to}"))
}

async fn executions_of(ctx: &Ctx, slug: &str) -> i64 {
    count(
        ctx,
        &format!(
            "SELECT count(*) FROM tenant_1003.executions e JOIN tenant_1003.skills s \
             ON s.id = e.skill_id WHERE s.slug = '{slug}'"
        ),
    )
    .await
}

/// Every file stored for any execution's uploads, with its bytes.
fn stored_uploads(ctx: &Ctx) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut dirs = vec![ctx.data_dir.join("inputs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                found.push((path, bytes));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_again_never_takes_a_file_path_from_an_input_value() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let acme = tenant_of(ctx, ACME).await;
    let admin = user(ctx, &acme, "acme-admin").await;
    let passwd = std::fs::read("/etc/passwd").unwrap();
    let session = server.login(ACME, "acme-admin", PASSWORD).await;

    // A skill whose text input has the name of csv-summary's file input, given paths that
    // leave the inputs folder: an absolute one and one that climbs out.
    register_with_data_input(ctx, &acme, "echo-text", "string").await;
    for value in [
        "files//etc/passwd",
        "files/../../../../../../../../etc/passwd",
    ] {
        let earlier = request_text(ctx, &acme, &admin, "echo-text", value).await;

        // Run again as another skill: refused, nothing created, nothing read.
        let reply = run_again(&server, &session, "csv-summary", earlier).await;
        assert_eq!(reply.status, 404, "{value}: {}", reply.body);
        let refused = executions::previous_uploads(ctx, &acme, &admin, earlier, "csv-summary", &[])
            .await
            .unwrap_err();
        assert!(matches!(refused, AppError::NotFound(_)), "{refused:?}");

        // Of the same skill: an execution with no uploads has no files to give.
        let none = executions::previous_uploads(ctx, &acme, &admin, earlier, "echo-text", &[])
            .await
            .unwrap();
        assert!(none.is_empty(), "{value}");
    }

    // Two versions of one skill: the text input `data` of version 1 becomes a file input in
    // version 2. Running the old execution again under version 2 finds no recorded file.
    register_with_data_input(ctx, &acme, "two-faced", "string").await;
    let earlier = request_text(ctx, &acme, &admin, "two-faced", "files//etc/passwd").await;
    register_with_data_input(ctx, &acme, "two-faced", "file").await;
    let reply = run_again(&server, &session, "two-faced", earlier).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    let back = reply.location.unwrap();
    assert!(back.starts_with("/skills/two-faced?error=data"), "{back}");
    assert_eq!(executions_of(ctx, "two-faced").await, 1);
    assert_eq!(executions_of(ctx, "csv-summary").await, 0);

    // No stored upload anywhere holds the file that was asked for.
    for (path, bytes) in stored_uploads(ctx) {
        assert_ne!(bytes, passwd, "{} holds /etc/passwd", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_again_reuses_the_recorded_upload_while_it_is_unchanged() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let acme = tenant_of(ctx, ACME).await;
    let session = server.login(ACME, "acme-user", PASSWORD).await;

    let first = post_run(
        &server,
        &session,
        "csv-summary",
        &[],
        &[("data", "sales.csv", CSV)],
    )
    .await;
    let first_id = execution_of(first);
    assert_eq!(
        count(
            ctx,
            &format!(
                "SELECT count(*) FROM tenant_1003.execution_uploads WHERE execution_id = {first_id} \
                 AND field = 'data' AND file_name = 'sales.csv' AND size = {}",
                CSV.len()
            )
        )
        .await,
        1
    );

    // Run again without choosing the file: the recorded one is reused.
    let again = run_again(&server, &session, "csv-summary", first_id).await;
    let again_id = execution_of(again);
    let reused = ctx.inputs_dir(acme.id, again_id).join("sales.csv");
    assert_eq!(std::fs::read(&reused).unwrap(), CSV);

    // The stored file swapped for a link to another file, or for other bytes: not reused.
    let stored = ctx.inputs_dir(acme.id, first_id).join("sales.csv");
    std::fs::remove_file(&stored).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &stored).unwrap();
    let before = executions_of(ctx, "csv-summary").await;
    for swap in ["link", "bytes"] {
        if swap == "bytes" {
            std::fs::remove_file(&stored).unwrap();
            std::fs::write(&stored, b"region,amount\nwest,99\n").unwrap();
        }
        let reply = run_again(&server, &session, "csv-summary", first_id).await;
        assert_eq!(reply.status, 303, "{swap}: {}", reply.body);
        let back = reply.location.unwrap();
        assert!(
            back.starts_with("/skills/csv-summary?error=data") && back.contains("no%20longer"),
            "{swap}: {back}"
        );
        assert_eq!(executions_of(ctx, "csv-summary").await, before, "{swap}");
    }

    // A new file chosen for the input replaces the earlier one, whatever became of it.
    let fresh = post_run(
        &server,
        &session,
        "csv-summary",
        &[("rerun_of", &first_id.to_string())],
        &[("data", "new.csv", b"region,amount\neast,5\n")],
    )
    .await;
    execution_of(fresh);
}
