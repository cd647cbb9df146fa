//! The signed-in home pages: dashboards of a tenant front, the free console and the public
//! console. Each block has a count and a link to its full list; an empty one says what to do next.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use model::dashboard::{
    AdminBlocks, Block, ConsoleDashboard, PlatformHealth, RecentRun, SkillUse, TenantDashboard,
};
use model::hot_update::SubmissionSummary;
use model::{AuditEntry, ExecutionStatus, ExecutionSummary, Surface, TenantSummary, UserError};

use crate::components::loaded;
use crate::words::when;

#[cfg(feature = "ssr")]
use crate::server::serve;

/// The caller's dashboard on a tenant front or the free console.
#[server(endpoint = "my-dashboard")]
pub async fn my_dashboard() -> Result<TenantDashboard, UserError> {
    serve(async |ctx, caller| domain::dashboard::tenant_dashboard(&ctx, &caller).await).await
}

/// The public console's dashboard (super-admins).
#[server(endpoint = "platform-dashboard")]
pub async fn platform_dashboard() -> Result<ConsoleDashboard, UserError> {
    serve(async |ctx, caller| domain::dashboard::console_dashboard(&ctx, &caller).await).await
}

/// One block: its title, how many there are in all, a link to the full list, and either the
/// first few rows or, when there are none, what to do next.
fn block(
    title: &'static str,
    testid: &'static str,
    total: i64,
    see_all: Option<String>,
    rows: AnyView,
    empty: AnyView,
) -> impl IntoView {
    view! {
        <section class="card dash-block" data-testid=testid>
            <div class="dash-head">
                <h2>{title}</h2>
                <span class="dash-count" data-testid="count" title=format!("{total} in all")>{total}</span>
                {see_all.map(|href| view! {
                    <a class="dash-all" href=href aria-label=format!("See all: {}", title.to_lowercase())>"See all"</a>
                })}
            </div>
            {if total == 0 {
                view! { <p class="dash-empty" data-testid="empty">{empty}</p> }.into_any()
            } else {
                view! { <ul class="dash-list">{rows}</ul> }.into_any()
            }}
        </section>
    }
}

/// A row: its main link, a run's status, and beneath them what else there is to know, ending
/// with when (`at`) if it has a time.
fn row(
    href: Option<String>,
    label: String,
    status: Option<ExecutionStatus>,
    facts: String,
    at: Option<DateTime<Utc>>,
) -> impl IntoView {
    view! {
        <li>
            {match href {
                Some(href) => view! { <a class="dash-main" href=href>{label}</a> }.into_any(),
                None => view! { <span class="dash-main">{label}</span> }.into_any(),
            }}
            {status.map(|s| view! {
                " " <span class=format!("status {}", s.as_str()) data-status=s.as_str()>{s.label()}</span>
            })}
            <span class="dash-facts">{facts}{at.map(when)}</span>
        </li>
    }
}

fn run_row(run: ExecutionSummary, href: Option<String>, show_who: bool) -> impl IntoView {
    let facts = if show_who {
        format!("by {}, ", run.requested_by)
    } else {
        String::new()
    };
    row(
        href,
        format!("#{} {}", run.id, run.skill_name),
        Some(run.status),
        facts,
        Some(run.created_at),
    )
}

/// The home of a signed-in user of a tenant front or the free console. The free console has no
/// skill or execution pages: its runs open in the conversation they came from.
#[component]
pub fn TenantHome(surface: Surface) -> impl IntoView {
    let dashboard = Resource::new(|| (), |_| my_dashboard());
    let front = surface == Surface::TenantFront;
    view! {
        <AskBox/>
        {loaded(dashboard, move |d| {
                    let admin = d.admin.is_some();
                    view! {
                        <div class="dash-grid">
                            {recent_runs(d.recent_runs, front, admin)}
                            {top_skills(d.top_skills, front)}
                            {d.admin.map(admin_blocks)}
                        </div>
                    }
                })}
    }
}

/// A request to the assistant that starts a conversation and lands in it (the assistant's own
/// form post; a refused request comes back on the Assistant page with its message).
#[component]
fn AskBox() -> impl IntoView {
    view! {
        <section class="card dash-ask" data-testid="ask-box">
            <h2>"Ask the assistant"</h2>
            <form method="post" action="/assistant/ask" enctype="multipart/form-data">
                <label>"What would you like to do?"
                    <textarea name="request" rows="2" required maxlength=model::brain::MAX_REQUEST_CHARS
                        placeholder="e.g. Summarise the columns of sales.csv"></textarea>
                </label>
                <button type="submit">"Ask"</button>
            </form>
        </section>
    }
}

fn recent_runs(runs: Block<RecentRun>, front: bool, admin: bool) -> impl IntoView {
    let title = if admin {
        "Recent runs"
    } else {
        "My recent runs"
    };
    let (see_all, empty) = if front {
        (
            "/executions",
            view! { "No runs yet — " <a href="/skills">"run a skill"</a> "." }.into_any(),
        )
    } else {
        (
            "/assistant",
            view! { "No runs yet — ask the assistant above to run a skill for you." }.into_any(),
        )
    };
    let rows = runs
        .items
        .into_iter()
        .map(|r| {
            let href = if front {
                Some(format!("/executions/{}", r.run.id))
            } else {
                r.conversation_id.map(|c| format!("/assistant/{c}"))
            };
            run_row(r.run, href, admin)
        })
        .collect_view()
        .into_any();
    block(
        title,
        "recent-runs",
        runs.total,
        Some(see_all.into()),
        rows,
        empty,
    )
}

fn top_skills(skills: Block<SkillUse>, front: bool) -> impl IntoView {
    let empty = if front {
        view! { "No skill used yet — " <a href="/skills">"browse the skills"</a> "." }.into_any()
    } else {
        view! { "No skill used yet — the assistant finds the right one for your request." }
            .into_any()
    };
    let rows = skills
        .items
        .into_iter()
        .map(|s| {
            let runs = if s.runs == 1 {
                "1 run".to_string()
            } else {
                format!("{} runs", s.runs)
            };
            row(
                front.then(|| format!("/skills/{}", s.slug)),
                s.name,
                None,
                runs,
                None,
            )
        })
        .collect_view()
        .into_any();
    block(
        "Most used skills",
        "top-skills",
        skills.total,
        front.then(|| "/skills".to_string()),
        rows,
        empty,
    )
}

fn submission_row(s: SubmissionSummary, base: &str, show_tenant: bool) -> impl IntoView {
    let by = if show_tenant {
        format!("{} · by {}, ", s.tenant_name, s.submitted_by)
    } else {
        format!("by {}, ", s.submitted_by)
    };
    row(
        Some(format!("{base}/{}", s.id)),
        format!("#{} {}", s.id, s.skill_name),
        None,
        by,
        Some(s.submitted_at),
    )
}

fn admin_blocks(a: AdminBlocks) -> impl IntoView {
    let submissions = a
        .pending_submissions
        .items
        .into_iter()
        .map(|s| submission_row(s, "/submissions", false))
        .collect_view()
        .into_any();
    let runs = |b: Block<ExecutionSummary>| {
        b.items
            .into_iter()
            .map(|r| {
                let href = format!("/executions/{}", r.id);
                run_row(r, Some(href), true)
            })
            .collect_view()
            .into_any()
    };
    let awaiting_total = a.awaiting_confirmation.total;
    let failed_total = a.failed_last_day.total;
    view! {
        {block(
            "Pending submissions",
            "pending-submissions",
            a.pending_submissions.total,
            Some("/submissions".into()),
            submissions,
            view! { "Nothing waiting for review — " <a href="/submissions/new">"submit a script"</a> "." }.into_any(),
        )}
        {block(
            "Awaiting confirmation",
            "awaiting-confirmation",
            awaiting_total,
            Some("/executions?status=awaiting_confirmation".into()),
            runs(a.awaiting_confirmation),
            view! { "No run is waiting for a confirmation." }.into_any(),
        )}
        {block(
            "Failed in the last day",
            "failed-runs",
            failed_total,
            Some(format!("/executions?status=failed&since={}", a.failed_since)),
            runs(a.failed_last_day),
            view! { "No run failed in the last 24 hours." }.into_any(),
        )}
    }
}

/// The public console's home for a super-admin.
#[component]
pub fn ConsoleHome() -> impl IntoView {
    let dashboard = Resource::new(|| (), |_| platform_dashboard());
    view! {
        {loaded(dashboard, move |d| view! {
                    <div class="dash-grid">
                        {tenants(d.tenants)}
                        {pending_reviews(d.pending_reviews)}
                        {health(d.health)}
                        {recent_audit(d.recent_audit)}
                    </div>
                })}
    }
}

fn tenants(tenants: Block<TenantSummary>) -> impl IntoView {
    let rows = tenants
        .items
        .into_iter()
        .map(|t| {
            let facts = format!("{} · {} · created ", t.hosts.join(", "), t.status);
            row(
                Some(format!("/tenants/{}", t.id)),
                t.name,
                None,
                facts,
                Some(t.created_at),
            )
        })
        .collect_view()
        .into_any();
    block(
        "Tenants",
        "tenants",
        tenants.total,
        Some("/tenants".into()),
        rows,
        view! { "No tenants yet — " <a href="/tenants/new">"create the first one"</a> "." }
            .into_any(),
    )
}

fn pending_reviews(reviews: Block<SubmissionSummary>) -> impl IntoView {
    let rows = reviews
        .items
        .into_iter()
        .map(|s| submission_row(s, "/reviews", true))
        .collect_view()
        .into_any();
    block(
        "Pending reviews",
        "pending-reviews",
        reviews.total,
        Some("/reviews".into()),
        rows,
        view! { "Nothing waiting for review." }.into_any(),
    )
}

fn health(h: PlatformHealth) -> impl IntoView {
    let failing = h.failing_tenants.len() as i64;
    let rows = h
        .failing_tenants
        .into_iter()
        .map(|t| {
            let failed = format!("{} failed in the last day", t.failed_last_day);
            row(
                Some(format!("/tenants/{}", t.tenant_id)),
                t.tenant_name,
                None,
                failed,
                None,
            )
        })
        .collect_view()
        .into_any();
    view! {
        <section class="card dash-block" data-testid="health">
            <div class="dash-head"><h2>"Platform health"</h2></div>
            <dl class="facts dash-health">
                <dt>"Queue"</dt>
                <dd data-testid="queue-depth">{format!("{} waiting for a worker", h.queued)}
                    {(h.waiting_for_agents > 0).then(|| format!(", {} for a local agent", h.waiting_for_agents))}
                </dd>
                <dt>"Running"</dt><dd data-testid="running">{h.running}</dd>
                <dt>"Workers"</dt>
                <dd data-testid="workers">{format!("{} busy of {}", h.workers_busy, h.workers_total)}</dd>
                <dt>"Failed runs"</dt>
                <dd data-testid="failures">{format!("{} in the last hour, {} in the last day", h.failed_last_hour, h.failed_last_day)}</dd>
            </dl>
        </section>
        {block(
            "Tenants with failed runs",
            "failing-tenants",
            failing,
            None,
            rows,
            view! { "No run failed in the last 24 hours." }.into_any(),
        )}
    }
}

fn recent_audit(entries: Block<AuditEntry>) -> impl IntoView {
    let total = entries.total;
    let rows = entries
        .items
        .into_iter()
        .map(|e| {
            let facts = format!("{} · {} · ", e.actor, e.target);
            row(Some("/audit".into()), e.action, None, facts, Some(e.at))
        })
        .collect_view()
        .into_any();
    view! {
        {block(
            "Recent audit entries",
            "recent-audit",
            total,
            Some("/audit".into()),
            rows,
            view! { "The platform's audit log is empty." }.into_any(),
        )}
        <p class="hint dash-note"><a href="/audit/verify">"Check every audit log's hash chain"</a></p>
    }
}
