//! Types for inputs the script does not type itself, from their name and what the script says
//! about them (help text, prompt, default): a path to read becomes a `file` (or `folder`)
//! input; a path the script writes to gets a default under `output/`, so the result comes back.

use super::{Input, Literal, Via};

/// What a path-like input is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PathRole {
    ReadFile,
    ReadFolder,
    WriteFile,
    WriteFolder,
}

/// What a script visibly does with a path it is given (`os.listdir(path)`: reads a folder;
/// `df.to_excel(out)`: writes an xlsx file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Usage {
    pub role: PathRole,
    /// The kind of file written there, when the call says.
    pub extension: Option<&'static str>,
}

impl Usage {
    pub(super) fn of(role: PathRole) -> Usage {
        Usage {
            role,
            extension: None,
        }
    }
}

/// The last word of a name that makes it a file to read (`log_file`, `input`, `csv`).
const FILE_WORDS: &[&str] = &[
    "file",
    "filename",
    "filepath",
    "path",
    "csv",
    "tsv",
    "xlsx",
    "xls",
    "excel",
    "workbook",
    "spreadsheet",
    "sheet",
    "json",
    "pdf",
    "log",
    "logfile",
    "image",
    "img",
    "photo",
    "doc",
    "docx",
    "document",
    "data",
    "dataset",
    "upload",
    "attachment",
    "input",
    "infile",
    "inpath",
    "source",
    "src",
    "template",
];
const GENERIC_WORDS: &[&str] = &["path", "input", "inpath", "source", "src", "data"];
const FOLDER_WORDS: &[&str] = &["dir", "directory", "folder", "folders", "root", "outdir"];
/// First words of a name that make it where results go.
const WRITE_NAMES: &[&str] = &[
    "out",
    "output",
    "outfile",
    "outdir",
    "outpath",
    "dest",
    "destination",
    "save",
    "export",
];
const READ_NAMES: &[&str] = &["in", "input", "infile", "inpath", "src", "source"];
const WRITE_HINTS: &[&str] = &[
    "output",
    "write",
    "written",
    "save",
    "saved",
    "destination",
    "export",
];
const READ_HINTS: &[&str] = &[
    "input", "read", "load", "source", "process", "analyse", "analyze", "scan", "parse", "open",
    "convert",
];
const FILE_HINTS: &[&str] = &[
    "file",
    "path",
    "csv",
    "tsv",
    "xlsx",
    "xls",
    "excel",
    "workbook",
    "spreadsheet",
    "pdf",
    "json",
    "log",
];
const EXTENSIONS: &[&str] = &[
    "xlsx", "xls", "csv", "tsv", "json", "pdf", "md", "txt", "html", "png", "jpg", "zip", "log",
    "xml", "docx",
];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase())
        .collect()
}

/// A file extension a text names (`report.xlsx`, "an .xlsx file").
fn dotted_extension(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    EXTENSIONS.iter().copied().find(|e| {
        lower.match_indices(&format!(".{e}")).any(|(i, _)| {
            !lower[i + e.len() + 1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
        })
    })
}

/// The kind of file a help text speaks of: an extension, or a word like "excel".
fn extension(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    let dotted = dotted_extension(&lower);
    // "the output excel file"
    let named = || {
        words(&lower).iter().find_map(|w| match w.as_str() {
            "excel" | "xlsx" | "workbook" => Some("xlsx"),
            "csv" => Some("csv"),
            "pdf" => Some("pdf"),
            "json" => Some("json"),
            "html" => Some("html"),
            "markdown" => Some("md"),
            _ => None,
        })
    };
    dotted.or_else(named)
}

/// Whether `name` (with its help text or prompt, and default) is a path, and which way.
pub(super) fn path_role(name: &str, hint: &str, default: Option<&str>) -> Option<PathRole> {
    let parts: Vec<&str> = name.split('_').filter(|p| !p.is_empty()).collect();
    let first = parts.first().copied().unwrap_or("");
    let last = parts.last().copied().unwrap_or("");
    let hints = words(hint);
    let has = |list: &[&str]| hints.iter().any(|w| list.contains(&w.as_str()));

    let named_folder = parts.iter().any(|p| FOLDER_WORDS.contains(p));
    let named_file = FILE_WORDS.contains(&last) || READ_NAMES.contains(&first);
    // `path`, `input`, `source`: a folder when the help says so; `log_file` stays a file.
    let specific_file = FILE_WORDS.contains(&last) && !GENERIC_WORDS.contains(&last);
    let folder = named_folder || (has(&["folder", "directory", "dir"]) && !specific_file);
    let file = named_file
        || has(FILE_HINTS)
        || default.and_then(dotted_extension).is_some()
        || (WRITE_NAMES.contains(&first) && (extension(hint).is_some()));
    let write = if READ_NAMES.contains(&first) {
        false
    } else if WRITE_NAMES.contains(&first) || ["out", "output", "dest"].contains(&last) {
        true
    } else {
        has(WRITE_HINTS) && !has(READ_HINTS)
    };
    match (folder, file, write) {
        (true, _, false) => Some(PathRole::ReadFolder),
        (true, _, true) => Some(PathRole::WriteFolder),
        (false, true, false) => Some(PathRole::ReadFile),
        (false, true, true) => Some(PathRole::WriteFile),
        // `--output` alone: where results go, a file or a folder.
        (false, false, true) if WRITE_NAMES.contains(&first) => Some(PathRole::WriteFile),
        _ => None,
    }
}

/// The input type for a folder: `folder` once the product has it, a path as text before.
pub(super) fn folder_kind() -> &'static str {
    model::skill::InputType::ALL
        .iter()
        .map(|t| t.as_str())
        .find(|t| *t == "folder")
        .unwrap_or("string")
}

/// Where a written path should point so the result comes back: under `output/`, keeping the
/// script's own file name when it has one.
pub(super) fn output_path(
    name: &str,
    role: PathRole,
    extension: Option<&str>,
    default: Option<&str>,
) -> String {
    if role == PathRole::WriteFolder {
        return "output".into();
    }
    let base = default
        .map(|d| d.trim_end_matches('/'))
        .and_then(|d| d.rsplit(['/', '\\']).next())
        .filter(|b| !b.is_empty() && !b.contains('{') && *b != "." && *b != "..");
    match base {
        Some(b) => format!("output/{b}"),
        None => match extension {
            Some(e) => format!("output/{name}.{e}"),
            None => format!("output/{name}"),
        },
    }
}

/// Gives an input the script left untyped a path type when its name or help says so.
pub(super) fn settle(input: &mut Input) {
    if !input.type_guessed || input.kind != "string" {
        return;
    }
    let hint = input.description.clone().unwrap_or_default();
    let default = input
        .default
        .as_ref()
        .and_then(Literal::as_str)
        .map(str::to_string);
    let role = input
        .used_as
        .map(|u| u.role)
        .or_else(|| path_role(&input.name, &hint, default.as_deref()));
    let written = input.used_as.and_then(|u| u.extension);
    let Some(role) = role else {
        return;
    };
    match role {
        PathRole::ReadFile => input.kind = "file",
        PathRole::ReadFolder => input.kind = folder_kind(),
        // A script written for ExecGov already writes where it should.
        PathRole::WriteFile | PathRole::WriteFolder if input.via == Via::Inputs => {}
        PathRole::WriteFile | PathRole::WriteFolder => {
            let extension = written.or_else(|| extension(&hint));
            let path = output_path(&input.name, role, extension, default.as_deref());
            input.found.push_str(&format!(
                "; where the script writes: {path:?} puts it under output/, which comes back"
            ));
            input.default = Some(Literal::Str(path));
            input.required = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PathRole::*;

    #[test]
    fn paths_are_told_from_names_and_help() {
        let role = |n, h| path_role(n, h, None);
        assert_eq!(role("input_file", ""), Some(ReadFile));
        assert_eq!(role("csv", ""), Some(ReadFile));
        assert_eq!(role("data", "The CSV to read"), Some(ReadFile));
        assert_eq!(role("logfile", ""), Some(ReadFile));
        assert_eq!(role("source", "Where the sales export is"), Some(ReadFile));
        assert_eq!(role("path", "Path of the folder to scan"), Some(ReadFolder));
        assert_eq!(role("directory", ""), Some(ReadFolder));
        assert_eq!(role("output", "Excel file to write"), Some(WriteFile));
        assert_eq!(role("output", ""), Some(WriteFile));
        assert_eq!(role("out_dir", ""), Some(WriteFolder));
        assert_eq!(role("dest", "Where to save the report"), Some(WriteFile));
        assert_eq!(
            role("input", "Input CSV to convert to an Excel output"),
            Some(ReadFile)
        );
        assert_eq!(role("log_level", "DEBUG or INFO"), None);
        assert_eq!(role("top", "How many rows"), None);
        assert_eq!(role("name", "Your name"), None);
        assert_eq!(
            path_role("config", "", Some("settings.json")),
            Some(ReadFile)
        );
    }

    #[test]
    fn written_paths_move_under_output() {
        assert_eq!(
            output_path("output", WriteFile, None, Some("/home/me/report.xlsx")),
            "output/report.xlsx"
        );
        assert_eq!(
            output_path("out", WriteFile, extension("the .xlsx to write"), None),
            "output/out.xlsx"
        );
        assert_eq!(output_path("out_dir", WriteFolder, None, None), "output");
        assert_eq!(
            extension("specify the output excel file name"),
            Some("xlsx")
        );
        assert_eq!(extension("a CSV, or data.json"), Some("json"));
    }

    #[test]
    fn settle_types_only_what_the_script_left_untyped() {
        let mut data = Input::seen(
            "data".into(),
            Via::Argument {
                flag: None,
                position: 1,
            },
            "x".into(),
        );
        settle(&mut data);
        assert_eq!(data.kind, "file");

        let mut out = Input::seen(
            "output".into(),
            Via::Argument {
                flag: Some("--output".into()),
                position: 0,
            },
            "x".into(),
        );
        out.default = Some(Literal::Str("summary.xlsx".into()));
        settle(&mut out);
        assert_eq!(out.kind, "string");
        assert_eq!(
            out.default,
            Some(Literal::Str("output/summary.xlsx".into()))
        );
        assert!(!out.required);

        let mut typed = Input::seen("data".into(), Via::Stdin, "x".into());
        typed.kind = "integer";
        typed.type_guessed = false;
        settle(&mut typed);
        assert_eq!(typed.kind, "integer");

        let mut folder = Input::seen("folder".into(), Via::Stdin, "x".into());
        settle(&mut folder);
        assert_eq!(folder.kind, folder_kind());

        // What the script does with it beats its name.
        let mut path = Input::seen("path".into(), Via::Stdin, "x".into());
        path.used_as = Some(Usage::of(ReadFolder));
        settle(&mut path);
        assert_eq!(path.kind, folder_kind());
        let mut report = Input::seen("report".into(), Via::Stdin, "x".into());
        report.used_as = Some(Usage {
            role: WriteFile,
            extension: Some("csv"),
        });
        settle(&mut report);
        assert_eq!(
            report.default,
            Some(Literal::Str("output/report.csv".into()))
        );
    }
}
