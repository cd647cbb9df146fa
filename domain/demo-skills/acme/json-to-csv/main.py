"""JSON to CSV: turns a JSON list of records into a CSV file, one column per key.

Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download
go to EXECGOV_OUTPUT, and result.json in the working directory is shown as a table.
"""

import csv
import json
import os
import sys

DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t"}


def fail(message):
    print(f"json-to-csv: {message}", file=sys.stderr)
    sys.exit(1)


def load_inputs():
    path = os.environ.get("EXECGOV_INPUTS", "inputs.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read the inputs ({path}): {e}")


def flatten(value, prefix, out):
    """Nested objects become dotted columns (customer.name); lists stay JSON text."""
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            flatten(inner, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, (dict, list)):
        out[prefix] = json.dumps(value, ensure_ascii=False)
    elif value is None:
        out[prefix] = ""
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    else:
        out[prefix] = value


def records_of(document):
    """The list of records: the document itself, or the one list inside a wrapper object."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        lists = [v for v in document.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
        return [document]
    fail("the JSON holds a single value, not records")


def main():
    inputs = load_inputs()
    source = inputs.get("source")
    if not isinstance(source, str) or not source:
        fail("no JSON file was given (input 'source')")
    delimiter = DELIMITERS.get(inputs.get("delimiter", "comma"), ",")
    flat = inputs.get("flatten", True) is not False

    try:
        with open(source, "rb") as f:
            document = json.loads(f.read().decode("utf-8-sig"))
    except OSError as e:
        fail(f"cannot open the uploaded file: {e.strerror}")
    except UnicodeDecodeError as e:
        fail(f"the file is not UTF-8 text (first bad byte at offset {e.start})")
    except ValueError as e:
        fail(f"the file is not valid JSON: {e}")

    rows, columns = [], {}
    for i, record in enumerate(records_of(document), start=1):
        if not isinstance(record, dict):
            fail(f"record {i} is not an object")
        row = {}
        if flat:
            flatten(record, "", row)
        else:
            for key, value in record.items():
                row[str(key)] = (
                    json.dumps(value, ensure_ascii=False)
                    if isinstance(value, (dict, list))
                    else value
                )
        for key in row:
            columns.setdefault(key, None)
        rows.append(row)
    if not rows:
        fail("the JSON holds no records")

    out = os.environ.get("EXECGOV_OUTPUT", "output")
    os.makedirs(out, exist_ok=True)
    name = os.path.splitext(os.path.basename(source))[0] + ".csv"
    with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(
            f, fieldnames=list(columns), delimiter=delimiter, lineterminator="\n", restval=""
        )
        writer.writeheader()
        writer.writerows(rows)

    summary = {"file": name, "records": len(rows), "columns": len(columns)}
    summary["column_names"] = ", ".join(columns)
    with open("result.json", "w", encoding="utf-8") as f:
        json.dump([summary], f, ensure_ascii=False, indent=1)
    print(f"Wrote {len(rows)} records with {len(columns)} columns to {name}.")


if __name__ == "__main__":
    main()
