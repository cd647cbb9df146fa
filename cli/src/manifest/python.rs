//! What a Python entry point shows, read as text: its inputs (argparse, `sys.argv`, `input()`,
//! `$EXECGOV_INPUTS`), its name, its imports and the files it writes.

use std::collections::BTreeSet;

use super::guess::{PathRole, Usage};
use super::readme::as_title;
use super::writes::Access;
use super::{code_matches, input_name, Input, Literal, Via};

mod arguments;
mod files;
mod prompts;

use arguments::{argparse_inputs, argv_inputs, click_inputs};
use files::usage;
pub(super) use files::{reads, writes};
use prompts::{asks_in_a_loop, prompt_inputs};

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

/// The variable the expression at `at` is assigned to: `NAME = EXPR`, or `NAME = int(EXPR…`
/// with one conversion around it; not when EXPR is only part of the value
/// (`df = read_csv(EXPR)`).
fn assigned_at(src: &str, at: usize) -> Option<&str> {
    const CONVERSIONS: &[&str] = &[
        "int(",
        "float(",
        "str(",
        "Path(",
        "pathlib.Path(",
        "os.path.abspath(",
        "os.path.expanduser(",
    ];
    let start = src[..at].rfind('\n').map_or(0, |n| n + 1);
    let (lhs, between) = src[start..at].split_once('=')?;
    let lhs = lhs.trim();
    let between = between.trim();
    let direct = between.is_empty() || CONVERSIONS.contains(&between);
    (is_identifier(lhs) && direct).then_some(lhs)
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
    for input in &mut inputs {
        if input.type_guessed && input.via != Via::Inputs {
            // `arg2` stands for `sys.argv[2]` itself.
            let variable = match (&input.via, input.name.strip_prefix("arg")) {
                (Via::Argument { position, .. }, Some(n)) if n == position.to_string() => {
                    format!("sys.argv[{position}]")
                }
                _ => input.name.clone(),
            };
            input.used_as = usage(src, &variable);
            // `float(valor)` later on: a number.
            if let Some(kind) = converted(src, &variable) {
                if input.kind == "string" && input.choices.is_empty() {
                    (input.kind, input.type_guessed) = (kind, false);
                }
            }
        }
    }
    inputs
}

/// Whether an expression is the variable `name` itself or an attribute `x.name` (`args.top`).
fn is_named(expr: &str, name: &str) -> bool {
    let e = expr.trim();
    e == name
        || e.strip_suffix(name)
            .and_then(|r| r.strip_suffix('.'))
            .is_some_and(is_identifier)
}

/// The type the script converts the variable (or `args.NAME`) `name` to: `int(name)` an
/// integer, `float(name)` a number.
fn converted(src: &str, name: &str) -> Option<&'static str> {
    [("int", "integer"), ("float", "number")]
        .iter()
        .find(|(call, _)| {
            calls(src, call).any(|at| {
                args_of(src, at, call)
                    .and_then(|args| split_args(args).first().copied())
                    .is_some_and(|arg| is_named(arg, name))
            })
        })
        .map(|(_, kind)| *kind)
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

#[cfg(test)]
mod tests;
