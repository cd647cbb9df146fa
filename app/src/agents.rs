//! `/agents`: a tenant's local agents, for its admins. Agent tokens are made here with the labels
//! their agent may serve (the secret shown once, with the command that starts an agent with it),
//! listed and revoked; the agents that registered with them are listed with their status, and
//! revoked.

use leptos::prelude::*;
use model::agent::AgentView;
use model::api::{ApiToken, CreatedApiToken};
use model::{Surface, UserError};

use crate::components::{error_note, loaded};
use crate::layout::{Gate, Need};
use crate::tokens::{token_table, RevokeToken};
use crate::words::{when, PageTitle};

#[cfg(feature = "ssr")]
use crate::server::serve;

const TENANT_FRONT: &[Surface] = &[Surface::TenantFront];

#[server(endpoint = "list-agents")]
pub async fn list_agents() -> Result<Vec<AgentView>, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::agents::list(&ctx, tenant, user).await
    })
    .await
}

#[server(endpoint = "revoke-agent")]
pub async fn revoke_agent(id: i64) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::agents::revoke(&ctx, tenant, user, &caller.actor(), id).await
    })
    .await
}

#[server(endpoint = "list-agent-tokens")]
pub async fn list_agent_tokens() -> Result<Vec<ApiToken>, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::tokens::list(&ctx, tenant, user, domain::tokens::TokenKind::Agent).await
    })
    .await
}

/// `labels`: the labels the token's agent may serve, separated by commas or spaces.
#[server(endpoint = "create-agent-token")]
pub async fn create_agent_token(
    name: String,
    days: Option<i64>,
    labels: String,
) -> Result<CreatedApiToken, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        let labels = labels
            .split([',', ' '])
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        domain::tokens::create(
            &ctx,
            tenant,
            user,
            &caller.actor(),
            &name,
            days,
            &domain::tokens::NewToken::Agent { labels },
        )
        .await
    })
    .await
}

#[component]
pub fn AgentsPage() -> impl IntoView {
    view! {
        <Gate surfaces=TENANT_FRONT need=Need::Admin>
            <Agents/>
        </Gate>
    }
}

/// How this page was reached: scheme, host name and port (empty when the scheme's default): in
/// the browser from its location, on the server from the request's Host.
fn page_address() -> Option<(String, String, String)> {
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        if let (Ok(protocol), Ok(host), Ok(port)) =
            (location.protocol(), location.hostname(), location.port())
        {
            return Some((protocol.trim_end_matches(':').to_string(), host, port));
        }
    }
    #[cfg(feature = "ssr")]
    {
        if let Some(parts) = use_context::<axum::http::request::Parts>() {
            let header = |name: &str| {
                parts
                    .headers
                    .get(name)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_string)
            };
            if let Some(host) = header("host") {
                let scheme = header("x-forwarded-proto").unwrap_or_else(|| "http".into());
                return Some(match host.rsplit_once(':') {
                    Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                        (scheme, name.to_string(), port.to_string())
                    }
                    _ => (scheme, host, String::new()),
                });
            }
        }
    }
    None
}

/// The `--server` and `--host` an agent of this tenant starts with: this page's own address.
/// A `*.localhost` name (development) resolves to loopback in browsers but not necessarily for
/// the CLI, so its server is `127.0.0.1` on the same port.
fn server_and_host() -> (String, String) {
    let Some((scheme, host, port)) = page_address() else {
        return ("https://SERVER".into(), "HOST".into());
    };
    let port = if port.is_empty() {
        String::new()
    } else {
        format!(":{port}")
    };
    let server = if host == "localhost" || host.ends_with(".localhost") {
        "127.0.0.1"
    } else {
        host.as_str()
    };
    (format!("{scheme}://{server}{port}"), host)
}

fn start_command(secret: &str) -> String {
    let (server, host) = server_and_host();
    format!("execgov-cli agent start --server {server} --host {host} --token {secret}")
}

/// The first characters of a machine id, enough to tell machines apart.
fn short_id(machine_id: &str) -> String {
    machine_id.chars().take(8).collect()
}

fn status_badge(status: &str) -> &'static str {
    match status {
        "online" => "badge active",
        "revoked" | "token revoked" => "badge disabled",
        _ => "badge",
    }
}

#[component]
fn Agents() -> impl IntoView {
    view! {
        <PageTitle text="Agents"/>
        <h1>"Agents"</h1>
        <p class="hint">
            "Agents are this tenant's own machines running the skills whose manifest names their "
            "label as " <code>"agent_label"</code> ". Each registers with an agent token of its own, made here "
            "with the labels it may serve, and signs every request with its machine key."
        </p>
        <AgentTokens/>
        <AgentList/>
    }
}

#[component]
fn AgentTokens() -> impl IntoView {
    let create = ServerAction::<CreateAgentToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_agent_tokens(),
    );
    let created = move || match create.value().get() {
        Some(Ok(new)) => {
            let command = start_command(&new.secret);
            Some(
                view! {
                    <section class="card" data-testid="new-agent-token">
                        <h3>"Your new agent token"</h3>
                        <p>"Copy it now: it is not shown again."</p>
                        <pre class="hash" data-testid="agent-token-secret">{new.secret}</pre>
                        <p>
                            "Its agent serves the labels "
                            <strong data-testid="new-agent-token-labels">{new.token.labels.join(", ")}</strong>
                            " (no others). Start it on the one machine that should run them: the "
                            "token belongs to the first machine that registers with it."
                        </p>
                        <pre class="hash" data-testid="agent-command">{command}</pre>
                        <p class="hint">
                            "The first start saves the machine's identity (agent.toml); later starts need only "
                            <code>"execgov-cli agent start"</code> ". " <code>"execgov-cli agent describe"</code>
                            " shows what it serves."
                        </p>
                    </section>
                }
                .into_any(),
            )
        }
        Some(Err(e)) => Some(error_note(e).into_any()),
        None => None,
    };
    let revoke_error = move || revoke.value().get().and_then(|r| r.err()).map(error_note);
    view! {
        <h2>"Agent tokens"</h2>
        {created}
        <section class="card narrow">
            <ActionForm action=create>
                <label>"Name" <input type="text" name="name" required maxlength="80" placeholder="office machines"/></label>
                <label>"Days until it expires" <input type="number" name="days" min="1" max="366" value="365"/></label>
                <label>"Labels it may serve (the skills' agent_label, separated by commas)" <input type="text" name="labels" required maxlength="2100" placeholder="office, gpu"/></label>
                <button type="submit">"Create agent token"</button>
            </ActionForm>
        </section>
        {revoke_error}
        {loaded(tokens, move |rows| token_table(rows, revoke, "agent-tokens"))}
    }
}

#[component]
fn AgentList() -> impl IntoView {
    let revoke = ServerAction::<RevokeAgent>::new();
    let agents = Resource::new(move || revoke.version().get(), |_| list_agents());
    let revoke_error = move || revoke.value().get().and_then(|r| r.err()).map(error_note);
    view! {
        <h2>"Agents"</h2>
        <p class="hint">"Online: heard from within the last few minutes. Reload the page to see the latest."</p>
        {revoke_error}
        {loaded(agents, move |rows| {
                    let empty = rows.is_empty().then(|| view! {
                        <p class="hint" data-testid="no-agents">"No agent has registered yet."</p>
                    });
                    view! {
                    <table class="grid" tabindex="0" data-testid="agents">
                        <thead><tr>
                            <th>"Name"</th><th>"Host name"</th><th>"Machine"</th><th>"Labels"</th><th>"Status"</th>
                            <th>"Last seen"</th><th>"Running"</th><th>"Version"</th><th>"Token"</th><th></th>
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|a| view! {
                                <tr data-agent=a.id>
                                    <td>{a.name.clone()}</td>
                                    <td>{a.hostname.clone()}</td>
                                    <td class="hash" title=a.machine_id.clone()>{short_id(&a.machine_id)}</td>
                                    <td data-testid="agent-labels">{a.labels.join(", ")}</td>
                                    <td><span class=status_badge(&a.status) data-testid="agent-status">{a.status.clone()}</span></td>
                                    <td>{when(a.last_seen_at)}</td>
                                    <td>{a.running}</td>
                                    <td>{a.version.clone()}</td>
                                    <td>{a.token_name.clone()}</td>
                                    <td>
                                        {(a.status != "revoked").then(|| view! {
                                            <ActionForm action=revoke attr:class="inline">
                                                <input type="hidden" name="id" value=a.id/>
                                                <button type="submit" class="link danger">"Revoke"</button>
                                            </ActionForm>
                                        })}
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    {empty}
                    }
                })}
    }
}
