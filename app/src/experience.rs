//! The experience page: no login, what ExecGov is and where to go next.

use leptos::prelude::*;

pub fn experience_home() -> impl IntoView {
    view! {
        <section class="card">
            <h1>"ExecGov"</h1>
            <p>"Run scripts under governance: every script becomes a skill in an isolated tenant, risky \
                skills wait for a person's confirmation, and every run is audited."</p>
            <p class="hint">"A live demo run without signing in arrives on this page soon. \
                Until then, try the free edition."</p>
        </section>
    }
}
