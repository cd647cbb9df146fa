//! What a Python entry point shows, read as text: its inputs (argparse, `sys.argv`, `input()`,
//! `$EXECGOV_INPUTS`), its name, its imports and the files it writes.

use std::collections::BTreeSet;

use super::readme::as_title;
use super::writes::Written;
use super::{code_matches, input_name, Input, Literal, Via};

/// A Python string literal at the start of `s` (after spaces): its value and the bytes used.
/// f-strings and concatenations are not literals here.
fn python_string(s: &str) -> Option<(String, usize)> {
    string_at(s, false)
}

/// A string literal or f-string at the start of `s`: its text, with each `{…}` field of an
/// f-string shown as `*`, and the bytes used. For paths the script builds.
fn string_text(s: &str) -> Option<(String, usize)> {
    string_at(s, true)
}

fn string_at(s: &str, formatted: bool) -> Option<(String, usize)> {
    let start = s.len() - s.trim_start().len();
    let rest = &s[start..];
    let prefix = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
    let prefix_text = rest[..prefix].to_ascii_lowercase();
    let fields = prefix_text.contains('f');
    let allowed = match prefix_text.as_str() {
        "" | "r" | "u" => true,
        "f" | "rf" | "fr" | "b" | "rb" | "br" => formatted,
        _ => false,
    };
    if !allowed {
        return None;
    }
    let raw = prefix_text.contains('r');
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
            let value = if fields { star_fields(&value) } else { value };
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
    scrub(text, false)
}

/// The text with strings and comments blanked out (lines kept), for reading statements.
fn code_only(src: &str) -> String {
    scrub(src, true)
}

/// The text without comments, and with each string as `""` (its line breaks kept) when
/// `blank_strings`.
fn scrub(text: &str, blank_strings: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        match c {
            '"' | '\'' => {
                if let Some((_, used)) = python_string(&text[i..]) {
                    let literal = &text[i..i + used];
                    if blank_strings {
                        out.push_str("\"\"");
                        out.extend(literal.chars().filter(|c| *c == '\n'));
                    } else {
                        out.push_str(literal);
                    }
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

/// Offsets of calls of `name(`: a method (`.save`) on anything; a function or dotted name not
/// the tail of a longer one (`x.open(` and `raw_input(` are not `open(` and `input(`), except
/// that a class (`ExcelWriter`) may come from its module (`pd.ExcelWriter(`).
fn calls<'a>(src: &'a str, name: &'a str) -> impl Iterator<Item = usize> + 'a {
    code_matches(src, "(").filter_map(move |open| {
        let at = open.checked_sub(name.len())?;
        if !src[..open].ends_with(name) {
            return None;
        }
        if name.starts_with('.') {
            return Some(at);
        }
        let class = name.starts_with(|c: char| c.is_ascii_uppercase());
        match src[..at].chars().next_back() {
            Some('.') if class => Some(at),
            Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '.' => None,
            _ => Some(at),
        }
    })
}

/// An f-string's text with each `{…}` field as `*` (`{{` and `}}` are braces).
fn star_fields(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if depth == 0 && chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if depth == 0 && chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                if depth == 0 {
                    out.push('*');
                }
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// The text between the parentheses of the call at `at` (which starts with `name`).
fn args_of<'a>(src: &'a str, at: usize, name: &str) -> Option<&'a str> {
    call_args(src, at + name.len())
}

/// 1-based line of a byte offset.
fn line_at(src: &str, at: usize) -> usize {
    src[..at].matches('\n').count() + 1
}

/// The whole line around a byte offset.
fn line_around(src: &str, at: usize) -> &str {
    let start = src[..at].rfind('\n').map_or(0, |n| n + 1);
    let end = src[at..].find('\n').map_or(src.len(), |n| at + n);
    &src[start..end]
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variable a line assigns to, when it is `NAME = …`.
fn assigned(line: &str) -> Option<&str> {
    let (lhs, rhs) = line.split_once('=')?;
    let lhs = lhs.trim();
    (is_identifier(lhs) && !rhs.starts_with('=')).then_some(lhs)
}

/// The inputs main.py takes, in the order it takes them: command-line arguments (argparse or
/// optparse, click, or else `sys.argv`), then keyboard prompts, then `$EXECGOV_INPUTS` reads.
pub(super) fn inputs(src: &str) -> Vec<Input> {
    let mut inputs = argparse_inputs(src);
    if inputs.is_empty() {
        inputs = click_inputs(src);
    }
    if inputs.is_empty() {
        inputs = argv_inputs(src);
    }
    inputs.extend(prompt_inputs(src));
    inputs.extend(json_inputs(src));
    inputs
}

/// The arguments of a call that declares an option (`add_argument`, `add_option`,
/// `click.option`): its string arguments (flags, names) and keyword arguments, as text.
struct Declaration {
    strings: Vec<String>,
    keywords: Vec<(String, String)>,
}

impl Declaration {
    /// The declaration whose argument list opens at `open`.
    fn at(src: &str, open: usize) -> Option<Declaration> {
        let args = without_comments(call_args(src, open)?);
        let mut declaration = Declaration {
            strings: Vec::new(),
            keywords: Vec::new(),
        };
        for part in split_args(&args) {
            if let Some((key, value)) = keyword(part) {
                declaration.keywords.push((key.into(), value.into()));
            } else if let Some(Literal::Str(s)) = python_literal(part) {
                declaration.strings.push(s);
            }
        }
        Some(declaration)
    }

    fn kw(&self, name: &str) -> Option<&str> {
        self.keywords
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn kw_str(&self, name: &str) -> Option<String> {
        match self.kw(name).and_then(python_literal) {
            Some(Literal::Str(s)) => Some(s),
            _ => None,
        }
    }

    fn kw_is_true(&self, name: &str) -> bool {
        self.kw(name) == Some("True")
    }

    /// The long flag (`--top`), or else the first flag.
    fn flag(&self) -> Option<String> {
        let flags: Vec<&String> = self.strings.iter().filter(|s| s.starts_with('-')).collect();
        flags
            .iter()
            .find(|f| f.starts_with("--"))
            .or(flags.first())
            .map(|f| f.to_string())
    }
}

/// The plain values of a list or tuple literal (`["a", "b"]`, `(1, 2)`); empty when any
/// item is not a plain string or integer.
fn list_literal(text: &str) -> Vec<String> {
    let t = text.trim();
    if !(t.starts_with('[') || t.starts_with('(')) || t.len() < 2 {
        return Vec::new();
    }
    split_args(&t[1..t.len() - 1])
        .into_iter()
        .map(|item| match python_literal(item)? {
            Literal::Str(s) => Some(s),
            Literal::Int(n) => Some(n.to_string()),
            _ => None,
        })
        .collect::<Option<Vec<String>>>()
        .unwrap_or_default()
}

/// Whether a file type's mode (`FileType('w')`, `click.File("a")`) writes.
fn writing_mode(type_text: &str, constructor: &str) -> bool {
    let mode = type_text
        .split_once(constructor)
        .and_then(|(_, rest)| split_args(rest.trim_end_matches(')')).first().copied())
        .and_then(python_literal);
    matches!(&mode, Some(Literal::Str(m)) if m.contains(['w', 'a', 'x']))
}

/// An input for a path the script writes to: settled later like an untyped one whose help
/// says so (a default under `output/`).
fn written_path(mut input: Input) -> Input {
    (input.kind, input.type_guessed) = ("string", true);
    input.description = Some(format!(
        "{} (the file the script writes)",
        input.description.as_deref().unwrap_or("Output file")
    ));
    input
}

/// argparse `add_argument(...)` and optparse `add_option(...)`, in the order declared.
fn argparse_inputs(src: &str) -> Vec<Input> {
    let mut calls: Vec<(usize, &str)> = ["add_argument", "add_option"]
        .iter()
        .flat_map(|name| {
            code_matches(src, &format!("{name}("))
                .map(move |at| (at, *name))
                .collect::<Vec<_>>()
        })
        .collect();
    calls.sort();
    let mut inputs = Vec::new();
    let mut positional = 0;
    for (at, call) in calls {
        let Some(d) = Declaration::at(src, at + call.len()) else {
            continue;
        };
        let Some(first) = d.strings.first().cloned() else {
            continue;
        };
        let flag = d.flag().unwrap_or(first);
        let option = flag.starts_with('-');
        let action = d.kw_str("action").unwrap_or_default();
        if matches!(action.as_str(), "help" | "version") {
            continue;
        }
        let switch = matches!(
            action.as_str(),
            "store_true" | "store_false" | "store_const" | "count"
        );
        // `--no-color` (store_false, dest "color") is ticked to pass `--no-color`: the input
        // is named after what ticking it does.
        let named_by = match d.kw_str("dest") {
            Some(dest) if action != "store_false" => dest,
            _ => flag.clone(),
        };
        let Some(name) = input_name(&named_by).filter(|n| n != "help") else {
            continue;
        };
        let choices = d.kw("choices").map(list_literal).unwrap_or_default();
        // optparse spells types as strings: type="int".
        let type_name = d.kw("type").unwrap_or("").trim_matches(['"', '\'']);
        let via = if switch {
            Via::Switch { flag: flag.clone() }
        } else if option {
            Via::Argument {
                flag: Some(flag.clone()),
                position: 0,
            }
        } else {
            positional += 1;
            Via::Argument {
                flag: None,
                position: positional,
            }
        };
        let mut input = Input::seen(name, via, format!("{call}({flag:?}) in main.py"));
        input.description = d.kw_str("help");
        input.default = (!switch)
            .then(|| d.kw("default").and_then(python_literal))
            .flatten();
        let nargs = d.kw_str("nargs").unwrap_or_default();
        input.required = if option {
            d.kw_is_true("required")
        } else {
            !matches!(nargs.as_str(), "?" | "*")
        };
        let typed = |input: &mut Input, kind| (input.kind, input.type_guessed) = (kind, false);
        if switch {
            typed(&mut input, "boolean");
        } else if !choices.is_empty() {
            typed(&mut input, "enum");
            input.choices = choices;
        } else if type_name == "int" {
            typed(&mut input, "integer");
        } else if type_name == "float" {
            typed(&mut input, "number");
        } else if type_name.contains("FileType(") {
            if writing_mode(type_name, "FileType(") {
                input = written_path(input);
            } else {
                typed(&mut input, "file");
                input.default = None;
            }
        }
        inputs.push(input);
    }
    inputs
}

/// click's `@click.argument(...)` and `@click.option(...)` decorators, in the order written.
fn click_inputs(src: &str) -> Vec<Input> {
    let bare = src.contains("from click import");
    let mut calls: Vec<(usize, &str)> = Vec::new();
    for name in ["click.argument", "click.option", "argument", "option"] {
        if !name.starts_with("click.") && !bare {
            continue;
        }
        for at in code_matches(src, &format!("@{name}(")) {
            calls.push((at + 1, name));
        }
    }
    calls.sort();
    let mut inputs = Vec::new();
    let mut positional = 0;
    for (at, call) in calls {
        let Some(d) = Declaration::at(src, at + call.len()) else {
            continue;
        };
        let argument = call.ends_with("argument");
        // `--shout/--no-shout`: ticking passes `--shout`.
        let flag = d
            .flag()
            .map(|f| f.split('/').next().unwrap_or("").trim().to_string());
        let explicit = d.strings.iter().find(|s| !s.starts_with('-')).cloned();
        let named_by = if argument {
            explicit
        } else {
            explicit.or(flag.clone())
        };
        let Some(name) = named_by
            .as_deref()
            .and_then(input_name)
            .filter(|n| n != "help")
        else {
            continue;
        };
        let type_text = d.kw("type").unwrap_or("");
        let switch = !argument
            && (d.kw_is_true("is_flag")
                || d.kw_is_true("count")
                || d.strings
                    .iter()
                    .any(|s| s.starts_with('-') && s.contains('/')));
        let via = if argument {
            positional += 1;
            Via::Argument {
                flag: None,
                position: positional,
            }
        } else if switch {
            Via::Switch {
                flag: flag.clone().unwrap_or_default(),
            }
        } else {
            Via::Argument {
                flag: flag.clone(),
                position: 0,
            }
        };
        let shown = format!(
            "{call}({:?}) in main.py",
            if argument {
                name.clone()
            } else {
                flag.clone().unwrap_or_default()
            }
        );
        let mut input = Input::seen(name, via, shown);
        input.description = d.kw_str("help");
        input.default = (!switch)
            .then(|| d.kw("default").and_then(python_literal))
            .flatten();
        input.required = if argument {
            d.kw("required") != Some("False") && d.kw("nargs") != Some("-1")
        } else {
            d.kw_is_true("required")
        };
        let typed = |input: &mut Input, kind| (input.kind, input.type_guessed) = (kind, false);
        let choices = type_text
            .split_once("Choice(")
            .map(|(_, rest)| {
                let rest = rest.strip_suffix(')').unwrap_or(rest);
                list_literal(split_args(rest).first().copied().unwrap_or(""))
            })
            .unwrap_or_default();
        if switch {
            typed(&mut input, "boolean");
        } else if !choices.is_empty() {
            typed(&mut input, "enum");
            input.choices = choices;
        } else if matches!(type_text, "int" | "click.INT") || type_text.contains("IntRange(") {
            typed(&mut input, "integer");
        } else if matches!(type_text, "float" | "click.FLOAT") || type_text.contains("FloatRange(")
        {
            typed(&mut input, "number");
        } else if type_text.contains("File(") {
            if writing_mode(type_text, "File(") {
                input = written_path(input);
            } else {
                typed(&mut input, "file");
            }
        } else if type_text.contains("Path(") {
            if type_text.contains("writable=True") {
                input = written_path(input);
            } else if type_text.contains("file_okay=False") {
                typed(&mut input, super::guess::folder_kind());
            } else if type_text.contains("exists=True") {
                typed(&mut input, "file");
            }
        }
        inputs.push(input);
    }
    inputs
}

/// `sys.argv[1]`, `int(sys.argv[2])`, `sys.argv[1:]`, `_, a, b = sys.argv`: positional
/// arguments, named after the variable they are assigned to.
fn argv_inputs(src: &str) -> Vec<Input> {
    let argv = if src.contains("from sys import argv") {
        "argv"
    } else {
        "sys.argv"
    };
    let mut found: Vec<(usize, Input)> = Vec::new();
    let mut add = |position: usize, input: Input| {
        if !found.iter().any(|(p, _)| *p == position) {
            found.push((position, input));
        }
    };
    for at in code_matches(src, argv) {
        let before_ok = src[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
        if !before_ok {
            continue;
        }
        let rest = &src[at + argv.len()..];
        let line = line_around(src, at).trim();
        if rest.starts_with('[') {
            let Some(close) = rest.find(']') else {
                continue;
            };
            let index = rest[1..close].trim();
            let (position, tail) = match index.split_once(':') {
                Some((from, to)) if to.trim().is_empty() => (from.trim(), true),
                Some(_) => continue,
                None => (index, false),
            };
            let Ok(position) = position.parse::<usize>() else {
                continue;
            };
            if position == 0 {
                continue;
            }
            let shown = format!("{argv}[{index}] in main.py");
            let mut name = assigned(line).and_then(input_name);
            if tail && name.is_none() {
                // `for path in sys.argv[1:]:`
                name = line
                    .strip_prefix("for ")
                    .and_then(|l| l.split_once(" in "))
                    .and_then(|(var, _)| input_name(var.trim()));
            }
            let name = name.unwrap_or_else(|| {
                if tail {
                    "args".to_string()
                } else {
                    format!("arg{position}")
                }
            });
            let mut input = Input::seen(
                name,
                Via::Argument {
                    flag: None,
                    position,
                },
                shown,
            );
            let expr = line.split_once('=').map_or(line, |(_, r)| r.trim());
            if expr.starts_with("int(") {
                (input.kind, input.type_guessed) = ("integer", false);
            } else if expr.starts_with("float(") {
                (input.kind, input.type_guessed) = ("number", false);
            }
            // `x = sys.argv[2] if len(sys.argv) > 2 else "out.csv"`
            if expr.contains("len(") {
                if let Some((_, fallback)) = expr.rsplit_once(" else ") {
                    input.default = python_literal(fallback);
                    input.required = false;
                }
            }
            add(position, input);
        } else if rest.trim_start().is_empty() || rest.starts_with('\n') || rest.starts_with(' ') {
            // `script, source, target = sys.argv`
            let Some((lhs, rhs)) = line.split_once('=') else {
                continue;
            };
            if rhs.trim() != argv {
                continue;
            }
            for (position, var) in lhs.split(',').map(str::trim).enumerate().skip(1) {
                if let Some(name) = input_name(var) {
                    let shown = format!("{} = {argv} in main.py", lhs.trim());
                    add(
                        position,
                        Input::seen(
                            name,
                            Via::Argument {
                                flag: None,
                                position,
                            },
                            shown,
                        ),
                    );
                }
            }
        }
    }
    found.sort_by_key(|(p, _)| *p);
    found.into_iter().map(|(_, i)| i).collect()
}

/// Words of a prompt that say nothing about what it asks for.
const PROMPT_FILLER: &[&str] = &[
    "enter", "please", "type", "input", "the", "a", "an", "your", "of", "to", "for", "in", "you",
    "want", "do", "would", "like", "what", "is", "which", "provide", "give", "me", "y", "n", "yes",
    "no", "and", "or", "press", "here", "new",
];

/// A name for what a prompt asks ("Enter the folder path: " → `folder_path`).
fn name_of_prompt(prompt: &str) -> Option<String> {
    let words: Vec<String> = prompt
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase())
        .filter(|w| !PROMPT_FILLER.contains(&w.as_str()))
        .take(3)
        .collect();
    input_name(&words.join("_"))
}

/// `x = input("Prompt: ")`, `n = int(input("How many? "))`, `if input("Continue? (y/n) ")…`:
/// one line of standard input each, in the order they appear.
fn prompt_inputs(src: &str) -> Vec<Input> {
    let mut inputs = Vec::new();
    // Without a terminal, getpass reads standard input too.
    let prompts = ["input", "raw_input", "getpass.getpass", "getpass"];
    let found: Vec<(usize, &str)> = prompts
        .iter()
        .flat_map(|call| calls(src, call).map(move |at| (at, *call)))
        .collect();
    for (at, call) in found {
        let line = line_around(src, at).trim();
        if line.starts_with("def ") {
            continue;
        }
        let Some(args) = args_of(src, at, call) else {
            continue;
        };
        let prompt = split_args(args)
            .first()
            .and_then(|a| string_text(a))
            .map(|(text, _)| text.replace('*', "").trim().to_string())
            .unwrap_or_default();
        let name = assigned(line)
            .and_then(input_name)
            .or_else(|| name_of_prompt(&prompt))
            .unwrap_or_else(|| "answer".to_string());
        let shown = format!(
            "{call}({}) on line {} of main.py",
            args.trim(),
            line_at(src, at)
        );
        let mut input = Input::seen(name, Via::Stdin, shown);
        let expr = line.split_once('=').map_or(line, |(_, r)| r.trim());
        let lower = prompt.to_ascii_lowercase();
        if expr.starts_with("int(") {
            (input.kind, input.type_guessed) = ("integer", false);
        } else if expr.starts_with("float(") {
            (input.kind, input.type_guessed) = ("number", false);
        } else if lower.contains("yes/no") {
            (input.kind, input.type_guessed) = ("enum", false);
            input.choices = vec!["yes".into(), "no".into()];
        } else if lower.contains("y/n") {
            (input.kind, input.type_guessed) = ("enum", false);
            input.choices = vec!["y".into(), "n".into()];
        }
        let described = prompt.trim_end_matches([':', '>', ' ']).trim().to_string();
        input.description = (!described.is_empty()).then_some(described);
        inputs.push(input);
    }
    inputs.sort_by_key(|i| {
        // The order of the calls in the file.
        i.found
            .rsplit_once(" on line ")
            .and_then(|(_, l)| l.split(' ').next()?.parse::<usize>().ok())
            .unwrap_or(0)
    });
    inputs
}

/// What a draft cannot express, for the person reading it: prompts in a loop, subcommands.
pub(super) fn notes(src: &str) -> Vec<String> {
    let mut notes = Vec::new();
    if asks_in_a_loop(src) {
        notes.push(
            "main.py calls input() in a loop: `stdin` answers each prompt once, then the \
             script reads end of file; add lines to `stdin` if it asks more often."
                .into(),
        );
    }
    if code_matches(src, "add_subparsers(").next().is_some()
        || code_matches(src, "@click.group(").next().is_some()
    {
        notes.push(
            "main.py has subcommands: `args` lists the options of all of them; put the \
             subcommand's name first and keep only its options."
                .into(),
        );
    }
    notes
}

/// Whether an `input()` call sits inside a `while` or `for` loop (judged by indentation).
fn asks_in_a_loop(src: &str) -> bool {
    let lines: Vec<&str> = src.lines().collect();
    calls(src, "input").any(|at| {
        let index = line_at(src, at) - 1;
        let indent = |l: &str| l.len() - l.trim_start().len();
        let mut level = indent(lines[index]);
        for line in lines[..index].iter().rev() {
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if indent(line) < level {
                level = indent(line);
                if t.starts_with("while ") || t.starts_with("for ") {
                    return true;
                }
            }
        }
        false
    })
}

/// Reads of the inputs object: `x["key"]`, `x.get("key")`, `x.get("key", default)`, where `x`
/// was assigned from `json.load(…)` or has "input" in its name.
fn json_inputs(src: &str) -> Vec<Input> {
    if !src.contains("EXECGOV_INPUTS") && !src.contains("inputs.json") {
        return Vec::new();
    }
    let mut objects = BTreeSet::new();
    for line in src.lines() {
        let t = line.trim();
        if let Some((lhs, rhs)) = t.split_once('=') {
            let lhs = lhs.trim();
            if rhs.trim_start().starts_with("json.load") && is_identifier(lhs) {
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
                    _ => ("string", true),
                };
                let shown = if pattern.ends_with('[') {
                    format!("{object}[{key:?}] in main.py")
                } else {
                    format!("{object}.get({}) in main.py", parts.join(", "))
                };
                let mut input = Input::seen(name, Via::Inputs, shown);
                (input.kind, input.type_guessed) = (kind, type_guessed);
                input.required = !has_default;
                input.default = default;
                found.push((at, input));
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
// The name and the description

/// The module docstring: the first statement, when it is a string.
fn docstring(src: &str) -> Option<String> {
    let mut rest = src.trim_start_matches('\u{feff}');
    loop {
        let t = rest.trim_start();
        if t.starts_with('#') {
            rest = t.split_once('\n').map_or("", |(_, r)| r);
        } else {
            rest = t;
            break;
        }
    }
    python_string(rest).map(|(text, _)| text)
}

/// `description=` of `argparse.ArgumentParser(…)`, or else its `prog=` unless a file name.
fn parser_text(src: &str, key: &str) -> Option<String> {
    let at = code_matches(src, "ArgumentParser(").next()?;
    let args = call_args(src, at + "ArgumentParser".len())?;
    split_args(args)
        .into_iter()
        .find_map(|part| match keyword(part) {
            Some((k, v)) if k == key => {
                python_literal(v).and_then(|l| l.as_str().map(String::from))
            }
            _ => None,
        })
}

/// The skill's name as the script gives it: the docstring's first line, the parser's
/// description, or its `prog`, when they read like a title.
pub(super) fn title(src: &str) -> Option<String> {
    let first_line = |text: String| {
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(String::from)
    };
    docstring(src)
        .and_then(first_line)
        .and_then(|l| as_title(&l))
        .or_else(|| {
            parser_text(src, "description")
                .and_then(first_line)
                .and_then(|l| as_title(&l))
        })
        .or_else(|| {
            parser_text(src, "prog")
                .filter(|p| !p.contains('.'))
                .and_then(|p| as_title(&p.replace(['-', '_'], " ")))
        })
}

/// A description from the script, when the README has none: the docstring's first paragraph
/// or the parser's description.
pub(super) fn about(src: &str) -> Option<String> {
    let paragraph = |text: String| {
        let joined = text
            .trim()
            .split("\n\n")
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        (!joined.is_empty()).then_some(joined)
    };
    docstring(src)
        .and_then(paragraph)
        .or_else(|| parser_text(src, "description").and_then(paragraph))
}

// ---------------------------------------------------------------------------------------------
// Imports

/// The top-level modules a file imports (`import a.b as c, d` → a, d; `from e.f import g` →
/// e), with the line of their first import; relative imports are the folder's own.
pub(super) fn imports(src: &str) -> Vec<(String, usize)> {
    let mut found: Vec<(String, usize)> = Vec::new();
    for (index, line) in code_only(src).lines().enumerate() {
        for statement in line.split(';').map(str::trim) {
            let modules: Vec<&str> = if let Some(rest) = statement.strip_prefix("import ") {
                rest.split(',')
                    .map(|m| m.split_whitespace().next().unwrap_or(""))
                    .collect()
            } else if let Some(rest) = statement.strip_prefix("from ") {
                rest.split_whitespace().next().into_iter().collect()
            } else {
                continue;
            };
            for module in modules {
                let top = module.split('.').next().unwrap_or("");
                if is_identifier(top) && top != "__future__" && !found.iter().any(|(m, _)| m == top)
                {
                    found.push((top.to_string(), index + 1));
                }
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Files written

/// Calls that write the file named by an argument: (call, which argument, keyword names).
const WRITERS: &[(&str, usize, &[&str])] = &[
    (".to_excel", 0, &["excel_writer"]),
    (".to_csv", 0, &["path_or_buf"]),
    (".to_json", 0, &["path_or_buf"]),
    (".to_html", 0, &["buf"]),
    (".to_parquet", 0, &["path"]),
    (".to_markdown", 0, &["buf"]),
    (".to_pickle", 0, &["path"]),
    (".to_xml", 0, &["path_or_buffer"]),
    (".savefig", 0, &["fname"]),
    (".save", 0, &["filename", "fp"]),
    (".output", 0, &["name"]),
    (".write_pdf", 0, &["target"]),
    ("ExcelWriter", 0, &["path"]),
    ("xlsxwriter.Workbook", 0, &["filename"]),
    ("Canvas", 0, &["filename"]),
    ("shutil.copy", 1, &["dst"]),
    ("shutil.copy2", 1, &["dst"]),
    ("shutil.copyfile", 1, &["dst"]),
    ("shutil.move", 1, &["dst"]),
    ("os.rename", 1, &["dst"]),
    ("os.replace", 1, &["dst"]),
    ("os.makedirs", 0, &["name"]),
    ("os.mkdir", 0, &["path"]),
];

/// The path an expression names, as far as the text shows: a literal, an f-string (fields as
/// `*`), `os.path.join(…)`, `Path(…)`, the home folder (`~`), or a variable assigned one of
/// these; `None` for anything else.
fn path_of(src: &str, expr: &str, depth: usize) -> Option<String> {
    let e = expr.trim();
    if let Some((text, used)) = string_text(e) {
        return (used == e.len()).then_some(text);
    }
    if e.contains("expanduser(") || e.contains("Path.home()") || e.contains("\"HOME\"") {
        let inner: Vec<String> = literals_in(e)
            .into_iter()
            .filter(|t| !t.is_empty() && t != "~" && t != "HOME")
            .map(|t| t.trim_start_matches("~/").to_string())
            .collect();
        return Some(if inner.is_empty() {
            "~".into()
        } else {
            format!("~/{}", inner.join("/"))
        });
    }
    for wrapper in [
        "os.path.join(",
        "Path(",
        "pathlib.Path(",
        "os.path.abspath(",
    ] {
        if let Some(args) = e.strip_prefix(wrapper).and_then(|r| r.strip_suffix(')')) {
            let parts: Vec<String> = split_args(args)
                .into_iter()
                .map(|p| path_of(src, p, depth + 1).unwrap_or_else(|| "*".into()))
                .collect();
            return (!parts.is_empty()).then(|| parts.join("/").replace("//", "/"));
        }
    }
    if depth < 2 && is_identifier(e) {
        // `OUTPUT = "/home/me/report.xlsx"` near the top, used later.
        return src.lines().find_map(|line| {
            let line = line.trim();
            let (lhs, rhs) = line.split_once('=')?;
            (lhs.trim() == e && !rhs.starts_with('='))
                .then(|| path_of(src, rhs, depth + 1))
                .flatten()
        });
    }
    None
}

/// The texts of the string literals in an expression, in order.
fn literals_in(expr: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < expr.len() {
        let rest = &expr[i..];
        let quote_at = rest.find(['"', '\'']).unwrap_or(rest.len());
        // Include a prefix such as f or r just before the quote.
        let start = rest[..quote_at]
            .rfind(|c: char| !c.is_ascii_alphabetic())
            .map_or(0, |n| n + 1);
        match string_text(&rest[start..]) {
            Some((text, used)) if quote_at < rest.len() => {
                found.push(text);
                i += start + used;
            }
            _ => i += quote_at + 1,
        }
    }
    found
}

/// The files main.py visibly writes: `open(…, "w")` and the usual writers (pandas, matplotlib,
/// openpyxl, fpdf, reportlab, shutil), with the path as far as the text shows it.
pub(super) fn writes(src: &str) -> Vec<Written> {
    let mut written = Vec::new();
    let mut note = |at: usize, call: &str, path: Option<String>| {
        if let Some(path) = path {
            written.push(Written {
                path,
                line: line_at(src, at),
                call: call.trim_start_matches('.').to_string(),
            });
        }
    };
    for name in ["open", "io.open", "codecs.open"] {
        for at in calls(src, name) {
            let Some(args) = args_of(src, at, name) else {
                continue;
            };
            let parts = split_args(args);
            let mode = parts
                .iter()
                .find_map(|p| keyword(p).filter(|(k, _)| *k == "mode").map(|(_, v)| v))
                .or_else(|| parts.get(1).copied().filter(|p| keyword(p).is_none()))
                .and_then(python_literal);
            let writing =
                matches!(&mode, Some(Literal::Str(m)) if m.contains(['w', 'a', 'x', '+']));
            if writing {
                note(at, name, parts.first().and_then(|p| path_of(src, p, 0)));
            }
        }
    }
    for (name, index, keywords) in WRITERS {
        for at in calls(src, name) {
            let Some(args) = args_of(src, at, name) else {
                continue;
            };
            let parts = split_args(args);
            let by_keyword = parts.iter().find_map(|p| {
                keyword(p)
                    .filter(|(k, _)| keywords.contains(k))
                    .map(|(_, v)| v)
            });
            let positional: Vec<&str> = parts
                .iter()
                .copied()
                .filter(|p| keyword(p).is_none())
                .collect();
            let arg = by_keyword.or_else(|| positional.get(*index).copied());
            note(at, name, arg.and_then(|a| path_of(src, a, 0)));
        }
    }
    written.sort_by_key(|w| w.line);
    written
}

#[cfg(test)]
mod tests;
