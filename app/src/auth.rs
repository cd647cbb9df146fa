//! Signing in and out on every surface, and the session everyone else reads.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use model::{SessionInfo, UserError};

#[cfg(feature = "ssr")]
use crate::server::{caller, serve, set_session_cookie};

/// The current surface, tenant and user, for the whole page.
#[server(endpoint = "current-session")]
pub async fn current_session() -> Result<SessionInfo, UserError> {
    request_session()
}

/// The session of the request being served, known without waiting: the host layer identified
/// the caller before the page started rendering.
#[cfg(feature = "ssr")]
fn request_session() -> Result<SessionInfo, UserError> {
    let (_, caller) = caller()?;
    Ok(SessionInfo {
        surface: caller.surface(),
        tenant_name: caller.binding.tenant.as_ref().map(|t| t.name.clone()),
        principal: caller.signed_in.as_ref().map(|s| s.principal.clone()),
    })
}

#[server(endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        let realm = caller.require_realm()?;
        let session =
            domain::accounts::login(&ctx, realm, &username, password, &caller.meta).await?;
        set_session_cookie(Some((&session.token, session.expires_at)));
        Ok(())
    })
    .await
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), UserError> {
    serve(async |ctx, caller| {
        if let (Some(realm), Some(token)) = (caller.realm(), &caller.session_token) {
            domain::accounts::logout(&ctx, realm, token, &caller.meta).await?;
        }
        set_session_cookie(None);
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}

/// Sign-in state shared by every page: the actions that change it and the session they refresh.
#[derive(Clone, Copy)]
pub struct Auth {
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub sign_up: ServerAction<crate::free_console::SignUp>,
    /// Known synchronously, so that gated pages render (and create their resources) once: it is
    /// computed on the server, carried in the page for hydration, and refreshed after each
    /// sign-in, sign-up or sign-out.
    pub session: RwSignal<Result<SessionInfo, UserError>>,
}

impl Auth {
    pub fn provide() {
        let login = ServerAction::<Login>::new();
        let logout = ServerAction::<Logout>::new();
        let sign_up = ServerAction::<crate::free_console::SignUp>::new();
        #[cfg(feature = "ssr")]
        let initial = SharedValue::new(request_session).into_inner();
        #[cfg(not(feature = "ssr"))]
        let initial = SharedValue::new(|| {
            Err(UserError::new(
                model::ErrorKind::Internal,
                "The session is only known on the server.",
            ))
        })
        .into_inner();
        let session = RwSignal::new(initial);
        Effect::new(move |first_run: Option<()>| {
            login.version().track();
            logout.version().track();
            sign_up.version().track();
            if first_run.is_some() {
                leptos::task::spawn_local(async move { session.set(current_session().await) });
            }
        });
        provide_context(Auth {
            login,
            logout,
            sign_up,
            session,
        });
    }

    pub fn use_auth() -> Auth {
        expect_context::<Auth>()
    }
}

/// The sign-in form; shown in place of any page that needs a signed-in user.
#[component]
pub fn LoginForm(#[prop(optional)] title: Option<String>) -> impl IntoView {
    let auth = Auth::use_auth();
    let error = move || {
        auth.login
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| view! { <p class="error" role="alert">{e.message}</p> })
    };
    view! {
        <section class="card narrow">
            <h2>{title.unwrap_or_else(|| "Sign in".into())}</h2>
            <ActionForm action=auth.login>
                <label>"User name" <input type="text" name="username" autocomplete="username" required/></label>
                <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                {error}
                <button type="submit">"Sign in"</button>
            </ActionForm>
        </section>
    }
}

/// `/login`: the form, then home once signed in.
#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = Auth::use_auth();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = auth.login.value().get() {
            navigate("/", Default::default());
        }
    });
    view! { <crate::words::PageTitle text="Sign in"/> <LoginForm/> }
}
