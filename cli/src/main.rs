//! `execgov-cli`: ExecGov from a terminal. For now it checks a server's health as seen through
//! one host; login, list, run and the local agent come with the REST API.

use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "execgov-cli", version, about = "ExecGov from a terminal")]
struct Cli {
    /// The server to talk to, e.g. http://127.0.0.1:3000
    #[arg(long, env = "EXECGOV_SERVER", default_value = "http://127.0.0.1:3000")]
    server: String,
    /// The Host to present (the tenant or surface), e.g. acme.localhost
    #[arg(long, env = "EXECGOV_HOST")]
    host: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Asks GET /healthz; exits non-zero unless the server and its database answer.
    Health,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Health => health(&cli.server, cli.host.as_deref()).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("execgov-cli: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn health(server: &str, host: Option<&str>) -> anyhow::Result<()> {
    let url = format!("{}/healthz", server.trim_end_matches('/'));
    let mut request = reqwest::Client::new().get(&url);
    if let Some(host) = host {
        request = request.header(reqwest::header::HOST, host);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!(
            "{url}: {status}: {}",
            response.text().await.unwrap_or_default().trim()
        );
    }
    println!("{url}: ok");
    Ok(())
}
