//! Which Python a script sees, and warm interpreters.
//!
//! A skill sees exactly its declared environment, whichever entry point it has:
//! - with one (a virtual environment for the system Python, built once per lock, read-only; see
//!   `RunRequest::environment`), it is bound read-only at `/env`; `main.py` runs as
//!   `/env/bin/python -I -u` (the site module on: it adds the environment's site-packages, never
//!   the system's);
//! - without one, `/env` is an empty virtual environment made inside the sandbox (no host
//!   files), and `main.py` runs as `python3 -I -S -u`: the standard library only;
//! - `/env/bin` is first on every script's `PATH`, so `python3` in `main.sh` (or a subprocess of
//!   `main.py`) is that same interpreter and never sees Debian's dist-packages.
//!
//! A warm interpreter is a Python started in a sandbox ahead of its run (`warm.rs`), as the run
//! would start it, that has set the run's limits, imported the skill's heavy modules
//! ([`preload_for`]) and waits on stdin for its run ([`go_message`]); then it runs `main.py`
//! in that same process (`boot.py`). It serves exactly one run.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use model::skill::{MANIFEST_FILE, MAX_PRELOAD};

use super::{spawn, RunRequest};

/// Where the environment is seen inside the sandbox.
pub const ENV_MOUNT: &str = "/env";

/// The warm interpreter's start (see the file).
const BOOT: &str = include_str!("boot.py");

/// The CPU time a warm interpreter may use before its run's go lowers it to the run's own:
/// the longest timeout a manifest may set.
pub const AHEAD_CPU_SECONDS: u64 = 3600;

/// The Python that runs `main.py`, and its flags: `environment` is its folder as the
/// interpreter sees it (`/env` in the sandbox, the host folder without one).
pub fn python_command(system: &Path, environment: Option<&Path>) -> (PathBuf, Vec<&'static str>) {
    match environment {
        // -I: isolated (no PYTHON* variables, no user site); site on for the environment's
        // site-packages; -u: unbuffered, so log lines arrive live.
        Some(env) => (env.join("bin/python"), vec!["-I", "-u"]),
        // -S: no site module (the stdlib, csv/json/statistics included, still imports).
        None => (system.to_path_buf(), vec!["-I", "-S", "-u"]),
    }
}

/// `environment` made absolute, checked to be a folder with `bin/python`.
pub fn check_environment(environment: &Path) -> anyhow::Result<PathBuf> {
    let env = environment
        .canonicalize()
        .with_context(|| format!("environment folder {}", environment.display()))?;
    if !env.is_dir() || !env.join("bin/python").exists() {
        bail!(
            "environment folder {} is not a Python environment (no bin/python)",
            env.display()
        );
    }
    Ok(env)
}

/// bubblewrap arguments for `/env`: `environment` bound read-only, or else an empty virtual
/// environment for `system` (a read-only tmpfs with `bin/python`, `bin/python3` and a
/// `pyvenv.cfg` that excludes the system's site-packages), whose `pyvenv.cfg` is read from
/// descriptor `cfg_fd` (its text: [`empty_pyvenv_cfg`]).
pub fn env_bind_args(environment: Option<&Path>, system: &Path, cfg_fd: i32) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    match environment {
        Some(env) => a.extend(["--ro-bind".into(), env.into(), ENV_MOUNT.into()]),
        None => {
            let s = |x: &str| OsString::from(x);
            a.extend([
                s("--size"),
                s("65536"),
                s("--tmpfs"),
                s(ENV_MOUNT),
                s("--dir"),
                s("/env/bin"),
                s("--symlink"),
                system.into(),
                s("/env/bin/python3"),
                s("--symlink"),
                s("python3"),
                s("/env/bin/python"),
                s("--ro-bind-data"),
                cfg_fd.to_string().into(),
                s("/env/pyvenv.cfg"),
                s("--remount-ro"),
                s(ENV_MOUNT),
            ]);
        }
    }
    a
}

/// The `pyvenv.cfg` of the empty environment for the system Python `system`.
pub fn empty_pyvenv_cfg(system: &Path) -> String {
    let home = system.parent().unwrap_or(Path::new("/usr/bin"));
    format!(
        "home = {}\ninclude-system-site-packages = false\n",
        home.display()
    )
}

/// The arguments that make `python` (with its flags) a warm interpreter: the boot, the
/// `rlimits` it sets on itself first, and the modules to import ahead.
pub fn warm_args(rlimits: &[spawn::Rlimit], preload: &[String]) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["-c".into(), BOOT.into(), limits_field(rlimits).into()];
    a.extend(preload.iter().map(OsString::from));
    a
}

/// What a warm interpreter reads to start its run (`boot.py` parses it): the run's `rlimits`
/// (it lowers its own to them), then its own variables, then its arguments, each field ended by
/// a NUL byte (none holds one: `validate_run_input` and `validate_env` refuse them), then its
/// standard input, as it is.
pub fn go_message(req: &RunRequest<'_>, rlimits: &[spawn::Rlimit]) -> Vec<u8> {
    let mut fields = vec![limits_field(rlimits), req.env.len().to_string()];
    fields.extend(req.env.iter().map(|(k, v)| format!("{k}={v}")));
    fields.push(req.args.len().to_string());
    fields.extend(req.args.iter().cloned());
    let mut message = Vec::new();
    for f in fields {
        message.extend_from_slice(f.as_bytes());
        message.push(0);
    }
    message.extend_from_slice(&req.stdin);
    message
}

/// `resource soft hard,…`.
fn limits_field(rlimits: &[spawn::Rlimit]) -> String {
    rlimits
        .iter()
        .map(|(res, soft, hard)| format!("{res} {soft} {hard}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The modules a warm interpreter imports ahead for the skill in `script_dir`: `preload` in its
/// `skill.toml` when given; else, with an environment, the top-level imports of `main.py`
/// whose package is installed in it; else none (the standard library is cheap).
pub fn preload_for(script_dir: &Path, environment: Option<&Path>) -> Vec<String> {
    // The manifest was checked when the version was submitted; only its `preload` is read.
    #[derive(serde::Deserialize)]
    struct Preload {
        #[serde(default)]
        preload: Vec<String>,
    }
    let declared = std::fs::read_to_string(script_dir.join(MANIFEST_FILE))
        .ok()
        .and_then(|text| toml::from_str::<Preload>(&text).ok())
        .map(|m| m.preload)
        .unwrap_or_default();
    if !declared.is_empty() {
        return declared;
    }
    let Some(env) = environment else {
        return Vec::new();
    };
    let Ok(source) = std::fs::read_to_string(script_dir.join("main.py")) else {
        return Vec::new();
    };
    let installed = installed_packages(env);
    top_level_imports(&source)
        .into_iter()
        .filter(|m| installed.contains(m.split('.').next().unwrap_or_default()))
        .take(MAX_PRELOAD)
        .collect()
}

/// Importable top-level names in the environment's site-packages (packages, modules,
/// extension modules).
fn installed_packages(env: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let Ok(libs) = std::fs::read_dir(env.join("lib")) else {
        return found;
    };
    for lib in libs.flatten() {
        let Ok(entries) = std::fs::read_dir(lib.path().join("site-packages")) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.split('.').next().unwrap_or_default();
            let module = name.ends_with(".py") || name.ends_with(".so");
            let package = !name.contains('.') && e.path().is_dir();
            if (module || package) && is_identifier(stem) {
                found.insert(stem.to_string());
            }
        }
    }
    found
}

/// The modules named by `import …` and `from … import …` statements at the top level of
/// `source` (unindented lines; relative imports left out), in order, without repeats.
pub fn top_level_imports(source: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut push = |m: &str| {
        let m = m.trim();
        if is_module_path(m) && !seen.iter().any(|s: &String| s == m) {
            seen.push(m.to_string());
        }
    };
    for line in source.lines() {
        let line = line.split('#').next().unwrap_or_default().trim_end();
        if let Some(rest) = line.strip_prefix("import ") {
            for part in rest.split(',') {
                push(part.split_whitespace().next().unwrap_or_default());
            }
        } else if let Some(rest) = line.strip_prefix("from ") {
            if let Some((module, _)) = rest.split_once(" import") {
                push(module);
            }
        }
    }
    seen
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `a`, `a.b.c`: dotted identifiers.
pub fn is_module_path(s: &str) -> bool {
    !s.is_empty() && s.len() <= 200 && s.split('.').all(is_identifier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_imports_are_found_in_order() {
        let src = "\"\"\"Doc.\"\"\"\nimport os, sys as system\nimport pandas as pd  # tables\n\
                   from openpyxl.styles import Font\nfrom . import local\nfrom .x import y\n\
                   def f():\n    import numpy\nimport os\ntry:\n    import yaml\nexcept ImportError:\n    pass\n";
        assert_eq!(
            top_level_imports(src),
            ["os", "sys", "pandas", "openpyxl.styles"]
        );
    }

    #[test]
    fn preload_is_what_the_environment_has_unless_the_manifest_says() {
        let base = std::env::temp_dir().join(format!("execgov-preload-{}", std::process::id()));
        let (skill, env) = (base.join("skill"), base.join("env"));
        let site = env.join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join("openpyxl")).unwrap();
        std::fs::create_dir_all(site.join("openpyxl-3.1.5.dist-info")).unwrap();
        std::fs::write(site.join("six.py"), "").unwrap();
        std::fs::create_dir_all(&skill).unwrap();
        std::fs::write(
            skill.join("main.py"),
            "import json\nimport openpyxl.styles\nimport six\nimport missing\n",
        )
        .unwrap();
        assert_eq!(preload_for(&skill, Some(&env)), ["openpyxl.styles", "six"]);
        assert!(preload_for(&skill, None).is_empty());
        let manifest = "name = \"Preload\"\ndescription = \"d\"\noutput = \"o\"\nrisk = \"low\"\n\
                        preload = [\"json\"]\n";
        std::fs::write(skill.join("skill.toml"), manifest).unwrap();
        assert_eq!(preload_for(&skill, Some(&env)), ["json"]);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn the_go_message_is_nul_separated_fields_then_stdin() {
        let req = RunRequest {
            kind: super::super::AssetKind::Python,
            script_dir: Path::new("/s"),
            work_dir: Path::new("/w"),
            env: vec![("EXECGOV_SKILL".into(), "a=b".into())],
            limits: Default::default(),
            args: vec!["--a b".into(), "$(x)\n".into()],
            stdin: vec![0, b'\n', 0xff],
            artifacts: vec![],
            environment: None,
        };
        let cpu = (libc::RLIMIT_CPU, 30, 31);
        assert_eq!(
            go_message(&req, &[cpu, cpu]),
            b"0 30 31,0 30 31\x001\x00EXECGOV_SKILL=a=b\x002\x00--a b\x00$(x)\n\x00\x00\n\xff"
        );
    }
}
