//! The assistant (the intelligent brain): the user's conversations, and one conversation with its
//! requests, ranked recommendations, plans and the executions they became, live while they run.
//!
//! Asking (with files) and running a plan are plain form posts to the server's assistant routes,
//! like the skill page's run form; picking another recommendation is a server function (a new
//! plan by slot filling, no provider round trip).

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use model::brain::{AttachmentInfo, Conversation, ConversationSummary, Plan, Turn};
use model::skill::{InputField, InputType, RiskLevel};
use model::{ExecutionView, Surface, UserError};

use crate::components::{empty_note, error_note, loaded, risk_badge};
use crate::executions::{execution_panel, get_execution, ExecutionActions};
use crate::layout::{Gate, Need};
use crate::skills::input_for;
use crate::words::{when, PageTitle};

#[cfg(feature = "ssr")]
use crate::server::serve;

/// The assistant works where a signed-in user has skills: tenant fronts and the free console.
const ASSISTANT: &[Surface] = &[Surface::TenantFront, Surface::FreeConsole];

#[server(endpoint = "list-conversations")]
pub async fn list_conversations() -> Result<Vec<ConversationSummary>, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::brain::conversations::list(&ctx, tenant, user).await
    })
    .await
}

#[server(endpoint = "get-conversation")]
pub async fn get_conversation(id: i64) -> Result<Conversation, UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::brain::conversations::get(&ctx, tenant, user, id).await
    })
    .await
}

#[server(endpoint = "choose-recommendation")]
pub async fn choose_recommendation(
    conversation: i64,
    turn: i64,
    slug: String,
) -> Result<(), UserError> {
    serve(async |ctx, caller| {
        let (tenant, user) = caller.tenant_user()?;
        domain::brain::conversations::choose(
            &ctx,
            tenant,
            user,
            &caller.actor(),
            conversation,
            turn,
            &slug,
        )
        .await
    })
    .await
}

/// `/assistant`: the user's conversations, and a new request.
#[component]
pub fn AssistantPage() -> impl IntoView {
    view! {
        <Gate surfaces=ASSISTANT need=Need::SignedIn>
            <Conversations/>
        </Gate>
    }
}

#[component]
fn Conversations() -> impl IntoView {
    let rows = Resource::new(|| (), |_| list_conversations());
    view! {
        <PageTitle text="Assistant"/>
        <h1>"Assistant"</h1>
        <section class="card">
            <h2>"New request"</h2>
            <p class="hint">
                "Say what you would like to do, and attach the files it is about. The assistant \
                 only offers skills you may run here, fills in what it can, and runs nothing you \
                 have not seen."
            </p>
            {url_errors(None)}
            {ask_form("/assistant/ask".to_string())}
        </section>
        {loaded(rows, move |rows| {
                    if rows.is_empty() {
                        return empty_note("No conversations yet — say above what you would like to do.");
                    }
                    view! {
                    <table class="grid" tabindex="0" data-testid="conversations">
                        <thead><tr><th>"Conversation"</th><th>"Requests"</th><th>"Last active"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|c| view! {
                                <tr data-conversation=c.id>
                                    <td><a href=format!("/assistant/{}", c.id)>{c.title}</a></td>
                                    <td>{c.turns}</td>
                                    <td>{when(c.updated_at)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    }.into_any()
                })}
    }
}

/// Messages of a refused post, one per line, carried back in the URL by the assistant's routes:
/// those of a turn's plan (`turn` = its id), or with no `turn`, those of a request.
fn url_errors(turn: Option<i64>) -> impl IntoView {
    let query = use_query_map();
    move || {
        let q = query.read();
        let about = q.get("turn").and_then(|t| t.parse::<i64>().ok());
        (about == turn).then(|| q.get("error")).flatten().map(|e| {
            e.lines()
                .map(|line| view! { <p class="error" role="alert">{line.to_string()}</p> })
                .collect_view()
        })
    }
}

/// The request box: words and files, posted to `action`.
fn ask_form(action: String) -> impl IntoView {
    // A refused request comes back in the URL with what was typed.
    let typed = use_query_map()
        .read_untracked()
        .get("request")
        .unwrap_or_default();
    view! {
        <form method="post" action=action enctype="multipart/form-data" data-testid="ask-form">
            <label>"What would you like to do?"
                <textarea name="request" rows="3" required maxlength=model::brain::MAX_REQUEST_CHARS
                    placeholder="e.g. Summarise the columns of sales.csv">{typed}</textarea>
            </label>
            <label>"Attach files (optional)"
                <input type="file" name="files" multiple/>
            </label>
            <button type="submit">"Ask"</button>
        </form>
    }
}

/// `/assistant/:id`: one conversation.
#[component]
pub fn ConversationPage() -> impl IntoView {
    view! {
        <Gate surfaces=ASSISTANT need=Need::SignedIn>
            <ConversationDetail/>
        </Gate>
    }
}

/// A conversation and the executions its turns became.
async fn load(id: Option<i64>) -> Result<(Conversation, Vec<ExecutionView>), UserError> {
    let id = id.ok_or_else(|| {
        UserError::new(model::ErrorKind::NotFound, "There is no such conversation.")
    })?;
    let conversation = get_conversation(id).await?;
    let mut executions = Vec::new();
    for execution in conversation.turns.iter().filter_map(|t| t.execution_id) {
        executions.push(get_execution(execution, None).await?);
    }
    Ok((conversation, executions))
}

#[component]
fn ConversationDetail() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let (tick, set_tick) = signal(0u32);
    let actions = ExecutionActions::new();
    let choose = ServerAction::<ChooseRecommendation>::new();
    let page = Resource::new(
        move || (id(), tick.get(), actions.version(), choose.version().get()),
        |(id, ..)| load(id),
    );
    // Executions still on their way are followed live, each once.
    #[cfg(feature = "hydrate")]
    Effect::new(move |followed: Option<std::collections::BTreeSet<i64>>| {
        let mut followed = followed.unwrap_or_default();
        if let Some(Ok((_, executions))) = page.get() {
            for e in executions.iter().filter(|e| !e.summary.status.is_final()) {
                if followed.insert(e.summary.id) {
                    crate::executions::follow(e.summary.id, set_tick);
                }
            }
        }
        followed
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = set_tick;
    let choose_error = move || choose.value().get().and_then(|r| r.err()).map(error_note);
    view! {
        {actions.error()}
        {choose_error}
        {loaded(page, move |(c, executions)| {
                    let attachments = c.attachments.clone();
                    view! {
                        <PageTitle text=c.title.clone()/>
                        <div class="title-row">
                            <h1 data-testid="conversation-title">{c.title.clone()}</h1>
                            <a class="button" href="/assistant">"All conversations"</a>
                        </div>
                        {attachment_list(&attachments)}
                        {c.turns.into_iter().map(|turn| {
                            let execution = turn
                                .execution_id
                                .and_then(|id| executions.iter().find(|e| e.summary.id == id).cloned());
                            turn_view(c.id, turn, &attachments, execution, choose, actions)
                        }).collect_view()}
                        <section class="card">
                            <h2>"Ask again"</h2>
                            {url_errors(None)}
                            {ask_form(format!("/assistant/{}/ask", c.id))}
                        </section>
                    }
                })}
    }
}

fn attachment_list(attachments: &[AttachmentInfo]) -> impl IntoView {
    (!attachments.is_empty()).then(|| {
        view! {
            <section class="card">
                <h2>"Attached files"</h2>
                <ul class="links" data-testid="attachments">
                    {attachments.iter().map(|a| view! {
                        <li>{a.file_name.clone()} {format!(" ({} bytes, ", a.size)} {when(a.created_at)} ")"</li>
                    }).collect_view()}
                </ul>
            </section>
        }
    })
}

/// Whether running a skill waits for a person's confirmation first.
fn confirms(requires_confirmation: bool, risk: RiskLevel) -> bool {
    requires_confirmation || risk == RiskLevel::High
}

/// One request: what was asked, the recommendations (another may be picked until the plan has
/// run), the plan's form, or the execution it became.
fn turn_view(
    conversation: i64,
    turn: Turn,
    attachments: &[AttachmentInfo],
    execution: Option<ExecutionView>,
    choose: ServerAction<ChooseRecommendation>,
    actions: ExecutionActions,
) -> impl IntoView {
    let chosen = turn.plan.as_ref().map(|p| p.slug.clone());
    let open = turn.execution_id.is_none();
    let turn_id = turn.id;
    let recommendations = turn.recommendations.clone();
    let nothing = recommendations.is_empty() && turn.note.is_none();
    view! {
        <section class="card" id=format!("turn-{turn_id}") data-testid="turn" data-turn=turn_id>
            <p class="hint">"You asked, " {when(turn.at)} ":"</p>
            <p class="prose" data-testid="request">{turn.request.clone()}</p>
            {turn.note.clone().map(|n| view! { <p class="error" role="alert">{n}</p> })}
            {nothing.then(|| view! {
                <p data-testid="no-recommendation">"No skill you may run here matches this request. Try other words, or look through your skills."</p>
            })}
            {(!recommendations.is_empty()).then(|| view! {
                <h2>"Recommended"</h2>
                <ol data-testid="recommendations">
                    {recommendations.into_iter().map(|r| {
                        let is_chosen = chosen.as_deref() == Some(r.slug.as_str());
                        let slug = r.slug.clone();
                        view! {
                            <li data-skill=r.slug>
                                <strong>{r.name.clone()}</strong> " " {risk_badge(r.risk)}
                                {confirms(r.requires_confirmation, r.risk).then(|| view! { " " <span class="badge">"needs confirmation"</span> })}
                                {is_chosen.then(|| view! { " " <span class="badge live">"planned"</span> })}
                                <br/><span class="hint" data-testid="why">{r.why.clone()}</span>
                                {(open && !is_chosen).then(|| view! {
                                    " "
                                    <ActionForm action=choose attr:class="inline">
                                        <input type="hidden" name="conversation" value=conversation/>
                                        <input type="hidden" name="turn" value=turn_id/>
                                        <input type="hidden" name="slug" value=slug.clone()/>
                                        <button type="submit" class="small">"Use this instead"</button>
                                    </ActionForm>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ol>
            })}
            {match (turn.plan, execution) {
                (_, Some(e)) => view! {
                    <h2>{format!("Execution {}", e.summary.id)}</h2>
                    <p><a href=format!("/executions/{}", e.summary.id)>"Open its page"</a></p>
                    {execution_panel(e, actions)}
                }
                .into_any(),
                (Some(plan), None) => plan_form(conversation, turn_id, plan, attachments).into_any(),
                (None, None) => ().into_any(),
            }}
        </section>
    }
}

/// The plan as a form: the chosen skill's inputs, filled from the request where the assistant
/// could, the missing ones marked. Skills that confirm say so: running prepares the execution and
/// shows exactly what will run before anything does.
fn plan_form(
    conversation: i64,
    turn: i64,
    plan: Plan,
    attachments: &[AttachmentInfo],
) -> impl IntoView {
    let Some(skill) = plan.skill else {
        return view! {
            <p class="hint" data-testid="plan-unavailable">
                {format!("The assistant may no longer run {} for you.", plan.slug)}
            </p>
        }
        .into_any();
    };
    let confirm = confirms(skill.requires_confirmation, skill.risk);
    let names: Vec<String> = attachments.iter().map(|a| a.file_name.clone()).collect();
    let missing_labels: Vec<String> = skill
        .inputs
        .fields
        .iter()
        .filter(|f| plan.missing.contains(&f.name))
        .map(|f| f.label.clone())
        .collect();
    view! {
        <h2>"Plan"</h2>
        <p>
            "Run " <strong data-testid="plan-skill">{skill.name.clone()}</strong> " " {risk_badge(skill.risk)}
            <br/><span class="hint">{skill.description.clone()}</span>
        </p>
        {(!missing_labels.is_empty()).then(|| view! {
            <p class="hint" data-testid="plan-missing">
                "The assistant could not fill in: " {missing_labels.join(", ")} ". Please do."
            </p>
        })}
        {confirm.then(|| view! {
            <p class="hint">"This skill waits for your confirmation: you will see exactly what will run before it does."</p>
        })}
        {url_errors(Some(turn))}
        <form method="post" action=format!("/assistant/{conversation}/turns/{turn}/run") data-testid="plan-form">
            {skill.inputs.fields.into_iter().map(|field| {
                let missing = plan.missing.contains(&field.name);
                let value = plan.values.get(&field.name).cloned();
                let control = match field.kind {
                    InputType::File | InputType::Folder => file_choice(field, value, &names).into_any(),
                    _ => input_for(field, value, false).into_any(),
                };
                view! {
                    <div data-missing=missing.then_some("true")>
                        {missing.then(|| view! { <span class="badge risk-medium">"needed"</span> })}
                        {control}
                    </div>
                }
            }).collect_view()}
            <button type="submit">{if confirm { "Prepare run" } else { "Run" }}</button>
        </form>
    }
    .into_any()
}

/// A file input of a plan: one of the conversation's attachments.
fn file_choice(field: InputField, value: Option<String>, attachments: &[String]) -> impl IntoView {
    let required = field.required;
    view! {
        <label>
            {field.label.clone()} {(!required).then_some(" (optional)")}
            <select name=field.name.clone() required=required>
                <option value="">"— attach a file with a request —"</option>
                {attachments.iter().map(|name| {
                    let selected = value.as_deref() == Some(name.as_str());
                    view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                }).collect_view()}
            </select>
            {field.description.map(|d| view! { <span class="hint">{d}</span> })}
        </label>
    }
}
