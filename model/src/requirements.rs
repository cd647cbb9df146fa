//! What a skill declares it needs: `requirements.txt` beside `main.py`, or the PEP 723 block
//! (`# /// script` … `# ///`) at the top of `main.py`. Both are read as PEP 508 requirements by
//! name from the index; anything that would fetch code from elsewhere (URLs, VCS links, local
//! paths, editable installs) or change how pip works (its options) is refused with the line and
//! the reason.
//!
//! This is a small checker, not a full PEP 508 implementation: it finds the name, the extras and
//! refuses the forms above; version specifiers and markers are checked for their characters and
//! left to the resolver (uv or pip), whose own refusal is shown to the submitter. A crate such as
//! `pep508_rs` would parse more, but pulls in a large dependency tree for what the resolver does
//! anyway.

/// The file beside `main.py` that declares packages.
pub const REQUIREMENTS_FILE: &str = "requirements.txt";
/// Where the PEP 723 block lives.
pub const SCRIPT_FILE: &str = "main.py";

/// One declared requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The normalised name (PEP 503: lower case, runs of `-_.` as `-`).
    pub name: String,
    /// The requirement as written, without comments (what the resolver gets).
    pub text: String,
}

/// A skill's declared packages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared {
    /// Where they were declared: `requirements.txt` or `main.py (# /// script)`.
    pub source: &'static str,
    pub requirements: Vec<Requirement>,
    /// PEP 723's `requires-python`, if given.
    pub requires_python: Option<String>,
}

impl Declared {
    /// The resolver's input: one requirement per line.
    pub fn requirements_in(&self) -> String {
        self.requirements
            .iter()
            .map(|r| format!("{}\n", r.text))
            .collect()
    }
}

/// The packages a script folder declares, or `None` when it declares none. Declaring them in
/// both places is refused: which one counts would be a guess.
pub fn declared(files: &[(String, Vec<u8>)]) -> Result<Option<Declared>, String> {
    let file = |name: &str| {
        files
            .iter()
            .find(|(p, _)| p == name)
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
    };
    let txt = file(REQUIREMENTS_FILE)
        .map(|t| parse_requirements_txt(&t))
        .transpose()?;
    let inline = match file(SCRIPT_FILE) {
        Some(script) => parse_inline_metadata(&script)?,
        None => None,
    };
    match (txt, inline) {
        (Some(_), Some(inline)) if !inline.requirements.is_empty() => Err(format!(
            "packages are declared twice, in {REQUIREMENTS_FILE} and in main.py's `# /// script` \
             block: keep one of them"
        )),
        (Some(requirements), inline) => Ok(Some(Declared {
            source: REQUIREMENTS_FILE,
            requirements,
            requires_python: inline.and_then(|i| i.requires_python),
        }))
        .map(|d| d.filter(|d| !d.requirements.is_empty())),
        (None, Some(inline)) if !inline.requirements.is_empty() => Ok(Some(inline)),
        (None, _) => Ok(None),
    }
}

/// `requirements.txt`: one requirement per line; `#` comments, blank lines and `\`
/// continuations as pip reads them. Options (`-e`, `-r`, `--index-url`, `--hash`, …) are refused.
pub fn parse_requirements_txt(text: &str) -> Result<Vec<Requirement>, String> {
    let mut out = Vec::new();
    for (number, line) in requirements_txt_lines(text) {
        push_line(&mut out, &line, REQUIREMENTS_FILE, number)?;
    }
    Ok(out)
}

/// The lines of a `requirements.txt` that declare something, as pip reads them (`\`
/// continuations joined, comments and blank lines left out), each with its first line number.
pub fn requirements_txt_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut first_line = 0;
    let mut flush = |pending: &mut String, number: usize| {
        let line = std::mem::take(pending);
        let line = strip_comment(&line).trim();
        if !line.is_empty() {
            out.push((number, line.to_string()));
        }
    };
    for (i, raw) in text.lines().enumerate() {
        if pending.is_empty() {
            first_line = i + 1;
        }
        match raw.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(raw);
                flush(&mut pending, first_line);
            }
        }
    }
    flush(&mut pending, first_line);
    out
}

fn push_line(
    out: &mut Vec<Requirement>,
    line: &str,
    file: &str,
    number: usize,
) -> Result<(), String> {
    let line = line.trim();
    let requirement =
        parse_requirement(line).map_err(|why| format!("{file} line {number}: `{line}`: {why}"))?;
    if out.iter().any(|r: &Requirement| r.name == requirement.name) {
        return Err(format!(
            "{file} line {number}: `{line}`: {} is declared more than once",
            requirement.name
        ));
    }
    out.push(requirement);
    Ok(())
}

/// pip's comment rule: `#` at the start or after whitespace starts a comment.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// The PEP 723 block of `main.py` (`# /// script` … `# ///`), if any: `dependencies` and
/// `requires-python`. An unclosed or repeated block, or TOML that does not parse, is refused.
pub fn parse_inline_metadata(script: &str) -> Result<Option<Declared>, String> {
    const WHERE: &str = "main.py (# /// script)";
    let lines: Vec<&str> = script.lines().collect();
    let mut found: Option<(usize, String)> = None;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "# /// script" {
            i += 1;
            continue;
        }
        if let Some((first, _)) = found {
            return Err(format!(
                "main.py line {}: a second `# /// script` block (the first is at line {first})",
                i + 1
            ));
        }
        let start = i + 1;
        let mut toml_text = String::new();
        let mut closed = false;
        i += 1;
        while i < lines.len() {
            let line = lines[i].trim_end();
            if line == "# ///" {
                closed = true;
                break;
            }
            match line.strip_prefix('#') {
                Some("") => toml_text.push('\n'),
                Some(rest) if rest.starts_with(' ') => {
                    toml_text.push_str(&rest[1..]);
                    toml_text.push('\n');
                }
                _ => break,
            }
            i += 1;
        }
        if !closed {
            return Err(format!(
                "main.py line {start}: the `# /// script` block is not closed by a `# ///` line"
            ));
        }
        found = Some((start, toml_text));
        i += 1;
    }
    let Some((start, toml_text)) = found else {
        return Ok(None);
    };
    let table: toml::Table = toml::from_str(&toml_text)
        .map_err(|e| format!("main.py line {start}: the `# /// script` block: {e}"))?;
    let mut requirements = Vec::new();
    match table.get("dependencies") {
        None => {}
        Some(toml::Value::Array(items)) => {
            for item in items {
                let text = item.as_str().ok_or_else(|| {
                    format!("main.py line {start}: `dependencies` must be a list of strings")
                })?;
                push_line(&mut requirements, text, WHERE, start)?;
            }
        }
        Some(_) => {
            return Err(format!(
                "main.py line {start}: `dependencies` must be a list of strings"
            ))
        }
    }
    let requires_python = match table.get("requires-python") {
        None => None,
        Some(toml::Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(format!(
                "main.py line {start}: `requires-python` must be a string such as \">=3.10\""
            ))
        }
    };
    Ok(Some(Declared {
        source: WHERE,
        requirements,
        requires_python,
    }))
}

/// One requirement by name: `name[extra,…] specifiers ; marker`.
pub fn parse_requirement(line: &str) -> Result<Requirement, String> {
    let line = line.trim();
    let lower = line.to_ascii_lowercase();
    if line.starts_with('-') {
        return Err(
            if line.starts_with("-e") || line.starts_with("--editable") {
                "editable installs are refused: declare the package by name".into()
            } else {
                "pip options are refused (only package names, versions and markers are): the \
             platform chooses the index and checks every file's hash"
                    .into()
            },
        );
    }
    for vcs in ["git+", "hg+", "svn+", "bzr+"] {
        if lower.starts_with(vcs) || lower.contains(&format!("@ {vcs}")) {
            return Err("VCS links are refused: declare a released package by name".into());
        }
    }
    if lower.contains("://") || lower.starts_with("file:") || line.contains(" @") {
        return Err("URLs are refused: declare the package by name, from the index".into());
    }
    if line.starts_with(['.', '/', '~'])
        || [".whl", ".zip", ".tar.gz", ".tgz"]
            .iter()
            .any(|ext| lower.ends_with(ext))
    {
        return Err("local paths and archives are refused: declare the package by name".into());
    }
    let name_len = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(line.len());
    let name = &line[..name_len];
    if name.is_empty()
        || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err("a requirement starts with a package name".into());
    }
    let mut rest = line[name_len..].trim_start();
    if let Some(after) = rest.strip_prefix('[') {
        let end = after
            .find(']')
            .ok_or("the extras' `[` is not closed by `]`")?;
        for extra in after[..end].split(',') {
            let extra = extra.trim();
            if extra.is_empty()
                || !extra
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(format!("`{extra}` is not an extra's name"));
            }
        }
        rest = after[end + 1..].trim_start();
    }
    let (specifiers, marker) = match rest.split_once(';') {
        Some((s, m)) => (s.trim(), Some(m.trim())),
        None => (rest.trim(), None),
    };
    check_specifiers(specifiers)?;
    if marker == Some("") {
        return Err("an empty marker after `;`".into());
    }
    Ok(Requirement {
        name: normalize(name),
        text: line.to_string(),
    })
}

/// `>=1.2, <2`, optionally in parentheses: each clause an operator and a version.
fn check_specifiers(specifiers: &str) -> Result<(), String> {
    let inner = specifiers
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(specifiers)
        .trim();
    if inner.is_empty() {
        return Ok(());
    }
    for clause in inner.split(',') {
        let clause = clause.trim();
        let op_len = clause
            .find(|c: char| !"<>=!~".contains(c))
            .unwrap_or(clause.len());
        let (op, version) = (&clause[..op_len], clause[op_len..].trim());
        if !["==", "!=", "<=", ">=", "<", ">", "~=", "==="].contains(&op) {
            return Err(format!(
                "`{clause}` is not a version specifier (such as `>=1.2` or `==2.0.*`)"
            ));
        }
        if version.is_empty()
            || !version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".*+!_-".contains(c))
        {
            return Err(format!("`{clause}` has no valid version"));
        }
    }
    Ok(())
}

/// PEP 503 normalisation: lower case, runs of `-`, `_` and `.` become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Whether `version` (such as `3.11.2`) satisfies `specifiers` (such as `>=3.9,<4`), for
/// `requires-python`. Numeric release segments only; a `.*` suffix matches a prefix.
pub fn python_satisfies(version: &str, specifiers: &str) -> Result<bool, String> {
    let parse = |v: &str| -> Result<Vec<u64>, String> {
        v.split('.')
            .map(|p| {
                p.parse::<u64>()
                    .map_err(|_| format!("`{v}` is not a Python version such as 3.11"))
            })
            .collect()
    };
    let have = parse(version)?;
    let cmp = |want: &[u64]| {
        let len = have.len().max(want.len());
        let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
        (0..len)
            .map(|i| at(&have, i).cmp(&at(want, i)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    for clause in specifiers
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let op_len = clause
            .find(|c: char| !"<>=!~".contains(c))
            .unwrap_or(clause.len());
        let (op, v) = (&clause[..op_len], clause[op_len..].trim());
        use std::cmp::Ordering::*;
        let ok = if let Some(prefix) = v.strip_suffix(".*") {
            let want = parse(prefix)?;
            let matches = have.iter().take(want.len()).eq(want.iter());
            match op {
                "==" => matches,
                "!=" => !matches,
                _ => return Err(format!("`{clause}`: `.*` goes with == or != only")),
            }
        } else {
            let want = parse(v)?;
            match op {
                "==" | "===" => cmp(&want) == Equal,
                "!=" => cmp(&want) != Equal,
                ">=" => cmp(&want) != Less,
                "<=" => cmp(&want) != Greater,
                ">" => cmp(&want) == Greater,
                "<" => cmp(&want) == Less,
                "~=" if want.len() >= 2 => {
                    cmp(&want) != Less
                        && have.iter().take(want.len() - 1).eq(&want[..want.len() - 1])
                }
                _ => return Err(format!("`{clause}` is not a version specifier")),
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(reqs: &[Requirement]) -> Vec<&str> {
        reqs.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn requirements_txt_is_read_as_pip_reads_it() {
        let reqs = parse_requirements_txt(
            "# the report\nopenpyxl==3.1.5  # workbooks\n\nPandas[performance] >= 2, <3 ; \
             python_version >= \"3.9\"\nPython_Dateutil\\\n>=2.8\n",
        )
        .unwrap();
        assert_eq!(names(&reqs), ["openpyxl", "pandas", "python-dateutil"]);
        assert_eq!(reqs[0].text, "openpyxl==3.1.5");
        assert_eq!(reqs[2].text, "Python_Dateutil>=2.8");
    }

    #[test]
    fn refused_lines_name_the_line_and_the_reason() {
        let cases = [
            ("git+https://github.com/x/y.git", "VCS links are refused"),
            (
                "y @ git+https://github.com/x/y.git",
                "VCS links are refused",
            ),
            ("y @ https://example.com/y-1.0.tar.gz", "URLs are refused"),
            (
                "https://example.com/y-1.0-py3-none-any.whl",
                "URLs are refused",
            ),
            ("-e ./lib", "editable installs are refused"),
            (
                "--index-url https://example.com/simple",
                "pip options are refused",
            ),
            ("-r other.txt", "pip options are refused"),
            ("./vendor/pkg", "local paths"),
            ("pkg-1.0-py3-none-any.whl", "local paths"),
            ("pkg >> 1", "not a version specifier"),
            ("pkg[", "not closed"),
        ];
        for (line, why) in cases {
            let err = parse_requirements_txt(&format!("six\n{line}\n")).unwrap_err();
            assert!(
                err.starts_with("requirements.txt line 2: "),
                "{line}: {err}"
            );
            assert!(err.contains(why), "{line}: {err}");
        }
        let err = parse_requirements_txt("six\nSix==1\n").unwrap_err();
        assert!(err.contains("declared more than once"), "{err}");
    }

    #[test]
    fn pep_723_blocks_are_read_and_checked() {
        let script = "#!/usr/bin/env python3\n# /// script\n# requires-python = \">=3.10\"\n\
                      # dependencies = [\n#   \"openpyxl>=3\",\n#   \"six\",\n# ]\n# ///\n\
                      import openpyxl\n";
        let d = parse_inline_metadata(script).unwrap().unwrap();
        assert_eq!(names(&d.requirements), ["openpyxl", "six"]);
        assert_eq!(d.requires_python.as_deref(), Some(">=3.10"));
        assert_eq!(d.requirements_in(), "openpyxl>=3\nsix\n");

        assert_eq!(parse_inline_metadata("import os\n").unwrap(), None);
        let unclosed = parse_inline_metadata("# /// script\n# dependencies = []\nimport os\n");
        assert!(unclosed.unwrap_err().contains("not closed"));
        let vcs = "# /// script\n# dependencies = [\"y @ git+https://x/y\"]\n# ///\n";
        let err = parse_inline_metadata(vcs).unwrap_err();
        assert!(err.contains("VCS links are refused"), "{err}");
        assert!(err.starts_with("main.py (# /// script) line 1"), "{err}");
    }

    #[test]
    fn a_folder_declares_in_one_place() {
        let f = |p: &str, t: &str| (p.to_string(), t.as_bytes().to_vec());
        let inline = "# /// script\n# dependencies = [\"six\"]\n# ///\n";
        let both = [f("main.py", inline), f("requirements.txt", "six\n")];
        assert!(declared(&both).unwrap_err().contains("declared twice"));
        let txt = declared(&[f("main.py", "import six\n"), f("requirements.txt", "six\n")])
            .unwrap()
            .unwrap();
        assert_eq!(txt.source, "requirements.txt");
        let pep = declared(&[f("main.py", inline)]).unwrap().unwrap();
        assert_eq!(pep.source, "main.py (# /// script)");
        assert_eq!(declared(&[f("main.py", "print(1)\n")]).unwrap(), None);
        let empty = [
            f("main.py", "x = 1\n"),
            f("requirements.txt", "# nothing\n"),
        ];
        assert_eq!(declared(&empty).unwrap(), None);
    }

    #[test]
    fn requires_python_is_checked_against_a_version() {
        for (spec, ok) in [
            (">=3.9", true),
            (">=3.12", false),
            (">=3.9,<3.11", false),
            ("==3.11.*", true),
            ("~=3.10", true),
            ("~=3.12", false),
            ("!=3.11.2", false),
            ("", true),
        ] {
            assert_eq!(python_satisfies("3.11.2", spec).unwrap(), ok, "{spec}");
        }
        assert!(python_satisfies("3.11.2", ">=three").is_err());
    }
}
