//! `manifest init FOLDER`: a `skill.toml` draft from what the folder shows.
//!
//! What it looks at, and nothing more: the entry point (`main.py` or `main.sh`); `README.md`'s
//! title (the name), first paragraph (the description) and an "Output(s)" section; and inputs
//! it can see in the script: in Python, `argparse` `add_argument(...)` calls and reads of the
//! `EXECGOV_INPUTS` object (`inputs["key"]`, `inputs.get("key", default)`); in shell, `$1`…`$9`,
//! `getopts` options and `jq '.key'` reads. Inputs with a default are optional, the others
//! required; types come from `type=`, `action=`, `choices=` or the default's literal, file
//! inputs from their name. Everything it guesses is marked in a comment; the draft is meant to
//! be read and corrected, and always parses.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::error::{code, io_failure, Failure, Outcome, EXIT_CODES};

#[derive(Subcommand)]
pub enum ManifestCommand {
    /// Write a skill.toml draft for FOLDER by looking at its entry point (main.py or main.sh)
    /// and README.md: name, description, output and the inputs the script visibly reads
    #[command(after_help = EXIT_CODES)]
    Init {
        /// The skill folder
        folder: PathBuf,
        /// Overwrite an existing skill.toml
        #[arg(long)]
        force: bool,
    },
}

pub fn run(command: ManifestCommand) -> Outcome<()> {
    match command {
        ManifestCommand::Init { folder, force } => init(&folder, force),
    }
}

fn init(folder: &Path, force: bool) -> Outcome<()> {
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
    std::fs::write(&target, text).map_err(|e| io_failure(code::FAILED, target.display(), e))?;
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
    for note in &draft.notes {
        println!("Note: {note}");
    }
    println!(
        "Read it and fix what is marked TODO, then: execgov-cli push {} --scenario \"…\" --risk {}",
        folder.display(),
        draft.risk
    );
    Ok(())
}

/// A literal value found in the script.
#[derive(Clone, Debug, PartialEq)]
enum Literal {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

#[derive(Clone, Debug)]
struct Input {
    name: String,
    kind: &'static str,
    required: bool,
    default: Option<Literal>,
    choices: Vec<String>,
    description: Option<String>,
    /// Where it was seen, for the comment.
    found: String,
    type_guessed: bool,
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

        let name = readme_title(&readme)
            .map(|t| t.chars().take(80).collect::<String>().trim().to_string())
            .filter(|t| t.chars().count() >= 2)
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

        let description = first_paragraph(&readme).map(|d| d.chars().take(4000).collect());
        let output = readme_output(&readme)
            .map(|o| o.chars().take(1000).collect())
            .or_else(|| output_from_script(&script));

        let mut inputs = Vec::new();
        if entry == "main.py" {
            let argparse = argparse_inputs(&script);
            if !argparse.is_empty() {
                notes.push(
                    "main.py reads command-line arguments (argparse), but ExecGov starts a \
                     script without arguments: read the inputs from the JSON object in the file \
                     $EXECGOV_INPUTS instead."
                        .into(),
                );
            }
            inputs.extend(argparse);
            inputs.extend(python_json_inputs(&script));
        } else {
            let args = shell_arg_inputs(&script);
            if !args.is_empty() {
                notes.push(
                    "main.sh reads command-line arguments ($1…, getopts), but ExecGov starts a \
                     script without arguments: read the inputs from the JSON object in the file \
                     $EXECGOV_INPUTS instead (e.g. with jq)."
                        .into(),
                );
            }
            inputs.extend(args);
            inputs.extend(jq_inputs(&script));
        }
        let mut seen = BTreeSet::new();
        let mut kept = Vec::new();
        for input in inputs {
            if kept.len() == 50 {
                notes.push("More than 50 inputs found; only the first 50 are listed.".into());
                break;
            }
            if seen.insert(input.name.clone()) {
                kept.push(tidy(input));
            }
        }
        if kept.is_empty() {
            notes.push(
                "No inputs found; add one [[inputs]] block per input (README, \"Writing a skill\")."
                    .into(),
            );
        }
        Ok(Draft {
            entry,
            name,
            slug,
            slug_guessed,
            description,
            output,
            risk: "medium",
            inputs: kept,
            notes,
        })
    }

    fn to_toml(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# Draft written by `execgov-cli manifest init`: check every value, and those marked\n\
             # TODO above all. The format: README.md of ExecGov, \"Writing a skill\".\n\
             # Inputs the script reads without a default are marked required.\n",
        );
        out.push_str(&format!("# Entry point: {}\n", self.entry));
        out.push_str(&format!("name = {}\n", quote(&self.name)));
        out.push_str(&format!("slug = {}", quote(&self.slug)));
        out.push_str(if self.slug_guessed {
            "   # TODO: a-z, 0-9 and '-'\n"
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
            "risk = {}   # TODO: low | medium | high (high always waits for a confirmation)\n",
            quote(self.risk)
        ));
        out.push_str("# requires_confirmation = false   # default: true for high risk only\n");
        out.push_str("ai_callable = false\n");
        out.push_str("manual_allowed = true\n");
        out.push_str("timeout_seconds = 60\n");
        for input in &self.inputs {
            out.push_str("\n[[inputs]]\n");
            out.push_str(&format!("# found: {}\n", input.found));
            out.push_str(&format!("name = {}\n", quote(&input.name)));
            out.push_str(&format!("label = {}\n", quote(&label_of(&input.name))));
            out.push_str(&format!("type = {}", quote(input.kind)));
            out.push_str(if input.type_guessed {
                "   # guessed: string | integer | number | boolean | enum | date | file\n"
            } else {
                "\n"
            });
            out.push_str(&format!("required = {}\n", input.required));
            if !input.choices.is_empty() {
                let choices: Vec<String> = input.choices.iter().map(|c| quote(c)).collect();
                out.push_str(&format!("choices = [{}]\n", choices.join(", ")));
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
        (_, None) | ("file", _) => None,
        ("boolean", Some(Literal::Bool(b))) => Some(Literal::Bool(b)),
        ("integer", Some(Literal::Int(n))) => Some(Literal::Int(n)),
        ("number", Some(Literal::Int(n))) => Some(Literal::Float(n as f64)),
        ("number", Some(Literal::Float(f))) if f.is_finite() => Some(Literal::Float(f)),
        ("enum", Some(Literal::Str(s))) if input.choices.contains(&s) => Some(Literal::Str(s)),
        ("string", Some(Literal::Str(s))) if s.trim() == s => Some(Literal::Str(s)),
        ("string", Some(Literal::Int(n))) => Some(Literal::Str(n.to_string())),
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
                .trim()
                .to_string()
        })
        .filter(|d| !d.is_empty());
    input
}

// ---------------------------------------------------------------------------------------------
// README.md

fn readme_title(readme: &str) -> Option<String> {
    readme
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| strip_markdown(t.trim()))
        .filter(|t| !t.is_empty())
}

/// The blocks of a Markdown text: runs of non-blank lines (fenced code kept as one block).
fn blocks(text: &str) -> Vec<Vec<&str>> {
    let mut blocks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
        }
        if t.is_empty() && !fenced {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else {
            current.push(t);
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

fn is_paragraph(block: &[&str]) -> bool {
    let first = block[0];
    !(first.starts_with('#')
        || first.starts_with('|')
        || first.starts_with("```")
        || first.starts_with("~~~")
        || first.starts_with('<')
        || first.starts_with("![")
        || first.starts_with("[![")
        || first.starts_with('>')
        || is_list_item(first))
}

fn is_list_item(line: &str) -> bool {
    line.starts_with("- ")
        || line.starts_with("* ")
        || line.starts_with("+ ")
        || line
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The first paragraph after the title.
fn first_paragraph(readme: &str) -> Option<String> {
    blocks(readme)
        .into_iter()
        .map(|b| {
            // A title directly followed by text on the next line.
            if b[0].starts_with('#') && b.len() > 1 {
                b[1..].to_vec()
            } else {
                b
            }
        })
        .find(|b| is_paragraph(b))
        .map(|b| strip_markdown(&b.join(" ")))
        .filter(|p| !p.is_empty())
}

/// The first paragraph or list of a section titled "Output" or "Outputs".
fn readme_output(readme: &str) -> Option<String> {
    let mut in_section = false;
    for block in blocks(readme) {
        let mut lines: &[&str] = &block;
        if let Some(heading) = lines[0].strip_prefix('#') {
            let title = heading.trim_start_matches('#').trim().to_ascii_lowercase();
            in_section = title == "output" || title == "outputs";
            lines = &lines[1..];
        }
        if !in_section || lines.is_empty() {
            continue;
        }
        if is_list_item(lines[0]) {
            // Items, with their continuation lines.
            let mut items: Vec<String> = Vec::new();
            for line in lines {
                match line.split_once(' ') {
                    Some((_, rest)) if is_list_item(line) => items.push(rest.to_string()),
                    _ => {
                        if let Some(last) = items.last_mut() {
                            last.push(' ');
                            last.push_str(line);
                        }
                    }
                }
            }
            let items: Vec<String> = items
                .iter()
                .map(|i| strip_markdown(i).trim_end_matches(['.', ';']).to_string())
                .collect();
            return Some(format!("{}.", items.join("; ")));
        }
        if is_paragraph(lines) {
            return Some(strip_markdown(&lines.join(" ")));
        }
    }
    None
}

/// Plain text of inline Markdown: no emphasis or code marks, links as their text.
fn strip_markdown(text: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' | '`' => {}
            '_' if (i + 1 < chars.len() && chars[i + 1] == '_')
                || (i > 0 && chars[i - 1] == '_') => {}
            '!' if chars.get(i + 1) == Some(&'[') => {}
            '[' => {
                // [text](url) → text
                if let Some(close) = chars[i..].iter().position(|&c| c == ']') {
                    let close = i + close;
                    if chars.get(close + 1) == Some(&'(') {
                        if let Some(end) = chars[close..].iter().position(|&c| c == ')') {
                            out.extend(&chars[i + 1..close]);
                            i = close + end + 1;
                            continue;
                        }
                    }
                }
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
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

/// Inputs whose name says "file" are guessed to be uploads.
fn looks_like_file(name: &str) -> bool {
    const NAMES: [&str; 9] = [
        "file",
        "data",
        "document",
        "doc",
        "csv",
        "upload",
        "attachment",
        "input_file",
        "spreadsheet",
    ];
    NAMES.contains(&name)
        || ["_file", "_csv", "_document", "_upload", "_path"]
            .iter()
            .any(|s| name.ends_with(s))
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

/// As the product derives a slug from a name: a-z and 0-9, other runs become one '-'.
fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.chars().take(60).collect();
    slug.trim_end_matches('-').to_string()
}

fn valid_slug(slug: &str) -> bool {
    let b = slug.as_bytes();
    (2..=60).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

// ---------------------------------------------------------------------------------------------
// Python

/// A Python string literal at the start of `s` (after spaces): its value and the bytes used.
/// f-strings and concatenations are not literals here.
fn python_string(s: &str) -> Option<(String, usize)> {
    let start = s.len() - s.trim_start().len();
    let rest = &s[start..];
    let prefix = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
    let prefix_text = rest[..prefix].to_ascii_lowercase();
    if !matches!(prefix_text.as_str(), "" | "r" | "u") {
        return None;
    }
    let raw = prefix_text == "r";
    let body = &rest[prefix..];
    let quote = body.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let triple: String = std::iter::repeat_n(quote, 3).collect();
    let (delimiter, mut i) = if body.starts_with(&triple) {
        (triple.as_str(), 3)
    } else {
        (&body[..1], 1)
    };
    let mut value = String::new();
    while i < body.len() {
        if body[i..].starts_with(delimiter) {
            return Some((value, start + prefix + i + delimiter.len()));
        }
        let c = body[i..].chars().next()?;
        if c == '\\' && !raw && i + 1 < body.len() {
            let next = body[i + 1..].chars().next()?;
            value.push(match next {
                'n' => '\n',
                't' => '\t',
                other => other,
            });
            i += 1 + next.len_utf8();
            continue;
        }
        if c == '\n' && delimiter.len() == 1 {
            return None;
        }
        value.push(c);
        i += c.len_utf8();
    }
    None
}

fn python_literal(s: &str) -> Option<Literal> {
    let t = s.trim();
    if let Some((value, used)) = python_string(t) {
        return (used == t.len()).then_some(Literal::Str(value));
    }
    match t {
        "True" => return Some(Literal::Bool(true)),
        "False" => return Some(Literal::Bool(false)),
        _ => {}
    }
    let plain: String = t.chars().filter(|c| *c != '_').collect();
    if let Ok(n) = plain.parse::<i64>() {
        return Some(Literal::Int(n));
    }
    if plain.contains(['.', 'e', 'E']) {
        if let Ok(f) = plain.parse::<f64>() {
            return f.is_finite().then_some(Literal::Float(f));
        }
    }
    None
}

/// The text between the parenthesis at `open` and its match, skipping strings.
fn call_args(src: &str, open: usize) -> Option<&str> {
    let mut depth = 0usize;
    let mut i = open;
    while i < src.len() {
        let c = src[i..].chars().next()?;
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&src[open + 1..i]);
                }
            }
            '"' | '\'' => {
                let (_, used) = python_string(&src[i..])?;
                i += used;
                continue;
            }
            '#' => {
                i += src[i..].find('\n').unwrap_or(src.len() - i);
                continue;
            }
            _ => {}
        }
        i += c.len_utf8();
    }
    None
}

/// The text without `#` comments (outside strings).
fn without_comments(text: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < text.len() {
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        match c {
            '"' | '\'' => {
                if let Some((_, used)) = python_string(&text[i..]) {
                    out.push_str(&text[i..i + used]);
                    i += used;
                    continue;
                }
            }
            '#' => {
                i += text[i..].find('\n').unwrap_or(text.len() - i);
                continue;
            }
            _ => {}
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Top-level comma-separated parts of an argument list.
fn split_args(args: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut i = 0;
    while i < args.len() {
        let Some(c) = args[i..].chars().next() else {
            break;
        };
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '"' | '\'' => {
                if let Some((_, used)) = python_string(&args[i..]) {
                    i += used;
                    continue;
                }
            }
            ',' if depth == 0 => {
                parts.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += c.len_utf8();
    }
    if !args[start..].trim().is_empty() {
        parts.push(args[start..].trim());
    }
    parts
}

/// `key=value` of a keyword argument.
fn keyword(part: &str) -> Option<(&str, &str)> {
    let (key, value) = part.split_once('=')?;
    let key = key.trim();
    let ident = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !value.starts_with('=');
    ident.then_some((key, value.trim()))
}

/// Byte offsets of `needle` in `src` outside `#` comment lines.
fn code_matches<'a>(src: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    src.match_indices(needle).map(|(i, _)| i).filter(move |&i| {
        let line_start = src[..i].rfind('\n').map_or(0, |n| n + 1);
        !src[line_start..i].trim_start().starts_with('#')
    })
}

fn argparse_inputs(src: &str) -> Vec<Input> {
    let mut inputs = Vec::new();
    for at in code_matches(src, "add_argument(") {
        let open = at + "add_argument".len();
        let Some(args) = call_args(src, open) else {
            continue;
        };
        let args = without_comments(args);
        let parts = split_args(&args);
        let mut flags = Vec::new();
        let mut kwargs = Vec::new();
        for part in &parts {
            if let Some((key, value)) = keyword(part) {
                kwargs.push((key, value));
            } else if let Some(Literal::Str(s)) = python_literal(part) {
                flags.push(s);
            }
        }
        let kw = |name: &str| kwargs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let kw_str = |name: &str| match kw(name).and_then(python_literal) {
            Some(Literal::Str(s)) => Some(s),
            _ => None,
        };
        let Some(first) = flags.first() else {
            continue;
        };
        let flag = flags
            .iter()
            .find(|f| f.starts_with("--"))
            .unwrap_or(first)
            .clone();
        let option = flag.starts_with('-');
        let Some(name) = kw_str("dest")
            .as_deref()
            .or(Some(flag.as_str()))
            .and_then(input_name)
        else {
            continue;
        };
        let action = kw_str("action").unwrap_or_default();
        if matches!(action.as_str(), "help" | "version") || name == "help" {
            continue;
        }
        let choices: Vec<String> = kw("choices")
            .filter(|c| c.starts_with('[') || c.starts_with('('))
            .map(|c| {
                split_args(&c[1..c.len().saturating_sub(1)])
                    .into_iter()
                    .map(python_literal)
                    .collect::<Option<Vec<Literal>>>()
            })
            .and_then(|items| {
                items?
                    .into_iter()
                    .map(|l| match l {
                        Literal::Str(s) => Some(s),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let type_name = kw("type").unwrap_or("");
        let mut type_guessed = false;
        let kind = if action == "store_true" || action == "store_false" {
            "boolean"
        } else if !choices.is_empty() {
            "enum"
        } else if type_name == "int" {
            "integer"
        } else if type_name == "float" {
            "number"
        } else if type_name.contains("FileType") || type_name == "open" {
            "file"
        } else if looks_like_file(&name) {
            type_guessed = true;
            "file"
        } else {
            type_guessed = type_name.is_empty();
            "string"
        };
        let nargs = kw_str("nargs").unwrap_or_default();
        let required = if option {
            kw("required") == Some("True")
        } else {
            !matches!(nargs.as_str(), "?" | "*")
        };
        let default = match action.as_str() {
            "store_true" | "store_false" => None,
            _ => kw("default").and_then(python_literal),
        };
        inputs.push(Input {
            name,
            kind,
            required,
            default,
            choices,
            description: kw_str("help"),
            found: format!("argparse add_argument({flag:?}) in main.py"),
            type_guessed,
        });
    }
    inputs
}

/// Reads of the inputs object: `x["key"]`, `x.get("key")`, `x.get("key", default)`, where `x`
/// was assigned from `json.load(…)` or has "input" in its name.
fn python_json_inputs(src: &str) -> Vec<Input> {
    if !src.contains("EXECGOV_INPUTS") && !src.contains("inputs.json") {
        return Vec::new();
    }
    let mut objects = BTreeSet::new();
    for line in src.lines() {
        let t = line.trim();
        if let Some((lhs, rhs)) = t.split_once('=') {
            let lhs = lhs.trim();
            if rhs.trim_start().starts_with("json.load")
                && !lhs.is_empty()
                && lhs.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                objects.insert(lhs.to_string());
            }
        }
    }
    for word in src.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        let lower = word.to_ascii_lowercase();
        if lower.contains("input") && lower != "execgov_inputs" && !word.is_empty() {
            objects.insert(word.to_string());
        }
    }
    let mut found: Vec<(usize, Input)> = Vec::new();
    for object in &objects {
        for pattern in [format!("{object}["), format!("{object}.get(")] {
            for at in code_matches(src, &pattern) {
                let boundary = src[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
                if !boundary {
                    continue;
                }
                let open = at + pattern.len() - 1;
                let Some(args) = call_args(src, open) else {
                    continue;
                };
                let parts = split_args(args);
                let Some(Literal::Str(key)) = parts.first().and_then(|p| python_literal(p)) else {
                    continue;
                };
                let Some(name) = input_name(&key).filter(|n| *n == key) else {
                    continue;
                };
                let has_default = parts.len() > 1;
                let default = parts.get(1).and_then(|p| python_literal(p));
                // `inputs.get("flag") is True`: a boolean.
                let after = src[open + args.len() + 2..].trim_start();
                let compared_to_bool = ["is True", "is False", "== True", "== False"]
                    .iter()
                    .any(|p| after.starts_with(p));
                let (kind, type_guessed) = match &default {
                    Some(Literal::Int(_)) => ("integer", false),
                    Some(Literal::Float(_)) => ("number", false),
                    Some(Literal::Bool(_)) => ("boolean", false),
                    _ if compared_to_bool => ("boolean", false),
                    _ if looks_like_file(&name) => ("file", true),
                    _ => ("string", true),
                };
                let shown = if pattern.ends_with('[') {
                    format!("{object}[{key:?}] in main.py")
                } else {
                    format!("{object}.get({}) in main.py", parts.join(", "))
                };
                found.push((
                    at,
                    Input {
                        name,
                        kind,
                        required: !has_default,
                        default,
                        choices: Vec::new(),
                        description: None,
                        found: shown,
                        type_guessed,
                    },
                ));
            }
        }
    }
    // In the order the script reads them; a read with a default wins over a bare one.
    found.sort_by_key(|(at, _)| *at);
    let mut inputs: Vec<Input> = Vec::new();
    for (_, input) in found {
        match inputs.iter_mut().find(|i| i.name == input.name) {
            Some(existing) if existing.default.is_none() && input.default.is_some() => {
                *existing = input;
            }
            Some(_) => {}
            None => inputs.push(input),
        }
    }
    inputs
}

// ---------------------------------------------------------------------------------------------
// Shell

/// `$1`…`$9` (named after the variable they are assigned to) and `getopts` options.
fn shell_arg_inputs(src: &str) -> Vec<Input> {
    let mut inputs = Vec::new();
    for n in 1..=9u8 {
        let plain = format!("${n}");
        let braced = format!("${{{n}");
        let used = src.match_indices(&plain).any(|(i, _)| {
            !src[i + plain.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        }) || src.contains(&braced);
        if !used {
            continue;
        }
        let mut name = None;
        let mut default = None;
        for line in src.lines() {
            let t = line.trim();
            let t = ["local ", "readonly ", "declare ", "export "]
                .iter()
                .find_map(|p| t.strip_prefix(p))
                .unwrap_or(t);
            let Some((lhs, rhs)) = t.split_once('=') else {
                continue;
            };
            let rhs = rhs.trim().trim_matches(['"', '\'']);
            let lhs_ok =
                !lhs.is_empty() && lhs.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !lhs_ok {
                continue;
            }
            if rhs == plain || rhs == format!("${{{n}}}") {
                name = input_name(lhs);
                break;
            }
            if let Some(d) = rhs.strip_prefix(&format!("${{{n}:-")) {
                name = input_name(lhs);
                default = d.strip_suffix('}').map(|d| Literal::Str(d.to_string()));
                break;
            }
        }
        let name = name.unwrap_or_else(|| format!("arg{n}"));
        let file = looks_like_file(&name);
        inputs.push(Input {
            kind: if file { "file" } else { "string" },
            required: default.is_none(),
            default,
            choices: Vec::new(),
            description: None,
            found: format!("${n} in main.sh"),
            type_guessed: true,
            name,
        });
    }
    for at in code_matches(src, "getopts ") {
        let rest = &src[at + "getopts ".len()..];
        let line = rest.lines().next().unwrap_or("");
        let spec = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches(['"', '\'']);
        let letters: Vec<char> = spec.chars().collect();
        for (i, &c) in letters.iter().enumerate() {
            if !c.is_ascii_alphabetic() {
                continue;
            }
            let takes_value = letters.get(i + 1) == Some(&':');
            let name = option_variable(src, c)
                .or_else(|| input_name(&c.to_string()))
                .unwrap_or_else(|| format!("opt_{}", c.to_ascii_lowercase()));
            let file = takes_value && looks_like_file(&name);
            inputs.push(Input {
                kind: match (takes_value, file) {
                    (false, _) => "boolean",
                    (true, true) => "file",
                    (true, false) => "string",
                },
                required: false,
                default: None,
                choices: Vec::new(),
                description: None,
                found: format!("getopts option -{c} in main.sh"),
                type_guessed: takes_value,
                name,
            });
        }
    }
    inputs
}

/// The variable a `getopts` case branch `c) var=…` sets.
fn option_variable(src: &str, letter: char) -> Option<String> {
    let lines: Vec<&str> = src.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix(&format!("{letter})")) else {
            continue;
        };
        for candidate in [rest.trim(), lines.get(i + 1).copied().unwrap_or("")] {
            if let Some((lhs, _)) = candidate.split_once('=') {
                let lhs = lhs.trim();
                if !lhs.is_empty() && lhs.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return input_name(lhs);
                }
            }
        }
    }
    None
}

/// `jq '.key' "$EXECGOV_INPUTS"` reads.
fn jq_inputs(src: &str) -> Vec<Input> {
    if !src.contains("EXECGOV_INPUTS") && !src.contains("inputs.json") {
        return Vec::new();
    }
    let mut inputs = Vec::new();
    for line in src.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let Some(at) = line.find("jq ") else {
            continue;
        };
        let rest = &line[at + 3..];
        let chars: Vec<char> = rest.chars().collect();
        for i in 0..chars.len() {
            let before_ok = i > 0 && matches!(chars[i - 1], '\'' | '"' | ' ' | '|' | '(');
            if chars[i] != '.' || !before_ok {
                continue;
            }
            let key: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                .collect();
            let Some(name) = input_name(&key).filter(|n| *n == key) else {
                continue;
            };
            let file = looks_like_file(&name);
            inputs.push(Input {
                kind: if file { "file" } else { "string" },
                required: true,
                default: None,
                choices: Vec::new(),
                description: None,
                found: format!("jq '.{key}' in main.sh"),
                type_guessed: true,
                name,
            });
        }
    }
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(inputs: &[Input]) -> Vec<&str> {
        inputs.iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn python_literals() {
        assert_eq!(python_literal("'a'"), Some(Literal::Str("a".into())));
        assert_eq!(
            python_literal("\"x\\ty\""),
            Some(Literal::Str("x\ty".into()))
        );
        assert_eq!(python_literal("3"), Some(Literal::Int(3)));
        assert_eq!(python_literal("0.5"), Some(Literal::Float(0.5)));
        assert_eq!(python_literal("True"), Some(Literal::Bool(true)));
        assert_eq!(python_literal("f'{x}'"), None);
        assert_eq!(python_literal("'a' + b"), None);
        assert_eq!(python_literal("None"), None);
    }

    #[test]
    fn argparse_calls_become_inputs() {
        let src = r#"
import argparse
p = argparse.ArgumentParser()
p.add_argument("data", help="The CSV file")
p.add_argument("--top-values", type=int, default=3, help="How many")
p.add_argument("--mode", choices=["fast", "slow"], default="fast")
p.add_argument("--dry-run", action="store_true")
p.add_argument("-r", "--ratio", type=float)
# p.add_argument("--commented")
p.add_argument("--version", action="version", version="1")
"#;
        let inputs = argparse_inputs(src);
        assert_eq!(
            names(&inputs),
            ["data", "top_values", "mode", "dry_run", "ratio"]
        );
        assert_eq!(inputs[0].kind, "file");
        assert!(inputs[0].required);
        assert_eq!(inputs[1].kind, "integer");
        assert_eq!(inputs[1].default, Some(Literal::Int(3)));
        assert_eq!(inputs[2].kind, "enum");
        assert_eq!(inputs[2].choices, ["fast", "slow"]);
        assert_eq!(inputs[3].kind, "boolean");
        assert_eq!(inputs[4].kind, "number");
        assert!(!inputs[4].required);
    }

    #[test]
    fn json_inputs_are_found_in_read_order() {
        let src = r#"
import json, os
with open(os.environ["EXECGOV_INPUTS"]) as f:
    params = json.load(f)
title = params["title"]
limit = params.get("limit", 10)
ratio = params.get('ratio', 0.5)
document = params.get("document")
verbose = params.get("verbose", False)
strict = params.get("strict") is True
other = something["not_an_input"]
"#;
        let inputs = python_json_inputs(src);
        assert_eq!(
            names(&inputs),
            ["title", "limit", "ratio", "document", "verbose", "strict"]
        );
        let kinds: Vec<&str> = inputs.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            ["string", "integer", "number", "file", "boolean", "boolean"]
        );
        assert!(inputs[0].required && !inputs[1].required);
    }

    #[test]
    fn shell_arguments_and_options() {
        let src = r#"
input_file="$1"
limit="${2:-5}"
while getopts "vo:" opt; do
  case $opt in
    v) verbose=1 ;;
    o) out_name="$OPTARG" ;;
  esac
done
name=$(jq -r '.greeting' "$EXECGOV_INPUTS")
"#;
        let mut inputs = shell_arg_inputs(src);
        inputs.extend(jq_inputs(src));
        assert_eq!(
            names(&inputs),
            ["input_file", "limit", "verbose", "out_name", "greeting"]
        );
        assert_eq!(inputs[0].kind, "file");
        assert_eq!(inputs[1].default, Some(Literal::Str("5".into())));
        assert_eq!(inputs[2].kind, "boolean");
        assert_eq!(inputs[3].kind, "string");
    }

    #[test]
    fn readme_gives_name_description_and_output() {
        let readme = "# CSV **summariser**\n\n[![badge](x)](y)\n\nReads a [CSV](https://x) file\nand summarises it.\n\n## Outputs\n\n- **Result**: a table.\n- `report.md`: a report.\n";
        assert_eq!(readme_title(readme).unwrap(), "CSV summariser");
        assert_eq!(
            first_paragraph(readme).unwrap(),
            "Reads a CSV file and summarises it."
        );
        assert_eq!(
            readme_output(readme).unwrap(),
            "Result: a table; report.md: a report."
        );
    }

    #[test]
    fn slugs_follow_the_product() {
        assert_eq!(slugify("CSV summariser (v2)"), "csv-summariser-v2");
        assert!(valid_slug(&slugify("my_skill")));
        assert!(!valid_slug(&slugify("é")));
    }
}
