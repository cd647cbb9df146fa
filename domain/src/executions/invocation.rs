//! A run's arguments, standard input, `EXECGOV_INPUT_<NAME>` variables and artifact globs,
//! rendered from its skill version's `args`/`stdin`/`artifacts` (see `model::invocation`) and
//! its validated inputs: for the platform's workers and for local agents alike.

use anyhow::Context;
use engine::work::apply_invocation;
use model::invocation::Invocation;
use model::skill::InputSchema;

use super::Claimed;
use engine::RunRequest;

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
