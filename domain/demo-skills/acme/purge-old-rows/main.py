"""Purge old rows: split a CSV into rows kept and rows removed by a cutoff date.

Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download
go to EXECGOV_OUTPUT, and result.json in the working directory is shown as a table.
"""

import csv
import datetime
import io
import json
import os
import sys


def fail(message):
    print(f"purge-old-rows: {message}", file=sys.stderr)
    sys.exit(1)


def load_inputs():
    path = os.environ.get("EXECGOV_INPUTS", "inputs.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read the inputs ({path}): {e}")


def row_date(value):
    """The row's day, or None when the cell does not start with YYYY-MM-DD."""
    value = value.strip()
    if len(value) < 10 or (len(value) > 10 and value[10] not in "T "):
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def main():
    inputs = load_inputs()
    data = inputs.get("data")
    column = str(inputs.get("date_column", "")).strip()
    try:
        cutoff = datetime.date.fromisoformat(str(inputs.get("cutoff", "")))
    except ValueError:
        fail("the cutoff is not a date (YYYY-MM-DD)")
    if not isinstance(data, str) or not data:
        fail("no CSV file was given (input 'data')")
    if not column:
        fail("no date column was given (input 'date_column')")

    try:
        with open(data, "rb") as f:
            text = f.read().decode("utf-8-sig")
    except OSError as e:
        fail(f"cannot open the uploaded file: {e.strerror}")
    except UnicodeDecodeError as e:
        fail(f"the file is not UTF-8 text (first bad byte at offset {e.start})")
    if not text.strip():
        fail("the file is empty")
    try:
        delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    kept, removed, undated = [], [], 0
    try:
        header = next(reader)
        if column in header:
            index = header.index(column)
        else:
            folded = [h.strip().casefold() for h in header]
            if column.casefold() not in folded:
                fail(f"there is no column {column!r}; the columns are: " + ", ".join(header))
            index = folded.index(column.casefold())
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            day = row_date(row[index]) if index < len(row) else None
            if day is None:
                undated += 1
                kept.append(row)
            elif day < cutoff:
                removed.append(row)
            else:
                kept.append(row)
    except csv.Error as e:
        fail(f"line {reader.line_num}: {e}")

    out = os.environ.get("EXECGOV_OUTPUT", "output")
    os.makedirs(out, exist_ok=True)
    for name, rows in (("kept.csv", kept), ("removed.csv", removed)):
        with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)

    summary = {
        "date_column": header[index],
        "cutoff": cutoff.isoformat(),
        "rows_read": len(kept) + len(removed),
        "rows_kept": len(kept),
        "rows_removed": len(removed),
        "kept_without_date": undated,
    }
    with open("result.json", "w", encoding="utf-8") as f:
        json.dump([summary], f, ensure_ascii=False, indent=1)
    print(
        f"Removed {len(removed)} of {summary['rows_read']} rows dated before {cutoff}; "
        f"kept {len(kept)} ({undated} without a readable date)."
    )


if __name__ == "__main__":
    main()
