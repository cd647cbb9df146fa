"""Invoice total: net, VAT and gross totals of invoice lines read from a CSV file.

Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download
go to EXECGOV_OUTPUT, and result.json in the working directory is shown as a table.
"""

import csv
import io
import json
import os
import sys
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# Accepted header names per role, compared case-insensitively.
ROLES = {
    "description": {"description", "item", "product", "article", "service"},
    "quantity": {"quantity", "qty", "units", "hours", "amount"},
    "unit_price": {"unit_price", "unit price", "price", "rate", "unit_cost"},
}


def fail(message):
    print(f"invoice-total: {message}", file=sys.stderr)
    sys.exit(1)


def load_inputs():
    path = os.environ.get("EXECGOV_INPUTS", "inputs.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read the inputs ({path}): {e}")


def money(text, line, what):
    """A decimal from '1,234.50' or '1234,50' (a lone comma is a decimal comma)."""
    t = text.strip().replace(" ", "").replace("\u00a0", "")
    if "," in t and "." in t:
        t = t.replace(",", "")
    elif t.count(",") == 1:
        t = t.replace(",", ".")
    try:
        value = Decimal(t)
    except InvalidOperation:
        fail(f"line {line}: the {what} {text!r} is not a number")
    if not value.is_finite():
        fail(f"line {line}: the {what} {text!r} is not a number")
    return value


def main():
    inputs = load_inputs()
    lines = inputs.get("lines")
    if not isinstance(lines, str) or not lines:
        fail("no CSV file of invoice lines was given (input 'lines')")
    try:
        rate = Decimal(str(inputs.get("vat_rate", 20)))
    except InvalidOperation:
        fail("the VAT rate is not a number")
    currency = str(inputs.get("currency", "EUR"))

    try:
        with open(lines, "rb") as f:
            text = f.read().decode("utf-8-sig")
    except OSError as e:
        fail(f"cannot open the uploaded file: {e.strerror}")
    except UnicodeDecodeError as e:
        fail(f"the file is not UTF-8 text (first bad byte at offset {e.start})")
    if not text.strip():
        fail("the file is empty")
    try:
        delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip().casefold() for h in next(reader)]
    except csv.Error as e:
        fail(f"line 1: {e}")
    index = {}
    for role, names in ROLES.items():
        found = [i for i, h in enumerate(header) if h in names]
        if found:
            index[role] = found[0]
    if "unit_price" not in index:
        fail("no price column (name one 'unit_price' or 'price'); the columns are: " + ", ".join(header))

    rows, net = [], Decimal(0)
    try:
        body = list(reader)
    except csv.Error as e:
        fail(f"line {reader.line_num}: {e}")
    for line, row in enumerate(body, start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(role):
            i = index.get(role)
            return row[i] if i is not None and i < len(row) else ""

        quantity = money(cell("quantity"), line, "quantity") if cell("quantity").strip() else Decimal(1)
        price = money(cell("unit_price"), line, "price")
        amount = (quantity * price).quantize(CENT, ROUND_HALF_UP)
        net += amount
        rows.append({
            "line": len(rows) + 1,
            "description": cell("description").strip(),
            "quantity": format(quantity.normalize(), "f"),
            "unit_price": f"{price.quantize(CENT, ROUND_HALF_UP)}",
            "net": f"{amount}",
        })
    if not rows:
        fail("the file has no invoice lines")

    vat = (net * rate / 100).quantize(CENT, ROUND_HALF_UP)
    gross = net + vat
    totals = [
        {"line": "", "description": "Net total", "quantity": "", "unit_price": "", "net": f"{net}"},
        {"line": "", "description": f"VAT {format(rate.normalize(), 'f')}%", "quantity": "", "unit_price": "", "net": f"{vat}"},
        {"line": "", "description": f"Total ({currency})", "quantity": "", "unit_price": "", "net": f"{gross}"},
    ]

    out = os.environ.get("EXECGOV_OUTPUT", "output")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "invoice.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows + totals)
    with open("result.json", "w", encoding="utf-8") as f:
        json.dump(rows + totals, f, ensure_ascii=False, indent=1)
    print(f"{len(rows)} lines: net {net} + VAT {vat} = {gross} {currency}.")


if __name__ == "__main__":
    main()
