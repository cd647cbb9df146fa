//! The tenant front's skills: the list a user may run, and each skill's page with its README
//! and the form generated from its input schema.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use model::skill::{InputField, InputType};
use model::{SkillPage, SkillSummary, Surface, UserError};

use crate::components::{empty_note, error_note, loaded, risk_badge, versions_table};
use crate::hot_updates::SwitchSkillVersion;
use crate::layout::{Gate, Need};
use crate::words::PageTitle;

#[cfg(feature = "ssr")]
use crate::server::serve;

const TENANT: &[Surface] = &[Surface::TenantFront];

#[server(endpoint = "list-skills")]
pub async fn list_skills() -> Result<Vec<SkillSummary>, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::skills::list_visible(&ctx, tenant, user).await
    })
    .await
}

#[server(endpoint = "get-skill")]
pub async fn get_skill(slug: String, rerun_of: Option<i64>) -> Result<SkillPage, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::skills::page(&ctx, tenant, user, &slug, rerun_of).await
    })
    .await
}

#[component]
pub fn SkillsPage() -> impl IntoView {
    view! {
        <Gate surfaces=TENANT need=Need::SignedIn>
            <SkillList/>
        </Gate>
    }
}

#[component]
fn SkillList() -> impl IntoView {
    let skills = Resource::new(|| (), |_| list_skills());
    let auth = crate::Auth::use_auth();
    let admin = move || {
        auth.session
            .get_untracked()
            .ok()
            .and_then(|info| info.principal)
            .is_some_and(|p| p.is_tenant_admin())
    };
    view! {
        <PageTitle text="Skills"/>
        <h1>"Skills"</h1>
        {loaded(skills, move |rows| {
                    if rows.is_empty() {
                        return no_skills(admin());
                    }
                    view! {
                    <table class="grid" tabindex="0" data-testid="skills">
                        <thead><tr><th>"Skill"</th><th>"What it does"</th><th>"Risk"</th><th>"Version"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|s| view! {
                                <tr data-skill=s.slug.clone()>
                                    <td><a href=format!("/skills/{}", s.slug)>{s.name}</a></td>
                                    <td>{s.description}</td>
                                    <td>
                                        {risk_badge(s.risk)}
                                        {s.requires_confirmation.then(|| view! { " " <span class="badge">"needs confirmation"</span> })}
                                    </td>
                                    <td>{s.version}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    }.into_any()
                })}
    }
}

/// No skill to show: admins add one by submitting a script; others wait for one to be shared.
fn no_skills(admin: bool) -> AnyView {
    if admin {
        empty_note(view! {
            "No skills yet — " <a href="/submissions/new">"submit a script"</a>
            " and it becomes a skill once the platform approves it."
        })
    } else {
        empty_note(view! {
            "No skills yet. Your administrators add them; ask one for the skill you need, or "
            <a href="/assistant">"ask the assistant"</a> "."
        })
    }
}

#[component]
pub fn SkillPageView() -> impl IntoView {
    view! {
        <Gate surfaces=TENANT need=Need::SignedIn>
            <SkillDetail/>
        </Gate>
    }
}

#[component]
fn SkillDetail() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let switch = ServerAction::<SwitchSkillVersion>::new();
    let page = Resource::new(
        move || {
            (
                params.read().get("slug").unwrap_or_default(),
                query
                    .read()
                    .get("rerun")
                    .and_then(|r| r.parse::<i64>().ok()),
                switch.version().get(),
            )
        },
        |(slug, rerun, _)| get_skill(slug, rerun),
    );
    let switch_error = move || switch.value().get().and_then(|r| r.err()).map(error_note);
    let auth = crate::Auth::use_auth();
    let tenant_name = move || {
        auth.session
            .get_untracked()
            .ok()
            .and_then(|info| info.tenant_name)
            .unwrap_or_default()
    };
    // Messages of a refused run, one per field, carried back in the URL by the run endpoint.
    let errors = move || {
        query
            .read()
            .get("error")
            .map(|e| e.lines().map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    view! {
        {loaded(page, move |p| {
                    let action = format!("/skills/{}/run", p.summary.slug);
                    let rerun_of = p.rerun_of;
                    let fields = p.inputs.fields.clone();
                    // A refused run comes back with what was typed (`typed.<field>`).
                    let mut prefill = p.prefill.clone();
                    for f in &fields {
                        if let Some(v) = query.read_untracked().get(&format!("typed.{}", f.name)) {
                            prefill.insert(f.name.clone(), v);
                        }
                    }
                    view! {
                        <PageTitle text=p.summary.name.clone()/>
                        <div class="title-row">
                            <h1>{p.summary.name.clone()}</h1>
                            <span>{risk_badge(p.summary.risk)} " version " {p.summary.version}</span>
                        </div>
                        <p>{p.summary.description.clone()}</p>
                        <p class="hint">"Output: " {p.output_description.clone()}</p>
                        <section class="card">
                            <h2>"Run it"</h2>
                            {p.summary.requires_confirmation.then(|| view! {
                                <p class="hint">"This skill waits for an explicit confirmation before it runs."</p>
                            })}
                            {errors().into_iter().map(|e| view! { <p class="error" role="alert">{e}</p> }).collect_view()}
                            <form method="post" action=action enctype="multipart/form-data" data-testid="run-form">
                                {rerun_of.map(|id| view! { <input type="hidden" name="rerun_of" value=id/> })}
                                {fields.into_iter().map(|f| {
                                    let value = prefill.get(&f.name).cloned();
                                    input_for(f, value, rerun_of.is_some())
                                }).collect_view()}
                                <button type="submit">"Run"</button>
                            </form>
                        </section>
                        <section class="card readme" data-testid="readme" inner_html=p.readme_html.clone()></section>
                        <section class="card">
                            <h2>"Versions"</h2>
                            {versions_table(tenant_name(), p.summary.slug.clone(), p.versions.clone(), p.can_switch_version.then_some((switch, None)), None)}
                        </section>
                    }
                })}
        {switch_error}
    }
}

/// The form control of one input field, with the browser-side checks the schema allows.
pub(crate) fn input_for(field: InputField, value: Option<String>, rerun: bool) -> impl IntoView {
    let default = field.default.as_ref().map(|d| match d {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let value = value.or(default);
    let required = field.required;
    let name = field.name.clone();
    let control = match field.kind {
        InputType::String => view! {
            <input type="text" name=name required=required maxlength=field.max_length value=value/>
        }
        .into_any(),
        InputType::Integer | InputType::Number => view! {
            <input type="number" name=name required=required min=field.min max=field.max
                step=if field.kind == InputType::Integer { "1" } else { "any" } value=value/>
        }
        .into_any(),
        InputType::Boolean => view! {
            <input type="checkbox" name=name value="true" checked=value.as_deref() == Some("true")/>
        }
        .into_any(),
        InputType::Enum => view! {
            <select name=name required=required>
                {(!required).then(|| view! { <option value="">"—"</option> })}
                {field.choices.iter().map(|c| {
                    let selected = value.as_deref() == Some(c.as_str());
                    view! { <option value=c.clone() selected=selected>{c.clone()}</option> }
                }).collect_view()}
            </select>
        }
        .into_any(),
        InputType::Date => view! {
            <input type="date" name=name required=required value=value/>
        }
        .into_any(),
        // On "run again", an empty file input reuses the earlier execution's file.
        InputType::File => view! {
            <input type="file" name=name required=required && !rerun/>
            {rerun.then(|| view! { <span class="hint">" Leave empty to reuse the earlier file."</span> })}
        }
        .into_any(),
        // A folder: one .zip (or .tar.gz) of it, or its files chosen together; on "run again",
        // left empty, the earlier execution's folder.
        InputType::Folder => view! {
            <input type="file" name=name required=required && !rerun multiple/>
            <span class="hint">
                {if rerun {
                    " A .zip of the folder, or several files at once; leave empty to reuse the earlier folder."
                } else {
                    " A .zip of the folder, or several files at once."
                }}
            </span>
        }
        .into_any(),
    };
    view! {
        <label>
            {field.label.clone()} {(!required).then_some(" (optional)")}
            {control}
            {field.description.map(|d| view! { <span class="hint">{d}</span> })}
        </label>
    }
}
