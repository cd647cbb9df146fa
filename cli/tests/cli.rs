//! `execgov-cli` end to end: the real binary against the real `execgov` server binary (a child
//! process on a fresh database of the shared test cluster), as a user would run it.

mod common;

use std::path::Path;

use common::*;
use model::hot_update::SubmissionStatus;
use model::ExecutionStatus;

/// A CSV for csv-summary.
const SALES: &str = "region,units,price\nnorth,3,9.5\nsouth,5,12\nnorth,2,7.25\n";

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// A status as the API writes it (the shared `model` types decide the spelling).
fn wire<T: serde::Serialize>(status: T) -> serde_json::Value {
    serde_json::to_value(status).unwrap()
}

/// A `manifest init` draft through the product's own parser (`parse_manifest`).
///
/// Drafts carry `args`, `stdin` and `artifacts` (issue 12). Where `domain::skills::manifest`
/// does not know those keys yet (before the branch that adds them is merged) it refuses them
/// as unknown fields: then they are checked here as lists of strings and the rest of the draft
/// is parsed without them. Once the parser knows them, the whole draft goes through it and
/// this fallback is never taken.
fn parse_draft(text: &str) -> domain::skills::manifest::Manifest {
    const NEW_KEYS: [&str; 3] = ["args", "stdin", "artifacts"];
    let error = match domain::skills::manifest::parse_manifest(text) {
        Ok(manifest) => return manifest,
        Err(e) => e,
    };
    let unknown_new_key = NEW_KEYS
        .iter()
        .any(|k| error.message.contains(&format!("unknown field `{k}`")));
    assert!(unknown_new_key, "the draft does not parse: {error}\n{text}");
    let mut value: toml::Table = toml::from_str(text).unwrap();
    for key in NEW_KEYS {
        if let Some(list) = value.remove(key) {
            let list = list
                .as_array()
                .unwrap_or_else(|| panic!("{key} is a list\n{text}"));
            assert!(
                list.iter().all(toml::Value::is_str),
                "{key}: strings\n{text}"
            );
        }
    }
    domain::skills::manifest::parse_manifest(&toml::to_string(&value).unwrap())
        .unwrap_or_else(|e| panic!("the draft does not parse: {e}\n{text}"))
}

/// A list of strings in a draft (`args`, `stdin`, `artifacts`), empty when absent.
fn draft_list(text: &str, key: &str) -> Vec<String> {
    let value: toml::Table = toml::from_str(text).unwrap();
    value
        .get(key)
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn demo_skill(tenant: &str, slug: &str) -> std::path::PathBuf {
    workspace()
        .join("domain/demo-skills")
        .join(tenant)
        .join(slug)
}

// ---------------------------------------------------------------------------------------------
// Signing in

#[test]
fn login_with_a_password_saves_a_private_token_then_whoami_and_list() {
    let server = Server::start();
    let config = server.config("admin");
    let url = server.url();
    let out = execgov_with_input(
        &config,
        &[
            "login",
            "--server",
            &url,
            "--host",
            ACME,
            "--username",
            "acme-admin",
            "--password-stdin",
        ],
        PASSWORD,
    );
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("Signed in to Acme at acme.localhost as acme-admin (admin)"),
        "{}",
        out.stdout
    );
    let file = config.join("config.toml");
    assert_eq!(mode(&file), 0o600, "the config file is private");
    assert_eq!(mode(&config), 0o700, "the config folder is private");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("token = \"egv_"), "{saved}");
    assert!(saved.contains(&format!("server = \"{url}\"")), "{saved}");
    assert!(saved.contains("host = \"acme.localhost\""), "{saved}");

    let who = execgov(&config, &["whoami"]);
    who.assert_code(0);
    assert!(
        who.stdout
            .contains("acme-admin (admin) on Acme, at acme.localhost"),
        "{}",
        who.stdout
    );
    let who = execgov(&config, &["whoami", "--json"]);
    who.assert_code(0);
    let me = who.json();
    assert_eq!(me["username"], "acme-admin");
    assert_eq!(me["tenant"], "Acme");
    assert_eq!(me["role"], "admin");

    let list = execgov(&config, &["list"]);
    list.assert_code(0);
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert!(lines[0].starts_with("slug"), "{}", list.stdout);
    assert!(
        lines.iter().any(|l| l.starts_with("csv-summary")
            && l.contains("CSV summariser")
            && l.ends_with("low")),
        "{}",
        list.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("purge-old-rows") && l.contains("high")),
        "{}",
        list.stdout
    );
    assert!(!list.stdout.contains("word-frequency"), "a Globex skill");
    let list = execgov(&config, &["list", "--json"]);
    list.assert_code(0);
    let skills = list.json();
    let skills = skills.as_array().unwrap();
    assert!(skills
        .iter()
        .any(|s| s["slug"] == "csv-summary" && s["risk"] == "low"));
    // Every demo skill of Acme (each granted to its members), nothing else.
    let demo = domain::skills::manifest::demo_skill_folders("acme");
    assert_eq!(skills.len(), demo.len(), "{skills:?}");
}

#[test]
fn login_with_a_token_and_refused_tokens() {
    let server = Server::start();
    let url = server.url();
    let first = server.login(ACME, "acme-user");
    let saved = std::fs::read_to_string(first.join("config.toml")).unwrap();
    let token = saved
        .lines()
        .find_map(|l| l.strip_prefix("token = \""))
        .and_then(|t| t.strip_suffix('"'))
        .expect("the saved token")
        .to_string();

    // The same token, given to another machine's login.
    let second = server.config("second");
    let out = execgov(
        &second,
        &["login", "--server", &url, "--host", ACME, "--token", &token],
    );
    out.assert_code(0);
    assert!(
        out.stdout.contains("as acme-user (member)"),
        "{}",
        out.stdout
    );
    assert_eq!(mode(&second.join("config.toml")), 0o600);
    execgov(&second, &["whoami"]).assert_code(0);

    // A token the server does not know: exit 3, nothing saved.
    let third = server.config("third");
    let out = execgov(
        &third,
        &[
            "login",
            "--server",
            &url,
            "--host",
            ACME,
            "--token",
            "egv_not-a-real-token",
        ],
    );
    out.assert_code(3);
    assert!(
        out.stderr.contains("the token was refused"),
        "{}",
        out.stderr
    );
    assert!(!third.join("config.toml").exists());

    // Revoked (logout in the second config revokes the shared token): log in again.
    let out = execgov(&second, &["logout"]);
    out.assert_code(0);
    assert!(
        out.stdout.contains("the token was revoked"),
        "{}",
        out.stdout
    );
    assert!(!second.join("config.toml").exists());
    let out = execgov(&first, &["whoami"]);
    out.assert_code(3);
    assert!(
        out.stderr.contains("Log in again: execgov-cli login"),
        "{}",
        out.stderr
    );
    execgov(&first, &["list"]).assert_code(3);

    // A wrong password is refused as such.
    let out = execgov_with_input(
        &third,
        &[
            "login",
            "--server",
            &url,
            "--host",
            ACME,
            "--username",
            "acme-user",
            "--password-stdin",
        ],
        "wrong-Password-0000",
    );
    out.assert_code(3);
    assert!(out.stderr.contains("sign-in refused"), "{}", out.stderr);
}

#[test]
fn an_acme_token_is_refused_on_globex() {
    let server = Server::start();
    let url = server.url();
    let acme = server.login(ACME, "acme-user");

    let out = execgov(&acme, &["--host", GLOBEX, "whoami"]);
    out.assert_code(3);
    assert!(
        out.stderr.contains("not signed in on globex.localhost"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("The saved token was made for acme.localhost"),
        "{}",
        out.stderr
    );
    execgov(
        &acme,
        &[
            "--host",
            GLOBEX,
            "run",
            "word-frequency",
            "--input",
            "text=a b",
        ],
    )
    .assert_code(3);

    let token = std::fs::read_to_string(acme.join("config.toml"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("token = \"")
                .map(|t| t.trim_end_matches('"').to_string())
        })
        .unwrap();
    let globex = server.config("globex");
    execgov(
        &globex,
        &[
            "login", "--server", &url, "--host", GLOBEX, "--token", &token,
        ],
    )
    .assert_code(3);
    assert!(!globex.join("config.toml").exists());

    // An address the server does not serve at all.
    let out = execgov(&acme, &["--host", "nowhere.localhost", "whoami"]);
    out.assert_code(4);
    assert!(out.stderr.contains("nowhere.localhost"), "{}", out.stderr);

    // Acme's own address still works.
    execgov(&acme, &["whoami"]).assert_code(0);
}

#[test]
fn register_creates_a_free_account_and_signs_in() {
    let server = Server::start();
    let url = server.url();
    let config = server.config("carol");
    let out = execgov_with_input(
        &config,
        &[
            "register",
            "--server",
            &url,
            "--username",
            "carol",
            "--password-stdin",
        ],
        "Sunny-Meadow-2024",
    );
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("Signed in to Free edition at free.localhost as carol"),
        "{}",
        out.stdout
    );
    let saved = std::fs::read_to_string(config.join("config.toml")).unwrap();
    assert!(saved.contains("host = \"free.localhost\""), "{saved}");
    let who = execgov(&config, &["whoami", "--json"]);
    who.assert_code(0);
    assert_eq!(who.json()["username"], "carol");

    let again = server.config("carol-again");
    let out = execgov_with_input(
        &again,
        &[
            "register",
            "--server",
            &url,
            "--username",
            "carol",
            "--password-stdin",
        ],
        "Sunny-Meadow-2024",
    );
    out.assert_code(1);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);

    let out = execgov_with_input(
        &again,
        &[
            "register",
            "--server",
            &url,
            "--username",
            "weak",
            "--password-stdin",
        ],
        "short",
    );
    out.assert_code(2);
    assert!(out.stderr.contains("password"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// Running skills

#[test]
fn run_with_inputs_waits_and_prints_the_result_as_a_table_or_json() {
    let server = Server::start();
    let globex = server.login(GLOBEX, "globex-user");
    let text = "text=the cat and the dog and the bird";

    let out = execgov(
        &globex,
        &[
            "run",
            "word-frequency",
            "--input",
            text,
            "--input",
            "top_n=2",
            "--wait",
        ],
    );
    out.assert_code(0);
    assert!(
        out.stdout.contains("Counted 8 words"),
        "the log: {}",
        out.stdout
    );
    assert!(out.stdout.contains("succeeded"), "{}", out.stdout);
    let table: Vec<&str> = out
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("rank"))
        .take_while(|l| !l.starts_with("Artifacts"))
        .collect();
    assert_eq!(table.len(), 4, "header, rule, two rows: {}", out.stdout);
    assert!(table[0]
        .split_whitespace()
        .eq(["rank", "word", "count", "share"]));
    assert!(
        table[2].split_whitespace().eq(["1", "the", "3", "37.5%"]),
        "{}",
        table[2]
    );
    assert!(
        out.stdout.contains("word-frequency.csv"),
        "artifact listed: {}",
        out.stdout
    );

    let out = execgov(
        &globex,
        &["run", "word-frequency", "--input", text, "--wait", "--json"],
    );
    out.assert_code(0);
    let view = out.json();
    assert_eq!(view["summary"]["status"], wire(ExecutionStatus::Succeeded));
    assert_eq!(view["summary"]["skill_slug"], "word-frequency");
    let result: serde_json::Value = serde_json::from_str(view["result"].as_str().unwrap()).unwrap();
    assert_eq!(result[0]["word"], "the");
    assert!(
        out.stderr.contains("Counted 8 words"),
        "the log goes to stderr"
    );

    // Without --wait: created, then followed and looked at.
    let out = execgov(&globex, &["run", "word-frequency", "--input", text]);
    out.assert_code(0);
    let id = execution_id(&out.stdout);
    assert!(out
        .stderr
        .contains(&format!("execgov-cli logs {id} --follow")));
    let logs = execgov(&globex, &["logs", &id, "--follow"]);
    logs.assert_code(0);
    assert!(logs.stdout.contains("Counted 8 words"), "{}", logs.stdout);
    let status = execgov(&globex, &["status", &id, "--json"]);
    status.assert_code(0);
    assert_eq!(
        status.json()["summary"]["status"],
        wire(ExecutionStatus::Succeeded)
    );
}

/// `logs` prints a log longer than one page (5,000 lines) whole, with and without `--follow`.
#[test]
fn logs_prints_every_line_of_a_long_log() {
    let server = Server::start();
    server.register_skill(
        ACME,
        &[
            (
                "skill.toml",
                "name = \"Many lines\"\nslug = \"many-lines\"\ndescription = \"Prints lines.\"\n\
                 output = \"lines\"\nrisk = \"low\"\n",
            ),
            (
                "main.py",
                "for i in range(1, 12346):\n    print(f'line {i}')\n",
            ),
            ("README.md", "# Many lines\n"),
        ],
    );
    let acme = server.login(ACME, "acme-user");
    let out = execgov(&acme, &["run", "many-lines", "--wait"]);
    out.assert_code(0);
    let id = execution_id(&out.stdout);
    let want: Vec<String> = (1..=12345).map(|i| format!("line {i}")).collect();
    for args in [vec!["logs", &id], vec!["logs", &id, "--follow"]] {
        let logs = execgov(&acme, &args);
        logs.assert_code(0);
        let lines: Vec<&str> = logs.stdout.lines().collect();
        assert!(
            lines == want,
            "{args:?}: {} lines, the last {:?}",
            lines.len(),
            lines.last()
        );
    }
}

#[test]
fn run_with_a_file_downloads_the_artifacts() {
    let server = Server::start();
    let acme = server.login(ACME, "acme-user");
    let csv = server.dir.join("files/sales.csv");
    write(&csv, SALES);
    let output = server.dir.join("out");
    let file = format!("data={}", csv.display());
    let out_dir = output.display().to_string();

    let out = execgov(
        &acme,
        &[
            "run",
            "csv-summary",
            "--file",
            &file,
            "--input",
            "top_values=2",
            "--wait",
            "-o",
            &out_dir,
        ],
    );
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("Summarised 3 rows and 3 columns of sales.csv."),
        "the log: {}",
        out.stdout
    );
    let header = out
        .stdout
        .lines()
        .find(|l| l.starts_with("column"))
        .unwrap_or_else(|| panic!("a result table: {}", out.stdout));
    assert!(
        header.split_whitespace().eq([
            "column",
            "type",
            "count",
            "missing",
            "min",
            "max",
            "mean",
            "median",
            "top_values"
        ]),
        "columns in the order the script wrote them: {header}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("region") && l.contains("north (2), south (1)")),
        "{}",
        out.stdout
    );
    let report = std::fs::read_to_string(output.join("report.md")).expect("report.md downloaded");
    assert!(report.starts_with("# CSV summary: sales.csv"), "{report}");
    assert!(out.stdout.contains("report.md"), "{}", out.stdout);

    // A run that fails: exit 1 with the script's reason.
    let empty = server.dir.join("files/empty.csv");
    write(&empty, "");
    let file = format!("data={}", empty.display());
    let out = execgov(&acme, &["run", "csv-summary", "--file", &file, "--wait"]);
    out.assert_code(1);
    assert!(out.stderr.contains("failed"), "{}", out.stderr);
    assert!(out.stderr.contains("the file is empty"), "{}", out.stderr);
}

#[test]
fn errors_name_the_skill_the_field_or_the_file() {
    let server = Server::start();
    let acme = server.login(ACME, "acme-user");
    let csv = server.dir.join("files/sales.csv");
    write(&csv, SALES);
    let file = format!("data={}", csv.display());

    let out = execgov(&acme, &["run", "no-such-skill", "--input", "a=b"]);
    out.assert_code(4);
    assert!(out.stderr.contains("no-such-skill"), "{}", out.stderr);

    let out = execgov(
        &acme,
        &[
            "run",
            "csv-summary",
            "--file",
            &file,
            "--input",
            "top_values=many",
        ],
    );
    out.assert_code(2);
    assert!(
        out.stderr.contains("top_values: Enter a whole number."),
        "{}",
        out.stderr
    );

    let out = execgov(&acme, &["run", "csv-summary", "--input", "top_values=20"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("data: This field is required."),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("top_values:"), "{}", out.stderr);

    let out = execgov(&acme, &["run", "csv-summary", "--input", "top_values"]);
    out.assert_code(2);
    assert!(out.stderr.contains("expected KEY=VALUE"), "{}", out.stderr);

    let missing = format!("data={}", server.dir.join("nope.csv").display());
    let out = execgov(&acme, &["run", "csv-summary", "--file", &missing]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("input data: cannot read"),
        "{}",
        out.stderr
    );

    let out = execgov(&acme, &["status", "999999"]);
    out.assert_code(4);
    assert!(out.stderr.contains("999999"), "{}", out.stderr);
}

#[test]
fn a_high_risk_run_waits_for_a_confirmation() {
    let server = Server::start();
    let acme = server.login(ACME, "acme-user");
    let csv = server.dir.join("files/rows.csv");
    write(
        &csv,
        "day,amount\n2020-01-05,1\n2025-03-01,2\n2025-04-01,3\n",
    );
    let file = format!("data={}", csv.display());
    let run = [
        "run",
        "purge-old-rows",
        "--file",
        &file,
        "--input",
        "date_column=day",
        "--input",
        "cutoff=2024-01-01",
    ];

    let mut waiting = run.to_vec();
    waiting.push("--wait");
    let out = execgov(&acme, &waiting);
    out.assert_code(7);
    assert!(
        out.stdout.contains("waits for a confirmation"),
        "{}",
        out.stdout
    );
    let id = execution_id(&out.stdout);
    assert!(
        out.stderr.contains(&format!("execgov-cli confirm {id}")),
        "{}",
        out.stderr
    );

    let output = server.dir.join("purged");
    let out_dir = output.display().to_string();
    let out = execgov(&acme, &["confirm", &id, "--wait", "-o", &out_dir]);
    out.assert_code(0);
    assert!(out.stdout.contains("succeeded"), "{}", out.stdout);
    let kept = std::fs::read_to_string(output.join("kept.csv")).unwrap();
    assert_eq!(kept.lines().count(), 3, "{kept}");
    assert!(output.join("removed.csv").exists());

    // Confirming twice is refused.
    let out = execgov(&acme, &["confirm", &id]);
    out.assert_code(1);
    assert!(
        out.stderr.contains(&format!("Execution {id}")),
        "{}",
        out.stderr
    );

    // Another one, cancelled instead.
    let mut json = run.to_vec();
    json.push("--json");
    let out = execgov(&acme, &json);
    out.assert_code(0);
    let view = out.json();
    assert_eq!(
        view["summary"]["status"],
        wire(ExecutionStatus::AwaitingConfirmation)
    );
    let id = view["summary"]["id"].to_string();
    let out = execgov(&acme, &["cancel", &id]);
    out.assert_code(0);
    assert!(out.stdout.contains("cancelled"), "{}", out.stdout);
    let out = execgov(&acme, &["logs", &id, "--follow"]);
    out.assert_code(1);
    assert!(out.stderr.contains("cancelled"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// Pushing skill folders

#[test]
fn push_submits_a_folder_for_review() {
    let server = Server::start();
    let admin = server.login(ACME, "acme-admin");
    let folder = server.dir.join("greeter");
    write(
        &folder.join("main.py"),
        "import json, os\n\
         with open(os.environ['EXECGOV_INPUTS']) as f:\n    inputs = json.load(f)\n\
         name = inputs.get('name', 'world')\n\
         print(f'Hello, {name}!')\n",
    );
    write(
        &folder.join("README.md"),
        "# Greeter\n\nSays hello to whoever you name.\n",
    );
    write(&folder.join(".git/HEAD"), "ref: refs/heads/main\n");
    execgov(&admin, &["manifest", "init", folder.to_str().unwrap()]).assert_code(0);
    // The draft cannot know what the greeter puts out: push refuses its placeholder.
    let push = [
        "push",
        folder.to_str().unwrap(),
        "--scenario",
        "Greets the team in the morning.",
        "--risk",
        "low",
        "--ai-callable",
    ];
    let out = execgov(&admin, &push);
    out.assert_code(2);
    assert!(out.stderr.contains("TODO placeholders"), "{}", out.stderr);
    let draft = std::fs::read_to_string(folder.join("skill.toml")).unwrap();
    let filled: String = draft
        .lines()
        .map(|l| {
            if l.starts_with("output = ") {
                "output = \"A greeting in the log.\"\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(folder.join("skill.toml"), filled).unwrap();

    let out = execgov(&admin, &push);
    out.assert_code(0);
    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("Submission "), "{}", out.stdout);
    assert!(
        first.contains("of greeter (Greeter): submitted."),
        "{first}"
    );
    let id = first
        .strip_prefix("Submission ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();

    let out = execgov(&admin, &["submission", &id, "--json"]);
    out.assert_code(0);
    let detail = out.json();
    assert_eq!(
        detail["summary"]["status"],
        wire(SubmissionStatus::Submitted)
    );
    assert_eq!(detail["summary"]["slug"], "greeter");
    assert_eq!(detail["scenario"], "Greets the team in the morning.");
    assert_eq!(detail["proposed"]["risk"], "low");
    assert_eq!(detail["proposed"]["ai_callable"], true);
    assert_eq!(detail["proposed"]["manual_allowed"], true);
    let files: Vec<&str> = detail["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["README.md", "main.py", "skill.toml"], "no .git");
    let out = execgov(&admin, &["submission", &id]);
    out.assert_code(0);
    assert!(
        out.stdout.contains("submitted by acme-admin"),
        "{}",
        out.stdout
    );

    // A member may not push.
    let member = server.login(ACME, "acme-user");
    let out = push_low_risk(&member, &folder);
    out.assert_code(6);

    // The server's refusal names the file.
    let broken = server.dir.join("broken");
    write(&broken.join("main.py"), "print('hi')\n");
    write(&broken.join("README.md"), "# Broken\n\nNo manifest.\n");
    let out = push_low_risk(&admin, &broken);
    out.assert_code(2);
    assert!(out.stderr.contains("skill.toml"), "{}", out.stderr);
}

#[test]
fn push_shows_the_packages_the_server_locked() {
    // Wheels offline, as the server's own tests get them (scripts/test fills the folder).
    let wheelhouse = std::env::var_os("EXECGOV_TEST_WHEELHOUSE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/wheelhouse"));
    let wheelhouse = wheelhouse.to_str().unwrap().to_string();
    let server = Server::start_with(&[("EXECGOV_PYTHON_WHEELHOUSE", wheelhouse.as_str())]);
    let admin = server.login(ACME, "acme-admin");
    let folder = server.dir.join("xl-version");
    write(
        &folder.join("main.py"),
        "import openpyxl\nprint(openpyxl.__version__)\n",
    );
    write(&folder.join("requirements.txt"), "openpyxl==3.1.5\n");
    write(
        &folder.join("README.md"),
        "# XL version\n\nPrints the version of openpyxl.\n",
    );
    let stdout = execgov(&admin, &["manifest", "init", folder.to_str().unwrap()]).stdout;
    assert!(
        stdout.contains("Packages: requirements.txt declares openpyxl==3.1.5."),
        "{stdout}"
    );
    let draft = std::fs::read_to_string(folder.join("skill.toml"))
        .unwrap()
        .replace("TODO: say what comes out", "The version");
    std::fs::write(folder.join("skill.toml"), draft).unwrap();
    let out = push_low_risk(&admin, &folder);
    out.assert_code(0);
    let id = out.stdout.split_whitespace().nth(1).unwrap().to_string();
    let detail = execgov(&admin, &["submission", &id, "--json"]).json();
    // A server that resolves packages (issue 12) answers with `packages`; before it, push
    // says nothing about packages.
    if detail.get("packages").is_some() {
        for printed in [&out.stdout, &execgov(&admin, &["submission", &id]).stdout] {
            assert!(
                printed.contains("Packages the server locked (2)"),
                "{printed}"
            );
            assert!(printed.contains("  openpyxl==3.1.5\n"), "{printed}");
            assert!(printed.contains("  et-xmlfile=="), "{printed}");
        }
    } else {
        assert!(!out.stdout.contains("Packages"), "{}", out.stdout);
    }
}

// ---------------------------------------------------------------------------------------------
// Without a server

#[test]
fn manifest_init_drafts_a_manifest_the_product_parses() {
    let dir = scratch("manifest");
    let cli_config = dir.join("config");

    // Every demo skill, without its skill.toml.
    for (tenant, slug) in [
        ("acme", "csv-summary"),
        ("acme", "purge-old-rows"),
        ("acme", "text-report"),
        ("globex", "checksum"),
        ("globex", "word-frequency"),
    ] {
        let folder = dir.join(slug);
        for entry in std::fs::read_dir(demo_skill(tenant, slug)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() != "skill.toml" {
                std::fs::create_dir_all(&folder).unwrap();
                std::fs::copy(entry.path(), folder.join(entry.file_name())).unwrap();
            }
        }
        let out = execgov(&cli_config, &["manifest", "init", folder.to_str().unwrap()]);
        out.assert_code(0);
        let text = std::fs::read_to_string(folder.join("skill.toml")).unwrap();
        let manifest = parse_draft(&text);
        assert_eq!(manifest.slug, slug);
        assert!(
            draft_list(&text, "args").is_empty(),
            "{slug} reads $EXECGOV_INPUTS"
        );
        if slug == "csv-summary" {
            assert_eq!(manifest.name, "CSV summariser");
            assert!(
                manifest.description.starts_with("Upload a CSV file"),
                "{}",
                manifest.description
            );
            let inputs: Vec<(&str, &str, bool)> = manifest
                .inputs
                .fields
                .iter()
                .map(|f| (f.name.as_str(), f.kind.as_str(), f.required))
                .collect();
            assert_eq!(
                inputs,
                [
                    ("data", "file", true),
                    ("top_values", "integer", false),
                    ("delimiter", "string", false)
                ],
                "in the order main.py reads them: {text}"
            );
            assert_eq!(
                manifest.inputs.fields[1].default,
                Some(serde_json::json!(3))
            );
        }
    }

    // Never overwritten without --force.
    let folder = dir.join("csv-summary");
    std::fs::write(folder.join("skill.toml"), "mine").unwrap();
    let out = execgov(&cli_config, &["manifest", "init", folder.to_str().unwrap()]);
    out.assert_code(1);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(folder.join("skill.toml")).unwrap(),
        "mine"
    );
    execgov(
        &cli_config,
        &["manifest", "init", "--force", folder.to_str().unwrap()],
    )
    .assert_code(0);
    assert_ne!(
        std::fs::read_to_string(folder.join("skill.toml")).unwrap(),
        "mine"
    );

    // argparse and shell arguments are found, and passed as they are.
    let py = dir.join("py-args");
    write(
        &py.join("main.py"),
        "import argparse\n\
         p = argparse.ArgumentParser()\n\
         p.add_argument('report_file', help='The report to check')\n\
         p.add_argument('--limit', type=int, default=10, help='At most this many')\n\
         p.add_argument('--mode', choices=['fast', 'full'], default='fast')\n\
         p.add_argument('--verbose', action='store_true')\n\
         args = p.parse_args()\n",
    );
    let out = execgov(&cli_config, &["manifest", "init", py.to_str().unwrap()]);
    out.assert_code(0);
    assert!(
        out.stdout.contains("README.md is missing"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "The script is started as: main.py --limit {limit} --mode {mode} \
             {verbose?--verbose} {report_file}"
        ),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("EXECGOV_INPUTS"),
        "no rewriting: {}",
        out.stdout
    );
    let text = std::fs::read_to_string(py.join("skill.toml")).unwrap();
    let manifest = parse_draft(&text);
    assert_eq!(manifest.name, "Py args");
    assert_eq!(
        draft_list(&text, "args"),
        [
            "--limit",
            "{limit}",
            "--mode",
            "{mode}",
            "{verbose?--verbose}",
            "{report_file}"
        ]
    );
    let kinds: Vec<(&str, &str)> = manifest
        .inputs
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("report_file", "file"),
            ("limit", "integer"),
            ("mode", "enum"),
            ("verbose", "boolean")
        ]
    );

    let sh = dir.join("sh-args");
    write(
        &sh.join("main.sh"),
        "#!/bin/bash\n\
         while getopts \"qn:\" opt; do\n  case $opt in\n    q) quiet=1 ;;\n    n) count=\"$OPTARG\" ;;\n  esac\ndone\n\
         shift $((OPTIND-1))\n\
         target=\"${1:-all}\"\n",
    );
    write(&sh.join("README.md"), "# Shell args\n\nCounts things.\n");
    execgov(&cli_config, &["manifest", "init", sh.to_str().unwrap()]).assert_code(0);
    let text = std::fs::read_to_string(sh.join("skill.toml")).unwrap();
    let manifest = parse_draft(&text);
    assert_eq!(
        draft_list(&text, "args"),
        ["{quiet?-q}", "-n", "{count}", "{target}"]
    );
    let names: Vec<&str> = manifest
        .inputs
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["target", "quiet", "count"], "{text}");

    // No entry point: refused.
    let empty = dir.join("empty");
    write(&empty.join("README.md"), "# Empty\n");
    let out = execgov(&cli_config, &["manifest", "init", empty.to_str().unwrap()]);
    out.assert_code(2);
    assert!(out.stderr.contains("main.py or main.sh"), "{}", out.stderr);
}

/// `execgov-cli push FOLDER --scenario x --risk low`.
fn push_low_risk(config: &Path, folder: &Path) -> Out {
    let folder = folder.to_str().unwrap();
    execgov(
        config,
        &["push", folder, "--scenario", "x", "--risk", "low"],
    )
}

/// Copies a sample script folder (`cli/tests/fixtures/scripts/NAME`) into `dir`.
fn sample(dir: &Path, name: &str) -> std::path::PathBuf {
    let from = workspace().join("cli/tests/fixtures/scripts").join(name);
    let to = dir.join(name);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}

#[test]
fn manifest_init_takes_real_scripts_as_they_are() {
    let dir = scratch("samples");
    let config = dir.join("config");
    let init = |folder: &Path, extra: &[&str]| {
        let mut args = vec!["manifest", "init", "--force"];
        args.extend_from_slice(extra);
        args.push(folder.to_str().unwrap());
        let out = execgov(&config, &args);
        out.assert_code(0);
        let text = std::fs::read_to_string(folder.join("skill.toml")).unwrap();
        (out.stdout.clone(), text)
    };

    // An argparse converter under a README titled "Explanation of Modifications".
    let csv = sample(&dir, "csv-to-excel");
    let (stdout, text) = init(&csv, &[]);
    let manifest = parse_draft(&text);
    assert_eq!(manifest.name, "csv2excel");
    let args = draft_list(&text, "args");
    assert_eq!(args.first().map(String::as_str), Some("--output"));
    assert_eq!(args.last().map(String::as_str), Some("{input_csv}"));
    assert!(
        args.contains(&"{no_index?--no-index}".to_string()),
        "{args:?}"
    );
    let output = &manifest.inputs.fields[1];
    assert_eq!(
        output.default,
        Some(serde_json::json!("output/converted.xlsx"))
    );
    assert!(
        stdout.contains("nothing declares: pandas (main.py line 10), openpyxl (main.py line 11)."),
        "{stdout}"
    );
    // --write-requirements declares them; then nothing is missing.
    let (stdout, _) = init(&csv, &["--write-requirements"]);
    assert!(stdout.contains("Added to"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(csv.join("requirements.txt")).unwrap(),
        "pandas\nopenpyxl\n"
    );
    let (stdout, _) = init(&csv, &[]);
    assert!(
        stdout.contains("Packages: requirements.txt declares pandas, openpyxl."),
        "{stdout}"
    );
    assert!(!stdout.contains("Warning"), "{stdout}");

    // getopts, and a report written to the home folder.
    let log = sample(&dir, "log-analyser");
    let (stdout, text) = init(&log, &[]);
    parse_draft(&text);
    assert_eq!(
        draft_list(&text, "args"),
        ["-f", "{logfile}", "-n", "{top}", "{errors_only?-e}"]
    );
    assert!(
        stdout.contains("writes ~/log_report.txt, in the home folder"),
        "{stdout}"
    );

    // Keyboard prompts.
    let organiser = sample(&dir, "folder-organiser");
    let (_, text) = init(&organiser, &[]);
    let manifest = parse_draft(&text);
    assert_eq!(manifest.name, "Folder organiser");
    assert_eq!(draft_list(&text, "stdin"), ["{folder}", "{answer}"]);

    // sys.argv, and a result file only an artifacts glob brings back.
    let dups = sample(&dir, "duplicate-finder");
    let (_, text) = init(&dups, &[]);
    parse_draft(&text);
    assert_eq!(draft_list(&text, "args"), ["{directory}", "{min_size}"]);
    assert_eq!(draft_list(&text, "artifacts"), ["*.csv"]);

    // PEP 723, and absolute paths.
    let rates = sample(&dir, "exchange-rates");
    let (stdout, text) = init(&rates, &[]);
    parse_draft(&text);
    assert!(
        stdout.contains("main.py's PEP 723 block declares requests>=2.31, beautifulsoup4"),
        "{stdout}"
    );
    assert!(
        stdout.contains("dependencies of main.py's `# /// script` block"),
        "{stdout}"
    );
    assert!(
        stdout.contains("writes /home/anna/Desktop/rates.xlsx, outside the working folder"),
        "{stdout}"
    );

    for name in ["receipt-maker", "sales-report"] {
        let folder = sample(&dir, name);
        let (stdout, text) = init(&folder, &[]);
        parse_draft(&text);
        assert!(stdout.contains("requirements.txt declares"), "{stdout}");
        assert!(!stdout.contains("Warning"), "{name}: {stdout}");
        assert!(!draft_list(&text, "artifacts").is_empty(), "{name}: {text}");
    }
}

#[test]
fn push_refuses_todo_placeholders_before_sending_anything() {
    let dir = scratch("todo");
    let config = dir.join("config");
    let folder = sample(&dir, "folder-organiser");
    execgov(&config, &["manifest", "init", folder.to_str().unwrap()]).assert_code(0);
    // No login and no server: the refusal comes first.
    let out = push_low_risk(&config, &folder);
    out.assert_code(2);
    let text = std::fs::read_to_string(folder.join("skill.toml")).unwrap();
    let line_of = |key: &str| {
        text.lines()
            .position(|l| l.starts_with(&format!("{key} = ")))
            .unwrap()
            + 1
    };
    assert!(
        out.stderr.contains(&format!(
            "still holds TODO placeholders: line {} (description), line {} (output)",
            line_of("description"),
            line_of("output")
        )),
        "{}",
        out.stderr
    );
    // Filled in, it gets past the check (to the missing login).
    let filled = text
        .replace("TODO: say what this skill does", "Sorts a folder")
        .replace("TODO: say what comes out", "Nothing");
    std::fs::write(folder.join("skill.toml"), filled).unwrap();
    push_low_risk(&config, &folder).assert_code(3);
}

#[test]
fn an_unreachable_server_or_no_login_says_so() {
    let dir = scratch("offline");
    let config = dir.join("config");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");

    let out = execgov(
        &config,
        &[
            "login", "--server", &url, "--host", ACME, "--token", "egv_x",
        ],
    );
    out.assert_code(5);
    assert!(
        out.stderr
            .contains(&format!("cannot reach the server at {url}")),
        "{}",
        out.stderr
    );
    assert!(!config.join("config.toml").exists());

    let out = execgov(&config, &["whoami"]);
    out.assert_code(3);
    assert!(out.stderr.contains("not signed in"), "{}", out.stderr);
    assert!(out.stderr.contains("execgov-cli login"), "{}", out.stderr);

    // A saved login whose server is gone.
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        format!("server = \"{url}\"\nhost = \"acme.localhost\"\ntoken = \"egv_x\"\n"),
    )
    .unwrap();
    let out = execgov(&config, &["list"]);
    out.assert_code(5);
    assert!(out.stderr.contains(&url), "{}", out.stderr);

    let out = execgov(&config, &["--server", "ftp://execgov.example", "whoami"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("use http:// or https://"),
        "{}",
        out.stderr
    );

    // Usage errors and help.
    execgov(&config, &["run"]).assert_code(1);
    let help = execgov(&config, &["--help"]);
    help.assert_code(0);
    assert!(help.stdout.contains("Exit codes:"), "{}", help.stdout);
    for command in [
        "login",
        "register",
        "whoami",
        "list",
        "run",
        "status",
        "logs",
        "confirm",
        "cancel",
        "push",
        "submission",
    ] {
        let help = execgov(&config, &[command, "--help"]);
        help.assert_code(0);
        assert!(
            help.stdout.contains("Exit codes:"),
            "{command}: {}",
            help.stdout
        );
    }
    execgov(&config, &["manifest", "init", "--help"]).assert_code(0);
}
