//! The hot-update submission form's endpoint (multipart, so the archive uploads without
//! JavaScript). The owning tenant is the one of the Host it arrives on, never a form field.

use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use domain::hot_updates::{self, NewSubmission};
use domain::{AppError, Ctx};
use model::hot_update::SkillFlags;
use model::skill::RiskLevel;

use crate::api::TenantUser;
use crate::limits::SUBMISSION;
use crate::percent::encode;
use crate::runs::read_form;

pub fn routes() -> Router<Ctx> {
    Router::new().route("/submissions", post(submit).layer(SUBMISSION.layer()))
}

/// Success: to the submission's timeline; refused: back to the form with the reason and what
/// was typed (the archive itself cannot travel back: a browser never pre-fills a file).
async fn submit(
    State(ctx): State<Ctx>,
    who: TenantUser<AppError>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let caller = &who.caller;
    let (tenant, user) = caller.tenant_admin()?;
    let (result, typed) = match read_submission(multipart).await {
        Ok(submission) => {
            let typed = typed_fields(&submission);
            let result = hot_updates::submit(&ctx, tenant, user, &caller.actor(), submission).await;
            (result, typed)
        }
        Err(err) => (Err(err), String::new()),
    };
    match result {
        Ok(id) => Ok(Redirect::to(&format!("/submissions/{id}")).into_response()),
        Err(
            AppError::Invalid(message) | AppError::Conflict(message) | AppError::TooLarge(message),
        ) => Ok(Redirect::to(&format!(
            "/submissions/new?error={}{typed}",
            encode(&message)
        ))
        .into_response()),
        Err(other) => Err(other),
    }
}

/// The form's fields as query parameters (`&scenario=…&risk=…&ai_callable=true`), for the form
/// to show them again.
fn typed_fields(s: &NewSubmission) -> String {
    let mut query = format!(
        "&scenario={}&risk={}",
        encode(&s.scenario),
        s.proposed.risk.as_str()
    );
    for (name, ticked) in [
        ("manual_allowed", s.proposed.manual_allowed),
        ("ai_callable", s.proposed.ai_callable),
        ("requires_confirmation", s.proposed.requires_confirmation),
    ] {
        query.push_str(&format!("&{name}={ticked}"));
    }
    query
}

/// The submission form's fields: the `archive` file, `scenario`, `risk`, and the checkboxes
/// `manual_allowed`, `ai_callable`, `requires_confirmation` (`true` when ticked). The page's
/// form and the REST API send the same fields.
pub(crate) async fn read_submission(multipart: Multipart) -> Result<NewSubmission, AppError> {
    let (form, files) = read_form(multipart, SUBMISSION).await?;
    let checked = |name: &str| form.get(name).is_some_and(|v| v == "true");
    let archive = files.into_iter().find(|f| f.field == "archive");
    let risk = form.get("risk").map(String::as_str).unwrap_or_default();
    let risk = RiskLevel::parse(risk).ok_or_else(|| {
        AppError::Invalid("Choose the proposed risk: low, medium or high.".into())
    })?;
    Ok(NewSubmission {
        archive_name: archive
            .as_ref()
            .map(|a| a.file_name.clone())
            .unwrap_or_default(),
        archive: archive.map(|a| a.bytes).unwrap_or_default(),
        scenario: form.get("scenario").cloned().unwrap_or_default(),
        proposed: SkillFlags {
            risk,
            ai_callable: checked("ai_callable"),
            manual_allowed: checked("manual_allowed"),
            requires_confirmation: checked("requires_confirmation"),
        },
    })
}
