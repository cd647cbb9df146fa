//! What one run is made of, on the platform's workers and on local agents alike: its request
//! (limits, variables), its work folder, and its arguments, standard input and input variables
//! rendered from the skill version's invocation.

use std::path::Path;
use std::time::Duration;

use model::invocation::{input_env, Invocation};
use model::skill::InputSchema;
use serde_json::Value;

use crate::{AssetKind, Limits, RunRequest};

/// Longest value passed as an `EXECGOV_INPUT_<NAME>` variable (the runner's own limit); a
/// longer one is only in `$EXECGOV_INPUTS` (and in `args`, where the manifest puts it).
const MAX_ENV_VALUE: usize = 64 * 1024;

/// What the executor is asked to run for one execution, on the platform or on a local agent:
/// the skill's timeout bounds both wall clock and CPU time, the rest are platform defaults; the
/// script sees only the documented `EXECGOV_*` variables.
pub fn run_request<'a>(
    kind: AssetKind,
    script_dir: &'a Path,
    work_dir: &'a Path,
    execution_id: i64,
    skill_slug: &str,
    timeout_seconds: i32,
) -> RunRequest<'a> {
    let seconds = timeout_seconds.max(1) as u64;
    RunRequest {
        kind,
        script_dir,
        work_dir,
        env: vec![
            ("EXECGOV_EXECUTION_ID".to_string(), execution_id.to_string()),
            ("EXECGOV_SKILL".to_string(), skill_slug.to_string()),
        ],
        args: Vec::new(),
        stdin: Vec::new(),
        artifacts: Vec::new(),
        limits: Limits {
            wall: Duration::from_secs(seconds),
            cpu_seconds: seconds,
            ..Limits::default()
        },
        environment: None,
    }
}

/// A fresh work directory: `inputs.json`, the uploads under `files/`, an empty `output/`; in
/// one trip to the blocking pool.
pub async fn prepare_work_dir(work: &Path, inputs: &Value, uploads: &Path) -> anyhow::Result<()> {
    let inputs = serde_json::to_vec_pretty(inputs)?;
    let (work, uploads) = (work.to_path_buf(), uploads.to_path_buf());
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if std::fs::exists(&work)? {
            // A previous attempt's leftovers: start clean.
            std::fs::remove_dir_all(&work)?;
        }
        std::fs::create_dir_all(work.join("output"))?;
        std::fs::create_dir_all(work.join("files"))?;
        if let Ok(entries) = std::fs::read_dir(&uploads) {
            for entry in entries {
                let entry = entry?;
                let to = work.join("files").join(entry.file_name());
                if entry.file_type()?.is_dir() {
                    // A folder input, as the server unpacked it (regular files only).
                    copy_folder(&entry.path(), &to)?;
                } else {
                    std::fs::copy(entry.path(), to)?;
                }
            }
        }
        std::fs::write(work.join("inputs.json"), inputs)
    })
    .await??;
    Ok(())
}

/// Copies a stored folder input into a run's `files/`: folders and regular files only, never
/// following a link (the server wrote the folder; this is a second guard).
pub fn copy_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_folder(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Fills in `req`'s arguments, standard input, input variables and artifact globs from
/// `invocation` and the run's validated `inputs`. `sandboxed`: the script sees its work folder
/// at `/work`; otherwise (development) at the work folder's own path.
pub fn apply_invocation(
    req: &mut RunRequest<'_>,
    schema: &InputSchema,
    invocation: &Invocation,
    inputs: &Value,
    sandboxed: bool,
) {
    let empty = serde_json::Map::new();
    let inputs = inputs.as_object().unwrap_or(&empty);
    let work = if sandboxed {
        "/work".to_string()
    } else {
        req.work_dir.to_string_lossy().into_owned()
    };
    let rendered = invocation.render(schema, inputs, &work);
    req.args = rendered.args;
    req.stdin = rendered.stdin;
    req.artifacts = invocation.artifacts.clone();
    req.env
        .extend(input_env(schema, inputs, &work, MAX_ENV_VALUE));
}

/// This machine's name, for worker ids here and local agents' registrations.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "host".into())
}
