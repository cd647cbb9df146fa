//! Scripts as they are (issue 12): a command-line script gets its inputs as arguments and its
//! keyboard answers on standard input, as its `skill.toml` says; a folder input arrives
//! unpacked; files written outside `output/` are collected by globs or named on the
//! execution's page and in the API; the review page shows the command line. Real HTTP, real
//! PostgreSQL, real sandboxed runs (uids 68100…).
mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use domain::executions::{self, QueuePolicy};
use domain::hot_updates::{self, NewSubmission, Viewer};
use domain::Ctx;
use engine::{Executors, SandboxConfig};
use model::hot_update::SkillFlags;
use model::skill::RiskLevel;
use reqwest::Method;
use serde_json::{json, Value};

const ACME: &str = "acme.localhost";

/// An in-process worker pool with uids of its own (4 each, from 68100).
fn start_workers(ctx: &Ctx) {
    static NEXT: AtomicU32 = AtomicU32::new(68100);
    let first_uid = NEXT.fetch_add(4, Ordering::SeqCst);
    assert!(first_uid + 4 <= 68999, "out of this file's uid range");
    let executors = Executors::new(SandboxConfig {
        first_uid,
        uid_slots: 4,
        ..SandboxConfig::default()
    });
    executions::start_workers(
        ctx.clone(),
        Arc::new(executors),
        2,
        QueuePolicy {
            heartbeat: Duration::from_millis(200),
            ..QueuePolicy::default()
        },
    );
}

/// Posts a run through the API as multipart (`request` JSON and files); returns its id.
async fn api_run(
    server: &TestServer,
    token: &str,
    request: Value,
    files: &[(&str, &str, &[u8])],
) -> ApiReply {
    let text = request.to_string();
    let (content_type, body) = multipart_body(&[("request", &text)], files);
    server
        .api(
            Method::POST,
            ACME,
            "/api/v1/executions",
            Some(token),
            ApiBody::Raw(content_type, body),
        )
        .await
}

/// The execution as the API shows it, once it has ended.
async fn finished(server: &TestServer, token: &str, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view = server
            .api(
                Method::GET,
                ACME,
                &format!("/api/v1/executions/{id}"),
                Some(token),
                ApiBody::Empty,
            )
            .await
            .json();
        let status = view["summary"]["status"].as_str().unwrap_or("").to_string();
        if ["succeeded", "failed", "timed_out", "cancelled"].contains(&status.as_str()) {
            return view;
        }
        assert!(Instant::now() < deadline, "still {status}: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn download(server: &TestServer, token: &str, id: i64, path: &str) -> String {
    let reply = server
        .api(
            Method::GET,
            ACME,
            &format!("/api/v1/executions/{id}/artifact?path={path}"),
            Some(token),
            ApiBody::Empty,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.text()
}

/// A stdlib argparse script as one would find it: options and a file path on the command line,
/// a confirmation prompt, its report written next to itself in the working folder.
const ARGPARSE_PY: &str = r#"
import argparse, json, os, sys
p = argparse.ArgumentParser()
p.add_argument("--in", dest="path", required=True)
p.add_argument("--title", default="untitled")
p.add_argument("--top", type=int, default=3)
p.add_argument("--verbose", action="store_true")
a = p.parse_args()
threshold = float(input("Threshold? "))
sure = input("Sure? [y/n] ")
rows = open(a.path).read().splitlines()
with open("report.txt", "w") as f:
    json.dump({"argv": sys.argv[1:], "title": a.title, "top": a.top, "verbose": a.verbose,
               "threshold": threshold, "sure": sure, "rows": len(rows),
               "env_title": os.environ.get("EXECGOV_INPUT_TITLE"),
               "env_data": os.environ.get("EXECGOV_INPUT_DATA")}, f)
open("scratch.log", "w").write("working notes")
print("done")
"#;

const ARGPARSE_TOML: &str = r#"
args = ["--in", "{data}", "--title", "{title}", "--top", "{top}", "{verbose?--verbose}"]
stdin = ["{threshold}", "y"]
artifacts = ["*.txt"]

[[inputs]]
name = "data"
type = "file"

[[inputs]]
name = "title"
type = "string"
required = false

[[inputs]]
name = "top"
type = "integer"
required = false

[[inputs]]
name = "verbose"
type = "boolean"
required = false

[[inputs]]
name = "threshold"
type = "number"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmodified_command_line_script_gets_arguments_answers_and_its_files_kept() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let acme = tenant_of(ctx, ACME).await;
    register_skill(
        ctx,
        &acme,
        ("report-cli", "main.py", ARGPARSE_PY),
        ARGPARSE_TOML,
    )
    .await;
    register_skill(
        ctx,
        &acme,
        (
            "asks-name",
            "main.py",
            "name = input('Your name? ')\nprint('hi', name)\n",
        ),
        "timeout_seconds = 60\n",
    )
    .await;
    start_workers(ctx);
    let (_, token) = session_token(&server, ACME, "acme-user").await;

    let odd = "it's \"Q1\" $(id) --verbose\nsecond line";
    let reply = api_run(
        &server,
        &token,
        json!({"skill": "report-cli", "inputs": {"title": odd, "verbose": true, "threshold": 0.5}}),
        &[("data", "my sales.csv", b"a\nb\nc\n")],
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json()["summary"]["id"].as_i64().unwrap();
    let view = finished(&server, &token, id).await;
    assert_eq!(view["summary"]["status"], "succeeded", "{view}");
    let artifacts: Vec<&str> = view["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(artifacts, ["report.txt"], "collected by its glob");
    assert_eq!(view["written_outside"], json!(["scratch.log"]));
    assert_eq!(view["written_outside_count"], 1);

    let report: Value =
        serde_json::from_str(&download(&server, &token, id, "report.txt").await).unwrap();
    assert_eq!(
        report["argv"],
        json!([
            "--in",
            "/work/files/my_sales.csv",
            "--title",
            odd,
            "--verbose"
        ]),
        "each value one argument, untouched; the empty optional --top left out with its flag"
    );
    assert_eq!(report["title"], odd);
    assert_eq!(
        (report["top"].clone(), report["verbose"].clone()),
        (json!(3), json!(true))
    );
    assert_eq!(
        (report["threshold"].clone(), report["sure"].clone()),
        (json!(0.5), json!("y"))
    );
    assert_eq!(report["rows"], 3);
    assert_eq!(report["env_title"], odd);
    assert_eq!(report["env_data"], "/work/files/my_sales.csv");

    // The execution's page says what was left behind.
    let session = server.login(ACME, "acme-user", PASSWORD).await;
    let page = server
        .get(ACME, &format!("/executions/{id}"), Some(&session))
        .await;
    assert!(
        page.body
            .contains("1 file was written outside output/: scratch.log"),
        "{}",
        page.body
    );

    // A script that waits for keyboard input it was not given fails at once, saying why.
    let started = Instant::now();
    let reply = api_run(&server, &token, json!({"skill": "asks-name"}), &[]).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json()["summary"]["id"].as_i64().unwrap();
    let view = finished(&server, &token, id).await;
    assert_eq!(view["summary"]["status"], "failed", "{view}");
    assert!(
        view["reason"]
            .as_str()
            .unwrap()
            .starts_with("the script asked for keyboard input"),
        "{view}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "not its 60 s timeout"
    );
}

const LIST_FOLDER_SH: &str =
    "cd \"$1\" && find . -type f -printf '%P %s\\n' | sort > \"$EXECGOV_OUTPUT/list.txt\"\n";

const FOLDER_TOML: &str = r#"
args = ["{photos}"]

[[inputs]]
name = "photos"
type = "folder"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_input_arrives_unpacked_from_the_form_and_the_api() {
    let server = start_server(seeded_ctx().await).await;
    let ctx = &server.ctx;
    let acme = tenant_of(ctx, ACME).await;
    register_skill(
        ctx,
        &acme,
        ("list-folder", "main.sh", LIST_FOLDER_SH),
        FOLDER_TOML,
    )
    .await;
    start_workers(ctx);
    let (_, token) = session_token(&server, ACME, "acme-user").await;
    let session = server.login(ACME, "acme-user", PASSWORD).await;

    // The run form: one .zip, its single top folder dropped.
    let zip = zip_of::<&str, &[u8]>(&[("trip/a.jpg", b"aaa"), ("trip/day 2/b.jpg", b"bb")]);
    let reply = server
        .post_multipart(
            ACME,
            "/skills/list-folder/run",
            &[],
            &[("photos", "trip.zip", &zip)],
            Some(&session),
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    let to = reply.location.unwrap();
    let id: i64 = to.strip_prefix("/executions/").unwrap().parse().unwrap();
    let view = finished(&server, &token, id).await;
    assert_eq!(view["summary"]["status"], "succeeded", "{view}");
    assert_eq!(
        download(&server, &token, id, "list.txt").await,
        "a.jpg 3\nday 2/b.jpg 2\n"
    );
    assert!(
        view["inputs"].as_str().unwrap().contains("\"files/trip\""),
        "{view}"
    );
    // Recorded once for the input, with what it unpacked to (the storage quota counts that).
    let (size, name): (i64, String) = sqlx::query_as(
        "SELECT size, file_name FROM tenant_1003.execution_uploads WHERE execution_id = $1",
    )
    .bind(id)
    .fetch_one(&ctx.pool)
    .await
    .unwrap();
    assert_eq!((size, name.as_str()), (5, "trip"));

    // "Run again" with the folder left empty: the earlier folder, as it was unpacked.
    let first = id.to_string();
    let rerun_form = [("rerun_of", first.as_str())];
    let run_again = || {
        server.post_multipart(
            ACME,
            "/skills/list-folder/run",
            &rerun_form,
            &[],
            Some(&session),
        )
    };
    let again = run_again().await;
    assert_eq!(again.status, 303, "{}", again.body);
    let to = again.location.unwrap();
    let rerun: i64 = to.strip_prefix("/executions/").unwrap().parse().unwrap();
    assert_ne!(rerun, id);
    let view = finished(&server, &token, rerun).await;
    assert_eq!(view["summary"]["status"], "succeeded", "{view}");
    assert_eq!(
        download(&server, &token, rerun, "list.txt").await,
        "a.jpg 3\nday 2/b.jpg 2\n"
    );
    // Changed on disk since (by anyone but the upload): refused, and nothing is requested.
    std::fs::write(ctx.inputs_dir(acme.id, id).join("trip/a.jpg"), b"tampered").unwrap();
    let before = count(ctx, "SELECT count(*) FROM tenant_1003.executions").await;
    let stale = run_again().await;
    let back = stale.location.unwrap();
    assert!(
        back.starts_with("/skills/list-folder?error=photos") && back.contains("choose"),
        "{back}"
    );
    assert_eq!(
        count(ctx, "SELECT count(*) FROM tenant_1003.executions").await,
        before
    );

    // The API: several files of one input become one folder.
    let reply = api_run(
        &server,
        &token,
        json!({"skill": "list-folder"}),
        &[("photos", "x.txt", b"x"), ("photos", "y.txt", b"yy")],
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json()["summary"]["id"].as_i64().unwrap();
    let view = finished(&server, &token, id).await;
    assert_eq!(view["summary"]["status"], "succeeded", "{view}");
    assert_eq!(
        download(&server, &token, id, "list.txt").await,
        "x.txt 1\ny.txt 2\n"
    );

    // A hostile archive is refused as a submission would be, and nothing is created.
    let before = count(ctx, "SELECT count(*) FROM tenant_1003.executions").await;
    let evil = zip_of::<&str, &[u8]>(&[("../escape.txt", b"x")]);
    let reply = api_run(
        &server,
        &token,
        json!({"skill": "list-folder"}),
        &[("photos", "e.zip", &evil)],
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.text());
    assert!(reply.text().contains("photos: "), "{}", reply.text());
    assert_eq!(
        count(ctx, "SELECT count(*) FROM tenant_1003.executions").await,
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_page_shows_the_command_line_and_bad_templates_are_refused() {
    let ctx = seeded_ctx().await;
    let acme = tenant_of(&ctx, ACME).await;
    let admin = user(&ctx, &acme, "acme-admin").await;
    let manifest = |args: &str| {
        format!(
            "name = \"Report CLI\"\nslug = \"report-cli\"\ndescription = \"d\"\noutput = \"o\"\n\
             risk = \"low\"\n{args}\n{}",
            ARGPARSE_TOML
                .split_once("[[inputs]]")
                .map(|(_, inputs)| format!("[[inputs]]{inputs}"))
                .unwrap()
        )
    };
    let submit = |toml: String| {
        let zip = zip_of::<&str, &[u8]>(&[
            ("main.py", ARGPARSE_PY.as_bytes()),
            ("README.md", b"# Report\n"),
            ("skill.toml", toml.as_bytes()),
        ]);
        NewSubmission {
            archive_name: "report.zip".into(),
            archive: zip,
            scenario: "Weekly report".into(),
            proposed: SkillFlags {
                risk: RiskLevel::Low,
                ai_callable: false,
                manual_allowed: true,
                requires_confirmation: false,
            },
        }
    };
    let good = "args = [\"--in\", \"{data}\", \"--top\", \"{top}\", \"{verbose?--verbose}\"]\n\
                stdin = [\"{threshold}\", \"y\"]\nartifacts = [\"*.txt\"]";
    let id = hot_updates::submit(
        &ctx,
        &acme,
        &admin,
        &actor("acme-admin"),
        submit(manifest(good)),
    )
    .await
    .unwrap();
    let detail = hot_updates::detail(&ctx, id, Viewer::Platform)
        .await
        .unwrap();
    assert_eq!(
        detail.command_line.as_deref(),
        Some("python main.py --in <data> [--top <top>] [--verbose]")
    );
    assert_eq!(detail.stdin_lines, ["<threshold>", "y"]);
    assert_eq!(detail.artifact_globs, ["*.txt"]);

    let refused = hot_updates::submit(
        &ctx,
        &acme,
        &admin,
        &actor("acme-admin"),
        submit(manifest("args = [\"--in\", \"{dta}\"]")),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("skill.toml, line 6") && refused.contains("no input named \"dta\""),
        "{refused}"
    );
}
