//! The shell detectors, on sample scripts like those people bring (`cli/tests/fixtures`).

use super::*;

const LOG_ANALYSER: &str = include_str!("../../../tests/fixtures/scripts/log-analyser/main.sh");

fn names(inputs: &[Input]) -> Vec<&str> {
    inputs.iter().map(|i| i.name.as_str()).collect()
}

#[test]
fn getopts_options_and_switches() {
    let found = inputs(LOG_ANALYSER);
    // `$1` of usage() and awk's `$1` are not the script's arguments; -h is help.
    assert_eq!(names(&found), ["logfile", "top", "errors_only"]);
    assert_eq!(
        found[0].via,
        Via::Argument {
            flag: Some("-f".into()),
            position: 0
        }
    );
    // `top=10` before the loop.
    assert_eq!(
        (found[1].kind, found[1].default.clone()),
        ("integer", Some(Literal::Int(10)))
    );
    assert_eq!(found[0].default, None);
    assert_eq!(found[2].kind, "boolean");
    assert_eq!(found[2].via, Via::Switch { flag: "-e".into() });
}

#[test]
fn positional_arguments_and_defaults() {
    let src = "#!/bin/bash\ninput_file=\"$1\"\nlimit=\"${2:-5}\"\nmain() {\n  echo \"$3\"\n}\nmain \"$@\"\n\
               name=$(jq -r '.greeting' \"$EXECGOV_INPUTS\")\n";
    let found = inputs(src);
    assert_eq!(names(&found), ["input_file", "limit", "arg3", "greeting"]);
    assert_eq!(found[1].default, Some(Literal::Int(5)));
    assert!(found[0].required && !found[1].required);
    assert_eq!(
        found[1].via,
        Via::Argument {
            flag: None,
            position: 2
        }
    );
    assert_eq!(found[3].via, Via::Inputs);

    let all = inputs("for file in \"$@\"; do\n  wc -l \"$file\"\ndone\n");
    assert_eq!(names(&all), ["file"]);
}

#[test]
fn read_prompts_become_stdin() {
    let src = "read -r -p \"Days to keep: \" days\necho -n \"Really delete? (y/n) \"\nread answer\n\
               while read -r line; do echo \"$line\"; done < list.txt\ncat x | while read l; do :; done\nread\n";
    let found = inputs(src);
    // A bare `read` (press Enter) is a line too.
    assert_eq!(names(&found), ["days", "answer", "answer"]);
    assert!(found.iter().all(|i| i.via == Via::Stdin));
    assert_eq!(found[0].description.as_deref(), Some("Days to keep"));
    assert_eq!(found[1].choices, ["y", "n"]);
}

#[test]
fn the_name_is_the_first_comment() {
    assert_eq!(title(LOG_ANALYSER).as_deref(), Some("Apache log analyser"));
    assert_eq!(title("#!/bin/sh\n# Usage: run.sh FILE\n"), None);
    assert_eq!(title("#!/bin/sh\nset -e\n# Late comment\n"), None);
}

#[test]
fn writes_by_redirection_tee_and_mkdir() {
    let shown: Vec<(String, String)> = writes(LOG_ANALYSER)
        .into_iter()
        .map(|w| (w.call, w.path))
        .collect();
    assert_eq!(
        shown,
        [
            (">".to_string(), "~/log_report.txt".to_string()),
            (">".to_string(), "~/log_report.txt".to_string()),
            (">".to_string(), "errors.txt".to_string()),
        ]
    );
    let src =
        "mkdir -p /var/reports\necho hi | tee -a \"$EXECGOV_OUTPUT/log.txt\"\nls >/dev/null 2>&1\n";
    let shown: Vec<(String, String)> = writes(src).into_iter().map(|w| (w.call, w.path)).collect();
    assert_eq!(
        shown,
        [
            ("mkdir".to_string(), "/var/reports".to_string()),
            ("tee".to_string(), "output/log.txt".to_string()),
            (">".to_string(), "/dev/null".to_string()),
        ]
    );
}

#[test]
fn what_the_script_does_with_a_variable_types_it() {
    use PathRole::*;
    let cases: [(&str, &str, Option<PathRole>); 7] = [
        ("cd \"$target\" || exit 1\n", "target", Some(ReadFolder)),
        (
            "for f in \"$dir\"/*.log; do :; done\n",
            "dir",
            Some(ReadFolder),
        ),
        (
            "if [ -d \"${src}\" ]; then :; fi\n",
            "src",
            Some(ReadFolder),
        ),
        ("awk '{print $1}' \"$log\" | sort\n", "log", Some(ReadFile)),
        (
            "while read l; do :; done < \"$list\"\n",
            "list",
            Some(ReadFile),
        ),
        ("cat \"$in\" > \"$out\"\n", "out", Some(WriteFile)),
        ("echo \"$name\"\n", "name", None),
    ];
    for (src, name, role) in cases {
        assert_eq!(usage(src, name), role, "{src}");
    }
    let found = inputs("#!/bin/sh\nfind \"$1\" -name '*.tmp' -delete\n");
    assert_eq!(found[0].used_as.map(|u| u.role), Some(ReadFolder));
}

#[test]
fn a_case_loop_of_long_options() {
    let src = r#"#!/usr/bin/env bash
set -euo pipefail
limit=5
file=""
verbose=0
usage() { echo "usage: $0 --file PATH [--limit N] [-v]" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        -f|--file)
            file="$2"
            shift 2
            ;;
        -n|--limit) limit="$2"; shift 2 ;;
        -v|--verbose) verbose=1; shift ;;
        -h|--help) usage ;;
        *) echo "unknown: $1" >&2; exit 1 ;;
    esac
done
awk '{print $1}' "$file" | sort | uniq -c | sort -rn | head -n "$limit"
"#;
    let found = inputs(src);
    assert_eq!(names(&found), ["file", "limit", "verbose"]);
    assert_eq!(
        found[0].via,
        Via::Argument {
            flag: Some("--file".into()),
            position: 0
        }
    );
    assert_eq!(found[0].used_as.map(|u| u.role), Some(PathRole::ReadFile));
    assert_eq!(
        (found[1].kind, found[1].default.clone()),
        ("integer", Some(Literal::Int(5)))
    );
    assert_eq!(
        found[2].via,
        Via::Switch {
            flag: "--verbose".into()
        }
    );
    assert_eq!(
        inputs("nb_show=${1:-20}\n")[0].default,
        Some(Literal::Int(20))
    );
}

#[test]
fn fixed_paths_it_reads() {
    let src = "#!/bin/bash\nlog_file=\"/var/log/apache2/access.log\"\n\
               awk '{print $1}' \"$log_file\" | sort | uniq -c | sort -nr > top.txt\n\
               grep -c error < /srv/app/error.log 2>&1\ncat notes.txt >> \"$HOME/all.txt\"\n";
    // Every argument of a reading command is a candidate; `fixed_reads` keeps the paths.
    let shown: Vec<(usize, String, String)> = reads(src)
        .into_iter()
        .map(|r| (r.line, r.call, r.path))
        .collect();
    assert_eq!(
        shown,
        [
            (3, "awk".to_string(), "{print *}".to_string()),
            (
                3,
                "awk".to_string(),
                "/var/log/apache2/access.log".to_string()
            ),
            (4, "grep".to_string(), "error".to_string()),
            (4, "<".to_string(), "/srv/app/error.log".to_string()),
            (5, "cat".to_string(), "notes.txt".to_string()),
        ]
    );
}
