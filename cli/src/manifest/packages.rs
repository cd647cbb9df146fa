//! Packages: what `requirements.txt` or the script's PEP 723 block (`# /// script`) declares,
//! and the imports that neither declares nor Python's standard library has. `push` sends the
//! declarations; the server resolves them into a lock that the reviewer approves.

use std::collections::BTreeSet;
use std::path::Path;

use model::requirements as rules;

use super::python;
use crate::error::{code, io_failure, Outcome};

pub(super) const REQUIREMENTS: &str = "requirements.txt";

/// The modules of Python 3.11's standard library (`sys.stdlib_module_names`), sorted.
const STDLIB: &[&str] = &[
    "__future__",
    "_abc",
    "_aix_support",
    "_ast",
    "_asyncio",
    "_bisect",
    "_blake2",
    "_bootsubprocess",
    "_bz2",
    "_codecs",
    "_codecs_cn",
    "_codecs_hk",
    "_codecs_iso2022",
    "_codecs_jp",
    "_codecs_kr",
    "_codecs_tw",
    "_collections",
    "_collections_abc",
    "_compat_pickle",
    "_compression",
    "_contextvars",
    "_crypt",
    "_csv",
    "_ctypes",
    "_curses",
    "_curses_panel",
    "_datetime",
    "_dbm",
    "_decimal",
    "_elementtree",
    "_frozen_importlib",
    "_frozen_importlib_external",
    "_functools",
    "_gdbm",
    "_hashlib",
    "_heapq",
    "_imp",
    "_io",
    "_json",
    "_locale",
    "_lsprof",
    "_lzma",
    "_markupbase",
    "_md5",
    "_msi",
    "_multibytecodec",
    "_multiprocessing",
    "_opcode",
    "_operator",
    "_osx_support",
    "_overlapped",
    "_pickle",
    "_posixshmem",
    "_posixsubprocess",
    "_py_abc",
    "_pydecimal",
    "_pyio",
    "_queue",
    "_random",
    "_scproxy",
    "_sha1",
    "_sha256",
    "_sha3",
    "_sha512",
    "_signal",
    "_sitebuiltins",
    "_socket",
    "_sqlite3",
    "_sre",
    "_ssl",
    "_stat",
    "_statistics",
    "_string",
    "_strptime",
    "_struct",
    "_symtable",
    "_thread",
    "_threading_local",
    "_tkinter",
    "_tokenize",
    "_tracemalloc",
    "_typing",
    "_uuid",
    "_warnings",
    "_weakref",
    "_weakrefset",
    "_winapi",
    "_zoneinfo",
    "abc",
    "aifc",
    "antigravity",
    "argparse",
    "array",
    "ast",
    "asynchat",
    "asyncio",
    "asyncore",
    "atexit",
    "audioop",
    "base64",
    "bdb",
    "binascii",
    "bisect",
    "builtins",
    "bz2",
    "cProfile",
    "calendar",
    "cgi",
    "cgitb",
    "chunk",
    "cmath",
    "cmd",
    "code",
    "codecs",
    "codeop",
    "collections",
    "colorsys",
    "compileall",
    "concurrent",
    "configparser",
    "contextlib",
    "contextvars",
    "copy",
    "copyreg",
    "crypt",
    "csv",
    "ctypes",
    "curses",
    "dataclasses",
    "datetime",
    "dbm",
    "decimal",
    "difflib",
    "dis",
    "distutils",
    "doctest",
    "email",
    "encodings",
    "ensurepip",
    "enum",
    "errno",
    "faulthandler",
    "fcntl",
    "filecmp",
    "fileinput",
    "fnmatch",
    "fractions",
    "ftplib",
    "functools",
    "gc",
    "genericpath",
    "getopt",
    "getpass",
    "gettext",
    "glob",
    "graphlib",
    "grp",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http",
    "idlelib",
    "imaplib",
    "imghdr",
    "imp",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "lib2to3",
    "linecache",
    "locale",
    "logging",
    "lzma",
    "mailbox",
    "mailcap",
    "marshal",
    "math",
    "mimetypes",
    "mmap",
    "modulefinder",
    "msilib",
    "msvcrt",
    "multiprocessing",
    "netrc",
    "nis",
    "nntplib",
    "nt",
    "ntpath",
    "nturl2path",
    "numbers",
    "opcode",
    "operator",
    "optparse",
    "os",
    "ossaudiodev",
    "pathlib",
    "pdb",
    "pickle",
    "pickletools",
    "pipes",
    "pkgutil",
    "platform",
    "plistlib",
    "poplib",
    "posix",
    "posixpath",
    "pprint",
    "profile",
    "pstats",
    "pty",
    "pwd",
    "py_compile",
    "pyclbr",
    "pydoc",
    "pydoc_data",
    "pyexpat",
    "queue",
    "quopri",
    "random",
    "re",
    "readline",
    "reprlib",
    "resource",
    "rlcompleter",
    "runpy",
    "sched",
    "secrets",
    "select",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "signal",
    "site",
    "smtpd",
    "smtplib",
    "sndhdr",
    "socket",
    "socketserver",
    "spwd",
    "sqlite3",
    "sre_compile",
    "sre_constants",
    "sre_parse",
    "ssl",
    "stat",
    "statistics",
    "string",
    "stringprep",
    "struct",
    "subprocess",
    "sunau",
    "symtable",
    "sys",
    "sysconfig",
    "syslog",
    "tabnanny",
    "tarfile",
    "telnetlib",
    "tempfile",
    "termios",
    "textwrap",
    "this",
    "threading",
    "time",
    "timeit",
    "tkinter",
    "token",
    "tokenize",
    "tomllib",
    "trace",
    "traceback",
    "tracemalloc",
    "tty",
    "turtle",
    "turtledemo",
    "types",
    "typing",
    "unicodedata",
    "unittest",
    "urllib",
    "uu",
    "uuid",
    "venv",
    "warnings",
    "wave",
    "weakref",
    "webbrowser",
    "winreg",
    "winsound",
    "wsgiref",
    "xdrlib",
    "xml",
    "xmlrpc",
    "zipapp",
    "zipfile",
    "zipimport",
    "zlib",
    "zoneinfo",
];

/// Modules whose package on PyPI has another name.
const PACKAGE_OF_MODULE: &[(&str, &str)] = &[
    ("Bio", "biopython"),
    ("Crypto", "pycryptodome"),
    ("Levenshtein", "python-Levenshtein"),
    ("MySQLdb", "mysqlclient"),
    ("OpenSSL", "pyOpenSSL"),
    ("PIL", "pillow"),
    ("attr", "attrs"),
    ("bs4", "beautifulsoup4"),
    ("cv2", "opencv-python"),
    ("dateutil", "python-dateutil"),
    ("docx", "python-docx"),
    ("dotenv", "python-dotenv"),
    ("fitz", "PyMuPDF"),
    ("fpdf", "fpdf2"),
    ("gi", "PyGObject"),
    ("googleapiclient", "google-api-python-client"),
    ("jose", "python-jose"),
    ("jwt", "PyJWT"),
    ("magic", "python-magic"),
    ("mpl_toolkits", "matplotlib"),
    ("pkg_resources", "setuptools"),
    ("pptx", "python-pptx"),
    ("serial", "pyserial"),
    ("skimage", "scikit-image"),
    ("sklearn", "scikit-learn"),
    ("slugify", "python-slugify"),
    ("telegram", "python-telegram-bot"),
    ("usb", "pyusb"),
    ("yaml", "PyYAML"),
    ("zmq", "pyzmq"),
];

fn in_stdlib(module: &str) -> bool {
    STDLIB.binary_search(&module).is_ok()
}

/// The package that provides `module`, by PyPI's name.
fn package_of(module: &str) -> &str {
    PACKAGE_OF_MODULE
        .iter()
        .find(|(m, _)| *m == module)
        .map_or(module, |(_, p)| p)
}

/// An import nothing declares.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Missing {
    pub module: String,
    /// The line to declare it with.
    pub requirement: String,
    pub file: String,
    pub line: usize,
}

impl Missing {
    pub(super) fn shown(&self) -> String {
        if rules::normalize(&self.module) == rules::normalize(&self.requirement) {
            format!("{} ({} line {})", self.module, self.file, self.line)
        } else {
            format!(
                "{} (package {}, {} line {})",
                self.module, self.requirement, self.file, self.line
            )
        }
    }
}

/// What `manifest init` says about packages.
#[derive(Debug, Default)]
pub(super) struct Report {
    /// The declared requirements and where: "requirements.txt" or "main.py's PEP 723 block".
    pub declared: Vec<String>,
    pub declared_in: Vec<&'static str>,
    pub requires_python: Option<String>,
    pub has_pep723: bool,
    pub undeclared: Vec<Missing>,
    /// Declarations the server will refuse, with their line and reason.
    pub problems: Vec<String>,
}

impl Report {
    /// `script`: main.py's text (a shell entry has none); `sources`: the files whose imports
    /// count; `local`: modules the folder itself provides.
    pub(super) fn of(
        script: Option<&str>,
        requirements: Option<&str>,
        sources: &[(String, String)],
        local: &BTreeSet<String>,
    ) -> Report {
        let mut report = Report::default();
        // The server's own rules, line by line, so that every refused line is named at once.
        if let Some(text) = requirements {
            report.declared_in.push("requirements.txt");
            for (line, requirement) in rules::requirements_txt_lines(text) {
                match rules::parse_requirement(&requirement) {
                    Ok(_) => report.declared.push(requirement),
                    Err(why) => report.problems.push(format!(
                        "requirements.txt line {line}: `{requirement}`: {why}."
                    )),
                }
            }
        }
        match script.map(rules::parse_inline_metadata) {
            None | Some(Ok(None)) => {}
            Some(Err(why)) => report.problems.push(format!("{why}.")),
            Some(Ok(Some(block))) => {
                report.has_pep723 = true;
                report.declared_in.push("main.py's PEP 723 block");
                report.requires_python = block.requires_python;
                report
                    .declared
                    .extend(block.requirements.into_iter().map(|r| r.text));
            }
        }
        if report.declared_in.len() == 2 && report.has_pep723 {
            report.problems.push(
                "packages are declared both in requirements.txt and in main.py's \
                 \"# /// script\" block; the server refuses that: keep one of them."
                    .into(),
            );
        }
        let mut declared: BTreeSet<String> = BTreeSet::new();
        for requirement in &report.declared {
            let Ok(rules::Requirement { name, .. }) = rules::parse_requirement(requirement) else {
                continue;
            };
            if !declared.insert(name.clone()) {
                report.problems.push(format!(
                    "{name} is declared more than once; the server refuses that."
                ));
            }
        }
        for (file, text) in sources {
            for (module, line) in python::imports(text) {
                let package = package_of(&module);
                if in_stdlib(&module)
                    || local.contains(&module)
                    || declared.contains(&rules::normalize(&module))
                    || declared.contains(&rules::normalize(package))
                    || report.undeclared.iter().any(|m| m.module == module)
                {
                    continue;
                }
                report.undeclared.push(Missing {
                    requirement: package.to_string(),
                    module,
                    file: file.clone(),
                    line,
                });
            }
        }
        report
    }

    /// One line: what is declared where.
    pub(super) fn summary(&self) -> String {
        if self.declared.is_empty() {
            return "none declared (the script runs with Python's standard library only)".into();
        }
        let python = self
            .requires_python
            .as_ref()
            .map(|r| format!("; requires-python {r}"))
            .unwrap_or_default();
        format!(
            "{} declares {}{python}. At push the server resolves them into a lock (exact \
             versions and hashes) that the reviewer approves with the code.",
            self.declared_in.join(" and "),
            self.declared.join(", ")
        )
    }
}

/// Appends requirement lines to `path`, creating it if missing.
pub(super) fn append_requirements(path: &Path, lines: &[String]) -> Outcome<()> {
    let mut text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_failure(code::FAILED, path.display(), e)),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| io_failure(code::FAILED, path.display(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(script: &str, requirements: Option<&str>, local: &[&str]) -> Report {
        let local = local.iter().map(|s| s.to_string()).collect();
        Report::of(
            Some(script),
            requirements,
            &[("main.py".into(), script.into())],
            &local,
        )
    }

    #[test]
    fn the_standard_library_list_is_sorted_and_complete_enough() {
        assert!(STDLIB.windows(2).all(|w| w[0] < w[1]));
        for m in [
            "os", "sys", "csv", "json", "argparse", "tomllib", "zoneinfo", "_thread",
        ] {
            assert!(in_stdlib(m), "{m}");
        }
        for m in ["pandas", "requests", "numpy", "openpyxl"] {
            assert!(!in_stdlib(m), "{m}");
        }
    }

    #[test]
    fn undeclared_imports_are_named_with_their_package() {
        let script = "import os, sys\nimport pandas as pd\nfrom openpyxl.styles import Font\n\
                      from PIL import Image\nimport helpers\nfrom . import sibling\n\
                      try:\n    import yaml\nexcept ImportError:\n    yaml = None\n\
                      \"\"\"\nimport not_code\n\"\"\"\n";
        let r = report(script, Some("Pandas>=2.1  # tables\n"), &["helpers"]);
        let missing: Vec<(&str, &str, usize)> = r
            .undeclared
            .iter()
            .map(|m| (m.module.as_str(), m.requirement.as_str(), m.line))
            .collect();
        assert_eq!(
            missing,
            [
                ("openpyxl", "openpyxl", 3),
                ("PIL", "pillow", 4),
                ("yaml", "PyYAML", 8)
            ]
        );
        assert_eq!(r.declared, ["Pandas>=2.1"]);
        assert!(r
            .summary()
            .starts_with("requirements.txt declares Pandas>=2.1."));
        assert_eq!(
            r.undeclared[1].shown(),
            "PIL (package pillow, main.py line 4)"
        );
    }

    #[test]
    fn a_pep723_block_declares_too() {
        let script = "# /// script\n# requires-python = \">=3.11\"\n# dependencies = [\n\
                      #   \"requests<3\",\n#   \"beautifulsoup4\",\n# ]\n# ///\n\
                      import requests\nfrom bs4 import BeautifulSoup\nimport lxml\n";
        let r = report(script, None, &[]);
        assert!(r.has_pep723);
        assert_eq!(r.declared, ["requests<3", "beautifulsoup4"]);
        assert_eq!(r.requires_python.as_deref(), Some(">=3.11"));
        let modules: Vec<&str> = r.undeclared.iter().map(|m| m.module.as_str()).collect();
        assert_eq!(modules, ["lxml"]);

        let broken = report("# /// script\n# dependencies = [\n", None, &[]);
        assert!(
            broken.problems[0].contains("not closed"),
            "{:?}",
            broken.problems
        );
    }

    #[test]
    fn lines_the_server_refuses_are_named() {
        let text = "requests==2.31.0 \\\n    --hash=sha256:abc\n-e ./lib\n\
                    git+https://github.com/x/y.git\nmypkg @ https://x/y.whl\n\
                    ./wheels/z.whl\n--index-url https://example.org/simple\n# comment\n\n\
                    openpyxl\n";
        let r = report("import requests, openpyxl\n", Some(text), &[]);
        assert_eq!(r.declared, ["openpyxl"]);
        // The server's own reasons, each naming its line.
        let expected = [
            (1, "has no valid version"),
            (3, "editable installs are refused"),
            (4, "VCS links are refused"),
            (5, "URLs are refused"),
            (6, "local paths and archives are refused"),
            (7, "pip options are refused"),
        ];
        assert_eq!(r.problems.len(), expected.len(), "{:?}", r.problems);
        for (problem, (line, why)) in r.problems.iter().zip(expected) {
            assert!(
                problem.starts_with(&format!("requirements.txt line {line}:"))
                    && problem.contains(why),
                "{problem}"
            );
        }
        // Refused, so not declared.
        let missing: Vec<&str> = r.undeclared.iter().map(|m| m.module.as_str()).collect();
        assert_eq!(missing, ["requests"]);

        let twice = report(
            "# /// script\n# dependencies = [\"pandas\"]\n# ///\nimport pandas\n",
            Some("Pandas\npandas>=2\n"),
            &[],
        );
        assert_eq!(twice.problems.len(), 3, "{:?}", twice.problems);
        assert!(twice.problems[0].contains("both in requirements.txt and in main.py's"));
        assert!(twice.problems[1].contains("pandas is declared more than once"));
    }

    #[test]
    fn requirements_are_appended() {
        let dir = std::env::temp_dir().join(format!("execgov-cli-req-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(REQUIREMENTS);
        std::fs::write(&path, "pandas").unwrap();
        append_requirements(&path, &["openpyxl".into(), "pillow".into()]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "pandas\nopenpyxl\npillow\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
