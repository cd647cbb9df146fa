"""CSV summariser: per-column statistics as a result table and a Markdown report.

Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download
go to EXECGOV_OUTPUT, and result.json in the working directory is shown as a table.
"""

import csv
import io
import json
import math
import os
import re
import statistics
import sys
from collections import Counter

MISSING = {"", "na", "n/a", "null", "none", "-"}
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t"}
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def fail(message):
    print(f"csv-summary: {message}", file=sys.stderr)
    sys.exit(1)


def load_inputs():
    path = os.environ.get("EXECGOV_INPUTS", "inputs.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read the inputs ({path}): {e}")


def read_table(path, delimiter_choice):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        fail(f"cannot open the uploaded file: {e.strerror}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        fail(f"the file is not UTF-8 text (first bad byte at offset {e.start})")
    if not text.strip():
        fail("the file is empty")

    if delimiter_choice in DELIMITERS:
        delimiter = DELIMITERS[delimiter_choice]
    else:
        try:
            delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = []
    try:
        header = next(reader)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                fail(
                    f"line {reader.line_num} has {len(row)} values "
                    f"but the header has {len(header)} columns"
                )
            rows.append(row)
    except csv.Error as e:
        fail(f"line {reader.line_num}: {e}")
    return unique_names(header), rows, delimiter


def unique_names(header):
    names, seen = [], Counter()
    for i, raw in enumerate(header, start=1):
        name = raw.strip() or f"column {i}"
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return names


def tidy(x):
    """Whole numbers as integers, others rounded, so the table stays readable."""
    if not math.isfinite(x):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return int(x)
    return round(x, 4)


def summarise(name, values, top_n):
    present = [v.strip() for v in values if v.strip().lower() not in MISSING]
    row = {
        "column": name,
        "type": "empty",
        "count": len(present),
        "missing": len(values) - len(present),
        "min": "",
        "max": "",
        "mean": "",
        "median": "",
        "top_values": "",
    }
    if not present:
        return row
    if all(NUMBER.match(v) for v in present):
        numbers = [float(v) for v in present]
        row.update(
            type="number",
            min=tidy(min(numbers)),
            max=tidy(max(numbers)),
            mean=tidy(statistics.fmean(numbers)),
            median=tidy(statistics.median(numbers)),
        )
    else:
        top = Counter(present).most_common(top_n)
        row.update(type="text", top_values=", ".join(f"{v} ({n})" for v, n in top))
    return row


def md(cell):
    return str(cell).replace("|", "\\|").replace("\n", " ")


def write_report(path, file_name, header, rows, delimiter, stats):
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
    keys = ["column", "type", "count", "missing", "min", "max", "mean", "median", "top_values"]
    titles = ["Column", "Type", "Count", "Missing", "Min", "Max", "Mean", "Median", "Top values"]
    lines = [
        f"# CSV summary: {md(file_name)}",
        "",
        f"- Rows: {len(rows)}",
        f"- Columns: {len(header)}",
        f"- Delimiter: {names.get(delimiter, repr(delimiter))}",
        "",
        "| " + " | ".join(titles) + " |",
        "|" + "---|" * len(titles),
    ]
    for s in stats:
        lines.append("| " + " | ".join(md(s[k]) for k in keys) + " |")
    incomplete = [s["column"] for s in stats if s["missing"]]
    lines.append("")
    if incomplete:
        lines.append("Columns with missing values: " + ", ".join(md(c) for c in incomplete) + ".")
    else:
        lines.append("No column has missing values.")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main():
    inputs = load_inputs()
    data = inputs.get("data")
    if not isinstance(data, str) or not data:
        fail("no CSV file was given (input 'data')")
    top_n = inputs.get("top_values", 3)
    if not isinstance(top_n, int) or not 1 <= top_n <= 10:
        top_n = 3
    header, rows, delimiter = read_table(data, inputs.get("delimiter", "auto"))

    stats = []
    for i, name in enumerate(header):
        values = [row[i] if i < len(row) else "" for row in rows]
        stats.append(summarise(name, values, top_n))

    out = os.environ.get("EXECGOV_OUTPUT", "output")
    os.makedirs(out, exist_ok=True)
    file_name = os.path.basename(data)
    write_report(os.path.join(out, "report.md"), file_name, header, rows, delimiter, stats)
    with open("result.json", "w", encoding="utf-8") as f:
        json.dump(stats, f, ensure_ascii=False, indent=1)
    print(f"Summarised {len(rows)} rows and {len(header)} columns of {file_name}.")


if __name__ == "__main__":
    main()
