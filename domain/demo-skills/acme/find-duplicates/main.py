#!/usr/bin/env python3
"""dupfinder: find files with the same content in a folder.

Usage:
    python main.py ~/Pictures
    python main.py ./exports --min-size 1024 -o dupes.csv

Writes a CSV report (duplicates.csv by default) in the current folder, one row
per duplicate file, grouped; logs what it hashed to dupfinder.log.
"""
import argparse
import csv
import hashlib
import logging
import os
import sys


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    parser = argparse.ArgumentParser(description="Find files with the same content in a folder.")
    parser.add_argument("folder", help="the folder to search (with its subfolders)")
    parser.add_argument(
        "--min-size", type=int, default=1, help="ignore files smaller than this many bytes (default: 1)"
    )
    parser.add_argument("-o", "--output", default="duplicates.csv", help="the report to write")
    args = parser.parse_args()
    if not os.path.isdir(args.folder):
        sys.exit(f"error: {args.folder} is not a folder")
    logging.basicConfig(filename="dupfinder.log", level=logging.INFO, format="%(asctime)s %(message)s")

    by_content = {}
    scanned = 0
    for root, dirs, files in os.walk(args.folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            size = os.path.getsize(path)
            if size < args.min_size:
                continue
            scanned += 1
            by_content.setdefault(digest(path), []).append((os.path.relpath(path, args.folder), size))
            logging.info("hashed %s (%d bytes)", path, size)

    groups = [files for files in by_content.values() if len(files) > 1]
    with open(args.output, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["group", "file", "size"])
        for number, files in enumerate(groups, start=1):
            for rel, size in files:
                writer.writerow([number, rel, size])
    wasted = sum(files[0][1] * (len(files) - 1) for files in groups)
    print(f"Scanned {scanned} files: {len(groups)} groups of duplicates, {wasted} bytes could be freed.")
    print(f"Report: {args.output}")


if __name__ == "__main__":
    main()
