//! Command-line arguments: argparse and optparse declarations, click decorators, `sys.argv`.

use super::*;

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
pub(super) fn list_literal(text: &str) -> Vec<String> {
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
pub(super) fn argparse_inputs(src: &str) -> Vec<Input> {
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
pub(super) fn click_inputs(src: &str) -> Vec<Input> {
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
                typed(&mut input, crate::manifest::guess::folder_kind());
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
pub(super) fn argv_inputs(src: &str) -> Vec<Input> {
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
            let mut name = assigned_at(src, at).and_then(input_name);
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
