//! The two log pages: the audit log and the login log (the platform's on the console, the
//! tenant's on a tenant front).

use leptos::prelude::*;
use model::{AuditEntry, LoginLogEntry, Surface, UserError};

use crate::components::{empty_note, loaded};
use crate::layout::{Gate, Need};
use crate::words::{detail_view, when, PageTitle};
use model::words::sentence;

#[cfg(feature = "ssr")]
use crate::server::serve;

#[server(endpoint = "audit-entries")]
pub async fn audit_entries() -> Result<Vec<AuditEntry>, UserError> {
    serve(async |ctx, caller| {
        let realm = caller.admin_realm()?;
        domain::accounts::audit_log(&ctx, realm, 200).await
    })
    .await
}

#[server(endpoint = "login-entries")]
pub async fn login_entries() -> Result<Vec<LoginLogEntry>, UserError> {
    serve(async |ctx, caller| {
        let realm = caller.admin_realm()?;
        domain::accounts::login_log(&ctx, realm, 200).await
    })
    .await
}

const GOVERNED: &[Surface] = &[Surface::PublicConsole, Surface::TenantFront];

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
        <PageTitle text="Audit log"/>
        <h1>"Audit log"</h1>
        {loaded(entries, move |rows| {
                    if rows.is_empty() {
                        return empty_note("Nothing recorded yet: every change people make here is logged on this page.");
                    }
                    view! {
                    <table class="grid" tabindex="0" data-testid="audit">
                        <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Result"</th><th>"From"</th><th>"Detail"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|e| view! {
                                <tr>
                                    <td>{when(e.at)}</td><td>{e.actor}</td><td>{sentence(&e.action)}</td><td>{e.target}</td>
                                    <td>{sentence(&e.result)}</td><td>{e.ip.unwrap_or_default()}</td><td class="detail">{detail_view(e.detail)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    }.into_any()
                })}
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
        <PageTitle text="Login log"/>
        <h1>"Login log"</h1>
        {loaded(entries, move |rows| {
                    if rows.is_empty() {
                        return empty_note("No sign-ins yet: each success and failure appears here.");
                    }
                    view! {
                    <table class="grid" tabindex="0" data-testid="logins">
                        <thead><tr><th>"When"</th><th>"User"</th><th>"Result"</th><th>"Reason"</th><th>"Address"</th><th>"User agent"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|e| view! {
                                <tr>
                                    <td>{when(e.at)}</td><td>{e.username}</td>
                                    <td>{if e.success { "Signed in" } else { "Refused" }}</td><td>{sentence(&e.reason)}</td>
                                    <td>{e.ip.unwrap_or_default()}</td><td class="detail">{e.user_agent.unwrap_or_default()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    }.into_any()
                })}
    }
}
