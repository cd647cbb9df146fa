# /// script
# requires-python = ">=3.9"
# dependencies = ["pandas==2.3.2"]
# ///
"""Sales pivot table: totals a numeric column by the values of another, with pandas.

Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download go to
EXECGOV_OUTPUT, and EXECGOV_RESULT (a list of objects) is shown as a table.
"""

import json
import os
import sys

import pandas as pd


def fail(message):
    print(f"sales-pivot: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    with open(os.environ.get("EXECGOV_INPUTS", "inputs.json"), encoding="utf-8") as f:
        inputs = json.load(f)
    try:
        table = pd.read_csv(inputs["data"])
    except (ValueError, OSError) as e:
        fail(f"cannot read the CSV file: {e}")
    group_by, value = inputs["group_by"].strip(), inputs["value"].strip()
    for column in (group_by, value):
        if column not in table.columns:
            fail(f"there is no column {column!r}; the file has: {', '.join(map(str, table.columns))}")
    values = pd.to_numeric(table[value], errors="coerce")
    skipped = int(values.isna().sum())
    pivot = (
        values.groupby(table[group_by].astype(str))
        .agg(["count", "sum", "mean", "min", "max"])
        .sort_values("sum", ascending=False)
        .reset_index()
    )
    pivot.columns = ["group", "count", "sum", "mean", "minimum", "maximum"]
    pivot = pivot.round(6)
    print(f"{len(table)} rows, {len(pivot)} groups, {skipped} values not numeric", flush=True)
    output = os.environ.get("EXECGOV_OUTPUT", "output")
    os.makedirs(output, exist_ok=True)
    pivot.to_csv(os.path.join(output, "pivot.csv"), index=False)
    rows = json.loads(pivot.to_json(orient="records"))
    with open(os.environ.get("EXECGOV_RESULT", "result.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
