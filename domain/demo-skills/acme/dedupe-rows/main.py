"""Deduplicate rows: keeps the first of each group of duplicate CSV rows.

Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download
go to EXECGOV_OUTPUT, and result.json in the working directory is shown as a table.
"""

import csv
import io
import json
import os
import sys


def fail(message):
    print(f"dedupe-rows: {message}", file=sys.stderr)
    sys.exit(1)


def load_inputs():
    path = os.environ.get("EXECGOV_INPUTS", "inputs.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read the inputs ({path}): {e}")


def column_indexes(header, wanted):
    """Indexes of the named key columns, matched exactly, then ignoring case and spaces."""
    folded = [h.strip().casefold() for h in header]
    indexes = []
    for name in wanted:
        if name in header:
            indexes.append(header.index(name))
        elif name.casefold() in folded:
            indexes.append(folded.index(name.casefold()))
        else:
            fail(f"there is no column {name!r}; the columns are: " + ", ".join(header))
    return indexes


def main():
    inputs = load_inputs()
    data = inputs.get("data")
    if not isinstance(data, str) or not data:
        fail("no CSV file was given (input 'data')")
    keys = [k.strip() for k in str(inputs.get("key_columns") or "").split(",") if k.strip()]
    ignore_case = inputs.get("ignore_case") is True

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
    kept, duplicates, seen = [], [], set()
    try:
        header = next(reader)
        indexes = column_indexes(header, keys) if keys else None
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            cells = [row[i] if i < len(row) else "" for i in indexes] if indexes else row
            key = tuple(c.strip().casefold() if ignore_case else c.strip() for c in cells)
            if key in seen:
                duplicates.append(row)
            else:
                seen.add(key)
                kept.append(row)
    except csv.Error as e:
        fail(f"line {reader.line_num}: {e}")

    out = os.environ.get("EXECGOV_OUTPUT", "output")
    os.makedirs(out, exist_ok=True)
    for name, rows in (("deduplicated.csv", kept), ("duplicates.csv", duplicates)):
        with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)

    summary = {
        "compared_on": ", ".join(keys) if keys else "whole row",
        "rows_read": len(kept) + len(duplicates),
        "rows_kept": len(kept),
        "duplicates_removed": len(duplicates),
    }
    with open("result.json", "w", encoding="utf-8") as f:
        json.dump([summary], f, ensure_ascii=False, indent=1)
    print(f"Kept {len(kept)} rows and set aside {len(duplicates)} duplicates.")


if __name__ == "__main__":
    main()
