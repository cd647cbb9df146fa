//! The whole draft, from sample folders like those people bring (`cli/tests/fixtures/scripts`).

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scripts")
        .join(name)
}

fn draft(name: &str) -> Draft {
    Draft::of(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn an_argparse_converter_is_started_with_its_arguments() {
    let d = draft("csv-to-excel");
    // The README's first heading is not a title; the docstring names it.
    assert_eq!(d.name, "csv2excel");
    // Nor is the paragraph under it a description; the docstring's is.
    assert_eq!(
        d.description.as_deref(),
        Some("csv2excel - convert a CSV export into a formatted Excel workbook.")
    );
    assert_eq!(
        d.args,
        [
            "--output",
            "{output}",
            "--sheet-name",
            "{sheet_name}",
            "--delimiter",
            "{delimiter}",
            "--skip-rows",
            "{skip_rows}",
            "{no_index?--no-index}",
            "{verbose?--verbose}",
            "{input_csv}"
        ]
    );
    assert!(d.stdin.is_empty());
    let kinds: Vec<(&str, &str, bool)> = d
        .inputs
        .iter()
        .map(|i| (i.name.as_str(), i.kind, i.required))
        .collect();
    assert_eq!(
        kinds,
        [
            ("input_csv", "file", true),
            ("output", "string", false),
            ("sheet_name", "string", false),
            ("delimiter", "enum", false),
            ("skip_rows", "integer", false),
            ("no_index", "boolean", false),
            ("verbose", "boolean", false),
        ]
    );
    // Its output file lands in output/, so it comes back.
    assert_eq!(
        d.inputs[1].default,
        Some(Literal::Str("output/converted.xlsx".into()))
    );
    let missing: Vec<&str> = d
        .packages
        .undeclared
        .iter()
        .map(|m| m.requirement.as_str())
        .collect();
    assert_eq!(missing, ["pandas", "openpyxl"]);
    assert!(
        d.notes.iter().all(|n| !n.contains("EXECGOV_INPUTS")),
        "{:?}",
        d.notes
    );
}

#[test]
fn a_getopts_script_gets_its_options_and_a_warning_about_home() {
    let d = draft("log-analyser");
    assert_eq!(d.name, "Apache log analyser");
    assert_eq!(
        d.args,
        ["-f", "{logfile}", "-n", "{top}", "{errors_only?-e}"]
    );
    assert_eq!(d.inputs[0].kind, "file");
    assert_eq!(d.artifacts, ["*.txt"]);
    assert_eq!(d.warnings.len(), 1, "once per file: {:?}", d.warnings);
    assert!(
        d.warnings[0].contains("main.sh line 26: > writes ~/log_report.txt, in the home folder")
    );
    assert!(d.warnings[0].contains("output/log_report.txt"));
}

#[test]
fn keyboard_prompts_are_answered_from_stdin() {
    let d = draft("folder-organiser");
    // "# Installation" is not a name; neither is anything in the script: the folder's.
    assert_eq!(d.name, "Folder organiser");
    assert_eq!(d.stdin, ["{folder}", "{answer}"]);
    assert!(d.args.is_empty());
    assert_eq!(d.inputs[0].kind, guess::folder_kind());
    assert_eq!(d.description, None, "not the README's installation notes");
    assert_eq!(d.inputs[1].choices, ["y", "n"]);
}

#[test]
fn sys_argv_and_files_written_into_the_working_folder() {
    let d = draft("duplicate-finder");
    assert_eq!(d.name, "Duplicate file finder");
    assert_eq!(d.args, ["{directory}", "{min_size}"]);
    assert_eq!(d.artifacts, ["*.csv"]);
    assert_eq!(d.output.as_deref(), Some("Files to download: *.csv."));
    assert_eq!(
        d.description.as_deref(),
        Some("Finds duplicate files by content.")
    );
    assert!(d.packages.undeclared.is_empty());
}

#[test]
fn a_pep723_scraper_with_absolute_paths() {
    let d = draft("exchange-rates");
    assert_eq!(d.name, "Exchange rate scraper");
    assert_eq!(d.stdin, ["{base}"]);
    assert!(d.packages.has_pep723);
    assert_eq!(d.packages.declared, ["requests>=2.31", "beautifulsoup4"]);
    let missing: Vec<&str> = d
        .packages
        .undeclared
        .iter()
        .map(|m| m.module.as_str())
        .collect();
    assert_eq!(missing, ["openpyxl"]);
    assert_eq!(d.warnings.len(), 2, "{:?}", d.warnings);
    assert!(d.warnings[0].contains("/home/anna/Desktop/rates.xlsx, outside the working folder"));
    assert!(d.warnings[1].contains("~/rates.log, in the home folder"));
    assert!(d.artifacts.is_empty());
}

#[test]
fn requirements_txt_is_reported_and_artifacts_are_suggested() {
    let d = draft("receipt-maker");
    assert_eq!(d.name, "Make a PDF receipt for a customer");
    assert_eq!(
        d.description.as_deref(),
        Some("Make a PDF receipt for a customer.")
    );
    assert_eq!(d.packages.declared, ["fpdf2>=2.7"]);
    assert!(d.packages.undeclared.is_empty(), "fpdf comes from fpdf2");
    assert_eq!(d.artifacts, ["*.pdf"]);
    assert_eq!(
        d.args,
        [
            "--customer",
            "{customer}",
            "--amount",
            "{amount}",
            "--currency",
            "{currency}",
            "--logo",
            "{logo}"
        ]
    );
    assert_eq!(d.inputs[3].kind, "file");

    let d = draft("sales-report");
    assert_eq!(d.name, "Monthly sales report");
    assert_eq!(d.artifacts, ["reports/*.csv", "reports/*.png"]);
    assert!(d.packages.undeclared.is_empty());
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

#[test]
fn the_draft_is_toml_with_the_templates_and_no_placeholder_when_all_is_known() {
    let d = draft("sales-report");
    let text = d.to_toml();
    let value: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let list = |key: &str| -> Vec<String> {
        value[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        list("args"),
        ["--data", "{data}", "--month", "{month}", "--top", "{top}"]
    );
    assert_eq!(list("artifacts"), ["reports/*.csv", "reports/*.png"]);
    assert!(value.get("stdin").is_none());
    assert_eq!(placeholders::find(&text), []);

    let text = draft("folder-organiser").to_toml();
    let todo: Vec<String> = placeholders::find(&text)
        .into_iter()
        .map(|p| p.key)
        .collect();
    assert_eq!(todo, ["description", "output"], "{text}");
}

#[test]
fn names_taken_twice_are_kept_apart() {
    let arg = Input::seen(
        "name".into(),
        Via::Argument {
            flag: Some("--name".into()),
            position: 0,
        },
        "x".into(),
    );
    let prompt = Input::seen("name".into(), Via::Stdin, "y".into());
    let read = Input::seen("name".into(), Via::Inputs, "z".into());
    let (kept, dropped) = distinct(vec![arg, prompt, read]);
    assert_eq!(dropped, 0);
    let names: Vec<&str> = kept.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["name", "name_2"]);
    assert_eq!(args_template(&kept), ["--name", "{name}"]);
}

#[test]
fn literal_braces_in_flags_are_escaped() {
    let odd = Input::seen(
        "x".into(),
        Via::Argument {
            flag: Some("--{x}".into()),
            position: 0,
        },
        "x".into(),
    );
    assert_eq!(args_template(&[odd]), ["--{{x}}", "{x}"]);
}

#[test]
fn readme_gives_name_description_and_output() {
    let readme = "# CSV **summariser**\n\n[![badge](x)](y)\n\nReads a [CSV](https://x) file\nand summarises it.\n\n## Outputs\n\n- **Result**: a table.\n- `report.md`: a report.\n";
    assert_eq!(readme::readme_title(readme).unwrap(), "CSV summariser");
    assert_eq!(
        readme::first_paragraph(readme).unwrap(),
        "Reads a CSV file and summarises it."
    );
    assert_eq!(
        readme::readme_output(readme).unwrap(),
        "Result: a table; report.md: a report."
    );
    for heading in [
        "# Explanation of Modifications",
        "# Usage",
        "# Installation",
        "# README",
        "# main.py",
        "# python convert.py --in data.csv",
    ] {
        assert_eq!(readme::readme_title(heading), None, "{heading}");
    }
    assert_eq!(
        readme::readme_title("# Currency-Exchange-Rate-Scraper\n").as_deref(),
        Some("Currency Exchange Rate Scraper")
    );
    // Only the first H1 counts, and never one inside a code block.
    assert_eq!(
        readme::readme_title("```\n# pip install x\n```\n# Rates\n").as_deref(),
        Some("Rates")
    );
    assert_eq!(readme::readme_title("# Usage\n# Rates\n"), None);
}

#[test]
fn slugs_follow_the_product() {
    assert_eq!(slugify("CSV summariser (v2)"), "csv-summariser-v2");
    assert!(valid_slug(&slugify("my_skill")));
    assert!(!valid_slug(&slugify("é")));
}

#[test]
fn a_shell_entry_point_s_python_helpers_count_for_packages() {
    let dir = std::env::temp_dir().join(format!("execgov-cli-sh-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.sh"), "#!/bin/sh\npython3 report.py \"$1\"\n").unwrap();
    std::fs::write(dir.join("report.py"), "import sys\nimport requests\n").unwrap();
    std::fs::write(dir.join("README.md"), "# Report\n\nReports.\n").unwrap();
    let d = Draft::of(&dir).unwrap();
    let missing: Vec<(&str, &str, usize)> = d
        .packages
        .undeclared
        .iter()
        .map(|m| (m.module.as_str(), m.file.as_str(), m.line))
        .collect();
    assert_eq!(missing, [("requests", "report.py", 2)]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn scripts_saved_on_windows_read_the_same() {
    let dir = std::env::temp_dir().join(format!("execgov-cli-crlf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unix = std::fs::read_to_string(fixture("log-analyser").join("main.sh")).unwrap();
    std::fs::write(dir.join("main.sh"), unix.replace('\n', "\r\n")).unwrap();
    std::fs::write(
        dir.join("README.md"),
        "# Log Analyzer\r\n\r\nSummarises a log.\r\n",
    )
    .unwrap();
    let windows = Draft::of(&dir).unwrap();
    let unix = draft("log-analyser");
    assert_eq!(windows.args, unix.args);
    assert_eq!(windows.name, unix.name);
    assert_eq!(windows.warnings, unix.warnings);
    std::fs::remove_dir_all(&dir).unwrap();
}
