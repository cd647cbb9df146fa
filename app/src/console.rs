//! The public console: super-admins govern tenants and read the platform's logs.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use model::words::{edition_label, sentence};
use model::{AuditCheck, Principal, SessionInfo, Surface, TenantDetail, TenantSummary, UserError};

use crate::auth::LoginForm;
use crate::components::{empty_note, error_note, loaded, or_error};
use crate::dashboard::ConsoleHome;
use crate::hot_updates::TenantSkills;
use crate::layout::{Gate, Need};
use crate::storage::{StorageTable, TenantStorageCard};
use crate::words::{when, PageTitle};

#[cfg(feature = "ssr")]
use crate::server::serve;

const CONSOLE: &[Surface] = &[Surface::PublicConsole];

#[server(endpoint = "list-tenants")]
pub async fn list_tenants() -> Result<Vec<TenantSummary>, UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        domain::tenancy::list_tenants(&ctx).await
    })
    .await
}

#[server(endpoint = "create-tenant")]
pub async fn create_tenant(
    name: String,
    host: String,
    admin_username: String,
    admin_password: String,
) -> Result<i64, UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        let input = domain::tenancy::NewTenant {
            name,
            host,
            admin_username,
            admin_password,
        };
        let tenant = domain::tenancy::provision_tenant(&ctx, &caller.actor(), input).await?;
        leptos_axum::redirect(&format!("/tenants/{}?created", tenant.id));
        Ok(tenant.id)
    })
    .await
}

#[server(endpoint = "get-tenant")]
pub async fn get_tenant(id: i64) -> Result<TenantDetail, UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        domain::tenancy::tenant_detail(&ctx, id).await
    })
    .await
}

#[server(endpoint = "set-tenant-active")]
pub async fn set_tenant_active(id: i64, active: bool) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        domain::tenancy::set_tenant_active(&ctx, &caller.actor(), id, active).await
    })
    .await
}

#[server(endpoint = "whitelist-admin")]
pub async fn whitelist_admin(
    id: i64,
    username: String,
    target_tenant_id: i64,
) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        domain::tenancy::whitelist_admin(&ctx, &caller.actor(), id, &username, target_tenant_id)
            .await
    })
    .await
}

/// Recomputes the hash chain of the platform's audit log and of every tenant's.
#[server(endpoint = "verify-audit")]
pub async fn verify_audit() -> Result<Vec<AuditCheck>, UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        domain::audit::verify_all(&ctx, None).await
    })
    .await
}

/// `/audit/verify`: each audit log's chain, intact or with its first broken link.
#[component]
pub fn AuditCheckPage() -> impl IntoView {
    view! {
        <Gate surfaces=CONSOLE need=Need::Admin>
            <AuditCheckView/>
        </Gate>
    }
}

#[component]
fn AuditCheckView() -> impl IntoView {
    let checks = Resource::new(|| (), |_| verify_audit());
    view! {
        <PageTitle text="Audit chain check"/>
        <h1>"Audit chain check"</h1>
        <p class="hint">"Each audit entry stores the hash of the entry before it and of its own content. A changed, inserted or removed entry breaks the chain at that entry."</p>
        <Transition fallback=|| view! { <p>"Checking…"</p> }>
            {move || Suspend::new(async move {
                or_error(checks.await.map(|rows| view! {
                    <table class="grid" tabindex="0" data-testid="audit-check">
                        <thead><tr><th>"Log"</th><th>"Entries verified"</th><th>"Result"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|c| view! {
                                <tr data-broken=c.broken.as_ref().map(|b| b.entry_id.to_string())>
                                    <td>{c.log}</td><td>{c.entries}</td>
                                    <td>{match &c.broken {
                                        None => view! { <span class="badge live">"OK"</span> }.into_any(),
                                        Some(b) => view! {
                                            <span class="error">{format!("broken at entry {}: {}", b.entry_id, b.reason)}</span>
                                        }.into_any(),
                                    }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }))
            })}
        </Transition>
    }
}

pub fn console_home(info: SessionInfo) -> impl IntoView {
    match info.principal {
        None => view! { <LoginForm title="Public console: sign in".to_string()/> }.into_any(),
        Some(
            p @ Principal::Platform {
                super_admin: true, ..
            },
        ) => view! {
            <div class="dash-title">
                <h1>"Public console"</h1>
                <p>"Signed in as " <strong>{p.username().to_string()}</strong> ", super-admin."</p>
            </div>
            <ConsoleHome/>
        }
        .into_any(),
        Some(_) => view! {
            <section class="card narrow">
                <h1>"No platform access"</h1>
                <p>"Your account is not a super-admin; the public console has nothing for you."</p>
            </section>
        }
        .into_any(),
    }
}

#[component]
pub fn TenantsPage() -> impl IntoView {
    view! {
        <Gate surfaces=CONSOLE need=Need::Admin>
            <TenantList/>
        </Gate>
    }
}

#[component]
fn TenantList() -> impl IntoView {
    let tenants = Resource::new(|| (), |_| list_tenants());
    view! {
        <PageTitle text="Tenants"/>
        <div class="title-row">
            <h1>"Tenants"</h1>
            <a class="button" href="/tenants/new">"New tenant"</a>
        </div>
        {loaded(tenants, move |rows| {
                    if rows.is_empty() {
                        return empty_note(view! { "No tenants yet — " <a href="/tenants/new">"create the first tenant"</a> "." });
                    }
                    view! {
                    <table class="grid" tabindex="0" data-testid="tenants">
                        <thead><tr><th>"Name"</th><th>"Schema"</th><th>"Edition"</th><th>"Status"</th><th>"Hosts"</th><th>"Created"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|t| view! {
                                <tr>
                                    <td><a href=format!("/tenants/{}", t.id)>{t.name}</a></td>
                                    <td>{t.schema_name}</td><td>{edition_label(&t.edition)}</td>
                                    <td><span class=format!("badge {}", t.status)>{sentence(&t.status)}</span></td>
                                    <td>{t.hosts.join(", ")}</td><td>{when(t.created_at)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    }.into_any()
                })}
        <StorageTable/>
    }
}

#[component]
pub fn NewTenantPage() -> impl IntoView {
    view! {
        <Gate surfaces=CONSOLE need=Need::Admin>
            <NewTenantForm/>
        </Gate>
    }
}

#[component]
fn NewTenantForm() -> impl IntoView {
    let create = ServerAction::<CreateTenant>::new();
    let error = move || create.value().get().and_then(|r| r.err()).map(error_note);
    view! {
        <PageTitle text="New tenant"/>
        <section class="card narrow">
            <h1>"New tenant"</h1>
            <p class="hint">"Creates the tenant's schema, binds its host and creates its first admin, all at once."</p>
            <ActionForm action=create>
                <label>"Name" <input type="text" name="name" required minlength="2" maxlength="80"/></label>
                <label>"Host" <input type="text" name="host" required placeholder="initech.localhost"/></label>
                <label>"Initial admin user name" <input type="text" name="admin_username" required minlength="3" maxlength="40"/></label>
                <label>"Initial admin password" <input type="password" name="admin_password" required minlength="12" autocomplete="new-password"/></label>
                <p class="hint">"At least 12 characters, with letters and digits."</p>
                {error}
                <button type="submit">"Create tenant"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn TenantPage() -> impl IntoView {
    view! {
        <Gate surfaces=CONSOLE need=Need::Admin>
            <TenantView/>
        </Gate>
    }
}

#[component]
fn TenantView() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    // Set by the new-tenant form's redirect.
    let created = use_query_map().read_untracked().get("created").is_some();
    let toggle = ServerAction::<SetTenantActive>::new();
    let whitelist = ServerAction::<WhitelistAdmin>::new();
    let detail = Resource::new(
        move || (id(), toggle.version().get(), whitelist.version().get()),
        |(id, _, _)| async move {
            match id {
                Some(id) => get_tenant(id).await,
                None => Err(UserError::new(
                    model::ErrorKind::NotFound,
                    "There is no such tenant.",
                )),
            }
        },
    );
    let action_error = move || {
        toggle
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| whitelist.value().get().and_then(|r| r.err()))
            .map(error_note)
    };
    view! {
        {loaded(detail, move |d| {
                    let t = d.tenant;
                    let active = t.status == "active";
                    view! {
                        <PageTitle text=t.name.clone()/>
                        {created.then(|| view! {
                            <p class="card success" role="status" data-testid="created">
                                {format!("Tenant {} created. Its admin can sign in at {} now.", t.name, t.hosts.join(", "))}
                            </p>
                        })}
                        <section class="card">
                            <h1 data-testid="tenant-title">{t.name.clone()}</h1>
                            <dl class="facts">
                                <dt>"Number"</dt><dd>{t.id}</dd>
                                <dt>"Schema"</dt><dd>{t.schema_name.clone()}</dd>
                                <dt>"Edition"</dt><dd>{edition_label(&t.edition)}</dd>
                                <dt>"Status"</dt><dd data-testid="tenant-status" data-status=t.status.clone()>{sentence(&t.status)}</dd>
                                <dt>"Hosts"</dt>
                                <dd>{t.hosts.iter().map(|h| view! { <span class="host">{h.clone()}</span> " " }).collect_view()}</dd>
                                <dt>"Users"</dt><dd>{d.user_count}</dd>
                                <dt>"Admins"</dt><dd>{d.admins.join(", ")}</dd>
                                <dt>"Created"</dt><dd>{when(t.created_at)}</dd>
                            </dl>
                            <ActionForm action=toggle>
                                <input type="hidden" name="id" value=t.id/>
                                <input type="hidden" name="active" value=(!active).to_string()/>
                                <button type="submit" class=if active { "danger" } else { "" }>
                                    {if active { "Disable tenant" } else { "Enable tenant" }}
                                </button>
                            </ActionForm>
                        </section>
                        <section class="card">
                            <h2>"Cross-tenant entry"</h2>
                            <p class="hint">"Lets one of this tenant's admins see a link to another tenant. Nothing else is granted."</p>
                            <ActionForm action=whitelist>
                                <input type="hidden" name="id" value=t.id/>
                                <label>"Admin user name" <input type="text" name="username" required/></label>
                                <label>"Target tenant number" <input type="number" name="target_tenant_id" required min="1000"/></label>
                                <button type="submit">"Whitelist"</button>
                            </ActionForm>
                        </section>
                        <TenantStorageCard tenant_id=t.id/>
                        <TenantSkills tenant_id=t.id tenant_name=t.name.clone()/>
                    }
                })}
        {action_error}
    }
}
