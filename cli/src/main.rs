//! `execgov-cli`: ExecGov from a terminal. Sign in once (`login`), then list and run skills,
//! follow and confirm runs, download artifacts, push skill folders for review and draft their
//! manifests. It talks to the REST API (`/api/v1`) of the tenant whose address (`--host`) it
//! was signed in on, with a personal access token kept in the user's config folder.

mod account;
mod agent;
mod api;
mod config;
mod error;
mod manifest;
mod output;
mod push;
mod runs;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{code, Outcome, EXIT_CODES};
use crate::output::{print_json, table};

#[derive(Parser)]
#[command(
    name = "execgov-cli",
    version,
    about = "ExecGov from a terminal: sign in, list and run skills, push skill folders",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Where to talk to; by default what `login` saved.
#[derive(clap::Args)]
pub struct Global {
    /// The server, e.g. http://127.0.0.1:3000 (default: the one saved by `login`)
    #[arg(long, env = "EXECGOV_SERVER", global = true, value_name = "URL")]
    pub server: Option<String>,
    /// The Host to present: the tenant's address, e.g. acme.localhost (default: the one saved
    /// by `login`; without one, the server URL's own host)
    #[arg(long, env = "EXECGOV_HOST", global = true)]
    pub host: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in and save a personal access token for this server and host
    ///
    /// With --username it signs in with the password (asked for, or --password-stdin), creates
    /// a token, and signs the browser-like session out again; with --token it saves the given
    /// token. Either way the token is checked first, then saved with mode 0600.
    #[command(after_help = EXIT_CODES)]
    Login(account::LoginArgs),
    /// Create an account on the free edition (self sign-up), then log in as with `login`
    ///
    /// On a local server (an IP address or localhost) --host defaults to free.localhost.
    #[command(after_help = EXIT_CODES)]
    Register(account::RegisterArgs),
    /// Revoke the saved token and forget it
    #[command(after_help = EXIT_CODES)]
    Logout,
    /// Who the saved token signs in as, on which tenant
    #[command(after_help = EXIT_CODES)]
    Whoami {
        /// Print it as JSON
        #[arg(long)]
        json: bool,
    },
    /// The skills you may run: slug, name and risk
    #[command(after_help = EXIT_CODES)]
    List {
        /// Print the skills as JSON
        #[arg(long)]
        json: bool,
    },
    /// Run a skill: execgov-cli run csv-summary --file data=sales.csv --input top_values=5 --wait
    ///
    /// Creates the execution (uploading the files). With --wait (or -o) it follows the log,
    /// then prints the result (a table for a list of objects, JSON otherwise) and downloads
    /// the artifacts into -o DIR; it exits 1 if the run failed. A skill that needs a
    /// confirmation waits for `execgov-cli confirm ID` (exit 7 with --wait).
    #[command(after_help = EXIT_CODES)]
    Run(runs::RunArgs),
    /// An execution's status, result and artifacts (-o DIR downloads them)
    #[command(after_help = EXIT_CODES)]
    Status {
        /// The execution's id
        id: i64,
        #[command(flatten)]
        follow: runs::FollowArgs,
    },
    /// An execution's log; --follow prints it as it comes until the run ends
    #[command(after_help = EXIT_CODES)]
    Logs {
        /// The execution's id
        id: i64,
        /// Keep printing until the run ends; then exit 1 if it failed
        #[arg(short, long)]
        follow: bool,
    },
    /// Confirm an execution that waits for a confirmation, so it runs
    #[command(after_help = EXIT_CODES)]
    Confirm {
        /// The execution's id
        id: i64,
        #[command(flatten)]
        follow: runs::FollowArgs,
    },
    /// Cancel an execution that waits or runs
    #[command(after_help = EXIT_CODES)]
    Cancel {
        /// The execution's id
        id: i64,
        /// Print the execution as JSON
        #[arg(long)]
        json: bool,
    },
    /// Submit a skill folder for review (tenant admins): zipped here, checked by the server
    #[command(after_help = EXIT_CODES)]
    Push(push::PushArgs),
    /// A submission's status and timeline
    #[command(after_help = EXIT_CODES)]
    Submission {
        /// The submission's id (printed by `push`)
        id: i64,
        /// Print it as JSON
        #[arg(long)]
        json: bool,
    },
    /// Skill manifests (skill.toml)
    #[command(subcommand)]
    Manifest(manifest::ManifestCommand),
    /// This machine as a local agent of the tenant: start it, describe it
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Ask GET /healthz: exits 0 when the server and its database answer
    #[command(after_help = EXIT_CODES)]
    Health,
}

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of stdout goes away
    // (`execgov-cli list --json | head`) instead of panicking on a broken pipe.
    // SAFETY: sets a signal's disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                code::FAILED
            } else {
                code::OK
            });
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("execgov-cli: cannot start: {e}");
            return ExitCode::from(code::FAILED);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(status) => ExitCode::from(status),
        Err(failure) => {
            eprintln!("execgov-cli: {failure}");
            ExitCode::from(failure.code)
        }
    }
}

async fn dispatch(cli: Cli) -> Outcome<u8> {
    let g = &cli.global;
    let done = |r: Outcome<()>| r.map(|()| code::OK);
    match cli.command {
        Command::Login(args) => done(account::login(g, args).await),
        Command::Register(args) => done(account::register(g, args).await),
        Command::Logout => done(account::logout(g).await),
        Command::Whoami { json } => done(account::whoami(g, json).await),
        Command::List { json } => done(list(g, json).await),
        Command::Run(args) => runs::run(g, args).await,
        Command::Status { id, follow } => runs::status(g, id, follow).await,
        Command::Logs { id, follow } => runs::logs(g, id, follow).await,
        Command::Confirm { id, follow } => runs::confirm(g, id, follow).await,
        Command::Cancel { id, json } => runs::cancel(g, id, json).await,
        Command::Push(args) => done(push::push(g, args).await),
        Command::Submission { id, json } => done(push::submission(g, id, json).await),
        Command::Manifest(command) => done(manifest::run(command)),
        Command::Agent(command) => done(agent::run(g, command).await),
        Command::Health => done(health(g).await),
    }
}

async fn list(global: &Global, json: bool) -> Outcome<()> {
    let api = account::connect(global)?;
    let skills: Vec<model::SkillSummary> = api.json(api.get("/api/v1/skills"), "list").await?;
    if json {
        return print_json(&skills);
    }
    if skills.is_empty() {
        println!("No skills you may run on {}.", api.shown_host());
        return Ok(());
    }
    let rows: Vec<Vec<String>> = skills
        .iter()
        .map(|s| {
            let mut risk = s.risk.as_str().to_string();
            if s.requires_confirmation {
                risk.push_str(" (confirm)");
            }
            vec![s.slug.clone(), s.name.clone(), risk]
        })
        .collect();
    print!(
        "{}",
        table(&["slug".into(), "name".into(), "risk".into()], &rows)
    );
    Ok(())
}

/// GET /healthz, with or without a saved login.
async fn health(global: &Global) -> Outcome<()> {
    let saved = config::load().ok().flatten();
    let server = global
        .server
        .clone()
        .or_else(|| saved.as_ref().map(|c| c.server.clone()))
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let host = global.host.clone().or_else(|| saved.and_then(|c| c.host));
    let api = api::Api::new(&server, host, None)?;
    let url = format!("{}/healthz", api.server);
    api.send(api.get("/healthz"), &url).await?;
    println!("{url}: ok");
    Ok(())
}
