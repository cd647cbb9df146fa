//! Signing in (`login`, `register`), out (`logout`), and `whoami`.
//!
//! With a user name and password the CLI signs in like the browser does (`POST /api/login`,
//! which sets the session cookie), creates a personal access token with that session
//! (`/api/create-token`), signs the session out again, checks the token with
//! `GET /api/v1/me` and saves server, host and token (see [`crate::config`]).

use std::io::{BufRead, Write};
use std::os::fd::AsRawFd;

use clap::{ArgGroup, Args};
use model::api::{ApiToken, CreatedApiToken};
use serde::{Deserialize, Serialize};

use crate::api::Api;
use crate::config::{self, Config};
use crate::error::{code, Failure, Outcome};
use crate::output::print_json;
use crate::Global;

#[derive(Args)]
#[command(group(ArgGroup::new("credentials").required(true).args(["token", "username"])))]
pub struct LoginArgs {
    /// A personal access token (egv_…) made under Tokens in the tenant front; `-` reads it
    /// from stdin
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Sign in with this user name and a password (asked for, or read with --password-stdin)
    #[arg(short, long, value_name = "NAME")]
    username: Option<String>,
    /// Read the password from stdin (first line) instead of asking
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// Days the new token lives (1–366)
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(1..=366))]
    days: i64,
}

#[derive(Args)]
pub struct RegisterArgs {
    /// The user name to create (3–40 characters)
    #[arg(short, long, value_name = "NAME")]
    username: String,
    /// Read the password from stdin (first line) instead of asking
    #[arg(long)]
    password_stdin: bool,
    /// Days the new token lives (1–366)
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(1..=366))]
    days: i64,
}

/// `GET /api/v1/me`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Me {
    pub tenant: String,
    pub username: String,
    pub role: String,
}

/// The API with the saved login, overridden by `--server`, `--host` and `EXECGOV_TOKEN`.
pub fn connect(global: &Global) -> Outcome<Api> {
    let saved = config::load()?;
    let env_token = std::env::var("EXECGOV_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let Some(token) = env_token
        .clone()
        .or_else(|| saved.as_ref().map(|c| c.token.clone()))
    else {
        return Err(Failure::new(
            code::AUTH,
            "not signed in: run `execgov-cli login --server URL --host HOST --username NAME` \
             first (or set EXECGOV_TOKEN)",
        ));
    };
    let server = global
        .server
        .clone()
        .or_else(|| saved.as_ref().map(|c| c.server.clone()))
        .ok_or_else(|| {
            Failure::failed("which server? pass --server URL (or set EXECGOV_SERVER)")
        })?;
    let host = global
        .host
        .clone()
        .or_else(|| saved.as_ref().and_then(|c| c.host.clone()));
    let mut api = Api::new(&server, host, Some(token))?;
    if env_token.is_none() {
        if let Some(saved) = &saved {
            api.token_host = Some(match &saved.host {
                Some(h) => h.clone(),
                None => Api::new(&saved.server, None, None)?.shown_host(),
            });
        }
    }
    Ok(api)
}

pub async fn login(global: &Global, args: LoginArgs) -> Outcome<()> {
    let (server, host) = server_to_use(global)?;
    if let Some(token) = args.token {
        let token = if token == "-" {
            read_stdin_line("the token")?
        } else {
            token.trim().to_string()
        };
        let api = Api::new(&server, host, Some(token.clone()))?;
        let me = check_token(&api, "log in with the token").await?;
        return finish(&api, me, token, None).await;
    }
    let username = args.username.expect("clap requires a token or a user name");
    let api = Api::new(&server, host, None)?;
    let password = if args.password_stdin {
        read_stdin_line("the password")?
    } else {
        prompt_password(&format!(
            "Password for {username} on {}: ",
            api.shown_host()
        ))?
    };
    let (_, session) = api
        .server_fn(
            "login",
            &[("username", &username), ("password", &password)],
            None,
            &format!("sign in to {}", api.shown_host()),
        )
        .await
        .map_err(sign_in_refused)?;
    let session =
        session.ok_or_else(|| Failure::failed("the server signed in but set no session"))?;
    token_from_session(&api, &session, args.days).await
}

pub async fn register(global: &Global, args: RegisterArgs) -> Outcome<()> {
    let (server, _) = server_to_use(global)?;
    // On a local server (an IP address or localhost) the free edition answers at free.localhost.
    let host = global.host.clone().or_else(|| {
        let url = reqwest::Url::parse(server.trim()).ok()?;
        let name = url.host_str()?.trim_matches(['[', ']']);
        let local = name == "localhost" || name.parse::<std::net::IpAddr>().is_ok();
        local.then(|| "free.localhost".to_string())
    });
    let api = Api::new(&server, host, None)?;
    let password = if args.password_stdin {
        read_stdin_line("the password")?
    } else {
        let first = prompt_password(&format!(
            "New password for {} on {} (at least 12 characters, letters and digits): ",
            args.username,
            api.shown_host()
        ))?;
        let again = prompt_password("The same password again: ")?;
        if first != again {
            return Err(Failure::invalid("the two passwords differ"));
        }
        first
    };
    let what = format!("sign up on {}", api.shown_host());
    let (_, session) = api
        .server_fn(
            "sign-up",
            &[("username", &args.username), ("password", &password)],
            None,
            &what,
        )
        .await?;
    let session = match session {
        Some(s) => s,
        None => api
            .server_fn(
                "login",
                &[("username", &args.username), ("password", &password)],
                None,
                &format!("sign in to {}", api.shown_host()),
            )
            .await
            .map_err(sign_in_refused)?
            .1
            .ok_or_else(|| Failure::failed("the server signed in but set no session"))?,
    };
    eprintln!(
        "Created the account {} on {}.",
        args.username,
        api.shown_host()
    );
    token_from_session(&api, &session, args.days).await
}

pub async fn logout(global: &Global) -> Outcome<()> {
    let Some(saved) = config::load()? else {
        println!("Not signed in.");
        return Ok(());
    };
    let api = Api::new(
        global.server.as_deref().unwrap_or(&saved.server),
        global.host.clone().or(saved.host.clone()),
        Some(saved.token.clone()),
    )?;
    let revoked = revoke(&api, &saved).await;
    let path = config::path()?;
    config::remove()?;
    match revoked {
        Ok(true) => {
            println!(
                "Signed out: the token was revoked and {} removed.",
                path.display()
            );
            Ok(())
        }
        Ok(false) => {
            println!("Signed out: {} removed.", path.display());
            Ok(())
        }
        Err(e) => Err(Failure::new(
            e.code,
            format!(
                "removed {}, but the token could not be revoked: {}\nRevoke it under Tokens on {}.",
                path.display(),
                e.message,
                api.shown_host()
            ),
        )),
    }
}

pub async fn whoami(global: &Global, json: bool) -> Outcome<()> {
    let api = connect(global)?;
    let me: Me = api.json(api.get("/api/v1/me"), "whoami").await?;
    if json {
        #[derive(Serialize)]
        struct Who<'a> {
            #[serde(flatten)]
            me: &'a Me,
            server: &'a str,
            host: String,
        }
        return print_json(&Who {
            me: &me,
            server: &api.server,
            host: api.shown_host(),
        });
    }
    println!(
        "{} ({}) on {}, at {} via {}",
        me.username,
        me.role,
        me.tenant,
        api.shown_host(),
        api.server
    );
    Ok(())
}

/// Revokes the saved token; false when there was nothing to revoke (already invalid).
async fn revoke(api: &Api, saved: &Config) -> Outcome<bool> {
    let id = match saved.token_id {
        Some(id) => id,
        None => {
            // A token given to `login --token`: find it by its prefix among the user's own.
            let tokens: Vec<ApiToken> = match api.json(api.get("/api/v1/tokens"), "logout").await {
                Ok(t) => t,
                Err(e) if e.code == code::AUTH => return Ok(false),
                Err(e) => return Err(e),
            };
            let mine: Vec<&ApiToken> = tokens
                .iter()
                .filter(|t| !t.revoked && saved.token.starts_with(&t.prefix))
                .filter(|t| saved.username.as_ref().is_none_or(|u| *u == t.owner))
                .collect();
            match mine.as_slice() {
                [one] => one.id,
                _ => return Ok(false),
            }
        }
    };
    match api
        .send(
            api.request(reqwest::Method::DELETE, &format!("/api/v1/tokens/{id}")),
            "logout",
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.code == code::AUTH || e.code == code::NOT_FOUND => Ok(false),
        Err(e) => Err(e),
    }
}

/// The server and host to sign in to: the options, else the saved login's (both).
fn server_to_use(global: &Global) -> Outcome<(String, Option<String>)> {
    if let Some(s) = &global.server {
        return Ok((s.clone(), global.host.clone()));
    }
    match config::load() {
        Ok(Some(saved)) => Ok((saved.server, global.host.clone().or(saved.host))),
        _ => Err(Failure::failed(
            "which server? pass --server URL, e.g. --server http://127.0.0.1:3000",
        )),
    }
}

/// A refused sign-in says so plainly (not "log in again").
fn sign_in_refused(e: Failure) -> Failure {
    if e.code != code::AUTH {
        return e;
    }
    let reason = e
        .detail
        .clone()
        .unwrap_or_else(|| "wrong user name or password".into());
    Failure::new(code::AUTH, format!("sign-in refused: {reason}")).with_detail(e.detail)
}

/// Creates a token with the session, signs the session out, checks and saves the token.
async fn token_from_session(api: &Api, session: &str, days: i64) -> Outcome<()> {
    let days = days.to_string();
    let (response, _) = api
        .server_fn(
            "create-token",
            &[("name", &token_name()), ("days", &days)],
            Some(session),
            "create a token",
        )
        .await?;
    let created: CreatedApiToken = response.json().await.map_err(|e| api.transport(e))?;
    // The CLI needs the token only; the browser-like session would linger for 12 hours.
    let _ = api
        .server_fn("logout", &[], Some(session), "sign out")
        .await;
    let token_api = Api::new(&api.server, api.host.clone(), Some(created.secret.clone()))?;
    let me = check_token(&token_api, "check the new token").await?;
    finish(&token_api, me, created.secret, Some(created.token)).await
}

async fn check_token(api: &Api, what: &str) -> Outcome<Me> {
    api.json(api.get("/api/v1/me"), what).await
}

/// Saves the login and says who this is.
async fn finish(api: &Api, me: Me, token: String, created: Option<ApiToken>) -> Outcome<()> {
    let config = Config {
        server: api.server.clone(),
        host: api.host.clone(),
        token_id: created.as_ref().map(|t| t.id),
        expires_at: created.as_ref().map(|t| t.expires_at),
        username: Some(me.username.clone()),
        tenant: Some(me.tenant.clone()),
        token,
    };
    let path = config::save(&config)?;
    println!(
        "Signed in to {} at {} as {} ({}).",
        me.tenant,
        api.shown_host(),
        me.username,
        me.role
    );
    match &created {
        Some(t) => println!(
            "Token {}… saved in {} (expires {}).",
            t.prefix,
            path.display(),
            t.expires_at.format("%Y-%m-%d")
        ),
        None => println!("Token saved in {}.", path.display()),
    }
    Ok(())
}

/// `execgov-cli on <machine>`, within the 80 characters a token name may have.
fn token_name() -> String {
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".into());
    format!("execgov-cli on {machine}")
        .chars()
        .take(80)
        .collect()
}

fn read_stdin_line(what: &str) -> Outcome<String> {
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut text)
        .map_err(|e| Failure::invalid(format!("cannot read {what} from stdin: {e}")))?;
    let line = text.trim_end_matches(['\n', '\r']).to_string();
    if line.is_empty() {
        return Err(Failure::invalid(format!("stdin held no {what}")));
    }
    Ok(line)
}

/// Asks on the terminal with echo off.
fn prompt_password(prompt: &str) -> Outcome<String> {
    let no_tty =
        || Failure::invalid("no terminal to ask for the password on: pass --password-stdin");
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| no_tty())?;
    tty.write_all(prompt.as_bytes())
        .and_then(|_| tty.flush())
        .map_err(|_| no_tty())?;
    let echo_off = EchoOff::new(&tty);
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    drop(echo_off);
    let _ = tty.write_all(b"\n");
    read.map_err(|e| Failure::invalid(format!("cannot read the password: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err(Failure::invalid("no password given"));
    }
    Ok(password)
}

/// Turns the terminal's echo off until dropped.
struct EchoOff {
    fd: i32,
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn new(tty: &std::fs::File) -> EchoOff {
        let fd = tty.as_raw_fd();
        // SAFETY: tcgetattr/tcsetattr only read and write the termios struct we own; `fd` is an
        // open terminal for as long as `tty` lives, which outlives this guard.
        let saved = unsafe {
            let mut term: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut term) != 0 {
                None
            } else {
                let saved = term;
                term.c_lflag &= !libc::ECHO;
                libc::tcsetattr(fd, libc::TCSANOW, &term);
                Some(saved)
            }
        };
        EchoOff { fd, saved }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the attributes read in `new` on the same descriptor.
            unsafe {
                libc::tcsetattr(self.fd, libc::TCSANOW, saved);
            }
        }
    }
}
