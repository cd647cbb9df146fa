//! `manifest init FOLDER`: a `skill.toml` draft from what the folder shows, so that a script
//! comes as it is.
//!
//! It reads the entry point (`main.py` or `main.sh`) as text and never runs it:
//! - inputs and how they reach the script (`python`, `shell`): argparse and optparse
//!   declarations, click decorators, `sys.argv[N]`, `getopts`, `case "$1"` option loops, `$1`…`$9`
//!   and `"$@"` become `args` (each input's value one argument, a boolean a flag present or
//!   absent); `input()`/`getpass()` prompts and shell `read` become `stdin` (one line each);
//!   reads of the `$EXECGOV_INPUTS` object need neither;
//! - their types (`guess`): from the script's own declaration, else from what it does with the
//!   value (lists it as a folder, reads or writes it as a file), else from its name and help;
//! - packages (`packages`): imports outside Python's standard library that neither
//!   `requirements.txt` nor the script's PEP 723 block declares;
//! - paths (`writes`): writes outside the working folder, fixed paths it reads, and files
//!   written into the working folder that only an `artifacts` glob brings back;
//! - the name from the script (docstring, argparse description), a README title that reads like
//!   one, or the folder; the description and "Output(s)" from README.md (`readme`).
//!
//! Everything it guesses is marked in a comment; what it cannot know is a `TODO` placeholder
//! (`placeholders`), which `push` refuses to send. The draft always parses.

mod guess;
mod packages;
pub mod placeholders;
mod python;
mod readme;
mod shell;
mod writes;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use model::skill::{slugify, valid_slug};

use crate::error::{code, io_failure, Failure, Outcome, EXIT_CODES};

#[derive(Subcommand)]
pub enum ManifestCommand {
    /// Write a skill.toml draft for FOLDER from its entry point (main.py or main.sh),
    /// README.md and requirements.txt: name, description, inputs, how they reach the script
    /// (args, stdin), artifacts; warns about undeclared packages and results that would not
    /// come back
    #[command(after_help = EXIT_CODES)]
    Init {
        /// The skill folder
        folder: PathBuf,
        /// Overwrite an existing skill.toml
        #[arg(long)]
        force: bool,
        /// Add the undeclared packages it finds to requirements.txt (created if missing)
        /// instead of only printing the lines
        #[arg(long)]
        write_requirements: bool,
    },
}

pub fn run(command: ManifestCommand) -> Outcome<()> {
    match command {
        ManifestCommand::Init {
            folder,
            force,
            write_requirements,
        } => init(&folder, force, write_requirements),
    }
}

fn init(folder: &Path, force: bool, write_requirements: bool) -> Outcome<()> {
    if !folder.is_dir() {
        return Err(Failure::invalid(format!(
            "{} is not a folder",
            folder.display()
        )));
    }
    let target = folder.join("skill.toml");
    if target.exists() && !force {
        return Err(Failure::failed(format!(
            "{} exists; pass --force to overwrite it",
            target.display()
        )));
    }
    let draft = Draft::of(folder)?;
    let text = draft.to_toml();
    // The draft must at least be TOML; the product's own parser checks the rest at push.
    if let Err(e) = toml::from_str::<toml::Value>(&text) {
        return Err(Failure::failed(format!(
            "the draft is not valid TOML (a bug in execgov-cli): {e}"
        )));
    }
    std::fs::write(&target, &text).map_err(|e| io_failure(code::FAILED, target.display(), e))?;
    let names: Vec<&str> = draft.inputs.iter().map(|i| i.name.as_str()).collect();
    println!(
        "Wrote {} (entry {}; {}).",
        target.display(),
        draft.entry,
        if names.is_empty() {
            "no inputs found".to_string()
        } else {
            format!("inputs: {}", names.join(", "))
        }
    );
    if !draft.args.is_empty() {
        println!(
            "The script is started as: {} {}",
            draft.entry,
            shown_args(&draft.args)
        );
    }
    if !draft.stdin.is_empty() {
        println!(
            "Its keyboard prompts are answered with: {}",
            draft.stdin.join(", ")
        );
    }
    report_packages(folder, &draft.packages, write_requirements)?;
    for warning in &draft.warnings {
        println!("Warning: {warning}");
    }
    for note in &draft.notes {
        println!("Note: {note}");
    }
    let todo = placeholders::find(&text);
    if todo.is_empty() {
        println!("Read it and correct what is guessed, then:");
    } else {
        let keys: Vec<String> = todo.iter().map(|p| p.key.clone()).collect();
        println!(
            "Read it and replace the TODO placeholders ({}; push refuses them), then:",
            keys.join(", ")
        );
    }
    println!(
        "  execgov-cli push {} --scenario \"…\" --risk {}",
        folder.display(),
        draft.risk
    );
    Ok(())
}

/// What `init` says about packages: what is declared, what the server will refuse, and the
/// imports nothing declares (appended to requirements.txt with `--write-requirements`).
fn report_packages(
    folder: &Path,
    report: &packages::Report,
    write_requirements: bool,
) -> Outcome<()> {
    println!("Packages: {}", report.summary());
    for line in &report.problems {
        println!("Warning: {line}");
    }
    let missing = &report.undeclared;
    if !missing.is_empty() {
        let lines: Vec<String> = missing.iter().map(|m| m.requirement.clone()).collect();
        let which: Vec<String> = missing.iter().map(|m| m.shown()).collect();
        println!(
            "Warning: imports that Python's standard library does not have and nothing \
             declares: {}.",
            which.join(", ")
        );
        if write_requirements && !report.has_pep723 {
            packages::append_requirements(&folder.join(packages::REQUIREMENTS), &lines)?;
            println!(
                "Added to {}: {}",
                folder.join(packages::REQUIREMENTS).display(),
                lines.join(", ")
            );
        } else if report.has_pep723 {
            println!("Add them to the dependencies of main.py's `# /// script` block:");
            for line in &lines {
                println!("  {}", quote(line));
            }
        } else {
            println!(
                "Add these lines to requirements.txt (or run again with --write-requirements):"
            );
            for line in &lines {
                println!("  {line}");
            }
        }
    }
    Ok(())
}

/// An argument list as a person would type it, quoted where needed.
fn shown_args(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./{}?=:".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A literal value found in the script.
#[derive(Clone, Debug, PartialEq)]
enum Literal {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

impl Literal {
    fn as_str(&self) -> Option<&str> {
        match self {
            Literal::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// How an input reaches the script.
#[derive(Clone, Debug, PartialEq)]
enum Via {
    /// Only through `$EXECGOV_INPUTS` (the script was written for ExecGov).
    Inputs,
    /// A command-line argument: after its option (`--top`), or positional at `position`
    /// (1 for `sys.argv[1]`, or the order of declaration).
    Argument {
        flag: Option<String>,
        position: usize,
    },
    /// A boolean option, present when true.
    Switch { flag: String },
    /// One line of standard input, in the order the script asks.
    Stdin,
}

#[derive(Clone, Debug)]
struct Input {
    name: String,
    kind: &'static str,
    required: bool,
    default: Option<Literal>,
    choices: Vec<String>,
    /// The script's help text or prompt.
    description: Option<String>,
    /// Where it was seen, for the comment.
    found: String,
    type_guessed: bool,
    via: Via,
    /// What the script visibly does with the value (`os.listdir(path)`: reads a folder).
    used_as: Option<guess::Usage>,
}

impl Input {
    /// An input the script reads in `via`, of a type it does not declare (yet).
    fn seen(name: String, via: Via, found: String) -> Input {
        Input {
            name,
            kind: "string",
            required: true,
            default: None,
            choices: Vec::new(),
            description: None,
            found,
            type_guessed: true,
            via,
            used_as: None,
        }
    }

    /// An input answering the keyboard prompt `prompt` (one line of `stdin`): described by
    /// the prompt, with `y`/`n` (or `yes`/`no`) choices when the prompt offers them.
    fn prompted(name: String, found: String, prompt: &str) -> Input {
        let mut input = Input::seen(name, Via::Stdin, found);
        let lower = prompt.to_ascii_lowercase();
        let choices = if lower.contains("yes/no") {
            ["yes", "no"]
        } else if lower.contains("y/n") {
            ["y", "n"]
        } else {
            ["", ""]
        };
        if !choices[0].is_empty() {
            (input.kind, input.type_guessed) = ("enum", false);
            input.choices = choices.map(String::from).to_vec();
        }
        let described = prompt.trim_end_matches([':', '>', '-', '=', ' ']).trim();
        input.description = (!described.is_empty()).then(|| described.to_string());
        input
    }
}

struct Draft {
    entry: &'static str,
    name: String,
    slug: String,
    slug_guessed: bool,
    description: Option<String>,
    output: Option<String>,
    risk: &'static str,
    inputs: Vec<Input>,
    /// `args` and `stdin` templates (contract: `{name}`, `{flag?--text}`).
    args: Vec<String>,
    stdin: Vec<String>,
    artifacts: Vec<String>,
    packages: packages::Report,
    warnings: Vec<String>,
    notes: Vec<String>,
}

impl Draft {
    fn of(folder: &Path) -> Outcome<Draft> {
        let has = |name: &str| folder.join(name).is_file();
        let entry = match (has("main.py"), has("main.sh")) {
            (true, false) => "main.py",
            (false, true) => "main.sh",
            (true, true) => {
                return Err(Failure::invalid(format!(
                    "{} has both main.py and main.sh; a skill has exactly one entry point",
                    folder.display()
                )))
            }
            (false, false) => {
                return Err(Failure::invalid(format!(
                    "{} has no main.py or main.sh; a skill's entry point is one of them",
                    folder.display()
                )))
            }
        };
        let read = |name: &str| -> Outcome<Option<String>> {
            let path = folder.join(name);
            match std::fs::read(&path) {
                Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_failure(code::INVALID, path.display(), e)),
            }
        };
        let script = read(entry)?.unwrap_or_default();
        let readme = read("README.md")?;
        let requirements = read(packages::REQUIREMENTS)?;
        let mut notes = Vec::new();
        if readme.is_none() {
            notes.push("README.md is missing; the server refuses a skill without one.".into());
        }
        let readme = readme.unwrap_or_default();
        let folder_name = folder
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let python = entry == "main.py";

        let script_title = if python {
            python::title(&script)
        } else {
            shell::title(&script)
        };
        let name = script_title
            .or_else(|| readme::readme_title(&readme))
            .unwrap_or_else(|| words_of(&folder_name));
        let name = if name.chars().count() >= 2 {
            name
        } else {
            "My skill".to_string()
        };
        let (slug, slug_guessed) = [slugify(&folder_name), slugify(&name)]
            .into_iter()
            .find(|s| valid_slug(s))
            .map(|s| (s, false))
            .unwrap_or_else(|| ("my-skill".to_string(), true));

        // Under a heading like "Installation" the first paragraph is about something else.
        let readme_paragraph = if readme::has_generic_title(&readme) {
            None
        } else {
            readme::first_paragraph(&readme)
        };
        let description = readme_paragraph
            .or_else(|| python.then(|| python::about(&script)).flatten())
            .map(|d| d.chars().take(4000).collect());

        let found = if python {
            python::inputs(&script)
        } else {
            shell::inputs(&script)
        };
        let mut inputs = Vec::new();
        for mut input in found {
            guess::settle(&mut input);
            inputs.push(input);
        }
        let (inputs, dropped) = distinct(inputs);
        if dropped > 0 {
            notes.push(format!(
                "More than {MAX_INPUTS} inputs found; only the first {MAX_INPUTS} are listed."
            ));
        }
        let inputs: Vec<Input> = inputs.into_iter().map(tidy).collect();
        let args = args_template(&inputs);
        let stdin: Vec<String> = inputs
            .iter()
            .filter(|i| i.via == Via::Stdin)
            .map(|i| format!("{{{}}}", i.name))
            .collect();
        if inputs.is_empty() {
            notes.push(
                "No inputs found; add one [[inputs]] block per input (README, \"Writing a skill\")."
                    .into(),
            );
        }
        if python {
            notes.extend(python::notes(&script));
        }

        // Packages: main.py and the folder's own modules (which main.sh may run, too).
        let mut sources = Vec::new();
        if python {
            sources.push((entry.to_string(), script.clone()));
        }
        sources.extend(python_modules(folder)?);
        let local = local_modules(folder)?;
        let packages = packages::Report::of(
            python.then_some(script.as_str()),
            requirements.as_deref(),
            &sources,
            &local,
        );

        // Where results go.
        let written = if python {
            python::writes(&script)
        } else {
            shell::writes(&script)
        };
        let mut results = writes::review(entry, &written);
        let read = if python {
            python::reads(&script)
        } else {
            shell::reads(&script)
        };
        // A file the script wrote itself is there to read.
        let read: Vec<writes::Access> = read
            .into_iter()
            .filter(|r| !written.iter().any(|w| w.path == r.path))
            .collect();
        results.warnings.extend(writes::fixed_reads(entry, &read));
        let output = readme::readme_output(&readme)
            .map(|o| o.chars().take(1000).collect())
            .or_else(|| output_from_script(&script))
            .or_else(|| {
                (!results.artifacts.is_empty())
                    .then(|| format!("Files to download: {}.", results.artifacts.join(", ")))
            });

        Ok(Draft {
            entry,
            name,
            slug,
            slug_guessed,
            description,
            output,
            risk: "medium",
            inputs,
            args,
            stdin,
            artifacts: results.artifacts,
            packages,
            warnings: results.warnings,
            notes,
        })
    }

    fn to_toml(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# Draft written by `execgov-cli manifest init`: check every value. `push` refuses\n\
             # it while a value still says TODO. The format: README.md of ExecGov, \"Writing a skill\".\n\
             # Inputs the script reads without a default are marked required.\n",
        );
        out.push_str(&format!("# Entry point: {}\n", self.entry));
        out.push_str(&format!("name = {}\n", quote(&self.name)));
        out.push_str(&format!("slug = {}", quote(&self.slug)));
        out.push_str(if self.slug_guessed {
            "   # check: a-z, 0-9 and '-'\n"
        } else {
            "\n"
        });
        match &self.description {
            Some(d) => out.push_str(&format!("description = {}\n", quote(d))),
            None => out.push_str(&format!(
                "description = {}\n",
                quote("TODO: say what this skill does, in a sentence or two.")
            )),
        }
        match &self.output {
            Some(o) => out.push_str(&format!("output = {}   # check the wording\n", quote(o))),
            None => out.push_str(&format!(
                "output = {}\n",
                quote(
                    "TODO: say what comes out: a result table, files to download, or only its log."
                )
            )),
        }
        out.push_str(&format!(
            "risk = {}   # check: low | medium | high (high always waits for a confirmation)\n",
            quote(self.risk)
        ));
        out.push_str("# requires_confirmation = false   # default: true for high risk only\n");
        out.push_str("ai_callable = false\n");
        out.push_str("manual_allowed = true\n");
        out.push_str("timeout_seconds = 60\n");
        if !self.args.is_empty() {
            out.push_str(
                "# The command line after the entry point: each {input} is one argument, never\n\
                 # split by a shell; {flag?--text} is --text when the box is ticked.\n",
            );
            out.push_str(&format!("args = {}\n", toml_list(&self.args)));
        }
        if !self.stdin.is_empty() {
            out.push_str(
                "# The answers to the script's keyboard prompts, one line each, in order.\n",
            );
            out.push_str(&format!("stdin = {}\n", toml_list(&self.stdin)));
        }
        if !self.artifacts.is_empty() {
            out.push_str(
                "# Files the script writes into its working folder that come back with output/.\n",
            );
            out.push_str(&format!("artifacts = {}\n", toml_list(&self.artifacts)));
        }
        let types: Vec<&str> = model::skill::InputType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect();
        for input in &self.inputs {
            out.push_str("\n[[inputs]]\n");
            out.push_str(&format!("# found: {}\n", input.found));
            out.push_str(&format!("name = {}\n", quote(&input.name)));
            out.push_str(&format!("label = {}\n", quote(&label_of(&input.name))));
            out.push_str(&format!("type = {}", quote(input.kind)));
            if input.type_guessed {
                out.push_str(&format!("   # guessed: {}\n", types.join(" | ")));
            } else {
                out.push('\n');
            }
            out.push_str(&format!("required = {}\n", input.required));
            if !input.choices.is_empty() {
                out.push_str(&format!("choices = {}\n", toml_list(&input.choices)));
            }
            if let Some(d) = &input.default {
                out.push_str(&format!("default = {}\n", literal_toml(d)));
            }
            if let Some(d) = &input.description {
                out.push_str(&format!("description = {}\n", quote(d)));
            }
        }
        out
    }
}

const MAX_INPUTS: usize = 50;

/// One input per name. A name read again through `$EXECGOV_INPUTS` is the same input; a name
/// the script takes twice in other ways (an option and a prompt) gets a number so that each
/// reaches the script. Returns the inputs kept and how many were left out over the limit.
fn distinct(found: Vec<Input>) -> (Vec<Input>, usize) {
    let mut kept: Vec<Input> = Vec::new();
    let mut dropped = 0;
    for mut input in found {
        if let Some(existing) = kept.iter().position(|k| k.name == input.name) {
            if input.via == Via::Inputs || kept[existing].via == Via::Inputs {
                continue;
            }
            let base = input.name.clone();
            let Some(free) = (2..100)
                .map(|n| format!("{}_{n}", base.chars().take(36).collect::<String>()))
                .find(|n| kept.iter().all(|k| k.name != *n))
            else {
                continue;
            };
            input.name = free;
        }
        if kept.len() == MAX_INPUTS {
            dropped += 1;
            continue;
        }
        kept.push(input);
    }
    (kept, dropped)
}

/// The `args` template: options and switches first, in the order the script declares them
/// (getopts stops at the first positional argument), then positional arguments in their order.
fn args_template(inputs: &[Input]) -> Vec<String> {
    let escape = |s: &str| s.replace('{', "{{").replace('}', "}}");
    let mut args = Vec::new();
    for input in inputs {
        match &input.via {
            Via::Argument {
                flag: Some(flag), ..
            } => {
                args.push(escape(flag));
                args.push(format!("{{{}}}", input.name));
            }
            Via::Switch { flag } => args.push(format!("{{{}?{}}}", input.name, escape(flag))),
            _ => {}
        }
    }
    let mut positional: Vec<(usize, &Input)> = inputs
        .iter()
        .filter_map(|i| match i.via {
            Via::Argument {
                flag: None,
                position,
            } => Some((position, i)),
            _ => None,
        })
        .collect();
    positional.sort_by_key(|(p, _)| *p);
    args.extend(positional.iter().map(|(_, i)| format!("{{{}}}", i.name)));
    args
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// The other `.py` files beside the entry point (modules it may import), with their text.
fn python_modules(folder: &Path) -> Outcome<Vec<(String, String)>> {
    let mut modules = Vec::new();
    for name in local_modules(folder)? {
        let path = folder.join(format!("{name}.py"));
        if name != "main" && path.is_file() {
            let bytes =
                std::fs::read(&path).map_err(|e| io_failure(code::INVALID, path.display(), e))?;
            modules.push((
                format!("{name}.py"),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    Ok(modules)
}

/// Names the folder itself provides to `import`: `x.py` files and packages (folders).
fn local_modules(folder: &Path) -> Outcome<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    let entries =
        std::fs::read_dir(folder).map_err(|e| io_failure(code::INVALID, folder.display(), e))?;
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            names.insert(file_name);
        } else if let Some(stem) = file_name.strip_suffix(".py") {
            names.insert(stem.to_string());
        }
    }
    Ok(names)
}

/// Byte offsets of `needle` in `src` outside `#` comment lines.
fn code_matches<'a>(src: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    src.match_indices(needle).map(|(i, _)| i).filter(move |&i| {
        let line_start = src[..i].rfind('\n').map_or(0, |n| n + 1);
        !src[line_start..i].trim_start().starts_with('#')
    })
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn literal_toml(l: &Literal) -> String {
    match l {
        Literal::Int(n) => n.to_string(),
        Literal::Float(f) => toml::Value::Float(*f).to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Str(s) => quote(s),
    }
}

/// Makes an input agree with the manifest's rules (the product refuses the draft otherwise):
/// a default of the input's type, choices that are plain and distinct.
fn tidy(mut input: Input) -> Input {
    if input.kind == "enum" {
        let mut seen = BTreeSet::new();
        let plain = !input.choices.is_empty()
            && input
                .choices
                .iter()
                .all(|c| !c.trim().is_empty() && c.trim() == c && seen.insert(c.clone()));
        if !plain {
            input.kind = "string";
            input.choices.clear();
        }
    }
    input.default = match (input.kind, input.default.take()) {
        (_, None) | ("file", _) | ("folder", _) => None,
        ("boolean", Some(Literal::Bool(b))) => Some(Literal::Bool(b)),
        ("integer", Some(Literal::Int(n))) => Some(Literal::Int(n)),
        ("number", Some(Literal::Int(n))) => Some(Literal::Float(n as f64)),
        ("number", Some(Literal::Float(f))) if f.is_finite() => Some(Literal::Float(f)),
        ("enum", Some(Literal::Str(s))) if input.choices.contains(&s) => Some(Literal::Str(s)),
        ("string", Some(Literal::Str(s))) if s.trim() == s && !s.is_empty() => {
            Some(Literal::Str(s))
        }
        ("string", Some(Literal::Int(n))) => Some(Literal::Str(n.to_string())),
        ("string", Some(Literal::Float(f))) => Some(Literal::Str(f.to_string())),
        _ => None,
    };
    // A boolean is optional by nature: absent is false.
    if input.kind == "boolean" {
        input.required = false;
    }
    if input.default.is_some() {
        input.required = false;
    }
    input.description = input
        .description
        .map(|d| {
            d.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(1000)
                .collect::<String>()
        })
        .filter(|d| !d.is_empty());
    input
}

fn output_from_script(script: &str) -> Option<String> {
    let result = script.contains("EXECGOV_RESULT") || script.contains("result.json");
    let files = script.contains("EXECGOV_OUTPUT");
    match (result, files) {
        (true, true) => {
            Some("A result (shown as a table or as JSON) and files to download.".into())
        }
        (true, false) => Some("A result, shown as a table or as JSON.".into()),
        (false, true) => Some("Files to download.".into()),
        (false, false) => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Names

/// The name a script's key or option becomes, if it can be one: `^[a-z][a-z0-9_]{0,39}$`.
fn input_name(raw: &str) -> Option<String> {
    let name: String = raw
        .trim()
        .trim_start_matches('-')
        .chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 40
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_');
    ok.then_some(name)
}

fn label_of(name: &str) -> String {
    let words = name.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect::<String>(),
        None => String::new(),
    }
    .chars()
    .take(80)
    .collect()
}

fn words_of(folder_name: &str) -> String {
    label_of(
        &folder_name
            .replace(['-', '.'], "_")
            .split('_')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("_"),
    )
}

#[cfg(test)]
mod tests;
