//! The two log pages: the audit log and the login log (the platform's on the console, the
//! tenant's on a tenant front).

use leptos::prelude::*;
use model::{AuditEntry, LoginLogEntry, Surface, UserError};

use crate::layout::{or_error, Gate, Need};

#[cfg(feature = "ssr")]
use crate::server::{caller, user_error};

#[server(endpoint = "audit-entries")]
pub async fn audit_entries() -> Result<Vec<AuditEntry>, UserError> {
    let (ctx, caller) = caller()?;
    let realm = caller.admin_realm().map_err(user_error)?;
    domain::accounts::audit_log(&ctx, realm, 200)
        .await
        .map_err(user_error)
}

#[server(endpoint = "login-entries")]
pub async fn login_entries() -> Result<Vec<LoginLogEntry>, UserError> {
    let (ctx, caller) = caller()?;
    let realm = caller.admin_realm().map_err(user_error)?;
    domain::accounts::login_log(&ctx, realm, 200)
        .await
        .map_err(user_error)
}

const GOVERNED: &[Surface] = &[Surface::PublicConsole, Surface::TenantFront];

pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `/audit`: the platform's log on the console, the tenant's on a tenant front.
#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <Gate surfaces=GOVERNED need=Need::Admin>
            <AuditTable/>
        </Gate>
    }
}

#[component]
fn AuditTable() -> impl IntoView {
    let entries = Resource::new(|| (), |_| audit_entries());
    view! {
        <h1>"Audit log"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                or_error(entries.await.map(|rows| view! {
                    <table class="grid" tabindex="0" data-testid="audit">
                        <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Result"</th><th>"From"</th><th>"Detail"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|e| view! {
                                <tr>
                                    <td>{when(e.at)}</td><td>{e.actor}</td><td>{e.action}</td><td>{e.target}</td>
                                    <td>{e.result}</td><td>{e.ip.unwrap_or_default()}</td><td class="detail">{e.detail}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }))
            })}
        </Transition>
    }
}

/// `/logins`: sign-in successes and failures.
#[component]
pub fn LoginLogPage() -> impl IntoView {
    view! {
        <Gate surfaces=GOVERNED need=Need::Admin>
            <LoginTable/>
        </Gate>
    }
}

#[component]
fn LoginTable() -> impl IntoView {
    let entries = Resource::new(|| (), |_| login_entries());
    view! {
        <h1>"Login log"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                or_error(entries.await.map(|rows| view! {
                    <table class="grid" tabindex="0" data-testid="logins">
                        <thead><tr><th>"When"</th><th>"User"</th><th>"Result"</th><th>"Reason"</th><th>"Address"</th><th>"User agent"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|e| view! {
                                <tr>
                                    <td>{when(e.at)}</td><td>{e.username}</td>
                                    <td>{if e.success { "success" } else { "failure" }}</td><td>{e.reason}</td>
                                    <td>{e.ip.unwrap_or_default()}</td><td class="detail">{e.user_agent.unwrap_or_default()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }))
            })}
        </Transition>
    }
}
