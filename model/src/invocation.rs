//! How a skill's inputs reach its script when it comes as it is: command-line arguments
//! (`args`), answers to its keyboard prompts (`stdin`), and the files it writes outside
//! `output/` that are collected as artifacts (`artifacts`), as `skill.toml` declares them.
//!
//! Template rules for `args` and `stdin` elements:
//! - an element exactly `{name}` becomes the input's value as one argument; a file input's
//!   value is its path in the sandbox (`/work/files/…`), a folder input's the folder's path;
//! - `{name}` inside other text (`--in={data}`) is substituted within that one argument;
//! - `{flag?--text}` for a boolean input: `--text` when true, nothing when false (an element
//!   that is only that is left out when false);
//! - an optional input with no value: its element is left out, together with the element just
//!   before it when that one is a literal starting with `-` (its flag);
//! - `{{` and `}}` write literal braces; anything else in braces is a manifest error.
//!
//! For `stdin`, each element is one line; a missing value or a false flag gives an empty line
//! (as pressing Enter at a prompt), so that later answers keep their place.
//!
//! Pure code, shared by the server (checks at submission, rendering at run time, the review
//! page's command line) and the CLI (which writes such templates).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::skill::{InputField, InputSchema, InputType};

/// Most elements one of `args` or `stdin` may have.
pub const MAX_ELEMENTS: usize = 100;
/// Longest element, in characters.
pub const MAX_ELEMENT_CHARS: usize = 1000;
/// Most artifact globs.
pub const MAX_GLOBS: usize = 20;

/// The `args`, `stdin` and `artifacts` of a skill version, as written in `skill.toml`
/// (checked against its inputs with [`Invocation::check`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invocation {
    /// Arguments after the entry file, one template each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Lines given on standard input, one template each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stdin: Vec<String>,
    /// Globs of files in the working folder collected as artifacts besides `output/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
}

/// What is wrong with an [`Invocation`], and where: the key (`args`, `stdin`, `artifacts`)
/// and the element's index, so a manifest error can point at the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvocationProblem {
    pub key: &'static str,
    pub index: usize,
    pub message: String,
}

/// What a run is given, rendered from the templates and the run's inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// Each one argument, never through a shell.
    pub args: Vec<String>,
    /// Standard input: each line with its newline; empty when no `stdin` is declared.
    pub stdin: Vec<u8>,
}

/// One piece of a template element.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Input(String),
    Flag { input: String, text: String },
}

/// Splits one element into its parts; the error says what is wrong in words.
fn parse_element(element: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = element.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => return Err("a lone `}`: write `}}` for a literal brace".into()),
            '{' => {
                let mut inner = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => {
                            return Err(format!(
                                "`{{{inner}` is not closed: use `{{name}}`, `{{flag?--text}}`, or `{{{{` for a literal brace"
                            ))
                        }
                        Some(c) => inner.push(c),
                    }
                }
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(placeholder(&inner)?);
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

/// `name` or `flag?text` between braces.
fn placeholder(inner: &str) -> Result<Part, String> {
    let bad = || {
        format!(
            "`{{{inner}}}` is not a template: use `{{name}}` for an input's value or \
             `{{flag?--text}}` for a boolean flag"
        )
    };
    match inner.split_once('?') {
        Some((input, text)) => {
            if !is_input_name(input) || text.is_empty() {
                return Err(bad());
            }
            Ok(Part::Flag {
                input: input.to_string(),
                text: text.to_string(),
            })
        }
        None if is_input_name(inner) => Ok(Part::Input(inner.to_string())),
        None => Err(bad()),
    }
}

/// The shape of an input name (`^[a-z][a-z0-9_]*$`); whether it exists is checked apart.
fn is_input_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

impl Invocation {
    /// Whether the manifest says nothing about invocation (the script reads `$EXECGOV_INPUTS`).
    pub fn is_empty(&self) -> bool {
        self.args.is_empty() && self.stdin.is_empty() && self.artifacts.is_empty()
    }

    /// Checks every template against the inputs and every glob's shape.
    pub fn check(&self, schema: &InputSchema) -> Result<(), InvocationProblem> {
        for (key, elements) in [("args", &self.args), ("stdin", &self.stdin)] {
            if elements.len() > MAX_ELEMENTS {
                return Err(InvocationProblem {
                    key,
                    index: MAX_ELEMENTS,
                    message: format!("`{key}` may have at most {MAX_ELEMENTS} elements"),
                });
            }
            for (index, element) in elements.iter().enumerate() {
                check_element(key, element, schema).map_err(|m| InvocationProblem {
                    key,
                    index,
                    message: format!("`{key}` element {} ({element:?}): {m}", index + 1),
                })?;
            }
        }
        if self.artifacts.len() > MAX_GLOBS {
            return Err(InvocationProblem {
                key: "artifacts",
                index: MAX_GLOBS,
                message: format!("`artifacts` may list at most {MAX_GLOBS} globs"),
            });
        }
        for (index, glob) in self.artifacts.iter().enumerate() {
            check_glob(glob).map_err(|m| InvocationProblem {
                key: "artifacts",
                index,
                message: format!("`artifacts` glob {glob:?}: {m}"),
            })?;
        }
        Ok(())
    }

    /// The arguments and standard input of one run, from its validated inputs (as
    /// `validate_inputs` made them: file and folder values relative to the work folder,
    /// which the script sees at `work`).
    pub fn render(
        &self,
        schema: &InputSchema,
        inputs: &Map<String, Value>,
        work: &str,
    ) -> Rendered {
        let values = Values {
            schema,
            inputs,
            work,
        };
        let mut args: Vec<String> = Vec::new();
        // Whether the last argument pushed is template element i - 1 and a literal flag.
        let mut last_flag: Option<usize> = None;
        for (i, element) in self.args.iter().enumerate() {
            let Ok(parts) = parse_element(element) else {
                continue;
            };
            match values.fill(&parts) {
                Filled::Missing => {
                    if i > 0 && last_flag == Some(i - 1) {
                        args.pop();
                    }
                    last_flag = None;
                }
                Filled::Nothing => last_flag = None,
                Filled::Text(text) => {
                    let literal = parts.iter().all(|p| matches!(p, Part::Text(_)));
                    last_flag = (literal && text.starts_with('-')).then_some(i);
                    args.push(text);
                }
            }
        }
        let mut stdin = Vec::new();
        for element in &self.stdin {
            if let Ok(parts) = parse_element(element) {
                if let Filled::Text(text) = values.fill(&parts) {
                    stdin.extend_from_slice(text.as_bytes());
                }
            }
            stdin.push(b'\n');
        }
        Rendered { args, stdin }
    }

    /// The command line a run uses, for people: `python main.py --in <data> [--verbose]`.
    /// Values are shown as `<name>`; what may be left out is in brackets; literals that a
    /// shell would split are quoted.
    pub fn command_line(&self, entry: &str, schema: &InputSchema) -> String {
        let mut words: Vec<String> = vec![entry.to_string()];
        // Whether the last word is template element i - 1 and a literal flag.
        let mut last_flag: Option<usize> = None;
        for (i, element) in self.args.iter().enumerate() {
            let Ok(parts) = parse_element(element) else {
                continue;
            };
            let mut word = String::new();
            let mut optional = false;
            let mut only_flag = false;
            for part in &parts {
                match part {
                    Part::Text(t) => word.push_str(t),
                    Part::Input(name) => {
                        word.push_str(&format!("<{name}>"));
                        optional |= schema
                            .fields
                            .iter()
                            .find(|f| &f.name == name)
                            .is_some_and(may_be_missing);
                    }
                    Part::Flag { text, .. } => {
                        word.push_str(text);
                        only_flag = parts.len() == 1;
                    }
                }
            }
            let literal = parts.iter().all(|p| matches!(p, Part::Text(_)));
            let word = if literal { display_quote(&word) } else { word };
            if optional {
                if i > 0 && last_flag == Some(i - 1) {
                    let flag = words.pop().unwrap_or_default();
                    words.push(format!("[{flag} {word}]"));
                } else {
                    words.push(format!("[{word}]"));
                }
                last_flag = None;
            } else if only_flag {
                words.push(format!("[{word}]"));
                last_flag = None;
            } else {
                last_flag = (literal && word.starts_with('-')).then_some(i);
                words.push(word);
            }
        }
        words.join(" ")
    }

    /// The standard input a run is given, for people: one `<name>` or literal per line.
    pub fn stdin_lines(&self) -> Vec<String> {
        self.stdin
            .iter()
            .map(|element| match parse_element(element) {
                Ok(parts) => parts
                    .iter()
                    .map(|p| match p {
                        Part::Text(t) => t.clone(),
                        Part::Input(name) => format!("<{name}>"),
                        Part::Flag { input, text } => format!("[{text} if {input}]"),
                    })
                    .collect(),
                Err(_) => element.clone(),
            })
            .collect()
    }
}

/// An input that can be without a value in a run: optional, not a boolean (which is always
/// true or false), without a default.
fn may_be_missing(field: &InputField) -> bool {
    !field.required && field.kind != InputType::Boolean && field.default.is_none()
}

/// A literal as a shell would need it to stay one word (for display only: nothing runs it).
fn display_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=.,/:@%+".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn check_element(key: &str, element: &str, schema: &InputSchema) -> Result<(), String> {
    if element.chars().count() > MAX_ELEMENT_CHARS {
        return Err(format!("longer than {MAX_ELEMENT_CHARS} characters"));
    }
    if element.contains('\0') {
        return Err("a NUL character cannot be passed".into());
    }
    if key == "stdin" && (element.contains('\n') || element.contains('\r')) {
        return Err("each element is one line: no line breaks".into());
    }
    for part in parse_element(element)? {
        let (name, flag) = match &part {
            Part::Text(_) => continue,
            Part::Input(name) => (name, false),
            Part::Flag { input, .. } => (input, true),
        };
        let Some(field) = schema.fields.iter().find(|f| &f.name == name) else {
            let known: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(if known.is_empty() {
                format!("there is no input named {name:?}: the skill has no inputs")
            } else {
                format!(
                    "there is no input named {name:?}; the inputs are: {}",
                    known.join(", ")
                )
            });
        };
        if flag && field.kind != InputType::Boolean {
            return Err(format!(
                "`{{{name}?…}}` needs a boolean input, but {name:?} is a {}",
                field.kind.as_str()
            ));
        }
    }
    Ok(())
}

/// An artifact glob: a relative `/`-separated path whose segments may use `*` (any characters
/// but `/`) and `?` (one character), or be `**` (any number of folders).
pub fn check_glob(glob: &str) -> Result<(), String> {
    if glob.is_empty() {
        return Err("empty".into());
    }
    if glob.starts_with('/') {
        return Err("must be relative to the working folder".into());
    }
    if glob.contains('\\') || glob.chars().any(char::is_control) {
        return Err("backslashes and control characters are not allowed".into());
    }
    if glob.chars().count() > 300 {
        return Err("longer than 300 characters".into());
    }
    if glob.contains(['[', ']', '{', '}']) {
        return Err("only `*`, `?` and `**` are supported".into());
    }
    for segment in glob.split('/') {
        match segment {
            "" => return Err("empty path segments are not allowed".into()),
            "." | ".." => return Err("'.' and '..' are not allowed".into()),
            "**" => {}
            s if s.contains("**") => return Err("`**` must be a whole path segment".into()),
            _ => {}
        }
    }
    if glob.split('/').next_back() == Some("**") {
        return Err("must end in a file name pattern, e.g. `reports/**/*.md`".into());
    }
    Ok(())
}

/// Whether relative path `path` (`/`-separated) matches `glob` (see [`check_glob`]).
pub fn glob_matches(glob: &str, path: &str) -> bool {
    let g: Vec<&str> = glob.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    segments_match(&g, &p)
}

fn segments_match(glob: &[&str], path: &[&str]) -> bool {
    match glob.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((name, path_rest)) => {
                segment_matches(first, name) && segments_match(rest, path_rest)
            }
            None => false,
        },
    }
}

/// `*` and `?` within one segment; a leading `.` is matched only by a literal `.` (as shells
/// do), so `*` does not collect hidden files.
fn segment_matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Classic wildcard matching with one backtrack point.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Every input with a value as `EXECGOV_INPUT_<NAME>` (upper-cased; non-alphanumerics `_`),
/// rendered as in `args`. Values longer than `max_len` bytes are left out (they stay in
/// `$EXECGOV_INPUTS`).
pub fn input_env(
    schema: &InputSchema,
    inputs: &Map<String, Value>,
    work: &str,
    max_len: usize,
) -> Vec<(String, String)> {
    let values = Values {
        schema,
        inputs,
        work,
    };
    schema
        .fields
        .iter()
        .filter_map(|f| {
            let value = values.text(&f.name)?;
            (value.len() <= max_len && !value.contains('\0')).then(|| (env_name(&f.name), value))
        })
        .collect()
}

/// `EXECGOV_INPUT_` + the name upper-cased, non-alphanumerics as `_`.
pub fn env_name(input: &str) -> String {
    let upper: String = input
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("EXECGOV_INPUT_{upper}")
}

/// How one element came out.
enum Filled {
    Text(String),
    /// Only a false flag: nothing.
    Nothing,
    /// An input without a value.
    Missing,
}

struct Values<'a> {
    schema: &'a InputSchema,
    inputs: &'a Map<String, Value>,
    work: &'a str,
}

impl Values<'_> {
    /// An input's value as text, `None` when it has none.
    fn text(&self, name: &str) -> Option<String> {
        let value = self.inputs.get(name)?;
        let kind = self
            .schema
            .fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.kind);
        match value {
            Value::Null => None,
            Value::String(s) if matches!(kind, Some(InputType::File | InputType::Folder)) => {
                Some(format!("{}/{s}", self.work.trim_end_matches('/')))
            }
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            other => Some(other.to_string()),
        }
    }

    fn truthy(&self, name: &str) -> bool {
        self.inputs.get(name).and_then(Value::as_bool) == Some(true)
    }

    fn fill(&self, parts: &[Part]) -> Filled {
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Input(name) => match self.text(name) {
                    Some(v) => out.push_str(&v),
                    None => return Filled::Missing,
                },
                Part::Flag { input, text } => {
                    if self.truthy(input) {
                        out.push_str(text);
                    }
                }
            }
        }
        let only_flags = parts.iter().all(|p| matches!(p, Part::Flag { .. }));
        if only_flags && out.is_empty() {
            Filled::Nothing
        } else {
            Filled::Text(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, kind: InputType, required: bool) -> InputField {
        serde_json::from_value(json!({"name": name, "type": kind, "required": required}))
            .expect("a valid input")
    }

    fn schema() -> InputSchema {
        InputSchema {
            fields: vec![
                field("data", InputType::File, true),
                field("top_values", InputType::Integer, false),
                field("verbose", InputType::Boolean, false),
                field("title", InputType::String, false),
                field("photos", InputType::Folder, false),
            ],
        }
    }

    fn inv(args: &[&str], stdin: &[&str]) -> Invocation {
        Invocation {
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: stdin.iter().map(|s| s.to_string()).collect(),
            artifacts: vec![],
        }
    }

    fn render(i: &Invocation, inputs: Value) -> Rendered {
        i.check(&schema()).expect("a valid invocation");
        i.render(&schema(), inputs.as_object().unwrap(), "/work")
    }

    #[test]
    fn values_become_single_arguments() {
        let i = inv(
            &[
                "--in",
                "{data}",
                "--top",
                "{top_values}",
                "{verbose?--verbose}",
            ],
            &[],
        );
        let r = render(
            &i,
            json!({"data": "files/sales.csv", "top_values": 5, "verbose": true}),
        );
        assert_eq!(
            r.args,
            ["--in", "/work/files/sales.csv", "--top", "5", "--verbose"]
        );
        let r = render(&i, json!({"data": "files/sales.csv", "verbose": false}));
        assert_eq!(r.args, ["--in", "/work/files/sales.csv"]);
        assert!(r.stdin.is_empty());
    }

    #[test]
    fn odd_values_stay_untouched_and_whole() {
        let i = inv(&["--title", "{title}", "--title={title}"], &[]);
        for odd in [
            "two words",
            "it's \"quoted\"",
            "--leading-dashes",
            "-x",
            "$(rm -rf /)",
            "`id`; echo $HOME",
            "line one\nline two",
            "*.csv",
            "",
            "{title}",
        ] {
            let r = render(&i, json!({"data": "files/x", "title": odd}));
            assert_eq!(
                r.args,
                [
                    "--title".to_string(),
                    odd.to_string(),
                    format!("--title={odd}")
                ],
                "{odd:?}"
            );
        }
    }

    #[test]
    fn an_empty_optional_goes_with_its_flag() {
        let i = inv(
            &[
                "--top",
                "{top_values}",
                "--title={title}",
                "-v",
                "{verbose}",
                "{data}",
            ],
            &[],
        );
        let r = render(&i, json!({"data": "files/a", "verbose": false}));
        // `--top` goes with the missing value; `--title=…` is one element and goes alone;
        // a boolean always has a value.
        assert_eq!(r.args, ["-v", "false", "/work/files/a"]);
        // A literal not starting with '-' stays.
        let i = inv(&["report", "{title}"], &[]);
        assert_eq!(render(&i, json!({"data": "x"})).args, ["report"]);
        // A flag only goes with the element just after it.
        let i = inv(&["--top", "{data}", "{title}"], &[]);
        assert_eq!(
            render(&i, json!({"data": "files/a"})).args,
            ["--top", "/work/files/a"]
        );
    }

    #[test]
    fn braces_and_flags_inside_text() {
        let i = inv(
            &["{{literal}}", "--mode={verbose?loud}", "{{{title}}}"],
            &[],
        );
        let r = render(&i, json!({"data": "x", "verbose": true, "title": "t"}));
        assert_eq!(r.args, ["{literal}", "--mode=loud", "{t}"]);
        let r = render(&i, json!({"data": "x", "verbose": false, "title": "t"}));
        assert_eq!(r.args, ["{literal}", "--mode=", "{t}"]);
    }

    #[test]
    fn folders_and_files_are_paths_in_the_sandbox() {
        let i = inv(&["{photos}", "{data}"], &[]);
        let r = render(&i, json!({"data": "files/a.csv", "photos": "files/photos"}));
        assert_eq!(r.args, ["/work/files/photos", "/work/files/a.csv"]);
    }

    #[test]
    fn stdin_gives_one_line_each_and_keeps_places() {
        let i = inv(&[], &["{top_values}", "y", "{title}", "{verbose?yes}"]);
        let r = render(&i, json!({"data": "x", "top_values": 3, "verbose": false}));
        assert_eq!(r.stdin, b"3\ny\n\n\n");
        let r = render(
            &i,
            json!({"data": "x", "title": "Q1 report", "verbose": true}),
        );
        assert_eq!(r.stdin, b"\ny\nQ1 report\nyes\n");
    }

    #[test]
    fn bad_templates_are_named() {
        let problem = |args: &[&str], stdin: &[&str]| {
            inv(args, stdin)
                .check(&schema())
                .expect_err("should be refused")
        };
        let p = problem(&["--in", "{dta}"], &[]);
        assert_eq!((p.key, p.index), ("args", 1));
        assert_eq!(
            p.message,
            "`args` element 2 (\"{dta}\"): there is no input named \"dta\"; the inputs are: \
             data, top_values, verbose, title, photos"
        );
        let p = problem(&["{data?--x}"], &[]);
        assert!(p.message.contains("needs a boolean input"), "{}", p.message);
        for bad in [
            "{Data}",
            "{}",
            "{data",
            "data}",
            "{ data }",
            "{verbose?}",
            "{a{b}}",
            "{$HOME}",
        ] {
            let p = problem(&[bad], &[]);
            assert_eq!((p.key, p.index), ("args", 0), "{bad}");
        }
        let p = problem(&[], &["ok", "two\nlines"]);
        assert_eq!((p.key, p.index), ("stdin", 1));
        assert!(p.message.contains("one line"), "{}", p.message);
        let p = problem(&[], &["{nope}"]);
        assert_eq!(p.key, "stdin");
        let too_many: Vec<&str> = vec!["x"; MAX_ELEMENTS + 1];
        assert!(problem(&too_many, &[]).message.contains("at most"));
        assert!(inv(&["{{", "}}", "plain"], &[]).check(&schema()).is_ok());
    }

    #[test]
    fn the_command_line_shows_what_may_be_left_out() {
        let i = inv(
            &[
                "--in",
                "{data}",
                "--top",
                "{top_values}",
                "{verbose?--verbose}",
                "--title={title}",
                "two words",
            ],
            &[],
        );
        assert_eq!(
            i.command_line("python main.py", &schema()),
            "python main.py --in <data> [--top <top_values>] [--verbose] [--title=<title>] 'two words'"
        );
        let mut s = schema();
        s.fields[1].default = Some(json!(3));
        assert_eq!(
            inv(&["--top", "{top_values}"], &[]).command_line("bash main.sh", &s),
            "bash main.sh --top <top_values>"
        );
        assert_eq!(inv(&[], &["{title}", "y"]).stdin_lines(), ["<title>", "y"]);
    }

    #[test]
    fn input_environment_names_and_values() {
        let inputs = json!({"data": "files/a.csv", "verbose": true, "top_values": 2, "title": "x".repeat(10)});
        // Too long for the limit: left out (still in $EXECGOV_INPUTS).
        let env = input_env(&schema(), inputs.as_object().unwrap(), "/work", 5);
        assert_eq!(
            env,
            [
                ("EXECGOV_INPUT_TOP_VALUES".to_string(), "2".to_string()),
                ("EXECGOV_INPUT_VERBOSE".to_string(), "true".to_string()),
            ]
        );
        assert_eq!(env_name("top_values"), "EXECGOV_INPUT_TOP_VALUES");
        let env = input_env(&schema(), inputs.as_object().unwrap(), "/work", 1000);
        assert_eq!(env.len(), 4);
        assert_eq!(env[0].1, "/work/files/a.csv");
    }

    #[test]
    fn globs_match_like_a_shell() {
        for (glob, path, want) in [
            ("*.xlsx", "report.xlsx", true),
            ("*.xlsx", "files/report.xlsx", false),
            ("*.xlsx", ".hidden.xlsx", false),
            (".*.xlsx", ".hidden.xlsx", true),
            ("reports/*.md", "reports/a.md", true),
            ("reports/*.md", "reports/x/a.md", false),
            ("**/*.xlsx", "report.xlsx", true),
            ("**/*.xlsx", "files/deep/report.xlsx", true),
            ("files/**/*.csv", "files/a.csv", true),
            ("data?.csv", "data1.csv", true),
            ("data?.csv", "data10.csv", false),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b", "xxaxxbxx", false),
            ("*", "a", true),
        ] {
            assert_eq!(glob_matches(glob, path), want, "{glob} ~ {path}");
        }
        for bad in [
            "",
            "/etc/*",
            "../x",
            "a//b",
            "a/./b",
            "x**",
            "[ab].csv",
            "{a,b}.csv",
            "reports/**",
            "a\\b",
        ] {
            assert!(check_glob(bad).is_err(), "{bad}");
        }
        for good in ["*.xlsx", "reports/*.md", "**/*.png", "out.txt"] {
            assert!(check_glob(good).is_ok(), "{good}");
        }
        let mut i = inv(&[], &[]);
        i.artifacts = vec!["*.xlsx".into(), "../up".into()];
        let p = i.check(&schema()).unwrap_err();
        assert_eq!((p.key, p.index), ("artifacts", 1));
    }

    #[test]
    fn serde_leaves_out_what_is_empty() {
        assert_eq!(
            serde_json::to_value(Invocation::default()).unwrap(),
            json!({})
        );
        let back: Invocation = serde_json::from_value(json!({"args": ["{data}"]})).unwrap();
        assert_eq!(back.args, ["{data}"]);
        assert!(back.stdin.is_empty() && !back.is_empty());
    }
}
