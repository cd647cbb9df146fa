//! The files main.py writes, and what it does with a path it is given.

use super::*;

/// Calls whose first argument is a folder the script reads.
const FOLDER_READERS: &[&str] = &[
    "os.listdir",
    "os.walk",
    "os.scandir",
    "os.chdir",
    "os.path.isdir",
];
/// Calls whose first argument is a file the script reads.
const FILE_READERS: &[&str] = &[
    ".read_csv",
    ".read_excel",
    ".read_json",
    ".read_table",
    ".read_parquet",
    "load_workbook",
    "PdfReader",
    "Image.open",
    "os.path.isfile",
    "os.path.getsize",
];

/// What main.py visibly does with the variable (or `args.NAME`) `name`: writes it (`open(…,
/// "w")`, `to_excel(…)`), lists it as a folder (`os.listdir`, `.iterdir()`), or reads it as a
/// file (`open(…)`, `read_csv(…)`).
pub(super) fn usage(src: &str, name: &str) -> Option<Usage> {
    // `excelfile = args.output`, `src = Path(args.input)`: the value under another name.
    let mut names = vec![name.to_string()];
    for line in src.lines() {
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let (lhs, rhs) = (lhs.trim(), rhs.trim());
        if !is_identifier(lhs) || rhs.starts_with('=') || names.iter().any(|n| n == lhs) {
            continue;
        }
        let value = rhs.split(" if ").next().unwrap_or(rhs).trim();
        let unwrapped = [
            "Path(",
            "pathlib.Path(",
            "os.path.abspath(",
            "os.path.expanduser(",
            "str(",
        ]
        .iter()
        .find_map(|w| value.strip_prefix(w).and_then(|v| v.strip_suffix(')')))
        .unwrap_or(value);
        if is_named(unwrapped, name) {
            names.push(lhs.to_string());
        }
    }
    let names_it = |arg: &str| names.iter().any(|n| is_named(arg, n));
    let first_arg = |at: usize, call: &str| {
        args_of(src, at, call).and_then(|args| split_args(args).first().map(|a| a.to_string()))
    };
    for writer in WRITERS {
        for at in calls(src, writer.call) {
            if writer_argument(src, at, writer).is_some_and(|a| names_it(&a)) {
                let folder = writer.call.ends_with("mkdir") || writer.call.ends_with("makedirs");
                return Some(if folder {
                    Usage::of(PathRole::WriteFolder)
                } else {
                    Usage {
                        role: PathRole::WriteFile,
                        extension: writer.extension,
                    }
                });
            }
        }
    }
    let mut opened = None;
    for call in ["open", "io.open", "codecs.open"] {
        for at in calls(src, call) {
            if first_arg(at, call).is_some_and(|a| names_it(&a)) {
                let writing = open_mode_writes(src, at, call);
                if writing {
                    return Some(Usage::of(PathRole::WriteFile));
                }
                opened = Some(Usage::of(PathRole::ReadFile));
            }
        }
    }
    let listed = FOLDER_READERS
        .iter()
        .any(|call| calls(src, call).any(|at| first_arg(at, call).is_some_and(|a| names_it(&a))))
        || [".iterdir(", ".glob(", ".rglob("].iter().any(|m| {
            code_matches(src, m).any(|at| {
                let receiver = src[..at]
                    .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                    .next()
                    .unwrap_or("");
                names_it(receiver)
            })
        });
    if listed {
        return Some(Usage::of(PathRole::ReadFolder));
    }
    let read = FILE_READERS
        .iter()
        .any(|call| calls(src, call).any(|at| first_arg(at, call).is_some_and(|a| names_it(&a))));
    if read {
        return Some(Usage::of(PathRole::ReadFile));
    }
    opened
}

/// Calls that write the file named by an argument: (call, which argument, keyword names).
/// A call that writes the file one of its arguments names.
pub(super) struct Writer {
    pub call: &'static str,
    /// Which positional argument names the file, or one of `keywords`.
    pub argument: usize,
    pub keywords: &'static [&'static str],
    /// The kind of file it writes, when the call says (`to_excel`: xlsx).
    pub extension: Option<&'static str>,
}

pub(super) const WRITERS: &[Writer] = &[
    Writer {
        call: ".to_excel",
        argument: 0,
        keywords: &["excel_writer"],
        extension: Some("xlsx"),
    },
    Writer {
        call: ".to_csv",
        argument: 0,
        keywords: &["path_or_buf"],
        extension: Some("csv"),
    },
    Writer {
        call: ".to_json",
        argument: 0,
        keywords: &["path_or_buf"],
        extension: Some("json"),
    },
    Writer {
        call: ".to_html",
        argument: 0,
        keywords: &["buf"],
        extension: Some("html"),
    },
    Writer {
        call: ".to_parquet",
        argument: 0,
        keywords: &["path"],
        extension: Some("parquet"),
    },
    Writer {
        call: ".to_markdown",
        argument: 0,
        keywords: &["buf"],
        extension: Some("md"),
    },
    Writer {
        call: ".to_pickle",
        argument: 0,
        keywords: &["path"],
        extension: Some("pkl"),
    },
    Writer {
        call: ".to_xml",
        argument: 0,
        keywords: &["path_or_buffer"],
        extension: Some("xml"),
    },
    Writer {
        call: ".savefig",
        argument: 0,
        keywords: &["fname"],
        extension: Some("png"),
    },
    Writer {
        call: ".save",
        argument: 0,
        keywords: &["filename", "fp"],
        extension: None,
    },
    Writer {
        call: ".output",
        argument: 0,
        keywords: &["name"],
        extension: Some("pdf"),
    },
    Writer {
        call: ".write_pdf",
        argument: 0,
        keywords: &["target"],
        extension: Some("pdf"),
    },
    Writer {
        call: "ExcelWriter",
        argument: 0,
        keywords: &["path"],
        extension: Some("xlsx"),
    },
    Writer {
        call: "xlsxwriter.Workbook",
        argument: 0,
        keywords: &["filename"],
        extension: Some("xlsx"),
    },
    Writer {
        call: "Canvas",
        argument: 0,
        keywords: &["filename"],
        extension: Some("pdf"),
    },
    Writer {
        call: "shutil.copy",
        argument: 1,
        keywords: &["dst"],
        extension: None,
    },
    Writer {
        call: "shutil.copy2",
        argument: 1,
        keywords: &["dst"],
        extension: None,
    },
    Writer {
        call: "shutil.copyfile",
        argument: 1,
        keywords: &["dst"],
        extension: None,
    },
    Writer {
        call: "shutil.move",
        argument: 1,
        keywords: &["dst"],
        extension: None,
    },
    Writer {
        call: "os.rename",
        argument: 1,
        keywords: &["dst"],
        extension: None,
    },
    Writer {
        call: "os.replace",
        argument: 1,
        keywords: &["dst"],
        extension: None,
    },
    Writer {
        call: "os.makedirs",
        argument: 0,
        keywords: &["name"],
        extension: None,
    },
    Writer {
        call: "os.mkdir",
        argument: 0,
        keywords: &["path"],
        extension: None,
    },
];

/// The path an expression names, as far as the text shows: a literal, an f-string (fields as
/// `*`), `os.path.join(…)`, `Path(…)`, the home folder (`~`), or a variable assigned one of
/// these; `None` for anything else.
pub(super) fn path_of(src: &str, expr: &str, depth: usize) -> Option<String> {
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
pub(super) fn literals_in(expr: &str) -> Vec<String> {
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

/// Whether the `open(…)` call at `at` opens for writing (its mode has w, a, x or +).
pub(super) fn open_mode_writes(src: &str, at: usize, call: &str) -> bool {
    let Some(args) = args_of(src, at, call) else {
        return false;
    };
    let parts = split_args(args);
    let mode = parts
        .iter()
        .find_map(|p| keyword(p).filter(|(k, _)| *k == "mode").map(|(_, v)| v))
        .or_else(|| parts.get(1).copied().filter(|p| keyword(p).is_none()))
        .and_then(python_literal);
    matches!(&mode, Some(Literal::Str(m)) if m.contains(['w', 'a', 'x', '+']))
}

/// The argument of a writer call (one of [`WRITERS`]) that names the file it writes.
pub(super) fn writer_argument(src: &str, at: usize, writer: &Writer) -> Option<String> {
    let parts = split_args(args_of(src, at, writer.call)?);
    let by_keyword = parts.iter().find_map(|p| {
        keyword(p)
            .filter(|(k, _)| writer.keywords.contains(k))
            .map(|(_, v)| v)
    });
    let positional: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| keyword(p).is_none())
        .collect();
    by_keyword
        .or_else(|| positional.get(writer.argument).copied())
        .map(str::to_string)
}

/// The files main.py visibly writes: `open(…, "w")` and the usual writers (pandas, matplotlib,
/// openpyxl, fpdf, reportlab, shutil), with the path as far as the text shows it.
pub(in crate::manifest) fn writes(src: &str) -> Vec<Access> {
    let mut written = Vec::new();
    let mut note = |at: usize, call: &str, path: Option<String>| {
        if let Some(path) = path {
            written.push(Access {
                path,
                line: line_at(src, at),
                call: call.trim_start_matches('.').to_string(),
            });
        }
    };
    for name in ["open", "io.open", "codecs.open"] {
        for at in calls(src, name) {
            if open_mode_writes(src, at, name) {
                let path = args_of(src, at, name)
                    .and_then(|args| split_args(args).first().and_then(|p| path_of(src, p, 0)));
                note(at, name, path);
            }
        }
    }
    for writer in WRITERS {
        for at in calls(src, writer.call) {
            let arg = writer_argument(src, at, writer);
            note(at, writer.call, arg.and_then(|a| path_of(src, &a, 0)));
        }
    }
    written.sort_by_key(|w| w.line);
    written
}

/// Fixed paths main.py reads: `open(…)` for reading and the readers above, with a path the
/// text shows.
pub(in crate::manifest) fn reads(src: &str) -> Vec<Access> {
    let mut read = Vec::new();
    let readers = ["open", "io.open", "codecs.open"]
        .iter()
        .chain(FILE_READERS)
        .chain(FOLDER_READERS);
    for call in readers {
        for at in calls(src, call) {
            if call.ends_with("open") && open_mode_writes(src, at, call) {
                continue;
            }
            let path = args_of(src, at, call)
                .and_then(|args| split_args(args).first().and_then(|p| path_of(src, p, 0)));
            if let Some(path) = path {
                read.push(Access {
                    path,
                    line: line_at(src, at),
                    call: call.trim_start_matches('.').to_string(),
                });
            }
        }
    }
    read.sort_by_key(|r| r.line);
    read
}
