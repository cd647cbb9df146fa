//! What every page shares: header, gates and error notes.

use leptos::prelude::*;
use leptos_router::components::A;
use model::{Principal, Surface};

use crate::auth::{Auth, LoginForm};
use crate::components::error_note;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="card narrow">
            <h1>"Page not found"</h1>
            <p>"There is no such page here. " <a href="/">"Go to the start page"</a></p>
        </section>
    }
}

fn surface_label(surface: Surface) -> &'static str {
    match surface {
        Surface::PublicConsole => "Public console",
        Surface::TenantFront => "Tenant",
        Surface::FreeConsole => "Free edition",
        Surface::Experience => "Experience",
    }
}

/// The header: brand, place, and a menu (the nav, the user, Sign out). The menu is a
/// `<details>`, so that it opens and closes without JavaScript and by keyboard; wide screens show
/// its contents inline and hide its summary (style/main.css).
#[component]
pub fn Header() -> impl IntoView {
    let auth = Auth::use_auth();
    let menu = NodeRef::<leptos::html::Details>::new();
    // A phone's open menu covers the page: close it when one of its links is followed (the
    // header stays while the page below it changes).
    let close_menu = move |_: leptos::ev::MouseEvent| {
        if let Some(details) = menu.get_untracked() {
            details.set_open(false);
        }
    };
    view! {
        <header class="top">
            // A target keeps the router from handling the click, so the browser moves the focus
            // to the content as well as scrolling there.
            <a class="skip" href="#content" target="_self">"Skip to content"</a>
            <a class="brand" href="/">"ExecGov"</a>
            {move || {
                    auth.session.get().ok().map(|info| {
                        let place = info.tenant_name.clone()
                            .filter(|_| info.surface == Surface::TenantFront)
                            .unwrap_or_else(|| surface_label(info.surface).to_string());
                        let links = nav_links(info.surface, info.principal.as_ref());
                        let has_menu = !links.is_empty() || info.principal.is_some();
                        view! {
                            <span class="place" data-testid="place">{place}</span>
                            {has_menu.then(|| view! {
                                <details class="menu" node_ref=menu>
                                    <summary>"Menu"</summary>
                                    <div class="menu-body">
                                        <nav aria-label="Main" on:click=close_menu>
                                            {links.iter().map(|(href, label)| view! {
                                                <A href=*href>{*label}</A>
                                            }).collect_view()}
                                        </nav>
                                        {info.principal.map(|p| view! {
                                            <span class="who" data-testid="who">{p.username().to_string()}</span>
                                            <ActionForm action=auth.logout attr:class="inline">
                                                <button type="submit" class="link">"Sign out"</button>
                                            </ActionForm>
                                        })}
                                    </div>
                                </details>
                            })}
                        }
                        // Type-erased: the header's nested view type would overflow the compiler's
                        // depth limit when App is laid out.
                        .into_any()
                    })
            }}
        </header>
    }
}

/// The menu's pages for this surface and caller, as (address, label).
fn nav_links(
    surface: Surface,
    principal: Option<&Principal>,
) -> &'static [(&'static str, &'static str)] {
    match (surface, principal) {
        (Surface::PublicConsole, Some(p)) if p.is_super_admin() => &[
            ("/tenants", "Tenants"),
            ("/reviews", "Reviews"),
            ("/audit", "Audit log"),
            ("/logins", "Login log"),
        ],
        (Surface::TenantFront, Some(p)) if p.is_tenant_admin() => &[
            ("/assistant", "Assistant"),
            ("/skills", "Skills"),
            ("/executions", "Executions"),
            ("/submissions", "Submissions"),
            ("/users", "Users"),
            ("/tokens", "Tokens"),
            ("/secrets", "Secrets"),
            ("/agents", "Agents"),
            ("/audit", "Audit log"),
            ("/logins", "Login log"),
            ("/my-tenants", "Other tenants"),
        ],
        (Surface::TenantFront, Some(_)) => &[
            ("/assistant", "Assistant"),
            ("/skills", "Skills"),
            ("/executions", "Executions"),
            ("/tokens", "Tokens"),
        ],
        (Surface::FreeConsole, Some(_)) => &[("/assistant", "Assistant")],
        _ => &[],
    }
}

/// What a page asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Anyone,
    SignedIn,
    /// A super-admin on the public console, a tenant admin on a tenant front.
    Admin,
}

/// Renders `children` only on the listed surfaces and for a caller who has what `need` says;
/// otherwise "not found", the sign-in form, or a refusal.
#[component]
pub fn Gate(surfaces: &'static [Surface], need: Need, children: ChildrenFn) -> impl IntoView {
    let auth = Auth::use_auth();
    // No Suspense here: under one, the children (and the resources their components create)
    // would be built once per dry run, fetching the page's data several times per request.
    move || {
        let info = match auth.session.get() {
            Ok(info) => info,
            Err(e) => return error_note(e).into_any(),
        };
        if !surfaces.contains(&info.surface) {
            return view! { <NotFound/> }.into_any();
        }
        let admin = |p: &Principal| p.is_super_admin() || p.is_tenant_admin();
        match (need, &info.principal) {
            (Need::Anyone, _) => children().into_any(),
            (_, None) => view! { <LoginForm/> }.into_any(),
            (Need::Admin, Some(p)) if !admin(p) => view! {
                <section class="card narrow">
                    <h1>"Not allowed"</h1>
                    <p>"This page is for administrators only."</p>
                </section>
            }
            .into_any(),
            _ => children().into_any(),
        }
    }
}
