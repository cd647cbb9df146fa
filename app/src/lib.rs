//! The pages of all four surfaces. The Host's binding picks the surface; every page says which
//! surfaces it belongs to and what right it needs, and renders "not found" anywhere else.

mod agents;
mod audit;
mod auth;
mod brain;
mod components;
mod console;
mod dashboard;
mod executions;
mod experience;
mod free_console;
mod hot_updates;
mod layout;
mod secrets;
#[cfg(feature = "ssr")]
mod server;
mod skills;
mod storage;
mod tenant_front;
mod tokens;
mod words;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};
use model::Surface;

pub use auth::Auth;
use layout::{Header, NotFound};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    // A page may run scripts from this origin only, and inline ones carrying this response's nonce
    // (Leptos's hydration script and serialized data); the server's security headers give every
    // other answer a policy of its own and leave this one alone.
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        let policy = format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'"
        );
        if let Ok(policy) = axum::http::HeaderValue::from_str(&policy) {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="data:,"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Every route renders in `SsrMode::Async`: the page's data is loaded before the first byte, so the
/// HTML is complete without JavaScript (plain form posts work) and a page can still set its
/// status (404) after loading. Our pages load a few small queries; streaming would gain nothing.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="execgov" href="/pkg/execgov.css"/>
        <Title text="ExecGov"/>
        <Router>
            <AuthScope>
            <Header/>
            <main class="page" id="content" tabindex="-1">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Home ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=auth::LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/signup") view=free_console::SignUpPage ssr=SsrMode::Async/>
                    <Route path=path!("/tenants") view=console::TenantsPage ssr=SsrMode::Async/>
                    <Route path=path!("/tenants/new") view=console::NewTenantPage ssr=SsrMode::Async/>
                    <Route path=path!("/tenants/:id") view=console::TenantPage ssr=SsrMode::Async/>
                    <Route path=path!("/users") view=tenant_front::UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view=audit::AuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/audit/verify") view=console::AuditCheckPage ssr=SsrMode::Async/>
                    <Route path=path!("/logins") view=audit::LoginLogPage ssr=SsrMode::Async/>
                    <Route path=path!("/my-tenants") view=tenant_front::MyTenantsPage ssr=SsrMode::Async/>
                    <Route path=path!("/skills") view=skills::SkillsPage ssr=SsrMode::Async/>
                    <Route path=path!("/skills/:slug") view=skills::SkillPageView ssr=SsrMode::Async/>
                    <Route path=path!("/executions") view=executions::ExecutionsPage ssr=SsrMode::Async/>
                    <Route path=path!("/executions/:id") view=executions::ExecutionPage ssr=SsrMode::Async/>
                    <Route path=path!("/tokens") view=tokens::TokensPage ssr=SsrMode::Async/>
                    <Route path=path!("/secrets") view=secrets::SecretsPage ssr=SsrMode::Async/>
                    <Route path=path!("/agents") view=agents::AgentsPage ssr=SsrMode::Async/>
                    <Route path=path!("/assistant") view=brain::AssistantPage ssr=SsrMode::Async/>
                    <Route path=path!("/assistant/:id") view=brain::ConversationPage ssr=SsrMode::Async/>
                    <Route path=path!("/submissions") view=hot_updates::SubmissionsPage ssr=SsrMode::Async/>
                    <Route path=path!("/submissions/new") view=hot_updates::NewSubmissionPage ssr=SsrMode::Async/>
                    <Route path=path!("/submissions/:id") view=hot_updates::SubmissionPage ssr=SsrMode::Async/>
                    <Route path=path!("/reviews") view=hot_updates::ReviewsPage ssr=SsrMode::Async/>
                    <Route path=path!("/reviews/:id") view=hot_updates::ReviewPage ssr=SsrMode::Async/>
                </Routes>
            </main>
            </AuthScope>
        </Router>
    }
}

/// Provides `Auth` to the header and every page. Inside the router, so that a sign-in refused
/// without JavaScript (a plain form post, redirected back with the error in the URL) still
/// shows its message: the actions read it from context when they are created.
#[component]
fn AuthScope(children: Children) -> impl IntoView {
    leptos_router::hooks::use_url()
        .read_untracked()
        .provide_server_action_error();
    Auth::provide();
    children()
}

/// `/`: each surface's own home; signed in, its dashboard.
#[component]
fn Home() -> impl IntoView {
    let auth = Auth::use_auth();
    move || match auth.session.get() {
        Ok(info) => match info.surface {
            Surface::PublicConsole => console::console_home(info).into_any(),
            Surface::TenantFront => tenant_front::tenant_home(info).into_any(),
            Surface::FreeConsole => free_console::free_home(info).into_any(),
            Surface::Experience => experience::experience_home().into_any(),
        },
        Err(e) => components::error_note(e).into_any(),
    }
}
