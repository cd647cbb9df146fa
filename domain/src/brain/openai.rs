//! A [`Provider`] that asks any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM,
//! llama.cpp, Ollama, LiteLLM, …) to pick among the allowed skills by tool calling.
//!
//! Only the allowed candidates are offered as tools, and what comes back is passed on as the
//! model said it, unfiltered: [`super::check_proposal`] is where it is judged, so a refusal is
//! logged in one place whatever the provider.

use std::collections::BTreeSet;
use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use model::skill::{InputField, InputSchema, InputType};
use reqwest::{StatusCode, Url};
use serde_json::{json, Map, Value};

use super::{
    is_archive_name, number_text, Ask, Attachment, Candidate, PlanDraft, Proposal, ProposalFuture,
    Provider, Recommendation,
};
use crate::{AppError, AppResult};

/// A bigger answer than this is not a chat completion; reading on would only cost memory.
const MAX_RESPONSE_BYTES: usize = 4 << 20;
/// How much of the model's own words a recommendation's `why` keeps.
const MAX_WHY_CHARS: usize = 300;
/// Tool descriptions are prompt tokens paid on every request; long READMEs are cut.
const MAX_TOOL_DESCRIPTION_CHARS: usize = 1000;
/// How much of an error body is worth quoting in a log line.
const MAX_ERROR_BODY_CHARS: usize = 300;

const SYSTEM_PROMPT: &str = "You help a person run the skills (scripts) of their organisation. \
Each tool is one skill they are allowed to run. Read their request and call the tool that best \
matches it; if a few tools match about equally well, call each of them, best first. Fill in \
arguments only with values the request itself states or plainly implies: leave an argument out \
rather than guess it, and for a file argument use only the name of a file the person attached. \
Never invent a skill that is not in the tool list. If no tool fits the request, call none and \
say in one sentence why.";

/// Where the provider is and how to reach it. The key stays out of `Debug` and every message.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// Up to the version, e.g. `https://api.openai.com/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// For the whole exchange, connect to last byte.
    pub timeout: Duration,
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The OpenAI-compatible provider; one per server, shared by all requests.
pub struct OpenAiCompatible {
    client: reqwest::Client,
    endpoint: Url,
    model: String,
    api_key: Option<String>,
}

impl fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("endpoint", &self.endpoint.as_str())
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl OpenAiCompatible {
    /// Checks the configuration up front, so a typo fails at start-up, not on the first ask.
    pub fn new(config: OpenAiConfig) -> anyhow::Result<Self> {
        let base = config.base_url.trim().trim_end_matches('/');
        let endpoint = Url::parse(&format!("{base}/chat/completions"))
            .with_context(|| format!("brain base URL {base:?} is not a URL"))?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            bail!("brain base URL {base:?} must start with http:// or https://");
        }
        // Credentials in the URL would end up in every error message and log line.
        if !endpoint.username().is_empty() || endpoint.password().is_some() {
            bail!("brain base URL must not hold credentials; set the API key instead");
        }
        if endpoint.query().is_some() || endpoint.fragment().is_some() {
            bail!("brain base URL {base:?} must not have a query or fragment");
        }
        let model = config.model.trim().to_string();
        if model.is_empty() {
            bail!("brain model name is empty");
        }
        let api_key = config.api_key.filter(|k| !k.trim().is_empty());
        if config.timeout.is_zero() {
            bail!("brain timeout must be more than zero");
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            // A redirect would be a misconfigured URL; following it could carry the key along.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the HTTP client for the brain")?;
        Ok(OpenAiCompatible {
            client,
            endpoint,
            model,
            api_key,
        })
    }

    /// The model named in the configuration, for logs and the audit trail.
    pub fn model(&self) -> &str {
        &self.model
    }

    async fn ask(&self, ask: Ask<'_>, allowed: &[Candidate]) -> AppResult<Proposal> {
        let tools: Vec<Value> = allowed
            .iter()
            .filter_map(|c| tool(c, ask.attachments))
            .collect();
        // Nothing to choose from: no need to ask (and an empty `tools` list is refused by some).
        if tools.is_empty() {
            return Ok(Proposal::default());
        }
        let body = json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_message(&ask)},
            ],
            "tools": tools,
            "tool_choice": "auto",
        });
        let answer = self.post(&body).await?;
        let message = answer
            .get("choices")
            .and_then(|c| c.get(0))
            .and_then(|c| c.get("message"))
            .ok_or_else(|| self.fail("the answer has no choices[0].message"))?;
        Ok(proposal(&self.model, message, allowed))
    }

    /// Sends one request and returns the JSON answer, or an error naming the endpoint only.
    async fn post(&self, body: &Value) -> AppResult<Value> {
        let mut request = self.client.post(self.endpoint.clone()).json(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let mut response = request.send().await.map_err(|e| self.http_error(e))?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.http_error(e))? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(self.fail(&format!(
                    "the answer is larger than {} MiB",
                    MAX_RESPONSE_BYTES >> 20
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let hint = match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => " (check the API key)",
                StatusCode::NOT_FOUND => " (check the base URL and the model name)",
                StatusCode::TOO_MANY_REQUESTS => " (rate limited)",
                _ => "",
            };
            // One line, however the server laid its body out.
            let text = String::from_utf8_lossy(&bytes);
            let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
            // Scrubbed before cutting, so a cut cannot leave half an echoed key behind.
            let excerpt = cut(&self.scrub(flat), MAX_ERROR_BODY_CHARS);
            return Err(self.fail(&format!("HTTP {status}{hint}: {excerpt}")));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| self.fail(&format!("the answer is not JSON ({e})")))
    }

    fn http_error(&self, err: reqwest::Error) -> AppError {
        let what = if err.is_timeout() {
            "no answer in time (timed out)"
        } else if err.is_connect() {
            "could not connect"
        } else {
            "the request failed"
        };
        // reqwest's own message is terse; the cause (refused, DNS, TLS, …) is in the chain.
        let err = err.without_url();
        let mut text = format!("{what}: {err}");
        let mut source = err.source();
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        self.fail(&text)
    }

    /// The one shape of every error: the endpoint and what happened, with the key scrubbed
    /// in case a server echoes it back.
    fn fail(&self, what: &str) -> AppError {
        let message = format!(
            "OpenAI-compatible brain at {} (model {:?}): {what}",
            self.endpoint, self.model
        );
        AppError::Internal(anyhow!(self.scrub(message)))
    }

    fn scrub(&self, text: String) -> String {
        match &self.api_key {
            Some(key) => text.replace(key.as_str(), "<redacted>"),
            None => text,
        }
    }
}

impl Provider for OpenAiCompatible {
    fn name(&self) -> &'static str {
        "openai-compatible"
    }

    fn propose<'a>(&'a self, ask: Ask<'a>, allowed: &'a [Candidate]) -> ProposalFuture<'a> {
        Box::pin(self.ask(ask, allowed))
    }
}

/// The function name a skill is offered under: its slug, which already fits the
/// `^[a-zA-Z0-9_-]{1,64}$` that function names must match; anything else is not offered.
fn tool_name(slug: &str) -> Option<&str> {
    let fits = !slug.is_empty()
        && slug.len() <= 64
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    fits.then_some(slug)
}

/// One candidate as a chat-completions tool.
fn tool(candidate: &Candidate, attachments: &[Attachment]) -> Option<Value> {
    let Some(name) = tool_name(&candidate.slug) else {
        tracing::warn!(slug = %candidate.slug, "skill not offered to the brain: slug is not a valid function name");
        return None;
    };
    Some(json!({
        "type": "function",
        "function": {
            "name": name,
            "description": tool_description(candidate),
            "parameters": parameters(&candidate.inputs, attachments),
        },
    }))
}

fn tool_description(c: &Candidate) -> String {
    let mut text = c.name.trim().to_string();
    for (label, part) in [("", c.description.trim()), ("Output: ", c.output.trim())] {
        if !part.is_empty() {
            text.push_str(if text.is_empty() { "" } else { "\n" });
            text.push_str(label);
            text.push_str(part);
        }
    }
    let examples: Vec<&str> = c
        .examples
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .collect();
    if !examples.is_empty() {
        text.push_str("\nExample requests: ");
        text.push_str(&examples.join(" | "));
    }
    if !c.readme.trim().is_empty() {
        text.push_str("\n\n");
        text.push_str(c.readme.trim());
    }
    cut(&text, MAX_TOOL_DESCRIPTION_CHARS)
}

/// The JSON Schema of a skill's inputs, as close to what `validate_inputs` accepts as JSON
/// Schema can say (`check_proposal` still has the last word).
pub fn parameters(schema: &InputSchema, attachments: &[Attachment]) -> Value {
    let names: Vec<&str> = attachments
        .iter()
        .map(|a| a.file_name.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in &schema.fields {
        properties.insert(field.name.clone(), property(field, &names));
        // With nothing attached, a required file cannot be filled: asking for it would only
        // invite a made-up name.
        let fillable = match field.kind {
            InputType::File => !names.is_empty(),
            InputType::Folder => names.iter().any(|n| is_archive_name(n)),
            _ => true,
        };
        if field.required && fillable {
            required.push(Value::String(field.name.clone()));
        }
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn property(field: &InputField, attachments: &[&str]) -> Value {
    let mut p = Map::new();
    let mut about = field.label.trim().to_string();
    if let Some(d) = field.description.as_deref().map(str::trim) {
        if !d.is_empty() && d != about {
            about = format!("{about}: {d}");
        }
    }
    let kind = match field.kind {
        InputType::String => {
            if let Some(n) = field.max_length {
                p.insert("maxLength".into(), n.into());
            }
            "string"
        }
        InputType::Integer | InputType::Number => {
            for (key, bound) in [("minimum", field.min), ("maximum", field.max)] {
                if let Some(b) = bound {
                    let value = if field.kind == InputType::Integer {
                        Value::from(b as i64)
                    } else {
                        json!(b)
                    };
                    p.insert(key.into(), value);
                }
            }
            if field.kind == InputType::Integer {
                "integer"
            } else {
                "number"
            }
        }
        InputType::Boolean => "boolean",
        InputType::Enum => {
            p.insert("enum".into(), json!(field.choices));
            "string"
        }
        InputType::Date => {
            p.insert("format".into(), "date".into());
            about.push_str(" (YYYY-MM-DD)");
            "string"
        }
        InputType::File => {
            if attachments.is_empty() {
                about.push_str(" (a file; none is attached, so leave this out)");
            } else {
                p.insert("enum".into(), json!(attachments));
                about.push_str(" (the name of one of the attached files)");
            }
            "string"
        }
        InputType::Folder => {
            let archives: Vec<&str> = attachments
                .iter()
                .copied()
                .filter(|name| is_archive_name(name))
                .collect();
            if archives.is_empty() {
                about.push_str(
                    " (a folder of files, as a .zip; none is attached, so leave this out)",
                );
            } else {
                p.insert("enum".into(), json!(archives));
                about
                    .push_str(" (a folder: the name of one of the attached .zip or .tar.gz files)");
            }
            "string"
        }
    };
    p.insert("type".into(), kind.into());
    p.insert("description".into(), about.into());
    if let Some(default) = &field.default {
        p.insert("default".into(), default.clone());
    }
    Value::Object(p)
}

fn user_message(ask: &Ask<'_>) -> String {
    let mut text = format!("Request: {}", ask.request.trim());
    if ask.attachments.is_empty() {
        text.push_str("\n\nNo files are attached.");
    } else {
        text.push_str("\n\nAttached files:");
        for a in ask.attachments {
            text.push_str(&format!("\n- {} ({} bytes)", a.file_name, a.size));
        }
    }
    text
}

/// The model's answer as a proposal: one recommendation per tool call, best first, and a plan
/// from the first call's arguments.
fn proposal(model: &str, message: &Value, allowed: &[Candidate]) -> Proposal {
    let said = content_text(message.get("content"));
    let calls = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();

    let mut out = Proposal::default();
    let mut seen = BTreeSet::new();
    for call in calls {
        let function = call.get("function");
        let Some(name) = function.and_then(|f| f.get("name")).and_then(Value::as_str) else {
            tracing::warn!(model, "brain tool call without a function name ignored");
            continue;
        };
        // Unknown names pass through as slugs on purpose: check_proposal refuses and logs them.
        let slug = allowed
            .iter()
            .find(|c| tool_name(&c.slug) == Some(name))
            .map_or(name, |c| c.slug.as_str());
        if !seen.insert(slug.to_string()) {
            continue;
        }
        let rank = out.recommendations.len();
        let why = match (rank, said.is_empty()) {
            (0, true) => format!("chosen by {model}"),
            (0, false) => format!("chosen by {model}: {said}"),
            _ => format!("also proposed by {model}"),
        };
        out.recommendations.push(Recommendation {
            slug: slug.to_string(),
            score: 1.0 / (rank + 1) as f64,
            why,
        });
        if rank == 0 {
            let arguments = function.and_then(|f| f.get("arguments"));
            let inputs = form_inputs(slug, arguments);
            let schema = allowed.iter().find(|c| c.slug == slug).map(|c| &c.inputs);
            out.plan = Some(PlanDraft {
                slug: slug.to_string(),
                missing: schema.map(|s| s.missing(&inputs)).unwrap_or_default(),
                inputs,
            });
        }
    }
    out
}

/// Text content, whether a plain string or a list of `{"type":"text","text":…}` parts.
fn content_text(content: Option<&Value>) -> String {
    let text = match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    cut(
        &text.split_whitespace().collect::<Vec<_>>().join(" "),
        MAX_WHY_CHARS,
    )
}

/// The call's arguments as the web form would send them. `arguments` is JSON text by the
/// protocol (some servers send an object); text that is not a JSON object fills nothing.
fn form_inputs(slug: &str, arguments: Option<&Value>) -> Map<String, Value> {
    let parsed = match arguments {
        Some(Value::String(text)) if text.trim().is_empty() => Ok(Value::Object(Map::new())),
        Some(Value::String(text)) => serde_json::from_str::<Value>(text).map_err(|e| e.to_string()),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(_) => Err("not a string or an object".to_string()),
    };
    let object = match parsed {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            tracing::warn!(
                slug,
                "brain tool call arguments are not a JSON object; ignored"
            );
            return Map::new();
        }
        Err(error) => {
            tracing::warn!(slug, %error, "brain tool call arguments are not valid JSON; ignored");
            return Map::new();
        }
    };
    object
        .into_iter()
        .filter_map(|(key, value)| {
            let text = match value {
                Value::Null => return None,
                Value::String(s) => Value::String(s),
                Value::Bool(b) => Value::String(b.to_string()),
                Value::Number(n) => Value::String(number_text(&n)),
                // Left as is so check_proposal refuses it by name.
                other => other,
            };
            Some((key, text))
        })
        .collect()
}

/// At most `max` characters, with an ellipsis when something was cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", text[..end].trim_end()),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// A required input as a manifest declares it.
    fn upload_field(name: &str, kind: &str) -> model::skill::InputField {
        serde_json::from_value(json!({"name": name, "type": kind, "required": true})).unwrap()
    }

    #[test]
    fn a_folder_is_asked_for_only_as_an_attached_archive() {
        let schema = InputSchema {
            fields: vec![
                upload_field("data", "file"),
                upload_field("photos", "folder"),
            ],
        };
        let attached = |names: &[&str]| -> Vec<Attachment> {
            names
                .iter()
                .map(|n| Attachment {
                    file_name: n.to_string(),
                    size: 1,
                })
                .collect()
        };
        let p = parameters(&schema, &attached(&["a.csv", "trip.zip", "b.tar.gz"]));
        assert_eq!(
            p["properties"]["data"]["enum"],
            json!(["a.csv", "b.tar.gz", "trip.zip"])
        );
        assert_eq!(
            p["properties"]["photos"]["enum"],
            json!(["b.tar.gz", "trip.zip"])
        );
        assert_eq!(p["required"], json!(["data", "photos"]));
        // Without an archive the folder cannot be filled: not asked for, not required.
        let p = parameters(&schema, &attached(&["a.csv"]));
        assert!(p["properties"]["photos"].get("enum").is_none(), "{p}");
        assert_eq!(p["required"], json!(["data"]));
    }
}
