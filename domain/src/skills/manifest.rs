//! The script folder's manifest, `skill.toml`, and the folder contract around it.
//!
//! A script folder holds `main.py` or `main.sh`, a `README.md` and a `skill.toml`.
//! Everything here works on in-memory files so that an uploaded archive (after
//! unpacking under its own limits) and the compiled-in demo skills go through the
//! same checks. Errors name the file and, for the manifest, the line.

use std::collections::BTreeSet;
use std::fmt;

use include_dir::{include_dir, Dir, DirEntry};
use model::invocation::Invocation;
use model::skill::{InputField, InputSchema, RiskLevel};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use model::skill::{slugify, valid_slug, MANIFEST_FILE, MAX_PRELOAD};
pub const README_FILE: &str = "README.md";

/// Folder limits, a second line of defence behind the archive unpacker's own.
pub const MAX_FOLDER_FILES: usize = 1000;
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
pub const MAX_FOLDER_BYTES: usize = 32 * 1024 * 1024;
/// A manifest is a few hundred bytes; anything this big is not one.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;

/// A skill as its `skill.toml` declares it, with defaults applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Manifest {
    pub name: String,
    pub slug: String,
    pub description: String,
    /// What the skill produces, in words, for people and the AI planner.
    pub output: String,
    pub risk: RiskLevel,
    pub requires_confirmation: bool,
    pub ai_callable: bool,
    pub manual_allowed: bool,
    pub timeout_seconds: u32,
    pub inputs: InputSchema,
    /// Runs on the tenant's own machines: only local agents with this label take its executions.
    /// `None`: the platform's workers run it.
    pub agent_label: Option<String>,
    /// Requests in people's words that this skill answers; the intelligent brain learns from them.
    pub examples: Vec<String>,
    /// Modules a warm interpreter imports before the run's go (see `engine::interpreter`);
    /// empty: the top-level imports of `main.py` found in the skill's environment.
    pub preload: Vec<String>,
    /// How inputs reach a script that comes as it is (`args`, `stdin`) and which files it
    /// writes outside `output/` are artifacts (`artifacts`); see `model::invocation`.
    pub invocation: Invocation,
    /// The tenant secrets its runs receive as environment variables (`secrets = ["CRM_TOKEN"]`),
    /// as the reviewer approves them; see `crate::secrets`.
    pub secrets: Vec<String>,
}

/// `skill.toml` as written; every key optional here so missing ones get our message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: Option<String>,
    slug: Option<String>,
    description: Option<String>,
    output: Option<String>,
    risk: Option<RiskLevel>,
    requires_confirmation: Option<bool>,
    ai_callable: Option<bool>,
    manual_allowed: Option<bool>,
    timeout_seconds: Option<i64>,
    #[serde(default)]
    inputs: Vec<InputField>,
    agent_label: Option<String>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    preload: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    stdin: Vec<String>,
    #[serde(default)]
    artifacts: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
}

/// A manifest problem, with where it is when that is known (1-based).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: {}", self.message),
            (Some(l), None) => write!(f, "line {l}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// Where a key sits, so semantic errors can point at it like syntax errors do.
#[derive(Clone, Copy)]
enum Section {
    Top,
    /// The n-th `[[inputs]]` table (0-based).
    Input(usize),
}

struct Located<'a> {
    text: &'a str,
}

impl Located<'_> {
    fn error(&self, section: Section, key: &str, message: impl Into<String>) -> ManifestError {
        let (line, column) = match find_key(self.text, section, key) {
            Some((l, c)) => (Some(l), Some(c)),
            None => (None, None),
        };
        ManifestError {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Parses and checks `skill.toml`; the error says what is wrong and on which line.
pub fn parse_manifest(text: &str) -> Result<Manifest, ManifestError> {
    let plain = |message: String| ManifestError {
        line: None,
        column: None,
        message,
    };
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(plain(format!(
            "the manifest is larger than {} KiB",
            MAX_MANIFEST_BYTES / 1024
        )));
    }
    let raw: RawManifest = toml::from_str(text).map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => {
                let (l, c) = line_column(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ManifestError {
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    let at = Located { text };

    let name = match raw.name.as_deref().map(str::trim) {
        None => return Err(plain("`name` is required".into())),
        Some(n) if !(2..=80).contains(&n.chars().count()) => {
            return Err(at.error(Section::Top, "name", "`name` needs 2 to 80 characters"))
        }
        Some(n) if n.chars().any(char::is_control) => {
            return Err(at.error(
                Section::Top,
                "name",
                "`name` may not contain control characters",
            ))
        }
        Some(n) => n.to_string(),
    };
    let slug = match raw.slug.as_deref() {
        Some(s) if valid_slug(s) => s.to_string(),
        Some(s) => {
            return Err(at.error(
                Section::Top,
                "slug",
                format!("`slug` {s:?} must be 2 to 60 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"),
            ))
        }
        None => {
            let s = slugify(&name);
            if !valid_slug(&s) {
                return Err(at.error(
                    Section::Top,
                    "name",
                    "no slug can be derived from `name`; add `slug = \"…\"` (a-z, 0-9 and '-')",
                ));
            }
            s
        }
    };
    let description = required_text(&at, "description", raw.description, 4000)?;
    let output = required_text(&at, "output", raw.output, 1000)?;
    let risk = raw
        .risk
        .ok_or_else(|| plain("`risk` is required: \"low\", \"medium\" or \"high\"".into()))?;
    let requires_confirmation = raw.requires_confirmation.unwrap_or(risk == RiskLevel::High);
    if risk == RiskLevel::High && !requires_confirmation {
        return Err(at.error(
            Section::Top,
            "requires_confirmation",
            "a high-risk skill must require confirmation",
        ));
    }
    let timeout_seconds = match raw.timeout_seconds {
        None => 60,
        Some(t) if (1..=3600).contains(&t) => t as u32,
        Some(_) => {
            return Err(at.error(
                Section::Top,
                "timeout_seconds",
                "`timeout_seconds` must be between 1 and 3600",
            ))
        }
    };
    let inputs = InputSchema { fields: raw.inputs };
    if let Some(p) = inputs.problem() {
        return Err(at.error(Section::Input(p.index), p.key, p.message));
    }
    let agent_label = match raw.agent_label {
        None => None,
        Some(label) if valid_agent_label(&label) => Some(label),
        Some(_) => {
            return Err(at.error(
                Section::Top,
                "agent_label",
                "`agent_label` must be 1 to 64 characters of a-z, 0-9, '-', '_' and '.'",
            ))
        }
    };
    if raw.examples.len() > MAX_EXAMPLES {
        return Err(at.error(
            Section::Top,
            "examples",
            format!("`examples` may list at most {MAX_EXAMPLES} requests"),
        ));
    }
    let mut examples = Vec::with_capacity(raw.examples.len());
    for example in raw.examples {
        let example = example.trim();
        if example.is_empty()
            || example.chars().count() > 500
            || example.chars().any(char::is_control)
        {
            return Err(at.error(
                Section::Top,
                "examples",
                "each of `examples` needs 1 to 500 characters on one line",
            ));
        }
        examples.push(example.to_string());
    }
    let invocation = Invocation {
        args: raw.args,
        stdin: raw.stdin,
        artifacts: raw.artifacts,
    };
    if let Err(p) = invocation.check(&inputs) {
        return Err(at.error(Section::Top, p.key, p.message));
    }

    if raw.preload.len() > MAX_PRELOAD {
        return Err(at.error(
            Section::Top,
            "preload",
            format!("`preload` may list at most {MAX_PRELOAD} modules"),
        ));
    }
    if let Some(bad) = raw
        .preload
        .iter()
        .find(|m| !engine::interpreter::is_module_path(m))
    {
        return Err(at.error(
            Section::Top,
            "preload",
            format!(
                "`preload`: {bad:?} is not a module name such as \"pandas\" or \"openpyxl.styles\""
            ),
        ));
    }

    let secrets = declared_secrets(&at, raw.secrets, agent_label.is_some())?;

    Ok(Manifest {
        name,
        slug,
        description,
        output,
        risk,
        requires_confirmation,
        ai_callable: raw.ai_callable.unwrap_or(false),
        manual_allowed: raw.manual_allowed.unwrap_or(true),
        timeout_seconds,
        inputs,
        agent_label,
        examples,
        preload: raw.preload,
        invocation,
        secrets,
    })
}

/// Most secrets one manifest may name.
pub const MAX_SECRETS: usize = 32;

/// `secrets`: tenant secret names (see `model::secrets::name_problem`), each once. Local agents
/// are not handed secrets.
fn declared_secrets(
    at: &Located,
    names: Vec<String>,
    on_agents: bool,
) -> Result<Vec<String>, ManifestError> {
    let refuse = |message: String| Err(at.error(Section::Top, "secrets", message));
    if names.is_empty() {
        return Ok(names);
    }
    if on_agents {
        return refuse("`secrets` are not handed to local agents (`agent_label`) yet".into());
    }
    if names.len() > MAX_SECRETS {
        return refuse(format!("`secrets` may name at most {MAX_SECRETS} secrets"));
    }
    if let Some(problem) = names.iter().find_map(|n| model::secrets::name_problem(n)) {
        return refuse(format!("`secrets`: {problem}"));
    }
    if let Some(twice) = names
        .iter()
        .enumerate()
        .find_map(|(i, n)| names[..i].contains(n).then_some(n))
    {
        return refuse(format!("`secrets` names {twice} twice"));
    }
    Ok(names)
}

/// The command line a run of a `kind` (`python`, `shell`) skill uses, for people:
/// `python main.py --in <data> [--verbose]`.
pub fn command_line(kind: &str, manifest: &Manifest) -> String {
    let entry = match kind {
        "shell" => "bash main.sh",
        _ => "python main.py",
    };
    manifest.invocation.command_line(entry, &manifest.inputs)
}

/// Most example requests one manifest may list.
pub const MAX_EXAMPLES: usize = 50;

/// An agent label, as agents declare it and manifests name it: `^[a-z0-9._-]{1,64}$`.
pub fn valid_agent_label(label: &str) -> bool {
    (1..=64).contains(&label.len())
        && label.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
        })
}

fn required_text(
    at: &Located,
    key: &str,
    value: Option<String>,
    max: usize,
) -> Result<String, ManifestError> {
    match value.as_deref().map(str::trim) {
        None => Err(ManifestError {
            line: None,
            column: None,
            message: format!("`{key}` is required"),
        }),
        Some("") => Err(at.error(Section::Top, key, format!("`{key}` may not be empty"))),
        Some(v) if v.chars().count() > max => Err(at.error(
            Section::Top,
            key,
            format!("`{key}` needs at most {max} characters"),
        )),
        Some(v) => Ok(v.to_string()),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

/// Finds `key = …` in the top level or the n-th `[[inputs]]` table, by a line scan: enough
/// for manifests written the documented way; inline tables just get no position.
fn find_key(text: &str, section: Section, key: &str) -> Option<(usize, usize)> {
    // None: inside some other table.
    let mut current = Some(Section::Top);
    let mut inputs_seen = 0;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            let header: String = trimmed
                .split('#')
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            current = if header == "[[inputs]]" {
                inputs_seen += 1;
                Some(Section::Input(inputs_seen - 1))
            } else {
                None
            };
            continue;
        }
        let here = match (current, section) {
            (Some(Section::Top), Section::Top) => true,
            (Some(Section::Input(a)), Section::Input(b)) => a == b,
            _ => false,
        };
        if !here {
            continue;
        }
        let rest = trimmed
            .strip_prefix(key)
            .or_else(|| trimmed.strip_prefix(&format!("\"{key}\"")));
        if rest.is_some_and(|r| r.trim_start().starts_with('=')) {
            let column = line[..line.len() - trimmed.len()].chars().count() + 1;
            return Some((i + 1, column));
        }
    }
    None
}

/// A script folder that passed every check, ready to be stored as an asset version.
#[derive(Clone, Debug)]
pub struct ScriptFolder {
    /// The executor that runs it: `"python"` or `"shell"`.
    pub kind: &'static str,
    pub manifest: Manifest,
    pub readme: String,
    /// Every file, sorted by path (`/`-separated, relative to the folder).
    pub files: Vec<(String, Vec<u8>)>,
    /// sha256 hex over the sorted files; the asset version's identity.
    pub content_hash: String,
}

impl ScriptFolder {
    /// The asset's kind as stored: `"agent"` when local agents run it (in the folder's language,
    /// told by its entry file), else the language: `"python"` or `"shell"`.
    pub fn asset_kind(&self) -> &'static str {
        if self.manifest.agent_label.is_some() {
            "agent"
        } else {
            self.kind
        }
    }

    /// The file the executor runs.
    pub fn entry(&self) -> &'static str {
        match self.kind {
            "shell" => "main.sh",
            _ => "main.py",
        }
    }
}

/// Why a folder was refused, naming the file (and for the manifest, the line) when known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct FolderError {
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for FolderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}")?;
            match (self.line, self.column) {
                (Some(l), Some(c)) => write!(f, ", line {l}, column {c}")?,
                (Some(l), None) => write!(f, ", line {l}")?,
                _ => {}
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

impl FolderError {
    fn of(file: &str, message: impl Into<String>) -> FolderError {
        FolderError {
            file: Some(file.to_string()),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    fn folder(message: impl Into<String>) -> FolderError {
        FolderError {
            file: None,
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

impl From<ManifestError> for FolderError {
    fn from(e: ManifestError) -> FolderError {
        FolderError {
            file: Some(MANIFEST_FILE.to_string()),
            line: e.line,
            column: e.column,
            message: e.message,
        }
    }
}

/// A relative path that stays inside the folder wherever it is written out.
pub(crate) fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty path");
    }
    if path.contains('\\') {
        return Err("backslashes are not allowed in paths");
    }
    if path.starts_with('/') {
        return Err("absolute paths are not allowed");
    }
    if path.chars().any(char::is_control) {
        return Err("control characters are not allowed in paths");
    }
    if path.len() > 1024 {
        return Err("the path is too long");
    }
    for segment in path.split('/') {
        match segment {
            "" => return Err("empty path segments are not allowed"),
            "." | ".." => return Err("'.' and '..' are not allowed in paths"),
            s if s.len() > 255 => return Err("a path segment is too long"),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a script folder given as in-memory files and computes its content hash.
pub fn load_script_folder(mut files: Vec<(String, Vec<u8>)>) -> Result<ScriptFolder, FolderError> {
    if files.len() > MAX_FOLDER_FILES {
        return Err(FolderError::folder(format!(
            "the folder has {} files; at most {MAX_FOLDER_FILES} are allowed",
            files.len()
        )));
    }
    let mut total = 0usize;
    for (path, bytes) in &files {
        check_path(path).map_err(|m| FolderError::of(path, m))?;
        if bytes.len() > MAX_FILE_BYTES {
            return Err(FolderError::of(
                path,
                format!("larger than {} MiB", MAX_FILE_BYTES / (1024 * 1024)),
            ));
        }
        total += bytes.len();
    }
    if total > MAX_FOLDER_BYTES {
        return Err(FolderError::folder(format!(
            "the folder holds more than {} MiB",
            MAX_FOLDER_BYTES / (1024 * 1024)
        )));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = files.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(FolderError::of(&w[0].0, "listed twice"));
    }
    let paths: BTreeSet<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    // A directory and a file of the same name cannot both be written out.
    for (path, _) in &files {
        let mut prefix = String::new();
        for segment in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |s| s.1)
        {
            prefix.push_str(segment);
            if paths.contains(prefix.as_str()) {
                return Err(FolderError::of(
                    &prefix,
                    format!("is a file but {path} needs it to be a folder"),
                ));
            }
            prefix.push('/');
        }
    }
    let get = |name: &str| files.iter().find(|(p, _)| p == name).map(|(_, b)| b);

    let kind = match (get("main.py").is_some(), get("main.sh").is_some()) {
        (true, false) => "python",
        (false, true) => "shell",
        (true, true) => {
            return Err(FolderError::folder(
                "both main.py and main.sh are present; keep exactly one",
            ))
        }
        (false, false) => return Err(FolderError::folder("main.py or main.sh is missing")),
    };
    let readme = get(README_FILE).ok_or_else(|| FolderError::folder("README.md is missing"))?;
    let readme = String::from_utf8(readme.clone())
        .map_err(|_| FolderError::of(README_FILE, "not valid UTF-8 text"))?;
    let manifest =
        get(MANIFEST_FILE).ok_or_else(|| FolderError::folder("skill.toml is missing"))?;
    let manifest = std::str::from_utf8(manifest)
        .map_err(|_| FolderError::of(MANIFEST_FILE, "not valid UTF-8 text"))?;
    let manifest = parse_manifest(manifest)?;

    let content_hash = content_hash(&files);
    Ok(ScriptFolder {
        kind,
        manifest,
        readme,
        files,
        content_hash,
    })
}

/// sha256 over each file in path order as (path length u64 BE, path, size u64 BE, bytes):
/// the lengths keep `("ab", "c")` and `("a", "bc")` apart.
pub fn content_hash(files: &[(String, Vec<u8>)]) -> String {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hash = Sha256::new();
    for (path, bytes) in sorted {
        hash.update((path.len() as u64).to_be_bytes());
        hash.update(path.as_bytes());
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    }
    hex::encode(hash.finalize())
}

/// When every path sits under one top folder (as archives of a folder usually do)
/// and nothing is at the root, drops that folder so `main.py` is at the root.
pub fn strip_single_top_folder(files: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    let top = |p: &str| p.split_once('/').map(|(t, _)| t.to_string());
    let first = files.first().and_then(|(p, _)| top(p));
    let shared = first.filter(|t| files.iter().all(|(p, _)| top(p).as_deref() == Some(t)));
    match shared {
        Some(t) => files
            .into_iter()
            .map(|(p, b)| (p[t.len() + 1..].to_string(), b))
            .collect(),
        None => files,
    }
}

/// The demo script folders, compiled in: `demo-skills/<tenant>/<skill>/`.
pub static DEMO_SKILLS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/demo-skills");

/// The demo skills seeded for one tenant (`acme`, `globex`), sorted by folder name;
/// empty for a tenant without demos. They are checked by the tests, so a bad one panics.
pub fn demo_skill_folders(tenant_slug: &str) -> Vec<ScriptFolder> {
    let Some(tenant) = DEMO_SKILLS.get_dir(tenant_slug) else {
        return Vec::new();
    };
    let mut dirs: Vec<&Dir> = tenant.dirs().collect();
    dirs.sort_by_key(|d| d.path());
    dirs.into_iter()
        .map(|dir| {
            let mut files = Vec::new();
            collect_files(dir, dir, &mut files);
            load_script_folder(files)
                .unwrap_or_else(|e| panic!("demo skill {}: {e}", dir.path().display()))
        })
        .collect()
}

fn collect_files(root: &Dir, dir: &Dir, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(d) => collect_files(root, d, out),
            DirEntry::File(f) => {
                let rel = f
                    .path()
                    .strip_prefix(root.path())
                    .expect("a demo file lies under its skill folder");
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push((rel.join("/"), f.contents().to_vec()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::skill::InputType;

    const GOOD: &str = r#"name = "CSV summariser"
slug = "csv-summary"
description = "Summarises a CSV."
output = "A statistics table"
risk = "low"
ai_callable = true
timeout_seconds = 30

[[inputs]]
name = "data"
label = "CSV file"
type = "file"

[[inputs]]
name = "top"
type = "integer"
required = false
min = 1
max = 10
default = 3
"#;

    fn err(text: &str) -> ManifestError {
        parse_manifest(text).expect_err("should be refused")
    }

    /// GOOD with one line replaced (1-based), to put a mistake at a known place.
    fn good_with(line: usize, replacement: &str) -> String {
        GOOD.lines()
            .enumerate()
            .map(|(i, l)| if i + 1 == line { replacement } else { l })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn preload_lists_module_names() {
        let m =
            parse_manifest(&good_with(7, "preload = [\"pandas\", \"openpyxl.styles\"]")).unwrap();
        assert_eq!(m.preload, ["pandas", "openpyxl.styles"]);
        assert!(parse_manifest(GOOD).unwrap().preload.is_empty());
        for bad in ["\"os; rm\"", "\"\"", "\"a..b\"", "\"1x\""] {
            let e = err(&good_with(7, &format!("preload = [{bad}]")));
            assert_eq!(e.line, Some(7), "{bad}");
            assert!(e.message.contains("not a module name"), "{}", e.message);
        }
    }

    #[test]
    fn secrets_name_tenant_secrets_once_each() {
        let m = parse_manifest(&good_with(7, "secrets = [\"CRM_TOKEN\", \"ERP_KEY\"]")).unwrap();
        assert_eq!(m.secrets, ["CRM_TOKEN", "ERP_KEY"]);
        assert!(parse_manifest(GOOD).unwrap().secrets.is_empty());
        for (bad, says) in [
            ("\"crm_token\"", "not a secret name"),
            ("\"PATH\"", "used by the platform"),
            ("\"A_KEY\", \"A_KEY\"", "twice"),
        ] {
            let e = err(&good_with(7, &format!("secrets = [{bad}]")));
            assert_eq!(e.line, Some(7), "{bad}");
            assert!(e.message.contains(says), "{}", e.message);
        }
        let e = err(&format!(
            "{GOOD_TOP}agent_label = \"lab\"\nsecrets = [\"CRM_TOKEN\"]\n"
        ));
        assert!(e.message.contains("local agents"), "{e}");
    }

    const GOOD_TOP: &str =
        "name = \"Lab job\"\ndescription = \"d\"\noutput = \"o\"\nrisk = \"low\"\n";

    #[test]
    fn a_good_manifest_parses() {
        let m = parse_manifest(GOOD).unwrap();
        assert_eq!(m.name, "CSV summariser");
        assert_eq!(m.slug, "csv-summary");
        assert_eq!(m.risk, RiskLevel::Low);
        assert!(!m.requires_confirmation);
        assert!(m.ai_callable);
        assert!(m.manual_allowed);
        assert_eq!(m.timeout_seconds, 30);
        assert_eq!(m.inputs.fields.len(), 2);
        let data = &m.inputs.fields[0];
        assert_eq!(
            (data.label.as_str(), data.kind, data.required),
            ("CSV file", InputType::File, true)
        );
        let top = &m.inputs.fields[1];
        assert_eq!(top.label, "top");
        assert_eq!((top.min, top.max), (Some(1.0), Some(10.0)));
        assert_eq!(top.default, Some(serde_json::json!(3)));
    }

    #[test]
    fn defaults_follow_the_risk() {
        let m = parse_manifest(
            "name = \"Drop table\"\ndescription = \"d\"\noutput = \"o\"\nrisk = \"high\"\n",
        )
        .unwrap();
        assert_eq!(m.slug, "drop-table");
        assert!(m.requires_confirmation);
        assert!(!m.ai_callable);
        assert!(m.manual_allowed);
        assert_eq!(m.timeout_seconds, 60);
        assert!(m.inputs.fields.is_empty());

        let e = err("name = \"Drop\"\ndescription = \"d\"\noutput = \"o\"\nrisk = \"high\"\nrequires_confirmation = false\n");
        assert_eq!((e.line, e.column), (Some(5), Some(1)));
        assert!(e.message.contains("confirmation"), "{e}");
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let e = err(&good_with(4, "output = \"unterminated"));
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.to_string().starts_with("line 4, column "), "{e}");

        let e = err(&good_with(5, "risk = \"extreme\""));
        assert_eq!((e.line, e.column), (Some(5), Some(8)), "{e}");
        assert!(e.message.contains("extreme"), "{e}");

        let e = err(&good_with(6, "ai_callable = \"yes\""));
        assert_eq!(e.line, Some(6), "{e}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = err(&good_with(5, "risk_level = \"low\""));
        assert_eq!((e.line, e.column), (Some(5), Some(1)), "{e}");
        assert!(e.message.contains("risk_level"), "{e}");

        let e = err(&good_with(12, "kind = \"file\""));
        assert_eq!(e.line, Some(12), "{e}");
        assert!(e.message.contains("kind"), "{e}");
    }

    #[test]
    fn semantic_errors_point_at_their_key() {
        let e = err(&good_with(2, "slug = \"CSV Summary\""));
        assert_eq!((e.line, e.column), (Some(2), Some(1)), "{e}");
        assert!(e.message.contains("slug"), "{e}");

        let e = err(&good_with(7, "timeout_seconds = 0"));
        assert_eq!(e.line, Some(7), "{e}");

        let e = err(&good_with(1, "name = \"x\""));
        assert_eq!(e.line, Some(1), "{e}");

        let e = err(&good_with(3, "description = \"  \""));
        assert_eq!(e.line, Some(3), "{e}");

        // The second input renamed to the first's name: the error is on its name line.
        let e = err(&good_with(15, "name = \"data\""));
        assert_eq!((e.line, e.column), (Some(15), Some(1)), "{e}");
        assert!(e.message.contains("used twice"), "{e}");

        let e = err(&good_with(20, "default = 11"));
        assert_eq!(e.line, Some(20), "{e}");
        assert!(e.message.contains("default"), "{e}");

        let e = err(&good_with(18, "min = 20"));
        assert_eq!(e.line, Some(18), "{e}");
    }

    #[test]
    fn invocation_keys_are_checked_against_the_inputs() {
        let m = parse_manifest(&good_with(
            8,
            "args = [\"--in\", \"{data}\", \"--top\", \"{top}\"]\nstdin = [\"{top}\", \"y\"]\nartifacts = [\"*.xlsx\"]",
        ))
        .unwrap();
        assert_eq!(m.invocation.args, ["--in", "{data}", "--top", "{top}"]);
        assert_eq!(m.invocation.stdin, ["{top}", "y"]);
        assert_eq!(m.invocation.artifacts, ["*.xlsx"]);
        assert!(parse_manifest(GOOD).unwrap().invocation.is_empty());

        let e = err(&good_with(8, "args = [\"--in\", \"{dta}\"]"));
        assert_eq!((e.line, e.column), (Some(8), Some(1)), "{e}");
        assert!(e.message.contains("no input named \"dta\""), "{e}");
        let e = err(&good_with(8, "stdin = [\"{top?yes}\"]"));
        assert_eq!(e.line, Some(8), "{e}");
        assert!(e.message.contains("boolean"), "{e}");
        let e = err(&good_with(8, "artifacts = [\"../escape.txt\"]"));
        assert_eq!(e.line, Some(8), "{e}");
        let e = err(&good_with(8, "args = \"--in {data}\""));
        assert_eq!(e.line, Some(8), "{e}");
    }

    #[test]
    fn missing_keys_have_no_line() {
        let e = err(&good_with(5, ""));
        assert_eq!(e.line, None);
        assert_eq!(
            e.to_string(),
            "`risk` is required: \"low\", \"medium\" or \"high\""
        );
        let e = err(&good_with(1, ""));
        assert_eq!(e.to_string(), "`name` is required");
    }

    #[test]
    fn a_missing_input_type_points_into_its_table() {
        let e = err(&good_with(16, ""));
        assert!(e.message.contains("type"), "{e}");
        assert!(e.line.is_some_and(|l| (14..=20).contains(&l)), "{e}");
    }

    #[test]
    fn line_columns_count_characters() {
        assert_eq!(line_column("ab\ncdé f", 0), (1, 1));
        assert_eq!(line_column("ab\ncdé f", 3), (2, 1));
        assert_eq!(line_column("ab\ncdé f", 7), (2, 4));
    }

    fn folder(extra: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        let mut files = vec![
            ("main.py".to_string(), b"print('hi')\n".to_vec()),
            ("README.md".to_string(), b"# Hi\n".to_vec()),
            ("skill.toml".to_string(), GOOD.as_bytes().to_vec()),
        ];
        files.extend(extra.iter().map(|(p, b)| (p.to_string(), b.to_vec())));
        files
    }

    fn folder_err(files: Vec<(String, Vec<u8>)>) -> String {
        load_script_folder(files)
            .expect_err("should be refused")
            .to_string()
    }

    #[test]
    fn a_good_folder_loads() {
        let f = load_script_folder(folder(&[("lib/util.py", b"x = 1\n")])).unwrap();
        assert_eq!(f.kind, "python");
        assert_eq!(f.entry(), "main.py");
        assert_eq!(f.readme, "# Hi\n");
        assert_eq!(f.manifest.slug, "csv-summary");
        let paths: Vec<&str> = f.files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["README.md", "lib/util.py", "main.py", "skill.toml"]);
        assert_eq!(f.content_hash.len(), 64);
    }

    #[test]
    fn folder_contract_is_enforced() {
        let mut files = folder(&[]);
        files.retain(|(p, _)| p != "main.py");
        assert_eq!(folder_err(files), "main.py or main.sh is missing");

        assert_eq!(
            folder_err(folder(&[("main.sh", b"echo\n")])),
            "both main.py and main.sh are present; keep exactly one"
        );

        let mut files = folder(&[]);
        files.retain(|(p, _)| p != "README.md");
        assert_eq!(folder_err(files), "README.md is missing");

        let mut files = folder(&[]);
        files.retain(|(p, _)| p != "skill.toml");
        assert_eq!(folder_err(files), "skill.toml is missing");

        let mut files = folder(&[]);
        files[1].1 = vec![0xff, 0xfe];
        assert_eq!(folder_err(files), "README.md: not valid UTF-8 text");

        let mut files = folder(&[]);
        files[2].1 = good_with(4, "output = \"unterminated").into_bytes();
        let e = folder_err(files);
        assert!(e.starts_with("skill.toml, line 4, column "), "{e}");

        // Only a root-level entry file counts.
        let mut files = folder(&[("sub/main.sh", b"echo\n")]);
        files.retain(|(p, _)| p != "main.py");
        assert_eq!(folder_err(files), "main.py or main.sh is missing");
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for (path, reason) in [
            ("/etc/passwd", "absolute paths are not allowed"),
            ("../x", "'.' and '..' are not allowed in paths"),
            ("a/../../x", "'.' and '..' are not allowed in paths"),
            ("./x", "'.' and '..' are not allowed in paths"),
            ("a//b", "empty path segments are not allowed"),
            ("dir/", "empty path segments are not allowed"),
            ("a\\b", "backslashes are not allowed in paths"),
            ("a\nb", "control characters are not allowed in paths"),
            ("", "empty path"),
        ] {
            let e = load_script_folder(folder(&[(path, b"x")])).unwrap_err();
            assert_eq!(e.message, reason, "{path:?}");
            assert_eq!(e.file.as_deref(), Some(path));
        }
        assert_eq!(
            folder_err(folder(&[("README.md", b"again")])),
            "README.md: listed twice"
        );
        assert_eq!(
            folder_err(folder(&[("main.py/x", b"")])),
            "main.py: is a file but main.py/x needs it to be a folder"
        );
        let big = vec![0u8; MAX_FILE_BYTES + 1];
        assert_eq!(
            folder_err(folder(&[("big.bin", &big)])),
            "big.bin: larger than 8 MiB"
        );
    }

    #[test]
    fn the_hash_is_stable_and_order_free() {
        let a = load_script_folder(folder(&[("data/x.csv", b"1,2\n")])).unwrap();
        let mut reversed = folder(&[("data/x.csv", b"1,2\n")]);
        reversed.reverse();
        let b = load_script_folder(reversed).unwrap();
        assert_eq!(a.content_hash, b.content_hash);

        let changed = load_script_folder(folder(&[("data/x.csv", b"1,3\n")])).unwrap();
        assert_ne!(a.content_hash, changed.content_hash);
        let renamed = load_script_folder(folder(&[("data/y.csv", b"1,2\n")])).unwrap();
        assert_ne!(a.content_hash, renamed.content_hash);

        // Lengths are hashed, so moving bytes between path and content changes the hash.
        assert_ne!(
            content_hash(&[("ab".into(), b"c".to_vec())]),
            content_hash(&[("a".into(), b"bc".to_vec())])
        );
        // Pinned: the same folder must hash the same in every release.
        assert_eq!(
            content_hash(&[("a".into(), b"x".to_vec())]),
            hex::encode(Sha256::digest(
                [&1u64.to_be_bytes()[..], b"a", &1u64.to_be_bytes()[..], b"x"].concat()
            ))
        );
    }

    #[test]
    fn a_single_top_folder_is_stripped() {
        let files = vec![
            ("skill/main.py".to_string(), vec![]),
            ("skill/lib/x.py".to_string(), vec![]),
        ];
        let paths: Vec<String> = strip_single_top_folder(files)
            .into_iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(paths, ["main.py", "lib/x.py"]);
        let files = vec![
            ("a/main.py".to_string(), vec![]),
            ("b/x".to_string(), vec![]),
        ];
        assert_eq!(strip_single_top_folder(files.clone()), files);
        let files = vec![("main.py".to_string(), vec![])];
        assert_eq!(strip_single_top_folder(files.clone()), files);
    }

    #[test]
    fn every_demo_folder_loads() {
        let acme = demo_skill_folders("acme");
        let slugs: Vec<&str> = acme.iter().map(|f| f.manifest.slug.as_str()).collect();
        assert_eq!(
            slugs,
            [
                "business-days",
                "csv-summary",
                "csv-to-excel",
                "dedupe-rows",
                "excel-summary",
                "find-duplicates",
                "invoice-total",
                "json-to-csv",
                "log-errors",
                "purge-old-rows",
                "sales-pivot",
                "text-report"
            ]
        );
        let globex = demo_skill_folders("globex");
        let slugs: Vec<&str> = globex.iter().map(|f| f.manifest.slug.as_str()).collect();
        assert_eq!(slugs, ["checksum", "word-frequency"]);
        assert!(demo_skill_folders("initech").is_empty());

        let purge = acme
            .iter()
            .find(|f| f.manifest.slug == "purge-old-rows")
            .unwrap();
        assert_eq!(purge.manifest.risk, RiskLevel::High);
        assert!(purge.manifest.requires_confirmation);
        for f in acme.iter().chain(&globex) {
            assert!(f.readme.contains("## Inputs"), "{}", f.manifest.slug);
            assert!(f.readme.contains("## Outputs"), "{}", f.manifest.slug);
        }
        // Every tenant folder is a demo we know about.
        let tenants: Vec<_> = DEMO_SKILLS.dirs().map(|d| d.path().to_owned()).collect();
        assert_eq!(tenants.len(), 2, "{tenants:?}");
    }

    #[test]
    fn the_argparse_demo_is_wired_by_its_manifest_alone() {
        let demo = demo_skill_folders("acme")
            .into_iter()
            .find(|f| f.manifest.slug == "csv-to-excel")
            .unwrap();
        let m = &demo.manifest;
        assert_eq!(
            command_line(demo.kind, m),
            "python main.py <data> --delimiter <delimiter> --sheet <sheet> \
             [--sum <total_column>] [--no-summary]"
        );
        assert_eq!(m.invocation.artifacts, ["files/*.xlsx"]);
        assert!(demo.files.iter().any(
            |(p, b)| p == "requirements.txt" && String::from_utf8_lossy(b).contains("openpyxl")
        ));
        // What the form's inputs become, as the worker renders them.
        let form: std::collections::BTreeMap<String, String> =
            [("delimiter", ";"), ("total_column", "amount")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let uploaded = [("data".to_string(), "my_sales.csv".to_string())].into();
        let inputs = model::skill::validate_inputs(&m.inputs, &form, &uploaded).unwrap();
        let rendered = m.invocation.render(&m.inputs, &inputs, "/work");
        assert_eq!(
            rendered.args,
            [
                "/work/files/my_sales.csv",
                "--delimiter",
                ";",
                "--sheet",
                "Data",
                "--sum",
                "amount"
            ]
        );
        // The script itself is left as it was written: argparse, no ExecGov variables.
        let main = String::from_utf8(
            demo.files
                .iter()
                .find(|(p, _)| p == "main.py")
                .unwrap()
                .1
                .clone(),
        )
        .unwrap();
        assert!(main.contains("argparse.ArgumentParser") && !main.contains("EXECGOV"));
    }

    /// The demo scripts run for real: the interpreter the executor uses, a work folder
    /// laid out like the sandbox's, and only the documented environment.
    mod demo_runs {
        use super::*;
        use model::skill::{result_view, result_view_from_str, validate_inputs, ResultView};
        use serde_json::{json, Value};
        use std::collections::BTreeMap;
        use std::path::PathBuf;
        use std::process::Command;
        use std::sync::atomic::{AtomicUsize, Ordering};

        struct Run {
            code: Option<i32>,
            stdout: String,
            stderr: String,
            result_text: Option<String>,
            root: PathBuf,
        }

        impl Run {
            fn result(&self) -> Value {
                let text = self
                    .result_text
                    .as_deref()
                    .unwrap_or_else(|| panic!("no result.json; stderr: {}", self.stderr));
                serde_json::from_str(text).expect("result.json is JSON")
            }

            fn output(&self, name: &str) -> String {
                std::fs::read_to_string(self.root.join("work/output").join(name))
                    .unwrap_or_else(|e| panic!("output/{name}: {e}; stderr: {}", self.stderr))
            }

            fn outputs(&self) -> Vec<String> {
                let mut names: Vec<String> = std::fs::read_dir(self.root.join("work/output"))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            }

            fn succeeded(&self) -> &Self {
                assert_eq!(
                    self.code,
                    Some(0),
                    "stdout: {}\nstderr: {}",
                    self.stdout,
                    self.stderr
                );
                self
            }

            fn failed_with(&self, needle: &str) {
                assert_eq!(self.code, Some(1), "stdout: {}", self.stdout);
                assert!(self.stderr.contains(needle), "stderr: {}", self.stderr);
            }
        }

        impl Drop for Run {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.root);
            }
        }

        fn demo(tenant: &str, slug: &str) -> ScriptFolder {
            demo_skill_folders(tenant)
                .into_iter()
                .find(|f| f.manifest.slug == slug)
                .unwrap_or_else(|| panic!("no demo {tenant}/{slug}"))
        }

        /// A temporary root with the demo's files under `skill/` and a `work/` path beside them:
        /// (root, skill, work).
        fn written_out(folder: &ScriptFolder) -> (PathBuf, PathBuf, PathBuf) {
            static N: AtomicUsize = AtomicUsize::new(0);
            let root = std::env::temp_dir().join(format!(
                "execgov-demo-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let (skill, work) = (root.join("skill"), root.join("work"));
            for (path, bytes) in &folder.files {
                let target = skill.join(path);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::write(target, bytes).unwrap();
            }
            (root, skill, work)
        }

        /// Validates the form like the server does, then runs the script on the result.
        fn run(
            slug_path: (&str, &str),
            form: &[(&str, &str)],
            uploads: &[(&str, &str, &[u8])],
        ) -> Run {
            let folder = demo(slug_path.0, slug_path.1);
            let form: BTreeMap<String, String> = form
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let uploaded: BTreeMap<String, String> = uploads
                .iter()
                .map(|(field, stored, _)| (field.to_string(), stored.to_string()))
                .collect();
            let inputs = validate_inputs(&folder.manifest.inputs, &form, &uploaded)
                .unwrap_or_else(|e| panic!("the form is refused: {e:?}"));

            let (root, skill, work) = written_out(&folder);
            std::fs::create_dir_all(work.join("files")).unwrap();
            std::fs::create_dir_all(work.join("output")).unwrap();
            std::fs::write(work.join("inputs.json"), Value::Object(inputs).to_string()).unwrap();
            for (_, stored, bytes) in uploads {
                std::fs::write(work.join("files").join(stored), bytes).unwrap();
            }

            let mut cmd = match folder.kind {
                "python" => {
                    let mut c = Command::new("/usr/bin/python3");
                    c.args(["-I", "-S"]);
                    c
                }
                _ => Command::new("/bin/bash"),
            };
            let out = cmd
                .arg(skill.join(folder.entry()))
                .current_dir(&work)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("EXECGOV_INPUTS", work.join("inputs.json"))
                .env("EXECGOV_OUTPUT", work.join("output"))
                .output()
                .expect("the interpreter starts");
            Run {
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                result_text: std::fs::read_to_string(work.join("result.json")).ok(),
                root,
            }
        }

        const SALES: &[u8] = b"region,amount,date,note\n\
North,10,2026-01-01,ok\n\
South,20.5,2026-01-02,\n\
North,,2026-01-03,late\n\
East,30,2026-01-04,ok\n";

        #[test]
        fn csv_summary_summarises_each_column() {
            let run = run(
                ("acme", "csv-summary"),
                &[],
                &[("data", "1-sales.csv", SALES)],
            );
            run.succeeded();
            assert!(
                run.stdout.contains("Summarised 4 rows and 4 columns"),
                "{}",
                run.stdout
            );
            let rows = run.result();
            let by_column = |c: &str| {
                rows.as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["column"] == c)
                    .cloned()
                    .unwrap()
            };
            let amount = by_column("amount");
            assert_eq!(
                (&amount["type"], &amount["count"], &amount["missing"]),
                (&json!("number"), &json!(3), &json!(1))
            );
            assert_eq!(
                (
                    &amount["min"],
                    &amount["max"],
                    &amount["mean"],
                    &amount["median"]
                ),
                (&json!(10), &json!(30), &json!(20.1667), &json!(20.5))
            );
            let region = by_column("region");
            assert_eq!(region["type"], "text");
            assert_eq!(region["top_values"], "North (2), South (1), East (1)");
            assert_eq!(by_column("note")["missing"], 1);

            // The UI shows it as a table in the script's column order.
            let ResultView::Table { columns, rows } =
                result_view_from_str(run.result_text.as_deref().unwrap()).unwrap()
            else {
                panic!("a table")
            };
            assert_eq!(columns[..4], ["column", "type", "count", "missing"]);
            assert_eq!(rows.len(), 4);

            let report = run.output("report.md");
            assert!(report.starts_with("# CSV summary: 1-sales.csv"), "{report}");
            assert!(
                report.contains("| amount | number | 3 | 1 | 10 | 30 | 20.1667 | 20.5 |  |"),
                "{report}"
            );
            assert!(
                report.contains("Columns with missing values: amount, note."),
                "{report}"
            );
        }

        #[test]
        fn csv_summary_detects_semicolons_and_honours_top_values() {
            let csv = "name;city\nAnn;Paris\nBob;Paris\nCy;Rome\n".as_bytes();
            let run = run(
                ("acme", "csv-summary"),
                &[("top_values", "1")],
                &[("data", "people.csv", csv)],
            );
            run.succeeded();
            let rows = run.result();
            assert_eq!(rows[1]["column"], "city");
            assert_eq!(rows[1]["top_values"], "Paris (2)");
            assert!(run.output("report.md").contains("- Delimiter: semicolon"));
        }

        #[test]
        fn csv_summary_refuses_bad_files_clearly() {
            let r = run(
                ("acme", "csv-summary"),
                &[],
                &[("data", "x.csv", b"a,b\n\xff\xfe,1\n")],
            );
            r.failed_with("the file is not UTF-8 text");
            assert!(r.result_text.is_none());
            run(
                ("acme", "csv-summary"),
                &[],
                &[("data", "x.csv", b"a,b\n1,2\n1,2,3\n")],
            )
            .failed_with("line 3 has 3 values but the header has 2 columns");
            run(("acme", "csv-summary"), &[], &[("data", "x.csv", b" \n")])
                .failed_with("the file is empty");
            run(
                ("acme", "csv-summary"),
                &[("delimiter", "comma")],
                &[("data", "x.csv", b"a,b\n\"x,1\n")],
            )
            .failed_with("line 2:");
        }

        #[test]
        fn text_report_counts_and_ranks_words() {
            let text = b"Error: disk full\nerror again\nWARN ok\nERROR";
            let run = run(
                ("acme", "text-report"),
                &[],
                &[("document", "app log.txt", text)],
            );
            run.succeeded();
            let result = run.result();
            assert_eq!(result["file"], "app log.txt");
            assert_eq!(
                (&result["lines"], &result["words"], &result["bytes"]),
                (&json!(4), &json!(8), &json!(text.len()))
            );
            assert_eq!(result["top_words"][0], json!({"word": "error", "count": 3}));
            // Ties are alphabetical.
            assert_eq!(result["top_words"][1], json!({"word": "again", "count": 1}));
            assert_eq!(result["top_words"].as_array().unwrap().len(), 6);
            assert!(matches!(result_view(&result), ResultView::Json(_)));
            let report = run.output("report.txt");
            assert!(report.contains("Lines: 4\nWords: 8\n"), "{report}");
            assert!(report.contains("   1. error"), "{report}");
        }

        #[test]
        fn text_report_honours_min_length_and_empty_files() {
            let r = run(
                ("acme", "text-report"),
                &[("min_length", "5")],
                &[("document", "a.txt", b"error ok ok ok warning\n")],
            );
            r.succeeded();
            let result = r.result();
            let words: Vec<&str> = result["top_words"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["word"].as_str().unwrap())
                .collect();
            assert_eq!(words, ["error", "warning"]);

            let r = run(
                ("acme", "text-report"),
                &[],
                &[("document", "empty.txt", b"")],
            );
            r.succeeded();
            assert_eq!(
                r.result(),
                json!({"file": "empty.txt", "lines": 0, "words": 0, "bytes": 0, "top_words": []})
            );
            assert!(r.output("report.txt").contains("No words"));
        }

        #[test]
        fn purge_old_rows_splits_by_the_cutoff() {
            let csv = b"id,Created,amount\n\
1,2025-12-31,5\n\
2,2026-01-01,6\n\
3,2026-01-02T10:00:00,7\n\
4,,8\n\
5,31/12/2025,9\n\
6,2025-06-30 08:00,10\n";
            let run = run(
                ("acme", "purge-old-rows"),
                &[("date_column", " created "), ("cutoff", "2026-01-01")],
                &[("data", "orders.csv", csv)],
            );
            run.succeeded();
            assert_eq!(
                run.result(),
                json!([{
                    "date_column": "Created", "cutoff": "2026-01-01", "rows_read": 6,
                    "rows_kept": 4, "rows_removed": 2, "kept_without_date": 2
                }])
            );
            assert_eq!(
                run.output("kept.csv"),
                "id,Created,amount\n2,2026-01-01,6\n3,2026-01-02T10:00:00,7\n4,,8\n5,31/12/2025,9\n"
            );
            assert_eq!(
                run.output("removed.csv"),
                "id,Created,amount\n1,2025-12-31,5\n6,2025-06-30 08:00,10\n"
            );
        }

        #[test]
        fn purge_old_rows_refuses_an_unknown_column_and_writes_nothing() {
            let r = run(
                ("acme", "purge-old-rows"),
                &[("date_column", "when"), ("cutoff", "2026-01-01")],
                &[("data", "orders.csv", b"id,created\n1,2025-01-01\n")],
            );
            r.failed_with("there is no column 'when'; the columns are: id, created");
            assert!(r.outputs().is_empty());
            assert!(r.result_text.is_none());
        }

        #[test]
        fn word_frequency_ranks_pasted_text_and_documents() {
            let r = run(
                ("globex", "word-frequency"),
                &[
                    (
                        "text",
                        "The cat and the hat. The end; don\u{2019}t stop, l'été 42!",
                    ),
                    ("top_n", "3"),
                ],
                &[],
            );
            r.succeeded();
            assert_eq!(
                r.result(),
                json!([
                    {"rank": 1, "word": "the", "count": 3, "share": "30.0%"},
                    {"rank": 2, "word": "and", "count": 1, "share": "10.0%"},
                    {"rank": 3, "word": "cat", "count": 1, "share": "10.0%"}
                ])
            );
            let csv = r.output("word-frequency.csv");
            assert!(csv.starts_with("word,count\nthe,3\n"), "{csv}");
            assert!(
                csv.contains("don't,1\n") && csv.contains("l'été,1\n"),
                "{csv}"
            );

            let r = run(
                ("globex", "word-frequency"),
                &[("text", "the report"), ("skip_common_words", "on")],
                &[(
                    "document",
                    "notes.txt",
                    "Report: the report of reports".as_bytes(),
                )],
            );
            r.succeeded();
            let rows = r.result();
            assert_eq!(
                rows[0],
                json!({"rank": 1, "word": "report", "count": 3, "share": "75.0%"})
            );
            assert_eq!(rows.as_array().unwrap().len(), 2);
        }

        /// A command-line demo run the way the worker starts it: its manifest's `args` rendered
        /// from the form, the folder input unpacked under `files/`.
        #[test]
        fn find_duplicates_takes_its_folder_and_option_as_arguments() {
            let folder = demo("acme", "find-duplicates");
            let m = &folder.manifest;
            let form: BTreeMap<String, String> = [("min_size".to_string(), "2".to_string())].into();
            let uploaded = [("folder".to_string(), "photos".to_string())].into();
            let inputs = validate_inputs(&m.inputs, &form, &uploaded).unwrap();
            let (root, skill, work) = written_out(&folder);
            let photos = work.join("files/photos");
            std::fs::create_dir_all(photos.join("trip")).unwrap();
            std::fs::write(photos.join("a.jpg"), "same bytes").unwrap();
            std::fs::write(photos.join("trip/copy of a.jpg"), "same bytes").unwrap();
            std::fs::write(photos.join("b.jpg"), "other").unwrap();
            std::fs::write(photos.join("tiny"), "x").unwrap();
            std::fs::write(photos.join("tiny2"), "x").unwrap();
            let rendered = m
                .invocation
                .render(&m.inputs, &inputs, &work.to_string_lossy());
            assert_eq!(
                rendered.args,
                [
                    photos.to_string_lossy().into_owned(),
                    "--min-size".into(),
                    "2".into()
                ]
            );
            let out = Command::new("/usr/bin/python3")
                .args(["-I", "-S"])
                .arg(skill.join("main.py"))
                .args(&rendered.args)
                .current_dir(&work)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                std::fs::read_to_string(work.join("duplicates.csv")).unwrap(),
                "group,file,size\r\n1,a.jpg,10\r\n1,trip/copy of a.jpg,10\r\n"
            );
            assert!(
                work.join("dupfinder.log").is_file(),
                "its own log, left for the note"
            );
            assert_eq!(m.invocation.artifacts, ["duplicates.csv"]);
            std::fs::remove_dir_all(&root).unwrap();
        }

        #[test]
        fn word_frequency_needs_some_text() {
            run(("globex", "word-frequency"), &[("text", "  ")], &[])
                .failed_with("give some text or upload a document");
        }

        #[test]
        fn checksum_computes_each_algorithm() {
            let hello = b"hello\n";
            for (algorithm, sum) in [
                (
                    "",
                    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
                ),
                ("sha1", "f572d396fae9206628714fb2ce00f72e94f2258f"),
                ("md5", "b1946ac92492d2347c6235b4d2611184"),
            ] {
                let r = run(
                    ("globex", "checksum"),
                    &[("algorithm", algorithm)],
                    &[("file", "my file.bin", hello)],
                );
                r.succeeded();
                let algorithm = if algorithm.is_empty() {
                    "sha256"
                } else {
                    algorithm
                };
                assert_eq!(
                    r.result(),
                    json!([{"file": "my file.bin", "size_bytes": 6, "algorithm": algorithm, "checksum": sum}])
                );
                assert_eq!(r.output("checksum.txt"), format!("{sum}  my file.bin\n"));
            }
            let sha = hex::encode(Sha256::digest(hello));
            assert_eq!(
                sha,
                "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
            );
        }
    }

    #[test]
    fn a_name_that_makes_no_slug_is_refused_at_its_line() {
        let e = err("name = \"日本語\"\ndescription = \"d\"\noutput = \"o\"\nrisk = \"low\"\n");
        assert_eq!(e.line, Some(1));
    }
}
