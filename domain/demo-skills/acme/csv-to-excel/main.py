#!/usr/bin/env python3
"""csv2xlsx: turn a CSV export into an Excel workbook with a summary sheet.

Usage:
    python main.py sales.csv
    python main.py sales.csv --delimiter ";" --sum amount --sum tax
    python main.py sales.csv --sheet Orders --no-summary

The workbook is written next to the CSV file, with the same name and the .xlsx
extension (sales.csv -> sales.xlsx).
"""
import argparse
import csv
import os
import sys

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter


def number(text):
    """The cell's value as a number when it looks like one, else None."""
    try:
        return float(text.replace(",", "")) if text.strip() else None
    except ValueError:
        return None


def main():
    parser = argparse.ArgumentParser(
        description="Convert a CSV file into an Excel workbook with a summary sheet."
    )
    parser.add_argument("csv_file", help="the CSV file to convert")
    parser.add_argument("-d", "--delimiter", default=",", help="field delimiter (default: ,)")
    parser.add_argument("--sheet", default="Data", help="name of the data sheet (default: Data)")
    parser.add_argument(
        "--sum",
        dest="sum_columns",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a column to total on the summary sheet (can be given several times)",
    )
    parser.add_argument("--no-summary", action="store_true", help="do not add the summary sheet")
    args = parser.parse_args()

    if len(args.delimiter) != 1:
        parser.error("the delimiter must be a single character")
    try:
        with open(args.csv_file, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f, delimiter=args.delimiter))
    except FileNotFoundError:
        sys.exit(f"error: {args.csv_file} does not exist")
    except UnicodeDecodeError:
        sys.exit(f"error: {args.csv_file} is not UTF-8 text")
    if not rows:
        sys.exit(f"error: {args.csv_file} is empty")
    header, body = rows[0], rows[1:]

    wb = Workbook()
    data = wb.active
    data.title = args.sheet[:31]
    data.append(header)
    for cell in data[1]:
        cell.font = Font(bold=True)
    for row in body:
        data.append([number(v) if number(v) is not None else v for v in row])
    for i, name in enumerate(header, start=1):
        width = max([len(name)] + [len(r[i - 1]) for r in body if len(r) >= i])
        data.column_dimensions[get_column_letter(i)].width = min(width + 2, 60)
    data.freeze_panes = "A2"

    if not args.no_summary:
        summary = wb.create_sheet("Summary")
        summary.append(["Rows", len(body)])
        summary.append(["Columns", len(header)])
        for column in args.sum_columns:
            if column not in header:
                sys.exit(f"error: there is no column {column!r}; the columns are: {', '.join(header)}")
            i = header.index(column)
            values = [number(r[i]) for r in body if len(r) > i]
            summary.append([f"Total of {column}", sum(v for v in values if v is not None)])
        for row in summary.iter_rows(max_col=1):
            row[0].font = Font(bold=True)

    out = os.path.splitext(args.csv_file)[0] + ".xlsx"
    wb.save(out)
    print(f"Wrote {out}: {len(body)} rows, {len(header)} columns")


if __name__ == "__main__":
    main()
