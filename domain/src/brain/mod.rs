//! The intelligent brain: a request in plain words → ranked recommendations among the skills this
//! user may run here → a plan (one skill and its inputs) → confirmation where needed → execution.
//!
//! Providers only *propose*. Whatever they answer, the caller re-checks it against the allowed
//! set and the skill's input schema before anything is shown or run (see `check_proposal`).

pub mod conversations;
pub mod embedded;
pub mod eval;
pub mod openai;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use model::skill::{validate_inputs, InputSchema, RiskLevel};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::AppResult;

/// One skill a provider may choose from: only skills that are live, enabled, `ai_callable` and
/// runnable by the asking user in the asking tenant are ever built into this list.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub output: String,
    pub readme: String,
    /// Example requests from the skill's manifest.
    pub examples: Vec<String>,
    pub inputs: InputSchema,
    pub risk: RiskLevel,
    pub requires_confirmation: bool,
}

/// A file attached to the conversation, as a provider sees it (it never reads the bytes).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attachment {
    pub file_name: String,
    pub size: u64,
}

/// What the user asked, with what the conversation already holds.
#[derive(Clone, Debug)]
pub struct Ask<'a> {
    pub request: &'a str,
    pub attachments: &'a [Attachment],
}

/// One ranked recommendation: which skill, and why it matches, in words a person reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub slug: String,
    /// Higher is better; comparable within one proposal only.
    pub score: f64,
    pub why: String,
}

/// A provider's draft plan for one skill: the inputs it could fill from the request (as the form
/// would send them: field → text; a file field names an attachment's file name), and the
/// required fields it could not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanDraft {
    pub slug: String,
    pub inputs: Map<String, Value>,
    pub missing: Vec<String>,
}

/// A provider's answer: recommendations best first (possibly none), and a plan for the first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub recommendations: Vec<Recommendation>,
    pub plan: Option<PlanDraft>,
}

/// The boxed future a [`Provider`] returns (object-safe, so the server picks one at start-up).
pub type ProposalFuture<'a> = Pin<Box<dyn Future<Output = AppResult<Proposal>> + Send + 'a>>;

/// Turns a request into a proposal over the allowed candidates.
pub trait Provider: Send + Sync {
    /// Short name for logs and the audit trail ("embedded", "openai-compatible").
    fn name(&self) -> &'static str;

    /// Ranks `allowed` for `ask` and drafts a plan. Must not look beyond `allowed`.
    fn propose<'a>(&'a self, ask: Ask<'a>, allowed: &'a [Candidate]) -> ProposalFuture<'a>;
}

/// Re-checks a provider's proposal against what may be offered, so nothing a provider invents
/// reaches a person or a run: recommendations and plans naming a skill outside `allowed` are
/// dropped (and repeats of a skill collapsed), plan inputs that are not fields of the skill's
/// schema or fail its validation are dropped, and `missing` is recomputed from the schema.
/// Kept inputs come out as form text (field → string). File fields are only checked to name a
/// plain file; matching them against the conversation's attachments is the caller's part.
///
/// Returns the checked proposal and one line per refusal, for the log and the audit trail.
pub fn check_proposal(proposal: Proposal, allowed: &[Candidate]) -> (Proposal, Vec<String>) {
    let by_slug: BTreeMap<&str, &Candidate> =
        allowed.iter().map(|c| (c.slug.as_str(), c)).collect();
    let mut refusals = Vec::new();

    let mut seen = BTreeSet::new();
    let mut recommendations = Vec::new();
    for rec in proposal.recommendations {
        if !by_slug.contains_key(rec.slug.as_str()) {
            refusals.push(format!(
                "recommendation of skill {} refused: not among the skills allowed here",
                quoted(&rec.slug)
            ));
        } else if seen.insert(rec.slug.clone()) {
            recommendations.push(rec);
        }
    }

    let plan = proposal
        .plan
        .and_then(|plan| match by_slug.get(plan.slug.as_str()) {
            Some(candidate) => Some(check_plan(plan, &candidate.inputs, &mut refusals)),
            None => {
                refusals.push(format!(
                    "plan for skill {} refused: not among the skills allowed here",
                    quoted(&plan.slug)
                ));
                None
            }
        });

    (
        Proposal {
            recommendations,
            plan,
        },
        refusals,
    )
}

/// Keeps the inputs the schema accepts, as form text; everything else is refused or missing.
fn check_plan(plan: PlanDraft, schema: &InputSchema, refusals: &mut Vec<String>) -> PlanDraft {
    let slug = plan.slug;
    let refuse = |refusals: &mut Vec<String>, field: &str, why: &str| {
        refusals.push(format!(
            "skill {}: input {} refused: {why}",
            quoted(&slug),
            quoted(field)
        ));
    };

    // Only scalar values of known fields go on to validation, as the text a form would send.
    let mut form = BTreeMap::new();
    let mut files = BTreeMap::new();
    for (name, value) in plan.inputs {
        let Some(field) = schema.fields.iter().find(|f| f.name == name) else {
            refuse(refusals, &name, "not an input of this skill");
            continue;
        };
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => number_text(&n),
            Value::Array(_) | Value::Object(_) => {
                refuse(refusals, &name, "a list or object is not a form value");
                continue;
            }
        };
        if field.kind.is_upload() {
            files.insert(name, text);
        } else {
            form.insert(name, text);
        }
    }

    // Fields the provider filled that validation rejects are refused; the others it rejects
    // were never filled and are simply missing.
    let errors = match validate_inputs(schema, &form, &files) {
        Ok(_) => BTreeMap::new(),
        Err(errors) => errors,
    };
    let mut inputs = Map::new();
    for field in &schema.fields {
        let name = &field.name;
        let given = form.remove(name).or_else(|| files.remove(name));
        let Some(text) = given else { continue };
        let blank = text.trim().is_empty();
        match errors.get(name) {
            Some(why) if !blank => refuse(refusals, name, why),
            Some(_) => {}
            None if blank => {}
            None => {
                inputs.insert(name.clone(), Value::String(text));
            }
        }
    }

    let missing = schema.missing(&inputs);

    PlanDraft {
        slug,
        inputs,
        missing,
    }
}

/// A JSON number as a form would hold it: a whole `5.0` is `5`, which an integer field takes.
pub(crate) fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
            (f as i64).to_string()
        }
        _ => n.to_string(),
    }
}

/// A provider-chosen name, quoted and cut short so a log line stays a line.
fn quoted(name: &str) -> String {
    let short: String = name.chars().take(80).collect();
    format!("{short:?}")
}

/// An attachment that can fill a folder input: an archive of the folder, as the run form takes.
pub(crate) fn is_archive_name(file_name: &str) -> bool {
    let lower = file_name.to_ascii_lowercase();
    [".zip", ".tar.gz", ".tgz"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::skill::{InputField, InputType};
    use serde_json::json;

    fn field(name: &str, kind: InputType, required: bool) -> InputField {
        InputField {
            name: name.into(),
            label: name.into(),
            kind,
            required,
            description: None,
            choices: vec![],
            min: None,
            max: None,
            max_length: None,
            default: None,
        }
    }

    fn candidate(slug: &str, fields: Vec<InputField>) -> Candidate {
        Candidate {
            slug: slug.into(),
            name: slug.into(),
            description: String::new(),
            output: String::new(),
            readme: String::new(),
            examples: vec![],
            inputs: InputSchema { fields },
            risk: RiskLevel::Low,
            requires_confirmation: false,
        }
    }

    fn allowed() -> Vec<Candidate> {
        let mut limit = field("limit", InputType::Integer, true);
        limit.min = Some(1.0);
        limit.max = Some(100.0);
        let mut mode = field("mode", InputType::Enum, false);
        mode.choices = vec!["fast".into(), "slow".into()];
        let mut title = field("title", InputType::String, false);
        title.default = Some(json!("Report"));
        vec![
            candidate(
                "sales-report",
                vec![
                    limit,
                    mode,
                    title,
                    field("since", InputType::Date, true),
                    field("dry_run", InputType::Boolean, true),
                    field("data", InputType::File, false),
                ],
            ),
            candidate("hello", vec![]),
        ]
    }

    fn rec(slug: &str, score: f64) -> Recommendation {
        Recommendation {
            slug: slug.into(),
            score,
            why: "because".into(),
        }
    }

    fn plan(slug: &str, inputs: Value) -> Option<PlanDraft> {
        Some(PlanDraft {
            slug: slug.into(),
            inputs: inputs.as_object().unwrap().clone(),
            missing: vec!["made-up".into()],
        })
    }

    fn inputs(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn valid_proposals_pass_unchanged_but_as_form_text() {
        let proposal = Proposal {
            recommendations: vec![rec("sales-report", 1.0), rec("hello", 0.5)],
            plan: plan(
                "sales-report",
                json!({"limit": 5, "mode": "fast", "since": "2026-01-31", "dry_run": true,
                       "data": "sales.csv"}),
            ),
        };
        let (checked, refusals) = check_proposal(proposal.clone(), &allowed());
        assert!(refusals.is_empty(), "{refusals:?}");
        assert_eq!(checked.recommendations, proposal.recommendations);
        let plan = checked.plan.unwrap();
        assert_eq!(
            plan.inputs,
            inputs(json!({"limit": "5", "mode": "fast", "since": "2026-01-31",
                          "dry_run": "true", "data": "sales.csv"}))
        );
        // The provider's own `missing` is not trusted; it is recomputed from the schema.
        assert!(plan.missing.is_empty(), "{:?}", plan.missing);
    }

    #[test]
    fn skills_outside_the_allowed_set_are_refused() {
        let proposal = Proposal {
            recommendations: vec![rec("delete-all", 2.0), rec("hello", 1.0), rec("hello", 0.5)],
            plan: plan("delete-all", json!({"really": "yes"})),
        };
        let (checked, refusals) = check_proposal(proposal, &allowed());
        assert_eq!(checked.recommendations, vec![rec("hello", 1.0)]);
        assert_eq!(checked.plan, None);
        assert_eq!(refusals.len(), 2, "{refusals:?}");
        assert!(refusals.iter().all(|r| r.contains("\"delete-all\"")));

        let (checked, refusals) = check_proposal(Proposal::default(), &[]);
        assert_eq!(checked, Proposal::default());
        assert!(refusals.is_empty());
    }

    #[test]
    fn bad_inputs_are_dropped_refused_and_missing() {
        let proposal = Proposal {
            recommendations: vec![rec("sales-report", 1.0)],
            plan: plan(
                "sales-report",
                json!({"limit": 500, "mode": "turbo", "since": "yesterday", "dry_run": "maybe",
                       "title": ["a"], "data": "../etc/passwd", "owner": "me"}),
            ),
        };
        let (checked, refusals) = check_proposal(proposal, &allowed());
        let plan = checked.plan.unwrap();
        assert!(plan.inputs.is_empty(), "{:?}", plan.inputs);
        assert_eq!(plan.missing, vec!["limit", "since"]);
        let joined = refusals.join("\n");
        for field in [
            "limit", "mode", "since", "dry_run", "title", "data", "owner",
        ] {
            assert!(
                joined.contains(&format!("input \"{field}\"")),
                "{field}: {joined}"
            );
        }
        assert_eq!(refusals.len(), 7, "{joined}");
        assert!(joined.contains("between 1 and 100"), "{joined}");
        assert!(joined.contains("not an input of this skill"), "{joined}");
    }

    #[test]
    fn valid_inputs_survive_next_to_bad_ones() {
        let proposal = Proposal {
            recommendations: vec![],
            plan: plan(
                "sales-report",
                json!({"limit": 7.0, "mode": "slow", "since": "2026-02-30", "title": "  ",
                       "dry_run": null}),
            ),
        };
        let (checked, refusals) = check_proposal(proposal, &allowed());
        let plan = checked.plan.unwrap();
        assert_eq!(plan.inputs, inputs(json!({"limit": "7", "mode": "slow"})));
        assert_eq!(plan.missing, vec!["since"]);
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert!(refusals[0].contains("input \"since\""), "{refusals:?}");
    }
}
