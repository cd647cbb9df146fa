"""Word frequency: the most frequent words of a pasted text and/or an uploaded document.

Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download
go to EXECGOV_OUTPUT, and result.json in the working directory is shown as a table.
"""

import csv
import json
import os
import re
import sys
from collections import Counter

WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
COMMON = set(
    """a about after all also an and any are as at be because been but by can could did do
    does for from had has have he her his how i if in into is it its just me more most my no
    not of on one or our out over she so some than that the their them then there these they
    this to up us was we were what when which who will with would you your""".split()
)


def fail(message):
    print(f"word-frequency: {message}", file=sys.stderr)
    sys.exit(1)


def load_inputs():
    path = os.environ.get("EXECGOV_INPUTS", "inputs.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read the inputs ({path}): {e}")


def main():
    inputs = load_inputs()
    parts = []
    if isinstance(inputs.get("text"), str):
        parts.append(inputs["text"])
    document = inputs.get("document")
    if isinstance(document, str) and document:
        try:
            with open(document, "rb") as f:
                parts.append(f.read().decode("utf-8-sig"))
        except OSError as e:
            fail(f"cannot open the uploaded document: {e.strerror}")
        except UnicodeDecodeError as e:
            fail(f"the document is not UTF-8 text (first bad byte at offset {e.start})")
    if not any(p.strip() for p in parts):
        fail("give some text or upload a document")

    top_n = inputs.get("top_n", 10)
    if not isinstance(top_n, int) or not 1 <= top_n <= 100:
        top_n = 10
    skip = inputs.get("skip_common_words") is True

    counts = Counter()
    for part in parts:
        for word in WORD.findall(part.casefold()):
            word = word.replace("\u2019", "'")
            if not (skip and word in COMMON):
                counts[word] += 1
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    out = os.environ.get("EXECGOV_OUTPUT", "output")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "word-frequency.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["word", "count"])
        writer.writerows(ranked)

    rows = [
        {"rank": i, "word": w, "count": n, "share": f"{100 * n / total:.1f}%"}
        for i, (w, n) in enumerate(ranked[:top_n], start=1)
    ]
    with open("result.json", "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False, indent=1)
    print(f"Counted {total} words, {len(counts)} different.")


if __name__ == "__main__":
    main()
