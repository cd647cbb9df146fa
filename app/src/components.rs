//! The widgets pages share: error and empty notes, the loading wrapper, the risk badge and a
//! skill's versions table.

use leptos::prelude::*;
use model::hot_update::SkillVersionInfo;
use model::skill::RiskLevel;
use model::UserError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::hot_updates::{SwitchSkillVersion, WithdrawSkillVersion};
use crate::words::when;

pub fn error_note(e: UserError) -> impl IntoView {
    view! { <p class="error" role="alert">{e.message}</p> }
}

/// A loaded view, or the message of why it could not load. Rendered on the server, the page
/// then answers with the error's status (404 for another tenant's or a missing execution).
pub fn or_error<V: IntoView + 'static>(result: Result<V, UserError>) -> AnyView {
    match result {
        Ok(v) => v.into_any(),
        Err(e) => {
            #[cfg(feature = "ssr")]
            crate::server::set_error_status(&e);
            error_note(e).into_any()
        }
    }
}

/// A resource's view once loaded, or why it could not load; "Loading…" before the first answer,
/// and the previous view while it loads again.
pub fn loaded<T, V>(
    resource: Resource<Result<T, UserError>>,
    show: impl Fn(T) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let show = show.clone();
                Suspend::new(async move { or_error(resource.await.map(show)) })
            }}
        </Transition>
    }
}

/// In place of an empty list: why it is empty and what to do next.
pub fn empty_note(content: impl IntoView + 'static) -> AnyView {
    view! { <section class="card empty" data-testid="empty"><p>{content}</p></section> }.into_any()
}

pub fn risk_badge(risk: RiskLevel) -> impl IntoView {
    view! { <span class=format!("badge risk-{}", risk.as_str())>{format!("{} risk", risk.as_str())}</span> }
}

fn make_live(
    action: ServerAction<SwitchSkillVersion>,
    slug: String,
    version: i32,
    tenant_id: Option<i64>,
    tenant_name: &str,
) -> impl IntoView {
    let ask = NodeRef::<leptos::html::Details>::new();
    let cancel = move |_| {
        if let Some(details) = ask.get() {
            details.set_open(false);
        }
    };
    view! {
        <details class="ask" node_ref=ask data-testid="make-live">
            <summary class="button">"Make live"</summary>
            <div class="confirm" role="group">
                <p>{format!("Make version {version} live for all {tenant_name} users?")}</p>
                <ActionForm action=action attr:class="inline">
                    <input type="hidden" name="slug" value=slug/>
                    <input type="hidden" name="version" value=version/>
                    {tenant_id.map(|t| view! { <input type="hidden" name="tenant_id" value=t/> })}
                    <button type="submit">{format!("Make version {version} live")}</button>
                </ActionForm>
                <button type="button" on:click=cancel>"Cancel"</button>
            </div>
        </details>
    }
}

/// A skill's versions in the tenant `tenant_name`, with a button to make another one live when
/// `switch` is given (never for a withdrawn one: its reason is shown instead), and the
/// console's withdraw form when `withdraw` is given (with the tenant's id).
pub fn versions_table(
    tenant_name: String,
    slug: String,
    versions: Vec<SkillVersionInfo>,
    switch: Option<(ServerAction<SwitchSkillVersion>, Option<i64>)>,
    withdraw: Option<(ServerAction<WithdrawSkillVersion>, i64)>,
) -> impl IntoView {
    view! {
        <table class="grid" tabindex="0" data-testid="versions" data-skill=slug.clone()>
            <thead><tr>
                <th>"Version"</th><th>"Submitted by"</th><th>"Approved by"</th><th>"Registered"</th>
                <th>"Content hash"</th><th></th>
            </tr></thead>
            <tbody>
                {versions.into_iter().map(|v| {
                    let (slug, withdraw_slug) = (slug.clone(), slug.clone());
                    let withdrawn = v.withdrawn_reason.clone();
                    view! {
                        <tr data-version=v.version class:live=v.live>
                            <td>{v.version}</td>
                            <td>{v.submitted_by.clone().unwrap_or_else(|| v.registered_by.clone())}</td>
                            <td>{v.approved_by.clone().unwrap_or_else(|| "—".into())}</td>
                            <td>{when(v.registered_at)}</td>
                            <td class="hash">{v.content_hash[..12].to_string()}</td>
                            <td>
                                {if let Some(reason) = withdrawn.clone() {
                                    view! {
                                        <span class="badge withdrawn" data-testid="withdrawn">"withdrawn"</span>
                                        " " <span class="hint">{reason}</span>
                                    }.into_any()
                                } else if v.live {
                                    view! { <span class="badge live">"live"</span> }.into_any()
                                } else {
                                    switch.map(|(action, tenant_id)| {
                                        make_live(action, slug, v.version, tenant_id, &tenant_name)
                                    }).into_any()
                                }}
                                {withdraw.filter(|_| withdrawn.is_none()).map(|(action, tenant_id)| view! {
                                    <ActionForm action=action attr:class="inline" attr:data-testid="withdraw-form">
                                        <input type="hidden" name="tenant_id" value=tenant_id/>
                                        <input type="hidden" name="slug" value=withdraw_slug/>
                                        <input type="hidden" name="version" value=v.version/>
                                        <input type="text" name="reason" required maxlength="500" placeholder="Reason"/>
                                        <button type="submit" class="danger">"Withdraw"</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
