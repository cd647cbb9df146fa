//! A run's arguments, standard input, `EXECGOV_INPUT_<NAME>` variables and artifact globs,
//! rendered from its skill version's `args`/`stdin`/`artifacts` (see `model::invocation`) and
//! its validated inputs: for the platform's workers and for local agents alike.

use anyhow::Context;
use model::invocation::{input_env, Invocation};
use model::skill::InputSchema;
use serde_json::Value;

use super::Claimed;
use crate::executors::RunRequest;

/// Longest value passed as an `EXECGOV_INPUT_<NAME>` variable (the runner's own limit); a
/// longer one is only in `$EXECGOV_INPUTS` (and in `args`, where the manifest puts it).
const MAX_ENV_VALUE: usize = 64 * 1024;

/// [`apply_invocation`] for a claimed execution, from its skill version as stored.
pub(super) fn apply(
    req: &mut RunRequest<'_>,
    claimed: &Claimed,
    sandboxed: bool,
) -> anyhow::Result<()> {
    let schema: InputSchema = serde_json::from_value(claimed.input_schema.clone())
        .context("the skill version's input schema")?;
    let invocation: Invocation = serde_json::from_value(claimed.invocation.clone())
        .context("the skill version's invocation")?;
    apply_invocation(req, &schema, &invocation, &claimed.inputs, sandboxed);
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
