//! The shared-SaaS tenant front: a tenant's own users, its admins' user management and logs.

use leptos::prelude::*;
use model::{CrossTenantLink, SessionInfo, Surface, TenantRole, UserError, UserSummary};

use crate::auth::LoginForm;
use crate::components::{error_note, loaded};
use crate::dashboard::TenantHome;
use crate::layout::{Gate, Need};
use crate::words::{when, PageTitle};

#[cfg(feature = "ssr")]
use crate::server::serve;
#[cfg(feature = "ssr")]
use domain::AppError;

const TENANT: &[Surface] = &[Surface::TenantFront];

#[server(endpoint = "list-users")]
pub async fn list_users() -> Result<Vec<UserSummary>, UserError> {
    serve(async |ctx, caller| {
        let (tenant, _) = caller.tenant_admin()?;
        domain::accounts::list_users(&ctx, tenant).await
    })
    .await
}

#[server(endpoint = "create-user")]
pub async fn create_user(
    username: String,
    password: String,
    role: String,
) -> Result<String, UserError> {
    serve(async |ctx, caller| {
        let (tenant, _) = caller.tenant_admin()?;
        let role = TenantRole::parse(&role)
            .ok_or_else(|| AppError::Invalid("The role must be admin or member.".into()))?;
        domain::accounts::create_user(&ctx, tenant, &caller.actor(), &username, password, role)
            .await
            .map(|_| username)
    })
    .await
}

/// `change`: `disable`, `enable`, `make-admin` or `make-member`.
#[server(endpoint = "change-user")]
pub async fn change_user(user_id: i64, change: String) -> Result<(), UserError> {
    use domain::accounts::UserChange;
    serve(async |ctx, caller| {
        let (tenant, admin) = caller.tenant_admin()?;
        let change = match change.as_str() {
            "disable" => UserChange::SetDisabled(true),
            "enable" => UserChange::SetDisabled(false),
            "make-admin" => UserChange::SetRole(TenantRole::Admin),
            "make-member" => UserChange::SetRole(TenantRole::Member),
            other => return Err(AppError::Invalid(format!("Unknown change {other:?}."))),
        };
        domain::accounts::change_user(
            &ctx,
            tenant,
            &caller.actor(),
            admin.user_id,
            user_id,
            change,
        )
        .await
        .map(|_| ())
    })
    .await
}

#[server(endpoint = "cross-tenant-links")]
pub async fn cross_tenant_links() -> Result<Vec<CrossTenantLink>, UserError> {
    serve(async |ctx, caller| {
        let (tenant, admin) = caller.tenant_admin()?;
        domain::tenancy::cross_tenant_links(&ctx, tenant, admin.principal.username()).await
    })
    .await
}

pub fn tenant_home(info: SessionInfo) -> impl IntoView {
    let name = info.tenant_name.unwrap_or_default();
    match info.principal {
        None => view! {
            <section class="card narrow">
                <h1 data-testid="tenant-name">{name}</h1>
                <p class="hint">"Sign in to use this tenant's skills."</p>
            </section>
            <LoginForm/>
        }
        .into_any(),
        Some(p) => {
            let role = if p.is_tenant_admin() {
                "admin"
            } else {
                "member"
            };
            view! {
                <div class="dash-title">
                    <h1 data-testid="tenant-name">{name}</h1>
                    <p>"Signed in as " <strong>{p.username().to_string()}</strong> " (" {role} ")."</p>
                </div>
                <TenantHome surface=Surface::TenantFront/>
            }
            .into_any()
        }
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <Gate surfaces=TENANT need=Need::Admin>
            <Users/>
        </Gate>
    }
}

#[component]
fn Users() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let change = ServerAction::<ChangeUser>::new();
    let users = Resource::new(
        move || (create.version().get(), change.version().get()),
        |_| list_users(),
    );
    let create_error = move || create.value().get().and_then(|r| r.err()).map(error_note);
    let created = move || {
        create.value().get().and_then(|r| r.ok()).map(|name| view! {
            <p class="card success" role="status" data-testid="created">{format!("User {name} created. They can sign in now.")}</p>
        })
    };
    let change_error = move || change.value().get().and_then(|r| r.err()).map(error_note);
    let row_action = move |user_id: i64, what: &'static str, label: &'static str| {
        view! {
            <ActionForm action=change attr:class="inline">
                <input type="hidden" name="user_id" value=user_id/>
                <input type="hidden" name="change" value=what/>
                <button type="submit" class="small">{label}</button>
            </ActionForm>
        }
    };
    view! {
        <PageTitle text="Users"/>
        <h1>"Users"</h1>
        {change_error}
        {loaded(users, move |rows| view! {
                    <table class="grid" tabindex="0" data-testid="users">
                        <thead><tr><th>"User"</th><th>"Role"</th><th>"Status"</th><th>"Created"</th><th>"Actions"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|u| {
                                let admin = u.role == TenantRole::Admin;
                                view! {
                                    <tr data-user=u.username.clone()>
                                        <td>{u.username.clone()}</td>
                                        <td>{u.role.as_str()}</td>
                                        <td>{if u.disabled { "disabled" } else { "active" }}</td>
                                        <td>{when(u.created_at)}</td>
                                        <td>
                                            {if u.disabled { row_action(u.id, "enable", "Enable") } else { row_action(u.id, "disable", "Disable") }}
                                            {if admin { row_action(u.id, "make-member", "Make member") } else { row_action(u.id, "make-admin", "Make admin") }}
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
        <section class="card narrow">
            <h2>"New user"</h2>
            <ActionForm action=create>
                <label>"User name" <input type="text" name="username" required minlength="3" maxlength="40"/></label>
                <label>"Password" <input type="password" name="password" required minlength="12" autocomplete="new-password"/></label>
                <label>"Role"
                    <select name="role">
                        <option value="member" selected>"member"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </label>
                {create_error}
                {created}
                <button type="submit">"Create user"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn MyTenantsPage() -> impl IntoView {
    view! {
        <Gate surfaces=TENANT need=Need::Admin>
            <MyTenants/>
        </Gate>
    }
}

#[component]
fn MyTenants() -> impl IntoView {
    let links = Resource::new(|| (), |_| cross_tenant_links());
    view! {
        <PageTitle text="Other tenants"/>
        <h1>"Other tenants"</h1>
        <p class="hint">"Tenants the platform lets you enter. You sign in there with that tenant's account."</p>
        {loaded(links, move |links| {
                    if links.is_empty() {
                        view! { <p>"None."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="links" data-testid="cross-tenant">
                                {links.into_iter().map(|l| {
                                    let href = format!("//{}{}", l.host, port_suffix());
                                    view! { <li><a href=href>{l.tenant_name}</a> " — " {l.host}</li> }
                                }).collect_view()}
                            </ul>
                        }
                        .into_any()
                    }
                })}
    }
}

/// The port this page was served on, so links to sibling hosts keep working in development.
fn port_suffix() -> String {
    #[cfg(feature = "hydrate")]
    {
        let port = window().location().port().unwrap_or_default();
        if !port.is_empty() {
            return format!(":{port}");
        }
    }
    #[cfg(feature = "ssr")]
    {
        if let Some(parts) = use_context::<axum::http::request::Parts>() {
            let host = parts
                .headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            if let Some((_, port)) = host.rsplit_once(':') {
                return format!(":{port}");
            }
        }
    }
    String::new()
}
