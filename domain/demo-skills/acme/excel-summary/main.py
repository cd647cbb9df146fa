"""Excel workbook summariser: per-sheet, per-column statistics of an .xlsx workbook.

Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download go to
EXECGOV_OUTPUT, and EXECGOV_RESULT (a list of objects) is shown as a table.
"""

import json
import os
import sys
import zipfile

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException


def fail(message):
    print(f"excel-summary: {message}", file=sys.stderr)
    sys.exit(1)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def summarise_sheet(sheet, header_row):
    rows = sheet.iter_rows(min_row=header_row, values_only=True)
    header = next(rows, None)
    if header is None:
        return 0, []
    names = [str(h) if h is not None else f"column {i + 1}" for i, h in enumerate(header)]
    columns = [[] for _ in names]
    count = 0
    for row in rows:
        if all(v is None for v in row):
            continue
        count += 1
        for i, _ in enumerate(names):
            columns[i].append(row[i] if i < len(row) else None)
    summary = []
    for name, values in zip(names, columns):
        present = [v for v in values if v is not None and v != ""]
        numbers = [v for v in present if is_number(v)]
        entry = {
            "sheet": sheet.title,
            "column": name,
            "values": len(present),
            "empty": len(values) - len(present),
            "total": None,
            "minimum": None,
            "maximum": None,
            "mean": None,
        }
        if present and len(numbers) == len(present):
            entry.update(
                total=round(sum(numbers), 6),
                minimum=min(numbers),
                maximum=max(numbers),
                mean=round(sum(numbers) / len(numbers), 6),
            )
        summary.append(entry)
    return count, summary


def main():
    with open(os.environ.get("EXECGOV_INPUTS", "inputs.json"), encoding="utf-8") as f:
        inputs = json.load(f)
    path = inputs["workbook"]
    header_row = int(inputs.get("header_row") or 1)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as e:
        fail(f"{os.path.basename(path)} is not a readable .xlsx workbook ({e})")

    table = []
    for sheet in workbook.worksheets:
        rows, summary = summarise_sheet(sheet, header_row)
        print(f"sheet {sheet.title!r}: {rows} rows, {len(summary)} columns", flush=True)
        table.extend(summary)
    workbook.close()

    report = Workbook()
    out = report.active
    out.title = "Summary"
    headings = ["sheet", "column", "values", "empty", "total", "minimum", "maximum", "mean"]
    out.append(headings)
    for cell in out[1]:
        cell.font = Font(bold=True)
    for entry in table:
        out.append([entry[h] for h in headings])
    output = os.environ.get("EXECGOV_OUTPUT", "output")
    os.makedirs(output, exist_ok=True)
    report.save(os.path.join(output, "summary.xlsx"))

    with open(os.environ.get("EXECGOV_RESULT", "result.json"), "w", encoding="utf-8") as f:
        json.dump(table, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
