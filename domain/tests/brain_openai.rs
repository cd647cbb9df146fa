//! The OpenAI-compatible brain against a small local server that speaks chat completions: it
//! records each request (so the tests can check what was offered) and answers as scripted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use domain::brain::openai::{OpenAiCompatible, OpenAiConfig};
use domain::brain::{check_proposal, Ask, Attachment, Candidate, Proposal, Provider};
use model::skill::{InputField, InputSchema, InputType, RiskLevel};
use serde_json::{json, Map, Value};

const KEY: &str = "sk-test-secret-0123456789";
const MODEL: &str = "test-model";

#[derive(Clone)]
enum Reply {
    Json(StatusCode, Value),
    Text(StatusCode, &'static str),
    /// Never answers, to exercise the timeout.
    Hang,
}

#[derive(Clone)]
struct Mock {
    reply: Reply,
    seen: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

async fn chat(State(mock): State<Mock>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    mock.seen.lock().unwrap().push((headers, body));
    match mock.reply {
        Reply::Json(status, value) => (status, Json(value)).into_response(),
        Reply::Text(status, text) => (status, text).into_response(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

/// Starts the server; returns its base URL (with a trailing slash, which must be trimmed)
/// and the requests it will have seen.
async fn serve(reply: Reply) -> (String, Arc<Mutex<Vec<(HeaderMap, Value)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(Mock {
            reply,
            seen: seen.clone(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1/"), seen)
}

fn provider(base_url: &str, api_key: Option<&str>) -> OpenAiCompatible {
    OpenAiCompatible::new(OpenAiConfig {
        base_url: base_url.into(),
        model: MODEL.into(),
        api_key: api_key.map(str::to_string),
        timeout: Duration::from_secs(1),
    })
    .unwrap()
}

fn field(name: &str, kind: InputType, required: bool) -> InputField {
    InputField {
        name: name.into(),
        label: name.replace('_', " "),
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

fn candidate(slug: &str, description: &str, fields: Vec<InputField>) -> Candidate {
    Candidate {
        slug: slug.into(),
        name: slug.replace('-', " "),
        description: description.into(),
        output: "A table.".into(),
        readme: String::new(),
        examples: vec![format!("run {slug}")],
        inputs: InputSchema { fields },
        risk: RiskLevel::Low,
        requires_confirmation: false,
    }
}

fn allowed() -> Vec<Candidate> {
    let mut limit = field("limit", InputType::Integer, true);
    limit.min = Some(1.0);
    limit.max = Some(100.0);
    limit.description = Some("How many rows to show.".into());
    let mut mode = field("mode", InputType::Enum, false);
    mode.choices = vec!["fast".into(), "slow".into()];
    let mut title = field("title", InputType::String, false);
    title.max_length = Some(40);
    title.default = Some(json!("Sales"));
    vec![
        candidate(
            "sales-report",
            "Summarises sales per region.",
            vec![
                limit,
                mode,
                field("since", InputType::Date, true),
                field("dry_run", InputType::Boolean, false),
                field("data", InputType::File, false),
                title,
            ],
        ),
        candidate(
            "hello",
            "Greets someone.",
            vec![field("name", InputType::String, false)],
        ),
    ]
}

fn attachments() -> Vec<Attachment> {
    vec![Attachment {
        file_name: "sales.csv".into(),
        size: 1234,
    }]
}

/// A chat completion whose message holds `content` and one tool call per (name, arguments).
fn completion(content: Option<&str>, calls: &[(&str, &str)]) -> Value {
    let tool_calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (name, arguments))| {
            json!({"id": format!("call_{i}"), "type": "function",
                   "function": {"name": name, "arguments": arguments}})
        })
        .collect();
    let mut message = json!({"role": "assistant", "content": content});
    if !tool_calls.is_empty() {
        message["tool_calls"] = json!(tool_calls);
    }
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    })
}

async fn ask(reply: Reply) -> (Proposal, Vec<(HeaderMap, Value)>) {
    let (url, seen) = serve(reply).await;
    let allowed = allowed();
    let files = attachments();
    let ask = Ask {
        request: "Sales report of the last 5 rows, fast please",
        attachments: &files,
    };
    let proposal = provider(&url, Some(KEY))
        .propose(ask, &allowed)
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    (proposal, seen)
}

async fn ask_ok(content: Option<&str>, calls: &[(&str, &str)]) -> Proposal {
    let (proposal, seen) = ask(Reply::Json(StatusCode::OK, completion(content, calls))).await;
    assert_eq!(seen.len(), 1);
    proposal
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_exactly_the_allowed_skills_and_plans_the_call() {
    let (proposal, seen) = ask(Reply::Json(
        StatusCode::OK,
        completion(
            Some("  The sales report\nfits best. "),
            &[(
                "sales-report",
                r#"{"limit": 5, "mode": "fast", "dry_run": true, "data": "sales.csv"}"#,
            )],
        ),
    ))
    .await;

    let [(headers, body)] = seen.as_slice() else {
        panic!("expected one request, got {}", seen.len())
    };
    assert_eq!(headers["authorization"], format!("Bearer {KEY}").as_str());
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["role"], "user");
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("Sales report of the last 5 rows"), "{user}");
    assert!(user.contains("sales.csv"), "{user}");

    let tools = body["tools"].as_array().unwrap();
    let names: Vec<&str> = tools
        .iter()
        .map(|t| {
            assert_eq!(t["type"], "function");
            t["function"]["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names, ["sales-report", "hello"]);
    let sales = &tools[0]["function"];
    assert!(sales["description"]
        .as_str()
        .unwrap()
        .contains("Summarises sales per region."));
    assert_eq!(
        sales["parameters"],
        json!({
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "minimum": 1, "maximum": 100,
                          "description": "limit: How many rows to show."},
                "mode": {"type": "string", "enum": ["fast", "slow"], "description": "mode"},
                "since": {"type": "string", "format": "date",
                          "description": "since (YYYY-MM-DD)"},
                "dry_run": {"type": "boolean", "description": "dry run"},
                "data": {"type": "string", "enum": ["sales.csv"],
                         "description": "data (the name of one of the attached files)"},
                "title": {"type": "string", "maxLength": 40, "default": "Sales",
                          "description": "title"},
            },
            "required": ["limit", "since"],
            "additionalProperties": false,
        })
    );

    assert_eq!(proposal.recommendations.len(), 1);
    let rec = &proposal.recommendations[0];
    assert_eq!(rec.slug, "sales-report");
    assert_eq!(rec.why, "chosen by test-model: The sales report fits best.");
    let plan = proposal.plan.clone().unwrap();
    assert_eq!(plan.slug, "sales-report");
    assert_eq!(
        plan.inputs,
        object(json!({"limit": "5", "mode": "fast", "dry_run": "true", "data": "sales.csv"}))
    );
    assert_eq!(plan.missing, ["since"]);

    let (checked, refusals) = check_proposal(proposal.clone(), &allowed());
    assert!(refusals.is_empty(), "{refusals:?}");
    assert_eq!(checked, proposal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tool_calls_are_two_recommendations() {
    let proposal = ask_ok(
        None,
        &[
            ("hello", r#"{"name": "Ada"}"#),
            ("sales-report", r#"{"limit": 3}"#),
            ("hello", r#"{"name": "again"}"#),
        ],
    )
    .await;
    let slugs: Vec<&str> = proposal
        .recommendations
        .iter()
        .map(|r| r.slug.as_str())
        .collect();
    assert_eq!(slugs, ["hello", "sales-report"]);
    assert!(proposal.recommendations[0].score > proposal.recommendations[1].score);
    assert_eq!(proposal.recommendations[0].why, "chosen by test-model");
    let plan = proposal.plan.unwrap();
    assert_eq!(plan.slug, "hello");
    assert_eq!(plan.inputs, object(json!({"name": "Ada"})));
    assert!(plan.missing.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_outside_the_allowed_set_is_refused() {
    let proposal = ask_ok(
        None,
        &[
            ("delete-everything", r#"{"confirm": true}"#),
            ("hello", r#"{"name": "Ada"}"#),
        ],
    )
    .await;
    // The provider passes on what the model said; the re-check is what refuses it.
    assert_eq!(proposal.recommendations[0].slug, "delete-everything");
    let (checked, refusals) = check_proposal(proposal, &allowed());
    let slugs: Vec<&str> = checked
        .recommendations
        .iter()
        .map(|r| r.slug.as_str())
        .collect();
    assert_eq!(slugs, ["hello"]);
    assert_eq!(checked.plan, None);
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    for r in &refusals {
        assert!(r.contains("\"delete-everything\""), "{r}");
        assert!(r.contains("not among the skills allowed here"), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_that_fail_the_schema_are_dropped() {
    let proposal = ask_ok(
        None,
        &[(
            "sales-report",
            r#"{"limit": 500, "mode": "turbo", "owner": "me", "since": "2026-03-01",
                "data": "secret.txt", "title": "Q1"}"#,
        )],
    )
    .await;
    let (checked, refusals) = check_proposal(proposal, &allowed());
    let plan = checked.plan.unwrap();
    // The provider offered only attached file names, but the re-check only sees a plain name.
    assert_eq!(
        plan.inputs,
        object(json!({"since": "2026-03-01", "data": "secret.txt", "title": "Q1"}))
    );
    assert_eq!(plan.missing, ["limit"]);
    let joined = refusals.join("\n");
    assert_eq!(refusals.len(), 3, "{joined}");
    assert!(
        joined.contains("input \"limit\" refused: Enter a number between 1 and 100."),
        "{joined}"
    );
    assert!(
        joined.contains("input \"mode\" refused: Choose one of: fast, slow."),
        "{joined}"
    );
    assert!(
        joined.contains("input \"owner\" refused: not an input of this skill"),
        "{joined}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_arguments_fill_nothing() {
    for bad in [r#"{"limit": 5"#, "[1, 2]", "not json at all"] {
        let proposal = ask_ok(None, &[("sales-report", bad)]).await;
        assert_eq!(proposal.recommendations.len(), 1, "{bad}");
        let plan = proposal.plan.unwrap();
        assert!(plan.inputs.is_empty(), "{bad}: {:?}", plan.inputs);
        assert_eq!(plan.missing, ["limit", "since"], "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_answer_recommends_nothing() {
    let proposal = ask_ok(Some("None of these skills can order pizza."), &[]).await;
    assert_eq!(proposal, Proposal::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_allowed_skills_means_no_request() {
    let (url, seen) = serve(Reply::Hang).await;
    let ask = Ask {
        request: "anything",
        attachments: &[],
    };
    let proposal = provider(&url, Some(KEY)).propose(ask, &[]).await.unwrap();
    assert_eq!(proposal, Proposal::default());
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_there_is_no_authorization_header() {
    let (url, seen) = serve(Reply::Json(StatusCode::OK, completion(None, &[]))).await;
    let allowed = allowed();
    let ask = Ask {
        request: "hi",
        attachments: &[],
    };
    provider(&url, None).propose(ask, &allowed).await.unwrap();
    let seen = seen.lock().unwrap();
    assert!(!seen[0].0.contains_key("authorization"));
    // With nothing attached, a file field names no choices and is never required.
    let data = &seen[0].1["tools"][0]["function"]["parameters"]["properties"]["data"];
    assert_eq!(data["type"], "string");
    assert!(data.get("enum").is_none(), "{data}");
}

async fn failure(reply: Reply) -> String {
    let (url, _seen) = serve(reply).await;
    let allowed = allowed();
    let ask = Ask {
        request: "hi",
        attachments: &[],
    };
    let err = provider(&url, Some(KEY))
        .propose(ask, &allowed)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(!message.contains(KEY), "the key leaked: {message}");
    assert!(
        message.contains(&format!("{}chat/completions", url)),
        "{message}"
    );
    assert_eq!(err.kind(), model::ErrorKind::Internal);
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_are_clear_and_never_show_the_key() {
    let message = failure(Reply::Json(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"error": {"message": "model overloaded"}}),
    ))
    .await;
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(message.contains("model overloaded"), "{message}");

    // Some servers echo the key they were given; it must not reach the log.
    let message = failure(Reply::Json(
        StatusCode::UNAUTHORIZED,
        json!({"error": {"message": format!("Incorrect API key provided: {KEY}")}}),
    ))
    .await;
    assert!(message.contains("HTTP 401"), "{message}");
    assert!(message.contains("check the API key"), "{message}");
    assert!(message.contains("<redacted>"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_are_errors() {
    let message = failure(Reply::Text(StatusCode::OK, "<html>gateway</html>")).await;
    assert!(message.contains("not JSON"), "{message}");
    let message = failure(Reply::Json(StatusCode::OK, json!({"choices": []}))).await;
    assert!(message.contains("no choices[0].message"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out() {
    let started = Instant::now();
    let message = failure(Reply::Hang).await;
    assert!(message.contains("timed out"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_clear_error() {
    // A port that was just free: nothing listens there any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/v1");
    let allowed = allowed();
    let ask = Ask {
        request: "hi",
        attachments: &[],
    };
    let err = provider(&url, Some(KEY))
        .propose(ask, &allowed)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("could not connect"), "{err}");
    assert!(err.contains(&format!("{url}/chat/completions")), "{err}");
    assert!(!err.contains(KEY), "{err}");
}

#[test]
fn the_configuration_is_checked_and_the_key_never_printed() {
    let config = |base_url: &str, model: &str| OpenAiConfig {
        base_url: base_url.into(),
        model: model.into(),
        api_key: Some(KEY.into()),
        timeout: Duration::from_secs(5),
    };
    for (url, model) in [
        ("not a url", MODEL),
        ("ftp://example.com/v1", MODEL),
        ("https://user:pw@example.com/v1", MODEL),
        ("https://example.com/v1?key=x", MODEL),
        ("https://api.openai.com/v1", " "),
    ] {
        let err = OpenAiCompatible::new(config(url, model)).unwrap_err();
        assert!(!err.to_string().contains(KEY), "{err}");
    }
    let ok = OpenAiCompatible::new(config("https://api.openai.com/v1/", MODEL)).unwrap();
    assert_eq!(ok.name(), "openai-compatible");
    assert!(!format!("{ok:?}").contains(KEY));
    assert!(!format!("{:?}", config("https://x/v1", MODEL)).contains(KEY));
    assert!(format!("{ok:?}").contains("https://api.openai.com/v1/chat/completions"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_base_urls_get_as_far_as_the_tls_handshake() {
    // Real providers are https: the client must speak TLS, not refuse the scheme. The local
    // server speaks plain HTTP, so the handshake itself fails.
    let (url, seen) = serve(Reply::Json(StatusCode::OK, completion(None, &[]))).await;
    let url = url.replace("http://", "https://");
    let allowed = allowed();
    let ask = Ask {
        request: "hi",
        attachments: &[],
    };
    let err = provider(&url, Some(KEY))
        .propose(ask, &allowed)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("could not connect"), "{err}");
    assert!(!err.contains("scheme"), "{err}");
    assert!(seen.lock().unwrap().is_empty());
}
