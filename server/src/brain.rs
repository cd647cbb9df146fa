//! The assistant's plain HTTP endpoints beside its pages: a request with files (multipart, so files
//! upload without JavaScript) and running a plan. Each acts as the caller the host layer
//! identified; refused input goes back to the page with the messages, like the run form.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Extension, Form, Router};
use domain::brain::conversations::{self, Asked};
use domain::brain::Provider;
use domain::caller::Caller;
use domain::{AppError, Ctx};

use crate::limits::RUN_FILES;
use crate::percent::encode;
use crate::runs::read_form;

/// The provider the server was started with.
type Brain = Arc<dyn Provider>;

pub fn routes(brain: Brain) -> Router<Ctx> {
    Router::new()
        .route("/assistant/ask", post(ask_new).layer(RUN_FILES.layer()))
        .route(
            "/assistant/{id}/ask",
            post(ask_more).layer(RUN_FILES.layer()),
        )
        .route("/assistant/{id}/turns/{turn}/run", post(run))
        .layer(Extension(brain))
}

/// A request that starts a new conversation.
async fn ask_new(
    State(ctx): State<Ctx>,
    Extension(caller): Extension<Caller>,
    Extension(brain): Extension<Brain>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    ask(&ctx, &caller, brain.as_ref(), None, multipart).await
}

/// A request in one of the user's conversations.
async fn ask_more(
    State(ctx): State<Ctx>,
    Extension(caller): Extension<Caller>,
    Extension(brain): Extension<Brain>,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    ask(&ctx, &caller, brain.as_ref(), Some(id), multipart).await
}

/// The words (`request`) and the files (`files`); to the new turn, or back with the messages.
async fn ask(
    ctx: &Ctx,
    caller: &Caller,
    brain: &dyn Provider,
    conversation: Option<i64>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let (tenant, user) = caller.tenant_user()?;
    let (form, files) = read_form(multipart, RUN_FILES).await?;
    let request = form.get("request").map(String::as_str).unwrap_or("");
    let asked = conversations::ask(
        ctx,
        tenant,
        user,
        &caller.actor(),
        brain,
        conversation,
        request,
        &files,
    )
    .await;
    match asked {
        Ok(Asked {
            conversation_id,
            turn_id,
        }) => Ok(
            Redirect::to(&format!("/assistant/{conversation_id}#turn-{turn_id}")).into_response(),
        ),
        Err(AppError::Invalid(message) | AppError::TooLarge(message)) => {
            let page =
                conversation.map_or("/assistant".to_string(), |id| format!("/assistant/{id}"));
            // Back with what was typed (the chosen files cannot come back).
            Ok(Redirect::to(&format!(
                "{page}?error={}&request={}",
                encode(&message),
                encode(request)
            ))
            .into_response())
        }
        Err(other) => Err(other),
    }
}

/// A plan's form: the inputs as the user left them. To the execution, shown in the turn, or back
/// to the plan with the messages.
async fn run(
    State(ctx): State<Ctx>,
    Extension(caller): Extension<Caller>,
    Path((id, turn)): Path<(i64, i64)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let (tenant, user) = caller.tenant_user()?;
    let at_turn = format!("/assistant/{id}");
    match conversations::run_plan(&ctx, tenant, user, &caller.actor(), id, turn, &form).await {
        Ok(_) => Ok(Redirect::to(&format!("{at_turn}#turn-{turn}")).into_response()),
        Err(AppError::Invalid(message) | AppError::Conflict(message)) => {
            Ok(Redirect::to(&format!(
                "{at_turn}?turn={turn}&error={}#turn-{turn}",
                encode(&message)
            ))
            .into_response())
        }
        Err(other) => Err(other),
    }
}
