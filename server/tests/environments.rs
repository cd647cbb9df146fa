//! Skills' Python packages end to end: declared in `requirements.txt` or main.py's PEP 723 block,
//! resolved into a lock at submission (refusals named), shown for review with its changes
//! against the live version, built once per lock after approval into a shared read-only
//! environment, collected when nothing uses it, and a failed build that leaves the live version
//! live and nothing half-built.
//!
//! Offline: packages come from a wheelhouse (`EXECGOV_TEST_WHEELHOUSE`, filled once by
//! `scripts/test`), copied per test so a test may tamper with it. uv is the one `scripts/test`
//! installs (`EXECGOV_UV`); without it the pip fallback does the work. Installers run as uid
//! 67064 (this binary's range is 67000–67999).
mod common;

use std::io::{Cursor, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use domain::environments::{self, PackageIndex, PackagesConfig};
use domain::hot_updates::{self, Viewer};
use domain::Ctx;
use model::hot_update::{SkillFlags, SubmissionDetail, SubmissionStatus};
use model::skill::RiskLevel;
use serde_json::Value;

const ACME: &str = "acme.localhost";
const GLOBEX: &str = "globex.localhost";
const CONSOLE: &str = "admin.localhost";
/// The uid installers run as in these tests.
const BUILD_UID: u32 = 67064;
/// A uid a script could run as, for the write checks.
const SANDBOX_UID: u32 = 67001;
const SIX: &str = "six-1.16.0-py2.py3-none-any.whl";

type Files = Vec<(String, Vec<u8>)>;

/// Where the tests' wheels are: `EXECGOV_TEST_WHEELHOUSE`, else `target/wheelhouse`.
fn test_wheelhouse() -> PathBuf {
    let dir = std::env::var_os("EXECGOV_TEST_WHEELHOUSE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wheelhouse"));
    assert!(
        dir.join(SIX).exists(),
        "{} has no {SIX}: run scripts/test once (it downloads the test wheels) or set \
         EXECGOV_TEST_WHEELHOUSE",
        dir.display()
    );
    dir
}

/// The uv `scripts/test` installed (`EXECGOV_UV`, else under target/tools), or none: then the
/// pip fallback is tested (also with `EXECGOV_UV` set empty).
fn test_uv() -> Option<PathBuf> {
    match std::env::var_os("EXECGOV_UV") {
        Some(uv) => (!uv.is_empty()).then(|| PathBuf::from(uv)),
        None => {
            let uv =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tools/uv-0.13.9/bin/uv");
            uv.exists().then_some(uv)
        }
    }
}

/// A seeded test database whose packages come from its own copy of the wheelhouse (returned),
/// with `extra` files added to it.
async fn packages_db(extra: &[(&str, Vec<u8>)]) -> (TestDb, PathBuf) {
    let mut db = seeded_db().await;
    let wheelhouse = db.ctx.data_dir.join("wheelhouse");
    std::fs::create_dir_all(&wheelhouse).unwrap();
    for entry in std::fs::read_dir(test_wheelhouse()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().ends_with(".whl") {
            std::fs::copy(entry.path(), wheelhouse.join(entry.file_name())).unwrap();
        }
    }
    for (name, bytes) in extra {
        std::fs::write(wheelhouse.join(name), bytes).unwrap();
    }
    let root = nix::unistd::geteuid().is_root();
    db.ctx = db.ctx.clone().with_packages(PackagesConfig {
        uv: test_uv(),
        python: "/usr/bin/python3".into(),
        index: PackageIndex::Wheelhouse(wheelhouse.clone()),
        bwrap: Some("/usr/bin/bwrap".into()),
        build_uid: root.then_some(BUILD_UID),
        timeout: Duration::from_secs(180),
        size_cap: environments::MAX_ENVIRONMENT_BYTES,
        source_builds: None,
    });
    (db, wheelhouse)
}

fn file(path: &str, text: &str) -> (String, Vec<u8>) {
    (path.to_string(), text.as_bytes().to_vec())
}

/// A Python skill folder `slug` (printing `tag`) with `extra` files (the declarations).
fn skill(slug: &str, tag: &str, main_header: &str, extra: &[(&str, &str)]) -> Files {
    let mut files = vec![
        file("main.py", &format!("{main_header}print('{slug} {tag}')\n")),
        file("README.md", &format!("# {slug}\n\nA test skill.\n")),
        file(
            "skill.toml",
            &format!(
                "name = \"Skill {slug}\"\nslug = \"{slug}\"\ndescription = \"A test skill.\"\n\
                 output = \"A line.\"\nrisk = \"low\"\n"
            ),
        ),
    ];
    files.extend(extra.iter().map(|(p, t)| file(p, t)));
    files
}

/// A source-only distribution (`.tar.gz`, no wheel) of package `name` 1.0.
fn sdist(name: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, text) in [
        (
            "PKG-INFO",
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"),
        ),
        ("setup.py", "raise SystemExit('never run')\n".to_string()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("{name}-1.0/{path}"), text.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// POST /api/v1/submissions as the tenant's admin (bearer token).
async fn post_submission(server: &TestServer, host: &str, token: &str, files: &Files) -> ApiReply {
    let (content_type, body) = multipart_body(
        &[
            ("scenario", "Finance uses it to check packaged skills."),
            ("risk", "low"),
            ("manual_allowed", "true"),
        ],
        &[("archive", "skill.zip", &zip_of(files))],
    );
    server
        .api(
            reqwest::Method::POST,
            host,
            "/api/v1/submissions",
            Some(token),
            ApiBody::Raw(content_type, body),
        )
        .await
}

/// Submits `files` on `host`; the accepted submission.
async fn submit(server: &TestServer, host: &str, token: &str, files: &Files) -> SubmissionDetail {
    let reply = post_submission(server, host, token, files).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    serde_json::from_slice(&reply.body).unwrap()
}

/// Submits `files` on `host` and approves them; the submission, live.
async fn submit_live(
    server: &TestServer,
    host: &str,
    token: &str,
    files: &Files,
) -> SubmissionDetail {
    let d = submit(server, host, token, files).await;
    let status = approve(&server.ctx, d.summary.id).await;
    let d = platform_detail(&server.ctx, d.summary.id).await;
    assert_eq!(status, SubmissionStatus::Live, "{:?}", d.summary.reason);
    d
}

async fn approve(ctx: &Ctx, id: i64) -> SubmissionStatus {
    let flags = SkillFlags {
        risk: RiskLevel::Low,
        ai_callable: false,
        manual_allowed: true,
        requires_confirmation: false,
    };
    hot_updates::approve(ctx, &actor("superadmin"), id, flags, "")
        .await
        .unwrap()
}

/// GET /api/v1/submissions/{id} on Acme, as JSON.
async fn rest_detail(server: &TestServer, token: &str, id: i64) -> Value {
    let path = format!("/api/v1/submissions/{id}");
    let reply = server
        .api(
            reqwest::Method::GET,
            ACME,
            &path,
            Some(token),
            ApiBody::Empty,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

async fn platform_detail(ctx: &Ctx, id: i64) -> SubmissionDetail {
    hot_updates::detail(ctx, id, Viewer::Platform)
        .await
        .unwrap()
}

/// The lock hash a tenant's live version of `slug` runs with.
async fn live_lock(ctx: &Ctx, host: &str, slug: &str) -> (i32, Option<String>) {
    let tenant = tenant_of(ctx, host).await;
    sqlx::query_as(&format!(
        "SELECT v.version, v.lock_hash FROM {}.skills s \
         JOIN {0}.skill_versions v ON v.id = s.current_version_id WHERE s.slug = $1",
        tenant.schema.as_str()
    ))
    .bind(slug)
    .fetch_one(&ctx.pool)
    .await
    .unwrap()
}

fn environment_entries(ctx: &Ctx) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(environments::environments_dir(ctx))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != ".cache")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Runs `python3 -c code` as `uid`; whether it succeeded, and its stderr.
fn python_as(uid: u32, code: &str) -> (bool, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    cmd.args(["-I", "-c", code]);
    if nix::unistd::geteuid().is_root() {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_packages_are_locked_at_submission_or_refused_with_the_line() {
    let (db, _) = packages_db(&[("onlysource-1.0.tar.gz", sdist("onlysource"))]).await;
    let ctx = &db.ctx;
    let server = start_server(ctx.clone()).await;
    let (_, token) = session_token(&server, ACME, "acme-admin").await;
    let six_hash = sha256_of(&test_wheelhouse().join(SIX));

    // requirements.txt beside main.py.
    let txt = skill(
        "with-requirements",
        "v1",
        "",
        &[("requirements.txt", "# one package\nsix==1.16.0  # pinned\n")],
    );
    let d = submit(&server, ACME, &token, &txt).await;
    let lock = d.packages.expect("a lock");
    assert_eq!(lock.declared_in, "requirements.txt");
    let pins: Vec<(&str, &str)> = lock
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(pins, [("six", "1.16.0")]);
    assert!(
        lock.text.contains(&format!("--hash=sha256:{six_hash}")),
        "{}",
        lock.text
    );
    assert_eq!(lock.hash.len(), 64);

    // The PEP 723 block of main.py; the REST API's detail carries the same lock.
    let inline = skill(
        "with-inline-metadata",
        "v1",
        "# /// script\n# requires-python = \">=3.8\"\n# dependencies = [\n#   \"six>=1.10\",\n# ]\n# ///\n",
        &[],
    );
    let d = submit(&server, ACME, &token, &inline).await;
    let detail = rest_detail(&server, &token, d.summary.id).await;
    assert_eq!(detail["packages"]["declared_in"], "main.py (# /// script)");
    assert_eq!(
        detail["packages"]["packages"],
        serde_json::json!([{ "name": "six", "version": "1.16.0" }])
    );
    // Same resolution, same lock: one environment will serve both.
    assert_eq!(
        detail["packages"]["hash"].as_str(),
        Some(lock.hash.as_str())
    );

    // The reviewer's page shows the packages.
    let console = server.login(CONSOLE, "superadmin", PASSWORD).await;
    let page = server
        .get(
            CONSOLE,
            &format!("/reviews/{}", d.summary.id),
            Some(&console),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-testid=\"locked-packages\""),
        "no package table"
    );
    assert!(
        page.body.contains("data-package=\"six\""),
        "six is not listed"
    );

    // Refusals: nothing is stored, and the reason names the file, the line and why.
    let before = count(ctx, "SELECT count(*) FROM public.skill_submissions").await;
    let mut on_agents = skill("on-agents", "v1", "", &[("requirements.txt", "six\n")]);
    on_agents[2]
        .1
        .extend_from_slice(b"agent_label = \"intranet\"\n");
    let refusals: [(Files, &[&str]); 6] = [
        (
            on_agents,
            &["requirements.txt declares Python packages", "local agents"],
        ),
        (
            skill(
                "vcs",
                "v1",
                "",
                &[("requirements.txt", "six\ngit+https://github.com/x/y.git\n")],
            ),
            &["requirements.txt line 2", "VCS links are refused"],
        ),
        (
            skill(
                "url",
                "v1",
                "",
                &[("requirements.txt", "y @ https://example.com/y-1.0.tar.gz\n")],
            ),
            &["requirements.txt line 1", "URLs are refused"],
        ),
        (
            skill("editable", "v1", "", &[("requirements.txt", "-e ./lib\n")]),
            &["requirements.txt line 1", "editable installs are refused"],
        ),
        (
            skill(
                "source-only",
                "v1",
                "",
                &[("requirements.txt", "onlysource\n")],
            ),
            &["onlysource", "only as source", "could not be resolved"],
        ),
        (
            skill(
                "both",
                "v1",
                "# /// script\n# dependencies = [\"six\"]\n# ///\n",
                &[("requirements.txt", "six\n")],
            ),
            &["declared twice"],
        ),
    ];
    for (files, needles) in refusals {
        let reply = post_submission(&server, ACME, &token, &files).await;
        assert_eq!(reply.status, 422, "{}", reply.text());
        let problem = reply.json();
        let detail = problem["detail"].as_str().unwrap_or_default();
        for needle in needles {
            assert!(detail.contains(needle), "{needle:?} not in {detail}");
        }
    }
    assert_eq!(
        count(ctx, "SELECT count(*) FROM public.skill_submissions").await,
        before
    );
    // Nothing of the resolutions is left behind (only the installers' cache).
    assert_eq!(environment_entries(ctx), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_environment_per_lock_is_shared_read_only_and_kept_while_used() {
    let (db, _) = packages_db(&[]).await;
    let ctx = &db.ctx;
    let server = start_server(ctx.clone()).await;
    let (_, acme_token) = session_token(&server, ACME, "acme-admin").await;
    let (_, globex_token) = session_token(&server, GLOBEX, "globex-admin").await;
    let declared = [("requirements.txt", "six==1.16.0\n")];

    let acme_v1 = skill("acme-six", "v1", "", &declared);
    let d = submit_live(&server, ACME, &acme_token, &acme_v1).await;
    let statuses: Vec<&str> = d.timeline.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "submitted",
            "approved",
            "built",
            "synced",
            "registered",
            "live"
        ]
    );
    let hash = d.packages.unwrap().hash;
    let env = environments::environment_dir(ctx, &hash);
    assert_eq!(
        environment_entries(ctx),
        std::slice::from_ref(&hash),
        "one folder, no leftovers"
    );
    let built_at = std::fs::metadata(&env).unwrap().ino();

    // Globex's own skill with the same packages: the same lock, no second build.
    let globex_v1 = skill("globex-six", "v1", "", &declared);
    submit_live(&server, GLOBEX, &globex_token, &globex_v1).await;
    assert_eq!(environment_entries(ctx), std::slice::from_ref(&hash));
    assert_eq!(std::fs::metadata(&env).unwrap().ino(), built_at);
    assert_eq!(
        live_lock(ctx, ACME, "acme-six").await.1.as_deref(),
        Some(hash.as_str())
    );
    assert_eq!(
        live_lock(ctx, GLOBEX, "globex-six").await.1.as_deref(),
        Some(hash.as_str())
    );

    // A virtual environment for the platform's Python, with the package importable.
    assert!(env.join("pyvenv.cfg").exists());
    let out = std::process::Command::new(env.join("bin/python"))
        .args([
            "-I",
            "-c",
            "import six, sys; print(six.__version__, sys.prefix)",
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.starts_with("1.16.0 ") && printed.trim_end().ends_with(&hash),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Sealed: the server's own, written by nobody else.
    let site = std::fs::read_dir(env.join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages");
    let me = nix::unistd::geteuid().as_raw();
    let mut stack = vec![env.clone()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.uid(), me, "{} not the server's", path.display());
        if !meta.file_type().is_symlink() {
            assert_eq!(
                meta.mode() & 0o022,
                0,
                "{} writable by others",
                path.display()
            );
        }
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    if nix::unistd::geteuid().is_root() {
        for code in [
            format!("open({:?}, 'a')", site.join("six.py")),
            format!("open({:?}, 'w')", site.join("injected.py")),
            format!(
                "import os; os.rename({:?}, {:?})",
                site.join("six.py"),
                site.join("x.py")
            ),
        ] {
            let (ok, stderr) = python_as(SANDBOX_UID, &code);
            assert!(
                !ok && stderr.contains("PermissionError"),
                "{code}: {stderr}"
            );
        }
        let (ok, stderr) = python_as(
            SANDBOX_UID,
            &format!("import sys; sys.path.insert(0, {site:?}); import six"),
        );
        assert!(ok, "readable by a sandbox uid: {stderr}");
    }

    // Kept while a live version uses it; an environment nothing uses goes.
    let unused = environments::environment_dir(ctx, &"e".repeat(64));
    std::fs::create_dir_all(unused.join("lib")).unwrap();
    assert_eq!(environments::collect_unused(ctx).await.unwrap(), 1);
    assert!(env.join("pyvenv.cfg").exists());
    assert!(!unused.exists());

    // Acme moves to a version without packages; Globex still runs with the environment.
    let v2 = submit(
        &server,
        ACME,
        &acme_token,
        &skill("acme-six", "v2", "", &[]),
    )
    .await;
    assert!(v2.packages.is_none());
    assert_eq!(
        v2.package_changes,
        [model::hot_update::PackageChange {
            name: "six".into(),
            live: Some("1.16.0".into()),
            submitted: None
        }]
    );
    assert_eq!(approve(ctx, v2.summary.id).await, SubmissionStatus::Live);
    assert_eq!(live_lock(ctx, ACME, "acme-six").await, (2, None));
    assert_eq!(environments::collect_unused(ctx).await.unwrap(), 0);
    assert!(env.join("pyvenv.cfg").exists());

    // Once nothing runs with it, it is collected.
    let globex_v2 = skill("globex-six", "v2", "", &[]);
    submit_live(&server, GLOBEX, &globex_token, &globex_v2).await;
    assert_eq!(environments::collect_unused(ctx).await.unwrap(), 1);
    assert_eq!(environment_entries(ctx), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_that_fails_leaves_the_live_version_live_and_nothing_half_built() {
    let (db, wheelhouse) = packages_db(&[]).await;
    let ctx = &db.ctx;
    let server = start_server(ctx.clone()).await;
    let (_, token) = session_token(&server, ACME, "acme-admin").await;

    submit_live(&server, ACME, &token, &skill("tampered", "v1", "", &[])).await;
    let v2 = submit(
        &server,
        ACME,
        &token,
        &skill(
            "tampered",
            "v2",
            "",
            &[("requirements.txt", "six==1.16.0\n")],
        ),
    )
    .await;
    let lock = v2.packages.clone().expect("a lock");
    assert_eq!(
        v2.package_changes,
        [model::hot_update::PackageChange {
            name: "six".into(),
            live: None,
            submitted: Some("1.16.0".into())
        }]
    );

    // Between review and build the index serves another file as six 1.16.0: a well-formed
    // wheel whose code differs from what was reviewed.
    let tampered = tampered_wheel(&wheelhouse.join(SIX));
    std::fs::remove_file(wheelhouse.join(SIX)).unwrap();
    std::fs::write(wheelhouse.join("six-1.16.0-py3-none-any.whl"), tampered).unwrap();

    assert_eq!(approve(ctx, v2.summary.id).await, SubmissionStatus::Failed);
    let d = platform_detail(ctx, v2.summary.id).await;
    assert_eq!(d.summary.failed_step.as_deref(), Some("environment"));
    let reason = d.summary.reason.unwrap_or_default().to_lowercase();
    assert!(reason.contains("hash"), "{reason}");
    assert_eq!(live_lock(ctx, ACME, "tampered").await, (1, None));
    assert!(!environments::environment_dir(ctx, &lock.hash).exists());
    assert_eq!(
        environment_entries(ctx),
        Vec::<String>::new(),
        "nothing half-built"
    );

    // The tenant sees why on its submission.
    let tenant_view = rest_detail(&server, &token, v2.summary.id).await;
    assert_eq!(tenant_view["summary"]["status"], "failed");
    assert_eq!(tenant_view["summary"]["failed_step"], "environment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_past_its_size_cap_is_stopped_while_it_installs() {
    let (mut db, _) = packages_db(&[]).await;
    // pandas and numpy take ~150 MiB installed: far past a 20 MiB cap.
    db.ctx = db.ctx.clone().with_packages(PackagesConfig {
        size_cap: 20 * 1024 * 1024,
        ..(*db.ctx.packages).clone()
    });
    let ctx = &db.ctx;
    let server = start_server(ctx.clone()).await;
    let (_, token) = session_token(&server, ACME, "acme-admin").await;
    submit_live(&server, ACME, &token, &skill("heavy", "v1", "", &[])).await;
    let v2 = submit(
        &server,
        ACME,
        &token,
        &skill(
            "heavy",
            "v2",
            "",
            &[("requirements.txt", "pandas==2.3.2\n")],
        ),
    )
    .await;
    let lock = v2.packages.clone().expect("a lock");

    assert_eq!(approve(ctx, v2.summary.id).await, SubmissionStatus::Failed);
    let d = platform_detail(ctx, v2.summary.id).await;
    assert_eq!(d.summary.failed_step.as_deref(), Some("environment"));
    let reason = d.summary.reason.unwrap_or_default();
    assert!(
        reason.contains("past the 20 MiB allowed while it was installed"),
        "{reason}"
    );
    assert_eq!(live_lock(ctx, ACME, "heavy").await, (1, None));
    assert!(!environments::environment_dir(ctx, &lock.hash).exists());
    assert_eq!(
        environment_entries(ctx),
        Vec::<String>::new(),
        "nothing half-built"
    );
}

/// `wheel` with a line added to each of its Python files.
fn tampered_wheel(wheel: &Path) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        if name.ends_with(".py") {
            bytes.extend_from_slice(b"\nprint('not what was reviewed')\n");
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// The file's SHA-256, hex.
fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_gone_since_approval_is_built_again_before_the_run() {
    use domain::executions::{self, QueuePolicy};
    use engine::{Executors, SandboxConfig};

    let (db, _) = packages_db(&[]).await;
    let ctx = &db.ctx;
    let server = start_server(ctx.clone()).await;
    let (_, token) = session_token(&server, ACME, "acme-admin").await;
    let declared = [("requirements.txt", "six==1.16.0\n")];
    let d = submit_live(
        &server,
        ACME,
        &token,
        &skill("rebuilt", "v1", "", &declared),
    )
    .await;
    let env = environments::environment_dir(ctx, &d.packages.unwrap().hash);
    // Lost (a collection raced a roll-back, a restored backup without it, …).
    std::fs::remove_dir_all(&env).unwrap();

    let reply = server
        .api(
            reqwest::Method::POST,
            ACME,
            "/api/v1/executions",
            Some(&token),
            ApiBody::Json(serde_json::json!({ "skill": "rebuilt", "inputs": {} })),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let policy = QueuePolicy::default();
    let claimed = executions::claim_next(ctx, "environments-test", &policy)
        .await
        .unwrap()
        .expect("the execution is queued");
    assert!(claimed.lock_text.is_some());
    let executors = Executors::new(SandboxConfig {
        first_uid: 67100,
        uid_slots: 8,
        ..SandboxConfig::default()
    });
    let status = executions::run_claimed(ctx, &executors, claimed, "environments-test", &policy)
        .await
        .unwrap();
    assert_eq!(status, model::ExecutionStatus::Succeeded);
    assert!(env.join("pyvenv.cfg").exists(), "built again for the run");
}

/// Runs demo skill `slug`'s `main.py` with the interpreter of `env` (outside the sandbox: this
/// checks the environment and the script, not the run's mounts) in `work`; its result.
fn run_demo_with(env: &Path, slug: &str, work: &Path, inputs: Value) -> Value {
    let folder = domain::skills::manifest::demo_skill_folders("acme")
        .into_iter()
        .find(|f| f.manifest.slug == slug)
        .unwrap();
    let main = work.join("main.py");
    std::fs::write(
        &main,
        &folder.files.iter().find(|(p, _)| p == "main.py").unwrap().1,
    )
    .unwrap();
    std::fs::write(work.join("inputs.json"), inputs.to_string()).unwrap();
    let out = std::process::Command::new(env.join("bin/python"))
        .arg("-I")
        .arg(&main)
        .current_dir(work)
        .env_clear()
        .env("EXECGOV_INPUTS", "inputs.json")
        .env("EXECGOV_OUTPUT", "output")
        .env("EXECGOV_RESULT", "result.json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{slug}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(work.join("result.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_skills_work_with_environments_built_from_their_locks() {
    let (db, _) = packages_db(&[]).await;
    let ctx = &db.ctx;
    let demos = domain::skills::manifest::demo_skill_folders("acme");
    let lock_of = |slug: &str| {
        environments::demo_lock(demos.iter().find(|f| f.manifest.slug == slug).unwrap())
            .expect("a demo with packages")
    };
    let work = ctx.data_dir.join("demo-work");
    std::fs::create_dir_all(work.join("files")).unwrap();
    std::fs::create_dir_all(work.join("output")).unwrap();

    let excel = environments::ensure_built(ctx, &lock_of("excel-summary"))
        .await
        .unwrap();
    let made = std::process::Command::new(excel.join("bin/python"))
        .args([
            "-I",
            "-c",
            "from openpyxl import Workbook\n\
             wb = Workbook(); ws = wb.active; ws.title = 'Sales'\n\
             for row in [['region', 'amount'], ['north', 10], ['south', 2.5], ['north', 4]]:\n    \
                 ws.append(row)\n\
             wb.save('files/book.xlsx')\n",
        ])
        .current_dir(&work)
        .status()
        .unwrap();
    assert!(made.success());
    let summary = run_demo_with(
        &excel,
        "excel-summary",
        &work,
        serde_json::json!({ "workbook": "files/book.xlsx", "header_row": 1 }),
    );
    assert_eq!(summary[1]["column"], "amount");
    assert_eq!(summary[1]["total"], 16.5);
    assert!(work.join("output/summary.xlsx").exists());

    // The unmodified argparse demo (same lock): its arguments rendered from its manifest as the
    // worker does, its workbook written next to its CSV, where its artifact glob collects it.
    let csv_to_excel = demos
        .iter()
        .find(|f| f.manifest.slug == "csv-to-excel")
        .unwrap();
    let m = &csv_to_excel.manifest;
    std::fs::write(
        work.join("files/orders.csv"),
        "region;amount\nnorth;10\nsouth;2.5\n",
    )
    .unwrap();
    let form = [("delimiter", ";"), ("total_column", "amount")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    let uploaded = [("data".to_string(), "orders.csv".to_string())].into();
    let inputs = model::skill::validate_inputs(&m.inputs, &form, &uploaded).unwrap();
    let args = m
        .invocation
        .render(&m.inputs, &inputs, &work.to_string_lossy())
        .args;
    let main = work.join("csv_to_excel.py");
    let script = &csv_to_excel
        .files
        .iter()
        .find(|(p, _)| p == "main.py")
        .unwrap()
        .1;
    std::fs::write(&main, script).unwrap();
    let ran = std::process::Command::new(excel.join("bin/python"))
        .arg("-I")
        .arg(&main)
        .args(&args)
        .current_dir(&work)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(m
        .invocation
        .artifacts
        .iter()
        .any(|g| model::invocation::glob_matches(g, "files/orders.xlsx")));
    let read = std::process::Command::new(excel.join("bin/python"))
        .args([
            "-I",
            "-c",
            "import openpyxl; wb = openpyxl.load_workbook('files/orders.xlsx'); \
             print(list(wb['Summary'].values)[-1], list(wb['Data'].values)[2])",
        ])
        .current_dir(&work)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read.stdout),
        "('Total of amount', 12.5) ('south', 2.5)\n"
    );

    let pandas = environments::ensure_built(ctx, &lock_of("sales-pivot"))
        .await
        .unwrap();
    std::fs::write(
        work.join("files/sales.csv"),
        "region,amount\nnorth,10\nsouth,2.5\nnorth,4\n",
    )
    .unwrap();
    let pivot = run_demo_with(
        &pandas,
        "sales-pivot",
        &work,
        serde_json::json!({ "data": "files/sales.csv", "group_by": "region", "value": "amount" }),
    );
    assert_eq!(pivot[0]["group"], "north");
    assert_eq!(pivot[0]["sum"], 14.0);
    assert!(work.join("output/pivot.csv").exists());
}

// Packages published only as source, built when the platform allows it
// (`EXECGOV_PYTHON_ALLOW_BUILDS`): their sdists and the build backend's wheel are made here from
// `tests/fixtures/source-build/`, so nothing is downloaded.

/// The uid builds from source run as in these tests (the one after the installer's).
const SOURCE_UID: u32 = 67065;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/source-build");
    std::fs::read_to_string(path.join(name)).unwrap()
}

/// An sdist of `name` 1.0 (PKG-INFO with static metadata, requiring `six`) built by the
/// fixtures' `tinybackend`, with `files` in its tree (its module, a `build_hook.py`).
fn backend_sdist(name: &str, files: &[(&str, &str)]) -> (String, Vec<u8>) {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let info = format!("Metadata-Version: 2.2\nName: {name}\nVersion: 1.0\nRequires-Dist: six\n");
    let pyproject = fixture("pyproject.toml");
    let tree = [("PKG-INFO", info.as_str()), ("pyproject.toml", &pyproject)];
    for (path, text) in tree.iter().chain(files) {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("{name}-1.0/{path}"), text.as_bytes())
            .unwrap();
    }
    let bytes = tar.into_inner().unwrap().finish().unwrap();
    (format!("{name}-1.0.tar.gz"), bytes)
}

/// The fixtures' build backend as a wheel, as a wheelhouse offers it.
fn backend_wheel() -> (String, Vec<u8>) {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let info = "tinybackend-1.0.dist-info";
    for (path, text) in [
        ("tinybackend.py".to_string(), fixture("tinybackend.py")),
        (
            format!("{info}/METADATA"),
            "Metadata-Version: 2.1\nName: tinybackend\nVersion: 1.0\n".into(),
        ),
        (
            format!("{info}/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: execgov-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .into(),
        ),
        (format!("{info}/RECORD"), String::new()),
    ] {
        out.start_file(path, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(text.as_bytes()).unwrap();
    }
    (
        "tinybackend-1.0-py3-none-any.whl".into(),
        out.finish().unwrap().into_inner(),
    )
}

/// A packages database whose wheelhouse also holds the backend's wheel and `sdists`, with builds
/// from source allowed.
async fn builds_db(sdists: &[(String, Vec<u8>)]) -> (TestDb, PathBuf) {
    let mut extra = vec![backend_wheel()];
    extra.extend(sdists.iter().cloned());
    let extra: Vec<(&str, Vec<u8>)> = extra.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let (mut db, wheelhouse) = packages_db(&extra).await;
    let root = nix::unistd::geteuid().is_root();
    db.ctx = db.ctx.clone().with_packages(PackagesConfig {
        source_builds: Some(environments::SourceBuilds {
            uid: root.then_some(SOURCE_UID),
        }),
        ..(*db.ctx.packages).clone()
    });
    (db, wheelhouse)
}

/// Every file name under `dir`.
fn names_under(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
            names.push(entry.file_name().to_string_lossy().into_owned());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_published_only_as_source_is_built_when_allowed_and_its_skill_imports_it() {
    use domain::executions::{self, QueuePolicy};
    use engine::{Executors, SandboxConfig};

    let tinypkg = backend_sdist("tinypkg", &[("tinypkg.py", &fixture("tinypkg.py"))]);
    let (db, _) = builds_db(&[tinypkg]).await;
    let ctx = &db.ctx;
    let server = start_server(ctx.clone()).await;
    let (_, token) = session_token(&server, ACME, "acme-admin").await;

    let main = "import os, six, tinypkg\n\
                out = os.environ.get('EXECGOV_OUTPUT', 'output')\n\
                open(os.path.join(out, 'greeting.txt'), 'w').write(tinypkg.GREETING + ' ' + six.__version__)\n";
    let mut files = skill(
        "from-source",
        "v1",
        "",
        &[("requirements.txt", "tinypkg\n")],
    );
    files[0] = file("main.py", main);
    let d = submit(&server, ACME, &token, &files).await;
    let lock = d.packages.clone().expect("a lock");
    let listed: Vec<(&str, bool)> = lock
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.from_source))
        .collect();
    assert_eq!(listed, [("six", false), ("tinypkg", true)]);
    assert!(
        lock.text.contains("# built from source: tinypkg==1.0"),
        "{}",
        lock.text
    );
    let detail = rest_detail(&server, &token, d.summary.id).await;
    assert_eq!(
        detail["packages"]["packages"],
        serde_json::json!([
            { "name": "six", "version": "1.16.0" },
            { "name": "tinypkg", "version": "1.0", "from_source": true }
        ])
    );

    // The reviewer sees which package the platform builds.
    let console = server.login(CONSOLE, "superadmin", PASSWORD).await;
    let page = server
        .get(
            CONSOLE,
            &format!("/reviews/{}", d.summary.id),
            Some(&console),
        )
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.body
            .matches("data-testid=\"built-from-source\"")
            .count(),
        1
    );
    assert!(page
        .body
        .contains("built by the platform from their checked source"));

    let status = approve(ctx, d.summary.id).await;
    let reason = platform_detail(ctx, d.summary.id).await.summary.reason;
    assert_eq!(status, SubmissionStatus::Live, "{reason:?}");
    let env = environments::environment_dir(ctx, &lock.hash);
    assert_eq!(
        environment_entries(ctx),
        std::slice::from_ref(&lock.hash),
        "no leftovers"
    );
    // Nothing of the build reached the installers' shared cache (the build had its own).
    let cache = environments::environments_dir(ctx).join(".cache");
    let cached = names_under(&cache);
    assert!(
        !cached
            .iter()
            .any(|n| n.contains("tinypkg") || n.contains("tinybackend")),
        "{cached:?}"
    );

    // The skill runs in its sandbox and imports the package built from source.
    let reply = server
        .api(
            reqwest::Method::POST,
            ACME,
            "/api/v1/executions",
            Some(&token),
            ApiBody::Json(serde_json::json!({ "skill": "from-source", "inputs": {} })),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json()["summary"]["id"].as_i64().unwrap();
    let policy = QueuePolicy::default();
    let claimed = executions::claim_next(ctx, "source-builds-test", &policy)
        .await
        .unwrap()
        .expect("the execution is queued");
    let executors = Executors::new(SandboxConfig {
        first_uid: 67110,
        uid_slots: 4,
        ..SandboxConfig::default()
    });
    let status = executions::run_claimed(ctx, &executors, claimed, "source-builds-test", &policy)
        .await
        .unwrap();
    assert_eq!(status, model::ExecutionStatus::Succeeded);
    let greeting = server
        .api(
            reqwest::Method::GET,
            ACME,
            &format!("/api/v1/executions/{id}/artifact?path=greeting.txt"),
            Some(&token),
            ApiBody::Empty,
        )
        .await;
    assert_eq!(greeting.status, 200, "{}", greeting.text());
    assert_eq!(greeting.text(), "built from source 1.16.0");
    assert!(env.join("pyvenv.cfg").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_from_source_has_no_network_no_installer_uid_and_no_shared_cache() {
    // The test's own listener on the host's loopback: a build must not reach even that.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (db, wheelhouse) = builds_db(&[]).await;
    let ctx = &db.ctx;
    let shared_cache = environments::environments_dir(ctx).join(".cache");
    // Records what it could do into the module it builds, as a hostile setup.py would try.
    let probe = format!(
        "import os\n\
         def attempt(path):\n    \
             try:\n        \
                 open(path, 'w').write('poison')\n        \
                 return 'written'\n    \
             except OSError as e:\n        \
                 return type(e).__name__\n\
         found = {{p: attempt(p + '/poison') for p in ['/cache', {shared:?}]}}\n\
         open('probepkg.py', 'w').write(f'UID = {{os.getuid()}}\\nCACHE = {{found!r}}\\n')\n",
        shared = shared_cache.to_string_lossy()
    );
    let net =
        format!("import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)\n");
    for (name, bytes) in [
        backend_sdist("probepkg", &[("build_hook.py", &probe)]),
        backend_sdist(
            "netpkg",
            &[("netpkg.py", "X = 1\n"), ("build_hook.py", &net)],
        ),
    ] {
        std::fs::write(wheelhouse.join(name), bytes).unwrap();
    }
    let server = start_server(ctx.clone()).await;
    let (_, token) = session_token(&server, ACME, "acme-admin").await;

    // The build ran, as its own uid, and could write neither the shared cache nor anything
    // mounted as it.
    let d = submit_live(
        &server,
        ACME,
        &token,
        &skill("probe", "v1", "", &[("requirements.txt", "probepkg\n")]),
    )
    .await;
    let env = environments::environment_dir(ctx, &d.packages.unwrap().hash);
    let out = std::process::Command::new(env.join("bin/python"))
        .args([
            "-I",
            "-c",
            "import probepkg; print(probepkg.UID, probepkg.CACHE)",
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!printed.contains("written"), "{printed}");
    assert!(
        printed.contains("'/cache': 'FileNotFoundError'"),
        "{printed}"
    );
    if nix::unistd::geteuid().is_root() {
        assert!(printed.starts_with(&format!("{SOURCE_UID} ")), "{printed}");
    }
    assert!(!names_under(&shared_cache).contains(&"poison".to_string()));

    // A build that tries the network fails, with its reason; the live version stays live and
    // nothing is left.
    submit_live(&server, ACME, &token, &skill("online", "v1", "", &[])).await;
    let v2 = submit(
        &server,
        ACME,
        &token,
        &skill("online", "v2", "", &[("requirements.txt", "netpkg\n")]),
    )
    .await;
    let entries_before = environment_entries(ctx);
    assert_eq!(approve(ctx, v2.summary.id).await, SubmissionStatus::Failed);
    let d = platform_detail(ctx, v2.summary.id).await;
    assert_eq!(d.summary.failed_step.as_deref(), Some("environment"));
    let reason = d.summary.reason.unwrap_or_default();
    assert!(
        reason.contains("netpkg 1.0 could not be built from source")
            && reason.contains("create_connection")
            && reason.contains("[Errno"),
        "{reason}"
    );
    assert!(listener.accept().is_err(), "the build reached the host");
    assert_eq!(live_lock(ctx, ACME, "online").await, (1, None));
    assert_eq!(
        environment_entries(ctx),
        entries_before,
        "nothing half-built"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_changed_since_review_or_with_builds_off_is_refused() {
    let tinypkg = backend_sdist("tinypkg", &[("tinypkg.py", &fixture("tinypkg.py"))]);
    let (db, wheelhouse) = builds_db(std::slice::from_ref(&tinypkg)).await;
    let ctx = &db.ctx;
    let server = start_server(ctx.clone()).await;
    let (_, token) = session_token(&server, ACME, "acme-admin").await;
    let declared = [("requirements.txt", "tinypkg==1.0\n")];

    // Between review and build the wheelhouse's sdist is replaced by another of the same name.
    submit_live(&server, ACME, &token, &skill("swapped", "v1", "", &[])).await;
    let v2 = submit(
        &server,
        ACME,
        &token,
        &skill("swapped", "v2", "", &declared),
    )
    .await;
    let other = backend_sdist("tinypkg", &[("tinypkg.py", "GREETING = 'not reviewed'\n")]);
    std::fs::write(wheelhouse.join(&other.0), &other.1).unwrap();
    assert_eq!(approve(ctx, v2.summary.id).await, SubmissionStatus::Failed);
    let d = platform_detail(ctx, v2.summary.id).await;
    assert_eq!(d.summary.failed_step.as_deref(), Some("environment"));
    let reason = d.summary.reason.unwrap_or_default();
    assert!(
        reason.contains("does not match the lock's hash"),
        "{reason}"
    );
    assert_eq!(live_lock(ctx, ACME, "swapped").await, (1, None));
    assert_eq!(
        environment_entries(ctx),
        Vec::<String>::new(),
        "nothing half-built"
    );

    // Builds turned off after review: the approved lock is not built.
    std::fs::write(wheelhouse.join(&tinypkg.0), &tinypkg.1).unwrap();
    let v3 = submit(
        &server,
        ACME,
        &token,
        &skill("swapped", "v3", "", &declared),
    )
    .await;
    let off = ctx.clone().with_packages(PackagesConfig {
        source_builds: None,
        ..(*ctx.packages).clone()
    });
    assert_eq!(approve(&off, v3.summary.id).await, SubmissionStatus::Failed);
    let reason = platform_detail(ctx, v3.summary.id).await.summary.reason;
    assert!(
        reason
            .unwrap_or_default()
            .contains("tinypkg 1.0 published only as source"),
        "building from source is off"
    );
    assert_eq!(live_lock(ctx, ACME, "swapped").await, (1, None));

    // And with builds off, it is refused at submission as before.
    let off_server = start_server(off.clone()).await;
    let (_, off_token) = session_token(&off_server, ACME, "acme-admin").await;
    let reply = post_submission(
        &off_server,
        ACME,
        &off_token,
        &skill("off", "v1", "", &declared),
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.text());
    let detail = reply.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        detail.contains("only as source") && detail.contains("nothing is built from source"),
        "{detail}"
    );
}
