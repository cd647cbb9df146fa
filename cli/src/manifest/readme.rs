//! README.md: the title, the first paragraph and an "Output(s)" section; and what reads like
//! a skill's name at all.

/// Headings that organise a README rather than name what it describes.
const GENERIC_HEADINGS: &[&str] = &[
    "about",
    "changelog",
    "changes",
    "contents",
    "contributing",
    "description",
    "documentation",
    "example",
    "examples",
    "explanation",
    "features",
    "getting started",
    "how it works",
    "how to run",
    "how to use",
    "installation",
    "install",
    "instructions",
    "introduction",
    "license",
    "modifications",
    "notes",
    "overview",
    "prerequisites",
    "readme",
    "requirements",
    "setup",
    "summary",
    "table of contents",
    "todo",
    "update",
    "updates",
    "usage",
];

/// `text` as a skill's name, if it reads like one: a short phrase (2 to 60 characters, at most
/// 8 words), not a README section heading ("Usage", "Explanation of Modifications"), a file
/// name or a command line. A longer first line gives its part before ": " or " - ".
pub(super) fn as_title(text: &str) -> Option<String> {
    let text = strip_markdown(text.trim());
    let mut text = text.trim_end_matches(['.', ':', '!']).trim().to_string();
    // "This script finds duplicate files" → "Finds duplicate files".
    for filler in [
        "a simple script to ",
        "simple script to ",
        "a script to ",
        "script to ",
        "this script ",
        "this program ",
    ] {
        if text.to_ascii_lowercase().starts_with(filler) {
            let rest = &text[filler.len()..];
            let mut chars = rest.chars();
            text = chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
            break;
        }
    }
    let text = text.as_str();
    let short =
        |t: &str| (2..=60).contains(&t.chars().count()) && t.split_whitespace().count() <= 8;
    let candidate = if short(text) {
        text.to_string()
    } else {
        let head = [": ", " - ", " – ", " — "]
            .iter()
            .filter_map(|sep| text.split_once(sep).map(|(h, _)| h.trim()))
            .min_by_key(|h| h.len())?;
        if !short(head) {
            return None;
        }
        head.to_string()
    };
    // "Currency-Exchange-Rate-Scraper", "log_analyzer": words.
    let candidate = if !candidate.contains(' ') && candidate.contains(['-', '_']) {
        candidate.replace(['-', '_'], " ").trim().to_string()
    } else {
        candidate
    };
    let lower = candidate.to_ascii_lowercase();
    let first_words = |n: usize| {
        lower
            .split_whitespace()
            .take(n)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let generic = GENERIC_HEADINGS
        .iter()
        .any(|g| lower == *g || first_words(g.split_whitespace().count()) == *g);
    let file_or_command = candidate.contains(['/', '\\', '$', '`', '='])
        || candidate.ends_with(".py")
        || candidate.ends_with(".sh")
        || lower.starts_with("python")
        || lower.starts_with("usage");
    (!generic && !file_or_command && candidate.chars().any(char::is_alphabetic))
        .then_some(candidate)
}

/// The README's first level-1 heading (outside code blocks), if it reads like a title.
pub(super) fn readme_title(readme: &str) -> Option<String> {
    let mut fenced = false;
    for line in readme.lines().map(str::trim) {
        if line.starts_with("```") || line.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if let Some(title) = line.strip_prefix("# ") {
            return as_title(title);
        }
    }
    None
}

/// Whether the README starts with a heading that is not a title ("Usage", "Explanation of
/// Modifications"): a README written about something else than the skill.
pub(super) fn has_generic_title(readme: &str) -> bool {
    let mut fenced = false;
    for line in readme.lines().map(str::trim) {
        if line.starts_with("```") || line.starts_with("~~~") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            let heading = line.trim_start_matches('#');
            return heading.starts_with(' ') && as_title(heading).is_none();
        } else if !fenced && !line.is_empty() {
            return false;
        }
    }
    false
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
pub(super) fn first_paragraph(readme: &str) -> Option<String> {
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
pub(super) fn readme_output(readme: &str) -> Option<String> {
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
