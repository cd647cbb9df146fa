//! `TODO` placeholders left in a `skill.toml`: `manifest init` writes them where it could not
//! know a value, and `push` refuses to send a manifest that still holds one. Only values
//! count; a comment may say TODO.

/// A value still holding its placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder {
    /// 1-based line of the value.
    pub line: usize,
    /// The key, with its table when it is in one: `description`, `inputs[2].label`.
    pub key: String,
}

/// The line without its comment (a `#` outside strings).
fn without_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return &line[..i],
            None => {}
        }
    }
    line
}

/// Every value in `text` (a `skill.toml`) that contains the word TODO, in file order.
pub fn find(text: &str) -> Vec<Placeholder> {
    let mut found = Vec::new();
    let mut table = String::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut key = String::new();
    // Inside a multi-line string or array, values continue on the next lines.
    let mut open_multiline = false;
    for (index, raw) in text.lines().enumerate() {
        let line = if open_multiline {
            raw
        } else {
            without_comment(raw)
        };
        let t = line.trim();
        if !open_multiline {
            if let Some(name) = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
                let name = name.trim().to_string();
                let n = match counts.iter_mut().find(|(t, _)| *t == name) {
                    Some((_, n)) => {
                        *n += 1;
                        *n
                    }
                    None => {
                        counts.push((name.clone(), 0));
                        0
                    }
                };
                table = format!("{name}[{}]", n + 1);
                continue;
            }
            if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                table = name.trim().to_string();
                continue;
            }
            if let Some((k, _)) = t.split_once('=') {
                let k = k.trim().trim_matches('"');
                key = if table.is_empty() {
                    k.to_string()
                } else {
                    format!("{table}.{k}")
                };
            }
        }
        let value = if open_multiline {
            t
        } else {
            t.split_once('=').map_or(t, |(_, v)| v)
        };
        let quotes = value.matches("\"\"\"").count() + value.matches("'''").count();
        let opens_array =
            !open_multiline && value.trim_start().starts_with('[') && !value.contains(']');
        if quotes % 2 == 1 {
            open_multiline = !open_multiline;
        } else if opens_array {
            open_multiline = true;
        } else if open_multiline && value.contains(']') && quotes == 0 {
            open_multiline = false;
        }
        let says_todo = value
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "TODO");
        if says_todo && !found.iter().any(|p: &Placeholder| p.key == key) {
            found.push(Placeholder {
                line: index + 1,
                key: key.clone(),
            });
        }
    }
    found
}

/// The message `push` refuses with.
pub fn refusal(file: &str, found: &[Placeholder]) -> String {
    let listed: Vec<String> = found
        .iter()
        .map(|p| format!("line {} ({})", p.line, p.key))
        .collect();
    format!(
        "{file} still holds TODO placeholders: {}. Replace each with the real value, then push \
         again.",
        listed.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_say_todo_are_found_with_their_key_and_line() {
        let text = r#"# TODO in a comment is fine
name = "Log analyser"   # TODO: check
description = "TODO: say what this skill does, in a sentence or two."
output = """
Files to download.
TODO: name them.
"""
risk = "medium"
args = [
  "--in", "{data}",
]

[[inputs]]
name = "data"
label = "TODO"

[[inputs]]
name = "top"
description = "Not a TODOlist, nor todo"
"#;
        let found = find(text);
        assert_eq!(
            found,
            [
                Placeholder {
                    line: 3,
                    key: "description".into()
                },
                Placeholder {
                    line: 6,
                    key: "output".into()
                },
                Placeholder {
                    line: 15,
                    key: "inputs[1].label".into()
                },
            ]
        );
        assert_eq!(
            refusal("skill.toml", &found),
            "skill.toml still holds TODO placeholders: line 3 (description), line 6 (output), \
             line 15 (inputs[1].label). Replace each with the real value, then push again."
        );
    }

    #[test]
    fn a_finished_manifest_has_none() {
        let text = "name = \"A # not a comment\"\ndescription = \"Counts #TODOs? no: todos.\"\n";
        assert_eq!(find(text), []);
        assert_eq!(find("x = \"a \\\" # TODO\"\n").len(), 1);
    }
}
