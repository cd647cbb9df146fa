"""Log errors: counts the error and warning lines of a log file and groups alike messages.

Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download
go to EXECGOV_OUTPUT, and result.json in the working directory is shown as a table.
"""

import csv
import json
import os
import re
import sys
from collections import Counter

LEVELS = {
    "error": re.compile(r"\b(FATAL|CRITICAL|CRIT|ERROR|ERR|SEVERE|PANIC)\b", re.IGNORECASE),
    "warning": re.compile(r"\b(WARNING|WARN)\b", re.IGNORECASE),
}
# Parts of a message that differ between otherwise identical lines.
TIMESTAMP = re.compile(r"^\W*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?(Z|[+-]\d{2}:?\d{2})?\W*")
VARIABLE = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b"), "<ip>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"\d+"), "<n>"),
]


def fail(message):
    print(f"log-errors: {message}", file=sys.stderr)
    sys.exit(1)


def load_inputs():
    path = os.environ.get("EXECGOV_INPUTS", "inputs.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read the inputs ({path}): {e}")


def pattern_of(line):
    message = TIMESTAMP.sub("", line.strip())
    for regex, placeholder in VARIABLE:
        message = regex.sub(placeholder, message)
    return message[:300]


def main():
    inputs = load_inputs()
    log = inputs.get("log")
    if not isinstance(log, str) or not log:
        fail("no log file was given (input 'log')")
    with_warnings = inputs.get("level", "warning") == "warning"
    top_n = inputs.get("top_n", 10)
    if not isinstance(top_n, int) or not 1 <= top_n <= 100:
        top_n = 10

    counts = {"error": 0, "warning": 0}
    patterns, first_line, total = Counter(), {}, 0
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                total += 1
                if LEVELS["error"].search(line):
                    level = "error"
                elif with_warnings and LEVELS["warning"].search(line):
                    level = "warning"
                else:
                    continue
                counts[level] += 1
                key = (level, pattern_of(line))
                patterns[key] += 1
                first_line.setdefault(key, number)
    except OSError as e:
        fail(f"cannot open the uploaded log: {e.strerror}")

    ranked = sorted(patterns.items(), key=lambda kv: (-kv[1], first_line[kv[0]]))
    rows = [
        {"level": level, "count": n, "first_line": first_line[(level, msg)], "message": msg}
        for (level, msg), n in ranked
    ]
    out = os.environ.get("EXECGOV_OUTPUT", "output")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "errors.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["level", "count", "first_line", "message"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with open("result.json", "w", encoding="utf-8") as f:
        json.dump(rows[:top_n], f, ensure_ascii=False, indent=1)
    summary = f"{counts['error']} error lines"
    if with_warnings:
        summary += f" and {counts['warning']} warning lines"
    print(f"{summary} out of {total}, in {len(patterns)} distinct messages.")


if __name__ == "__main__":
    main()
