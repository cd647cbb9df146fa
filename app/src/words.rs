//! Small pieces that put the product's records into people's words: times, audit details and
//! each page's title. The words themselves live in `model::words`.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use model::words::{detail_fields, relative_time};

use crate::Auth;

/// A moment: how long ago it was, then (once the page runs in the browser) the browser's local
/// date and time; the exact UTC time on hover and in `datetime`.
pub fn when(at: DateTime<Utc>) -> impl IntoView {
    let utc = at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let shown = RwSignal::new(relative_time(at, now()));
    // Effects run only in the browser, after hydration: the server knows no one's time zone.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| shown.set(local_words(at)));
    view! { <time datetime=at.to_rfc3339() title=utc>{move || shown.get()}</time> }
}

#[cfg(not(feature = "hydrate"))]
fn now() -> DateTime<Utc> {
    Utc::now()
}

/// The browser's clock (the wasm target has no system clock of its own).
#[cfg(feature = "hydrate")]
fn now() -> DateTime<Utc> {
    let millis = leptos::web_sys::js_sys::Date::now() as i64;
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

#[cfg(feature = "hydrate")]
fn local_words(at: DateTime<Utc>) -> String {
    let date = leptos::web_sys::js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
        at.timestamp_millis() as f64,
    ));
    // Minutes to add to local time to reach UTC, at that moment (summer time included).
    let offset = chrono::Duration::minutes(date.get_timezone_offset() as i64);
    let local = (at - offset).naive_utc();
    format!(
        "{} · {}",
        relative_time(at, now()),
        local.format("%Y-%m-%d %H:%M")
    )
}

/// An audit entry's detail: "Key: value" lines, with the recorded JSON behind "Technical
/// details".
pub fn detail_view(detail: String) -> impl IntoView {
    let fields = detail_fields(&detail);
    view! {
        {fields.map(|fields| view! {
            <dl class="facts" data-testid="detail-fields">
                {fields.into_iter().map(|(key, value)| view! { <dt>{key}</dt><dd>{value}</dd> }).collect_view()}
            </dl>
        })}
        <details><summary>"Technical details"</summary><pre>{detail}</pre></details>
    }
}

/// The page's `<title>`: "Executions · Acme · ExecGov" (the tenant's name on a tenant front).
#[component]
pub fn PageTitle(#[prop(into)] text: String) -> impl IntoView {
    let auth = Auth::use_auth();
    let place = auth
        .session
        .get_untracked()
        .ok()
        .and_then(|info| info.tenant_name);
    let title = match place {
        Some(place) => format!("{text} · {place} · ExecGov"),
        None => format!("{text} · ExecGov"),
    };
    view! { <Title text=title/> }
}
