//! The tenant's secrets (tenant admins): named values its skills' runs receive as environment
//! variables. A value is entered here and never shown again: only its last 4 characters.

use leptos::prelude::*;
use model::secrets::{SecretInfo, MAX_NAME, MAX_VALUE, MIN_VALUE};
use model::{Surface, UserError};

use crate::components::{empty_note, error_note, loaded};
use crate::layout::{Gate, Need};
use crate::words::{when, PageTitle};

#[cfg(feature = "ssr")]
use crate::server::serve;

#[server(endpoint = "list-secrets")]
pub async fn list_secrets() -> Result<Vec<SecretInfo>, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_admin()?;
        domain::secrets::list(&ctx, tenant, user).await
    })
    .await
}

/// Stores a secret; answers what the list shows of it (never the value).
#[server(endpoint = "set-secret")]
pub async fn set_secret(name: String, value: String) -> Result<SecretInfo, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_admin()?;
        domain::secrets::set(&ctx, tenant, user, &caller.actor(), &name, &value)
            .await
            .map(|(info, _)| info)
    })
    .await
}

#[server(endpoint = "delete-secret")]
pub async fn delete_secret(name: String) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_admin()?;
        domain::secrets::delete(&ctx, tenant, user, &caller.actor(), &name).await
    })
    .await
}

#[component]
pub fn SecretsPage() -> impl IntoView {
    view! {
        <Gate surfaces=&[Surface::TenantFront] need=Need::Admin>
            <Secrets/>
        </Gate>
    }
}

#[component]
fn Secrets() -> impl IntoView {
    let set = ServerAction::<SetSecret>::new();
    let delete = ServerAction::<DeleteSecret>::new();
    let secrets = Resource::new(
        move || (set.version().get(), delete.version().get()),
        |_| list_secrets(),
    );
    // The value leaves the form once stored: it is not kept on the page.
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let (Some(Ok(_)), Some(form)) = (set.value().get(), form.get()) {
            form.reset();
        }
    });
    let saved = move || match set.value().get() {
        Some(Ok(s)) => Some(
            view! {
                <p class="card success" role="status" data-testid="secret-saved">
                    <code>{s.name}</code> " is saved; its value ends in " <code>{s.last4}</code> "."
                </p>
            }
            .into_any(),
        ),
        Some(Err(e)) => Some(error_note(e).into_any()),
        None => None,
    };
    let delete_error = move || delete.value().get().and_then(|r| r.err()).map(error_note);
    let name_pattern = format!("[A-Z][A-Z0-9_]{{0,{}}}", MAX_NAME - 1);
    view! {
        <PageTitle text="Secrets"/>
        <h1>"Secrets"</h1>
        <p class="hint">
            "A skill whose skill.toml names a secret (" <code>"secrets = [\"CRM_TOKEN\"]"</code>
            ") receives it as that environment variable when it runs; wherever a run prints it, "
            "its log, result and error show " <code>"***"</code> ". A value is never shown again "
            "once saved, only its last 4 characters; saving a name again replaces its value."
        </p>
        {saved}
        <section class="card narrow">
            <ActionForm action=set node_ref=form>
                <label>"Name"
                    <input type="text" name="name" required maxlength=MAX_NAME.to_string()
                        pattern=name_pattern autocomplete="off" spellcheck="false"
                        placeholder="CRM_TOKEN" data-testid="secret-name"/>
                </label>
                <p class="hint">"Upper-case letters, digits and _, starting with a letter."</p>
                <label>"Value"
                    <input type="password" name="value" required minlength=MIN_VALUE.to_string()
                        maxlength=MAX_VALUE.to_string() autocomplete="new-password"
                        data-testid="secret-value"/>
                </label>
                <button type="submit">"Save secret"</button>
            </ActionForm>
        </section>
        {delete_error}
        {loaded(secrets, move |rows| {
                    if rows.is_empty() {
                        return empty_note("No secrets yet — save one above for the skills that name it.");
                    }
                    view! {
                        <table class="grid" tabindex="0" data-testid="secrets">
                            <thead><tr><th>"Name"</th><th>"Value"</th><th>"Updated"</th><th>"By"</th><th></th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|s| {
                                    let name = s.name.clone();
                                    view! {
                                    <tr data-secret=s.name.clone()>
                                        <td><code>{s.name.clone()}</code></td>
                                        <td class="hash" data-testid="secret-last4">"…" {s.last4.clone()}</td>
                                        <td>{when(s.updated_at)}</td>
                                        <td>{s.updated_by.clone()}</td>
                                        <td>
                                            <ActionForm action=delete attr:class="inline">
                                                <input type="hidden" name="name" value=name/>
                                                <button type="submit" class="link danger">"Delete"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }}).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                })}
    }
}
