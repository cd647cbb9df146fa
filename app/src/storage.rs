//! Storage on the public console: each tenant's use (attachments, uploads, artifacts,
//! submissions, logs) against its quotas, and the super-admin's form for a tenant's limits.

use leptos::prelude::*;
use model::storage::{human_bytes, TenantStorage};
use model::UserError;

use crate::components::{error_note, loaded};

#[cfg(feature = "ssr")]
use crate::server::serve;

#[server(endpoint = "storage-use")]
pub async fn storage_use() -> Result<Vec<TenantStorage>, UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        domain::storage::all_tenants(&ctx).await
    })
    .await
}

#[server(endpoint = "tenant-storage")]
pub async fn get_tenant_storage(id: i64) -> Result<TenantStorage, UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        domain::storage::tenant(&ctx, id).await
    })
    .await
}

#[server(endpoint = "set-storage-limits")]
pub async fn set_storage_limits(
    id: i64,
    tenant_quota_mib: String,
    user_quota_mib: String,
    retention_days: String,
) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        let change = domain::storage::PolicyChange::from_form(
            &tenant_quota_mib,
            &user_quota_mib,
            &retention_days,
        )?;
        domain::storage::set_limits(&ctx, &caller.actor(), id, change).await
    })
    .await
}

/// Used of quota, e.g. "1.2 GiB of 10.0 GiB".
fn of_quota(t: &TenantStorage) -> String {
    format!(
        "{} of {}",
        human_bytes(t.usage.counted()),
        human_bytes(t.tenant_quota)
    )
}

/// Every tenant's storage, under the tenant list.
#[component]
pub fn StorageTable() -> impl IntoView {
    let rows = Resource::new(|| (), |_| storage_use());
    view! {
        <h2>"Storage"</h2>
        {loaded(rows, move |rows| view! {
                    <table class="grid" tabindex="0" data-testid="storage">
                        <thead><tr>
                            <th>"Tenant"</th><th>"Attachments"</th><th>"Uploads"</th><th>"Artifacts"</th>
                            <th>"Submissions"</th><th>"Logs"</th><th>"Quota used"</th><th>"Retention"</th>
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|t| view! {
                                <tr data-testid=format!("storage-{}", t.tenant_id)>
                                    <td><a href=format!("/tenants/{}", t.tenant_id)>{t.tenant_name.clone()}</a></td>
                                    <td>{human_bytes(t.usage.attachments)}</td>
                                    <td>{human_bytes(t.usage.uploads)}</td>
                                    <td>{human_bytes(t.usage.artifacts)}</td>
                                    <td>{human_bytes(t.usage.submissions)}</td>
                                    <td>{human_bytes(t.usage.logs)}</td>
                                    <td>{of_quota(&t)}</td>
                                    <td>{format!("{} days", t.retention_days)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
    }
}

/// One tenant's storage and the form for its limits, on the tenant's page.
#[component]
pub fn TenantStorageCard(tenant_id: i64) -> impl IntoView {
    let set = ServerAction::<SetStorageLimits>::new();
    let storage = Resource::new(
        move || set.version().get(),
        move |_| get_tenant_storage(tenant_id),
    );
    let error = move || set.value().get().and_then(|r| r.err()).map(error_note);
    let mib = |bytes: i64| (bytes / (1024 * 1024)).to_string();
    view! {
        {loaded(storage, move |t| view! {
                    <section class="card" data-testid="tenant-storage">
                        <h2>"Storage"</h2>
                        <dl class="facts">
                            <dt>"Attachments"</dt><dd>{human_bytes(t.usage.attachments)}</dd>
                            <dt>"Run uploads"</dt><dd>{human_bytes(t.usage.uploads)}</dd>
                            <dt>"Artifacts"</dt><dd>{human_bytes(t.usage.artifacts)}</dd>
                            <dt>"Submissions"</dt><dd>{human_bytes(t.usage.submissions)}</dd>
                            <dt>"Logs"</dt><dd>{human_bytes(t.usage.logs)}</dd>
                            <dt>"Tenant quota"</dt><dd>{of_quota(&t)}</dd>
                            <dt>"Per user"</dt><dd>{human_bytes(t.user_quota)}</dd>
                            <dt>"Run files and logs kept"</dt><dd>{format!("{} days", t.retention_days)}</dd>
                        </dl>
                        <p class="hint">{if t.custom { "Limits set for this tenant; empty fields take the server's defaults." } else { "The server's defaults apply." }}</p>
                        <ActionForm action=set>
                            <input type="hidden" name="id" value=tenant_id/>
                            <label>"Tenant quota (MiB)" <input type="number" name="tenant_quota_mib" min="0" value=mib(t.tenant_quota)/></label>
                            <label>"Quota per user (MiB)" <input type="number" name="user_quota_mib" min="0" value=mib(t.user_quota)/></label>
                            <label>"Keep run files and logs (days)" <input type="number" name="retention_days" min="1" value=t.retention_days/></label>
                            <button type="submit">"Set limits"</button>
                        </ActionForm>
                    </section>
                })}
        {error}
    }
}
