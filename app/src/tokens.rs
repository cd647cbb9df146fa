//! Personal access tokens for the REST API and `execgov-cli`: created here (the secret shown
//! once), listed and revoked.

use leptos::prelude::*;
use model::api::{ApiToken, CreatedApiToken};
use model::{Surface, UserError};

use crate::components::{empty_note, error_note, loaded};
use crate::layout::{Gate, Need};
use crate::words::{when, PageTitle};

#[cfg(feature = "ssr")]
use crate::server::serve;

const TENANT_SURFACES: &[Surface] = &[Surface::TenantFront, Surface::FreeConsole];

#[server(endpoint = "list-tokens")]
pub async fn list_tokens() -> Result<Vec<ApiToken>, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::tokens::list(&ctx, tenant, user, domain::tokens::TokenKind::Personal).await
    })
    .await
}

#[server(endpoint = "create-token")]
pub async fn create_token(name: String, days: Option<i64>) -> Result<CreatedApiToken, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::tokens::create(
            &ctx,
            tenant,
            user,
            &caller.actor(),
            &name,
            days,
            &domain::tokens::NewToken::Personal,
        )
        .await
    })
    .await
}

#[server(endpoint = "revoke-token")]
pub async fn revoke_token(id: i64) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::tokens::revoke(&ctx, tenant, user, &caller.actor(), id).await
    })
    .await
}

#[component]
pub fn TokensPage() -> impl IntoView {
    view! {
        <Gate surfaces=TENANT_SURFACES need=Need::SignedIn>
            <Tokens/>
        </Gate>
    }
}

#[component]
fn Tokens() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    let created = move || {
        match create.value().get() {
        Some(Ok(c)) => Some(
            view! {
                <section class="card" data-testid="new-token">
                    <h2>"Your new token"</h2>
                    <p>"Copy it now: it is not shown again."</p>
                    <pre class="hash" data-testid="token-secret">{c.secret}</pre>
                    <p class="hint">"Use it as " <code>"Authorization: Bearer <token>"</code> " or with " <code>"execgov-cli login --token"</code> "."</p>
                </section>
            }
            .into_any(),
        ),
        Some(Err(e)) => Some(error_note(e).into_any()),
        None => None,
    }
    };
    let revoke_error = move || revoke.value().get().and_then(|r| r.err()).map(error_note);
    view! {
        <PageTitle text="Access tokens"/>
        <h1>"Access tokens"</h1>
        <p class="hint">"Tokens let the REST API and execgov-cli act as you on this tenant's address only."</p>
        {created}
        <section class="card narrow">
            <ActionForm action=create>
                <label>"Name" <input type="text" name="name" required maxlength="80" placeholder="build server"/></label>
                <label>"Days until it expires" <input type="number" name="days" min="1" max="366" value="90"/></label>
                <button type="submit">"Create token"</button>
            </ActionForm>
        </section>
        {revoke_error}
        {loaded(tokens, move |rows| {
                    if rows.is_empty() {
                        return empty_note("No tokens yet — create one above to use the REST API or execgov-cli.");
                    }
                    token_table(rows, revoke, "tokens").into_any()
                })}
    }
}

/// Tokens with who owns them, when they were made, expire and were last used, and a Revoke
/// button for live ones: the personal tokens page and the agents page show theirs alike.
pub(crate) fn token_table(
    rows: Vec<ApiToken>,
    revoke: ServerAction<RevokeToken>,
    test_id: &'static str,
) -> impl IntoView {
    view! {
        <table class="grid" tabindex="0" data-testid=test_id>
            <thead><tr><th>"Name"</th><th>"Starts with"</th><th>"Owner"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th></th></tr></thead>
            <tbody>
                {rows.into_iter().map(|t| view! {
                    <tr data-token=t.id>
                        <td>
                            {t.name.clone()}
                            {(!t.labels.is_empty()).then(|| view! {
                                <span class="hint" data-testid="token-labels">" · labels: " {t.labels.join(", ")}</span>
                            })}
                        </td>
                        <td class="hash">{t.prefix.clone()} "…"</td>
                        <td>{t.owner.clone()}</td>
                        <td>{when(t.created_at)}</td>
                        <td>{when(t.expires_at)}</td>
                        <td>{match t.last_used_at {
                            Some(at) => when(at).into_any(),
                            None => "never".into_any(),
                        }}</td>
                        <td>
                            {if t.revoked {
                                view! { <span class="badge disabled">"revoked"</span> }.into_any()
                            } else {
                                view! {
                                    <ActionForm action=revoke attr:class="inline">
                                        <input type="hidden" name="id" value=t.id/>
                                        <button type="submit" class="link danger">"Revoke"</button>
                                    </ActionForm>
                                }.into_any()
                            }}
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
