//! Executions on the tenant front: one execution, live while it runs; and the history.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use model::skill::{result_view_from_str, ResultView};
use model::words::file_name;
use model::{
    ExecutionFilter, ExecutionStatus, ExecutionSummary, ExecutionView, Surface, UserError,
    LOG_PAGE_LINES,
};

use crate::components::{empty_note, error_note, loaded, or_error};
use crate::layout::{Gate, Need};
use crate::words::{when, PageTitle};

#[cfg(feature = "ssr")]
use crate::server::serve;

const TENANT: &[Surface] = &[Surface::TenantFront];

/// Execution `id`, with the page of its log after its first `log_after` lines (none: the first).
#[server(endpoint = "get-execution")]
pub async fn get_execution(id: i64, log_after: Option<i64>) -> Result<ExecutionView, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::executions::view_from_line(&ctx, tenant, user, id, log_after.unwrap_or(0)).await
    })
    .await
}

#[server(endpoint = "confirm-execution")]
pub async fn confirm_execution(id: i64) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::executions::confirm(&ctx, tenant, user, &caller.actor(), id).await
    })
    .await
}

#[server(endpoint = "cancel-execution")]
pub async fn cancel_execution(id: i64) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::executions::cancel(&ctx, tenant, user, &caller.actor(), id).await
    })
    .await
}

/// An empty filter travels as no field at all in the URL-encoded arguments (client-side
/// navigation to the unfiltered history), hence the default.
#[server(endpoint = "list-executions")]
pub async fn list_executions(
    #[server(default)] filter: ExecutionFilter,
) -> Result<Vec<ExecutionSummary>, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::executions::list(&ctx, tenant, user, &filter).await
    })
    .await
}

#[component]
pub fn ExecutionPage() -> impl IntoView {
    view! {
        <Gate surfaces=TENANT need=Need::SignedIn>
            <ExecutionDetail/>
        </Gate>
    }
}

/// Follows the execution's event stream and bumps `tick` on every change; closes the stream
/// once the execution has finished (EventSource would otherwise reconnect).
#[cfg(feature = "hydrate")]
pub(crate) fn follow(id: i64, tick: WriteSignal<u32>) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let Ok(source) = web_sys::EventSource::new(&format!("/executions/{id}/events")) else {
        return;
    };
    let handle = source.clone();
    let on_change =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            tick.update(|t| *t += 1);
            let status = event.data().as_string().unwrap_or_default();
            if ExecutionStatus::parse(&status).is_some_and(ExecutionStatus::is_final) {
                handle.close();
            }
        });
    let _ = source.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
    // The listener lives as long as the stream.
    on_change.forget();
}

/// The confirm and cancel buttons of execution panels (here and in the assistant's
/// conversations), and what went wrong with them.
#[derive(Clone, Copy)]
pub(crate) struct ExecutionActions {
    confirm: ServerAction<ConfirmExecution>,
    cancel: ServerAction<CancelExecution>,
}

impl ExecutionActions {
    pub(crate) fn new() -> ExecutionActions {
        ExecutionActions {
            confirm: ServerAction::new(),
            cancel: ServerAction::new(),
        }
    }

    /// Changes whenever one of them has been used: for the resources showing executions.
    pub(crate) fn version(self) -> (usize, usize) {
        (self.confirm.version().get(), self.cancel.version().get())
    }

    /// The refusal of the last confirm or cancel, if any.
    pub(crate) fn error(self) -> impl IntoView {
        move || {
            self.confirm
                .value()
                .get()
                .and_then(|r| r.err())
                .or_else(|| self.cancel.value().get().and_then(|r| r.err()))
                .map(error_note)
        }
    }
}

#[component]
fn ExecutionDetail() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let query = use_query_map();
    let log_after = move || {
        query
            .read()
            .get("log_after")
            .and_then(|s| s.parse::<i64>().ok())
    };
    let (tick, set_tick) = signal(0u32);
    let actions = ExecutionActions::new();
    let execution = Resource::new(
        move || (id(), log_after(), tick.get(), actions.version()),
        |(id, log_after, ..)| async move {
            match id {
                Some(id) => get_execution(id, log_after).await,
                None => Err(UserError::new(
                    model::ErrorKind::NotFound,
                    "There is no such execution.",
                )),
            }
        },
    );
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(id) = id() {
            follow(id, set_tick);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = set_tick;
    });
    view! {
        {actions.error()}
        {loaded(execution, move |e| {
                    let s = e.summary.clone();
                    let id = s.id;
                    view! {
                        <PageTitle text=format!("Execution {id}: {}", s.skill_name)/>
                        <div class="title-row">
                            <h1>{format!("Execution {id}: {}", s.skill_name)}</h1>
                            <a class="button" href=format!("/skills/{}?rerun={id}", s.skill_slug)>"Run again"</a>
                        </div>
                        {execution_panel(e, actions)}
                    }
                })}
    }
}

/// One execution: its status and facts, the confirmation step (exactly what will run) while it
/// waits for one, its result, files, inputs and log.
pub(crate) fn execution_panel(e: ExecutionView, actions: ExecutionActions) -> impl IntoView {
    let ExecutionActions { confirm, cancel } = actions;
    let s = e.summary.clone();
    let id = s.id;
    view! {
        <section class="card">
            <p>
                "Status: " <strong class=format!("status {}", s.status.as_str()) data-testid="execution-status"
                    data-status=s.status.as_str()>{s.status.label()}</strong>
                {e.reason.clone().map(|r| view! { " — " <span data-testid="execution-reason">{r}</span> })}
            </p>
            {(!e.stderr_tail.is_empty()).then(|| view! {
                <div class="why" data-testid="stderr-tail">
                    <p class="hint">"The script's last words on stderr:"</p>
                    <pre class="logs"><span class="log stderr">{e.stderr_tail.join("\n")}</span></pre>
                </div>
            })}
            <dl class="facts">
                <dt>"Skill"</dt><dd>{format!("{} (version {})", s.skill_name, e.skill_version)}</dd>
                <dt>"Requested by"</dt><dd>{s.requested_by.clone()} " at " {when(s.created_at)}</dd>
                {e.confirmed_by.clone().map(|c| view! { <dt>"Confirmed by"</dt><dd>{c}</dd> })}
                {e.started_at.map(|t| view! { <dt>"Started"</dt><dd>{when(t)}</dd> })}
                {s.finished_at.map(|t| view! { <dt>"Finished"</dt><dd>{when(t)}</dd> })}
                {e.started_at.zip(s.finished_at).map(|(a, b)| view! {
                    <dt>"Duration"</dt><dd>{format!("{:.2} s", (b - a).num_milliseconds() as f64 / 1000.0)}</dd>
                })}
                {e.exit_code.map(|c| view! { <dt>"Exit code"</dt><dd>{c}</dd> })}
                <dt>"Inputs digest"</dt><dd class="detail">{e.inputs_digest.clone()}</dd>
            </dl>
            {e.can_confirm.then(|| view! {
                <div class="confirm" data-testid="confirm-summary">
                    <p>"This will run " <strong>{s.skill_name.clone()}</strong> {format!(" version {} with these inputs:", e.skill_version)}</p>
                    <pre>{e.inputs.clone()}</pre>
                </div>
                <ActionForm action=confirm attr:class="inline">
                    <input type="hidden" name="id" value=id/>
                    <button type="submit">"Confirm and run"</button>
                </ActionForm>
            })}
            {e.can_cancel.then(|| view! {
                <ActionForm action=cancel attr:class="inline">
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" class="danger">"Cancel"</button>
                </ActionForm>
            })}
        </section>
        {e.result.clone().map(result_section)}
        {e.written_outside_note().map(|note| view! {
            <section class="card">
                <p class="warning" data-testid="written-outside">{note}</p>
                <p class="hint">"These files were not kept. Write results into output/, or collect them with "
                    <code>"artifacts = [\"*.xlsx\"]"</code> " globs in the skill's skill.toml."</p>
            </section>
        })}
        {(!e.artifacts.is_empty()).then(|| view! {
            <section class="card">
                <h2>"Files"</h2>
                <ul class="links">
                    {e.artifacts.iter().map(|model::Artifact { path, size }| view! {
                        <li>
                            <a data-testid="artifact" rel="external" download=file_name(path).to_string()
                                href=format!("/executions/{id}/artifacts/{path}")>{path.clone()}</a>
                            {format!(" ({size} bytes)")}
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        })}
        <section class="card">
            <h2>"Inputs"</h2>
            <pre>{e.inputs.clone()}</pre>
            <h2>"Log"</h2>
            {e.files_removed.clone().map(|note| view! { <p class="hint" data-testid="files-removed">{note}</p> })}
            {(e.stdout_truncated || e.stderr_truncated).then(|| view! { <p class="hint">"Output truncated at the limit."</p> })}
            {log_pages(id, e.log_from, e.logs.len() as i64, e.log_lines)}
            <pre class="logs" data-testid="logs">
                {e.logs.iter().map(|model::LogLine { stream, line }| view! {
                    <span class=format!("log {stream}")>{line.clone()} "\n"</span>
                }).collect_view()}
            </pre>
            {log_pages(id, e.log_from, e.logs.len() as i64, e.log_lines)}
        </section>
    }
}

/// Where this page of a long log is, with links to the pages before and after it; nothing for a
/// log that fits on one page.
fn log_pages(id: i64, from: i64, shown: i64, total: i64) -> impl IntoView {
    let page = |after: i64, text: &'static str, testid: &'static str| {
        view! { <a href=format!("/executions/{id}?log_after={after}") data-testid=testid>{text}</a> " " }
    };
    (from > 0 || from + shown < total).then(|| {
        view! {
            <p class="hint" data-testid="log-pages">
                {format!("Lines {}–{} of {total}. ", (from + 1).min(total), from + shown)}
                {(from > 0).then(|| page((from - LOG_PAGE_LINES).max(0), "Earlier lines", "log-earlier"))}
                {(from + shown < total).then(|| page(from + shown, "Later lines", "log-later"))}
            </p>
        }
    })
}

/// An empty history: why, and where to go next.
fn no_executions(filtered: bool) -> AnyView {
    if filtered {
        empty_note(
            view! { "No execution matches these filters. " <a href="/executions">"Show all executions"</a> },
        )
    } else {
        empty_note(view! { "No executions yet — " <a href="/skills">"pick a skill to run"</a> "." })
    }
}

/// `result.json`: a list of objects as a table, anything else as formatted JSON.
fn result_section(text: String) -> impl IntoView {
    let body = match result_view_from_str(&text) {
        Ok(ResultView::Table { columns, rows }) => view! {
            <table class="grid" tabindex="0" data-testid="result">
                <thead><tr>{columns.into_iter().map(|c| view! { <th>{c}</th> }).collect_view()}</tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| view! {
                        <tr>{r.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        Ok(ResultView::Json(pretty)) => view! { <pre data-testid="result">{pretty}</pre> }.into_any(),
        Err(_) => view! { <pre data-testid="result">{text}</pre> }.into_any(),
    };
    view! { <section class="card"><h2>"Result"</h2>{body}</section> }
}

#[component]
pub fn ExecutionsPage() -> impl IntoView {
    view! {
        <Gate surfaces=TENANT need=Need::SignedIn>
            <History/>
        </Gate>
    }
}

#[component]
fn History() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let q = query.read();
        let text = |k: &str| q.get(k).filter(|v| !v.trim().is_empty());
        ExecutionFilter {
            skill: text("skill"),
            user: text("user"),
            status: text("status").and_then(|s| ExecutionStatus::parse(&s)),
            since: text("since").and_then(|d| d.parse().ok()),
            until: text("until").and_then(|d| d.parse().ok()),
        }
    };
    let rows = Resource::new(filter, list_executions);
    let skills = Resource::new(|| (), |_| crate::skills::list_skills());
    let filtered = move || filter() != ExecutionFilter::default();
    view! {
        <PageTitle text="Executions"/>
        <h1>"Executions"</h1>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let f = filter();
                let skills = skills.await.unwrap_or_default();
                view! {
                    <form method="get" action="/executions" class="filters">
                        <label>"Skill"
                            <select name="skill">
                                <option value="">"any"</option>
                                {skills.into_iter().map(|s| {
                                    let selected = f.skill.as_deref() == Some(s.slug.as_str());
                                    view! { <option value=s.slug.clone() selected=selected>{s.name}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                        <label>"Status"
                            <select name="status">
                                <option value="">"any"</option>
                                {ExecutionStatus::ALL.into_iter().map(|st| view! {
                                    <option value=st.as_str() selected=f.status == Some(st)>{st.label()}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        <label>"User" <input type="text" name="user" value=f.user.clone()/></label>
                        <label>"From" <input type="date" name="since" value=f.since.map(|d| d.to_string())/></label>
                        <label>"To" <input type="date" name="until" value=f.until.map(|d| d.to_string())/></label>
                        <button type="submit">"Filter"</button>
                    </form>
                }
            })}
        </Transition>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let filtered = filtered();
                or_error(rows.await.map(|rows| {
                    if rows.is_empty() {
                        return no_executions(filtered);
                    }
                    view! {
                    <table class="grid" tabindex="0" data-testid="executions">
                        <thead><tr><th>"#"</th><th>"Skill"</th><th>"By"</th><th>"Status"</th><th>"Requested"</th><th>"Finished"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| view! {
                                <tr data-execution=r.id data-status=r.status.as_str()>
                                    <td><a href=format!("/executions/{}", r.id)>{r.id}</a></td>
                                    <td>{r.skill_name}</td><td>{r.requested_by}</td>
                                    <td>
                                        <span class=format!("status {}", r.status.as_str())>{r.status.label()}</span>
                                        {r.why.map(|why| view! { <div class="hint" data-testid="why">{why}</div> })}
                                    </td>
                                    <td>{when(r.created_at)}</td>
                                    <td>{r.finished_at.map(when)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    }.into_any()
                }))
            })}
        </Transition>
    }
}
