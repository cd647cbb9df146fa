//! Where a script's results go, and fixed paths it reads. A run keeps what lands in `output/`
//! and what an `artifacts` glob collects from the working folder; anything written elsewhere
//! (an absolute path, the home folder, above the working folder) is lost, and a fixed path
//! outside the skill is not there to read. `manifest init` says so and suggests the globs for
//! files written into the working folder.

/// A file the script writes or reads, with its path as far as the text shows it (`*` for
/// parts it builds at run time, a leading `~` for the home folder).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Access {
    pub path: String,
    pub line: usize,
    /// The call that writes or reads it (`to_excel`, `open`, `>`, `cat`).
    pub call: String,
}

/// A path outside the working folder: absolute (`/home/…`, `C:\…`) or in the home folder.
fn outside(path: &str) -> bool {
    let b = path.as_bytes();
    let windows =
        b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/');
    path.starts_with('/') || path.starts_with('~') || windows
}

/// Warnings for fixed paths outside the skill that the script reads (`/var/log/app.log`):
/// a run's sandbox has no such file. The system's own folders (`/usr`, `/etc`, …) are there.
pub(super) fn fixed_reads(entry: &str, read: &[Access]) -> Vec<String> {
    const SYSTEM: [&str; 8] = [
        "/dev/", "/proc/", "/sys/", "/usr/", "/etc/", "/bin/", "/lib/", "/work/",
    ];
    let mut warnings = Vec::new();
    let mut seen = Vec::new();
    for r in read {
        let path = r.path.trim();
        if !outside(path) || SYSTEM.iter().any(|s| path.starts_with(s)) || seen.contains(&path) {
            continue;
        }
        seen.push(path);
        warnings.push(format!(
            "{entry} line {}: {} reads {path}, a fixed path a run cannot see (it has only the \
             skill's folder and its inputs). Let the script take the path as an argument; \
             `manifest init` then makes it a file input in `args`.",
            r.line, r.call
        ));
    }
    warnings
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
pub(super) fn review(entry: &str, written: &[Access]) -> Results {
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
        let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
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
        } else if outside(path) {
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
        } else if let Some(glob) =
            glob_for(path).filter(|g| model::invocation::check_glob(g).is_ok())
        {
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

    fn w(path: &str) -> Access {
        Access {
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
                w("run[1]/data.csv"),
                Access {
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
    fn fixed_paths_read_outside_the_skill_are_warned_about() {
        let read = |path: &str| Access {
            path: path.into(),
            line: 3,
            call: "read_csv".into(),
        };
        let warnings = fixed_reads(
            "main.py",
            &[
                read("/var/log/apache2/access.log"),
                read("C:\\Users\\anna\\sales.csv"),
                read("~/data.csv"),
                read("/usr/share/dict/words"),
                read("data.csv"),
                read("/var/log/apache2/access.log"),
            ],
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with(
            "main.py line 3: read_csv reads /var/log/apache2/access.log, a fixed path"
        ));
        assert!(warnings[1].contains("C:\\Users\\anna\\sales.csv"));
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
                w("C:\\Users\\anna\\out.xlsx"),
            ],
        );
        assert!(r.artifacts.is_empty());
        assert_eq!(r.warnings.len(), 4, "{:?}", r.warnings);
        assert!(
            r.warnings[3].contains("output/out.xlsx"),
            "{:?}",
            r.warnings
        );
        assert!(r.warnings[0].contains("main.py line 7: to_excel writes /home/anna/Desktop/rates.xlsx, outside the working folder"));
        assert!(r.warnings[0].contains("output/rates.xlsx"));
        assert!(r.warnings[1].contains("home folder"));
        assert!(r.warnings[2].contains("above the working folder"));
    }
}
