//! Hot updates: tenant admins submit script folders and follow their timeline on the tenant
//! front; super-admins review them in the public console; both can switch a skill's live
//! version (roll back, roll forward).

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use model::hot_update::{
    FileDiff, LineChange, PackageChange, PackageLock, SkillFlags, SkillVersions, SubmissionDetail,
    SubmissionStatus, SubmissionSummary,
};
use model::skill::RiskLevel;
use model::{Surface, UserError};

use crate::components::{empty_note, error_note, loaded, risk_badge, versions_table};
use crate::layout::{Gate, Need};
use crate::words::{when, PageTitle};

#[cfg(feature = "ssr")]
use crate::server::serve;

const TENANT: &[Surface] = &[Surface::TenantFront];
const CONSOLE: &[Surface] = &[Surface::PublicConsole];

#[server(endpoint = "list-submissions")]
pub async fn list_submissions() -> Result<Vec<SubmissionSummary>, UserError> {
    serve(async |ctx, caller| {
        let (tenant, _) = caller.tenant_admin()?;
        domain::hot_updates::list_for_tenant(&ctx, tenant).await
    })
    .await
}

#[server(endpoint = "review-queue")]
pub async fn review_queue() -> Result<Vec<SubmissionSummary>, UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        domain::hot_updates::review_queue(&ctx).await
    })
    .await
}

/// A submission: a tenant admin sees their tenant's own, a super-admin (on the console) any.
#[server(endpoint = "get-submission")]
pub async fn get_submission(id: i64) -> Result<SubmissionDetail, UserError> {
    use domain::hot_updates::Viewer;
    serve(async |ctx, caller| {
        let viewer = match caller.surface() {
            Surface::PublicConsole => {
                caller.super_admin()?;
                Viewer::Platform
            }
            _ => Viewer::Tenant(caller.tenant_admin()?.0),
        };
        domain::hot_updates::detail(&ctx, id, viewer).await
    })
    .await
}

/// Approves with the reviewer's risk and flags (checkboxes: present means yes).
#[server(endpoint = "approve-submission")]
pub async fn approve_submission(
    id: i64,
    risk: String,
    ai_callable: Option<String>,
    manual_allowed: Option<String>,
    requires_confirmation: Option<String>,
    note: Option<String>,
) -> Result<SubmissionStatus, UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        let risk = RiskLevel::parse(&risk).ok_or_else(|| {
            domain::AppError::Invalid("Choose the risk: low, medium or high.".into())
        })?;
        let decided = SkillFlags {
            risk,
            ai_callable: ai_callable.is_some(),
            manual_allowed: manual_allowed.is_some(),
            requires_confirmation: requires_confirmation.is_some(),
        };
        domain::hot_updates::approve(
            &ctx,
            &caller.actor(),
            id,
            decided,
            note.as_deref().unwrap_or(""),
        )
        .await
    })
    .await
}

#[server(endpoint = "reject-submission")]
pub async fn reject_submission(id: i64, reason: String) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        domain::hot_updates::reject(&ctx, &caller.actor(), id, &reason).await
    })
    .await
}

/// Every skill of a tenant with its versions (console).
#[server(endpoint = "tenant-skills")]
pub async fn tenant_skills(tenant_id: i64) -> Result<Vec<SkillVersions>, UserError> {
    serve(async |ctx, caller| {
        caller.super_admin()?;
        let tenant = domain::tenancy::tenant_by_id(&ctx, tenant_id).await?;
        domain::skills::overview(&ctx, &tenant).await
    })
    .await
}

/// The tenant `tenant_id` for a super-admin on the console.
#[cfg(feature = "ssr")]
async fn console_tenant(
    ctx: &domain::Ctx,
    caller: &domain::caller::Caller,
    tenant_id: Option<i64>,
) -> domain::AppResult<domain::tenancy::Tenant> {
    caller.super_admin()?;
    let id =
        tenant_id.ok_or_else(|| domain::AppError::Invalid("Say which tenant's skill.".into()))?;
    domain::tenancy::tenant_by_id(ctx, id).await
}

/// Withdraws `version` of `slug` in the tenant `tenant_id` (super-admins, console): it is never
/// made live again there.
#[server(endpoint = "withdraw-skill-version")]
pub async fn withdraw_skill_version(
    tenant_id: i64,
    slug: String,
    version: i32,
    reason: String,
) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        let tenant = console_tenant(&ctx, &caller, Some(tenant_id)).await?;
        domain::skills::governance::withdraw_version(
            &ctx,
            &tenant,
            &caller.actor(),
            &slug,
            version,
            &reason,
        )
        .await
    })
    .await
}

/// Disables `slug` in the tenant `tenant_id` with a reason, or enables it again
/// (super-admins, console).
#[server(endpoint = "set-skill-disabled")]
pub async fn set_skill_disabled(
    tenant_id: i64,
    slug: String,
    disabled: bool,
    reason: Option<String>,
) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        let tenant = console_tenant(&ctx, &caller, Some(tenant_id)).await?;
        let reason = reason.unwrap_or_default();
        domain::skills::governance::set_disabled(
            &ctx,
            &tenant,
            &caller.actor(),
            &slug,
            disabled.then_some(reason.as_str()),
        )
        .await
    })
    .await
}

/// Makes `version` of `slug` live: a tenant admin in their own tenant, or a super-admin on the
/// console in the tenant `tenant_id`.
#[server(endpoint = "switch-skill-version")]
pub async fn switch_skill_version(
    slug: String,
    version: i32,
    tenant_id: Option<i64>,
) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        let actor = caller.actor();
        match caller.surface() {
            Surface::PublicConsole => {
                let tenant = console_tenant(&ctx, &caller, tenant_id).await?;
                domain::skills::switch_version(&ctx, &tenant, &actor, true, &slug, version).await
            }
            _ => {
                let (tenant, _) = caller.tenant_admin()?;
                domain::skills::switch_version(&ctx, tenant, &actor, false, &slug, version).await
            }
        }
    })
    .await
}

fn status_badge(s: &SubmissionSummary) -> impl IntoView {
    let label = match (&s.status, &s.failed_step) {
        (SubmissionStatus::Failed, Some(step)) => format!("failed at {step}"),
        (status, _) => status.label().to_string(),
    };
    view! {
        <span class=format!("badge status-{}", s.status.as_str()) data-testid="submission-status"
            data-status=s.status.as_str()>{label}</span>
    }
}

fn submission_rows(rows: Vec<SubmissionSummary>, base: &'static str, tenants: bool) -> AnyView {
    if rows.is_empty() && !tenants {
        return empty_note(view! {
            "No submissions yet — " <a href="/submissions/new">"submit a script"</a> " to add a skill."
        });
    }
    view! {
        <table class="grid" tabindex="0" data-testid="submissions">
            <thead><tr>
                <th>"#"</th>{tenants.then(|| view! { <th>"Tenant"</th> })}<th>"Skill"</th>
                <th>"Status"</th><th>"Submitted by"</th><th>"When"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|s| view! {
                    <tr data-submission=s.id>
                        <td><a href=format!("{base}/{}", s.id)>{s.id}</a></td>
                        {tenants.then(|| view! { <td>{s.tenant_name.clone()}</td> })}
                        <td>{s.skill_name.clone()} " " <span class="hint">{s.slug.clone()}</span></td>
                        <td>{status_badge(&s)}</td>
                        <td>{s.submitted_by.clone()}</td>
                        <td>{when(s.submitted_at)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn SubmissionsPage() -> impl IntoView {
    view! {
        <Gate surfaces=TENANT need=Need::Admin>
            <SubmissionList/>
        </Gate>
    }
}

#[component]
fn SubmissionList() -> impl IntoView {
    let rows = Resource::new(|| (), |_| list_submissions());
    view! {
        <PageTitle text="Script submissions"/>
        <div class="title-row">
            <h1>"Script submissions"</h1>
            <a class="button" href="/submissions/new">"Submit a script"</a>
        </div>
        <p class="hint">"Each submission is reviewed by the platform, then goes live in this tenant only."</p>
        {loaded(rows, move |rows| submission_rows(rows, "/submissions", false))}
    }
}

#[component]
pub fn NewSubmissionPage() -> impl IntoView {
    view! {
        <Gate surfaces=TENANT need=Need::Admin>
            <NewSubmissionForm/>
        </Gate>
    }
}

/// A plain multipart form (the archive uploads without JavaScript); a refusal comes back in the
/// URL as `?error=`.
#[component]
fn NewSubmissionForm() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.read().get("error");
    // After a refusal the form comes back with what was typed (all but the archive).
    let typed = move |name: &str| query.read_untracked().get(name);
    let scenario = typed("scenario").unwrap_or_default();
    let risk = typed("risk");
    let ticked = move |name: &str, default: bool| typed(name).map_or(default, |v| v == "true");
    view! {
        <PageTitle text="Submit a script"/>
        <section class="card narrow">
            <h1>"Submit a script"</h1>
            <p class="hint">
                "Upload the script folder as a .zip or .tar.gz: main.py or main.sh, README.md and skill.toml. "
                "A folder for a skill that exists here becomes its next version once approved."
            </p>
            {move || error().map(|e| view! { <p class="error" role="alert" data-testid="submit-error">{e}</p> })}
            <form method="post" action="/submissions" enctype="multipart/form-data" data-testid="submit-form">
                <label>"Script folder (.zip or .tar.gz)"
                    <input type="file" name="archive" required accept=".zip,.tar.gz,.tgz,application/zip,application/gzip"/>
                </label>
                <label>"Business scenario"
                    <textarea name="scenario" required maxlength="4000" rows="4"
                        placeholder="What problem does it solve, and who uses it?">{scenario}</textarea>
                </label>
                <label>"Proposed risk"
                    <select name="risk" required>
                        {RiskLevel::ALL.into_iter().map(|r| view! {
                            <option value=r.as_str() selected=risk.as_deref() == Some(r.as_str())>{r.as_str()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="check"><input type="checkbox" name="manual_allowed" value="true" checked=ticked("manual_allowed", true)/> " People may run it from the form"</label>
                <label class="check"><input type="checkbox" name="ai_callable" value="true" checked=ticked("ai_callable", false)/> " The assistant may call it"</label>
                <label class="check"><input type="checkbox" name="requires_confirmation" value="true" checked=ticked("requires_confirmation", false)/> " Each run waits for a confirmation"</label>
                <button type="submit">"Submit for review"</button>
            </form>
        </section>
    }
}

#[component]
pub fn SubmissionPage() -> impl IntoView {
    view! {
        <Gate surfaces=TENANT need=Need::Admin>
            <SubmissionView review=false/>
        </Gate>
    }
}

#[component]
pub fn ReviewsPage() -> impl IntoView {
    view! {
        <Gate surfaces=CONSOLE need=Need::Admin>
            <ReviewQueue/>
        </Gate>
    }
}

#[component]
fn ReviewQueue() -> impl IntoView {
    let rows = Resource::new(|| (), |_| review_queue());
    view! {
        <PageTitle text="Script reviews"/>
        <h1>"Script reviews"</h1>
        <p class="hint">"Submissions awaiting review, oldest first, then the latest decisions."</p>
        {loaded(rows, move |rows| {
                    let waiting = rows.iter().any(|s| s.status == SubmissionStatus::Submitted);
                    view! {
                        {(!waiting).then(|| empty_note("Nothing waiting for review. Scripts tenants submit appear here."))}
                        {(!rows.is_empty()).then(|| submission_rows(rows, "/reviews", true))}
                    }
                })}
    }
}

#[component]
pub fn ReviewPage() -> impl IntoView {
    view! {
        <Gate surfaces=CONSOLE need=Need::Admin>
            <SubmissionView review=true/>
        </Gate>
    }
}

/// One submission: facts, timeline, decision (console), diff, files and README.
#[component]
fn SubmissionView(review: bool) -> impl IntoView {
    let params = use_params_map();
    let approve = ServerAction::<ApproveSubmission>::new();
    let reject = ServerAction::<RejectSubmission>::new();
    let detail = Resource::new(
        move || {
            (
                params.read().get("id").and_then(|s| s.parse::<i64>().ok()),
                approve.version().get(),
                reject.version().get(),
            )
        },
        |(id, _, _)| async move {
            match id {
                Some(id) => get_submission(id).await,
                None => Err(UserError::new(
                    model::ErrorKind::NotFound,
                    "There is no such submission.",
                )),
            }
        },
    );
    let action_error = move || {
        approve
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| reject.value().get().and_then(|r| r.err()))
            .map(error_note)
    };
    view! {
        {loaded(detail, move |d| {
                    let pending = d.summary.status == SubmissionStatus::Submitted;
                    view! {
                        <PageTitle text=format!("Submission #{}: {}", d.summary.id, d.summary.skill_name)/>
                        <div class="title-row">
                            <h1>{format!("Submission #{}: {}", d.summary.id, d.summary.skill_name)}</h1>
                            {status_badge(&d.summary)}
                        </div>
                        <section class="card">
                            <dl class="facts">
                                <dt>"Tenant"</dt><dd>{d.summary.tenant_name.clone()}</dd>
                                <dt>"Skill"</dt><dd>{d.summary.slug.clone()} " (" {d.kind.clone()} ")"</dd>
                                <dt>"Archive"</dt><dd>{d.archive_name.clone()}</dd>
                                <dt>"Content hash"</dt><dd class="hash">{d.summary.content_hash.clone()}</dd>
                                <dt>"Submitted by"</dt><dd>{d.summary.submitted_by.clone()} ", " {when(d.summary.submitted_at)}</dd>
                                <dt>"Business scenario"</dt><dd class="prose">{d.scenario.clone()}</dd>
                                <dt>"Proposed"</dt><dd>{flags_view(&d.proposed)}</dd>
                                {d.decided.map(|f| view! { <dt>"Approved as"</dt><dd data-testid="decided">{flags_view(&f)}</dd> })}
                                {d.reviewed_by.clone().map(|r| view! { <dt>"Reviewed by"</dt><dd>{r}</dd> })}
                                {d.summary.reason.clone().map(|r| view! { <dt>"Reason"</dt><dd class="error" data-testid="submission-reason">{r}</dd> })}
                                {d.version.map(|v| view! {
                                    <dt>"Version"</dt>
                                    <dd>{v} {(!review).then(|| view! { " — " <a href=format!("/skills/{}", d.summary.slug)>"open the skill"</a> })}</dd>
                                })}
                                <dt>"Live version"</dt>
                                <dd>{d.live_version.map(|v| format!("version {v}")).unwrap_or_else(|| "none (a new skill)".into())}</dd>
                                {d.command_line.clone().map(|c| view! {
                                    <dt>"Command line"</dt><dd><code data-testid="command-line">{c}</code></dd>
                                })}
                                {(!d.stdin_lines.is_empty()).then(|| view! {
                                    <dt>"Keyboard answers"</dt>
                                    <dd data-testid="stdin-lines">{d.stdin_lines.iter().map(|l| view! { <code>{l.clone()}</code> " " }).collect_view()}</dd>
                                })}
                                {(!d.secrets.is_empty()).then(|| view! {
                                    <dt>"Secrets"</dt>
                                    <dd data-testid="secret-names">
                                        {d.secrets.iter().map(|n| view! { <code>{n.clone()}</code> " " }).collect_view()}
                                        <span class="hint">"(the tenant's secrets its runs receive as environment variables)"</span>
                                    </dd>
                                })}
                                {(!d.artifact_globs.is_empty()).then(|| view! {
                                    <dt>"Also collected"</dt>
                                    <dd data-testid="artifact-globs">{d.artifact_globs.join(", ")} " (besides output/)"</dd>
                                })}
                            </dl>
                        </section>
                        <section class="card">
                            <h2>"Timeline"</h2>
                            <ol class="timeline" data-testid="timeline">
                                {d.timeline.iter().map(|e| view! {
                                    <li data-status=e.status.clone()>
                                        <strong>{SubmissionStatus::parse(&e.status).map_or(e.status.clone(), |s| s.label().to_string())}</strong>
                                        " · " {when(e.at)} " · " {e.actor.clone()}
                                        {(!e.note.is_empty()).then(|| view! { <div class="hint">{e.note.clone()}</div> })}
                                    </li>
                                }).collect_view()}
                            </ol>
                            {d.verification.clone().map(|v| view! {
                                <details><summary>"Verification"</summary><pre data-testid="verification">{v}</pre></details>
                            })}
                        </section>
                        {packages_view(d.packages.clone(), &d.package_changes, compared_with(&d))}
                        {(review && pending).then(|| decision_forms(d.summary.id, d.proposed, approve, reject))}
                        {diff_view(&d.diff, compared_with(&d))}
                        <section class="card">
                            <h2>"Files"</h2>
                            {d.files.iter().map(|f| view! {
                                <details class="file" data-file=f.path.clone()>
                                    <summary>{f.path.clone()} " " <span class="hint">{format!("{} bytes", f.size)}</span></summary>
                                    {match &f.text {
                                        Some(text) => numbered(text).into_any(),
                                        None => view! { <p class="hint">"Binary file; not shown."</p> }.into_any(),
                                    }}
                                </details>
                            }).collect_view()}
                        </section>
                        <section class="card readme" data-testid="readme" inner_html=d.readme_html.clone()></section>
                    }
                })}
        {action_error}
    }
}

fn flags_view(f: &SkillFlags) -> impl IntoView {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    view! {
        {risk_badge(f.risk)}
        {format!(
            " · manual runs: {} · assistant may call: {} · confirmation: {}",
            yes_no(f.manual_allowed),
            yes_no(f.ai_callable),
            yes_no(f.requires_confirmation)
        )}
    }
}

/// A file's text with line numbers.
fn numbered(text: &str) -> impl IntoView {
    view! {
        <table class="code" tabindex="0">
            <tbody>
                {text.lines().enumerate().map(|(i, line)| view! {
                    <tr><td class="ln">{i + 1}</td><td><pre>{line.to_string()}</pre></td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The heading of what a submission changes: against the live version while it waits, against
/// the version before it once it is one; `None` for a new skill (nothing to compare with).
fn compared_with(d: &SubmissionDetail) -> Option<String> {
    let base = d.base_version?;
    Some(match d.version {
        Some(_) => format!("Changes against version {base}, the one before it"),
        None => format!("Changes against the live version {base}"),
    })
}

/// The Python packages it will run with (approved together with the code), and for an update
/// what changes against the version it is compared with.
fn packages_view(
    lock: Option<PackageLock>,
    changes: &[PackageChange],
    compared: Option<String>,
) -> impl IntoView {
    let changes = compared.map(|heading| {
        view! {
            <h3>{heading}</h3>
            {changes.is_empty().then(|| view! { <p class="hint">"No package changes."</p> })}
            <ul data-testid="package-changes">
                {changes.iter().map(|c| {
                    let (kind, text) = match (&c.live, &c.submitted) {
                        (None, Some(new)) => ("added", format!("{} {new} added", c.name)),
                        (Some(old), None) => ("removed", format!("{} {old} removed", c.name)),
                        (Some(old), Some(new)) => ("changed", format!("{} {old} → {new}", c.name)),
                        (None, None) => ("same", c.name.clone()),
                    };
                    view! { <li class=kind data-package=c.name.clone()>{text}</li> }
                }).collect_view()}
            </ul>
        }
    });
    view! {
        <section class="card" data-testid="packages">
            <h2>"Python packages"</h2>
            {match lock {
                None => view! { <p class="hint">"None declared: the standard library only."</p> }.into_any(),
                Some(lock) => view! {
                    <p class="hint">
                        {format!("Declared in {}; resolved to exact versions and hashes, {}. Lock ", lock.declared_in,
                            if lock.packages.iter().any(|p| p.from_source) {
                                "installed from wheels; those marked are built by the platform from their checked source, in a sandbox without network"
                            } else {
                                "installed from wheels only"
                            })}
                        <span class="hash">{lock.hash.clone()}</span>
                    </p>
                    <table class="grid" tabindex="0" data-testid="locked-packages">
                        <thead><tr><th>"Package"</th><th>"Version"</th></tr></thead>
                        <tbody>
                            {lock.packages.iter().map(|p| view! {
                                <tr data-package=p.name.clone()>
                                    <td>
                                        {p.name.clone()}
                                        {p.from_source.then(|| view! { " " <span class="badge" data-testid="built-from-source">"built from source"</span> })}
                                    </td>
                                    <td>{p.version.clone()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    <details><summary>"The lock"</summary>{numbered(&lock.text)}</details>
                }.into_any(),
            }}
            {changes}
        </section>
    }
}

fn diff_view(diff: &[FileDiff], compared: Option<String>) -> impl IntoView {
    let heading = compared?;
    Some(view! {
        <section class="card" data-testid="diff">
            <h2>{heading}</h2>
            {diff.is_empty().then(|| view! { <p class="hint">"No file differs."</p> })}
            {diff.iter().map(|f| view! {
                <h3>{f.path.clone()} " " <span class="badge">{f.change.clone()}</span></h3>
                <table class="code diff" tabindex="0">
                    <tbody>
                        {f.lines.iter().map(|l| {
                            let (class, mark) = match l.change {
                                LineChange::Same => ("same", " "),
                                LineChange::Added => ("added", "+"),
                                LineChange::Removed => ("removed", "-"),
                            };
                            view! {
                                <tr class=class>
                                    <td class="ln">{l.old}</td><td class="ln">{l.new}</td>
                                    <td><pre>{mark} {l.text.clone()}</pre></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }).collect_view()}
        </section>
    })
}

fn decision_forms(
    id: i64,
    proposed: SkillFlags,
    approve: ServerAction<ApproveSubmission>,
    reject: ServerAction<RejectSubmission>,
) -> impl IntoView {
    view! {
        <section class="card" data-testid="decision">
            <h2>"Decision"</h2>
            <ActionForm action=approve attr:data-testid="approve-form">
                <input type="hidden" name="id" value=id/>
                <label>"Risk"
                    <select name="risk">
                        {RiskLevel::ALL.into_iter().map(|r| view! {
                            <option value=r.as_str() selected=r == proposed.risk>{r.as_str()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="check"><input type="checkbox" name="manual_allowed" value="true" checked=proposed.manual_allowed/> " People may run it from the form"</label>
                <label class="check"><input type="checkbox" name="ai_callable" value="true" checked=proposed.ai_callable/> " The assistant may call it"</label>
                <label class="check"><input type="checkbox" name="requires_confirmation" value="true" checked=proposed.requires_confirmation/> " Each run waits for a confirmation"</label>
                <label>"Note (optional)" <input type="text" name="note" maxlength="500"/></label>
                <button type="submit">"Approve and make live"</button>
            </ActionForm>
            <ActionForm action=reject attr:data-testid="reject-form">
                <input type="hidden" name="id" value=id/>
                <label>"Reason for rejecting" <input type="text" name="reason" required maxlength="1000"/></label>
                <button type="submit" class="danger">"Reject"</button>
            </ActionForm>
        </section>
    }
}

/// "Make live", which asks first: every user of the tenant runs the version made live. A
/// `<details>` so that the question also opens without JavaScript.
/// The console's view of a tenant's skills and versions, with roll back / forward, withdrawing
/// a version and disabling a skill.
#[component]
pub fn TenantSkills(tenant_id: i64, tenant_name: String) -> impl IntoView {
    let switch = ServerAction::<SwitchSkillVersion>::new();
    let withdraw = ServerAction::<WithdrawSkillVersion>::new();
    let disable = ServerAction::<SetSkillDisabled>::new();
    let skills = Resource::new(
        move || {
            (
                switch.version().get(),
                withdraw.version().get(),
                disable.version().get(),
            )
        },
        move |_| tenant_skills(tenant_id),
    );
    let switch_error = move || {
        switch
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| withdraw.value().get().and_then(|r| r.err()))
            .or_else(|| disable.value().get().and_then(|r| r.err()))
            .map(error_note)
    };
    view! {
        <section class="card">
            <h2>"Skills and versions"</h2>
            {switch_error}
            {loaded(skills, move |skills| skills.into_iter().map(|s| {
                        let (form_slug, disabled_reason) = (s.slug.clone(), s.disabled_reason.clone());
                        view! {
                        <h3>{s.name.clone()} " " <span class="hint">{s.slug.clone()}</span></h3>
                        <ActionForm action=disable attr:class="inline" attr:data-testid="disable-form" attr:data-skill=s.slug.clone()>
                            <input type="hidden" name="tenant_id" value=tenant_id/>
                            <input type="hidden" name="slug" value=form_slug/>
                            {match disabled_reason {
                                Some(reason) => view! {
                                    <input type="hidden" name="disabled" value="false"/>
                                    <span class="badge disabled" data-testid="skill-disabled">"disabled by the platform"</span>
                                    " " <span class="hint">{reason}</span> " "
                                    <button type="submit">"Enable"</button>
                                }.into_any(),
                                None => view! {
                                    <input type="hidden" name="disabled" value="true"/>
                                    <input type="text" name="reason" required maxlength="500" placeholder="Reason"/>
                                    <button type="submit" class="danger">"Disable in this tenant"</button>
                                }.into_any(),
                            }}
                        </ActionForm>
                        {versions_table(tenant_name.clone(), s.slug, s.versions, Some((switch, Some(tenant_id))), Some((withdraw, tenant_id)))}
                    }}).collect_view())}
        </section>
    }
}
