//! The Python detectors, on sample scripts like those people bring (`cli/tests/fixtures`).

use super::*;

const CSV_TO_EXCEL: &str = include_str!("../../../tests/fixtures/scripts/csv-to-excel/main.py");
const DUPLICATE_FINDER: &str =
    include_str!("../../../tests/fixtures/scripts/duplicate-finder/main.py");
const FOLDER_ORGANISER: &str =
    include_str!("../../../tests/fixtures/scripts/folder-organiser/main.py");
const EXCHANGE_RATES: &str = include_str!("../../../tests/fixtures/scripts/exchange-rates/main.py");
const RECEIPT_MAKER: &str = include_str!("../../../tests/fixtures/scripts/receipt-maker/main.py");
const SALES_REPORT: &str = include_str!("../../../tests/fixtures/scripts/sales-report/main.py");

fn names(inputs: &[Input]) -> Vec<&str> {
    inputs.iter().map(|i| i.name.as_str()).collect()
}

fn by_name<'a>(inputs: &'a [Input], name: &str) -> &'a Input {
    inputs
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("no input {name}: {:?}", names(inputs)))
}

fn option(flag: &str) -> Via {
    Via::Argument {
        flag: Some(flag.into()),
        position: 0,
    }
}

fn positional(position: usize) -> Via {
    Via::Argument {
        flag: None,
        position,
    }
}

#[test]
fn python_literals() {
    assert_eq!(python_literal("'a'"), Some(Literal::Str("a".into())));
    assert_eq!(
        python_literal("\"x\\ty\""),
        Some(Literal::Str("x\ty".into()))
    );
    assert_eq!(python_literal("3"), Some(Literal::Int(3)));
    assert_eq!(python_literal("0.5"), Some(Literal::Float(0.5)));
    assert_eq!(python_literal("True"), Some(Literal::Bool(true)));
    assert_eq!(python_literal("f'{x}'"), None);
    assert_eq!(python_literal("'a' + b"), None);
    assert_eq!(python_literal("None"), None);
    assert_eq!(
        string_text("f\"receipt_{args.customer}.pdf\""),
        Some(("receipt_*.pdf".into(), 30))
    );
    assert_eq!(star_fields("{{x}} {a:{w}} b"), "{x} * b");
}

#[test]
fn argparse_options_positionals_and_switches() {
    let inputs = argparse_inputs(CSV_TO_EXCEL);
    assert_eq!(
        names(&inputs),
        [
            "input_csv",
            "output",
            "sheet_name",
            "delimiter",
            "skip_rows",
            "no_index",
            "verbose"
        ]
    );
    let csv = by_name(&inputs, "input_csv");
    assert_eq!(csv.via, positional(1));
    assert!(csv.required && csv.type_guessed);
    assert_eq!(
        csv.description.as_deref(),
        Some("Path to the CSV file to convert")
    );
    let output = by_name(&inputs, "output");
    assert_eq!(output.via, option("--output"));
    assert_eq!(output.default, Some(Literal::Str("converted.xlsx".into())));
    let delimiter = by_name(&inputs, "delimiter");
    assert_eq!(delimiter.kind, "enum");
    assert_eq!(delimiter.choices, [",", ";", "tab"]);
    let skip = by_name(&inputs, "skip_rows");
    assert_eq!(
        (skip.kind, skip.default.clone()),
        ("integer", Some(Literal::Int(0)))
    );
    // store_false with dest="index": named after what ticking it does.
    let no_index = by_name(&inputs, "no_index");
    assert_eq!(no_index.kind, "boolean");
    assert_eq!(
        no_index.via,
        Via::Switch {
            flag: "--no-index".into()
        }
    );
    assert_eq!(
        by_name(&inputs, "verbose").via,
        Via::Switch {
            flag: "--verbose".into()
        }
    );

    let receipt = argparse_inputs(RECEIPT_MAKER);
    assert_eq!(names(&receipt), ["customer", "amount", "currency", "logo"]);
    assert!(by_name(&receipt, "customer").required);
    assert_eq!(by_name(&receipt, "amount").kind, "number");
    assert!(by_name(&receipt, "amount").required);
    assert!(!by_name(&receipt, "logo").required);

    let src = "p.add_argument('out', type=argparse.FileType('w'))\n\
               p.add_argument('src', type=argparse.FileType('r'), nargs='?')\n\
               p.add_argument('--level', type=int, choices=[1, 2])\n\
               # p.add_argument('--commented')\n\
               p.add_argument('--version', action='version', version='1')\n";
    let inputs = argparse_inputs(src);
    assert_eq!(names(&inputs), ["out", "src", "level"]);
    assert_eq!((inputs[0].kind, inputs[0].type_guessed), ("string", true));
    assert_eq!((inputs[1].kind, inputs[1].required), ("file", false));
    assert_eq!(inputs[2].choices, ["1", "2"]);
}

#[test]
fn sys_argv_positions_names_types_and_defaults() {
    let inputs = argv_inputs(DUPLICATE_FINDER);
    assert_eq!(names(&inputs), ["directory", "min_size"]);
    assert_eq!(inputs[0].via, positional(1));
    assert!(inputs[0].required);
    assert_eq!(inputs[1].via, positional(2));
    assert_eq!(inputs[1].kind, "integer");
    assert_eq!(inputs[1].default, Some(Literal::Int(1024)));
    assert!(!inputs[1].required);

    let unpacked = argv_inputs("import sys\nscript, source, target = sys.argv\n");
    assert_eq!(names(&unpacked), ["source", "target"]);
    assert_eq!(unpacked[1].via, positional(2));

    let rest = argv_inputs("from sys import argv\nfor path in argv[1:]:\n    print(path)\n");
    assert_eq!(names(&rest), ["path"]);
    let bare = argv_inputs("import sys\nprint(float(sys.argv[1]) * 2, sys.argv[3])\n");
    assert_eq!(names(&bare), ["arg1", "arg3"]);
}

#[test]
fn prompts_become_stdin_inputs_in_order() {
    let inputs = prompt_inputs(FOLDER_ORGANISER);
    assert_eq!(names(&inputs), ["folder", "answer"]);
    assert!(inputs.iter().all(|i| i.via == Via::Stdin));
    assert_eq!(
        inputs[0].description.as_deref(),
        Some("Enter the path of the folder to organise")
    );
    assert_eq!(inputs[1].kind, "enum");
    assert_eq!(inputs[1].choices, ["y", "n"]);

    let src = "n = int(input('How many rows? '))\nratio = float(input())\n\
               if input(\"Really delete the old files? [yes/no] \") == 'yes':\n    pass\n\
               name = raw_input('Your name: ')\nself.input('x')\n\
               secret = getpass.getpass('Password: ')\n";
    let inputs = prompt_inputs(src);
    assert_eq!(
        names(&inputs),
        ["n", "ratio", "really_delete_old", "name", "secret"]
    );
    let kinds: Vec<&str> = inputs.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, ["integer", "number", "enum", "string", "string"]);
    assert_eq!(inputs[2].choices, ["yes", "no"]);
    assert!(!asks_in_a_loop(src));
    assert!(asks_in_a_loop(
        "while True:\n    cmd = input('> ')\n    if cmd == 'q':\n        break\n"
    ));
    assert_eq!(prompt_inputs(EXCHANGE_RATES)[0].name, "base");
}

#[test]
fn json_inputs_are_found_in_read_order() {
    let src = r#"
import json, os
with open(os.environ["EXECGOV_INPUTS"]) as f:
    params = json.load(f)
title = params["title"]
limit = params.get("limit", 10)
ratio = params.get('ratio', 0.5)
document = params.get("document")
verbose = params.get("verbose", False)
strict = params.get("strict") is True
other = something["not_an_input"]
"#;
    let inputs = json_inputs(src);
    assert_eq!(
        names(&inputs),
        ["title", "limit", "ratio", "document", "verbose", "strict"]
    );
    let kinds: Vec<&str> = inputs.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        ["string", "integer", "number", "string", "boolean", "boolean"]
    );
    assert!(inputs.iter().all(|i| i.via == Via::Inputs));
    assert!(inputs[0].required && !inputs[1].required);
}

#[test]
fn the_name_comes_from_the_script() {
    assert_eq!(title(CSV_TO_EXCEL).as_deref(), Some("csv2excel"));
    assert_eq!(
        title(DUPLICATE_FINDER).as_deref(),
        Some("Duplicate file finder")
    );
    assert_eq!(title(SALES_REPORT).as_deref(), Some("Monthly sales report"));
    assert_eq!(
        title(RECEIPT_MAKER).as_deref(),
        Some("Make a PDF receipt for a customer")
    );
    // Too long to be a name, and no argparse: the README or the folder decide.
    assert_eq!(title(EXCHANGE_RATES), None);
    assert_eq!(title(FOLDER_ORGANISER), None);
    assert_eq!(
        title("#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n'''This script finds stale branches.'''\n")
            .as_deref(),
        Some("Finds stale branches")
    );
    assert_eq!(title("\"\"\"Usage: main.py FILE\"\"\"\n"), None);
    assert_eq!(
        about(DUPLICATE_FINDER).as_deref(),
        Some("Duplicate file finder.")
    );
}

#[test]
fn imports_are_read_from_code_only() {
    let found: Vec<String> = imports(CSV_TO_EXCEL).into_iter().map(|(m, _)| m).collect();
    assert_eq!(found, ["argparse", "sys", "pandas", "openpyxl"]);
    let src =
        "import os.path as p, json ; from .local import x\nx = 'import fake'\n# import gone\n";
    let found: Vec<(String, usize)> = imports(src);
    assert_eq!(found, [("os".to_string(), 1), ("json".to_string(), 1)]);
}

#[test]
fn writes_are_found_with_their_paths() {
    let shown = |src: &str| -> Vec<(String, String)> {
        writes(src).into_iter().map(|w| (w.call, w.path)).collect()
    };
    assert_eq!(
        shown(EXCHANGE_RATES),
        [
            (
                "save".to_string(),
                "/home/anna/Desktop/rates.xlsx".to_string()
            ),
            ("open".to_string(), "~/rates.log".to_string()),
        ]
    );
    assert_eq!(
        shown(RECEIPT_MAKER),
        [("output".to_string(), "receipt_*.pdf".to_string())]
    );
    assert_eq!(
        shown(SALES_REPORT),
        [
            ("os.makedirs".to_string(), "reports".to_string()),
            ("to_csv".to_string(), "reports/summary.csv".to_string()),
            (
                "savefig".to_string(),
                "reports/top_products.png".to_string()
            ),
        ]
    );
    assert_eq!(
        shown(DUPLICATE_FINDER),
        [("open".to_string(), "duplicates.csv".to_string())]
    );
    // The output argument is a variable: settled by its input's default instead.
    assert_eq!(shown(CSV_TO_EXCEL), []);
    let src = "OUT = os.path.join('/srv/reports', 'weekly.md')\nwith open(OUT, mode='w') as f:\n    pass\n\
               df.to_excel(Path.home() / 'Desktop' / 'x.xlsx')\nimg.open('r.png')\nprint(df.to_csv())\n";
    assert_eq!(
        shown(src),
        [
            ("open".to_string(), "/srv/reports/weekly.md".to_string()),
            ("to_excel".to_string(), "~/Desktop/x.xlsx".to_string()),
        ]
    );
}

#[test]
fn optparse_and_click_declarations() {
    let optparse = "parser = OptionParser()\n\
                    parser.add_option('-f', '--file', dest='filename', help='write report to FILE')\n\
                    parser.add_option('-n', type='int', dest='count', default=3)\n\
                    parser.add_option('-q', '--quiet', action='store_false', dest='verbose')\n";
    let inputs = argparse_inputs(optparse);
    assert_eq!(names(&inputs), ["filename", "count", "quiet"]);
    assert_eq!(inputs[0].via, option("--file"));
    assert_eq!(
        (inputs[1].kind, inputs[1].via.clone()),
        ("integer", option("-n"))
    );
    assert_eq!(inputs[2].kind, "boolean");

    let click = r#"
import click

@click.command()
@click.argument("src", type=click.Path(exists=True))
@click.argument("dst", type=click.Path(writable=True), required=False)
@click.option("--count", "-c", default=1, help="Number of copies.")
@click.option("--mode", type=click.Choice(["fast", "safe"]), default="safe")
@click.option("--shout/--no-shout", default=False)
@click.option("--from", "from_", type=click.Path(file_okay=False))
@click.option("--dry-run", is_flag=True)
def main(src, dst, count, mode, shout, from_, dry_run):
    pass
"#;
    let inputs = super::inputs(click);
    assert_eq!(
        names(&inputs),
        ["src", "dst", "count", "mode", "shout", "from_", "dry_run"]
    );
    assert_eq!(
        (inputs[0].kind, inputs[0].via.clone()),
        ("file", positional(1))
    );
    assert!(inputs[0].required);
    assert_eq!(inputs[1].via, positional(2));
    assert!(!inputs[1].required);
    assert!(inputs[1].type_guessed, "a path it writes: settled later");
    assert_eq!(inputs[2].via, option("--count"));
    assert_eq!(inputs[2].default, Some(Literal::Int(1)));
    assert_eq!(inputs[3].choices, ["fast", "safe"]);
    assert_eq!(
        inputs[4].via,
        Via::Switch {
            flag: "--shout".into()
        }
    );
    assert_eq!(inputs[5].kind, super::super::guess::folder_kind());
    assert_eq!(inputs[5].via, option("--from"));
    assert_eq!(inputs[6].kind, "boolean");
}

#[test]
fn notes_for_what_a_draft_cannot_say() {
    let notes = notes(
        "p = argparse.ArgumentParser()\nsub = p.add_subparsers()\nwhile True:\n    x = input()\n",
    );
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains("in a loop"));
    assert!(notes[1].contains("subcommands"));
    assert!(super::notes(CSV_TO_EXCEL).is_empty());
}

#[test]
fn what_the_script_does_with_a_path_types_it() {
    use PathRole::*;
    let cases: [(&str, &str, Option<PathRole>); 8] = [
        (
            "path = input('Enter path: ')\nfor f in os.listdir(path):\n    pass\n",
            "path",
            Some(ReadFolder),
        ),
        (
            "args = p.parse_args()\nwith open(args.report, 'w') as f:\n    pass\n",
            "report",
            Some(WriteFile),
        ),
        (
            "df = pd.read_csv(args.source, sep=';')\n",
            "source",
            Some(ReadFile),
        ),
        (
            "for p in root.rglob('*.log'):\n    pass\n",
            "root",
            Some(ReadFolder),
        ),
        (
            "with open(name) as f:\n    f.read()\n",
            "name",
            Some(ReadFile),
        ),
        (
            "os.makedirs(out, exist_ok=True)\n",
            "out",
            Some(WriteFolder),
        ),
        (
            "df.to_excel(excel_writer=args.target)\n",
            "target",
            Some(WriteFile),
        ),
        ("x = open(other_name)\ny = name\n", "name", None),
    ];
    for (src, name, role) in cases {
        assert_eq!(usage(src, name).map(|u| u.role), role, "{src}");
    }
    // Under another name.
    let src = "csvfile = args.input\nexcelfile=args.output\ndst = pathlib.Path(args.out) if args.out else None\n\
               df = pd.read_csv(csvfile, sep='\\t')\ndf.to_excel(excelfile, index=False)\ndf.to_csv(dst)\n";
    assert_eq!(usage(src, "input"), Some(Usage::of(ReadFile)));
    let xlsx = Usage {
        role: WriteFile,
        extension: Some("xlsx"),
    };
    assert_eq!(usage(src, "output"), Some(xlsx));
    assert_eq!(usage(src, "out").map(|u| u.extension), Some(Some("csv")));
    // Through the detectors: the prompt's "path" is a folder since the script lists it.
    let found = super::inputs("path = input('Enter path: ')\nfiles = os.listdir(path)\n");
    assert_eq!(found[0].used_as, Some(Usage::of(ReadFolder)));
    let found =
        super::inputs("import sys\ndf = pd.read_excel(sys.argv[1])\ndf.to_csv(sys.argv[2])\n");
    let used: Vec<Option<Usage>> = found.iter().map(|i| i.used_as).collect();
    assert_eq!(
        used,
        [
            Some(Usage::of(ReadFile)),
            Some(Usage {
                role: WriteFile,
                extension: Some("csv")
            })
        ]
    );
}

#[test]
fn fixed_paths_it_reads() {
    let src = "DATA = r'C:\\Users\\anna\\sales.csv'\ndf = pd.read_csv(DATA)\n\
               with open('/var/log/app.log') as f:\n    pass\nwith open('out.txt', 'w') as f:\n    pass\n\
               for name in os.listdir(os.path.expanduser('~/Downloads')):\n    pass\n";
    let shown: Vec<(usize, String, String)> = reads(src)
        .into_iter()
        .map(|r| (r.line, r.call, r.path))
        .collect();
    assert_eq!(
        shown,
        [
            (
                2,
                "read_csv".to_string(),
                "C:\\Users\\anna\\sales.csv".to_string()
            ),
            (3, "open".to_string(), "/var/log/app.log".to_string()),
            (7, "os.listdir".to_string(), "~/Downloads".to_string()),
        ]
    );
}

#[test]
fn a_value_converted_later_is_a_number() {
    let src = "valor = input('Valor: ')\ntotal = float(valor) * 1.2\n\
               days = sys.argv[1]\nfor d in range(int(days)):\n    pass\nname = input('Name: ')\n";
    let found = super::inputs(src);
    let kinds: Vec<(&str, &str)> = found.iter().map(|i| (i.name.as_str(), i.kind)).collect();
    assert_eq!(
        kinds,
        [("days", "integer"), ("valor", "number"), ("name", "string")]
    );
}
