//! Where a script's results go. A run keeps what lands in `output/` and what an `artifacts`
//! glob collects from the working folder; anything written elsewhere (an absolute path, the
//! home folder, above the working folder) is lost, so `manifest init` says so and suggests
//! the globs for files written into the working folder.

/// A file the script writes, with its path as far as the text shows it (`*` for parts it
/// builds at run time, a leading `~` for the home folder).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Written {
    pub path: String,
    pub line: usize,
    /// The call that writes it (`to_excel`, `open`, `>`).
    pub call: String,
}

/// What the draft makes of the writes.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Results {
    /// Globs for files written into the working folder, outside `output/`.
    pub artifacts: Vec<String>,
    /// Results that would be lost.
    pub warnings: Vec<String>,
}

/// Sorts the writes into those that come back (`output/`), those an artifacts glob brings
/// back, and those that are lost.
pub(super) fn review(entry: &str, written: &[Written]) -> Results {
    let mut results = Results::default();
    let mut seen = Vec::new();
    for w in written {
        let path = w.path.trim();
        // Said once per file, at its first write.
        if seen.contains(&path) {
            continue;
        }
        seen.push(path);
        let at = format!("{entry} line {}: {} writes {path}", w.line, w.call);
        let base = path.rsplit('/').next().unwrap_or(path);
        let in_output = format!("output/{}", if base.is_empty() { "…" } else { base });
        // A path built entirely at run time (`"$report"`, `f"{name}"`) says nothing.
        let unknown = !path.chars().any(|c| c.is_alphanumeric() || c == '~');
        if unknown || path.starts_with("/dev/") || under_output(path) {
            continue;
        }
        let folder = w.call.ends_with("mkdir") || w.call.ends_with("makedirs");
        if path.starts_with('~') {
            results.warnings.push(format!(
                "{at}, in the home folder: at run time that is the working folder and the file \
                 is not kept; write it to {in_output} instead."
            ));
        } else if path.starts_with('/') {
            results.warnings.push(format!(
                "{at}, outside the working folder: at run time it is lost or refused; write it \
                 to {in_output} instead."
            ));
        } else if path.split('/').any(|part| part == "..") {
            results.warnings.push(format!(
                "{at}, above the working folder: at run time it is lost; write it to \
                 {in_output} instead."
            ));
        } else if folder || (path.starts_with('*') && path.contains('/')) {
            // A folder it makes, or `f"{folder}/report.csv"` under a folder it is given:
            // nothing to glob.
        } else if let Some(glob) = glob_for(path) {
            if !results.artifacts.contains(&glob) {
                results.artifacts.push(glob);
            }
        }
    }
    results
}

fn under_output(path: &str) -> bool {
    let p = path.trim_start_matches("./");
    p == "output"
        || p.starts_with("output/")
        || p.starts_with("/work/output")
        || p.contains("EXECGOV_OUTPUT")
}

/// A glob that collects a relative path and its siblings of the same kind:
/// `summary.xlsx` → `*.xlsx`, `reports/week.md` → `reports/*.md`, `out/*` for no extension.
fn glob_for(path: &str) -> Option<String> {
    let p = path.trim_start_matches("./");
    let (dir, file) = match p.rsplit_once('/') {
        Some((d, f)) => (Some(d), f),
        None => (None, p),
    };
    if file.is_empty() || dir.is_some_and(|d| d.contains('*')) {
        return None;
    }
    let pattern = match file.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && !ext.is_empty()
                && ext.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            format!("*.{ext}")
        }
        _ if file.contains('*') => "*".to_string(),
        _ => file.to_string(),
    };
    Some(match dir {
        Some(d) => format!("{d}/{pattern}"),
        None => pattern,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(path: &str) -> Written {
        Written {
            path: path.into(),
            line: 7,
            call: "to_excel".into(),
        }
    }

    #[test]
    fn files_in_the_working_folder_get_a_glob() {
        let r = review(
            "main.py",
            &[
                w("summary.xlsx"),
                w("*_report.xlsx"),
                w("reports/week.md"),
                w("output/done.csv"),
                w("./output"),
                w("*/sorted.csv"),
                w("notes"),
                w("*"),
                Written {
                    path: "reports".into(),
                    line: 2,
                    call: "os.makedirs".into(),
                },
            ],
        );
        assert_eq!(r.artifacts, ["*.xlsx", "reports/*.md", "notes"]);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn writes_outside_the_working_folder_are_warned_about() {
        let r = review(
            "main.py",
            &[
                w("/home/anna/Desktop/rates.xlsx"),
                w("~/receipts/*.pdf"),
                w("../shared/out.csv"),
                w("/dev/null"),
                w("/work/output/x.csv"),
            ],
        );
        assert!(r.artifacts.is_empty());
        assert_eq!(r.warnings.len(), 3, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("main.py line 7: to_excel writes /home/anna/Desktop/rates.xlsx, outside the working folder"));
        assert!(r.warnings[0].contains("output/rates.xlsx"));
        assert!(r.warnings[1].contains("home folder"));
        assert!(r.warnings[2].contains("above the working folder"));
    }
}
