//! What a shell entry point shows, read as text: its inputs (`getopts`, `$1`…`$9`, `"$@"`,
//! `read` prompts, `jq` reads of `$EXECGOV_INPUTS`), its name and the files it writes.

use super::guess::{PathRole, Usage};
use super::readme::as_title;
use super::writes::Access;
use super::{code_matches, input_name, Input, Literal, Via};

mod options;

use options::{case_inputs, getopts_inputs, without_case_loop};

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The script without the bodies of functions that the script does not hand its own
/// arguments to: in `usage() { echo "$1"; }` `$1` is the function's, in
/// `main() { … }; main "$@"` it is the script's. Lines are kept, so line numbers hold.
fn script_level(src: &str) -> String {
    let lines: Vec<&str> = src.lines().collect();
    let forwarded = |name: &str| {
        lines.iter().any(|l| {
            let t = l.trim();
            t.starts_with(name) && t[name.len()..].trim_start().starts_with("\"$@\"")
        })
    };
    let mut out = Vec::with_capacity(lines.len());
    let mut skipping: Option<usize> = None;
    for line in &lines {
        let t = line.trim();
        let indent = line.len() - line.trim_start().len();
        if let Some(level) = skipping {
            out.push(String::new());
            if t.starts_with('}') && indent <= level {
                skipping = None;
            }
            continue;
        }
        let name = t
            .strip_prefix("function ")
            .map(|r| r.split(['(', ' ', '{']).next().unwrap_or(""))
            .or_else(|| t.split_once("()").map(|(n, _)| n.trim()))
            .filter(|n| is_identifier(n));
        match name {
            Some(name) if !t.contains('}') && !forwarded(name) => {
                skipping = Some(indent);
                out.push(String::new());
            }
            _ => out.push(without_single_quotes(line)),
        }
    }
    out.join("\n")
}

/// A line without the text of its single-quoted strings (`awk '{print $1}'` is awk's `$1`).
fn without_single_quotes(line: &str) -> String {
    let mut out = String::new();
    let mut single = false;
    let mut double = false;
    for c in line.chars() {
        match c {
            '\'' if !double => {
                single = !single;
                out.push(c);
            }
            '"' if !single => {
                double = !double;
                out.push(c);
            }
            _ if single => {}
            _ => out.push(c),
        }
    }
    out
}

/// The inputs main.sh takes: positional arguments and `getopts` options (as `args`), `read`
/// prompts (as `stdin`), `jq` reads of `$EXECGOV_INPUTS`.
pub(super) fn inputs(src: &str) -> Vec<Input> {
    let top = script_level(src);
    let options = case_inputs(&top);
    // `$1` and `$2` inside an option loop are the options, not positional arguments.
    let mut inputs = if options.is_empty() {
        positional_inputs(&top)
    } else {
        positional_inputs(&without_case_loop(&top))
    };
    inputs.extend(options);
    inputs.extend(getopts_inputs(&top));
    inputs.extend(read_inputs(src));
    inputs.extend(jq_inputs(src));
    for input in &mut inputs {
        if input.type_guessed && input.via != Via::Inputs {
            // `arg2` stands for `$2` itself.
            let variable = input
                .name
                .strip_prefix("arg")
                .filter(|n| n.parse::<u8>().is_ok())
                .unwrap_or(&input.name)
                .to_string();
            input.used_as = usage(src, &variable).map(Usage::of);
        }
    }
    inputs
}

/// The words of each command line (comments out), with its 1-based number.
fn command_lines(src: &str) -> impl Iterator<Item = (usize, Vec<String>)> + '_ {
    src.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .map(|(i, l)| (i + 1, shell_words(l.trim())))
}

/// Whether the word at `index`, after `previous`, is a command's name.
fn starts_command(index: usize, previous: &str) -> bool {
    index == 0 || [";", "|", "&&", "||", "then", "do", "if", "!"].contains(&previous)
}

/// Fixed paths main.sh reads: arguments of `cat`, `grep`, `find`, `cd`… and `< file`, with a
/// variable replaced by the value it was given (`log="/var/log/x.log"` … `cat "$log"`).
pub(super) fn reads(src: &str) -> Vec<Access> {
    let mut read = Vec::new();
    for (line, words) in command_lines(src) {
        let mut command = "";
        for (i, word) in words.iter().enumerate() {
            let previous = if i > 0 { words[i - 1].as_str() } else { "" };
            if starts_command(i, previous) {
                command = word;
                continue;
            }
            if [";", "|", "&&", "||"].contains(&word.as_str()) {
                continue;
            }
            let reading = previous == "<"
                || FILE_COMMANDS.contains(&command)
                || FOLDER_COMMANDS.contains(&command);
            // Options, redirections and what they redirect to are not read.
            let redirect = |w: &str| {
                w.trim_start_matches(|c: char| c.is_ascii_digit())
                    .starts_with(['>', '<', '&'])
            };
            if !reading
                || word.starts_with('-')
                || redirect(word)
                || (previous != "<" && redirect(previous))
            {
                continue;
            }
            let value = assigned_value(src, word).unwrap_or_else(|| word.clone());
            read.push(Access {
                path: expanded(&value),
                line,
                call: if previous == "<" { "<" } else { command }.to_string(),
            });
        }
    }
    read
}

/// Commands whose path arguments are folders, and files they read.
const FOLDER_COMMANDS: &[&str] = &["cd", "find", "ls", "du", "pushd"];
const FILE_COMMANDS: &[&str] = &[
    "cat",
    "grep",
    "egrep",
    "awk",
    "sed",
    "wc",
    "head",
    "tail",
    "sort",
    "uniq",
    "cut",
    "jq",
    "md5sum",
    "sha256sum",
    "less",
    "tac",
    "zcat",
];

/// What main.sh visibly does with `$name`: writes it (`> "$name"`, `tee`), treats it as a
/// folder (`cd`, `find`, `ls`, `-d`, `"$name"/*`) or reads it as a file (`cat`, `grep`, `<`, `-f`).
fn usage(src: &str, name: &str) -> Option<PathRole> {
    let plain = format!("${name}");
    let braced = format!("${{{name}}}");
    let mut seen: Option<PathRole> = None;
    let mut note = |role: PathRole| {
        let rank = |r: PathRole| match r {
            PathRole::WriteFile | PathRole::WriteFolder => 3,
            PathRole::ReadFolder => 2,
            PathRole::ReadFile => 1,
        };
        if seen.is_none_or(|s| rank(role) > rank(s)) {
            seen = Some(role);
        }
    };
    for (_, words) in command_lines(src) {
        let mut command = "";
        for (i, word) in words.iter().enumerate() {
            let previous = if i > 0 { words[i - 1].as_str() } else { "" };
            if starts_command(i, previous) {
                command = word;
            }
            let this = |w: &str| w == plain || w == braced;
            let (redirect, target) =
                match word.strip_prefix(">>").or_else(|| word.strip_prefix('>')) {
                    Some(rest) if !rest.is_empty() => (true, rest),
                    _ => (false, word.as_str()),
                };
            if !this(target) {
                if [format!("{plain}/"), format!("{braced}/")]
                    .iter()
                    .any(|p| word.starts_with(p.as_str()))
                {
                    note(PathRole::ReadFolder);
                }
                continue;
            }
            if redirect || previous == ">" || previous == ">>" || command == "tee" {
                note(PathRole::WriteFile);
            } else if previous == "-d" || FOLDER_COMMANDS.contains(&command) {
                note(PathRole::ReadFolder);
            } else if previous == "-f" || previous == "<" || FILE_COMMANDS.contains(&command) {
                note(PathRole::ReadFile);
            }
        }
    }
    seen
}

/// `$1`…`$9` (named after the variable they are assigned to), or else `"$@"`.
fn positional_inputs(src: &str) -> Vec<Input> {
    let mut inputs = Vec::new();
    for n in 1..=9usize {
        let plain = format!("${n}");
        let braced = format!("${{{n}");
        let used = code_matches(src, &plain).any(|i| {
            !src[i + plain.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        }) || code_matches(src, &braced).next().is_some();
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
            if !is_identifier(lhs) {
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
        let mut input = Input::seen(
            name,
            Via::Argument {
                flag: None,
                position: n,
            },
            format!("${n} in main.sh"),
        );
        input.required = default.is_none();
        // `top="${2:-10}"`: a number.
        if let Some(Literal::Str(d)) = &default {
            if let Ok(n) = d.parse::<i64>() {
                (input.kind, input.type_guessed) = ("integer", false);
                input.default = Some(Literal::Int(n));
                inputs.push(input);
                continue;
            }
        }
        input.default = default;
        inputs.push(input);
    }
    if inputs.is_empty() {
        let all = ["\"$@\"", "$@", "\"$*\"", "$*", "${@}"];
        if let Some(at) = all.iter().find_map(|a| code_matches(src, a).next()) {
            // `for file in "$@"; do`: named after the loop's variable.
            let line = src[..at].rsplit('\n').next().unwrap_or("").trim();
            let name = line
                .strip_prefix("for ")
                .and_then(|l| l.split_whitespace().next())
                .filter(|v| v.len() >= 3)
                .and_then(input_name)
                .unwrap_or_else(|| "args".into());
            inputs.push(Input::seen(
                name,
                Via::Argument {
                    flag: None,
                    position: 1,
                },
                "\"$@\" in main.sh".into(),
            ));
        }
    }
    inputs
}

/// `read -p "Threshold: " threshold` (or a prompt `echo`ed just before): one line of standard
/// input each. `while read line` loops read a file or a pipe, not the keyboard.
fn read_inputs(src: &str) -> Vec<Input> {
    let lines: Vec<&str> = src.lines().collect();
    let mut inputs = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        let bare = t == "read" || t.ends_with("; read") || t.ends_with("&& read");
        let Some(at) = t
            .find("read ")
            .filter(|&i| {
                i == 0 || t[..i].ends_with(['\t', ' ', ';', '&', '|']) && !t[..i].contains("while")
            })
            .or_else(|| bare.then(|| t.len() - "read".len()))
        else {
            continue;
        };
        if t[..at].contains('|') || t.contains("< ") && t.contains("done") {
            continue;
        }
        let words = shell_words(t.get(at + "read ".len()..).unwrap_or(""));
        let mut prompt = None;
        let mut variable = None;
        let mut iter = words.iter();
        while let Some(word) = iter.next() {
            if word == "-p" || (word.starts_with('-') && word.ends_with('p') && word.len() > 2) {
                prompt = iter.next().cloned();
            } else if matches!(
                word.as_str(),
                "-n" | "-t" | "-d" | "-u" | "-N" | "-a" | "-i"
            ) {
                iter.next();
            } else if word.starts_with('-') {
            } else if [";", "&&", "||", "|"].contains(&word.as_str()) {
                break;
            } else if variable.is_none() {
                variable = Some(word.clone());
            }
        }
        let prompt = prompt.or_else(|| {
            // `echo -n "Folder to clean: "` or `printf "…"` just before.
            let before = index.checked_sub(1).map(|i| lines[i].trim()).unwrap_or("");
            let echoed = before
                .strip_prefix("echo ")
                .or_else(|| before.strip_prefix("printf "))?;
            shell_words(echoed)
                .into_iter()
                .find(|w| !w.starts_with('-'))
        });
        let name = variable
            .as_deref()
            .filter(|v| *v != "REPLY" && is_identifier(v))
            .and_then(input_name)
            .unwrap_or_else(|| "answer".into());
        let found = format!("read on line {} of main.sh", index + 1);
        let input = Input::prompted(name, found, &prompt.unwrap_or_default());
        inputs.push(input);
    }
    inputs
}

/// Words of a command line, with quotes removed (no expansion).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, ' ' | '\t') => {
                if started || !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            (None, '#') if !started && current.is_empty() => break,
            (None, c) => current.push(c),
        }
    }
    if started || !current.is_empty() {
        words.push(current);
    }
    words
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
            inputs.push(Input::seen(
                name,
                Via::Inputs,
                format!("jq '.{key}' in main.sh"),
            ));
        }
    }
    inputs
}

/// The first comment after the shebang, when it reads like a title.
pub(super) fn title(src: &str) -> Option<String> {
    src.lines()
        .map(str::trim)
        .skip_while(|l| l.starts_with("#!") || l.is_empty())
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .find(|l| !l.is_empty() && !l.starts_with("-*-") && !l.contains("shellcheck"))
        .and_then(as_title)
}

/// Files main.sh writes by redirection (`> file`, `>> file`), `tee` and `mkdir`, with `$HOME`
/// as `~` and other expansions as `*`.
pub(super) fn writes(src: &str) -> Vec<Access> {
    let mut written = Vec::new();
    for (index, line) in src.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        let words = shell_words(t);
        let mut targets: Vec<(&str, String)> = Vec::new();
        for (i, word) in words.iter().enumerate() {
            // `>file`, `> file`, `>>file`, `2> errors.log`; not `2>&1` or `-gt`.
            let redirect = word.trim_start_matches(|c: char| c.is_ascii_digit());
            if let Some(rest) = redirect
                .strip_prefix(">>")
                .or_else(|| redirect.strip_prefix('>'))
            {
                if rest.starts_with('&') || rest.starts_with('(') {
                    continue;
                }
                let target = if rest.is_empty() {
                    words.get(i + 1).cloned()
                } else {
                    Some(rest.to_string())
                };
                if let Some(target) = target {
                    targets.push((">", target));
                }
            }
            if word == "tee" || word == "mkdir" {
                if let Some(target) = words[i + 1..].iter().find(|w| !w.starts_with('-')) {
                    targets.push((if word == "tee" { "tee" } else { "mkdir" }, target.clone()));
                }
            }
        }
        for (call, target) in targets {
            written.push(Access {
                path: expanded(&assigned_value(src, &target).unwrap_or(target)),
                line: index + 1,
                call: call.to_string(),
            });
        }
    }
    written
}

/// The value a variable is assigned (`report="$HOME/report.txt"`), for a word that is only
/// that variable (`$report`, `${report}`).
fn assigned_value(src: &str, word: &str) -> Option<String> {
    let name = word.strip_prefix('$')?;
    let name = name
        .strip_prefix('{')
        .and_then(|n| n.strip_suffix('}'))
        .unwrap_or(name);
    if !is_identifier(name) {
        return None;
    }
    src.lines().find_map(|line| {
        let t = line.trim();
        let t = ["local ", "readonly ", "declare ", "export "]
            .iter()
            .find_map(|p| t.strip_prefix(p))
            .unwrap_or(t);
        let (lhs, rhs) = t.split_once('=')?;
        (lhs == name).then(|| shell_words(rhs).into_iter().next().unwrap_or_default())
    })
}

/// A shell word as a path: `$HOME`/`~` as `~`, `$EXECGOV_OUTPUT` as `output`, other
/// expansions as `*`.
fn expanded(word: &str) -> String {
    let word = word
        .replace("${HOME}", "~")
        .replace("$HOME", "~")
        .replace("${EXECGOV_OUTPUT}", "output")
        .replace("$EXECGOV_OUTPUT", "output");
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
            }
        } else if chars.peek() == Some(&'(') {
            let mut depth = 0;
            for c in chars.by_ref() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
        } else {
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                chars.next();
            }
        }
        out.push('*');
    }
    out
}

#[cfg(test)]
mod tests;
