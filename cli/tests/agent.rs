//! Local agents end to end: the real server binary, the real `execgov-cli agent start` processes,
//! skills routed to their labels. Two agents race for the same executions (each runs exactly
//! once); an agent killed mid-run loses its lease and another finishes the execution; revoked
//! agents and other tenants' agents are refused; labels beyond the agent token's are refused at
//! start; an identity made before requests were signed gets its key on its next start.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{execgov, Server, ACME, GLOBEX};
use serde_json::Value;

/// A skill that runs on agents labelled `lab`: it logs, waits `seconds`, writes an artifact and
/// a result.
fn lab_skill(slug: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "skill.toml",
            format!(
                r#"name = "Lab job {slug}"
slug = "{slug}"
description = "Runs on the lab machines."
output = "A note."
risk = "low"
agent_label = "lab"

[[inputs]]
name = "seconds"
label = "Seconds"
type = "number"
min = 0
max = 60
"#
            ),
        ),
        ("README.md", "# Lab job\n".into()),
        (
            "main.sh",
            "seconds=$(sed -n 's/.*\"seconds\": *\"\\{0,1\\}\\([0-9.]*\\).*/\\1/p' inputs.json)\n\
             echo \"lab run $EXECGOV_EXECUTION_ID starts\"\n\
             sleep \"$seconds\"\n\
             echo \"note of $EXECGOV_EXECUTION_ID\" > output/note.txt\n\
             printf '[{\"execution\": \"%s\"}]' \"$EXECGOV_EXECUTION_ID\" > result.json\n\
             echo \"lab run $EXECGOV_EXECUTION_ID ends\"\n"
                .into(),
        ),
    ]
}

fn register(server: &Server, host: &str, slug: &str) {
    let files = lab_skill(slug);
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    server.register_skill(host, &files);
}

/// An agent token for `lab` made through the REST API by the tenant's admin; its secret.
fn agent_token(admin: &Path) -> String {
    // `execgov-cli` has no token command; the REST API is what automation uses.
    let config = std::fs::read_to_string(admin.join("config.toml")).unwrap();
    let saved: toml::Value = toml::from_str(&config).unwrap();
    let (server, host, token) = (
        saved["server"].as_str().unwrap(),
        saved["host"].as_str().unwrap(),
        saved["token"].as_str().unwrap(),
    );
    let created = http(
        "POST",
        server,
        host,
        token,
        "/api/v1/tokens",
        Some(r#"{"name": "lab agents", "kind": "agent", "labels": ["lab"]}"#),
    );
    assert_eq!(created.0, 201, "{}", created.1);
    let v: Value = serde_json::from_str(&created.1).unwrap();
    v["secret"].as_str().unwrap().to_string()
}

/// A request with curl-like simplicity over a raw socket: (status, body).
fn http(
    method: &str,
    server: &str,
    host: &str,
    token: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = server.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // Chunked bodies: good enough to keep the JSON between the chunk sizes for our asserts.
    let body = if answer
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.lines()
            .filter(|l| !l.chars().all(|c| c.is_ascii_hexdigit()) || l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        body.to_string()
    };
    (status, body)
}

/// A running `execgov-cli agent start`; killed when dropped.
struct AgentProcess {
    child: Child,
    log: PathBuf,
}

impl AgentProcess {
    fn start(server: &Server, config: &Path, host: &str, token: &str, extra: &[&str]) -> Self {
        std::fs::create_dir_all(config).unwrap();
        let tmp = config.with_extension("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let log = config.join("agent.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_execgov-cli"))
            .args([
                "agent",
                "start",
                "--server",
                &server.url(),
                "--host",
                host,
                "--token",
                token,
                "--label",
                "lab",
            ])
            .args(extra)
            .env("EXECGOV_CONFIG_DIR", config)
            // Its work folders under the test's own, not the machine's /tmp: a killed agent
            // cannot clean up after itself. Beside the config folder, which is 0700 (the
            // sandbox's uids must reach the work folders).
            .env("TMPDIR", &tmp)
            .env_remove("EXECGOV_SERVER")
            .env_remove("EXECGOV_HOST")
            .env_remove("EXECGOV_TOKEN")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("starting execgov-cli agent start");
        AgentProcess { child, log }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the agent to say it is serving (registered).
    fn wait_serving(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.output().contains("waiting for executions") {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the agent exited ({status}):\n{}", self.output());
            }
            assert!(
                Instant::now() < deadline,
                "agent never registered:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the agent to exit; its exit code.
    fn wait_exit(&mut self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "agent still running:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        // SIGKILL: no chance to say goodbye, as a machine losing power.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Requests a run of `slug` as the user of `config`; the execution's id.
fn request_run(config: &Path, slug: &str, seconds: &str) -> String {
    let out = execgov(
        config,
        &[
            "run",
            slug,
            "--input",
            &format!("seconds={seconds}"),
            "--json",
        ],
    );
    out.assert_code(0);
    out.json()["summary"]["id"].as_i64().unwrap().to_string()
}

fn status_of(config: &Path, id: &str) -> Value {
    let out = execgov(config, &["status", id, "--json"]);
    out.json()
}

/// Waits until execution `id` ends; its view.
fn wait_final(config: &Path, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let view = status_of(config, id);
        let status = view["summary"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if ["succeeded", "failed", "timed_out", "cancelled"].contains(&status.as_str()) {
            return view;
        }
        assert!(Instant::now() < deadline, "execution {id} still {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn two_agents_race_and_each_execution_runs_exactly_once() {
    let server = Server::start();
    register(&server, ACME, "lab-race");
    let admin = server.login(ACME, "acme-admin");
    let member = server.login(ACME, "acme-user");
    // Two agents on one machine need uid pools of their own: each kills leftovers of its pool.
    // Each has a token of its own: a token belongs to the first machine that registers with it.
    let mut one = AgentProcess::start(
        &server,
        &server.config("agent-one"),
        ACME,
        &agent_token(&admin),
        &["--first-uid", "64600"],
    );
    let mut two = AgentProcess::start(
        &server,
        &server.config("agent-two"),
        ACME,
        &agent_token(&admin),
        &["--first-uid", "64700"],
    );
    one.wait_serving();
    two.wait_serving();

    let ids: Vec<String> = (0..10)
        .map(|_| request_run(&member, "lab-race", "0.3"))
        .collect();
    for id in &ids {
        let view = wait_final(&member, id, Duration::from_secs(90));
        assert_eq!(view["summary"]["status"], "succeeded", "{view}");
        assert_eq!(view["artifacts"][0]["path"], "note.txt", "{view}");
    }
    // Exactly once: one start and one finish in the audit trail per execution, no requeue.
    let starts = server.tenant_texts(
        ACME,
        "SELECT target || ' by ' || actor FROM audit_log WHERE action = 'execution.start' ORDER BY id",
    );
    assert_eq!(starts.len(), ids.len(), "{starts:#?}");
    for id in &ids {
        let target = format!("execution {id} by ");
        assert_eq!(
            starts.iter().filter(|s| s.starts_with(&target)).count(),
            1,
            "{starts:#?}"
        );
        let finishes = server.tenant_texts(
            ACME,
            &format!("SELECT actor FROM audit_log WHERE action = 'execution.finish' AND target = 'execution {id}'"),
        );
        assert_eq!(finishes.len(), 1, "execution {id}: {finishes:?}");
    }
    // Both agents took part, and the platform's own workers took none of it.
    let mut runners: Vec<&str> = starts
        .iter()
        .map(|s| s.rsplit(" by ").next().unwrap())
        .collect();
    runners.sort();
    runners.dedup();
    assert_eq!(
        runners.len(),
        2,
        "both agents should have run some: {starts:#?}"
    );
    assert!(
        runners.iter().all(|r| r.starts_with("worker agent-")),
        "{runners:?}"
    );
    // The log lines the agents streamed are the execution's log.
    let logs = execgov(&member, &["logs", &ids[0]]);
    logs.assert_code(0);
    assert!(
        logs.stdout.contains(&format!("lab run {} ends", ids[0])),
        "{}",
        logs.stdout
    );
}

#[test]
fn an_agent_killed_mid_run_loses_its_lease_and_another_agent_finishes_the_run() {
    let server = Server::start_with(&[("EXECGOV_LEASE_SECONDS", "3")]);
    register(&server, ACME, "lab-slow");
    let admin = server.login(ACME, "acme-admin");
    let member = server.login(ACME, "acme-user");
    let token = agent_token(&admin);
    // This one runs in the sandbox, with uids of its own.
    let mut first = AgentProcess::start(
        &server,
        &server.config("agent-first"),
        ACME,
        &token,
        &["--first-uid", "64600"],
    );
    first.wait_serving();
    let id = request_run(&member, "lab-slow", "6");
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_of(&member, &id)["summary"]["status"] != "running" {
        assert!(
            Instant::now() < deadline,
            "never started:\n{}",
            first.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    first.kill();

    let mut second = AgentProcess::start(
        &server,
        &server.config("agent-second"),
        ACME,
        &agent_token(&admin),
        &["--first-uid", "64700"],
    );
    second.wait_serving();
    let view = wait_final(&member, &id, Duration::from_secs(90));
    assert_eq!(
        view["summary"]["status"],
        "succeeded",
        "{view}\n{}",
        second.output()
    );
    let starts = server.tenant_texts(
        ACME,
        &format!("SELECT actor FROM audit_log WHERE action = 'execution.start' AND target = 'execution {id}' ORDER BY id"),
    );
    assert_eq!(starts.len(), 2, "one start per attempt: {starts:?}");
    assert_ne!(
        starts[0], starts[1],
        "the second attempt was the other agent's"
    );
    let requeued = server.tenant_texts(
        ACME,
        &format!("SELECT detail->>'reason' FROM audit_log WHERE action = 'execution.requeue' AND target = 'execution {id}'"),
    );
    assert_eq!(requeued.len(), 1, "{requeued:?}");
    assert!(requeued[0].contains("worker lost"), "{requeued:?}");
    assert!(
        second
            .output()
            .contains(&format!("Execution {id}: succeeded")),
        "{}",
        second.output()
    );
}

#[test]
fn describe_revoke_and_other_tenants() {
    let server = Server::start();
    register(&server, ACME, "lab-acme");
    register(&server, GLOBEX, "lab-globex");
    let admin = server.login(ACME, "acme-admin");
    let member = server.login(ACME, "acme-user");
    let token = agent_token(&admin);

    // Nothing runs an agent's skill while no agent serves its label: not the platform's workers.
    let waiting = request_run(&member, "lab-acme", "0");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(status_of(&member, &waiting)["summary"]["status"], "queued");

    // Registering with the token of one tenant on another tenant's host: refused, nothing saved.
    let stray = server.config("agent-stray");
    let mut refused = AgentProcess::start(&server, &stray, GLOBEX, &token, &["--max-runs", "0"]);
    assert_eq!(
        refused.wait_exit(Duration::from_secs(30)),
        3,
        "{}",
        refused.output()
    );
    assert!(!stray.join("agent.toml").exists());
    // A member may not make agent tokens.
    let member_config: toml::Value =
        toml::from_str(&std::fs::read_to_string(member.join("config.toml")).unwrap()).unwrap();
    let made = http(
        "POST",
        &server.url(),
        ACME,
        member_config["token"].as_str().unwrap(),
        "/api/v1/tokens",
        Some(r#"{"name": "mine", "kind": "agent"}"#),
    );
    assert_eq!(made.0, 403, "{}", made.1);

    // First start makes the identity (0600) and registers; describe shows labels and skills.
    let config = server.config("agent-lab");
    let mut once = AgentProcess::start(
        &server,
        &config,
        ACME,
        &token,
        &["--first-uid", "64600", "--max-runs", "1"],
    );
    assert_eq!(
        once.wait_exit(Duration::from_secs(60)),
        0,
        "{}",
        once.output()
    );
    assert!(
        once.output().contains("Made this machine's agent identity"),
        "{}",
        once.output()
    );
    assert_eq!(common::mode(&config.join("agent.toml")), 0o600);
    assert_eq!(
        wait_final(&member, &waiting, Duration::from_secs(30))["summary"]["status"],
        "succeeded"
    );
    let described = execgov(&config, &["agent", "describe", "--json"]);
    described.assert_code(0);
    let d = described.json();
    assert_eq!(d["agent"]["labels"], serde_json::json!(["lab"]));
    let skills: Vec<&str> = d["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        skills,
        ["lab-acme"],
        "Globex's lab skill is not Acme's agent's"
    );
    let agent_id = d["agent"]["id"].as_i64().unwrap();

    // The same identity again: the same agent, not a second one.
    let mut again = AgentProcess::start(&server, &config, ACME, &token, &["--max-runs", "0"]);
    assert_eq!(
        again.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        again.output()
    );
    let admin_token =
        toml::from_str::<toml::Value>(&std::fs::read_to_string(admin.join("config.toml")).unwrap())
            .unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
    let listed = http(
        "GET",
        &server.url(),
        ACME,
        &admin_token,
        "/api/v1/agents",
        None,
    );
    assert_eq!(listed.0, 200);
    let listed: Value = serde_json::from_str(&listed.1).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["status"], "online");
    // Globex's admin sees none of Acme's agents, and cannot revoke them.
    let globex_admin = server.login(GLOBEX, "globex-admin");
    let globex_token = toml::from_str::<toml::Value>(
        &std::fs::read_to_string(globex_admin.join("config.toml")).unwrap(),
    )
    .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = http(
        "GET",
        &server.url(),
        GLOBEX,
        &globex_token,
        "/api/v1/agents",
        None,
    );
    assert_eq!(theirs.1.trim(), "[]");
    let path = format!("/api/v1/agents/{agent_id}");
    assert_eq!(
        http("DELETE", &server.url(), GLOBEX, &globex_token, &path, None).0,
        404
    );

    // Revoked: describe and start are refused (exit 6), and it stays revoked.
    assert_eq!(
        http("DELETE", &server.url(), ACME, &admin_token, &path, None).0,
        204
    );
    execgov(&config, &["agent", "describe"]).assert_code(6);
    let mut after = AgentProcess::start(&server, &config, ACME, &token, &["--max-runs", "0"]);
    assert_eq!(
        after.wait_exit(Duration::from_secs(30)),
        6,
        "{}",
        after.output()
    );
    let listed = http(
        "GET",
        &server.url(),
        ACME,
        &admin_token,
        "/api/v1/agents",
        None,
    );
    let listed: Value = serde_json::from_str(&listed.1).unwrap();
    assert_eq!(listed[0]["status"], "revoked", "{listed}");
}

#[test]
fn labels_beyond_the_token_are_refused_at_start_and_an_old_identity_gets_its_key() {
    let server = Server::start();
    let admin = server.login(ACME, "acme-admin");
    let token = agent_token(&admin);

    // The token allows `lab` only: asking for `gpu` too ends the start (exit 6) with the reason.
    let config = server.config("agent-greedy");
    let mut greedy = AgentProcess::start(
        &server,
        &config,
        ACME,
        &token,
        &["--label", "gpu", "--first-uid", "66200", "--max-runs", "0"],
    );
    assert_eq!(
        greedy.wait_exit(Duration::from_secs(30)),
        6,
        "{}",
        greedy.output()
    );
    let said = greedy.output();
    assert!(
        said.contains("allows the labels [lab] only") && said.contains("gpu"),
        "{said}"
    );
    assert!(!config.join("agent.toml").exists());
    assert!(server
        .tenant_texts(ACME, "SELECT name FROM agents")
        .is_empty());

    // An identity of before (a secret machine key, known to the server by its hash only).
    let machine_id = "0123456789abcdef0123456789abcdef";
    let machine_key = "old-secret-machine-key-0123456789abcdef";
    let made = server.tenant_texts(
        ACME,
        &format!(
            "INSERT INTO agents (machine_id, key_hash, token_id, name, hostname, labels) \
             SELECT '{machine_id}', encode(sha256('{machine_key}'::bytea), 'hex'), id, 'Old', \
                    'old', '{{lab}}' FROM api_tokens WHERE kind = 'agent' \
             RETURNING machine_id"
        ),
    );
    assert_eq!(made, [machine_id]);
    let config = server.config("agent-old");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("agent.toml"),
        format!(
            "machine_id = \"{machine_id}\"\nmachine_key = \"{machine_key}\"\n\
             server = \"{}\"\nhost = \"{ACME}\"\ntoken = \"{token}\"\nname = \"Old\"\n\
             labels = [\"lab\"]\n",
            server.url()
        ),
    )
    .unwrap();
    let mut old = AgentProcess::start(
        &server,
        &config,
        ACME,
        &token,
        &["--first-uid", "66200", "--max-runs", "0"],
    );
    assert_eq!(
        old.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        old.output()
    );
    let saved: toml::Value =
        toml::from_str(&std::fs::read_to_string(config.join("agent.toml")).unwrap()).unwrap();
    assert!(saved.get("machine_key").is_none(), "{saved}");
    assert_eq!(saved["machine_id"].as_str(), Some(machine_id));
    let keys = server.tenant_texts(
        ACME,
        "SELECT coalesce(key_hash, 'none') || ' ' || public_key FROM agents",
    );
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("none "), "{keys:?}");
    // Signed from now on: describe works with the saved key.
    let described = execgov(&config, &["agent", "describe", "--json"]);
    described.assert_code(0);
    assert_eq!(
        described.json()["agent"]["machine_id"].as_str(),
        Some(machine_id)
    );
}
