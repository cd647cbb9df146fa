//! Keyboard prompts: `input()`, `raw_input()` and `getpass()`, one line of standard input each.

use super::*;

/// Words of a prompt that say nothing about what it asks for.
const PROMPT_FILLER: &[&str] = &[
    "enter", "please", "type", "input", "the", "a", "an", "your", "of", "to", "for", "in", "you",
    "want", "do", "would", "like", "what", "is", "which", "provide", "give", "me", "y", "n", "yes",
    "no", "and", "or", "press", "here", "new",
];

/// A name for what a prompt asks ("Enter the folder path: " → `folder_path`).
pub(super) fn name_of_prompt(prompt: &str) -> Option<String> {
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
pub(super) fn prompt_inputs(src: &str) -> Vec<Input> {
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
        let name = assigned_at(src, at)
            .and_then(input_name)
            .or_else(|| name_of_prompt(&prompt))
            .unwrap_or_else(|| "answer".to_string());
        let shown = format!(
            "{call}({}) on line {} of main.py",
            args.trim(),
            line_at(src, at)
        );
        let mut input = Input::prompted(name, shown, &prompt);
        let expr = line.split_once('=').map_or(line, |(_, r)| r.trim());
        for (conversion, kind) in [("int(", "integer"), ("float(", "number")] {
            if expr.starts_with(conversion) {
                (input.kind, input.type_guessed) = (kind, false);
                input.choices.clear();
            }
        }
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

/// Whether an `input()` call sits inside a `while` or `for` loop (judged by indentation).
pub(super) fn asks_in_a_loop(src: &str) -> bool {
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
