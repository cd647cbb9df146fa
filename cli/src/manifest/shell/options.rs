//! Options: `getopts` specs, and `while …; do case "$1" in -f|--file) …` loops.

use super::*;

/// `getopts "vo:"`: `-v` a switch, `-o VALUE` an option.
pub(super) fn getopts_inputs(src: &str) -> Vec<Input> {
    let mut inputs = Vec::new();
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
            if !c.is_ascii_alphabetic() || c == 'h' {
                continue;
            }
            let takes_value = letters.get(i + 1) == Some(&':');
            let name = option_variable(src, c)
                .or_else(|| input_name(&c.to_string()))
                .unwrap_or_else(|| format!("opt_{}", c.to_ascii_lowercase()));
            let flag = format!("-{c}");
            let found = format!("getopts option -{c} in main.sh");
            inputs.push(option(src, name, flag, takes_value, found));
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
                if is_identifier(lhs.trim()) {
                    return input_name(lhs.trim());
                }
            }
        }
    }
    None
}

/// Where the option loop's `case "$1" in` … `esac` is, as line indexes (first, last).
fn case_loop(src: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = src.lines().collect();
    let first = lines.iter().position(|l| {
        let t = l.trim();
        t.starts_with("case ")
            && ["\"$1\"", "$1", "\"${1}\"", "${1}"]
                .iter()
                .any(|v| t["case ".len()..].trim_start().starts_with(v))
    })?;
    let last = lines[first..]
        .iter()
        .position(|l| l.trim().starts_with("esac"))
        .map(|n| first + n)?;
    Some((first, last))
}

/// The script with the option loop's lines blanked (lines kept).
pub(super) fn without_case_loop(src: &str) -> String {
    let Some((first, last)) = case_loop(src) else {
        return src.to_string();
    };
    src.lines()
        .enumerate()
        .map(|(i, l)| if (first..=last).contains(&i) { "" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `while [ $# -gt 0 ]; do case "$1" in -f|--file) file="$2"; shift 2 ;; -v) verbose=1 ;;`:
/// a branch that reads `$2` (or shifts twice) takes a value, the others are switches; each is
/// named after the variable it sets, or its flag.
pub(super) fn case_inputs(src: &str) -> Vec<Input> {
    let Some((first, last)) = case_loop(src) else {
        return Vec::new();
    };
    let lines: Vec<&str> = src.lines().collect();
    let mut inputs = Vec::new();
    let mut i = first + 1;
    while i < last {
        let t = lines[i].trim();
        let Some((label, rest)) = t.split_once(')') else {
            i += 1;
            continue;
        };
        let label = label.trim().trim_start_matches('(');
        let flags: Vec<&str> = label
            .split('|')
            .map(|f| f.trim().trim_matches(['"', '\'']))
            .collect();
        // The branch: the rest of this line and the lines up to its `;;`.
        let mut body = rest.to_string();
        while !body.contains(";;") && i + 1 < last {
            i += 1;
            body.push('\n');
            body.push_str(lines[i]);
        }
        i += 1;
        let plain = flags.iter().all(|f| {
            f.starts_with('-')
                && f.len() > 1
                && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if !plain || flags.iter().any(|f| *f == "-h" || *f == "--help") {
            continue;
        }
        let flag = flags
            .iter()
            .find(|f| f.starts_with("--"))
            .unwrap_or(&flags[0])
            .to_string();
        let takes_value = body.contains("$2") || body.contains("${2") || body.contains("shift 2");
        let variable = body
            .split(['\n', ';'])
            .filter_map(|s| s.trim().split_once('='))
            .map(|(lhs, _)| lhs.trim())
            .find(|lhs| is_identifier(lhs))
            .and_then(input_name);
        let Some(name) = variable.or_else(|| input_name(&flag)) else {
            continue;
        };
        let found = format!("case \"$1\" option {flag} in main.sh");
        inputs.push(option(src, name, flag, takes_value, found));
    }
    inputs
}

/// An option: `-n VALUE` (its default what the script sets before its loop) or a switch.
fn option(src: &str, name: String, flag: String, takes_value: bool, found: String) -> Input {
    let mut input = if takes_value {
        let via = Via::Argument {
            flag: Some(flag),
            position: 0,
        };
        let mut option = Input::seen(name, via, found);
        preset(src, &mut option);
        option
    } else {
        let mut switch = Input::seen(name, Via::Switch { flag }, found);
        (switch.kind, switch.type_guessed) = ("boolean", false);
        switch
    };
    input.required = false;
    input
}

/// `top=10` before the option loop: the option's default (an integer when it is one).
fn preset(src: &str, option: &mut Input) {
    let value = assigned_value(src, &format!("${}", option.name))
        .filter(|v| !v.is_empty() && !v.contains(['$', '`']));
    if let Some(value) = value {
        option.default = Some(match value.parse::<i64>() {
            Ok(n) => {
                (option.kind, option.type_guessed) = ("integer", false);
                Literal::Int(n)
            }
            Err(_) => Literal::Str(value),
        });
    }
}
