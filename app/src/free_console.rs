//! The free console: personal free edition with self-signup.

use leptos::prelude::*;
use model::{SessionInfo, Surface, UserError};

use crate::auth::{Auth, LoginForm};
use crate::components::error_note;
use crate::dashboard::TenantHome;
use crate::layout::{Gate, Need};

#[cfg(feature = "ssr")]
use crate::server::{serve, set_session_cookie};

#[server(endpoint = "sign-up")]
pub async fn sign_up(username: String, password: String) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        let tenant = caller.tenant()?;
        let session =
            domain::accounts::sign_up_free(&ctx, tenant, &username, password, &caller.meta).await?;
        set_session_cookie(Some((&session.token, session.expires_at)));
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}

pub fn free_home(info: SessionInfo) -> impl IntoView {
    match info.principal {
        None => view! {
            <section class="card narrow">
                <h1>"ExecGov free edition"</h1>
                <p>"Your personal space for governed scripts. " <a href="/signup">"Create a free account"</a> " or sign in."</p>
            </section>
            <LoginForm/>
        }
        .into_any(),
        Some(p) => view! {
            <div class="dash-title">
                <h1>"Your free space"</h1>
                <p>"Signed in as " <strong>{p.username().to_string()}</strong> "."</p>
            </div>
            <TenantHome surface=Surface::FreeConsole/>
        }
        .into_any(),
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    view! {
        <Gate surfaces=&[Surface::FreeConsole] need=Need::Anyone>
            <SignUpForm/>
        </Gate>
    }
}

#[component]
fn SignUpForm() -> impl IntoView {
    let auth = Auth::use_auth();
    let error = move || {
        auth.sign_up
            .value()
            .get()
            .and_then(|r| r.err())
            .map(error_note)
    };
    view! {
        <crate::words::PageTitle text="Create a free account"/>
        <section class="card narrow">
            <h1>"Create a free account"</h1>
            <ActionForm action=auth.sign_up>
                <label>"User name" <input type="text" name="username" required minlength="3" maxlength="40" autocomplete="username"/></label>
                <label>"Password" <input type="password" name="password" required minlength="12" autocomplete="new-password"/></label>
                <p class="hint">"At least 12 characters, with letters and digits."</p>
                {error}
                <button type="submit">"Sign up"</button>
            </ActionForm>
        </section>
    }
}
