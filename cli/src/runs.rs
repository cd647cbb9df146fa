//! Running skills: `run`, `status`, `logs`, `confirm`, `cancel`, and downloading artifacts.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use model::skill::{result_view_from_str, ResultView};
use model::{ExecutionStatus, ExecutionView};
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::account::connect;
use crate::api::Api;
use crate::error::{code, io_failure, Failure, Outcome};
use crate::output::{print_json, size, table};
use crate::Global;

/// The server refuses larger uploads (per file input).
const MAX_UPLOAD_BYTES: u64 = 20 * 1024 * 1024;

#[derive(Args)]
pub struct RunArgs {
    /// The skill's slug (see `execgov-cli list`)
    skill: String,
    /// An input as KEY=VALUE, KEY being the input's name in the skill's manifest; repeat for
    /// each input (the server converts and checks the values: numbers, true/false, dates as
    /// YYYY-MM-DD)
    #[arg(short, long = "input", value_name = "KEY=VALUE")]
    inputs: Vec<String>,
    /// A file input as KEY=PATH, uploaded with the request (at most 20 MiB each)
    #[arg(short, long = "file", value_name = "KEY=PATH")]
    files: Vec<String>,
    #[command(flatten)]
    follow: FollowArgs,
}

#[derive(Args, Clone, Default)]
pub struct FollowArgs {
    /// Wait until the run ends, printing its log as it comes (a progress line on stderr),
    /// then its result; exits 1 if the run failed
    #[arg(short, long)]
    pub wait: bool,
    /// Print the execution as JSON on stdout (the log goes to stderr)
    #[arg(long)]
    pub json: bool,
    /// Download the run's artifacts into DIR (implies --wait)
    #[arg(short, long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// `GET /api/v1/executions/{id}/logs?after=`: up to 5,000 lines from `after`.
#[derive(Deserialize)]
struct LogPage {
    status: ExecutionStatus,
    /// The run has ended and this page reaches the end of its log.
    finished: bool,
    lines: Vec<LogLine>,
    next: usize,
    /// Lines stored now.
    total: usize,
}

#[derive(Deserialize)]
struct LogLine {
    stream: String,
    line: String,
}

pub async fn run(global: &Global, args: RunArgs) -> Outcome<u8> {
    let mut inputs = BTreeMap::new();
    for raw in &args.inputs {
        let (key, value) = key_value("input", raw)?;
        if inputs.insert(key.to_string(), Value::from(value)).is_some() {
            return Err(Failure::invalid(format!("input {key}: given twice")));
        }
    }
    let mut files = Vec::new();
    for raw in &args.files {
        let (key, path) = key_value("file", raw)?;
        if inputs.contains_key(key) || files.iter().any(|(k, _, _)| k == key) {
            return Err(Failure::invalid(format!("input {key}: given twice")));
        }
        files.push((key.to_string(), file_name(path)?, read_upload(key, path)?));
    }
    let api = connect(global)?;
    let what = format!("run {}", args.skill);
    let body = json!({ "skill": args.skill, "inputs": inputs });
    let request = api.post("/api/v1/executions");
    let request = if files.is_empty() {
        request.json(&body)
    } else {
        let mut form = Form::new().text("request", body.to_string());
        for (key, name, bytes) in files {
            let part = Part::bytes(bytes)
                .file_name(name)
                .mime_str("application/octet-stream")
                .map_err(|e| Failure::failed(format!("{what}: {e}")))?;
            form = form.part(key, part);
        }
        request.multipart(form)
    };
    let view: ExecutionView = api.json(request, &what).await?;
    conclude(&api, view, &args.follow).await
}

pub async fn status(global: &Global, id: i64, args: FollowArgs) -> Outcome<u8> {
    let api = connect(global)?;
    let view = fetch(&api, id).await?;
    report(&api, &view, &args).await
}

pub async fn logs(global: &Global, id: i64, follow: bool) -> Outcome<u8> {
    let api = connect(global)?;
    if !follow {
        // Every page of what is stored now.
        let mut after = 0;
        loop {
            let page: LogPage = api
                .json(
                    api.get(&format!("/api/v1/executions/{id}/logs?after={after}")),
                    &format!("logs of execution {id}"),
                )
                .await?;
            for line in &page.lines {
                print_line(line, false);
            }
            if page.lines.is_empty() || page.next >= page.total {
                return Ok(code::OK);
            }
            after = page.next;
        }
    }
    let status = follow_log(&api, id, false).await?;
    let view = fetch(&api, id).await?;
    eprintln!("{}", headline(&view));
    if status == ExecutionStatus::AwaitingConfirmation {
        eprintln!("{}", confirm_hint(id));
    }
    Ok(exit_code(view.summary.status))
}

pub async fn confirm(global: &Global, id: i64, args: FollowArgs) -> Outcome<u8> {
    let api = connect(global)?;
    let view: ExecutionView = api
        .json(
            api.post(&format!("/api/v1/executions/{id}/confirm")),
            &format!("confirm execution {id}"),
        )
        .await?;
    if !args.json {
        eprintln!("Execution {id} of {} confirmed.", view.summary.skill_slug);
    }
    conclude(&api, view, &args).await
}

pub async fn cancel(global: &Global, id: i64, json: bool) -> Outcome<u8> {
    let api = connect(global)?;
    let view: ExecutionView = api
        .json(
            api.post(&format!("/api/v1/executions/{id}/cancel")),
            &format!("cancel execution {id}"),
        )
        .await?;
    if json {
        print_json(&view)?;
    } else {
        println!(
            "Execution {id} of {} cancelled{}.",
            view.summary.skill_slug,
            match view.summary.status {
                ExecutionStatus::Cancelled => "",
                _ => " (a running one stops within moments)",
            }
        );
    }
    Ok(code::OK)
}

/// After creating or confirming: report, or follow then report.
async fn conclude(api: &Api, view: ExecutionView, args: &FollowArgs) -> Outcome<u8> {
    let id = view.summary.id;
    let wait = args.wait || args.output.is_some();
    if view.summary.status == ExecutionStatus::AwaitingConfirmation {
        if args.json {
            print_json(&view)?;
        } else {
            println!("{}", headline(&view));
        }
        eprintln!("{}", confirm_hint(id));
        return Ok(if wait { code::AWAITING } else { code::OK });
    }
    if !wait {
        if args.json {
            print_json(&view)?;
        } else {
            println!("{}", headline(&view));
            eprintln!("Follow it: execgov-cli logs {id} --follow");
        }
        return Ok(code::OK);
    }
    follow_log(api, id, args.json).await?;
    let view = fetch(api, id).await?;
    report(api, &view, args).await
}

async fn fetch(api: &Api, id: i64) -> Outcome<ExecutionView> {
    api.json(
        api.get(&format!("/api/v1/executions/{id}")),
        &format!("execution {id}"),
    )
    .await
}

/// Prints the log as it comes until the run ends (or waits for a confirmation); its status.
async fn follow_log(api: &Api, id: i64, log_to_stderr: bool) -> Outcome<ExecutionStatus> {
    let mut after = 0;
    let mut progress = Progress::new(id);
    let started = Instant::now();
    loop {
        // The server holds the question up to a second until there is something new, so lines
        // arrive as they are written and the progress line still ticks every second.
        let page: LogPage = api
            .json(
                api.get(&format!(
                    "/api/v1/executions/{id}/logs?after={after}&wait=1"
                )),
                &format!("follow execution {id}"),
            )
            .await?;
        if !page.lines.is_empty() {
            progress.clear();
            for line in &page.lines {
                print_line(line, log_to_stderr);
            }
        }
        after = page.next;
        if page.finished || page.status == ExecutionStatus::AwaitingConfirmation {
            progress.clear();
            return Ok(page.status);
        }
        progress.show(page.status, started.elapsed());
    }
}

fn print_line(line: &LogLine, log_to_stderr: bool) {
    match line.stream.as_str() {
        "stdout" if !log_to_stderr => println!("{}", line.line),
        "stdout" | "stderr" => eprintln!("{}", line.line),
        other => eprintln!("[{other}] {}", line.line),
    }
}

/// The progress line on stderr: redrawn in place on a terminal, one line per change otherwise.
struct Progress {
    id: i64,
    tty: bool,
    drawn: bool,
    last: Option<ExecutionStatus>,
}

impl Progress {
    fn new(id: i64) -> Progress {
        Progress {
            id,
            tty: std::io::stderr().is_terminal(),
            drawn: false,
            last: None,
        }
    }

    fn show(&mut self, status: ExecutionStatus, elapsed: Duration) {
        let word = words(status);
        if self.tty {
            eprint!(
                "\r\x1b[K… execution {} {word} ({} s)",
                self.id,
                elapsed.as_secs()
            );
            let _ = std::io::stderr().flush();
            self.drawn = true;
        } else if self.last != Some(status) {
            eprintln!("… execution {} {word}", self.id);
        }
        self.last = Some(status);
    }

    fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
            self.drawn = false;
        }
    }
}

/// The outcome for people: headline, result, artifacts; downloads them into `--output`.
async fn report(api: &Api, view: &ExecutionView, args: &FollowArgs) -> Outcome<u8> {
    let id = view.summary.id;
    let status = view.summary.status;
    let mut saved = Vec::new();
    if let Some(dir) = &args.output {
        if status.is_final() {
            saved = download(api, view, dir).await?;
        } else {
            eprintln!(
                "Execution {id} has not finished: nothing to download yet \
                 (execgov-cli logs {id} --follow)."
            );
        }
    }
    if args.json {
        print_json(view)?;
        for (_, path, _) in &saved {
            eprintln!("Saved {}", path.display());
        }
    } else {
        let failed = matches!(
            status,
            ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Cancelled
        );
        if failed {
            eprintln!("{}", headline(view));
        } else {
            println!("{}", headline(view));
        }
        if let Some(result) = &view.result {
            print_result(result);
        }
        if !saved.is_empty() {
            println!("Artifacts:");
            for (name, path, bytes) in &saved {
                println!("  {name} ({}) saved to {}", size(*bytes), path.display());
            }
        } else if !view.artifacts.is_empty() {
            println!("Artifacts (download them with -o DIR):");
            for model::Artifact {
                path: name,
                size: bytes,
            } in &view.artifacts
            {
                println!("  {name} ({})", size(*bytes));
            }
        }
    }
    if status == ExecutionStatus::AwaitingConfirmation {
        eprintln!("{}", confirm_hint(id));
    }
    Ok(exit_code(status))
}

fn print_result(text: &str) {
    match result_view_from_str(text) {
        Ok(ResultView::Table { columns, rows }) => print!("{}", table(&columns, &rows)),
        Ok(ResultView::Json(pretty)) => println!("{pretty}"),
        Err(_) => println!("{}", text.trim_end()),
    }
}

/// Saves every artifact under `dir`; (name, saved path, size).
async fn download(
    api: &Api,
    view: &ExecutionView,
    dir: &Path,
) -> Outcome<Vec<(String, PathBuf, i64)>> {
    let id = view.summary.id;
    let mut saved = Vec::new();
    if view.artifacts.is_empty() {
        return Ok(saved);
    }
    std::fs::create_dir_all(dir).map_err(|e| io_failure(code::FAILED, dir.display(), e))?;
    for model::Artifact {
        path: name,
        size: bytes,
    } in &view.artifacts
    {
        let relative = Path::new(name);
        let plain = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !plain || name.is_empty() {
            eprintln!("Skipped the artifact {name:?}: not a plain relative path.");
            continue;
        }
        let target = dir.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| io_failure(code::FAILED, parent.display(), e))?;
        }
        let what = format!("download {name} of execution {id}");
        let mut response = api
            .send(
                api.get(&format!("/api/v1/executions/{id}/artifact"))
                    .query(&[("path", name)]),
                &what,
            )
            .await?;
        let mut file = std::fs::File::create(&target)
            .map_err(|e| io_failure(code::FAILED, target.display(), e))?;
        while let Some(chunk) = response.chunk().await.map_err(|e| api.transport(e))? {
            file.write_all(&chunk)
                .map_err(|e| io_failure(code::FAILED, target.display(), e))?;
        }
        saved.push((name.clone(), target, *bytes));
    }
    Ok(saved)
}

/// `Execution 12 of csv-summary (v1) succeeded in 0.4 s.`, with the reason when it failed.
fn headline(view: &ExecutionView) -> String {
    let s = &view.summary;
    let took = match (view.started_at, s.finished_at) {
        (Some(a), Some(b)) => format!(
            " in {:.1} s",
            (b - a).num_milliseconds().max(0) as f64 / 1000.0
        ),
        _ => String::new(),
    };
    let subject = format!(
        "Execution {} of {} (v{})",
        s.id, s.skill_slug, view.skill_version
    );
    let reason = view
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    match s.status {
        ExecutionStatus::Succeeded => format!("{subject} succeeded{took}."),
        ExecutionStatus::Failed => match reason {
            Some(r) => format!("{subject} failed{took}: {r}"),
            None => format!("{subject} failed{took}."),
        },
        ExecutionStatus::TimedOut => format!("{subject} timed out{took}."),
        ExecutionStatus::Cancelled => format!("{subject} was cancelled."),
        ExecutionStatus::AwaitingConfirmation => format!("{subject} waits for a confirmation."),
        ExecutionStatus::Queued | ExecutionStatus::Running => {
            format!("{subject} is {}.", words(s.status))
        }
    }
}

fn confirm_hint(id: i64) -> String {
    format!(
        "The skill needs a person's confirmation before it runs.\n\
         Confirm it:  execgov-cli confirm {id} --wait\n\
         Or cancel:   execgov-cli cancel {id}"
    )
}

fn words(status: ExecutionStatus) -> String {
    status.as_str().replace('_', " ")
}

fn exit_code(status: ExecutionStatus) -> u8 {
    match status {
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Cancelled => {
            code::FAILED
        }
        ExecutionStatus::AwaitingConfirmation => code::AWAITING,
        ExecutionStatus::Succeeded | ExecutionStatus::Queued | ExecutionStatus::Running => code::OK,
    }
}

fn key_value<'a>(flag: &str, raw: &'a str) -> Outcome<(&'a str, &'a str)> {
    match raw.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim(), value)),
        _ => Err(Failure::invalid(format!(
            "--{flag} {raw:?}: expected KEY={}",
            if flag == "file" { "PATH" } else { "VALUE" }
        ))),
    }
}

fn file_name(path: &str) -> Outcome<String> {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Failure::invalid(format!("--file {path:?}: not a file name")))
}

fn read_upload(key: &str, path: &str) -> Outcome<Vec<u8>> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Failure::invalid(format!("input {key}: cannot read {path}: {e}")))?;
    if !meta.is_file() {
        return Err(Failure::invalid(format!(
            "input {key}: {path} is not a file"
        )));
    }
    if meta.len() > MAX_UPLOAD_BYTES {
        return Err(Failure::invalid(format!(
            "input {key}: {path} is {}; a file input may have at most 20 MiB",
            size(meta.len() as i64)
        )));
    }
    std::fs::read(path)
        .map_err(|e| Failure::invalid(format!("input {key}: cannot read {path}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_split_at_the_first_equals_sign() {
        assert_eq!(key_value("input", "a=b=c").unwrap(), ("a", "b=c"));
        assert_eq!(key_value("input", "empty=").unwrap(), ("empty", ""));
        let err = key_value("input", "novalue").unwrap_err();
        assert_eq!(err.code, code::INVALID);
        assert!(err.message.contains("KEY=VALUE"), "{}", err.message);
        assert!(key_value("file", "=x").is_err());
    }
}
