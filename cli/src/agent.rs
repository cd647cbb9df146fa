//! `execgov-cli agent`: this machine as a local agent of one tenant. `agent start` makes the
//! machine identity on its first run (`agent.toml` in the config folder, 0600: id, Ed25519
//! machine key, and the server, host and agent token it was started with), registers its public
//! key, then long-polls for executions routed to its labels (those its agent token allows) and
//! runs them one at a time in the same sandbox as the server's executors (bubblewrap, when this
//! machine has it): it streams the log, renews its lease, uploads the artifacts and reports the
//! end. Every request is signed with the machine key. `agent describe` shows the identity,
//! labels and the skills it can serve.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use engine::work::{apply_invocation, hostname, prepare_work_dir, run_request};
use engine::{AssetKind, Executors, LogLine, RunOutcome, SandboxConfig};
use model::agent::signing::MachineKey;
use model::agent::{
    AgentDescription, AgentJob, AgentLogBatch, AgentLogLine, AgentRegistration, AgentReport,
    AgentView,
};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use crate::api::Api;
use crate::config;
use crate::error::{code, io_failure, Failure, Outcome};
use crate::output::print_json;
use crate::Global;

/// The identity file in the config folder.
pub const IDENTITY_FILE: &str = "agent.toml";

#[derive(Subcommand)]
pub enum AgentCommand {
    /// Register this machine (first run: make its identity) and run executions routed to its
    /// labels until stopped (Ctrl-C)
    ///
    /// The first start needs --server, --host and --token (an agent token from the tenant
    /// front's Agents page, which names the labels it may serve); later starts reuse what
    /// agent.toml saved.
    Start(StartArgs),
    /// This machine's agent identity, labels, status and the skills it can serve
    Describe {
        /// Print it as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct StartArgs {
    /// The agent token (default: the one agent.toml saved)
    #[arg(long, env = "EXECGOV_AGENT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Serve only this of the labels its token allows (repeat for several; default: all of them)
    #[arg(long = "label", value_name = "LABEL")]
    labels: Vec<String>,
    /// How the tenant lists this agent (default: the host name)
    #[arg(long)]
    name: Option<String>,
    /// Run scripts in bubblewrap: auto (when /usr/bin/bwrap is there), on, or off
    #[arg(long, default_value = "auto", value_parser = ["auto", "on", "off"])]
    sandbox: String,
    /// First uid of the sandbox's uid pool when root (64 uids; apart from any server's or other agent's on this machine: each kills leftover processes of its pool)
    #[arg(long, env = "EXECGOV_SANDBOX_FIRST_UID", default_value_t = 62000)]
    first_uid: u32,
    /// Stop after this many executions (default: run until stopped)
    #[arg(long, value_name = "N")]
    max_runs: Option<u64>,
}

/// `agent.toml`: who this machine is, and where it serves.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Identity {
    machine_id: String,
    /// The Ed25519 machine key (its seed, hex): signs every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signing_key: Option<String>,
    /// The secret machine key of an identity made before requests were signed: sent once to
    /// register `signing_key`, then dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    machine_key: Option<String>,
    server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    token: String,
    name: String,
    /// The labels asked for with --label; none: all its token allows.
    #[serde(default)]
    labels: Vec<String>,
}

impl Identity {
    fn key(&self) -> Outcome<MachineKey> {
        self.signing_key
            .as_deref()
            .and_then(MachineKey::from_hex)
            .ok_or_else(|| {
                Failure::failed(format!(
                    "{IDENTITY_FILE} has no valid signing_key; run `execgov-cli agent start` to \
                     make one"
                ))
            })
    }
}

fn identity_path() -> Outcome<PathBuf> {
    Ok(config::dir()?.join(IDENTITY_FILE))
}

fn load_identity() -> Outcome<Option<Identity>> {
    let path = identity_path()?;
    match fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map(Some).map_err(|e| {
            Failure::failed(format!(
                "{} is damaged ({}); remove it to register this machine anew",
                path.display(),
                e.message().trim()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_failure(code::FAILED, path.display(), e)),
    }
}

/// Writes `agent.toml` (0600: it holds the machine key and the agent token).
fn save_identity(identity: &Identity) -> Outcome<PathBuf> {
    let text =
        toml::to_string(identity).map_err(|e| Failure::failed(format!("agent.toml: {e}")))?;
    config::write_private(
        IDENTITY_FILE,
        &format!(
            "# execgov-cli agent identity: keep this file private (machine key and agent token).\n{text}"
        ),
    )
}

/// `n` random bytes as lowercase hex, from the kernel's generator.
fn random_hex(n: usize) -> Outcome<String> {
    let mut bytes = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| io_failure(code::FAILED, "/dev/urandom", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The API as this agent: its token as the bearer, every request signed with its machine key.
fn agent_api(identity: &Identity) -> Outcome<Api> {
    let mut api = Api::new(
        &identity.server,
        identity.host.clone(),
        Some(identity.token.clone()),
    )?;
    api.signer = Some((identity.machine_id.clone(), identity.key()?));
    Ok(api)
}

pub async fn run(global: &Global, command: AgentCommand) -> Outcome<()> {
    match command {
        AgentCommand::Start(args) => start(global, args).await,
        AgentCommand::Describe { json } => describe(json).await,
    }
}

/// The identity to start with: agent.toml's, updated by the flags, or a new one.
fn identity_for(global: &Global, args: &StartArgs) -> Outcome<(Identity, bool)> {
    let saved = load_identity()?;
    let made = saved.is_none();
    let server = global
        .server
        .clone()
        .or_else(|| saved.as_ref().map(|i| i.server.clone()))
        .ok_or_else(|| Failure::invalid("which server? pass --server URL on the first start"))?;
    let token = args
        .token
        .clone()
        .or_else(|| saved.as_ref().map(|i| i.token.clone()))
        .ok_or_else(|| {
            Failure::new(
                code::AUTH,
                "pass --token (an agent token from the tenant front's Agents page) on the first \
                 start",
            )
        })?;
    let labels = if args.labels.is_empty() {
        saved.as_ref().map(|i| i.labels.clone()).unwrap_or_default()
    } else {
        args.labels.clone()
    };
    let machine_id = match &saved {
        Some(i) => i.machine_id.clone(),
        None => random_hex(16)?,
    };
    // An identity made before requests were signed gets its key now, and registers it with the
    // old machine key.
    let signing_key = saved
        .as_ref()
        .and_then(|i| i.signing_key.clone())
        .unwrap_or_else(|| MachineKey::generate().to_hex());
    Ok((
        Identity {
            machine_id,
            signing_key: Some(signing_key),
            machine_key: saved.as_ref().and_then(|i| i.machine_key.clone()),
            host: global
                .host
                .clone()
                .or_else(|| saved.as_ref().and_then(|i| i.host.clone())),
            server,
            token,
            name: args
                .name
                .clone()
                .or_else(|| saved.as_ref().map(|i| i.name.clone()))
                .unwrap_or_else(hostname),
            labels,
        },
        made,
    ))
}

async fn start(global: &Global, args: StartArgs) -> Outcome<()> {
    let (mut identity, made) = identity_for(global, &args)?;
    let api = agent_api(&identity)?;
    let registration = AgentRegistration {
        machine_id: identity.machine_id.clone(),
        public_key: identity.key()?.public_hex(),
        machine_key: identity.machine_key.clone(),
        name: identity.name.clone(),
        hostname: hostname(),
        labels: identity.labels.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let agent: AgentView = api
        .json(
            api.post("/api/v1/agent/register").json(&registration),
            "agent register",
        )
        .await?;
    // Saved only once the server accepted it, so a refused first start leaves nothing behind;
    // the old machine key has done its part once the public key is registered.
    identity.machine_key = None;
    let path = save_identity(&identity)?;
    if made {
        println!("Made this machine's agent identity in {}.", path.display());
    }
    let sandboxed = match args.sandbox.as_str() {
        "on" => true,
        "off" => false,
        _ => Path::new(&SandboxConfig::default().bwrap).exists(),
    };
    if !sandboxed {
        eprintln!(
            "WARNING: no sandbox: scripts run without bubblewrap (no filesystem or network \
             isolation). Install bubblewrap to isolate them."
        );
    }
    let executors = Executors::new(SandboxConfig {
        enabled: sandboxed,
        first_uid: args.first_uid,
        ..SandboxConfig::default()
    });
    println!(
        "Agent {} ({}) serving {} on {} as labels [{}]; waiting for executions.",
        agent.id,
        agent.name,
        api.shown_host(),
        api.server,
        agent.labels.join(", ")
    );
    let work_root = std::env::temp_dir().join(format!("execgov-agent-{}", agent.machine_id));
    let mut runs = 0u64;
    let mut backoff = Duration::from_secs(1);
    while args.max_runs.is_none_or(|max| runs < max) {
        let response = match api
            .send(api.post("/api/v1/agent/claim?wait=25"), "agent claim")
            .await
        {
            Ok(r) => {
                backoff = Duration::from_secs(1);
                r
            }
            // Refusals end the agent (revoked, token expired); an unreachable server is waited out.
            Err(f) if f.code == code::UNREACHABLE => {
                eprintln!("{f}; trying again in {}s", backoff.as_secs());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
            Err(f) => return Err(f),
        };
        if response.status() == StatusCode::NO_CONTENT {
            continue;
        }
        let bytes = response.bytes().await.map_err(|e| api.transport(e))?;
        let job: AgentJob = serde_json::from_slice(&bytes)
            .map_err(|e| Failure::failed(format!("agent claim: unexpected answer ({e})")))?;
        runs += 1;
        println!(
            "Execution {} ({}, attempt {}): running.",
            job.execution_id, job.skill, job.attempt
        );
        let dir = work_root.join(job.execution_id.to_string());
        let ended = run_job(&api, &executors, &job, &dir).await;
        let _ = fs::remove_dir_all(&dir);
        match ended {
            Ok(status) => println!("Execution {}: {status}.", job.execution_id),
            Err(f) if f.code == code::AUTH || f.code == code::FORBIDDEN => return Err(f),
            Err(f) => eprintln!("Execution {}: {f}", job.execution_id),
        }
    }
    let _ = fs::remove_dir(&work_root);
    Ok(())
}

/// Runs one claimed execution: bundle, sandboxed run with the log streamed and the lease
/// renewed, then the report and artifacts. Returns the status the server recorded.
async fn run_job(api: &Api, executors: &Executors, job: &AgentJob, dir: &Path) -> Outcome<String> {
    let id = job.execution_id;
    let base = format!("/api/v1/agent/executions/{id}");
    let bundle = api
        .send(api.get(&format!("{base}/bundle")), "agent bundle")
        .await?
        .bytes()
        .await
        .map_err(|e| api.transport(e))?;
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).map_err(|e| io_failure(code::FAILED, dir.display(), e))?;
    // tar's unpack refuses entries that would land outside the folder.
    tar::Archive::new(&bundle[..])
        .unpack(dir)
        .map_err(|e| io_failure(code::FAILED, "the execution's bundle", e))?;
    let (script, uploads, work) = (dir.join("script"), dir.join("files"), dir.join("work"));
    // The sandbox's pool uids must pass through to the work folder, as on the server.
    for p in [dir, &script] {
        let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o755));
    }
    prepare_work_dir(&work, &job.inputs, &uploads)
        .await
        .map_err(|e| Failure::failed(format!("preparing the work folder: {e}")))?;
    let kind = AssetKind::parse(&job.language).ok_or_else(|| {
        Failure::failed(format!(
            "this agent cannot run {:?} scripts; update execgov-cli",
            job.language
        ))
    })?;

    let (log_tx, log_rx) = mpsc::unbounded_channel();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let logs = tokio::spawn(forward_logs(api.clone(), base.clone(), log_rx));
    let lease = tokio::spawn(renew_lease(
        api.clone(),
        base.clone(),
        Duration::from_secs(job.lease_seconds.max(3)) / 3,
        cancel_tx,
    ));
    let mut request = run_request(kind, &script, &work, id, &job.skill, job.timeout_seconds);
    // Arguments, answers and artifact globs as the platform's workers render them.
    let sandboxed = executors.config().enabled;
    apply_invocation(
        &mut request,
        &job.input_schema,
        &job.invocation,
        &job.inputs,
        sandboxed,
    );
    let outcome = executors
        .run(request, log_tx, cancel_rx)
        .await
        .map_err(|e| Failure::failed(format!("the executor could not run the script: {e}")));
    lease.abort();
    // The forwarder ends when the executor drops its sender, after the last lines.
    let _ = logs.await;
    let outcome = outcome?;
    finish(api, &base, &work, outcome).await
}

/// Sends log lines in batches as they come.
async fn forward_logs(api: Api, base: String, mut rx: mpsc::UnboundedReceiver<LogLine>) {
    let path = format!("{base}/logs");
    while let Some(first) = rx.recv().await {
        let mut lines = vec![first];
        // Let a burst gather into one request.
        tokio::time::sleep(Duration::from_millis(100)).await;
        while lines.len() < 500 {
            match rx.try_recv() {
                Ok(line) => lines.push(line),
                Err(_) => break,
            }
        }
        let batch = AgentLogBatch {
            lines: lines
                .into_iter()
                .map(|l| AgentLogLine {
                    stream: l.stream.as_str().into(),
                    line: l.line,
                })
                .collect(),
        };
        if let Err(f) = api.send(api.post(&path).json(&batch), "agent logs").await {
            eprintln!("{f}");
        }
    }
}

/// Renews the lease every `every`; when the server says it is gone, cancels the run.
async fn renew_lease(api: Api, base: String, every: Duration, cancel: watch::Sender<bool>) {
    let path = format!("{base}/lease");
    loop {
        tokio::time::sleep(every).await;
        match api.send(api.post(&path), "agent lease").await {
            Ok(_) => {}
            Err(f) if f.code == code::UNREACHABLE => eprintln!("{f}; will retry"),
            Err(f) => {
                eprintln!("{f}");
                let _ = cancel.send(true);
                return;
            }
        }
    }
}

async fn finish(api: &Api, base: &str, work: &Path, outcome: RunOutcome) -> Outcome<String> {
    let report = AgentReport {
        status: outcome.status.as_str().into(),
        reason: outcome.reason.clone(),
        exit_code: outcome.exit_code,
        stdout_truncated: outcome.stdout_truncated,
        stderr_truncated: outcome.stderr_truncated,
        result: outcome.result.clone(),
    };
    let report = serde_json::to_string(&report).map_err(|e| Failure::failed(e.to_string()))?;
    let mut form = Form::new().text("report", report);
    for artifact in &outcome.artifacts {
        let file = work.join("output").join(&artifact.path);
        let bytes = fs::read(&file).map_err(|e| io_failure(code::FAILED, file.display(), e))?;
        form = form.part(
            "artifact",
            Part::bytes(bytes).file_name(artifact.path.clone()),
        );
    }
    #[derive(Deserialize)]
    struct Finished {
        status: String,
    }
    let finished: Finished = api
        .json(
            api.post(&format!("{base}/finish")).multipart(form),
            "agent finish",
        )
        .await?;
    Ok(finished.status)
}

async fn describe(json: bool) -> Outcome<()> {
    let path = identity_path()?;
    let identity = load_identity()?.ok_or_else(|| {
        Failure::new(
            code::NOT_FOUND,
            format!(
                "this machine has no agent identity yet ({} is missing): run `execgov-cli agent \
                 start --server URL --host HOST --token TOKEN --label LABEL` first",
                path.display()
            ),
        )
    })?;
    let api = agent_api(&identity)?;
    let described: AgentDescription = api
        .json(api.get("/api/v1/agent/me"), "agent describe")
        .await?;
    if json {
        return print_json(&described);
    }
    let a = &described.agent;
    println!(
        "Agent {} \"{}\" on {} ({})",
        a.id,
        a.name,
        api.shown_host(),
        a.status
    );
    println!("  machine id  {}", a.machine_id);
    println!("  identity    {}", path.display());
    println!("  labels      {}", a.labels.join(", "));
    println!(
        "  last seen   {}",
        a.last_seen_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    if described.skills.is_empty() {
        println!("  skills      none yet: no skill names these labels as its agent_label");
    } else {
        println!("  skills it can serve:");
        for s in &described.skills {
            let off = if s.enabled { "" } else { " (disabled)" };
            println!("    {:<24} {} [{}]{off}", s.slug, s.name, s.agent_label);
        }
    }
    Ok(())
}
